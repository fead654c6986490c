"""Grad-CAM++ (Chattopadhay et al. 2018): pixel-wise weighting of positive gradients, which
separates several instances of a finding better than Grad-CAM."""
from __future__ import annotations

import numpy as np

from model.explain.base import cam_method, linear_explainer


def cam(activations: np.ndarray, grads: np.ndarray, score: float) -> np.ndarray:
    """The exponential-score closed form of tf-keras-vis `GradcamPlusPlus`."""
    first = np.exp(score) * grads
    second = first * grads
    third = second * grads
    global_sum = activations.sum(axis=(1, 2), keepdims=True)
    denominator = second * 2.0 + third * global_sum
    alphas = second / (denominator + (second == 0.0))
    norm = alphas.sum(axis=(1, 2), keepdims=True)
    alphas = alphas / (norm + (norm == 0.0))
    weights = (np.maximum(first, 0.0) * alphas).sum(axis=(1, 2), keepdims=True)
    return np.maximum((weights * activations).sum(axis=-1), 0.0)


METHOD = cam_method("gradcam++", "Grad-CAM++", cam, linear_explainer("tf_keras_vis.gradcam_plus_plus", "GradcamPlusPlus"),
                    summary="Grad-CAM weighted pixel by pixel, so that several separate findings each keep their weight.")
