"""SmoothGrad (Smilkov et al. 2017): the mean absolute input gradient over noisy copies of the
image; pixel-level, so no layer applies."""
from __future__ import annotations

import numpy as np

from model.explain.base import Method, library_call, linear_explainer
from model.inputs.preprocessing import join_input, split_input

SMOOTHGRAD_SAMPLES = 20
SMOOTHGRAD_NOISE = 0.15
# The noise is drawn from a fixed seed: the same image gives the same map (and cache entry).
SMOOTHGRAD_SEED = 0


_build = linear_explainer("tf_keras_vis.saliency", "Saliency")


def _reference(explainers, batch, class_index):
    from tf_keras_vis.utils.scores import CategoricalScore

    explainer = explainers.library("smoothgrad", _build)
    return library_call(lambda: explainer(CategoricalScore([class_index]), batch, smooth_samples=SMOOTHGRAD_SAMPLES,
                                          smooth_noise=SMOOTHGRAD_NOISE, normalize_map=False),
                        seed=SMOOTHGRAD_SEED)


def run(explainers, batch, class_index, layer, reference):
    if reference:
        return _reference(explainers, batch, class_index), None, class_index
    # As tf-keras-vis computes it (noise scaled to the image's range, mean of the absolute
    # gradients, strongest channel), with every noisy copy in one batch. Of a two-channel input
    # (film and lung-field mask) only the film gets noise and only its gradient is the map: the
    # mask is data about the film, not pixels.
    film, field = split_input(batch)
    samples = film[None].repeat(SMOOTHGRAD_SAMPLES, axis=0)  # (n, 1, S, S, C) as the library
    axes = tuple(range(2, samples.ndim))
    sigma = SMOOTHGRAD_NOISE * (samples.max(axis=axes, keepdims=True) - samples.min(axis=axes, keepdims=True))
    noisy = samples + np.random.RandomState(SMOOTHGRAD_SEED).normal(0.0, sigma, samples.shape)
    noisy = join_input(noisy[:, 0].astype(np.float32), None if field is None else field[0])
    grads = explainers.input_gradients(noisy, class_index)[..., :film.shape[-1]]
    return grads.mean(axis=0, keepdims=True).max(axis=-1), None, class_index


METHOD = Method("smoothgrad", "SmoothGrad", uses_layer=False, slow=True, run=run, library_perturbs=True, pixel_level=True,
                summary="Which pixels change the class's score most, averaged over noisy copies of the film: "
                        "fine detail, no layer.")
