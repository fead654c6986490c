"""One triage result per image: whether to show the model's answer, show it with a second read
advised, or hold it back because the film is outside what the model was made for.

    result = triage(input_check(...), tta_uncertainty(...), novelty)   # Triage(status, findings)
    final = result.with_findings(map_findings(...))                     # the map checks made later

* `out_of_scope`: a finding of that severity: the scope facts (a child, a lateral view, another
  modality or body part, from the DICOM header or the reader), the input check (a colour
  photograph, no contrast, no plausible lung fields) or the anatomy check (a film unlike anything
  the model was made for). No answer is shown by default.
* `uncertain`: the answer, with a second read advised: its calibrated probability is below the
  model's own threshold, its test-time copies disagree, the film's anatomy or shape is unusual.
* `answer`: none of the above. Still decision support, not a diagnosis; the assumptions it rests on
  (an adult, a frontal film, when nobody said so), any caution about the answer (some of its test-time
  copies fall below the model's answer level) and any caution about the map are named with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from model.trust.findings import (
    ANSWER_CAUTION,
    ASSUMPTION,
    MAP_CAUTION,
    OUT_OF_SCOPE,
    UNCERTAIN,
    Finding,
    of_severity,
)

ANSWER = "answer"
STATUSES = (ANSWER, UNCERTAIN, OUT_OF_SCOPE)
HEADLINES = {
    ANSWER: "Answer",
    UNCERTAIN: "Uncertain: second read advised",
    OUT_OF_SCOPE: "Out of scope: no answer shown",
}


@dataclass(frozen=True)
class Triage:
    """The status of one image and every finding about it.

    Attributes:
        status: "answer", "uncertain" or "out_of_scope".
        findings: every `Finding` of the film: those that set the status, the assumptions the answer
            rests on and the cautions about its map (added with `with_findings`).
        novelty: the anatomy check's score when it ran (higher: more unusual), else None.
    """

    status: str
    findings: list[Finding] = field(default_factory=list)
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

    @property
    def deciding(self) -> list[Finding]:
        """The findings that set the status (none for a plain answer)."""
        return of_severity(self.findings, self.status) if self.status != ANSWER else []

    @property
    def reasons(self) -> list[str]:
        """The deciding findings' sentences."""
        return [f.sentence for f in self.deciding]

    @property
    def assumptions(self) -> list[Finding]:
        return of_severity(self.findings, ASSUMPTION)

    @property
    def answer_cautions(self) -> list[Finding]:
        """Reasons to read an answer with care that set no status (some copies below the answer level); none
        unless the status is an answer: an uncertain or out-of-scope film has no answer to caution (and its
        caution names the class a held-back answer would have given)."""
        return of_severity(self.findings, ANSWER_CAUTION) if self.status == ANSWER else []

    @property
    def undoubted(self) -> bool:
        """An answer with nothing said against it: no caution about the answer or its map, no assumption. The one
        condition under which a status line may say its checks found no reason to doubt it."""
        return self.status == ANSWER and not (self.answer_cautions or self.map_cautions or self.assumptions)

    @property
    def map_cautions(self) -> list[Finding]:
        return of_severity(self.findings, MAP_CAUTION)

    def with_findings(self, findings) -> "Triage":
        """This triage with later findings added (the map checks), each kind once; they never change
        whether the answer is shown, only what the status names."""
        kinds = {(f.kind, f.sentence) for f in self.findings}
        extra = [f for f in findings if (f.kind, f.sentence) not in kinds]
        return Triage(self.status, [*self.findings, *extra], self.novelty)

    def to_dict(self) -> dict:
        return {"status": self.status, "reasons": self.reasons, "findings": [f.to_dict() for f in self.findings],
                "novelty": self.novelty}

    @classmethod
    def from_dict(cls, values: dict) -> "Triage":
        return cls(values["status"], [Finding.from_dict(f) for f in values.get("findings") or []],
                   values.get("novelty"))


def status_of(findings) -> str:
    """The status a list of findings sets: the strongest severity among them."""
    severities = {f.severity for f in findings}
    return OUT_OF_SCOPE if OUT_OF_SCOPE in severities else UNCERTAIN if UNCERTAIN in severities else ANSWER


def triage(check, uncertainty=None, novelty=None) -> Triage:
    """Combine the input check, the answer's own figures and the anatomy (novelty) check.

    Args:
        check: `model.trust.input_check.InputCheck` (scope facts included).
        uncertainty: `model.trust.uncertainty.Uncertainty`, or None when not measured.
        novelty: `model.trust.novelty.Novelty`, or None when the model has no anatomy check. Left out
            when the input check found the lung fields implausible (none, small patches, one above the
            other, too small or large, unbalanced: `no_lung_fields`, out of scope already): the anatomy is
            measured on those fields, so it would describe lungs the check has just said are not there.
    """
    findings = list(check.findings)
    no_lungs = any(finding.kind == "no_lung_fields" for finding in findings)
    if novelty is not None and novelty.finding is not None and not no_lungs:
        findings.append(novelty.finding)
    if uncertainty is not None:
        findings.extend(uncertainty.findings)
    return Triage(status_of(findings), findings, None if novelty is None else float(novelty.score))


def answer_levels(scope) -> dict:
    """The answer rules' levels (`min_top_probability`, `min_agreement`, `max_copies_below` of `uncertainty_of` and
    `tta_uncertainty`): the model's own from its scope check (`model.trust.scope.Scope`), {} (the defaults) without
    one."""
    return {"min_top_probability": scope.min_top_probability, "min_agreement": scope.min_agreement,
            "max_copies_below": scope.max_copies_below} if scope else {}


def film_triage(xray, lung_mask, uncertainty, scope=None, stated=None) -> tuple:
    """The checks of one film and its triage, in the one order every reading of a film applies them (`assess`,
    and the gallery's cards with the film's own pass for `uncertainty`): the input check with its lung fields,
    the anatomy check of the model's scope check on those fields, then the answer's own figures (`triage`).

    Args:
        xray: `model.inputs.intake.Xray` (pixels and metadata).
        lung_mask: the film's lung mask, or None without a lung model (then no anatomy check).
        uncertainty: `model.trust.uncertainty.Uncertainty` of the answer, at `answer_levels(scope)`.
        scope: the model's `model.trust.scope.Scope`, or None.
        stated: `model.trust.facts.Stated`, what the reader states about a plain image (age, view).

    Returns:
        (input check, novelty or None, `Triage`).
    """
    from model.trust.input_check import input_check
    from model.trust.novelty import anatomy_features

    check = input_check(xray.pixels, xray.metadata, lung_mask, stated=stated)
    novelty = None
    if scope is not None and lung_mask is not None:
        novelty = scope.novelty.assess(anatomy_features(xray.pixels, lung_mask))
    return check, novelty, triage(check, uncertainty, novelty)


@dataclass(frozen=True)
class Assessment:
    """Everything the triage of one image rests on, computed once.

    Attributes:
        model_input: the classifier's `ModelInput` (lung region found once).
        prediction: the model's calibrated probabilities on the image itself (`uncertainty.prediction`).
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


def assess(classifier, xray, lung_mask=None, scope=None, stated=None) -> Assessment:
    """Prediction, uncertainty, input check, novelty and triage of one decoded image.

    Args:
        classifier: a `model.classifier.Classifier`.
        xray: `model.inputs.intake.Xray` (pixels and metadata).
        lung_mask: the image's lung mask when the caller has it; else the classifier's own lung
            model makes it (lung-cropped models), else there is none.
        scope: the model's `model.trust.scope.Scope`, or None.
        stated: `model.trust.facts.Stated`, what the reader states about a plain image (age, view).
    """
    from model.trust.uncertainty import tta_uncertainty

    if lung_mask is None and classifier.segmenter is not None:
        lung_mask = classifier.segmenter.mask(xray.pixels)
    model_input = classifier.prepare(xray.pixels, lung_mask)
    uncertainty = tta_uncertainty(classifier, model_input, **answer_levels(scope))
    check, novelty, result = film_triage(xray, lung_mask, uncertainty, scope, stated)
    prediction = uncertainty.prediction(classifier.labels)  # the film's own pass, as the pages show it
    return Assessment(model_input, prediction, uncertainty, check, novelty, result, lung_mask)
