"""A registry model ready to use: its card, the loaded Keras model, its lung model and explainers.

    clf = Classifier.load()                          # the registry's default model
    xray = load_xray(path_or_bytes)
    model_input = clf.prepare(xray.pixels)           # lung region found once, carried along
    result = clf.predict_input(model_input)          # probabilities, labels from the card
    prediction, explanation, on_image = clf.analyse(model_input, "gradcam")

A lung-cropped card names its lung segmentation entry; `load` takes it from the same registry
folder as the classifier, so a model is always served with the lung model it was trained with.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from model.calibration import apply_temperature
from model.explain import method as find_method
from model.explain.base import Explanation, explainable_layers
from model.explain.explainers import ExplainerSet
from model.explain.map_grid import layer_grid
from model.inputs.intake import Xray
from model.inputs.lungs import LungSegmenter, lung_region
from model.inputs.preprocessing import ModelInput, Region, crop_box, map_to_image, preprocess
from model.prediction import Prediction
from model.registry import ModelCard, default_model_id, load_model, read_card, require_classifier
from model.runtime import compiled_forward, run_in_batches


class Classifier:
    """One registry classifier with its preprocessing, prediction and explanations.

    Args:
        card: the entry's card.
        keras_model: the loaded model.
        segmenter: the card's lung segmentation model; required when the card crops to the lungs.
    """

    def __init__(self, card: ModelCard, keras_model, segmenter: LungSegmenter | None = None):
        if card.prep.lung_crop and segmenter is None:
            raise ValueError(f"model {card.id!r} crops to the lung fields and needs its lung model "
                             f"{card.prep.lung_model!r}")
        expected = (card.prep.image_size, card.prep.image_size, card.prep.channels)
        shape = tuple(keras_model.inputs[0].shape[1:])
        if len(shape) != 3 or any(s is not None and s != e for s, e in zip(shape, expected)):
            raise ValueError(f"Model {card.id!r} takes inputs of shape {shape}, but its card's preprocessing "
                             f"makes {expected}.")
        self.card = card
        self.model = keras_model
        self.segmenter = segmenter
        self.labels = tuple(card.labels)
        self.explainers = ExplainerSet(keras_model, predict=self.predict_inputs)
        self._forward = compiled_forward(keras_model)
        # The explainers' linear clone gives the class logits; when the served model ends in a
        # softmax, their softmax is the model's probabilities, so one pass can give both.
        last = getattr(keras_model.layers[-1], "activation", None)
        self._softmax_head = getattr(last, "__name__", "") == "softmax"
        outputs = keras_model.outputs[0].shape[-1]
        if outputs != len(self.labels):
            raise ValueError(f"model {card.id!r} has {outputs} outputs but its card names {len(self.labels)} labels")

    @classmethod
    def load(cls, model_id: str | None = None, root: Path | None = None,
             segmenter: LungSegmenter | None = None) -> "Classifier":
        """Load a registry entry (the default one when `model_id` is None) and, for a lung-cropped
        card, its lung model from the same registry folder (unless `segmenter` is given)."""
        model_id = model_id or default_model_id(root)
        card = require_classifier(read_card(model_id, root), root)
        if card.prep.lung_crop and segmenter is None:
            segmenter = LungSegmenter.load(card.prep.lung_model, root)
        return cls(card, load_model(model_id, root), segmenter)

    def warm_up(self) -> None:
        """Build the Grad-CAM explainer and trace the forward pass and the card layer's Grad-CAM
        step on a blank input, so that the first real request does not pay for them (seconds)."""
        blank = np.zeros(tuple(self.model.inputs[0].shape[1:]), np.float32)
        self.predict_inputs(blank[None])
        self.analyse_input(blank, "gradcam")
        if self.segmenter is not None:
            self.segmenter.warm_up()

    # ------------------------------------------------------------------ inputs

    def region(self, pixels: np.ndarray, lung_mask: np.ndarray | None = None) -> Region:
        """The part of the image this model looks at: the lung box for lung-cropped cards (from
        `lung_mask` when the caller already has it, else from the card's lung model)."""
        prep = self.card.prep
        if not prep.lung_crop:
            return crop_box(pixels.shape, prep)
        if lung_mask is None:
            lung_mask = self.segmenter.mask(pixels)
        return lung_region(lung_mask, prep)

    def prepare(self, pixels: Xray | np.ndarray, lung_mask: np.ndarray | None = None) -> ModelInput:
        """The model input for one grayscale image, through the one preprocessing path."""
        pixels = pixels.pixels if isinstance(pixels, Xray) else np.asarray(pixels, np.float32)
        prep = self.card.prep
        if prep.lung_crop and lung_mask is None:
            lung_mask = self.segmenter.mask(pixels)
        region = self.region(pixels, lung_mask)
        needs_mask = prep.lung_mask or prep.mask_channel
        return ModelInput(preprocess(pixels, prep, region, lung_mask if needs_mask else None), region,
                          tuple(pixels.shape[:2]))

    def to_image(self, model_map: np.ndarray, model_input: ModelInput) -> np.ndarray:
        """A map at model-input resolution placed on the original image's grid, through the same
        region the input came from (outside it, e.g. beyond a lung crop, the map is 0)."""
        return map_to_image(model_map, model_input.image_shape, self.card.prep, model_input.region)

    # ------------------------------------------------------------------ prediction

    def predict_inputs(self, inputs: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Calibrated probabilities (N, K) for preprocessed inputs (N, S, S, C): the network's
        softmax with the card's temperature applied (`model.calibration`), the one probability
        every view shows."""
        # One traced graph (see `compiled_forward`) rather than an eager call or `model.predict`,
        # whose per-call setup dominates for one image.
        raw = run_in_batches(self._forward, inputs, batch_size).astype(np.float64)
        return apply_temperature(raw, self.card.temperature)

    def predict_input(self, model_input: ModelInput) -> Prediction:
        return Prediction(self.labels, self.predict_inputs(model_input.array[None])[0])

    def predict_xray(self, xray: Xray | np.ndarray) -> Prediction:
        return self.predict_input(self.prepare(xray))

    def predict_batch(self, images) -> list[Prediction]:
        inputs = np.stack([self.prepare(image).array for image in images])
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

    # ------------------------------------------------------------------ explanation

    def layers(self) -> list[str]:
        """Layers that can be explained, the card's default last."""
        return explainable_layers(self.model)

    def map_grid(self, explanation: Explanation) -> int | str | None:
        """Cells per side of the grid an explanation was made on: the explained layer's feature map
        (5 for the last block of a 160-px MobileNet); None for maps made pixel by pixel; `UNKNOWN_GRID`
        when the layer's grain cannot be told (`model.explain.map_grid`), which the faithfulness check
        then says instead of guessing. The chance level of its faithfulness has the same grain
        (`model.trust.faithfulness.chance_grid`).

        A merged layer whose networks' maps were repeated onto a common grid (an ensemble's
        concatenation) has the grain of its finest network, not of the common grid: repeated cells
        carry no detail of their own (a 5x5 and a 7x7 map meet on 35x35, whose cells are not
        independent)."""
        if explanation.layer is None:
            return None
        return layer_grid(self.model, explanation.layer)

    def explain_input(self, array: ModelInput | np.ndarray, method: str = "gradcam", target: int | str | None = None,
                      layer: str | None = None, reference: bool = False) -> Explanation:
        """A map at model-input resolution for one preprocessed image (`reference`: through
        tf-keras-vis's own call, see `ExplainerSet`)."""
        return self.analyse_input(array, method, target, layer, reference, predict=False)[1]

    def analyse_input(self, array: ModelInput | np.ndarray, method: str = "gradcam", target: int | str | None = None,
                      layer: str | None = None, reference: bool = False,
                      predict: bool = True) -> tuple[Prediction | None, Explanation]:
        """Prediction and explanation of one preprocessed image (S, S, C) or `ModelInput`.

        Methods that pick the class in their own pass (the compiled Grad-CAM family) give both
        from one forward and backward pass on a softmax model; the others add a forward pass for
        the prediction (none with `predict=False`, which returns None in its place).
        """
        array = array.array if isinstance(array, ModelInput) else np.asarray(array, np.float32)
        record = find_method(method)
        layer = (layer or self.card.explain_layer) if record.uses_layer else None
        if record.uses_layer and layer not in self.layers():
            raise ValueError(f"layer {layer!r} is not an explainable layer of model {self.card.id!r}")
        index = self.class_index(target)
        probabilities = None
        if index is None and (reference or not record.picks_class):
            probabilities = self.predict_inputs(array[None])[0]
            index = int(np.argmax(probabilities))
        heat, index, logits = self.explainers.explain(array, method, index, layer, reference=reference)
        if probabilities is None and predict:
            if logits is not None and self._softmax_head:  # the same calibrated figure as predict_inputs
                scaled = logits.astype(np.float64) / self.card.temperature
                shifted = np.exp(scaled - scaled.max())
                probabilities = shifted / shifted.sum()
            else:
                probabilities = self.predict_inputs(array[None])[0]
        explanation = Explanation(heat, method, index, self.labels[index], layer)
        return (Prediction(self.labels, probabilities) if probabilities is not None else None), explanation

    def analyse(self, model_input: ModelInput, method: str = "gradcam", target: int | str | None = None,
                layer: str | None = None,
                predict: bool = True) -> tuple[Prediction | None, Explanation, np.ndarray]:
        """What the Diagnose page shows for an upload: probabilities, the explanation, and its map
        on the original image's pixel grid."""
        prediction, explanation = self.analyse_input(model_input.array, method, target, layer, predict=predict)
        return prediction, explanation, self.to_image(explanation.heatmap, model_input)

    def explain_xray(self, xray: Xray | np.ndarray, method: str = "gradcam", target: int | str | None = None,
                     layer: str | None = None) -> tuple[Explanation, np.ndarray]:
        """The explanation of one image and its map on the original image's pixel grid."""
        _, explanation, on_image = self.analyse(self.prepare(xray), method, target, layer, predict=False)
        return explanation, on_image
