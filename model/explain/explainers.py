"""The built explainers and compiled steps of one model, shared by every method of `model.explain`.

tf-keras-vis builds each explainer: it clones the model and replaces the softmax by a linear
output (`ReplaceToLinear`, with `clone=True`), and for Grad-CAM extracts the chosen layer. Its
`__call__` then rebuilds that extraction model and runs the network eagerly, layer by layer from
Python, on every call, which on a 2-core CPU costs several times the arithmetic. So the forward
and backward pass of the library's own linear clone is traced once with `tf.function` (per layer)
and each method applies the library's formula to its result; `reference=True` runs the library's
`__call__` instead, and the tests hold the two to the same maps.
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from model.explain import method as find_method
from model.explain.base import expand, linear_gradcam, normalize_map
from model.inputs.preprocessing import split_input


class ExplainerSet:
    """Explainers of one model, each built once and lazily (cloning a model is slow).

    Args:
        model: the served Keras model.
        predict: `(N, S, S, C) inputs -> (N, K) probabilities` of the served model, for the
            perturbation methods (occlusion); by default a compiled forward pass.
    """

    def __init__(self, model, predict: Callable | None = None):
        self.model = model
        self._predict = predict
        self._built: dict[str, object] = {}
        self._steps: dict[tuple[str, str | None], Callable] = {}
        # Sessions of one server share a model: build each explainer and step once.
        self._lock = threading.RLock()

    def library(self, name: str, build: Callable):
        """tf-keras-vis's explainer `name`, built by `build(model)` on first use."""
        with self._lock:
            if name not in self._built:
                self._built[name] = build(self.model)
            return self._built[name]

    def linear(self):
        """The linear clone (softmax replaced by a linear output) the gradient methods differentiate."""
        return self.library("gradcam", linear_gradcam).model

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        if self._predict is None:
            from model.runtime import compiled_forward, run_in_batches

            forward = compiled_forward(self.model)
            self._predict = lambda x: run_in_batches(forward, x, 64)
        return np.asarray(self._predict(inputs), np.float64)

    def explain(self, model_input: np.ndarray, method: str, class_index: int | None, layer: str | None,
                reference: bool = False) -> tuple[np.ndarray, int, np.ndarray | None]:
        """One normalised map for one preprocessed image (S, S, C).

        Args:
            class_index: class to explain; None explains the predicted class, decided in the same
                pass (only methods with `picks_class`, and not through the library).
            layer: the feature map (methods with `uses_layer`); ignored by the others.
            reference: run tf-keras-vis's own `__call__` (slower; the compiled path must match it).
                Refused for Score-CAM and SmoothGrad on a model whose input carries a lung-field mask
                channel (`Preprocessing.mask_channel`): the library would mask or add noise to it as
                if it were pixels.

        Returns:
            (map at model-input resolution, the class explained, the class logits of the linear
            model from the same pass or None when the method does not produce them).
        """
        record = find_method(method)
        batch = np.asarray(model_input, np.float32)[None]
        if reference and record.library_perturbs and split_input(batch)[1] is not None:
            raise ValueError(f"{record.label} through tf-keras-vis is not available for a model whose input "
                             "carries a lung-field mask channel: the library would perturb the mask as if it "
                             "were pixels.")
        if class_index is None and (reference or not record.picks_class):
            raise ValueError(f"{method} {'through the library ' if reference else ''}needs an explicit class index")
        raw, logits, class_index = record.run(self, batch, class_index, layer if record.uses_layer else None,
                                              reference)
        heat = normalize_map(raw[0] if isinstance(raw, np.ndarray) and raw.ndim >= 3 else raw, shape=batch.shape[1:3])
        return heat, int(class_index), logits

    def cam(self, batch: np.ndarray, class_index: int | None, layer: str, formula: Callable):
        """A CAM-family map from one compiled pass: `formula(activations, gradients, class logit)`
        at `layer`, expanded to the input grid as tf-keras-vis does; also the logits and class."""
        logits, activations, grads, class_index = self._step("cam", layer)(
            batch, np.int32(-1 if class_index is None else class_index))
        class_index = int(class_index)
        raw = formula(np.asarray(activations, np.float64), np.asarray(grads, np.float64),
                      float(logits[0, class_index]))
        return expand(raw, batch.shape), np.asarray(logits)[0], class_index

    def input_gradients(self, inputs: np.ndarray, class_index: int) -> np.ndarray:
        """|d logit_k / d input| of every input in one batch (compiled)."""
        return np.asarray(self._step("saliency", None)(inputs, np.int32(class_index)))

    def features(self, inputs: np.ndarray, layer: str) -> np.ndarray:
        """The output of `layer` of the served model for a batch of inputs (compiled once per layer)."""
        return np.asarray(self._step("features", layer)(np.asarray(inputs, np.float32)))

    def _step(self, kind: str, layer: str | None):
        key = (kind, layer)
        build = {"cam": self._cam_step, "features": self._features_step}.get(kind)
        with self._lock:
            if key not in self._steps:
                self._steps[key] = build(layer) if build else self._saliency_step()
            return self._steps[key]

    def _features_step(self, layer: str):
        import keras
        import tensorflow as tf

        features = keras.Model(self.model.input, self.model.get_layer(layer).output)

        @tf.function(input_signature=[self._spec()])
        def step(x):
            return features(x, training=False)
        return step

    def _spec(self):
        import tensorflow as tf

        return tf.TensorSpec((None, *self.model.inputs[0].shape[1:]), tf.float32)

    def _saliency_step(self):
        import tensorflow as tf

        linear = self.linear()

        @tf.function(input_signature=[self._spec(), tf.TensorSpec((), tf.int32)])
        def step(x, k):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                score = linear(x, training=False)[:, k]
            # Each sample's score depends only on that sample: the gradient of their sum is every
            # sample's own gradient. Absolute value as Saliency's default.
            return tf.abs(tape.gradient(score, x))
        return step

    def _cam_step(self, layer: str):
        """(logits, layer output, gradient of the class logit at the layer output, class), traced.

        When everything after the layer depends on it alone (the last feature map before pooling,
        as in the shipped models), the network is run as features then head and only the head is
        recorded for the gradient: the pass costs about one forward pass. Otherwise the whole
        network is recorded, as tf-keras-vis does, through its `ExtractIntermediateLayerForGradcam`.
        """
        import keras
        import tensorflow as tf

        linear = self.linear()
        spec = self._spec()
        try:
            features = keras.Model(linear.input, linear.get_layer(layer).output)
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
