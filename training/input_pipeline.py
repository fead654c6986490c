"""Training data helpers: the split summary for cards, the decoded-array cache key, class weights
and the augmentation the one fit loop (`training.recipes.fit_classifier`) applies in TensorFlow
(labelled images are read by `model.labelled_data`, decoded and cached by `training.pool`).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

import numpy as np

from model.inputs.preprocessing import Preprocessing
from model.labelled_data import LabelledImage


def split_summary(splits: dict[str, list[LabelledImage]], seed: int) -> dict:
    """Counts per split, label and source, for the model card."""
    summary = {"seed": seed, "unit": "patient_id", "splits": {}}
    for name, items in splits.items():
        summary["splits"][name] = {
            "images": len(items), "patients": len({r.patient_id for r in items}),
            "by_label": dict(sorted(Counter(r.label for r in items).items())),
            "by_source_label": {f"{s} / {lab}": n for (s, lab), n in sorted(Counter((r.source, r.label) for r in items).items())},
        }
    return summary


def cache_key(records: list[LabelledImage], prep: Preprocessing, segmenter=None) -> str:
    """Names the cached arrays of `records` under `prep` (and the lung model that crops them)."""
    digest = hashlib.sha256(json.dumps(prep.to_dict(), sort_keys=True).encode())
    if segmenter is not None:  # Another lung model (same id, other registry) crops differently.
        for weights in segmenter.model.get_weights():
            digest.update(np.ascontiguousarray(weights).tobytes())
    for record in records:
        stat = os.stat(record.path) if os.path.exists(record.path) else None
        digest.update(f"{record.path}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights normalised so that an average sample weighs 1."""
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    return {k: float(len(labels) / (num_classes * c)) if c else 0.0 for k, c in enumerate(counts)}


def augmenter(seed: int):
    """Augmentation plausible for chest radiographs: small rotations, shifts and zoom, and
    exposure changes (gamma, contrast, noise). No left-right flip: the heart is on the left."""
    import keras
    from keras import layers

    return keras.Sequential([
        layers.RandomRotation(0.03, fill_mode="reflect", seed=seed),  # about +-11 degrees
        layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed + 1),
        layers.RandomZoom((-0.12, 0.08), fill_mode="reflect", seed=seed + 2),
    ], name="augment")


def _exposure_jitter(images, seed_tensor):
    import tensorflow as tf

    batch = tf.shape(images)[0]
    gamma = tf.exp(tf.random.stateless_uniform([batch, 1, 1, 1], seed_tensor, -0.35, 0.35))
    contrast = tf.random.stateless_uniform([batch, 1, 1, 1], seed_tensor + 1, 0.75, 1.3)
    noise_sd = tf.random.stateless_uniform([batch, 1, 1, 1], seed_tensor + 2, 0.0, 0.03)
    images = tf.pow(tf.clip_by_value(images, 1e-4, 1.0), gamma)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    images = (images - mean) * contrast + mean
    images += tf.random.stateless_normal(tf.shape(images), seed_tensor + 3) * noise_sd
    return tf.clip_by_value(images, 0.0, 1.0)
