"""Lung fields: a U-Net segmenter from the registry and the checks built on its masks.

`LungSegmenter` loads a registry entry of kind "lung_segmentation" and returns lung probability
maps and cleaned masks on the *original* image's pixel grid: the image goes through the one
preprocessing path (`model.inputs.preprocessing.preprocess`, with the card's settings) and the model's
map comes back through `map_to_image`, so a mask lines up with the image it was made from and
with any heatmap brought back the same way.

The plain functions work on any boolean mask:

* `lung_attention_fraction`: how much of an explanation heatmap lies inside the lungs.
* `lung_box`: the lung fields' bounding box with a margin (for cropping or zooming).
* `mask_plausibility`: whether a mask looks like the two lung fields of a frontal chest film,
  which serves as an input check ("is this a frontal chest X-ray at all?").

Pure Python and numpy/OpenCV; TensorFlow is imported only when a model is loaded.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from model.inputs.preprocessing import Preprocessing, Region, crop_box, map_to_image, preprocess
from model.registry import LUNG_SEGMENTATION, ModelCard, RegistryError, list_cards, load_model, read_card, registry_root
from model.runtime import compiled_forward

KIND = LUNG_SEGMENTATION
# A lung box under this share of either image side is implausible: the fixed border crop is used.
MIN_LUNG_BOX_FRACTION = 0.2
# `clean_mask` drops specks smaller than this share of the image before keeping the two largest.
MIN_SPECK_FRACTION = 0.002
# `mask_plausibility` counts a component as lung-sized from this share of the image area.
SIZEABLE_FRACTION = 0.01
MIN_AREA_FRACTION = 0.12
MAX_AREA_FRACTION = 0.65
MIN_BALANCE = 0.3
# Negative heatmap values down to this share of the maximum are rounding noise, clipped to 0.
_NEGATIVE_TOLERANCE = 1e-6


class LungSegmenter:
    """A lung-field segmentation model and its registry card.

    Attributes:
        model: the Keras model: (N, S, S, C) images in [0, 1] -> (N, S, S, 1) lung probabilities.
        card: the entry's `ModelCard` (kind "lung_segmentation"); its `preprocessing` says how
            images are turned into model inputs.
    """

    def __init__(self, model, card: ModelCard):
        """Wrap a loaded model and its card.

        Args:
            model: a Keras model with one sigmoid output channel at the card's input size.
            card: the model's card; its kind must be "lung_segmentation".

        Raises:
            RegistryError: the card is of another kind or the model does not fit the card.
        """
        if card.kind != KIND:
            raise RegistryError(f"Model {card.id!r} is a {card.kind} model, not a lung segmentation model.")
        size, channels = card.input_size, card.prep.channels
        expected_in, expected_out = (None, size, size, channels), (None, size, size, 1)
        if tuple(model.input_shape) != expected_in or tuple(model.output_shape) != expected_out:
            raise RegistryError(f"Model {card.id!r} takes {tuple(model.input_shape)} and returns "
                                f"{tuple(model.output_shape)}, but its card describes a {size}x{size} "
                                f"lung segmentation model.")
        self.model = model
        self.card = card
        self._forward = compiled_forward(model)

    @classmethod
    def load(cls, model_id: str | None = None, root: Path | None = None) -> "LungSegmenter":
        """Load a lung segmentation entry from the registry.

        Args:
            model_id: registry folder name; None takes the first usable entry of kind
                "lung_segmentation" (sorted by id).
            root: registry folder; None means `CXR_REGISTRY` or the package registry.

        Returns:
            The segmenter, with the model loaded in safe mode.

        Raises:
            RegistryError: no lung segmentation entry exists, or the entry is missing, of another
                kind, or cannot be loaded.
        """
        if model_id is None:
            cards = list_cards(KIND, root)
            if not cards:
                raise RegistryError(
                    f"No lung segmentation model in the model registry at {root or registry_root()}; "
                    f"train one with `python -m training.train_lungs`.")
            model_id = cards[0].id
        card = read_card(model_id, root)
        if card.kind != KIND:
            raise RegistryError(f"Model {model_id!r} is a {card.kind} model, not a lung segmentation model.")
        return cls(load_model(model_id, root), card)

    def warm_up(self) -> None:
        """Trace the forward pass on a blank input (otherwise the first real call traces and optimises the graph)."""
        self._forward(np.zeros((1, *tuple(self.model.inputs[0].shape[1:])), np.float32))

    def segment(self, pixels: np.ndarray) -> np.ndarray:
        """Lung probability for every pixel of the original image.

        Args:
            pixels: 2-D grayscale image in [0, 1] (as `model.inputs.intake.load_xray(...).pixels`), any size.

        Returns:
            float32 array of the image's shape with values in [0, 1]; margins that the
            preprocessing crops away get 0.
        """
        pixels = _as_image(pixels)
        prep = self.card.prep
        # Nothing is remembered here: callers that need one image's mask several times (the input
        # check, the lung crop, lung attention) compute it once and pass it on.
        batch = preprocess(pixels, prep)[None]
        model_map = np.asarray(self._forward(batch.astype(np.float32)), dtype=np.float32)[0, ..., 0]
        return np.clip(map_to_image(model_map, pixels.shape, prep, fill=0.0), 0.0, 1.0)

    def mask(self, pixels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """Cleaned lung mask on the original image's pixel grid.

        The probability map is thresholded, then `clean_mask` keeps the two largest connected
        components and fills their holes.

        Args:
            pixels: 2-D grayscale image in [0, 1], any size.
            threshold: probability from which a pixel counts as lung, strictly between 0 and 1.

        Returns:
            bool array of the image's shape.
        """
        if not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold!r}")
        return clean_mask(self.segment(pixels) >= threshold)


def clean_mask(mask: np.ndarray, keep: int = 2) -> np.ndarray:
    """Keep the `keep` largest connected components of a mask and fill their holes.

    Components smaller than `MIN_SPECK_FRACTION` of the image are dropped first, so noise is never
    kept in place of a missing lung. Connectivity is 8-neighbour.

    Args:
        mask: 2-D boolean (or 0/1) array.
        keep: how many components to keep (2: the two lung fields).

    Returns:
        bool array of the same shape.
    """
    mask = _as_mask(mask, "mask")
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = [i + 1 for i in np.argsort(-areas, kind="stable") if areas[i] >= MIN_SPECK_FRACTION * mask.size]
    kept = np.isin(labels, order[:keep]).astype(np.uint8)
    # Filling the outer contours removes holes (e.g. a dense lesion read as non-lung).
    contours, _ = cv2.findContours(kept, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(kept)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def lung_attention_fraction(heatmap: np.ndarray, lung_mask: np.ndarray) -> float:
    """Share of a heatmap's mass that lies inside the lung fields.

    Both arrays should be on the same pixel grid (for example both brought back to the original
    image with `map_to_image`). If the shapes differ the mask is resized to the heatmap's shape
    with nearest-neighbour interpolation, which is only right when both cover the same region.

    Args:
        heatmap: 2-D non-negative array (a Grad-CAM or occlusion map).
        lung_mask: 2-D boolean or 0/1 array.

    Returns:
        sum(heatmap inside the mask) / sum(heatmap), in [0, 1]; 0.0 for an all-zero heatmap.

    Raises:
        ValueError: an array is not 2-D or empty, the heatmap holds NaN, infinite or negative
            values, or the mask holds values other than 0/1.
    """
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"heatmap must be a non-empty 2-D array, got shape {heat.shape}")
    if not np.all(np.isfinite(heat)):
        raise ValueError("heatmap contains NaN or infinite values")
    lowest = float(heat.min())
    if lowest < 0:
        if lowest < -_NEGATIVE_TOLERANCE * max(1.0, float(heat.max())):
            raise ValueError(f"heatmap must be non-negative, got a minimum of {lowest:.6g}")
        heat = np.maximum(heat, 0.0)
    mask = _as_mask(lung_mask, "lung_mask")
    if mask.shape != heat.shape:
        mask = cv2.resize(mask.astype(np.uint8), (heat.shape[1], heat.shape[0]),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
    total = float(heat.sum())
    if total <= 0.0:
        return 0.0
    return float(min(1.0, heat[mask].sum() / total))


def lung_box(mask: np.ndarray, margin: float = 0.05) -> tuple[int, int, int, int]:
    """Bounding box of the lung fields, widened by a margin and clipped to the image.

    Args:
        mask: 2-D boolean or 0/1 array.
        margin: added on every side, as a fraction of the image's height (top, bottom) and
            width (left, right); in [0, 0.5).

    Returns:
        (top, bottom, left, right) with bottom and right exclusive, so `image[top:bottom,
        left:right]` is the box (the convention of `model.inputs.preprocessing.crop_box`); the whole
        image when the mask is empty.
    """
    mask = _as_mask(mask, "mask")
    if not 0.0 <= float(margin) < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin!r}")
    height, width = mask.shape
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, height, 0, width
    dy, dx = int(round(margin * height)), int(round(margin * width))
    return (max(0, int(rows[0]) - dy), min(height, int(rows[-1]) + 1 + dy),
            max(0, int(cols[0]) - dx), min(width, int(cols[-1]) + 1 + dx))


def lung_region(lung_mask: np.ndarray, prep: Preprocessing) -> Region:
    """The region a lung-cropped model sees: the lung fields' box with the card's margin.

    When the mask holds no plausible lungs (box under `MIN_LUNG_BOX_FRACTION` of either side) it
    falls back to the fixed border crop, so a film without visible lungs is still analysed whole.

    Args:
        lung_mask: boolean mask on the image's pixel grid (`LungSegmenter.mask`).
        prep: the classifier card's preprocessing (its `lung_margin` and `border_crop`).

    Returns:
        (top, bottom, left, right), bottom and right exclusive, as `preprocess` takes it.
    """
    top, bottom, left, right = lung_box(lung_mask, prep.lung_margin)
    height, width = np.asarray(lung_mask).shape
    if (bottom - top) < MIN_LUNG_BOX_FRACTION * height or (right - left) < MIN_LUNG_BOX_FRACTION * width:
        return crop_box((height, width), prep)
    return top, bottom, left, right


def mask_plausibility(mask: np.ndarray) -> dict:
    """Whether a lung mask looks like the two lung fields of a frontal chest radiograph.

    Args:
        mask: 2-D boolean or 0/1 array, e.g. `LungSegmenter.mask(...)`.

    Returns:
        A dict with:
            area_fraction: share of the image covered by the mask.
            components: number of lung-sized connected components (at least `SIZEABLE_FRACTION`
                of the image).
            left_right_balance: area of the smaller of the two largest components over the
                larger; with fewer than two lung-sized components, the mask's area in the smaller
                image half (left or right of the vertical midline) over the larger one.
            plausible: True when there are exactly two lung-sized components side by side, the
                area fraction is within [`MIN_AREA_FRACTION`, `MAX_AREA_FRACTION`] and the
                balance exceeds `MIN_BALANCE`.
            reason: one sentence saying what is implausible; "" when plausible.
            problem: the same as a key ("no_lungs", "small_patches", "one_field", "many_fields", "stacked",
                "small_area", "large_area", "unbalanced"); "" when plausible.
    """
    mask = _as_mask(mask, "mask")
    height, width = mask.shape
    area_fraction = float(mask.mean())
    _, _, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    sizeable = [i for i in np.argsort(-areas, kind="stable") if areas[i] >= SIZEABLE_FRACTION * mask.size]
    if len(sizeable) >= 2:
        balance = float(areas[sizeable[1]] / areas[sizeable[0]])
        (x1, y1), (x2, y2) = centroids[sizeable[0] + 1], centroids[sizeable[1] + 1]
        side_by_side = abs(x1 - x2) / width > abs(y1 - y2) / height
    else:
        half = width // 2
        left, right = float(mask[:, :half].sum()), float(mask[:, width - half:].sum())
        balance = min(left, right) / max(left, right) if max(left, right) > 0 else 0.0
        side_by_side = False

    problem = _mask_problem(mask, sizeable, side_by_side, area_fraction, balance)
    reason = _mask_reason(problem, len(sizeable), area_fraction, balance)
    return {"area_fraction": round(area_fraction, 4), "components": len(sizeable),
            "left_right_balance": round(balance, 4), "plausible": problem == "", "reason": reason,
            "problem": problem}


def _mask_problem(mask: np.ndarray, sizeable: list, side_by_side: bool, area_fraction: float, balance: float) -> str:
    """The first implausibility of a mask, as a key (`_mask_reason` says it); "" when none."""
    checks = (("no_lungs", not mask.any()), ("small_patches", not sizeable),
              ("one_field" if len(sizeable) == 1 else "many_fields", len(sizeable) != 2),
              ("stacked", not side_by_side), ("small_area", area_fraction < MIN_AREA_FRACTION),
              ("large_area", area_fraction > MAX_AREA_FRACTION), ("unbalanced", balance <= MIN_BALANCE))
    return next((key for key, found in checks if found), "")


def _mask_reason(problem: str, components: int, area_fraction: float, balance: float) -> str:
    """`_mask_problem`'s key said as one sentence for the reader; "" when there is none."""
    sentences = {
        "": "",
        "no_lungs": "No lung fields were found in the image.",
        "small_patches": "Only small lung-like patches were found, no region the size of a lung field.",
        "one_field": "The lung finder marked 1 region the size of a lung where a frontal chest X-ray shows two lung "
                     "fields.",
        "many_fields": f"The lung finder marked {components} regions the size of a lung where a frontal chest X-ray "
                       "shows two lung fields.",
        "stacked": "The lung finder marked two regions the size of a lung, but one above the other, where lungs lie "
                   "side by side.",
        "small_area": f"The lung fields cover only {area_fraction:.0%} of the image, less than the "
                      f"{MIN_AREA_FRACTION:.0%} expected for a frontal chest X-ray.",
        "large_area": f"The lung-like regions cover {area_fraction:.0%} of the image, more than the "
                      f"{MAX_AREA_FRACTION:.0%} expected for a frontal chest X-ray.",
        "unbalanced": f"One lung field is only {balance:.0%} the size of the other, where more than "
                      f"{MIN_BALANCE:.0%} is expected."}
    return sentences[problem]


def _as_image(pixels) -> np.ndarray:
    pixels = np.asarray(getattr(pixels, "pixels", pixels), dtype=np.float32)
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {pixels.shape}")
    return pixels


def _as_mask(mask, name: str) -> np.ndarray:
    """A 2-D bool array from a bool or 0/1 array; ValueError naming the first bad value."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {mask.shape}")
    if mask.dtype == bool:
        return mask
    if not np.issubdtype(mask.dtype, np.number):
        raise ValueError(f"{name} must be boolean or 0/1, got dtype {mask.dtype}")
    bad = mask[(mask != 0) & (mask != 1)]
    if bad.size:
        raise ValueError(f"{name} must hold only 0/1 or True/False, found the value {bad.flat[0].item()!r}")
    return mask.astype(bool)
