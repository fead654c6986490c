"""Patient-level train/validation/test splits, re-made from what a model card records.

Two algorithms:

* `hash_split` (models trained since the stable split, card `training.split_method == "hash"`):
  each patient's split follows from a hash of (seed, patient id) alone, so a patient keeps its
  split when data are added and versions trained on manifest v1 and v2 share their test patients.
* `patient_split` ("legacy", the v1 models): stratified dealing of patients in seeded random order;
  adding data moves patients between splits. Kept to reproduce those models' figures.

`split_records` re-makes a model's split of any labelled records from its card, so evaluation, the
gallery and comparisons know which images a model trained on.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import numpy as np

from model.labelled_data import LabelledImage

SPLIT_NAMES = ("train", "validation", "test")
FRACTIONS = (0.7, 0.15, 0.15)


def patient_uniform(patient_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, patient_id): the first 8 bytes of a sha256 digest."""
    digest = hashlib.sha256(f"{int(seed)}|{patient_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def split_of(patient_id: str, seed: int, fractions: tuple[float, float, float] = FRACTIONS) -> str:
    """The split of one patient under `hash_split`."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
    u = patient_uniform(patient_id, seed)
    if u < fractions[0]:
        return "train"
    return "validation" if u < fractions[0] + fractions[1] else "test"


def hash_split(records: list[LabelledImage], seed: int = 42,
               fractions: tuple[float, float, float] = FRACTIONS) -> dict[str, list[LabelledImage]]:
    """Patient-level split by hash; records keep their order within a split. Images without a real
    patient id carry their own id (one image per id), which is hashed alike."""
    splits = defaultdict(list)
    for record in records:
        splits[split_of(record.patient_id, seed, fractions)].append(record)
    return {name: splits[name] for name in SPLIT_NAMES}


def patient_split(records: list[LabelledImage], seed: int = 0,
                  fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> dict[str, list[LabelledImage]]:
    """Patient-level train/validation/test split, stratified by each patient's majority label.

    All images of a patient land in one split. Within every (label) stratum patients are shuffled
    with `seed` and dealt out so that image counts approach `fractions`.
    """
    by_patient: dict[str, list[LabelledImage]] = defaultdict(list)
    for record in records:
        by_patient[record.patient_id].append(record)
    strata: dict[str, list[str]] = defaultdict(list)
    for patient, items in by_patient.items():
        strata[Counter(r.label for r in items).most_common(1)[0][0]].append(patient)
    rng = np.random.default_rng(seed)
    splits = {"train": [], "validation": [], "test": []}
    for label in sorted(strata):
        patients = sorted(strata[label])
        rng.shuffle(patients)
        total = sum(len(by_patient[p]) for p in patients)
        filled = {name: 0 for name in splits}
        for patient in patients:
            # Give the patient to the split furthest below its target share.
            name = min(splits, key=lambda s: filled[s] / total - fractions[list(splits).index(s)])
            splits[name].extend(by_patient[patient])
            filled[name] += len(by_patient[patient])
    return splits


def split_method(card) -> str:
    """"hash" or "legacy": how a card's patient split was made (cards before the stable split
    record no method)."""
    return (card.training or {}).get("split_method", "legacy")


def split_records(records: list[LabelledImage], card, split: str) -> list[LabelledImage]:
    """The records of one split ("all", "train", "validation", "test"), re-made with the algorithm
    and seed the model was trained with."""
    if split == "all":
        return list(records)
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {('all', *SPLIT_NAMES)}, got {split!r}")
    seed = int((card.training or {}).get("seed", 42))
    make = hash_split if split_method(card) == "hash" else patient_split
    return make(records, seed=seed)[split]


OUTSIDE = "outside"  # An image the model's training data never held (another source).


def assign_splits(records: list[LabelledImage], card, foreign_outside: bool = True) -> tuple[dict[str, str], str]:
    """Which part of the model's own split each record fell in: {path: "train" | "validation" |
    "test" | "outside"}, and a note ("" when the split could be re-made as recorded).

    When the card lists its training sources, records of other sources (or naming none: a team's
    own images) were never in the model's data ("outside") and the split is re-made on the others only,
    so a pool that grew by new sources (manifest v2) still gives a legacy model its v1 split. For a
    legacy (dealt) split, the re-made training count is checked against the card's; when they differ
    the note says that the split may not match the one the model was trained with.

    With `foreign_outside=False`, data sharing no source with the card are split as a whole, as
    `split_records` does (asking for a model's "test" part of any data, as `training.evaluate
    --split test` always did).
    """
    trained_sources = set((card.training or {}).get("sources") or [])
    in_scope = [r for r in records if r.source in trained_sources] if trained_sources else list(records)
    if not in_scope and not foreign_outside:
        in_scope = list(records)
    assignment = {r.path: OUTSIDE for r in records}
    if not in_scope:
        return assignment, ""
    seed = int((card.training or {}).get("seed", 42))
    make = hash_split if split_method(card) == "hash" else patient_split
    parts = make(in_scope, seed=seed)
    for name, items in parts.items():
        for record in items:
            assignment[record.path] = name
    note = ""
    recorded = (((card.training or {}).get("splits") or {}).get("train") or {}).get("images")
    if split_method(card) != "hash" and recorded is not None and recorded != len(parts["train"]):
        note = (f"The split of {card.id} was re-made on different data than it was trained on ({len(parts['train'])} "
                f"training images here, {recorded} recorded), so it may not match its real split.")
    return assignment, note


def common_records(records: list[LabelledImage], cards: list, split: str) -> tuple[list[LabelledImage], list[str]]:
    """Records usable to compare several models on common ground, and the notes of `assign_splits`.

    split: "all"; "train", "validation" or "test" (records in that part of every model's split,
    `assign_splits(..., foreign_outside=False)`: images of sources a model never trained on are in
    no part); or "unseen" (records that none of the models trained on: not in any model's "train"
    part, images of sources it never trained on included).
    """
    if split == "all":
        return list(records), []
    if split not in (*SPLIT_NAMES, "unseen"):
        raise ValueError(f"split must be one of {('all', *SPLIT_NAMES, 'unseen')}, got {split!r}")
    keep = set(r.path for r in records)
    notes = []
    for card in cards:
        assignment, note = assign_splits(records, card, foreign_outside=split == "unseen")
        if note:
            notes.append(note)
        if split == "unseen":
            keep &= {path for path, name in assignment.items() if name != "train"}
        else:
            keep &= {path for path, name in assignment.items() if name == split}
    return [r for r in records if r.path in keep], notes
