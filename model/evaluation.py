"""The one evaluation path: a model's probabilities on labelled images turned into the report that
`metrics.json` stores. `training.train` (internal test split) and `training.evaluate` (any data)
both call `evaluation_report`, so every report has one shape.

    kept, probabilities, failed = predict_records(clf, records)
    report = evaluation_report(y_true, probabilities, clf.labels, [r.source for r in kept])
"""
from __future__ import annotations

import numpy as np

from model.inputs.intake import XrayInputError, load_xray
from model.metrics import classification_report

# What each per-source entry keeps of a full report.
PER_SOURCE_KEYS = ("n", "accuracy", "per_class", "macro", "confusion_matrix")


def evaluation_report(y_true, probabilities, labels, sources=None) -> dict:
    """`model.metrics.classification_report` plus `per_source` figures when the images name sources.

    Args:
        y_true: true class indices (N,).
        probabilities: (N, K) model probabilities in `labels` order.
        labels: class names in output order.
        sources: the source of each image ("" when unknown), or None.

    Returns:
        The report; `per_source` ({source: report subset}) is present whenever any image names a source.
    """
    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    report = classification_report(y_true, probabilities, labels)
    named = sorted({s for s in (sources or []) if s})
    if named:
        sources = np.asarray(sources, dtype=object)
        report["per_source"] = {}
        for source in named:
            mask = sources == source
            sub = classification_report(y_true[mask], probabilities[mask], labels)
            report["per_source"][source] = {k: sub[k] for k in PER_SOURCE_KEYS}
    return report


def predict_records(clf, records, batch_size: int = 32, progress=None):
    """Probabilities for every readable record, in batches; `progress(done, total)` after each batch.

    Returns:
        (kept records, (N, K) probabilities, [(path, reason)] of the images that could not be read).
    """
    kept, inputs, failed, chunks = [], [], [], []
    for done, record in enumerate(records, start=1):
        try:
            inputs.append(clf.prepare(load_xray(record.path).pixels).array)
            kept.append(record)
        except (XrayInputError, OSError) as exc:
            failed.append((record.path, " ".join(str(exc).split())))
        if len(inputs) == batch_size:
            chunks.append(clf.predict_inputs(np.stack(inputs), batch_size))
            inputs = []
        if progress is not None and (done % batch_size == 0 or done == len(records)):
            progress(done, len(records))
    if inputs:
        chunks.append(clf.predict_inputs(np.stack(inputs), batch_size))
    probs = np.concatenate(chunks) if chunks else np.zeros((0, len(clf.labels)))
    return kept, probs, failed


def evaluate(clf, records, batch_size: int = 32) -> dict:
    """Report on labelled records whose labels the model knows; records of other labels are counted."""
    known = [r for r in records if r.label in clf.labels]
    kept, probs, failed = predict_records(clf, known, batch_size)
    y_true = np.array([clf.labels.index(r.label) for r in kept], dtype=int)
    report = evaluation_report(y_true, probs, clf.labels, [r.source for r in kept])
    report.update({"model": clf.card.id, "version": clf.card.version,
                   "skipped": [{"path": p, "reason": r} for p, r in failed],
                   "unknown_label_images": len(records) - len(known)})
    return report
