"""What a check found, as data: the kind of finding, how much it weighs, where it came from, its
numbers and one plain sentence.

Every check of one film (the DICOM header's facts, what the reader stated, the input check, the
anatomy check, the model's probability and its stability, and the map checks computed later)
reports `Finding`s. The triage weighs them (`model.trust.triage`), and the pages, the report and
the CLI format them from their fields: a page never takes a sentence apart to learn what it says.

    Finding("child", OUT_OF_SCOPE, HEADER, "The DICOM header gives the patient's age as 6 years ...",
            {"age_years": 6})
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Severities, strongest first. OUT_OF_SCOPE holds the answer back; UNCERTAIN shows it with a second
# read advised; ANSWER_CAUTION leaves it an answer (the validated rules did not fire) but names a reason to
# read it with care; MAP_CAUTION concerns the explanation map, not the answer; ASSUMPTION says what the
# answer takes for granted (an adult, a frontal film) when nobody said so.
OUT_OF_SCOPE, UNCERTAIN, ANSWER_CAUTION = "out_of_scope", "uncertain", "answer_caution"
MAP_CAUTION, ASSUMPTION = "map_caution", "assumption"
SEVERITIES = (OUT_OF_SCOPE, UNCERTAIN, ANSWER_CAUTION, MAP_CAUTION, ASSUMPTION)

# Where a finding comes from.
HEADER, READER, IMAGE, MODEL, MAP = "header", "reader", "image", "model", "map"
SOURCES = (HEADER, READER, IMAGE, MODEL, MAP)

# Every kind of finding, with the group it belongs to: what the film is ("scope"), how sure the model
# is ("answer") or how far to trust the map ("map").
KINDS = {
    # scope: facts about the patient and the film
    "child": "scope", "lateral_view": "scope", "not_radiograph": "scope", "not_chest": "scope",
    "age_not_known": "scope", "view_not_known": "scope",
    # scope: what the image itself shows
    "colour": "scope", "no_contrast": "scope", "odd_shape": "scope", "no_lung_fields": "scope",
    "anatomy_out_of_scope": "scope", "anatomy_unusual": "scope",
    # answer: the model's own figures
    "low_probability": "answer", "copies_disagree": "answer", "copies_below_level": "answer",
    "many_copies_below": "answer",
    # map: checks of the explanation
    "lung_attention_low": "map", "faithfulness_mixed": "map", "faithfulness_poor": "map",
    "methods_disagree": "map", "occlusion_disagrees": "map", "randomisation_flagged": "map",
}


@dataclass(frozen=True)
class Finding:
    """One thing a check found about one film.

    Attributes:
        kind: one of `KINDS` ("child", "low_probability", "methods_disagree", ...).
        severity: one of `SEVERITIES`.
        source: one of `SOURCES`: the DICOM header, the reader, the image, the model, the map.
        sentence: one plain sentence for a reader (the CLI and the report print it whole).
        values: the numbers behind it ({"age_years": 6}, {"probability": 0.47, "threshold": 0.6}).
    """

    kind: str
    severity: str
    source: str
    sentence: str
    values: dict = field(default_factory=dict, compare=True)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")

    @property
    def group(self) -> str:
        """"scope", "answer" or "map"."""
        return KINDS[self.kind]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "severity": self.severity, "source": self.source, "sentence": self.sentence,
                "values": dict(self.values)}

    @classmethod
    def from_dict(cls, values: dict) -> "Finding":
        return cls(values["kind"], values["severity"], values["source"], values["sentence"],
                   dict(values.get("values") or {}))


def of_severity(findings, *severities: str) -> list[Finding]:
    """The findings of the given severities, in their order."""
    return [f for f in findings if f.severity in severities]
