"""Stable patient split: each patient's split follows from a hash of (seed, patient_id) alone, so a
patient keeps its split when data are added (v1 and v2 models share their test patients).

The old stratified dealing (`training.data.patient_split`) is kept only to reproduce the v1
models, whose cards record `"split_method": "legacy"` implicitly (no key).
"""
from __future__ import annotations

import hashlib
from collections import defaultdict

SPLIT_NAMES = ("train", "validation", "test")


def patient_uniform(patient_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, patient_id): the first 8 bytes of a sha256 digest."""
    digest = hashlib.sha256(f"{int(seed)}|{patient_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def split_of(patient_id: str, seed: int, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> str:
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
    u = patient_uniform(patient_id, seed)
    if u < fractions[0]:
        return "train"
    return "validation" if u < fractions[0] + fractions[1] else "test"


def hash_split(records, seed: int = 42, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> dict:
    """Patient-level train/validation/test split by hash; records keep their order within a split.

    Images without a real patient id carry their own id (one image per id), which is hashed alike.
    """
    splits = defaultdict(list)
    for record in records:
        splits[split_of(record.patient_id, seed, fractions)].append(record)
    return {name: splits[name] for name in SPLIT_NAMES}
