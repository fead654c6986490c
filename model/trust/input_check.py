"""Whether an image looks like a frontal chest X-ray of an adult: colour, shape, contrast, the scope
facts of its DICOM header and of what the reader stated, and the plausibility of its lung fields."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.inputs.intake import colourfulness
from model.inputs.lungs import mask_plausibility
from model.policy import ASPECT_RANGE, MAX_COLOURFULNESS, MIN_CONTRAST
from model.trust.facts import Stated, fact_findings, scope_facts
from model.trust.findings import ASSUMPTION, IMAGE, OUT_OF_SCOPE, UNCERTAIN, Finding, of_severity


@dataclass(frozen=True)
class InputCheck:
    """What the input check found about one image.

    Attributes:
        findings: one `Finding` per problem (out of scope: colour, no contrast, another modality, a
            lateral view, another body part, a child, no plausible lung fields; uncertain: an unusual
            shape) and per assumption the answer rests on (age or view not known).
    """

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing but assumptions was found."""
        return not self.problems

    @property
    def problems(self) -> list[Finding]:
        return of_severity(self.findings, OUT_OF_SCOPE, UNCERTAIN)

    @property
    def warnings(self) -> list[str]:
        """The problems' sentences."""
        return [f.sentence for f in self.problems]

    @property
    def blocking(self) -> list[str]:
        """The sentences of the problems that put the image outside what the model was made for."""
        return [f.sentence for f in of_severity(self.findings, OUT_OF_SCOPE)]

    @property
    def assumptions(self) -> list[Finding]:
        return of_severity(self.findings, ASSUMPTION)

    def to_dict(self) -> dict:
        return {"findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, values: dict) -> "InputCheck":
        return cls([Finding.from_dict(f) for f in values.get("findings", [])])


def _colour_finding(rgb, metadata: dict | None) -> list[Finding]:
    score = colourfulness(rgb) if rgb is not None else (metadata or {}).get("colourfulness")
    if score is None or score <= MAX_COLOURFULNESS:
        return []
    return [Finding("colour", OUT_OF_SCOPE, IMAGE, "The image is in colour, while a radiograph is grey: it may be "
                    "a photograph rather than a chest X-ray (it is shown here in grey, as the model reads it).",
                    {"colourfulness": float(score), "limit": MAX_COLOURFULNESS})]


def _image_findings(pixels: np.ndarray) -> list[Finding]:
    height, width = pixels.shape
    aspect = width / height
    found = []
    if not ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1]:
        found.append(Finding("odd_shape", UNCERTAIN, IMAGE,
                             f"The image is {width} x {height} pixels (width/height {aspect:.2f}), an unusual shape "
                             f"for a chest X-ray, which is expected between {ASPECT_RANGE[0]} and {ASPECT_RANGE[1]}.",
                             {"width": width, "height": height, "aspect": aspect}))
    low, high = np.percentile(pixels, [1, 99])
    if high - low < MIN_CONTRAST:
        found.append(Finding("no_contrast", OUT_OF_SCOPE, IMAGE, "The image is nearly uniform, with almost no "
                             "contrast, so it cannot be read as a chest X-ray.", {"contrast": float(high - low)}))
    return found


def _mask_finding(lung_mask) -> list[Finding]:
    if lung_mask is None:
        return []
    verdict = mask_plausibility(lung_mask)
    if verdict["plausible"]:
        return []
    return [Finding("no_lung_fields", OUT_OF_SCOPE, IMAGE, f"{verdict['reason']} {_mask_cause(verdict)}", {})]


def _mask_cause(verdict: dict) -> str:
    """What an implausible lung mask may mean. One lung-sized region, or one field far smaller than the other, is
    what a frontal film with a whited-out lung gives too (the finder misses lung tissue that dense disease fills):
    blaming the kind of image there misleads a reader looking at a plain chest film."""
    if verdict["problem"] in ("one_field", "unbalanced"):
        return ("A lung may be whited out (a large effusion, a collapse or dense consolidation, which the lung finder "
                "misses), or the image may not be a frontal chest X-ray; the model reads the lung fields, so it cannot "
                "read this film.")
    return "The image may not be a frontal chest X-ray."


def input_check(pixels: np.ndarray, metadata: dict | None = None, lung_mask: np.ndarray | None = None,
                rgb: np.ndarray | None = None, stated: Stated | None = None) -> InputCheck:
    """Check that an image looks like a frontal chest X-ray of an adult.

    Checks, each adding one `Finding`:
        * colour: colourfulness above 15 (a photo is colourful; a radiograph is gray even when
          saved as RGB), from `rgb` when given, else from `metadata["colourfulness"]`, which
          `model.inputs.intake.load_xray` records before reducing the image to luminance.
        * shape: width/height outside 0.6-1.7 (uncertain, not out of scope).
        * contrast: the 1st-99th percentile spread of the pixels below 0.05.
        * scope facts (`model.trust.facts`): from the DICOM header, else from what the reader
          stated: a child, a lateral view, a modality other than CR/DX, a body part other than the
          chest; the age or view not known is an assumption of the answer.
        * lungs (when `lung_mask` is given): `model.inputs.lungs.mask_plausibility` finds the mask
          implausible; its reason is quoted.

    Args:
        pixels: 2-D grayscale image in [0, 1] (`Xray.pixels`).
        metadata: `Xray.metadata`, optional.
        lung_mask: boolean lung mask of the image (e.g. `LungSegmenter.mask`), optional.
        rgb: the original colour image (H x W x 3), optional.
        stated: what the reader states about a plain image (the header wins where it speaks).
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise ValueError(f"pixels must be a 2-D grayscale image, got shape {pixels.shape}")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    findings = (_colour_finding(rgb, metadata) + _image_findings(pixels)
                + fact_findings(scope_facts(metadata, stated)) + _mask_finding(lung_mask))
    return InputCheck(findings)
