"""A gallery of labelled cases scored by one model, hardest first, for teaching and error analysis.

    records = read_dataset(data_location())
    chosen, splits, note = gallery_records(records, clf.card, "test")   # never its training images
    cases = score_cases(clf, chosen, limit_per_label=40, splits=splits, include_unknown=True)
    table = cases_frame(cases)          # misclassified first, then least confident

The labelled data lives under the roots named by `CXR_DATA` (`model.labelled_data.data_roots`, one or more
folders separated by `os.pathsep`); a chosen path must lie inside one (`model.labelled_data.resolve_in_roots`).
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
from model.labelled_data import DATA_ENV, data_roots
from model.prediction import Prediction
from model.splits import OUTSIDE, assign_splits

BATCH_SIZE = 16
CASE_COLUMNS = ["path", "label", "source", "patient_id", "predicted", "confidence", "correct", "split", "known"]
# What the gallery may show of a model's own split; "test" (the default) never shows a training image.
SPLIT_CHOICES = {
    "test": "Its test split, and sources it never saw",
    "validation": "Its validation split",
    "train": "Its training split (it learnt these: errors here are rare and flatter it)",
    "all": "All images, each labelled with its split",
}
SPLIT_NAMES = {"train": "training split", "validation": "validation split", "test": "test split",
               OUTSIDE: "never seen (source not in its training data)"}


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
    split: str = ""
    known: bool = True  # False: the label is not one of the model's classes (not an error)


def data_location() -> Path | None:
    """The first existing root named by `CXR_DATA` (a manifest CSV or a folder), or None."""
    if not os.environ.get(DATA_ENV, "").strip():
        return None
    roots = data_roots()
    return roots[0] if roots else None


def gallery_records(records: list, card, split: str = "test") -> tuple[list, dict[str, str], str]:
    """The records the gallery may show for one model and split choice (`SPLIT_CHOICES`), the split of
    every record ({path: "train" | "validation" | "test" | "outside"}) and the note of
    `model.splits.assign_splits` ("" when the split was re-made as recorded).

    "test" keeps the model's test split and images of sources it never trained on: never a
    training image.
    """
    if split not in SPLIT_CHOICES:
        raise ValueError(f"split must be one of {tuple(SPLIT_CHOICES)}, got {split!r}")
    assignment, note = assign_splits(records, card)
    allowed = {"test": {"test", OUTSIDE}, "validation": {"validation"}, "train": {"train"},
               "all": {"train", "validation", "test", OUTSIDE}}[split]
    return [r for r in records if assignment[r.path] in allowed], assignment, note


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


def _case(record, prediction, split: str = "", known: bool = True) -> Case:
    return Case(path=str(record.path), label=record.label, source=record.source, patient_id=record.patient_id,
                predicted=prediction.label, confidence=prediction.confidence,
                correct=prediction.label == record.label, probabilities=prediction.as_dict(), split=split,
                known=known)


def score_cases(classifier, records: list, limit_per_label: int | None = 40, seed: int = 0, *,
                batch_size: int = BATCH_SIZE, progress: Callable[[int, int], None] | None = None,
                splits: dict[str, str] | None = None, include_unknown: bool = False) -> list[Case]:
    """Predict a deterministic sample of labelled images and order them hardest first.

    Args:
        classifier: a `model.classifier.Classifier`.
        records: `model.labelled_data.LabelledImage` records. Records whose label the model does not
            know are left out (the model could never get them right) unless `include_unknown`,
            where they come last with `known=False` and never count as misclassified.
        limit_per_label: at most this many images per label (None: all).
        seed: seed of the per-label sample.
        batch_size: images decoded and predicted at a time (bounds memory).
        progress: called as `progress(done, total)` after each batch, e.g. for a progress bar.
        splits: {path: split name} (`gallery_records`), written into each case.

    Returns:
        Cases sorted misclassified first, then by ascending confidence. Unreadable images
        (`XrayInputError`) are skipped.
    """
    labels = tuple(classifier.labels)
    wanted = records if include_unknown else [r for r in records if r.label in set(labels)]
    chosen = sample_records(wanted, limit_per_label, seed)
    kept, probabilities, _ = predict_records(classifier, chosen, batch_size, progress)
    splits = splits or {}
    cases = [_case(r, Prediction(labels, p), splits.get(str(r.path), ""), r.label in labels)
             for r, p in zip(kept, probabilities)]
    return sorted(cases, key=lambda c: (not c.known, c.correct, c.confidence, c.path))


def cases_frame(cases: list[Case]) -> pd.DataFrame:
    """One row per case: the case fields, then one `P(<label>)` column per class probability."""
    rows = []
    for case in cases:
        row = {name: getattr(case, name) for name in CASE_COLUMNS}
        row.update({f"P({label})": float(p) for label, p in case.probabilities.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame if rows else pd.DataFrame(columns=CASE_COLUMNS)
