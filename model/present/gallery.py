"""A gallery of labelled cases scored by one model, hardest first, for teaching and error analysis.

    records = read_dataset(data_location())
    cases = score_cases(clf, records, limit_per_label=40)
    table = cases_frame(cases)          # misclassified first, then least confident

The labelled data is found through the environment variable `CXR_DATA` (a manifest CSV or a
folder, as `training.data.read_dataset` reads); without it the gallery has nothing to show.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from model.evaluation import predict_records
from model.prediction import Prediction

DATA_ENV = "CXR_DATA"
BATCH_SIZE = 16
CASE_COLUMNS = ["path", "label", "source", "patient_id", "predicted", "confidence", "correct"]


@dataclass(frozen=True)
class Case:
    """One labelled image and the model's prediction for it."""

    path: str
    label: str
    source: str
    patient_id: str
    predicted: str
    confidence: float
    correct: bool
    probabilities: dict


def data_location() -> Path | None:
    """The labelled data named by `CXR_DATA` (a manifest CSV or a folder), or None if unset or absent."""
    value = os.environ.get(DATA_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.exists() else None


def sample_records(records: list, limit_per_label: int | None = 40, seed: int = 0) -> list:
    """Up to `limit_per_label` records per label, the same ones for the same records and seed.

    Records are sorted by path first, so the sample does not depend on the order they were read in.
    """
    if limit_per_label is not None and limit_per_label < 1:
        raise ValueError(f"limit_per_label must be positive or None, got {limit_per_label!r}")
    by_label: dict[str, list] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.label, r.path)):
        by_label[record.label].append(record)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(by_label):
        items = by_label[label]
        if limit_per_label is not None and len(items) > limit_per_label:
            keep = np.sort(rng.choice(len(items), size=limit_per_label, replace=False))
            items = [items[i] for i in keep]
        chosen.extend(items)
    return chosen


def _case(record, prediction) -> Case:
    return Case(path=str(record.path), label=record.label, source=record.source, patient_id=record.patient_id,
                predicted=prediction.label, confidence=prediction.confidence,
                correct=prediction.label == record.label, probabilities=prediction.as_dict())


def score_cases(classifier, records: list, limit_per_label: int | None = 40, seed: int = 0, *,
                batch_size: int = BATCH_SIZE, progress: Callable[[int, int], None] | None = None) -> list[Case]:
    """Predict a deterministic sample of labelled images and order them hardest first.

    Args:
        classifier: a `model.classifier.Classifier`.
        records: `training.data.LabelledImage` records. Records whose label the model does not
            know are left out: the model could never get them right.
        limit_per_label: at most this many images per label (None: all).
        seed: seed of the per-label sample.
        batch_size: images decoded and predicted at a time (bounds memory).
        progress: called as `progress(done, total)` after each batch, e.g. for a progress bar.

    Returns:
        Cases sorted misclassified first, then by ascending confidence. Unreadable images
        (`XrayInputError`) are skipped.
    """
    known = [r for r in records if r.label in set(classifier.labels)]
    chosen = sample_records(known, limit_per_label, seed)
    kept, probabilities, _ = predict_records(classifier, chosen, batch_size, progress)
    labels = tuple(classifier.labels)
    cases = [_case(r, Prediction(labels, p)) for r, p in zip(kept, probabilities)]
    return sorted(cases, key=lambda c: (c.correct, c.confidence, c.path))


def cases_frame(cases: list[Case]) -> pd.DataFrame:
    """One row per case: the case fields, then one `P(<label>)` column per class probability."""
    rows = []
    for case in cases:
        row = {name: getattr(case, name) for name in CASE_COLUMNS}
        row.update({f"P({label})": float(p) for label, p in case.probabilities.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame if rows else pd.DataFrame(columns=CASE_COLUMNS)
