"""Whether an image looks like a frontal chest X-ray: colour, shape, contrast, DICOM header codes
and the plausibility of its lung fields."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.inputs.intake import colourfulness
from model.inputs.lungs import mask_plausibility
from model.policy import (
    ASPECT_RANGE,
    CHEST_PARTS,
    LATERAL_VIEWS,
    MAX_COLOURFULNESS,
    MIN_CONTRAST,
    RADIOGRAPH_MODALITIES,
)


@dataclass(frozen=True)
class InputCheck:
    """Whether an image looks like a frontal chest X-ray.

    Attributes:
        ok: True when no warning was raised.
        warnings: plain sentences, one per problem found.
        blocking: the warnings that put the image outside what the model was made for (colour,
            no contrast, another modality, a lateral view or body part, no plausible lung fields);
            the others (an unusual shape) only call for care.
    """

    ok: bool
    warnings: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "warnings": list(self.warnings), "blocking": list(self.blocking)}

    @classmethod
    def from_dict(cls, values: dict) -> "InputCheck":
        return cls(bool(values["ok"]), list(values.get("warnings", [])), list(values.get("blocking", [])))


_NO_CONTRAST = "The image is nearly uniform, with almost no contrast"


def _colour_warning(rgb, metadata: dict | None) -> list[str]:
    score = colourfulness(rgb) if rgb is not None else (metadata or {}).get("colourfulness")
    if score is None:
        return []
    if score > MAX_COLOURFULNESS:
        return [f"The image is in colour (colourfulness {score:.0f}), while a radiograph is gray: "
                f"it may be a photograph rather than a chest X-ray."]
    return []


def _shape_warnings(pixels: np.ndarray) -> list[str]:
    height, width = pixels.shape
    aspect = width / height
    warnings = []
    if not ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1]:
        warnings.append(f"The image is {width} x {height} pixels (width/height {aspect:.2f}), an unusual shape "
                        f"for a chest X-ray, which is expected between {ASPECT_RANGE[0]} and {ASPECT_RANGE[1]}.")
    low, high = np.percentile(pixels, [1, 99])
    if high - low < MIN_CONTRAST:
        warnings.append(f"{_NO_CONTRAST}, so it cannot be read as a chest X-ray.")
    return warnings


def _metadata_warnings(metadata: dict | None) -> list[str]:
    """Warnings from DICOM header codes, when the intake found them."""
    metadata = metadata or {}
    modality, view = metadata.get("modality"), metadata.get("view_position")
    part = metadata.get("body_part_examined")
    warnings = []
    if modality and str(modality).upper() not in RADIOGRAPH_MODALITIES:
        warnings.append(f"The DICOM header gives the modality {modality}, not a plain radiograph (CR or DX).")
    if view and str(view).upper() in LATERAL_VIEWS:
        warnings.append(f"The DICOM header gives the view {view}, a lateral film; the model reads frontal "
                        f"(PA or AP) chest X-rays.")
    if part and str(part).upper() not in CHEST_PARTS:
        warnings.append(f"The DICOM header gives the body part {part}, not the chest.")
    return warnings


def _mask_warning(lung_mask) -> list[str]:
    if lung_mask is None:
        return []
    verdict = mask_plausibility(lung_mask)
    if verdict["plausible"]:
        return []
    return [f"{verdict['reason']} The image may not be a frontal chest X-ray."]


def input_check(pixels: np.ndarray, metadata: dict | None = None, lung_mask: np.ndarray | None = None,
                rgb: np.ndarray | None = None) -> InputCheck:
    """Warn when an image does not look like a frontal chest X-ray.

    Checks, each adding one plain sentence when it fails:
        * colour: colourfulness above 15 (a photo is colourful; a radiograph is gray even when
          saved as RGB), from `rgb` when given, else from `metadata["colourfulness"]`, which
          `model.inputs.intake.load_xray` records before reducing the image to luminance.
          `metadata["mode"]` alone ("RGB") says nothing about the content and is not judged.
        * shape: width/height outside 0.6-1.7.
        * contrast: the 1st-99th percentile spread of the pixels below 0.05.
        * DICOM header (when `metadata` has them): a modality other than CR/DX/DR, a lateral
          view position, a body part other than the chest.
        * lungs (when `lung_mask` is given): `model.inputs.lungs.mask_plausibility` finds the mask
          implausible; its reason is quoted.

    Args:
        pixels: 2-D grayscale image in [0, 1] (`Xray.pixels`).
        metadata: `Xray.metadata`, optional.
        lung_mask: boolean lung mask of the image (e.g. `LungSegmenter.mask`), optional.
        rgb: the original colour image (H x W x 3), optional.

    Returns:
        `InputCheck(ok, warnings, blocking)`: every check but the shape one is blocking.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise ValueError(f"pixels must be a 2-D grayscale image, got shape {pixels.shape}")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    shape = _shape_warnings(pixels)
    warnings = _colour_warning(rgb, metadata) + shape + _metadata_warnings(metadata) + _mask_warning(lung_mask)
    blocking = [w for w in warnings if w not in shape or w.startswith(_NO_CONTRAST)]
    return InputCheck(ok=not warnings, warnings=warnings, blocking=blocking)
