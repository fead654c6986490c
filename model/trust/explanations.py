"""The per-model explanation report (`explanations.json`) as typed data.

`training.explanation_report` measures it; the pages read it through `ExplanationReport.from_dict`,
which accepts reports written by earlier versions (fields they lack are None or empty), so a page
never walks nested dicts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from model.trust.agreement import Agreement


def _number(value) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class ClassAttention:
    """Lung attention of the images predicted as one class."""

    mean: float | None
    n: int
    low_share: float | None


@dataclass(frozen=True)
class LungSummary:
    """Mean share of the maps inside the lung fields, overall and per predicted class.

    `overall` is None when no lung segmentation model was available (`note` says so).
    """

    method: str | None = None
    segmenter: str | None = None
    overall: float | None = None
    low_share: float | None = None
    threshold: float = 0.5
    per_class: dict[str, ClassAttention] = field(default_factory=dict)
    implausible_masks: int = 0
    note: str = ""

    @classmethod
    def from_dict(cls, values: dict | None) -> "LungSummary":
        values = values or {}
        per_class = {label: ClassAttention(_number(v.get("mean")), int(v.get("n") or 0), _number(v.get("low_share")))
                     for label, v in (values.get("per_class") or {}).items()}
        return cls(values.get("method"), values.get("segmenter"), _number(values.get("overall")),
                   _number(values.get("low_share")), float(values.get("threshold", 0.5)), per_class,
                   int(values.get("implausible_masks") or 0), values.get("note") or "")


@dataclass(frozen=True)
class LungGroup:
    """The lung attention of one group of a report's images as Performance shows it: `mean` share of the map on
    the lungs, and `below`, the share of the group's images whose map lies below a warning level (None when the
    report keeps no per-image shares or the group is empty)."""

    name: str
    mean: float | None
    n: int
    below: float | None


def lung_groups(lungs: LungSummary, per_image: list[dict], level: float) -> list[LungGroup]:
    """All images, then the images of each predicted class: mean share on the lungs (`lungs`) and the share below
    `level`, the model's lung-attention warning level, counted from each image's `lung_fraction` (`per_image`),
    as the figure Diagnose would warn at; a report line is no such level."""
    def below(label: str | None) -> float | None:
        shares = [row["lung_fraction"] for row in per_image if row.get("lung_fraction") is not None
                  and (label is None or row.get("predicted") == label)]
        return sum(share < level for share in shares) / len(shares) if shares else None

    groups = [LungGroup("All images", lungs.overall, sum(v.n for v in lungs.per_class.values()), below(None))]
    return groups + [LungGroup(f"Predicted {label}", v.mean, v.n, below(label)) for label, v in lungs.per_class.items()]


@dataclass(frozen=True)
class MethodFaithfulness:
    """Mean deletion and insertion AUC of one method, and how often both beat random orders.

    `random_deletion_auc`, `random_insertion_auc`: the method's own chance level, random maps on its
    own grid of `grid` cells per side (reports before these fields used one chance level for all
    methods: the summary's).
    """

    deletion_auc: float | None
    insertion_auc: float | None
    better_than_random_share: float | None = None
    better_than_random: bool = False
    random_deletion_auc: float | None = None
    random_insertion_auc: float | None = None
    grid: int | None = None


@dataclass(frozen=True)
class FaithfulnessSummary:
    """Deletion/insertion per method against the mean of random block orders (each method's own
    when the report has them, see `chance`; else the summary's `random_*`, the Grad-CAM grain's)."""

    random_deletion_auc: float | None = None
    random_insertion_auc: float | None = None
    steps: int | None = None
    random_repeats: int | None = None
    baseline: str = "blur"
    methods: dict[str, MethodFaithfulness] = field(default_factory=dict)
    measured: int | None = None  # films judged (None: a report made before films were sorted out)
    not_measurable: int = 0      # films where hiding everything hardly lowers the class: no map can be judged
    min_evidence: float | None = None  # the report's rule for that (None: a report made before it was stored)

    def judged_sentence(self) -> str | None:
        """Which films the figures come from, when some could not be judged (as Diagnose says of them)."""
        if self.measured is None or not self.not_measurable:
            return None
        from model.trust.faithfulness import MIN_EVIDENCE

        total = self.measured + self.not_measurable
        rule = MIN_EVIDENCE if self.min_evidence is None else self.min_evidence
        return (f"Judged on {self.measured} of {total} films: on the other {self.not_measurable}, hiding the whole "
                f"film lowers the explained class's probability by less than {rule * 100:.0f} points, so "
                "hiding regions cannot show what any map adds (Diagnose calls such a film's map \"not measurable\").")

    def chance(self, method: str, curve: str) -> float | None:
        """The chance level a method's `curve` ("deletion" or "insertion") AUC is judged against."""
        own = getattr(self.methods.get(method), f"random_{curve}_auc", None)
        return own if own is not None else getattr(self, f"random_{curve}_auc")

    def beats_random(self, method: str, curve: str) -> bool | None:
        """Whether a method's mean deletion (lower) or insertion (higher) AUC beats random orders by more
        than `model.trust.faithfulness.CHANCE_MARGIN`."""
        from model.trust.faithfulness import beats_chance

        values = self.methods.get(method)
        mine = getattr(values, f"{curve}_auc", None) if values else None
        chance = self.chance(method, curve)
        if mine is None or chance is None:
            return None
        return beats_chance(mine, chance, curve)

    def verdict(self, method: str) -> str:
        """"faithful", "mixed" or "not better than random": deletion and insertion each against chance;
        "not measurable" when no film of the report could be judged."""
        from model.trust.faithfulness import NOT_MEASURABLE, faithfulness_verdict

        if self.measured == 0:  # no film could be judged: the means are empty, not "worse than random"
            return NOT_MEASURABLE
        return faithfulness_verdict(bool(self.beats_random(method, "deletion")), bool(self.beats_random(method, "insertion")))

    @classmethod
    def from_dict(cls, values: dict | None) -> "FaithfulnessSummary":
        values = values or {}
        chance = values.get("random") or {}
        methods = {name: MethodFaithfulness(_number(v.get("deletion_auc")), _number(v.get("insertion_auc")),
                                            _number(v.get("better_than_random_share")),
                                            bool(v.get("better_than_random")), _number(v.get("random_deletion_auc")),
                                            _number(v.get("random_insertion_auc")),
                                            int(v["grid"]) if v.get("grid") is not None else None)
                   for name, v in (values.get("methods") or {}).items()}
        return cls(_number(chance.get("deletion_auc")), _number(chance.get("insertion_auc")), values.get("steps"),
                   values.get("random_repeats"), values.get("baseline") or "blur", methods,
                   int(values["measured"]) if values.get("measured") is not None else None,
                   int(values.get("not_measurable") or 0), _number(values.get("min_evidence")))


@dataclass(frozen=True)
class SanityMethod:
    """Similarity of one method's maps between the trained and a randomised model."""

    spearman: float | None
    ssim: float | None
    n: int
    flagged: bool
    blank: int | None = None  # images with a blank trained or randomised map: no similarity (None: older reports)
    inconclusive: bool = False  # blank on most images: the similarity says nothing about the method


@dataclass(frozen=True)
class SanitySummary:
    """The model-parameter randomisation check (Adebayo et al. 2018) per method."""

    methods: dict[str, SanityMethod] = field(default_factory=dict)
    threshold: float = 0.5
    seed: int = 0
    n: int = 0

    @classmethod
    def from_dict(cls, values: dict | None) -> "SanitySummary | None":
        if not values:
            return None
        methods = {name: SanityMethod(_number(v.get("spearman")), _number(v.get("ssim")), int(v.get("n") or 0),
                                      bool(v.get("flagged")),
                                      None if v.get("blank") is None else int(v["blank"]), bool(v.get("inconclusive")))
                   for name, v in (values.get("methods") or {}).items()}
        return cls(methods, float(values.get("threshold", 0.5)), int(values.get("seed") or 0), int(values.get("n") or 0))


@dataclass(frozen=True)
class ExplanationReport:
    """One model's explanation report: what `explanations.json` holds."""

    model: str
    version: str | None = None
    date: str | None = None
    n: int = 0
    skipped: int = 0
    methods: list[str] = field(default_factory=list)
    seed: int = 0
    split: str = "test"
    data: str | None = None
    lung_attention: LungSummary = field(default_factory=LungSummary)
    faithfulness: FaithfulnessSummary = field(default_factory=FaithfulnessSummary)
    method_agreement: Agreement | None = None
    # {"a vs b": images}: the images whose pair was not measured (a blank map), left out of `method_agreement`'s mean
    agreement_not_measured: dict = field(default_factory=dict)
    sanity_check: SanitySummary | None = None
    per_image: list[dict] = field(default_factory=list)
    timing: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict) -> "ExplanationReport":
        agreement = values.get("method_agreement")
        return cls(model=values.get("model", ""), version=values.get("version"), date=values.get("date"),
                   n=int(values.get("n") or 0), skipped=int(values.get("skipped") or 0),
                   methods=list(values.get("methods") or []), seed=int(values.get("seed") or 0),
                   split=values.get("split") or "test", data=values.get("data"),
                   lung_attention=LungSummary.from_dict(values.get("lung_attention")),
                   faithfulness=FaithfulnessSummary.from_dict(values.get("faithfulness")),
                   method_agreement=Agreement.from_dict(agreement) if agreement else None,
                   agreement_not_measured={pair: int(n) for pair, n in ((agreement or {}).get("not_measured")
                                                                        or {}).items()},
                   sanity_check=SanitySummary.from_dict(values.get("sanity_check")),
                   per_image=list(values.get("per_image") or []), timing=dict(values.get("timing") or {}))

    def to_dict(self) -> dict:
        """The JSON layout of `explanations.json` (the one `from_dict` reads)."""
        lungs = asdict(self.lung_attention)
        faith = self.faithfulness
        return {
            "model": self.model, "version": self.version, "date": self.date, "n": self.n, "skipped": self.skipped,
            "methods": list(self.methods), "seed": self.seed, "split": self.split, "data": self.data,
            "lung_attention": lungs,
            "faithfulness": {"random": {"deletion_auc": faith.random_deletion_auc,
                                        "insertion_auc": faith.random_insertion_auc},
                             "steps": faith.steps, "random_repeats": faith.random_repeats, "baseline": faith.baseline,
                             "methods": {name: asdict(m) for name, m in faith.methods.items()},
                             **({"measured": faith.measured, "not_measurable": faith.not_measurable}
                                if faith.measured is not None else {}),
                             **({"min_evidence": faith.min_evidence} if faith.min_evidence is not None else {})},
            "method_agreement": ({**self.method_agreement.to_dict(),
                                  **({"not_measured": dict(self.agreement_not_measured)}
                                     if self.agreement_not_measured else {})}
                                 if self.method_agreement else None),
            "sanity_check": asdict(self.sanity_check) if self.sanity_check else None,
            "per_image": list(self.per_image), "timing": dict(self.timing),
        }
