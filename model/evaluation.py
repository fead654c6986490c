"""The one evaluation path: a model's probabilities on labelled images turned into the report that
`metrics.json` stores. `training.train` (internal test split) and `training.evaluate` (any data)
both call `evaluation_report`, so every report has one shape.

    kept, probabilities, failed = predict_records(clf, records)
    report = evaluation_report(y_true, probabilities, clf.labels, [r.source for r in kept])

Several models on the same images (each image decoded once, lung masks shared between models with
the same lung model; an image any model cannot take is skipped for all):

    report = evaluate_models(classifiers, records, resampling=Resampling(1000))   # {"models": {id: ...}, ...}

With `Scoring(triage=True, lungs=..., scopes=...)` each version's triage also says which films it holds back as
out of scope (Diagnose's status), and the report names them and gives the figures without them (`add_scope`).

Progress goes to `Progress(images=..., stage=...)`: after each image, and before each long stage.

With `root`, every image in the report (`images`, `skipped`, `disagreements`) is named by its path
relative to that folder (`image_id`), so a report can leave the server without its file paths.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from model.bootstrap import DEFAULT_RESAMPLES, LEVEL, auc_intervals, figure_intervals, paired_auc_difference
from model.inputs.intake import XrayInputError, load_xray
from model.metrics import classification_report, pair_auc

# What each per-source entry keeps of a full report.
PER_SOURCE_KEYS = ("n", "accuracy", "per_class", "macro", "confusion_matrix")
# The status of each image in a multi-model report's `images`.
SCORED = "scored"
UNKNOWN_LABEL = "label not among the versions' classes"
PARTLY_UNKNOWN_LABEL = "label not among some versions' classes"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Resampling:
    """How a report's bootstrap intervals are drawn: `resamples` resamples of the images (0: no
    intervals), seeded with `seed` so that a report can be made again with the same figures."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    def to_dict(self) -> dict:
        """The report's `bootstrap` entry."""
        return {"resamples": int(self.resamples), "seed": self.seed, "level": LEVEL}


@dataclass(frozen=True)
class Scoring:
    """How several versions score the same images: `batch_size` images to a model call, and what each film's
    triage needs to say whether the version holds it back as out of scope, as Diagnose's triage does (the input
    check on the film's lung fields, the anatomy check of the version's scope check): `lungs` {model id: lung
    segmenter} (a version without one gets the input check without lung fields) and `scopes` {model id:
    `model.trust.scope.Scope`}. `triage` False: no film is checked.

    Only the out-of-scope status is taken: the second-read status rests on test-time copies (eight more passes a
    film), and out of scope never does (`model.trust.triage.triage`: only the input, scope and anatomy checks set
    it), so it is the very status Diagnose gives the film.
    """

    batch_size: int = 32
    triage: bool = False
    lungs: dict = field(default_factory=dict)
    scopes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """Where a long evaluation says how far it is (either may be None).

    Attributes:
        images: called as `images(done, total)` after each image is scored.
        stage: called with a short sentence before each model's intervals and each paired comparison.
    """

    images: Callable[[int, int], None] | None = None
    stage: Callable[[str], None] | None = None


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


# --------------------------------------------------------------------------- several models, one set of images


def out_of_scope(xray, masks: dict, segmenter, scope) -> bool:
    """Whether a version's triage holds the film back as out of scope (`model.trust.triage.film_triage`, the
    function of Diagnose and the gallery, with no test-time copies: they cannot set that status); `masks` keeps
    each lung model's mask of the film by its id, the cache `predict_many` fills for the versions' inputs, so the
    film is segmented once per lung model."""
    from model.trust.triage import OUT_OF_SCOPE, film_triage

    if segmenter is not None and segmenter.card.id not in masks:
        masks[segmenter.card.id] = segmenter.mask(xray.pixels)
    mask = None if segmenter is None else masks[segmenter.card.id]
    return film_triage(xray, mask, None, scope)[2].status == OUT_OF_SCOPE


def predict_many(classifiers, records, scoring: Scoring = Scoring(), progress=None, load=None):
    """Probabilities of several classifiers on the same images, and (with `scoring.triage`) whether each
    version's triage holds each image back as out of scope (`out_of_scope`).

    Each image is decoded once (`load(record)` gives bytes or a path; default the record's path);
    lung-cropped models that share a lung model get one segmentation per image. An image that any
    model cannot take is skipped for all, so every model is scored on exactly the same images.

    Returns:
        (kept records, {model id: (N, K) probabilities}, [(path, reason)] of skipped images,
        {model id: [bool per kept record]}, empty without triage).
    """
    batch_size = scoring.batch_size
    load = load or (lambda record: record.path)
    ids = [clf.card.id for clf in classifiers]
    if len(set(ids)) != len(ids):
        raise ValueError("each model may be evaluated only once")
    kept, failed = [], []
    held = {model_id: [] for model_id in ids} if scoring.triage else {}
    pending = {model_id: [] for model_id in ids}
    chunks = {model_id: [] for model_id in ids}

    def flush():
        for clf in classifiers:
            if pending[clf.card.id]:
                chunks[clf.card.id].append(clf.predict_inputs(np.stack(pending[clf.card.id]), batch_size))
                pending[clf.card.id] = []

    for done, record in enumerate(records, start=1):
        try:
            xray = load_xray(load(record))
            pixels = xray.pixels
            masks, arrays = {}, []
            for clf in classifiers:
                mask = None
                if clf.card.prep.lung_crop:
                    lung_id = clf.card.prep.lung_model
                    if lung_id not in masks:
                        masks[lung_id] = clf.segmenter.mask(pixels)
                    mask = masks[lung_id]
                arrays.append(clf.prepare(pixels, mask).array)
            # the triage reuses each lung model's mask made for the inputs above (one segmentation per lung model)
            triaged = {model_id: out_of_scope(xray, masks, scoring.lungs.get(model_id), scoring.scopes.get(model_id))
                       for model_id in held}
        except (XrayInputError, OSError, ValueError, KeyError) as exc:
            failed.append((record.path, " ".join(str(exc).split()) or type(exc).__name__))
        else:
            kept.append(record)
            for model_id, array in zip(ids, arrays):
                pending[model_id].append(array)
            for model_id, flag in triaged.items():
                held[model_id].append(flag)
        if len(pending[ids[0]]) >= batch_size:
            flush()
        if progress is not None:
            progress(done, len(records))
    flush()
    probabilities = {clf.card.id: (np.concatenate(chunks[clf.card.id]) if chunks[clf.card.id]
                                   else np.zeros((0, len(clf.labels)))) for clf in classifiers}
    return kept, probabilities, failed, held


def unknown_label_rows(records, probabilities, labels) -> dict:
    """What a model called the images whose label it does not know: {label: {"n", "predicted": {class: count}}}."""
    known = set(labels)
    rows: dict[str, Counter] = {}
    for record, p in zip(records, probabilities):
        if record.label not in known:
            rows.setdefault(record.label, Counter())[labels[int(np.argmax(p))]] += 1
    return {label: {"n": int(sum(counts.values())),
                    "predicted": {name: int(counts.get(name, 0)) for name in labels}}
            for label, counts in sorted(rows.items())}


def model_report(card, records, probabilities, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """One model's report on scored records: `evaluation_report` on the images whose label it knows,
    with bootstrap intervals (`auc_ci`) on the macro and per-class AUC and on each source's macro
    AUC, on the accuracy (`accuracy_ci`) and the calibration error (`calibration.ece_ci`), plus the rows
    of labels it does not know."""
    labels = list(card.labels)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(len(records), len(labels))
    known = np.array([r.label in labels for r in records], dtype=bool)
    kept = [r for r, k in zip(records, known) if k]
    y_true = np.array([labels.index(r.label) for r in kept], dtype=int)
    probs = probabilities[known]
    report = evaluation_report(y_true, probs, labels, [r.source for r in kept])
    intervals = auc_intervals(y_true, probs, labels, resamples, seed)
    report["macro"]["auc_ci"] = intervals["macro"]
    figures = figure_intervals(y_true, probs, resamples, seed)
    report["accuracy_ci"] = figures["accuracy"]
    report["calibration"]["ece_ci"] = figures["ece"]
    for label in labels:
        report["per_class"][label]["auc_ci"] = intervals["per_class"][label]
    if "per_source" in report:
        sources = np.array([r.source for r in kept], dtype=object)
        for source, sub in report["per_source"].items():
            mask = sources == source
            sub["macro"]["auc_ci"] = auc_intervals(y_true[mask], probs[mask], labels, resamples, seed)["macro"]
    report.update({"model": card.id, "version": card.version, "n_images": int(len(records)),
                   "unknown_labels": unknown_label_rows(records, probabilities, labels),
                   "unknown_label_images": int((~known).sum()),
                   "bootstrap": {"resamples": intervals["resamples"], "seed": seed, "level": LEVEL}})
    return report


def within_source_auc(records, probabilities, labels, source: str, positive: str = "COVID-19",
                      negative: str = "Pneumonia") -> dict:
    """AUC of `positive` against `negative` among the films of those two classes in one source, ranked by
    the first's share of the two probabilities (`model.metrics.pair_auc`, the figure training stores):
    a figure the source itself cannot explain (both classes come from the same collection). None when
    undefined."""
    if positive not in labels or negative not in labels:
        return {"auc": None, "n": 0}
    first, second = list(labels).index(positive), list(labels).index(negative)
    picked = [(r.label == positive, p[first], p[second]) for r, p in zip(records, probabilities)
              if r.source == source and r.label in (positive, negative)]
    if not picked:
        return {"auc": None, "n": 0}
    is_positive, p_first, p_second = (np.array(column) for column in zip(*picked))
    return {"auc": pair_auc(is_positive, p_first, p_second), "n": len(picked)}


def compare_pair(records, cards: dict, probabilities: dict, a: str, b: str, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0) -> dict:
    """Paired bootstrap of the macro AUC difference B - A on the images whose label both models know,
    over the classes both have, with how many images of each class it rests on ("class_counts")."""
    shared = [label for label in cards[a].labels if label in cards[b].labels]
    known = np.array([r.label in shared for r in records], dtype=bool)
    y_true = np.array([shared.index(r.label) for r, k in zip(records, known) if k], dtype=int)

    def columns(model_id):
        order = [list(cards[model_id].labels).index(label) for label in shared]
        return np.asarray(probabilities[model_id], np.float64)[known][:, order]

    result = paired_auc_difference(y_true, columns(a), columns(b), shared, resamples, seed)
    counts = {label: int((y_true == i).sum()) for i, label in enumerate(shared)}  # for the too-few rule
    return {"a": a, "b": b, "labels": shared, "class_counts": counts, **result}


def image_id(path: str, root=None) -> str:
    """How a report names an image: its path relative to `root` in POSIX form ("COVID/case1.png"),
    its file name when it lies outside `root`, or the path as given without a root (ZIP members and
    the command line's own files)."""
    if root is None:
        return str(path)
    path, root = Path(path), Path(root)
    base = root if root.is_dir() else root.parent
    try:
        return PurePosixPath(*path.resolve().relative_to(base.resolve()).parts).as_posix()
    except ValueError:
        return path.name


def disagreements(records, cards: dict, probabilities: dict, root=None) -> list[dict]:
    """Images where the models' predicted classes differ: {"index", "path" (`image_id`), "label", "source",
    "predicted": {id: label}, "confidence": {id: p}, "spread"}, largest probability spread first."""
    ids = list(cards)
    rows = []
    for i, record in enumerate(records):
        predicted = {m: cards[m].labels[int(np.argmax(probabilities[m][i]))] for m in ids}
        if len(set(predicted.values())) > 1:
            confidence = {m: float(np.max(probabilities[m][i])) for m in ids}
            rows.append({"index": i, "path": image_id(record.path, root), "label": record.label,
                         "source": record.source, "predicted": predicted, "confidence": confidence,
                         "spread": max(confidence.values()) - min(confidence.values())})
    return sorted(rows, key=lambda row: (-len(set(row["predicted"].values())), -row["spread"], row["path"]))


def image_rows(records, cards: dict, probabilities: dict, unread=(), root=None) -> list[dict]:
    """One row per image, scored or not: {"image" (`image_id`), "label", "source", "status" (`SCORED`,
    `UNKNOWN_LABEL`, `PARTLY_UNKNOWN_LABEL` or `UNREADABLE`), "reason" (why it could not be read),
    "predicted" ({id: label}), "probabilities" ({id: {class: p}}), "correct" ({id: bool, None when the
    version does not know the label}), "agreement" ("agree" / "disagree"; None with one version or no
    scores)}. Scored images first, in the order given, then the unreadable ones.

    Args:
        unread: (record, reason) of the images that could not be read.
    """
    ids = list(cards)
    rows = []
    for i, record in enumerate(records):
        known = [record.label in cards[m].labels for m in ids]
        predicted = {m: cards[m].labels[int(np.argmax(probabilities[m][i]))] for m in ids}
        rows.append({"image": image_id(record.path, root), "label": record.label, "source": record.source,
                     "status": SCORED if all(known) else UNKNOWN_LABEL if not any(known) else PARTLY_UNKNOWN_LABEL,
                     "reason": "", "predicted": predicted,
                     "probabilities": {m: {label: float(p) for label, p in zip(cards[m].labels, probabilities[m][i])}
                                       for m in ids},
                     "correct": {m: (predicted[m] == record.label) if k else None for m, k in zip(ids, known)},
                     "agreement": None if len(ids) < 2 else "agree" if len(set(predicted.values())) == 1 else "disagree"})
    for record, reason in unread:
        rows.append({"image": image_id(record.path, root), "label": record.label, "source": record.source,
                     "status": UNREADABLE, "reason": reason, "predicted": {}, "probabilities": {}, "correct": {},
                     "agreement": None})
    return rows


def multi_model_report(records, cards: dict, probabilities: dict, resampling: Resampling = Resampling(),
                       failed=(), root=None, on_stage=None) -> dict:
    """The report of several models on the same scored records.

    Args:
        resampling: the bootstrap of every interval and paired comparison.
        failed: (record, reason) of the images that could not be read (a path in place of the record
            is taken as well; such an image has no label in `images`).
        root: name images relative to this folder (`image_id`); None keeps the paths as given.
        on_stage: called with a short sentence before each model's intervals and each paired comparison.

    Returns:
        {"n_images", "labels_in_data" ({label: count}), "skipped" ([{path, reason}]), "bootstrap",
        "models" ({id: `model_report`}), "comparisons" (`compare_pair` for every pair in order, B after A),
        "within_source" ({source: {id: {"auc", "n"}}} COVID-19 vs Pneumonia where a source has both),
        "disagreements" (the first 200 of `disagreements`), "images" (`image_rows`, every image)}.
    """
    from model.labelled_data import LabelledImage

    ids = list(cards)
    records = list(records)
    unread = [(item if hasattr(item, "path") else LabelledImage(str(item), "", str(item)), reason)
              for item, reason in failed]
    skipped = [{"path": image_id(record.path, root), "reason": reason} for record, reason in unread]
    stage = on_stage or (lambda text: None)
    if not records:
        return {"n_images": 0, "labels_in_data": {}, "skipped": skipped,
                "bootstrap": resampling.to_dict(), "models": {},
                "comparisons": [], "within_source": {}, "disagreements": [],
                "images": image_rows([], cards, probabilities, unread, root)}
    models = {}
    for m in ids:
        stage(f"Bootstrap intervals for {m} ({resampling.resamples:,} resamples)…")
        models[m] = model_report(cards[m], records, probabilities[m], resampling.resamples, resampling.seed)
    comparisons = []
    for a, b in combinations(ids, 2):
        stage(f"Paired comparison of {a} and {b}…")
        comparisons.append(compare_pair(records, cards, probabilities, a, b, resampling.resamples,
                                        resampling.seed))
    within = {}
    for source in sorted({r.source for r in records if r.source}):
        labels_here = {r.label for r in records if r.source == source}
        if {"COVID-19", "Pneumonia"} <= labels_here:
            within[source] = {m: within_source_auc(records, probabilities[m], cards[m].labels, source) for m in ids}
    return {"n_images": len(records), "labels_in_data": dict(sorted(Counter(r.label for r in records).items())),
            "skipped": skipped,
            "bootstrap": resampling.to_dict(),
            "models": models, "comparisons": comparisons, "within_source": within,
            "disagreements": disagreements(records, cards, probabilities, root)[:200] if len(ids) > 1 else [],
            "images": image_rows(records, cards, probabilities, unread, root)}


def in_scope_figures(card, records, probabilities) -> dict:
    """A version's figures on the images its triage does not hold back as out of scope (`records` and their
    `probabilities`): {"n" (images with a label it knows), "accuracy", "macro_auc", "class_counts"}, None figures
    when none is left."""
    labels = list(card.labels)
    known = [i for i, record in enumerate(records) if record.label in labels]
    y_true = np.array([labels.index(records[i].label) for i in known], dtype=int)
    counts = {label: int((y_true == k).sum()) for k, label in enumerate(labels)}
    if not known:
        return {"n": 0, "accuracy": None, "macro_auc": None, "class_counts": counts}
    report = classification_report(y_true, np.asarray(probabilities, np.float64)[known], labels)
    return {"n": len(known), "accuracy": report["accuracy"], "macro_auc": report["macro"].get("auc"),
            "class_counts": counts}


def add_scope(report: dict, records, cards: dict, probabilities: dict, held: dict) -> dict:
    """The report with each version's triage of the scored images (`predict_many`'s `held`): per image
    "out_of_scope" ({id: bool}), per version "out_of_scope" (the ids of the images it holds back) and "in_scope"
    (`in_scope_figures` without them). The figures themselves keep every image: a team sees both."""
    rows = report["images"][:len(records)]  # the scored images come first, in the order scored
    for i, row in enumerate(rows):
        row["out_of_scope"] = {model_id: bool(flags[i]) for model_id, flags in held.items()}
    for model_id, flags in held.items():
        model = report["models"].get(model_id)
        if model is None:
            continue
        inside = ~np.asarray(flags, dtype=bool)
        model["out_of_scope"] = [row["image"] for row, flag in zip(rows, flags) if flag]
        model["in_scope"] = in_scope_figures(cards[model_id], [r for r, keep in zip(records, inside) if keep],
                                             np.asarray(probabilities[model_id])[inside])
    return report


def evaluate_models(classifiers, records, scoring: Scoring = Scoring(), resampling: Resampling = Resampling(),
                    load=None, root=None, progress: Progress = Progress()) -> dict:
    """Score every classifier on the same records (see `predict_many`: `scoring` says how, and whether each
    version's triage checks each film) and build `multi_model_report` (`resampling` and `root` as there), with
    `add_scope` when triaged; `progress` hears of each image and each stage."""
    records = list(records)
    kept, probabilities, failed, held = predict_many(classifiers, records, scoring, progress.images, load)
    by_path = {record.path: record for record in records}
    cards = {clf.card.id: clf.card for clf in classifiers}
    report = multi_model_report(kept, cards, probabilities, resampling,
                                [(by_path.get(path, path), reason) for path, reason in failed], root, progress.stage)
    return add_scope(report, kept, cards, probabilities, held) if held else report
