"""Score-CAM (Wang et al. 2020): each activation map of the layer masks the input, and the class
probability of the masked input is its weight; no gradients, so no gradient noise.

The compiled path follows tf-keras-vis's `Scorecam.__call__` step by step (Faster Score-CAM: the
`SCORECAM_MAX_N` channels of largest spatial spread; each upsampled (linear, edge-nearest) and
normalised to [0, 1]; the input masked by each; the softmax of the model's output per masked input
gives the class weight, as the library scores it; weighted sum of the activation maps; ReLU), but
through the model's compiled feature pass and compiled forward pass in one batch instead of a
rebuilt extraction model and `model.predict`. `reference=True` keeps the library call; a test holds
the two to the same map.
"""
from __future__ import annotations

import numpy as np

from model.explain.base import Method, cam_call, expand
from model.inputs.preprocessing import join_input, split_input

# Faster Score-CAM: only the channels with the strongest activation are scored.
SCORECAM_MAX_N = 64
_EPSILON = 1e-7  # keras.backend.epsilon(), as the library adds it when normalising each map


def _build(model):
    from tf_keras_vis.scorecam import Scorecam

    # The softmax stays: Score-CAM weights masks by the class probability, as its paper does.
    return Scorecam(model, clone=True)


def _linear_zoom(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of scipy's `zoom(order=1, mode="nearest")` along one axis (output sample o
    at input coordinate o (n_in - 1) / (n_out - 1), linear between neighbours): the library's
    upsampling of every activation map at once as two matrix products, several times faster."""
    if n_in == 1 or n_out == 1:
        return np.eye(n_out, n_in, dtype=np.float32) if n_out == 1 else np.ones((n_out, 1), np.float32)
    coords = np.arange(n_out) * (n_in - 1) / (n_out - 1)
    low = np.clip(np.floor(coords).astype(int), 0, n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), low), 1.0 - (coords - low))
    np.add.at(weights, (np.arange(n_out), high), coords - low)
    return weights.astype(np.float32)


def scorecam_map(features: np.ndarray, batch: np.ndarray, predict, class_index: int,
                 max_n: int = SCORECAM_MAX_N) -> np.ndarray:
    """The unnormalised Score-CAM map (1, S, S) of one input from its layer activations.

    Args:
        features: (1, h, w, C) activations of the explained layer for `batch`.
        batch: (1, S, S, channels) the model input; of a two-channel input (film and lung-field
            mask, `Preprocessing.mask_channel`) only the film is masked.
        predict: `(N, S, S, channels) -> (N, K)` the model's outputs (probabilities).
        class_index: the class explained.
        max_n: the number of channels scored (those with the largest spatial standard deviation).
    """
    features = np.asarray(features, np.float32)
    channels = features.shape[-1]
    n = min(int(max_n), channels)
    if n < channels:
        spread = features.std(axis=(1, 2))[0]
        order = np.argsort(-spread, kind="stable")[:n]  # tf.math.top_k: largest first, ties by index
        features = features[..., order]
    size = batch.shape[1:-1]
    rows, cols = (_linear_zoom(f, t) for f, t in zip(features.shape[1:-1], size))
    upsampled = np.einsum("yh,bhwc,xw->byxc", rows, features, cols, optimize=True).astype(np.float32)
    low = upsampled.min(axis=(1, 2), keepdims=True)
    high = upsampled.max(axis=(1, 2), keepdims=True)
    masks = (upsampled - low) / (high - low + _EPSILON)                     # (1, S, S, n)
    film, field = split_input(batch)
    masked = film[None] * np.transpose(masks, (3, 0, 1, 2))[..., None]      # (n, 1, S, S, film channels)
    # A lung-field mask channel is data about the film, not pixels: every masked copy keeps it as it is.
    masked = join_input(masked.reshape((-1, *film.shape[1:])), None if field is None else field[0])
    outputs = np.asarray(predict(masked.astype(np.float32)), np.float64)
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    weights = (shifted / shifted.sum(axis=1, keepdims=True))[:, int(class_index)]  # the library's softmax score
    cam = np.maximum(np.tensordot(features.astype(np.float64), weights, axes=([3], [0])), 0.0)  # (1, h, w)
    return expand(cam, batch.shape)


def run(explainers, batch, class_index, layer, reference):
    if reference:
        explainer = explainers.library("scorecam", _build)
        channels = int(explainer.model.get_layer(layer).output.shape[-1])
        raw = cam_call(explainer, class_index, batch, layer, max_N=min(SCORECAM_MAX_N, channels), batch_size=16)
        return raw, None, class_index
    raw = scorecam_map(explainers.features(batch, layer), batch, explainers.predict, class_index)
    return raw, None, class_index


METHOD = Method("scorecam", "Score-CAM", uses_layer=True, slow=True, run=run, library_perturbs=True,
                summary="How much each of the layer's features, shown alone on the film, raises the class's score: "
                        "no gradients, slower.")
