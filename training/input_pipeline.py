"""Training data: the patient-level split, the decoded-array cache and the `tf.data` input pipeline
with augmentation (labelled images are read by `model.labelled_data`).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from model.inputs.intake import XrayInputError, load_xray
from model.inputs.lungs import lung_region
from model.inputs.preprocessing import Preprocessing, preprocess
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


def load_arrays(records: list[LabelledImage], prep: Preprocessing, cache_dir: Path | None = None,
                segmenter=None) -> tuple[np.ndarray, list[LabelledImage], list[tuple[str, str]]]:
    """Decode and preprocess every image once (through the one intake and preprocessing path).

    A lung-cropped `prep` needs `segmenter`, the `LungSegmenter` the card names (loaded by the
    caller from the registry it trains into); its weights are part of the cache key.

    Returns:
        (images (N, S, S, C) float16, the records that were read, [(path, reason)] for the others).
        Arrays are cached as `.npz` under `cache_dir`, keyed by the files and the preprocessing.
    """
    if prep.lung_crop and segmenter is None:
        raise ValueError(f"lung-cropped preprocessing needs the lung model {prep.lung_model!r} (segmenter)")
    key = cache_key(records, prep, segmenter if prep.lung_crop else None)
    cache_file = Path(cache_dir) / f"arrays-{key}.npz" if cache_dir else None
    if cache_file and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as data:
            kept = set(data["kept"].tolist())
            failed = [tuple(pair) for pair in data["failed"].tolist()]
            return data["images"], [r for i, r in enumerate(records) if i in kept], failed
    arrays, kept, failed = [], [], []
    for i, record in enumerate(records):
        try:
            pixels = load_xray(record.path).pixels
            mask = segmenter.mask(pixels) if prep.lung_crop else None
            region = lung_region(mask, prep) if prep.lung_crop else None
            arrays.append(preprocess(pixels, prep, region, mask).astype(np.float16))
            kept.append(i)
        except (XrayInputError, OSError) as exc:
            failed.append((record.path, str(exc)))
    size = (0, prep.image_size, prep.image_size, prep.channels)
    images = np.stack(arrays) if arrays else np.zeros(size, np.float16)
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache_file, images=images, kept=np.array(kept, dtype=int),
                 failed=np.array(failed, dtype=str).reshape(-1, 2))
    return images, [records[i] for i in kept], failed


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


def make_dataset(images: np.ndarray, labels: np.ndarray, num_classes: int, batch_size: int,
                 training: bool, seed: int = 0, sample_weights: np.ndarray | None = None):
    """A `tf.data.Dataset` of (image, one-hot[, weight]) batches; shuffled and augmented if training."""
    import tensorflow as tf

    onehot = np.eye(num_classes, dtype=np.float32)[labels]
    tensors = (images, onehot) if sample_weights is None else (images, onehot, sample_weights.astype(np.float32))
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if training:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    cast = lambda x, *rest: (tf.cast(x, tf.float32), *rest)  # noqa: E731
    ds = ds.map(cast, num_parallel_calls=tf.data.AUTOTUNE)
    if training:
        augment = augmenter(seed)
        counter = tf.data.Dataset.counter(seed * 100003).map(lambda c: tf.stack([c, c * 7 + 1]))
        ds = tf.data.Dataset.zip((ds, counter)).map(
            lambda batch, s: (_exposure_jitter(augment(batch[0], training=True), s), *batch[1:]),
            num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
