"""The checks of an explanation map as findings, so that they reach the status line and the report
like every other check: little of the map on the lungs, a map no more faithful than random region
orders (or only half so), methods that disagree, an occlusion cross-check that disagrees, and a
method whose maps did not change when the model's weights were randomised.

    findings = map_findings(MapChecks(attention=..., faithfulness=..., agreement=...), "Grad-CAM")
    final = triage_result.with_findings(findings)
"""
from __future__ import annotations

from dataclasses import dataclass

from model.explain import method_label as label_of
from model.policy import LOW_AGREEMENT
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
        occlusion_similarity: rank similarity of Grad-CAM and occlusion sensitivity, in [-1, 1].
        randomised_similarity: the model's explanation report's similarity of this method's maps
            before and after randomising the weights, when the report flagged the method.
        every_method: whether `agreement` compares every explanation method's map (Diagnose's "All
            methods side by side"), not only the maps looked at so far.
    """

    attention: object = None
    faithfulness: object = None
    agreement: object = None
    occlusion_similarity: float | None = None
    randomised_similarity: float | None = None
    every_method: bool = False


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
        found.append(Finding(kind, MAP_CAUTION, MAP, faith.summary,
                             {"deletion": faith.deletion_auc, "random_deletion": faith.random_deletion_auc,
                              "insertion": faith.insertion_auc, "random_insertion": faith.random_insertion_auc}))
    occlusion_disagrees = checks.occlusion_similarity is not None and checks.occlusion_similarity < LOW_AGREEMENT
    agreement = checks.agreement
    # One map against occlusion alone is the occlusion check's pair: said once, by that check.
    same_pair = agreement is not None and occlusion_disagrees and len(agreement.methods) == 2 \
        and OCCLUSION in agreement.methods
    if agreement is not None and agreement.mean < LOW_AGREEMENT and not same_pair:
        names = ", ".join(label_of(m) for m in agreement.methods)
        found.append(Finding("methods_disagree", MAP_CAUTION, MAP,
                             f"The explanation methods compared so far ({names}) agree little (mean similarity of their "
                             f"maps {agreement.mean:+.2f}, below {LOW_AGREEMENT:+.2f}): trust none of the maps "
                             "on its own.", {"similarity": agreement.mean, "limit": LOW_AGREEMENT,
                                             "methods": agreement.methods}))
    if occlusion_disagrees:
        found.append(Finding("occlusion_disagrees", MAP_CAUTION, MAP,
                             f"Hiding regions of the film (occlusion) points elsewhere than Grad-CAM (similarity "
                             f"{checks.occlusion_similarity:+.2f}, below {LOW_AGREEMENT:+.2f}): trust neither map "
                             "on its own.", {"similarity": checks.occlusion_similarity, "limit": LOW_AGREEMENT}))
    if checks.randomised_similarity is not None:
        found.append(Finding("randomisation_flagged", MAP_CAUTION, MAP,
                             f"{method_label} maps of this model stayed similar (similarity "
                             f"{checks.randomised_similarity:.2f}) when its weights were randomised: they may show "
                             "the image's structure more than the model's reasoning.",
                             {"similarity": checks.randomised_similarity}))
    return found
