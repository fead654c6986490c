"""LayerCAM (Jiang et al. 2021): every position weighted by its own positive gradient instead of a
channel mean, so maps from earlier, finer layers stay meaningful where Grad-CAM's blur out."""
from __future__ import annotations

import numpy as np

from model.explain.base import cam_method, linear_explainer


def cam(activations: np.ndarray, grads: np.ndarray, score: float) -> np.ndarray:
    """tf-keras-vis `Layercam`: ReLU of the sum over channels of ReLU(gradient) x activation."""
    return np.maximum((np.maximum(grads, 0.0) * activations).sum(axis=-1), 0.0)


METHOD = cam_method("layercam", "LayerCAM", cam, linear_explainer("tf_keras_vis.layercam", "Layercam"),
                    summary="Grad-CAM weighted position by position: finer detail, and usable at earlier layers.")
