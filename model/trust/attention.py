"""Lung attention: how much of an explanation map lies inside the segmented lung fields, with the
shortcut warning when little does (DeGrave et al. 2021: COVID-19 classifiers learned text
markers, borders and devices instead of lung findings)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.inputs.lungs import lung_attention_fraction
from model.policy import LOW_LUNG_ATTENTION, SHORTCUT_WARNING


@dataclass(frozen=True)
class LungAttention:
    """Share of one map inside the lungs.

    Attributes:
        fraction: `model.inputs.lungs.lung_attention_fraction`.
        threshold: fractions below it are `low`.
        low: whether the warning fires; warning: the sentence, or "".
    """

    fraction: float
    threshold: float
    low: bool
    warning: str

    def to_dict(self) -> dict:
        return {"fraction": self.fraction, "threshold": self.threshold, "low": self.low, "warning": self.warning}

    @classmethod
    def from_dict(cls, values: dict) -> "LungAttention":
        return cls(float(values["fraction"]), float(values["threshold"]), bool(values["low"]), values["warning"])


def lung_attention(heatmap: np.ndarray, lung_mask: np.ndarray, threshold: float = LOW_LUNG_ATTENTION) -> LungAttention:
    """How much of a map lies inside the lungs, with the shortcut warning when little does.

    Args:
        heatmap: non-negative 2-D map on the mask's grid (e.g. brought back with `map_to_image`).
        lung_mask: boolean lung mask.
        threshold: fractions below it are `low` (in (0, 1)).

    Returns:
        `LungAttention`.
    """
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold!r}")
    fraction = lung_attention_fraction(heatmap, lung_mask)
    low = fraction < threshold
    return LungAttention(fraction, threshold, bool(low), SHORTCUT_WARNING if low else "")
