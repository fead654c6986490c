"""Synthetic radiographs and tiny registry models for the tests (never ../shared data)."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = ["COVID-19", "Normal", "Pneumonia"]


def synthetic_radiograph(size: int = 128, seed: int = 0, lesion: tuple[float, float] | None = None,
                         width: int | None = None) -> np.ndarray:
    """A float [0, 1] image shaped like a frontal chest film: bright body and mediastinum, two dark
    lung fields, a little noise; optionally a bright round lesion at (row, col) fractions."""
    rng = np.random.default_rng(seed)
    height, width = size, width or size
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    image = 0.55 + 0.1 * rng.standard_normal((height, width)) * 0.2
    body = ((xx - 0.5) / 0.45) ** 2 + ((yy - 0.55) / 0.5) ** 2 < 1
    image = np.where(body, 0.75, 0.1)
    for cx in (0.32, 0.68):
        lung = ((xx - cx) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1
        image = np.where(lung, 0.25, image)
    if lesion is not None:
        blob = ((xx - lesion[1]) ** 2 + (yy - lesion[0]) ** 2) < 0.06 ** 2
        image = np.where(blob, 0.95, image)
    image = image + rng.normal(0, 0.03, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def tiny_classifier(image_size: int = 32, seed: int = 0):
    """A real architecture from the registry of builders, shrunk to a few thousand weights."""
    import keras

    from training.architectures import compact_cnn

    keras.utils.set_random_seed(seed)
    return compact_cnn(image_size=image_size, channels=1, num_classes=len(LABELS), widths=(4, 8))


def write_tiny_entry(root: Path, model_id: str, seed: int = 0, default: bool = False, image_size: int = 32,
                     epochs: int = 3) -> Path:
    """A complete registry entry (model, card, history, metrics) for a tiny untrained model."""
    import pandas as pd

    from model.metrics import classification_report
    from model.registry import ModelCard, save_entry

    model, layer = tiny_classifier(image_size, seed)
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, len(LABELS), 60)
    probabilities = rng.dirichlet(np.ones(len(LABELS)), 60)
    probabilities[np.arange(60), y_true] += 0.5 + 0.1 * seed
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    report = classification_report(y_true, probabilities, LABELS)
    history = pd.DataFrame({"epoch": range(epochs), "loss": np.linspace(1.1, 0.6, epochs) + 0.05 * seed,
                            "val_loss": np.linspace(1.2, 0.8, epochs), "accuracy": np.linspace(0.4, 0.8, epochs),
                            "val_accuracy": np.linspace(0.35, 0.7, epochs), "auc": np.linspace(0.6, 0.9, epochs),
                            "val_auc": np.linspace(0.55, 0.85, epochs)})
    card = ModelCard(
        id=model_id, display_name=f"Tiny test model {model_id}", version=f"0.{seed}",
        created=datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(), architecture="compact_cnn",
        labels=LABELS, preprocessing={"image_size": image_size, "channels": 1, "border_crop": 0.0},
        explain_layer=layer, default=default,
        training={"seed": seed, "unit": "patient_id", "sources": ["synthetic"], "wall_time_s": 1.0,
                  "splits": {"train": {"images": 10, "patients": 10, "by_label": {"Normal": 10},
                                       "by_source_label": {"synthetic / Normal": 10}}}},
        metrics={"accuracy": report["accuracy"], "macro_auc": report["macro"]["auc"]},
        notes="Untrained test model.")
    return save_entry(model, card, history=history, metrics=report, root=root)
