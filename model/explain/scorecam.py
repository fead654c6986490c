"""Score-CAM (Wang et al. 2020): each activation map of the layer masks the input, and the class
probability of the masked input is its weight; no gradients, so no gradient noise."""
from __future__ import annotations

from model.explain.base import Method, cam_call

# Faster Score-CAM: only the channels with the strongest activation are scored.
SCORECAM_MAX_N = 64


def _build(model):
    from tf_keras_vis.scorecam import Scorecam

    # The softmax stays: Score-CAM weights masks by the class probability, as its paper does.
    return Scorecam(model, clone=True)


def run(explainers, batch, class_index, layer, reference):
    explainer = explainers.library("scorecam", _build)
    channels = int(explainer.model.get_layer(layer).output.shape[-1])
    raw = cam_call(explainer, class_index, batch, layer, max_N=min(SCORECAM_MAX_N, channels), batch_size=16)
    return raw, None, class_index


METHOD = Method("scorecam", "Score-CAM", uses_layer=True, slow=True, run=run,
                summary="Masks the image with each feature map and scores it: gradient-free, slower.")
