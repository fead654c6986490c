"""A registry model ready to use: its card, the loaded Keras model and its explainers.

    clf = Classifier.load()                     # the registry's default model
    xray = load_xray(path_or_bytes)
    result = clf.predict_xray(xray)             # probabilities, labels from the card
    heat = clf.explain_xray(xray, "gradcam")    # map on the original image's pixel grid
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.explain import ExplainerSet, Explanation, check_method, explainable_layers
from model.intake import Xray
from model.preprocessing import map_to_image, preprocess, region_box
from model.registry import ModelCard, default_model_id, load_model, read_card
from model.runtime import compiled_forward, run_in_batches


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one image, in the card's label order."""

    labels: tuple[str, ...]
    probabilities: np.ndarray

    @property
    def index(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def label(self) -> str:
        return self.labels[self.index]

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.index])

    def as_dict(self) -> dict[str, float]:
        return {label: float(p) for label, p in zip(self.labels, self.probabilities)}


class Classifier:
    """One registry classifier with its preprocessing, prediction and explanations."""

    def __init__(self, card: ModelCard, keras_model):
        self.card = card
        self.model = keras_model
        self.labels = tuple(card.labels)
        self.explainers = ExplainerSet(keras_model)
        self._forward = compiled_forward(keras_model)
        # The explainers' linear clone gives the class logits; when the served model ends in a
        # softmax, their softmax is the model's probabilities, so one pass can give both.
        last = getattr(keras_model.layers[-1], "activation", None)
        self._softmax_head = getattr(last, "__name__", "") == "softmax"
        outputs = keras_model.outputs[0].shape[-1]
        if outputs != len(self.labels):
            raise ValueError(f"model {card.id!r} has {outputs} outputs but its card names {len(self.labels)} labels")

    @classmethod
    def load(cls, model_id: str | None = None, root: Path | None = None) -> "Classifier":
        """Load a registry entry (the default one when `model_id` is None)."""
        model_id = model_id or default_model_id(root)
        return cls(read_card(model_id, root), load_model(model_id, root))

    def warm_up(self) -> None:
        """Build the Grad-CAM explainer and trace the forward pass and the card layer's Grad-CAM
        step on a blank input, so that the first real request does not pay for them (seconds)."""
        blank = np.zeros(tuple(self.model.inputs[0].shape[1:]), np.float32)
        self.predict_inputs(blank[None])
        self.analyse_input(blank, "gradcam")

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """The model input for one grayscale image, through the one preprocessing path."""
        return preprocess(pixels, self.card.preprocessing)

    def predict_inputs(self, inputs: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Probabilities (N, K) for preprocessed inputs (N, S, S, C)."""
        # One traced graph (see `compiled_forward`) rather than an eager call or `model.predict`,
        # whose per-call setup dominates for one image.
        return run_in_batches(self._forward, inputs, batch_size).astype(np.float64)

    def predict_xray(self, xray: Xray | np.ndarray) -> Prediction:
        pixels = xray.pixels if isinstance(xray, Xray) else xray
        return Prediction(self.labels, self.predict_inputs(self.prepare(pixels)[None])[0])

    def predict_batch(self, images) -> list[Prediction]:
        inputs = np.stack([self.prepare(x.pixels if isinstance(x, Xray) else x) for x in images])
        return [Prediction(self.labels, p) for p in self.predict_inputs(inputs)]

    def class_index(self, target: int | str | None) -> int | None:
        """Resolve a class given by label or index; None stays None (the predicted class)."""
        if target is None:
            return None
        if isinstance(target, str) and target in self.labels:
            return self.labels.index(target)
        if isinstance(target, (int, np.integer)) and 0 <= int(target) < len(self.labels):
            return int(target)
        raise ValueError(f"unknown class {target!r}; this model's classes are {list(self.labels)}")

    def layers(self) -> list[str]:
        """Layers that can be explained, the card's default last."""
        return explainable_layers(self.model)

    def explain_input(self, model_input: np.ndarray, method: str = "gradcam", target: int | str | None = None,
                      layer: str | None = None, reference: bool = False) -> Explanation:
        """A map at model-input resolution for one preprocessed image (`reference`: through
        tf-keras-vis's own call, see `ExplainerSet`)."""
        return self.analyse_input(model_input, method, target, layer, reference, predict=False)[1]

    def analyse_input(self, model_input: np.ndarray, method: str = "gradcam", target: int | str | None = None,
                      layer: str | None = None, reference: bool = False,
                      predict: bool = True) -> tuple[Prediction | None, Explanation]:
        """Prediction and explanation of one preprocessed image.

        For Grad-CAM and Grad-CAM++ on a softmax model both come from one forward and backward
        pass; other methods add a forward pass for the prediction (none with `predict=False`,
        which returns None in its place).
        """
        check_method(method)
        layer = layer or self.card.explain_layer
        if layer not in self.layers():
            raise ValueError(f"layer {layer!r} is not an explainable layer of model {self.card.id!r}")
        index = self.class_index(target)
        probabilities = None
        if index is None and (reference or method not in ("gradcam", "gradcam++")):
            # Only the compiled Grad-CAM step picks the predicted class in its own pass.
            probabilities = self.predict_inputs(model_input[None])[0]
            index = int(np.argmax(probabilities))
        heat, index, logits = self.explainers.explain(model_input, method, index, layer, reference=reference)
        if probabilities is None and predict:
            if logits is not None and self._softmax_head:
                shifted = np.exp(logits.astype(np.float64) - logits.max())
                probabilities = shifted / shifted.sum()
            else:
                probabilities = self.predict_inputs(model_input[None])[0]
        explanation = Explanation(heat, method, index, self.labels[index], None if method == "smoothgrad" else layer)
        return (Prediction(self.labels, probabilities) if probabilities is not None else None), explanation

    def explain_xray(self, xray: Xray | np.ndarray, method: str = "gradcam", target: int | str | None = None,
                     layer: str | None = None) -> tuple[Explanation, np.ndarray]:
        """The explanation and its map brought back onto the original image's pixel grid."""
        _, explanation, image_map = self.analyse_xray(xray, method, target, layer, predict=False)
        return explanation, image_map

    def analyse_xray(self, xray: Xray | np.ndarray, method: str = "gradcam", target: int | str | None = None,
                     layer: str | None = None,
                     predict: bool = True) -> tuple[Prediction | None, Explanation, np.ndarray]:
        """What the Diagnose page shows for an upload: probabilities, the explanation, and its map
        on the original image's pixel grid, with the image preprocessed once."""
        pixels = xray.pixels if isinstance(xray, Xray) else xray
        prediction, explanation = self.analyse_input(self.prepare(pixels), method, target, layer, predict=predict)
        return prediction, explanation, self.to_image(explanation.heatmap, pixels)

    def to_image(self, model_map: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        """A map at model-input resolution placed on the original image's grid (outside the
        region the model saw, e.g. beyond a lung crop, it is 0)."""
        prep = self.card.prep
        return map_to_image(model_map, pixels.shape, prep, box=region_box(pixels, prep))
