"""Occlusion: hide part of the model input and watch the probabilities move.

Two uses, both model-agnostic (they only need the model's probabilities); occlusion sensitivity is
also one of the explanation methods of `model.explain`:

    model_input = clf.prepare(xray.pixels)
    what = what_if(clf, model_input.array, box=(0.2, 0.1, 0.3, 0.35))   # "what if this region were hidden?"
    heat = occlusion_sensitivity(clf.predict_inputs, model_input.array, class_index=0)

A box is `(top, left, height, width)` as fractions of the square model input's side. Hiding a
region with a heavy blur (the default) rather than black keeps the image looking like a
radiograph, so the model reacts to the missing detail, not to an artificial black square.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.explain.base import Method, normalize_map
from model.inputs.preprocessing import join_input, split_input
from model.prediction import Prediction

FILLS = ("blur", "mean", "black")
Box = tuple[float, float, float, float]

# Blur strong enough to erase lesion-sized detail (sigma of 1/12 of the side, about 19 px at 224).
BLUR_SIGMA_FRACTION = 1 / 12


@dataclass(frozen=True)
class WhatIf:
    """The prediction before and after hiding one region of the model input.

    Attributes:
        before: prediction on the unchanged input.
        after: prediction with the region hidden.
        occluded_input: the (S, S, C) model input with the region hidden (display its film,
            `model.inputs.preprocessing.split_input(...)[0]`, never a mask channel).
        delta: after minus before, per label (negative: hiding the region lowered that class).
    """

    before: Prediction
    after: Prediction
    occluded_input: np.ndarray
    delta: dict[str, float]


def _check_input(model_input: np.ndarray) -> np.ndarray:
    model_input = np.asarray(model_input)
    if model_input.ndim not in (2, 3) or min(model_input.shape[:2]) < 2:
        raise ValueError(f"model_input must be an (S, S, C) or (S, S) image, got shape {model_input.shape}")
    return model_input


def check_box(box) -> Box:
    """Validate a (top, left, height, width) box of fractions and return it as floats.

    Raises:
        ValueError: naming the bad value when the box is malformed or leaves the image.
    """
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be four numbers (top, left, height, width), got {box!r}") from None
    if len(values) != 4:
        raise ValueError(f"box must be four numbers (top, left, height, width), got {box!r}")
    top, left, height, width = values
    for name, value in (("top", top), ("left", left)):
        if not np.isfinite(value) or not 0.0 <= value < 1.0:
            raise ValueError(f"box {name} must be in [0, 1), got {value!r}")
    for name, value in (("height", height), ("width", width)):
        if not np.isfinite(value) or not 0.0 < value <= 1.0:
            raise ValueError(f"box {name} must be in (0, 1], got {value!r}")
    # A little tolerance: fractions that add up to 1.0000001 through rounding are still inside.
    if top + height > 1.0 + 1e-6:
        raise ValueError(f"box top + height must not exceed 1, got {top!r} + {height!r}")
    if left + width > 1.0 + 1e-6:
        raise ValueError(f"box left + width must not exceed 1, got {left!r} + {width!r}")
    return values


def box_pixels(box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The (row0, row1, col0, col1) pixel slice of a fraction box on an image of `shape`; never empty."""
    top, left, height, width = check_box(box)
    rows, cols = shape[:2]
    r0 = min(int(round(top * rows)), rows - 1)
    c0 = min(int(round(left * cols)), cols - 1)
    r1 = min(max(int(round((top + height) * rows)), r0 + 1), rows)
    c1 = min(max(int(round((left + width) * cols)), c0 + 1), cols)
    return r0, r1, c0, c1


def filler(model_input: np.ndarray, fill: str) -> np.ndarray:
    """A full-size image whose pixels replace the hidden region.

    Only the film is filled: the lung-field mask of a two-channel input (`Preprocessing.mask_channel`)
    is data about the film, not pixels, so the filler carries it unchanged and hiding a region never
    moves the lung field (the blur and the mean are those of the film channel alone).
    """
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    film, mask = split_input(np.asarray(model_input, np.float32))
    if fill == "black":
        filled = np.zeros_like(film)
    elif fill == "mean":
        filled = np.broadcast_to(film.mean(axis=(0, 1), keepdims=True), film.shape).astype(np.float32)
    else:
        sigma = max(1.0, BLUR_SIGMA_FRACTION * max(film.shape[:2]))
        blurred = cv2.GaussianBlur(film, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
        # OpenCV drops a single channel axis; put it back so the filler matches the input.
        filled = blurred.reshape(film.shape)
    return join_input(filled, mask)


def occlude(model_input: np.ndarray, box: Box, fill: str = "blur") -> np.ndarray:
    """A copy of the model input with one region hidden.

    Args:
        model_input: preprocessed image (S, S, C) (or (S, S)).
        box: (top, left, height, width) as fractions of the input's side, in [0, 1].
        fill: "blur" (heavy Gaussian blur of the image), "mean" (the image mean) or "black" (0).

    Returns:
        float32 array of the input's shape; outside the box it equals the input.

    Raises:
        ValueError: for a malformed input, box or fill, naming the bad value.
    """
    model_input = _check_input(model_input)
    r0, r1, c0, c1 = box_pixels(box, model_input.shape)
    out = np.array(model_input, dtype=np.float32, copy=True)
    out[r0:r1, c0:c1] = filler(out, fill)[r0:r1, c0:c1]
    return out


def grid_boxes(rows: int, cols: int) -> list[Box]:
    """Boxes tiling the image in a rows x cols grid, row-major (left to right, then top to bottom)."""
    for name, value in (("rows", rows), ("cols", cols)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 1 <= value <= 64:
            raise ValueError(f"{name} must be an integer from 1 to 64, got {value!r}")
    return [(r / rows, c / cols, 1 / rows, 1 / cols) for r in range(rows) for c in range(cols)]


def what_if(classifier, model_input: np.ndarray, box: Box, fill: str = "blur") -> WhatIf:
    """Predict one image as it is and with a region of its model input hidden.

    Args:
        classifier: a `model.classifier.Classifier` (its `labels` and `predict_inputs` are used).
        model_input: the preprocessed image (S, S, C), `Classifier.prepare(pixels).array`.
        box: (top, left, height, width) fractions of the model input's side.
        fill: how the region is hidden, see `occlude`.
    """
    model_input = _check_input(model_input)
    hidden = occlude(model_input, box, fill)
    before, after = classifier.predict_inputs(np.stack([model_input, hidden]))
    labels = tuple(classifier.labels)
    return WhatIf(before=Prediction(labels, before), after=Prediction(labels, after), occluded_input=hidden,
                  delta={label: float(a - b) for label, a, b in zip(labels, after, before)})


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Patch start offsets along one side; the last patch always reaches the edge."""
    starts = list(range(0, max(size - patch, 0) + 1, stride))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return value


def occlusion_sensitivity(predict, model_input: np.ndarray, class_index: int, patch: float = 0.125,
                          stride: float = 0.0625, fill: str = "blur", batch_size: int = 64) -> np.ndarray:
    """A model-agnostic evidence map: how much hiding each region lowers one class's probability.

    A square patch slides over the input; every occluded copy goes through the model in batches.
    Each pixel gets the mean drop `max(0, p_original - p_occluded)` over the patches covering it,
    then the map is normalised like every other explanation (`model.explain.normalize_map`).

    Args:
        predict: `(N, S, S, C) inputs -> (N, K) probabilities`, e.g. `Classifier.predict_inputs`.
        model_input: preprocessed image (S, S, C).
        class_index: the class whose probability is watched.
        patch: patch side as a fraction of the input side (0.125: 28 px at 224).
        stride: step as a fraction of the side (0.0625 with 0.125: 225 patches at 224).
        fill: how a patch is hidden, see `occlude`.
        batch_size: occluded copies per model call.

    Returns:
        float32 (S, S) map in [0, 1], finite; all zero where hiding changes nothing.
    """
    model_input = _check_input(model_input)
    if model_input.ndim == 2:
        model_input = model_input[..., None]
    model_input = model_input.astype(np.float32)
    patch, stride = _check_fraction("patch", patch), _check_fraction("stride", stride)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    rows, cols = model_input.shape[:2]
    side_r, side_c = max(1, round(patch * rows)), max(1, round(patch * cols))
    boxes = [(r, c) for r in _positions(rows, side_r, max(1, round(stride * rows)))
             for c in _positions(cols, side_c, max(1, round(stride * cols)))]
    filled = filler(model_input, fill)
    original = np.asarray(predict(model_input[None]))[0]
    if not 0 <= int(class_index) < len(original):
        raise ValueError(f"class_index must be in [0, {len(original)}), got {class_index!r}")
    scores = _occluded_scores(predict, model_input, filled, boxes, (side_r, side_c), int(class_index),
                              int(batch_size))
    drops = np.maximum(0.0, float(original[class_index]) - scores).tolist()
    total = np.zeros((rows, cols), np.float64)
    count = np.zeros((rows, cols), np.float64)
    for (r, c), drop in zip(boxes, drops):
        total[r:r + side_r, c:c + side_c] += drop
        count[r:r + side_r, c:c + side_c] += 1
    return normalize_map(total / np.maximum(count, 1))


def _occluded_scores(predict, model_input, filled, boxes, side, class_index, batch_size) -> np.ndarray:
    """The probability of one class on each occluded copy (one per box), batch by batch, in the dtype
    the model gives it."""
    side_r, side_c = side
    scores = []
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start:start + batch_size]
        batch = np.repeat(model_input[None], len(chunk), axis=0)
        for i, (r, c) in enumerate(chunk):
            batch[i, r:r + side_r, c:c + side_c] = filled[r:r + side_r, c:c + side_c]
        scores.append(np.asarray(predict(batch))[:, class_index])
    return np.concatenate(scores)


def _run(explainers, batch, class_index, layer, reference):
    # Perturbation, not a library method: the same map either way.
    return occlusion_sensitivity(explainers.predict, batch[0], class_index), None, class_index


METHOD = Method("occlusion", "Occlusion", uses_layer=False, slow=True, run=_run,
                summary="How far the class's probability falls when each patch of the film is hidden: "
                        "works on any model, slower.")
