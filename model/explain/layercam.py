"""LayerCAM (Jiang et al. 2021): every position weighted by its own positive gradient instead of a
channel mean, so maps from earlier, finer layers stay meaningful where Grad-CAM's blur out."""
from __future__ import annotations

import numpy as np

from model.explain.base import Method, cam_call


def cam(activations: np.ndarray, grads: np.ndarray, score: float) -> np.ndarray:
    """tf-keras-vis `Layercam`: ReLU of the sum over channels of ReLU(gradient) x activation."""
    return np.maximum((np.maximum(grads, 0.0) * activations).sum(axis=-1), 0.0)


def _build(model):
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

    return Layercam(model, model_modifier=ReplaceToLinear(), clone=True)


def run(explainers, batch, class_index, layer, reference):
    if reference:
        return cam_call(explainers.library("layercam", _build), class_index, batch, layer), None, class_index
    return explainers.cam(batch, class_index, layer, cam)


METHOD = Method("layercam", "LayerCAM", uses_layer=True, slow=False, picks_class=True, run=run,
                summary="Position-wise gradient weights: finer maps, also from earlier layers.")
