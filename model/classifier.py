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
        outputs = keras_model.outputs[0].shape[-1]
        if outputs != len(self.labels):
            raise ValueError(f"model {card.id!r} has {outputs} outputs but its card names {len(self.labels)} labels")

    @classmethod
    def load(cls, model_id: str | None = None, root: Path | None = None) -> "Classifier":
        """Load a registry entry (the default one when `model_id` is None)."""
        model_id = model_id or default_model_id(root)
        return cls(read_card(model_id, root), load_model(model_id, root))

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """The model input for one grayscale image, through the one preprocessing path."""
        return preprocess(pixels, self.card.preprocessing)

    def predict_inputs(self, inputs: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Probabilities (N, K) for preprocessed inputs (N, S, S, C)."""
        inputs = np.asarray(inputs, np.float32)
        # Calling the model directly avoids `predict`'s per-call setup, which dominates for one image.
        if len(inputs) <= batch_size:
            return np.asarray(self.model(inputs, training=False), dtype=np.float64)
        return self.model.predict(inputs, batch_size=batch_size, verbose=0).astype(np.float64)

    def predict_xray(self, xray: Xray | np.ndarray) -> Prediction:
        pixels = xray.pixels if isinstance(xray, Xray) else xray
        return Prediction(self.labels, self.predict_inputs(self.prepare(pixels)[None])[0])

    def predict_batch(self, images) -> list[Prediction]:
        inputs = np.stack([self.prepare(x.pixels if isinstance(x, Xray) else x) for x in images])
        return [Prediction(self.labels, p) for p in self.predict_inputs(inputs)]

    def class_index(self, target: int | str | None, model_input: np.ndarray) -> int:
        """Resolve a class given by label or index; None means the predicted class."""
        if target is None:
            return int(np.argmax(self.predict_inputs(model_input[None])[0]))
        if isinstance(target, str) and target in self.labels:
            return self.labels.index(target)
        if isinstance(target, (int, np.integer)) and 0 <= int(target) < len(self.labels):
            return int(target)
        raise ValueError(f"unknown class {target!r}; this model's classes are {list(self.labels)}")

    def layers(self) -> list[str]:
        """Layers that can be explained, the card's default last."""
        return explainable_layers(self.model)

    def explain_input(self, model_input: np.ndarray, method: str = "gradcam", target: int | str | None = None,
                      layer: str | None = None) -> Explanation:
        """A map at model-input resolution for one preprocessed image."""
        check_method(method)
        layer = layer or self.card.explain_layer
        if layer not in self.layers():
            raise ValueError(f"layer {layer!r} is not an explainable layer of model {self.card.id!r}")
        index = self.class_index(target, model_input)
        heat = self.explainers.explain(model_input, method, index, layer)
        return Explanation(heat, method, index, self.labels[index], None if method == "smoothgrad" else layer)

    def explain_xray(self, xray: Xray | np.ndarray, method: str = "gradcam", target: int | str | None = None,
                     layer: str | None = None) -> tuple[Explanation, np.ndarray]:
        """The explanation and its map brought back onto the original image's pixel grid."""
        pixels = xray.pixels if isinstance(xray, Xray) else xray
        explanation = self.explain_input(self.prepare(pixels), method, target, layer)
        return explanation, self.to_image(explanation.heatmap, pixels)

    def to_image(self, model_map: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        """A map at model-input resolution placed on the original image's grid (outside the
        region the model saw, e.g. beyond a lung crop, it is 0)."""
        prep = self.card.prep
        return map_to_image(model_map, pixels.shape, prep, box=region_box(pixels, prep))
