"""One triage result per image: whether to show the model's answer, show it with a second read
advised, or hold it back because the film is outside what the model was made for.

    result = triage(input_check(...), tta_uncertainty(...), novelty)   # Triage(status, reasons)

* `out_of_scope`: the input check found something blocking (a colour photograph, another modality,
  a lateral view, no plausible lung fields, ...) or the novelty check found the film unlike
  anything the model was made for. No answer is shown by default.
* `uncertain`: the answer, with a second read advised: the prediction is unstable under small
  image changes, or a non-blocking input warning (an unusual shape) or an unusual film.
* `answer`: none of the above. Still decision support, not a diagnosis.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ANSWER, UNCERTAIN, OUT_OF_SCOPE = "answer", "uncertain", "out_of_scope"
STATUSES = (ANSWER, UNCERTAIN, OUT_OF_SCOPE)
HEADLINES = {
    ANSWER: "Answer",
    UNCERTAIN: "Uncertain: second read advised",
    OUT_OF_SCOPE: "Out of scope: no answer shown",
}


@dataclass(frozen=True)
class Triage:
    """The status of one image and why, in plain sentences.

    Attributes:
        status: "answer", "uncertain" or "out_of_scope".
        reasons: one sentence per finding that set the status (empty for a plain answer).
        novelty: the novelty score when a novelty check ran (higher: more unusual), else None.
    """

    status: str
    reasons: list[str] = field(default_factory=list)
    novelty: float | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def headline(self) -> str:
        return HEADLINES[self.status]

    @property
    def shows_answer(self) -> bool:
        """Whether the class and probabilities are shown by default."""
        return self.status != OUT_OF_SCOPE

    def to_dict(self) -> dict:
        return {"status": self.status, "reasons": list(self.reasons), "novelty": self.novelty}

    @classmethod
    def from_dict(cls, values: dict) -> "Triage":
        return cls(values["status"], list(values.get("reasons") or []), values.get("novelty"))


def triage(check, uncertainty=None, novelty=None) -> Triage:
    """Combine the input check, test-time-augmentation uncertainty and the novelty check.

    Args:
        check: `model.trust.input_check.InputCheck`.
        uncertainty: `model.trust.uncertainty.Uncertainty`, or None when not measured.
        novelty: an object with `out_of_scope` (bool), `unusual` (bool), `reason` (str) and `score`
            (float), e.g. `model.trust.novelty.Novelty`, or None when the model has no novelty check.
    """
    score = None if novelty is None else float(novelty.score)
    blocking = list(check.blocking)
    if novelty is not None and novelty.out_of_scope:
        blocking.append(novelty.reason)
    if blocking:
        return Triage(OUT_OF_SCOPE, blocking, score)
    soft = [w for w in check.warnings if w not in check.blocking]
    if novelty is not None and novelty.unusual:
        soft.append(novelty.reason)
    if uncertainty is not None and uncertainty.uncertain:
        soft.extend(uncertainty.reasons)
    return Triage(UNCERTAIN if soft else ANSWER, soft, score)
