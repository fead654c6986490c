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


@dataclass(frozen=True)
class Assessment:
    """Everything the triage of one image rests on, computed once.

    Attributes:
        model_input: the classifier's `ModelInput` (lung region found once).
        prediction: the model's probabilities on the image itself.
        uncertainty: test-time-augmentation figures.
        check: the input check.
        novelty: the scope check's verdict, or None without a scope check or lung mask.
        triage: the status and its reasons.
        lung_mask: the lung mask used (None when no lung model was available).
    """

    model_input: object
    prediction: object
    uncertainty: object
    check: object
    novelty: object
    triage: Triage
    lung_mask: object = None


def assess(classifier, xray, lung_mask=None, scope=None) -> Assessment:
    """Prediction, uncertainty, input check, novelty and triage of one decoded image.

    Args:
        classifier: a `model.classifier.Classifier`.
        xray: `model.inputs.intake.Xray` (pixels and metadata).
        lung_mask: the image's lung mask when the caller has it; else the classifier's own lung
            model makes it (lung-cropped models), else there is none.
        scope: the model's `model.trust.scope.Scope`, or None.
    """
    from model.trust.input_check import input_check
    from model.trust.novelty import anatomy_features
    from model.trust.uncertainty import tta_uncertainty

    pixels = xray.pixels
    if lung_mask is None and classifier.segmenter is not None:
        lung_mask = classifier.segmenter.mask(pixels)
    model_input = classifier.prepare(pixels, lung_mask)
    prediction = classifier.predict_input(model_input)
    uncertainty = tta_uncertainty(classifier, model_input,
                                  **({"min_top_probability": scope.min_top_probability,
                                      "min_agreement": scope.min_agreement} if scope else {}))
    check = input_check(pixels, xray.metadata, lung_mask)
    novelty = None
    if scope is not None and lung_mask is not None:
        novelty = scope.novelty.assess(anatomy_features(pixels, lung_mask))
    return Assessment(model_input, prediction, uncertainty, check, novelty, triage(check, uncertainty, novelty),
                      lung_mask)
