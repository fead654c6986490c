"""The unmasked branch: frozen ImageNet MobileNet features of the whole lung box, read by a
logistic regression, and that regression folded into a Keras model that a two-channel default can
carry beside its lung-masked networks (`training.architectures.two_channel_model`).

The regression reads the pooled outputs of two MobileNet v1 blocks (`PROBE_LAYERS`) of the
lung-cropped, unmasked film, standardised; every (source, label) pair weighs the same in its fit,
so no collection counts more because it is bigger. `training.complement_study` uses the same
functions to score the idea on held-out sources.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.labelled_data import CLASS_LABELS
from training.crossval_average import average_like_an_ensemble
from training.source_probe import fit_logreg

PROBE_LAYERS = ("conv_pw_11_relu", "conv_pw_13_relu")  # MobileNet v1 blocks whose pooled outputs the probe reads


@dataclass(frozen=True)
class Probe:
    """A fitted logistic regression on standardised features."""
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (D + 1, K), the last row is the bias

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, np.float64) - self.mean) / self.scale
        return np.hstack([x, np.ones((len(x), 1))]) @ self.weights

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = self.logits(features)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


def pair_weights(sources, labels) -> np.ndarray:
    """Per-film weights under which every (source, label) pair weighs the same; mean 1."""
    keys = np.array([f"{s}\x00{y}" for s, y in zip(sources, labels)])
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w * len(w) / w.sum()


def fit_probe(features: np.ndarray, labels: np.ndarray, sources, l2: float = 0.05) -> Probe:
    """Logistic regression of `labels` (class indices) on standardised `features`, every (source, label)
    pair weighing the same (`pair_weights`). A feature that barely varies is scaled by a floor
    (a thousandth of the median spread) rather than its own spread, so that a film slightly off the
    training films on it does not get a huge standardised value."""
    x = np.asarray(features, np.float64)
    std = x.std(axis=0)
    mean, scale = x.mean(axis=0), np.maximum(std, max(1e-3 * float(np.median(std)), 1e-6))
    weights = fit_logreg((x - mean) / scale, np.asarray(labels, int), len(CLASS_LABELS), l2,
                         sample_weight=pair_weights(sources, labels))
    return Probe(mean, scale, weights)


def calibrated_average(parts: list[np.ndarray], temperatures: list[float]) -> np.ndarray:
    """Each part calibrated by its temperature, then averaged as a merged ensemble averages logits."""
    from model.calibration import apply_temperature

    return average_like_an_ensemble([apply_temperature(p, t) for p, t in zip(parts, temperatures)])


def feature_model(weights: Path | str | None, image_size: int):
    """The frozen MobileNet (as `training.backbones` builds it: grayscale in, its own scaling) with
    `PROBE_LAYERS` brought to one grid and concatenated: (model, grid). The finer block is average-
    pooled onto the coarser one's grid, which keeps every channel's spatial mean, so global average
    pooling of the output gives exactly the probe's features."""
    import keras

    from training.backbones import backbone_classifier

    base, _, _ = backbone_classifier("mobilenet", image_size, len(CLASS_LABELS), weights)
    maps = [base.get_layer(name).output for name in PROBE_LAYERS]
    grid = min(int(m.shape[1]) for m in maps)
    same = []
    for name, m in zip(PROBE_LAYERS, maps):
        factor = int(m.shape[1]) // grid
        if factor * grid != int(m.shape[1]):
            raise ValueError(f"{name}'s {m.shape[1]}-cell grid does not nest on {grid} cells")
        same.append(keras.layers.AveragePooling2D(factor, name=f"{name}_to_grid")(m) if factor > 1 else m)
    out = keras.layers.Concatenate(name="unmasked_features")(same)
    return keras.Model(base.input, out, name="unmasked_features"), grid


def frozen_features(weights: Path, image_size: int, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Pooled outputs of PROBE_LAYERS of the ImageNet MobileNet for `images` (N, S, S, 1)."""
    import keras

    model, _ = feature_model(weights, image_size)
    pooled = keras.Model(model.input, keras.layers.GlobalAveragePooling2D()(model.output))
    out = np.concatenate([np.asarray(pooled(np.asarray(images[i:i + batch_size], np.float32), training=False))
                          for i in range(0, len(images), batch_size)])
    keras.backend.clear_session()
    return out


def probe_classifier(weights: Path | str | None, image_size: int, probe: Probe, name: str = "unmasked_branch"):
    """The probe as a Keras classifier on one-channel films: frozen features -> the probe's
    standardisation as a per-channel 1x1 layer -> global average pooling -> one dense softmax layer
    with the probe's weights. Its logits equal `probe.logits` of `frozen_features` (float32
    arithmetic), and it ends like the builders' classifiers, so `merge_members` and
    `two_channel_model` can take it as a member.

    The standardisation sits before the pooling, not folded into the dense layer: a class map made
    at the pooled layer (Grad-CAM, CAM) then weighs each place by how far its features are from
    the training films' average. Folded, every place would carry the large offset that the bias
    cancels only after pooling, and the map would be near uniform, or zero after its ReLU.
    """
    import keras

    features, _ = feature_model(weights, image_size)
    channels = int(features.output.shape[-1])
    scale = keras.layers.DepthwiseConv2D(1, name="standardize_features")
    standardized = scale(features.output)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(standardized)
    dense = keras.layers.Dense(len(CLASS_LABELS), activation="softmax", name="probabilities")
    model = keras.Model(features.input, dense(pooled), name=name)
    scale.set_weights([(1.0 / probe.scale).reshape(1, 1, channels, 1).astype(np.float32),
                       (-probe.mean / probe.scale).astype(np.float32)])
    dense.set_weights([probe.weights[:-1].astype(np.float32), probe.weights[-1].astype(np.float32)])
    return model
