"""A classifier's triage rules, stored in its registry entry as `scope.json` (`training.fit_scope`):
the novelty model of the films it was made for, the thresholds of its answer's own figures and its
lung-attention threshold.

    scope = read_scope(model_id, root)             # None when the entry has no scope check
    novelty = scope.novelty.assess(anatomy_features(pixels, lung_mask))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from model.policy import LOW_LUNG_ATTENTION, MIN_AGREEMENT, MIN_TOP_PROBABILITY
from model.registry import SCOPE_FILE, read_report
from model.trust.novelty import NoveltyModel

# Why a level is the policy's and not the model's: it has no scope check, so no level fitted on its own films.
DEFAULT_ORIGIN = "the default: this model has no level of its own"


def default_level(kind: str, figure: str = "") -> str:
    """A policy level used for a model without a scope check, named as every view names it (the status, the
    line beside the lung share, the gallery): "the warning level of 50.0% (the default: this model has no level
    of its own)"; without `figure`, "the warning level (the default: ...)". `kind`: "warning", "answer"."""
    return f"the {kind} level" + (f" of {figure}" if figure else "") + f" ({DEFAULT_ORIGIN})"


@dataclass(frozen=True)
class Scope:
    """What the model was made for, as data.

    Attributes:
        novelty: the anatomy novelty model with its thresholds.
        lung_attention_threshold: the lung-attention warning threshold of this model.
        min_top_probability: below this calibrated top probability (the film's own pass) the answer
            is uncertain: the lowest threshold at which the model's answered validation films reach
            `TARGET_ANSWERED_ACCURACY`, never below `MIN_TOP_FLOOR`.
        min_agreement: below this share of agreeing test-time copies the answer is uncertain (the
            strictest of 75%, 62.5%, 50% that flags at most `AGREEMENT_QUANTILE` of validation images).
        max_copies_below: above this many test-time copies under `min_top_probability` (the film's own pass
            reaching it) the answer is uncertain, fitted with it on the validation split; None (a scope check
            written before the rule, or a model without one): no such rule, the copies below only caution.
        figures: how the rules did (validation and test shares and rates per rule, sources the model
            never trained on, children's films, held-out-source AUROCs, synthetic inputs).
    """

    novelty: NoveltyModel
    lung_attention_threshold: float = LOW_LUNG_ATTENTION
    min_top_probability: float = MIN_TOP_PROBABILITY
    figures: dict = field(default_factory=dict)
    min_agreement: float = MIN_AGREEMENT
    max_copies_below: int | None = None

    def to_dict(self) -> dict:
        return {"novelty": self.novelty.to_dict(), "lung_attention_threshold": self.lung_attention_threshold,
                "min_top_probability": self.min_top_probability, "min_agreement": self.min_agreement,
                "max_copies_below": self.max_copies_below, "figures": self.figures}

    @classmethod
    def from_dict(cls, values: dict) -> "Scope":
        return cls(NoveltyModel.from_dict(values["novelty"]),
                   float(values.get("lung_attention_threshold", LOW_LUNG_ATTENTION)),
                   float(values.get("min_top_probability", MIN_TOP_PROBABILITY)), dict(values.get("figures") or {}),
                   float(values.get("min_agreement", MIN_AGREEMENT)),
                   None if values.get("max_copies_below") is None else int(values["max_copies_below"]))


def read_scope(model_id: str, root: Path | None = None) -> Scope | None:
    """The entry's scope check, or None when it has none (`RegistryError` for a damaged file)."""
    values = read_report(model_id, SCOPE_FILE, root)
    return Scope.from_dict(values) if values else None
