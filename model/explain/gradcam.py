"""Grad-CAM (Selvaraju et al. 2017): channel weights are the spatial mean of the class logit's
gradients at a feature map; the map is the ReLU of the weighted sum of its channels."""
from __future__ import annotations

import numpy as np

from model.explain.base import cam_method, linear_gradcam


def cam(activations: np.ndarray, grads: np.ndarray, score: float) -> np.ndarray:
    """tf-keras-vis `Gradcam._calculate_cam` on one pass's activations and gradients."""
    weights = grads.mean(axis=(1, 2), keepdims=True)
    return np.maximum((activations * weights).sum(axis=-1), 0.0)


METHOD = cam_method("gradcam", "Grad-CAM", cam, linear_gradcam,
                    summary="How strongly each region of the chosen layer's picture of the film raises the class's score: "
                            "coarse, one pass.")
