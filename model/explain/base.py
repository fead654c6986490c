"""What every explanation method shares: its record, the map contract and the explained result.

A method is one `Method` record (name, label, whether it uses a layer, whether it is slow, how it
runs) in one small module of this package; `model.explain.METHODS` lists them. `run` receives the
model's `ExplainerSet` (built explainers and compiled steps), a batch of one preprocessed image,
the class to explain (None only for methods that pick the predicted class in their own pass), the
layer (None for methods that do not use one) and whether to go through tf-keras-vis's own call.
It returns the raw map, the class logits of the same pass (or None) and the class it explained;
`normalize_map` then enforces the contract: float32 HxW in [0, 1], finite, all zero when the
method found no positive evidence.
"""
from __future__ import annotations

import contextlib
import io
import threading
import warnings
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

# tf-keras-vis calls redirect stdout (Score-CAM's `model.predict` prints a progress bar that would
# corrupt the CLI's JSON) and silence a harmless Keras warning. Both change process-wide state:
# one library call at a time, or two sessions could restore them in the wrong order.
_LIBRARY_CALL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Method:
    """One explanation method, described as data.

    Attributes:
        name: the key used by the CLI, caches and reports ("gradcam").
        label: what people read ("Grad-CAM").
        uses_layer: whether the map is taken at a chosen feature-map layer.
        slow: whether it takes about a second or more (the dashboard asks before running it).
        picks_class: whether it can explain the predicted class decided in its own pass.
        run: `(explainers, batch, class_index, layer, reference) -> (raw map, logits or None, class)`.
        summary: one sentence on what the map shows, for people choosing a method.
        library_perturbs: whether tf-keras-vis's own call (`reference=True`) changes the input itself
            (masks or noise), which it would do to a lung-field mask channel as to pixels.
        pixel_level: whether the map marks single pixels (scattered dots) rather than regions, so that
            a threshold made for region maps leaves little of it coloured.
    """

    name: str
    label: str
    uses_layer: bool
    slow: bool
    run: Callable
    picks_class: bool = False
    summary: str = ""
    library_perturbs: bool = False
    pixel_level: bool = False


@dataclass(frozen=True)
class Explanation:
    """A map at model-input resolution and what it explains."""

    heatmap: np.ndarray
    method: str
    class_index: int
    label: str
    layer: str | None


def normalize_map(raw, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Enforce the map contract: float32 2-D, finite, in [0, 1]; scaled by its maximum so that zero
    keeps meaning 'no positive evidence'. An all-zero (or non-finite) map stays all zero."""
    heat = np.nan_to_num(np.asarray(raw, dtype=np.float64).squeeze(), nan=0.0, posinf=0.0, neginf=0.0)
    if heat.ndim == 3:  # A map with a channel axis: keep the strongest channel per pixel.
        heat = heat.max(axis=-1)
    if heat.ndim != 2:
        raise ValueError(f"an explanation map must be 2-D, got shape {heat.shape}")
    if shape is not None and heat.shape != tuple(shape):
        heat = cv2.resize(heat, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(heat, 0.0, None)
    peak = heat.max()
    return (heat / peak if peak > 1e-12 else np.zeros_like(heat)).astype(np.float32)


def library_call(call: Callable, seed: int | None = None):
    """Run one tf-keras-vis call with stdout and its harmless warnings held back (see the lock)."""
    with _LIBRARY_CALL_LOCK, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if seed is not None:
            np.random.seed(seed)  # SmoothGrad's noise: the draw the compiled path makes too
        return call()


def linear_explainer(module: str, name: str) -> Callable:
    """A builder of tf-keras-vis's explainer class `module.name` on a clone whose softmax is replaced
    by a linear output (`clone=True`: `ReplaceToLinear` on the live model would change the served
    model). The library is imported only when an explainer is built."""
    def build(model):
        import importlib

        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        return getattr(importlib.import_module(module), name)(model, model_modifier=ReplaceToLinear(), clone=True)
    return build


linear_gradcam = linear_explainer("tf_keras_vis.gradcam", "Gradcam")


def cam_method(name: str, label: str, formula: Callable, library: Callable, summary: str) -> Method:
    """The record of a CAM-family method: `formula(activations, gradients, class logit)` on one
    compiled pass at the chosen layer, or the library's explainer (`library(model)`) as reference."""
    def run(explainers, batch, class_index, layer, reference):
        if reference:
            return cam_call(explainers.library(name, library), class_index, batch, layer), None, class_index
        return explainers.cam(batch, class_index, layer, formula)

    return Method(name, label, uses_layer=True, slow=False, picks_class=True, run=run, summary=summary)


def cam_call(explainer, class_index: int, batch: np.ndarray, layer: str, **options):
    """A tf-keras-vis CAM explainer's own call for one class at one named layer, unnormalised."""
    from tf_keras_vis.utils.scores import CategoricalScore

    return library_call(lambda: explainer(CategoricalScore([class_index]), batch, penultimate_layer=layer,
                                          seek_penultimate_conv_layer=False, normalize_cam=False,
                                          expand_cam=True, **options))


def expand(cam: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Bring a (1, h, w) map to the input's (1, S, S) grid as tf-keras-vis's `expand_cam` does."""
    from scipy.ndimage import zoom

    return zoom(cam, [t / f for f, t in zip(cam.shape, input_shape)], order=1)


def explainable_layers(model) -> list[str]:
    """Layers whose output is a spatial feature map (4-D) that Grad-CAM can explain, input side first."""
    names = []
    for layer in model.layers:
        kind = type(layer).__name__
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if kind in ("Conv2D", "Activation", "ReLU", "Add", "Concatenate", "DepthwiseConv2D", "SeparableConv2D") \
                and shape and len(shape) == 4:
            names.append(layer.name)
    return names
