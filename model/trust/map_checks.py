"""The checks of an explanation map as findings, so that they reach the status line and the report
like every other check: little of the map on the lungs, a map no more faithful than random region
orders (or only half so), a map that most other methods do not draw, an occlusion cross-check that
disagrees with it, and a method whose maps did not change when the model's weights were randomised.

    findings = map_findings(MapChecks(attention=..., faithfulness=..., agreement=..., shown="gradcam"), "Grad-CAM")
    final = triage_result.with_findings(findings)

The comparison of methods judges the map being read (`MapChecks.shown`), not the mean of every pair:
`compare_shown_map` sorts the other methods' maps into those that agree with it and those that draw
other regions, a map identical to another counted once, `comparison_sentence` says so with the figures and
`comparison_headline` heads it with the count the caution rests on ("2 of 4" other maps agree). A blank map
(`model.trust.agreement.ranks_nothing`) is compared with nothing: it is named as blank, never counted as a map
that draws other regions, and neither makes nor breaks a caution.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from model.explain import METHODS
from model.explain import method_label as label_of
from model.policy import LOW_AGREEMENT, MODERATE_AGREEMENT, MOST_METHODS_SHARE, SAME_MAP
from model.trust.agreement import NOT_MEASURED
from model.trust.faithfulness import NOT_MEASURABLE
from model.trust.findings import MAP, MAP_CAUTION, Finding

OCCLUSION = "occlusion"  # the method name of occlusion sensitivity in maps and agreements


@dataclass(frozen=True)
class MapChecks:
    """What was measured about one map (None: not measured).

    Attributes:
        attention: `model.trust.attention.LungAttention`.
        faithfulness: `model.trust.faithfulness.Faithfulness`.
        agreement: `model.trust.agreement.Agreement` of the maps computed so far.
        occlusion_similarity: rank similarity of occlusion sensitivity and `occlusion_against`'s map, in [-1, 1].
        randomised_similarity: the model's explanation report's similarity of this method's maps
            before and after randomising the weights, when the report flagged the method.
        every_method: whether `agreement` compares every explanation method's map (Diagnose's "All
            methods side by side"), not only the maps looked at so far.
        shown: the method of the map being read (its `model.explain.METHODS` name), judged against the
            others in `agreement`; None: no map named, so no comparison is judged.
        occlusion_against: the method whose map occlusion was compared with: the map shown, or Grad-CAM
            when the map shown is occlusion's own.
        occlusion_blank: the occlusion cross-check was made, but one of its two maps is blank, so it measured
            nothing (`occlusion_similarity` None): made, not passed.
    """

    attention: object = None
    faithfulness: object = None
    agreement: object = None
    occlusion_similarity: float | None = None
    randomised_similarity: float | None = None
    every_method: bool = False
    shown: str | None = None
    occlusion_against: str = "gradcam"
    occlusion_blank: bool = False

    @property
    def occlusion_made(self) -> bool:
        """Whether the occlusion cross-check was made (its similarity measured, or not measurable: a blank map)."""
        return self.occlusion_similarity is not None or self.occlusion_blank

    @property
    def faithful(self) -> bool:
        """Whether the map's faithfulness was measured and passed (both curves beat chance)."""
        return getattr(self.faithfulness, "verdict", None) == "faithful"

    @property
    def layer_maps_compared(self) -> bool:
        """Whether the map read was compared with a map taken at a layer (by the comparison of methods or the
        occlusion cross-check): that layer is then the one of the map read, or the page's when it has none."""
        methods = [*(self.agreement.methods if self.agreement is not None else ()),
                   *((self.occlusion_against,) if self.occlusion_similarity is not None else ())]
        return any(method in METHODS and METHODS[method].uses_layer for method in methods)


@dataclass(frozen=True)
class ShownMapComparison:
    """How the map being read compares with the other methods' maps of the same film and class.

    Attributes:
        shown: the method of the map being read.
        agree: ((methods, similarity), ...) of the other distinct maps (occlusion aside) at or above
            `LOW_AGREEMENT`; methods drawing one map (`SAME_MAP`) form one entry, grouped by
            `Agreement.distinct` (the all-methods summary's rule) with the map read first.
        differ: the same, below `LOW_AGREEMENT`: they draw other regions.
        same: ((method, similarity), ...) of the methods that drew the shown map itself (counted nowhere).
        occlusion: occlusion's similarity to the shown map (None: not compared, or occlusion is shown, or
            a blank map among the two).
        blank: the methods compared whose maps are blank (`model.trust.agreement.ranks_nothing`), the shown
            one first when its own is: not measured, counted nowhere (a blank map shown is compared with nothing).
    """

    shown: str
    agree: tuple = ()
    differ: tuple = ()
    same: tuple = ()
    occlusion: float | None = None
    blank: tuple = ()

    @property
    def shown_blank(self) -> bool:
        """Whether the map read is blank: no comparison of it was measured."""
        return self.shown in self.blank

    @property
    def measured(self) -> bool:
        """Whether any other map was compared with it and measured (identical maps included)."""
        return bool(self.agree or self.differ or self.same) or self.occlusion is not None

    @property
    def distinct(self) -> int:
        """How many other distinct maps were compared, occlusion counted."""
        return len(self.agree) + len(self.differ) + (self.occlusion is not None)

    @property
    def agreeing(self) -> int:
        """How many of the other distinct maps agree with it (at or above `LOW_AGREEMENT`), occlusion counted."""
        return len(self.agree) + (self.occlusion is not None and self.occlusion >= LOW_AGREEMENT)

    @property
    def most_differ(self) -> bool:
        """Whether more than `MOST_METHODS_SHARE` of the other distinct maps (occlusion counted) draw other
        regions: the rule of the methods' caution (`disagrees`) and, when occlusion is the only other map,
        exactly the occlusion cross-check's (below `LOW_AGREEMENT`)."""
        return self.distinct - self.agreeing > MOST_METHODS_SHARE * self.distinct

    @property
    def disagrees(self) -> bool:
        """Whether the shown map agrees little with most of the other distinct maps (`most_differ`); never
        for occlusion alone, which its own check says."""
        return bool(self.agree or self.differ) and self.most_differ


def maps_at_layer(seen: dict, layer: str | None) -> dict:
    """The maps of one film, model and class that the comparison of methods may set side by side at `layer`.

    Two layers' maps of one method differ (Grad-CAM and Grad-CAM++ of a COVID-19 film by cxr-mobilenet-v3: +0.74
    at one layer, +0.33 at another, +0.29 across the two), so a map taken at another layer is never compared;
    a method without a layer draws one map at every layer.

    Args:
        seen: {(method, layer): map} of the maps looked at (layer None for a method without one), oldest first.
        layer: the layer of the comparison: the map read's, or the page's when the map read has none.

    Returns:
        {method: map} of the maps taken at `layer` and of the methods without a layer, in `seen`'s order.
    """
    return {method: heat for (method, at), heat in seen.items() if at is None or at == layer}


def compare_shown_map(agreement, shown: str) -> ShownMapComparison | None:
    """The `ShownMapComparison` of the map of method `shown` in an `model.trust.agreement.Agreement`;
    None when that map is not among those compared."""
    if agreement is None or shown not in agreement.methods:
        return None
    blank = tuple(m for m in agreement.methods if m in agreement.blank and (m == shown or agreement.compared(shown, m)))
    if shown in blank:  # a blank map read is compared with nothing: it ranks no region
        return ShownMapComparison(shown, blank=(shown, *(m for m in blank if m != shown)))
    # Occlusion is judged apart (the stronger check); a pair not compared says nothing, a blank map is named apart.
    others = [m for m in agreement.methods if m not in (shown, OCCLUSION, *blank) and agreement.compared(shown, m)]
    own, *groups = agreement.distinct(SAME_MAP, [shown, *others])  # the map read first: its group is its copies
    rated = [(names, agreement.similarity(shown, names[0])) for names in groups]
    agree = tuple(entry for entry in rated if entry[1] >= LOW_AGREEMENT)
    differ = tuple(entry for entry in rated if entry[1] < LOW_AGREEMENT)
    same = tuple((method, agreement.similarity(shown, method)) for method in own[1:])
    occlusion = agreement.similarity(shown, OCCLUSION) if shown != OCCLUSION else None
    return ShownMapComparison(shown, agree, differ, same, occlusion, blank)


def similarity_text(rho: float | None, signed: bool = True) -> str:
    """A map similarity as every view prints it: two decimals, with its sign (`signed`, beside a scale that runs
    from -1 to 1; tables of similarities to random weights and between versions print none), but 0.00 for a
    value that rounds to zero (it printed "Score-CAM (-0.00)", a sign the figure shown does not have); None (a
    blank map, `model.trust.agreement.map_similarity`) is `NOT_MEASURED`, never 0.00."""
    if rho is None:
        return NOT_MEASURED
    text = f"{float(rho):+.2f}" if signed else f"{float(rho):.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def _named(entries) -> str:
    """"Grad-CAM++ and LayerCAM (one map, +0.72) and Score-CAM (+0.31)"."""
    parts = []
    for names, rho in entries:
        labels = " and ".join(label_of(m) for m in names)
        parts.append(f"{labels} ({'one map, ' if len(names) > 1 else ''}{similarity_text(rho)})")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def blank_clause(methods) -> str:
    """"Score-CAM's map is blank, so its similarity is not measured" of the blank maps of `methods` ("" when none)."""
    if not methods:
        return ""
    names = " and ".join(label_of(m) for m in methods)
    if len(methods) == 1:
        return f"{names}'s map is blank, so its similarity is not measured"
    return f"the maps of {names} are blank, so their similarities are not measured"


def comparison_sentence(comparison: ShownMapComparison, faithful: bool = False) -> str:
    """What the comparison of methods found about the map being read, with every figure: the maps that
    agree with it, those that draw other regions, those identical to it, and what occlusion (the
    stronger, gradient-free check) found. When it `disagrees`, the sentence says what to make of it:
    trust none of the maps on its own, unless occlusion agrees at least moderately and the map passed
    its faithfulness test (`faithful`), which then back the regions it marks. A blank map is named as such: a
    blank map read is compared with nothing, a blank other map is counted nowhere."""
    shown = label_of(comparison.shown)
    if comparison.shown_blank:
        return (f"{shown}'s map is blank: it ranks no region, so how far the other maps agree with it is not "
                "measured.")
    blank = blank_clause([m for m in comparison.blank if m != comparison.shown])
    weak = tuple(e for e in comparison.agree if e[1] < MODERATE_AGREEMENT)
    strong = tuple(e for e in comparison.agree if e[1] >= MODERATE_AGREEMENT)
    agrees = " and ".join(part for part in (f"with {_named(strong)}" if strong else "",
                                            f"weakly with {_named(weak)}" if weak else "") if part)
    differ = comparison.differ
    draw = "draws" if len(differ) == 1 and len(differ[0][0]) == 1 else "draw"
    others = f"{_named(differ)} {draw} other regions" if differ else ""
    if comparison.disagrees:
        whom = "the other map compared" if comparison.distinct == 1 else "most of the other methods' maps"
        head = f"{shown} agrees little with {whom}: {others}"
        head += f"; it agrees {agrees}" if agrees else ""
    else:
        head = f"{shown} agrees {agrees}" if agrees else f"{shown}: {others}"
        head += f"; {others}" if agrees and others else ""
    if comparison.same:
        names = " and ".join(label_of(m) for m, _ in comparison.same)
        figures = ", ".join(similarity_text(rho) for _, rho in comparison.same)
        head += f"; {names} {'draws' if len(comparison.same) == 1 else 'draw'} the same map ({figures}), counted once"
    if blank:
        head = f"{head}; {blank}" if comparison.agree or comparison.differ or comparison.same else f"{shown}: {blank}"
    occlusion = comparison.occlusion
    if occlusion is None:
        tail = "" if comparison.shown == OCCLUSION or OCCLUSION in comparison.blank \
            else " (occlusion, the stronger, gradient-free check, was not compared)"
        sentence = f"{head}{tail}."
    elif occlusion >= MODERATE_AGREEMENT:
        sentence = f"{head}. Occlusion, the stronger, gradient-free check, agrees ({similarity_text(occlusion)})"
        sentence += (" and the map passed its faithfulness test: those two checks back the regions it marks, "
                     "though other methods mark others." if comparison.disagrees and faithful else ".")
    else:
        word = "agrees weakly" if occlusion >= LOW_AGREEMENT else "draws other regions"
        sentence = f"{head}. Occlusion, the stronger, gradient-free check, {word} ({similarity_text(occlusion)})."
        if occlusion < LOW_AGREEMENT and not comparison.disagrees:  # the occlusion cross-check's advice, kept
            sentence += f" Trust neither {shown}'s map nor occlusion's on its own."
    if comparison.disagrees and not (occlusion is not None and occlusion >= MODERATE_AGREEMENT):
        sentence += " Trust none of these maps on its own."
    return sentence


def comparison_headline(comparison: ShownMapComparison) -> tuple[str, str, str]:
    """(label, figure, words) of the comparison as a headline: ("Other maps agreeing with Grad-CAM", "2 of 4",
    "half agree"). The figure counts what the caution counts (the other distinct maps, occlusion among them)
    and the words follow its rule (`most_differ`): they never read as agreement where the map is cautioned,
    nor as disagreement where it is not. With no other distinct map (only maps identical to it) the words
    name those maps."""
    label = f"Other maps agreeing with {label_of(comparison.shown)}"
    agreeing, distinct = comparison.agreeing, comparison.distinct
    if comparison.shown_blank or (distinct == 0 and not comparison.same):  # blank maps: nothing measured
        return label, "not measured", "a blank map" if len(comparison.blank) == 1 else "blank maps"
    if distinct == 0:
        names = " and ".join(label_of(m) for m, _ in comparison.same) or "no other map"
        return label, "none to compare", f"{names} {'draws' if len(comparison.same) == 1 else 'draw'} the same map"
    if comparison.most_differ:
        words = "draws other regions" if distinct == 1 else "none agree" if agreeing == 0 else "most draw other regions"
    elif agreeing == distinct:
        words = "agrees" if distinct == 1 else "all agree"
    else:
        words = "most agree" if 2 * agreeing > distinct else "half agree" if 2 * agreeing == distinct \
            else "fewer than half agree"
    return label, f"{agreeing} of {distinct}", words


def names_occlusion_figure(comparison, checks) -> bool:
    """Whether the comparison of methods (`model.trust.map_checks.ShownMapComparison`) gives the occlusion
    cross-check's figure itself: occlusion's similarity to the map read, or, when occlusion's own map is read,
    the similarity of the map it was cross-checked with (named first in its entry, so with its own figure); or
    names that map as blank (a blank map read names nothing but itself)."""
    named_blank = checks.occlusion_against in comparison.blank if comparison.shown == OCCLUSION \
        else OCCLUSION in comparison.blank
    if comparison.shown_blank:
        return False
    if comparison.shown == OCCLUSION:
        return named_blank or any(names[0] == checks.occlusion_against
                                  for names, _ in (*comparison.agree, *comparison.differ)) \
            or any(method == checks.occlusion_against for method, _ in comparison.same)
    return (comparison.occlusion is not None or named_blank) and checks.occlusion_against == checks.shown


def _occlusion_pair(comparison: ShownMapComparison, checks: MapChecks) -> bool:
    """Whether the comparison is only the occlusion cross-check's own pair (occlusion's map shown beside the
    one map it was compared with): that check says it, once."""
    others = [names for names, _ in (*comparison.agree, *comparison.differ)]
    return comparison.shown == OCCLUSION and others == [(checks.occlusion_against,)]


def shown_comparison(checks: MapChecks) -> ShownMapComparison | None:
    """The comparison of `checks.shown` with the other maps compared; occlusion's figure is the occlusion
    cross-check's when it was made against the shown map (the same maps, so the same figure)."""
    comparison = compare_shown_map(checks.agreement, checks.shown) if checks.shown else None
    if comparison is not None and comparison.occlusion is None and checks.occlusion_similarity is not None \
            and checks.occlusion_against == checks.shown and checks.shown != OCCLUSION:
        comparison = replace(comparison, occlusion=checks.occlusion_similarity)  # keeps every other field (blank)
    return comparison


def map_findings(checks: MapChecks, method_label: str = "map") -> list[Finding]:
    """A `Finding` of severity "map_caution" per map check that fired."""
    found = []
    attention = checks.attention
    if attention is not None and attention.low:
        found.append(Finding("lung_attention_low", MAP_CAUTION, MAP, attention.warning,
                             {"fraction": attention.fraction, "threshold": attention.threshold,
                              "elsewhere": attention.elsewhere}))
    faith = checks.faithfulness
    # a map that cannot be measured on this film (see `faithfulness.NOT_MEASURABLE`) raises no caution: no evidence
    if faith is not None and faith.verdict not in ("faithful", NOT_MEASURABLE):
        kind = "faithfulness_mixed" if faith.verdict == "mixed" else "faithfulness_poor"
        values = {"deletion": faith.deletion_auc, "random_deletion": faith.random_deletion_auc,
                  "insertion": faith.insertion_auc, "random_insertion": faith.random_insertion_auc}
        if kind == "faithfulness_poor":  # its short name follows the sign its summary says
            values["ranks"] = "worse than random" if faith.worse_than_random else "no better than random"
        found.append(Finding(kind, MAP_CAUTION, MAP, faith.summary, values))
    occlusion_disagrees = checks.occlusion_similarity is not None and checks.occlusion_similarity < LOW_AGREEMENT
    comparison = shown_comparison(checks)
    if comparison is not None and comparison.disagrees and not (occlusion_disagrees and _occlusion_pair(comparison, checks)):
        found.append(Finding("methods_disagree", MAP_CAUTION, MAP, comparison_sentence(comparison, checks.faithful),
                             {"similarity": {label_of(m): rho for names, rho in comparison.differ for m in names},
                              "limit": LOW_AGREEMENT, "occlusion": comparison.occlusion,
                              "differ": ("the other map compared draws" if comparison.distinct == 1
                                         else "most other methods draw"),
                              "methods": checks.agreement.methods}))
    # With occlusion's own map shown, a comparison that cautions and gives the cross-check's own figure (the map
    # occlusion was checked with) says that pair already; otherwise the cross-check cautions on its own.
    said = comparison is not None and comparison.shown == OCCLUSION and comparison.disagrees \
        and not _occlusion_pair(comparison, checks) and names_occlusion_figure(comparison, checks)
    if occlusion_disagrees and not said:
        against = label_of(checks.occlusion_against)
        found.append(Finding("occlusion_disagrees", MAP_CAUTION, MAP,
                             f"Hiding regions of the film (occlusion) points elsewhere than {against} (similarity "
                             f"{similarity_text(checks.occlusion_similarity)}, below {LOW_AGREEMENT:+.2f}): trust neither map "
                             "on its own.", {"similarity": checks.occlusion_similarity, "limit": LOW_AGREEMENT,
                                             "against": against}))
    if checks.randomised_similarity is not None:
        found.append(Finding("randomisation_flagged", MAP_CAUTION, MAP,
                             f"{method_label} maps of this model stayed similar (similarity "
                             f"{checks.randomised_similarity:.2f}) when its weights were randomised: they may show "
                             "the image's structure more than the model's reasoning.",
                             {"similarity": checks.randomised_similarity}))
    return found
