"""Scope facts: the patient's age and the film's view, modality and body part, from the DICOM header
or, for a plain image, from what the reader states; a child, a lateral view, another modality or
another body part puts the film outside what the models were made for.

    facts = scope_facts(xray.metadata, Stated(age_years=8))       # the header wins where it speaks
    fact_findings(facts)   # [Finding("child", "out_of_scope", "reader", ...)]

Unstated facts are "not known": the answer is then given under an assumption (an adult, a frontal
film), which the findings say. Only these facts are used: nothing else of a header is read.
"""
from __future__ import annotations

from dataclasses import dataclass

from model.inputs.intake import AGE_NOT_IN_FORM, AGE_PLACEHOLDER, BIRTH_AFTER_STUDY, DATES_BEYOND_AGE
from model.policy import ADULT_AGE, CHEST_PARTS, FRONTAL_VIEWS, LATERAL_VIEWS, MAX_AGE, RADIOGRAPH_MODALITIES
from model.trust.findings import ASSUMPTION, HEADER, OUT_OF_SCOPE, READER, Finding

FRONTAL, LATERAL = "frontal", "lateral"
# Why a header that has an age gives none (`model.inputs.intake.patient_age_problem`), in the reader's words: what
# to check in the header. One wording for the CLI, Diagnose, Compare and the report.
AGE_PROBLEMS = {
    AGE_NOT_IN_FORM: "the DICOM header gives an age that is not in DICOM's form, such as 045Y, so it could not be read",
    AGE_PLACEHOLDER: f"the DICOM header gives the age as 999 (a placeholder some systems write) or over {MAX_AGE} "
                     "years, not an age",
    BIRTH_AFTER_STUDY: "the DICOM header gives a birth date after the study's date, so the age could not be worked out",
    DATES_BEYOND_AGE: f"the DICOM header's birth and study dates give an age over {MAX_AGE} years, not an age",
}


def view_of(code: str | None) -> str | None:
    """"frontal", "lateral" or None (unknown) for a view code: a DICOM ViewPosition ("PA", "AP", "LL")
    or a word a reader types ("frontal", "lateral")."""
    code = (code or "").strip().upper()
    if code in FRONTAL_VIEWS or code == FRONTAL.upper():
        return FRONTAL
    if code in LATERAL_VIEWS:
        return LATERAL
    return None


@dataclass(frozen=True)
class Stated:
    """What the reader states about the patient and the film (None: not stated).

    Attributes:
        age_years: the patient's age in whole years.
        view: a view code or word ("PA", "AP", "frontal", "LL", "lateral").
    """

    age_years: int | None = None
    view: str | None = None

    def __post_init__(self):
        if self.age_years is not None and (isinstance(self.age_years, bool) or not 0 <= self.age_years <= MAX_AGE):
            raise ValueError(f"age_years must be a whole number of years from 0 to {MAX_AGE}, got {self.age_years!r}")
        if self.view is not None and view_of(self.view) is None:
            raise ValueError(f"view must be PA, AP, frontal, LL or lateral, got {self.view!r}")


@dataclass(frozen=True)
class ScopeFacts:
    """The facts the scope rests on and where each came from ("header", "reader" or None: not known).

    Attributes:
        age_years, age_source: the patient's age in whole years.
        view, view_code, view_source: "frontal" or "lateral", the code it was read from.
        modality, body_part: DICOM codes (None for a plain image).
    """

    age_years: int | None = None
    age_source: str | None = None
    age_problem: str | None = None  # why the DICOM header's age could not be used (`AGE_PROBLEMS`' keys)
    view: str | None = None
    view_code: str | None = None
    view_source: str | None = None
    modality: str | None = None
    body_part: str | None = None

    @property
    def child(self) -> bool:
        return self.age_years is not None and self.age_years < ADULT_AGE


def scope_facts(metadata: dict | None, stated: Stated | None = None) -> ScopeFacts:
    """The header's facts (`Xray.metadata` as `model.inputs.intake` records them), completed by what
    the reader stated where the header is silent."""
    metadata, stated = metadata or {}, stated or Stated()
    age, age_source = metadata.get("patient_age_years"), HEADER
    if age is None and stated.age_years is not None:
        age, age_source = stated.age_years, READER
    code, view_source = metadata.get("view_position"), HEADER
    if view_of(code) is None and stated.view is not None:
        code, view_source = stated.view, READER
    view = view_of(code)
    return ScopeFacts(age_years=None if age is None else int(age), age_source=age_source if age is not None else None,
                      age_problem=metadata.get("patient_age_problem") if age is None else None,
                      view=view, view_code=code if view else None, view_source=view_source if view else None,
                      modality=metadata.get("modality"), body_part=metadata.get("body_part_examined"))


def age_words(years: int) -> str:
    """An age as a person says it: "under 1 year" (a header's "006M" gives 0 whole years), "1 year", "45 years"."""
    return "under 1 year" if years == 0 else f"{years} year{'s' if years != 1 else ''}"


def _where(source: str) -> str:
    return "The DICOM header gives" if source == HEADER else "The reader gives"


def fact_findings(facts: ScopeFacts) -> list[Finding]:
    """A finding per fact that puts the film out of scope, and one per assumption the answer rests on."""
    found = []
    if facts.modality and facts.modality.upper() not in RADIOGRAPH_MODALITIES:
        found.append(Finding("not_radiograph", OUT_OF_SCOPE, HEADER,
                             f"The DICOM header gives the modality {facts.modality}, not a plain radiograph "
                             "(CR or DX).", {"modality": facts.modality}))
    if facts.body_part and facts.body_part.upper() not in CHEST_PARTS:
        found.append(Finding("not_chest", OUT_OF_SCOPE, HEADER,
                             f"The DICOM header gives the body part {facts.body_part}, not the chest.",
                             {"body_part": facts.body_part}))
    if facts.view == LATERAL:
        found.append(Finding("lateral_view", OUT_OF_SCOPE, facts.view_source,
                             (f"The DICOM header gives the view {facts.view_code}, a lateral film"
                              if facts.view_source == HEADER else "The reader gives the view as lateral")
                             + "; the model reads frontal (PA or AP) chest X-rays.", {"view": facts.view_code}))
    if facts.child:
        found.append(Finding("child", OUT_OF_SCOPE, facts.age_source,
                             f"{_where(facts.age_source)} the patient's age as {age_words(facts.age_years)}: "
                             "the model was made for adults "
                             f"({ADULT_AGE} or older) and not validated for children.",
                             {"age_years": facts.age_years}))
    if facts.age_years is None:
        problem = AGE_PROBLEMS.get(facts.age_problem)  # a header that has an age but none that can be used
        found.append(Finding("age_not_known", ASSUMPTION, HEADER if problem else READER,
                             f"Age not known{f' ({problem})' if problem else ''}: answered as for an adult (state the "
                             "age if the patient is a child).", {"problem": facts.age_problem} if problem else {}))
    if facts.view is None:
        found.append(Finding("view_not_known", ASSUMPTION, READER,
                             "View not known: read as a frontal (PA or AP) film.", {}))
    return found
