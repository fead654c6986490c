"""Explanation maps through tf-keras-vis, behind one signature, and their overlays.

Every method takes a built explainer, a `CategoricalScore`, a batch of one preprocessed image and
a layer name, and returns a float32 map at model-input resolution. `normalize_map` then enforces
the contract: float32 HxW in [0, 1], finite, all zero when the method found no positive evidence.

Explainers are built with `clone=True`: `ReplaceToLinear` on the live model would turn the
served model's softmax into a linear output.
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

# Options per method: the first three use the class logit (softmax replaced by linear, as the
# Grad-CAM paper does); Score-CAM weights activation maps by the softmax probability, as its paper does.
METHOD_LABELS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "scorecam": "Score-CAM", "smoothgrad": "SmoothGrad"}
SLOW_METHODS = frozenset({"scorecam", "smoothgrad"})
SCORECAM_MAX_N = 64
SMOOTHGRAD_SAMPLES = 20
SMOOTHGRAD_NOISE = 0.15
# SmoothGrad's noise is drawn from a fixed seed: the same image gives the same map (and cache entry).
SMOOTHGRAD_SEED = 0

COLORMAPS = {"jet": cv2.COLORMAP_JET, "turbo": cv2.COLORMAP_TURBO, "inferno": cv2.COLORMAP_INFERNO,
             "viridis": cv2.COLORMAP_VIRIDIS, "hot": cv2.COLORMAP_HOT}


_LIBRARY_CALL_LOCK = threading.Lock()


def _build(method: str, model):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

    if method == "scorecam":
        return Scorecam(model, clone=True)
    kind = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "smoothgrad": Saliency}[method]
    return kind(model, model_modifier=ReplaceToLinear(), clone=True)


def _gradcam(explainer, score, batch, layer):
    return explainer(score, batch, penultimate_layer=layer, seek_penultimate_conv_layer=False,
                     normalize_cam=False, expand_cam=True)


def _scorecam(explainer, score, batch, layer):
    # Faster Score-CAM: only the max_N channels with the strongest activation are scored.
    channels = int(explainer.model.get_layer(layer).output.shape[-1])
    return explainer(score, batch, penultimate_layer=layer, seek_penultimate_conv_layer=False,
                     normalize_cam=False, expand_cam=True, max_N=min(SCORECAM_MAX_N, channels), batch_size=16)


def _smoothgrad(explainer, score, batch, layer):
    # SmoothGrad is pixel-level: the layer does not apply.
    return explainer(score, batch, smooth_samples=SMOOTHGRAD_SAMPLES, smooth_noise=SMOOTHGRAD_NOISE,
                     normalize_map=False)


METHODS: dict[str, Callable] = {"gradcam": _gradcam, "gradcam++": _gradcam, "scorecam": _scorecam,
                                "smoothgrad": _smoothgrad}


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}; choose one of {sorted(METHODS)}")
    return method


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


@dataclass(frozen=True)
class Explanation:
    """A map at model-input resolution and what it explains."""

    heatmap: np.ndarray
    method: str
    class_index: int
    label: str
    layer: str | None


class ExplainerSet:
    """Built explainers of one model, one per method, built lazily (cloning a model is slow).

    tf-keras-vis builds each explainer: it clones the model and replaces the softmax by a linear
    output (`ReplaceToLinear`), and for Grad-CAM extracts the chosen layer
    (`ExtractIntermediateLayerForGradcam`). Its `__call__` then rebuilds that extraction model and
    runs the network eagerly, layer by layer from Python, on every call, which on a 2-core CPU
    costs several times the arithmetic. For Grad-CAM, Grad-CAM++ and SmoothGrad the forward and
    backward pass of tf-keras-vis's own modified model is therefore traced once with `tf.function`
    (per layer) and the library's formulas are applied to its result; `reference=True` runs the
    library's `__call__` instead, and the tests hold the two to the same maps. Score-CAM runs
    through the library as it is: its cost is its masked forward passes, already batched.
    """

    def __init__(self, model):
        self.model = model
        self._built: dict[str, object] = {}
        self._steps: dict[tuple[str, str | None], Callable] = {}
        # Sessions of one server share a model: build each explainer and step once.
        self._lock = threading.RLock()

    def explainer(self, method: str):
        check_method(method)
        with self._lock:
            if method not in self._built:
                self._built[method] = _build(method, self.model)
            return self._built[method]

    def explain(self, model_input: np.ndarray, method: str, class_index: int | None, layer: str | None,
                reference: bool = False) -> tuple[np.ndarray, int, np.ndarray | None]:
        """One normalised map for one preprocessed image (S, S, C).

        Args:
            class_index: class to explain; None (Grad-CAM and Grad-CAM++ only, compiled path)
                explains the class the model predicts, decided in the same pass.
            reference: run tf-keras-vis's own `__call__` (slower; the compiled path must match it).

        Returns:
            (map at model-input resolution, the class explained, the class logits of the linear
            model from the same pass or None when the method does not produce them).
        """
        batch = np.asarray(model_input, np.float32)[None]
        in_graph = not reference and method in ("gradcam", "gradcam++")
        if class_index is None and not in_graph:
            raise ValueError(f"{method} {'through the library ' if reference else ''}needs an explicit class index")
        if reference or method == "scorecam":
            raw, logits = self._library_call(batch, method, class_index, layer), None
        elif method == "smoothgrad":
            raw, logits = self._smoothgrad(batch, class_index), None
        else:
            logits, activations, grads, class_index = self._step("cam", layer)(
                batch, np.int32(-1 if class_index is None else class_index))
            cam = (_gradcam_map if method == "gradcam" else _gradcam_plus_plus_map)(
                np.asarray(activations, np.float64), np.asarray(grads, np.float64), float(logits[0, class_index]))
            raw, logits = _expand(cam, batch.shape), np.asarray(logits)[0]
        heat = normalize_map(raw[0] if isinstance(raw, np.ndarray) and raw.ndim >= 3 else raw, shape=batch.shape[1:3])
        return heat, int(class_index), logits

    def _library_call(self, batch, method, class_index, layer):
        from tf_keras_vis.utils.scores import CategoricalScore

        # Score-CAM runs `model.predict`, whose progress bar would corrupt the CLI's JSON on stdout;
        # Keras also warns about the input structure of the cloned model, which is harmless here.
        # Both redirections change process-wide state: one library call at a time, or two sessions
        # could restore them in the wrong order and leave stdout swallowed.
        with _LIBRARY_CALL_LOCK, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if method == "smoothgrad":
                np.random.seed(SMOOTHGRAD_SEED)  # the noise the compiled path draws
            return METHODS[method](self.explainer(method), CategoricalScore([class_index]), batch, layer)

    def _step(self, kind: str, layer: str | None):
        """Compiled pass of the linear clone: Grad-CAM's (logits, layer output, gradients, class) or
        SmoothGrad's input gradients."""
        key = (kind, layer)
        with self._lock:
            return self._steps[key] if key in self._steps else self._new_step(kind, layer, key)

    def _new_step(self, kind: str, layer: str | None, key: tuple):
        """Trace a step (under the lock): see `_cam_step`; `saliency` gives |d logit_k / d input|
        of a batch."""
        import tensorflow as tf

        spec = tf.TensorSpec((None, *self.model.inputs[0].shape[1:]), tf.float32)
        if kind == "cam":
            step = self._cam_step(layer, spec)
        else:
            linear = self.explainer("smoothgrad").model

            @tf.function(input_signature=[spec, tf.TensorSpec((), tf.int32)])
            def step(x, k):
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(x)
                    score = linear(x, training=False)[:, k]
                # Each sample's score depends only on that sample: the gradient of their sum
                # is every sample's own gradient. Absolute value as Saliency's default.
                return tf.abs(tape.gradient(score, x))
        self._steps[key] = step
        return self._steps[key]

    def _cam_step(self, layer: str, spec):
        """(logits, layer output, gradient of the class logit at the layer output, class), traced.

        When everything after the layer depends on it alone (the last feature map before pooling,
        as in the shipped models), the network is run as features then head and only the head is
        recorded for the gradient: the pass costs about one forward pass. Otherwise the whole
        network is recorded, as tf-keras-vis does, through its `ExtractIntermediateLayerForGradcam`.
        """
        import keras
        import tensorflow as tf

        linear = self.explainer("gradcam").model
        try:
            features = keras.Model(linear.inputs, linear.get_layer(layer).output)
            head = keras.Model(linear.get_layer(layer).output, linear.outputs[0])
        except ValueError:  # Other tensors (e.g. a skip connection) reach the output: no split.
            head = None
        if head is not None:
            @tf.function(input_signature=[spec, tf.TensorSpec((), tf.int32)])
            def split_step(x, k):
                activations = features(x, training=False)
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(activations)
                    logits = head(activations, training=False)
                    k = tf.where(k < 0, tf.cast(tf.argmax(logits[0]), tf.int32), k)
                    score = logits[:, k]
                return logits, activations, tape.gradient(score, activations), k
            return split_step

        from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayerForGradcam

        extract = ExtractIntermediateLayerForGradcam(layer, seek_conv_layer=False)(linear)

        @tf.function(input_signature=[spec, tf.TensorSpec((), tf.int32)])
        def step(x, k):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                logits, activations = extract(x, training=False)
                k = tf.where(k < 0, tf.cast(tf.argmax(logits[0]), tf.int32), k)
                score = logits[:, k]
            return logits, activations, tape.gradient(score, activations), k
        return step

    def _smoothgrad(self, batch: np.ndarray, class_index: int) -> np.ndarray:
        """SmoothGrad as tf-keras-vis computes it (noise scaled to the image's range, mean of the
        absolute gradients, strongest channel), with every noisy copy in one batch."""
        samples = batch[None].repeat(SMOOTHGRAD_SAMPLES, axis=0)  # (n, 1, S, S, C) as the library
        axes = tuple(range(2, samples.ndim))
        sigma = SMOOTHGRAD_NOISE * (samples.max(axis=axes, keepdims=True) - samples.min(axis=axes, keepdims=True))
        noisy = samples + np.random.RandomState(SMOOTHGRAD_SEED).normal(0.0, sigma, samples.shape)
        grads = np.asarray(self._step("saliency", None)(noisy[:, 0].astype(np.float32), np.int32(class_index)))
        return grads.mean(axis=0, keepdims=True).max(axis=-1)


def _gradcam_map(activations: np.ndarray, grads: np.ndarray, score: float) -> np.ndarray:
    """Grad-CAM (tf-keras-vis `Gradcam._calculate_cam`): channel weights are the spatial mean of
    the gradients; ReLU of the weighted sum of the activations."""
    weights = grads.mean(axis=(1, 2), keepdims=True)
    return np.maximum((activations * weights).sum(axis=-1), 0.0)


def _gradcam_plus_plus_map(activations: np.ndarray, grads: np.ndarray, score: float) -> np.ndarray:
    """Grad-CAM++ with the exponential-score closed form of tf-keras-vis `GradcamPlusPlus`."""
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


def _expand(cam: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Bring a (1, h, w) map to the input's (1, S, S) grid as tf-keras-vis's `expand_cam` does."""
    from scipy.ndimage import zoom

    return zoom(cam, [t / f for f, t in zip(cam.shape, input_shape)], order=1)


def explainable_layers(model) -> list[str]:
    """Layers whose output is a spatial feature map (4-D) that Grad-CAM can explain, input side first."""
    names = []
    for layer in model.layers:
        kind = type(layer).__name__
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if kind in ("Conv2D", "Activation", "Add", "Concatenate", "DepthwiseConv2D", "SeparableConv2D") \
                and shape and len(shape) == 4:
            names.append(layer.name)
    return names


DISPLAY_MAX_SIDE = 1280


def fit_within(image: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """A copy at most `max_side` pixels on its long side, aspect ratio kept (area averaging), for
    display: a 3000-pixel radiograph costs seconds to encode and send, and no screen column shows
    more. Smaller images come back unchanged. Models never see this copy."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 grayscale (HxW) or RGB (HxWx3) image, at zlib level 1: about
    five times faster than the default level for a 1024-pixel radiograph, files about a third larger."""
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"encode_png takes uint8 HxW or HxWx3 images, got {image.dtype} {image.shape}")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("the image could not be encoded as PNG")
    return encoded.tobytes()


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def render_overlay(pixels: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45, colormap: str = "jet",
                   threshold: float = 0.0) -> np.ndarray:
    """Blend a heatmap over a grayscale image with OpenCV.

    Args:
        pixels: grayscale image, float in [0, 1], HxW (the original, not the model input).
        heatmap: map in [0, 1] on the same HxW grid (see `model.preprocessing.map_to_image`).
        opacity: weight of the colour layer, 0 (image only) to 1 (map only).
        colormap: one of `COLORMAPS`.
        threshold: map values below it are not coloured, so faint evidence does not hide anatomy.

    Returns:
        uint8 RGB image HxWx3 at the original size and aspect ratio.
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose one of {sorted(COLORMAPS)}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity!r}")
    if heatmap.shape != pixels.shape[:2]:
        raise ValueError(f"heatmap shape {heatmap.shape} differs from image shape {pixels.shape[:2]}")
    gray = cv2.cvtColor(to_uint8(pixels), cv2.COLOR_GRAY2RGB)
    colour = cv2.cvtColor(cv2.applyColorMap(to_uint8(heatmap), COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)
    weight = np.where(heatmap >= threshold, opacity, 0.0)[..., None] if threshold > 0 else opacity
    return np.round(gray * (1.0 - weight) + colour * weight).astype(np.uint8)
