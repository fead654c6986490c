"""Grad-CAM (Selvaraju et al. 2017): channel weights are the spatial mean of the class logit's
gradients at a feature map; the map is the ReLU of the weighted sum of its channels."""
from __future__ import annotations

import numpy as np

from model.explain.base import Method, cam_call, linear_gradcam


def cam(activations: np.ndarray, grads: np.ndarray, score: float) -> np.ndarray:
    """tf-keras-vis `Gradcam._calculate_cam` on one pass's activations and gradients."""
    weights = grads.mean(axis=(1, 2), keepdims=True)
    return np.maximum((activations * weights).sum(axis=-1), 0.0)


def run(explainers, batch, class_index, layer, reference):
    if reference:
        explainer = explainers.library("gradcam", linear_gradcam)
        return cam_call(explainer, class_index, batch, layer), None, class_index
    return explainers.cam(batch, class_index, layer, cam)


METHOD = Method("gradcam", "Grad-CAM", uses_layer=True, slow=False, picks_class=True, run=run,
                summary="Where the chosen layer's features raise the class score (coarse, one pass).")
