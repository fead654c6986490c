"""The map checks that were made, one line each, as Diagnose shows them: for the report, which prints
what was measured beside the cautions (a faithfulness test passed is a result too).

    lines = report_check_lines(checks, final.findings)
    # (("Faithfulness", "The map ranks ...", ()), ("Every method compared", caution's sentence, (it,)), ...)

Each line is built from the values the page shows (the faithfulness summary, the occlusion similarity and
its words, the comparison of the map read with the other methods); a check that raised a caution is
said by that caution's own sentence, so the report prints it once. Each figure is said once: when the
comparison of methods gives the occlusion cross-check's figure (occlusion against the map read, or, with
occlusion's map read, the map it was checked with), the occlusion cross-check has no line of its own, and
its caution (if it raised one) is said by the comparison's line.
"""
from __future__ import annotations

from model.explain import method_label
from model.present.layers import member_layer_note
from model.present.method_grid import agreement_word
from model.trust.agreement import BLANK_REASON, NOT_MEASURED
from model.trust.map_checks import comparison_sentence, names_occlusion_figure, shown_comparison, similarity_text

# The checks' names, as the page heads them.
CHECK_TITLES = {"faithfulness": "Faithfulness", "occlusion": "Occlusion cross-check",
                "every_method": "Every method compared", "some_methods": "Methods compared so far"}
# The findings that say a check's result when it raised a caution (`model.trust.map_checks.map_findings`).
CAUTION_KINDS = {"faithfulness": ("faithfulness_mixed", "faithfulness_poor"), "occlusion": ("occlusion_disagrees",),
                 "methods": ("methods_disagree",)}


def map_note(explanation, layer_label: str, checks, member: int | None = None) -> str:
    """The report's line on what the map (`model.explain.base.Explanation`) explains and the layer of the maps
    compared: the map's own (`layer_label`), or, for a map without a layer compared with maps taken at one (the
    comparison uses one layer, `model.trust.map_checks.maps_at_layer`), theirs. `member`: the network of an
    ensemble the layer belongs to (None: the whole model's), said as the page says it (`member_layer_note`)."""
    if explanation.layer:
        line = f"The map explains the class {explanation.label} at the layer {layer_label}."
        return line if member is None else f"{line} {member_layer_note(member)}"
    if checks.layer_maps_compared:
        return (f"The map explains the class {explanation.label}; the maps it was compared with were taken at the "
                f"layer {layer_label}, where their method uses one.")
    return f"The map explains the class {explanation.label}."


def similarity_figure(similarity: float | None) -> tuple[str, str]:
    """(figure, words) of a map similarity as a panel heads it: ("+0.65", "moderate agreement"), or ("not
    measured", "a blank map") when one of the two maps is blank (`similarity` None: `map_similarity`)."""
    if similarity is None:
        return "not measured", BLANK_REASON
    return similarity_text(similarity), agreement_word(similarity)


def occlusion_line(similarity: float | None, against: str) -> str:
    """The occlusion cross-check as its panel shows it: "Similarity to Grad-CAM++: +0.65 (moderate agreement).";
    "Similarity to Grad-CAM: not measured: a blank map." when one of the two maps is blank (`similarity` None)."""
    if similarity is None:
        return f"Similarity to {method_label(against)}: {NOT_MEASURED}."
    figure, words = similarity_figure(similarity)
    return f"Similarity to {method_label(against)}: {figure} ({words})."


def report_check_lines(checks, findings=()) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """((title, sentence, cautions said), ...) of the map checks made (`model.trust.map_checks.MapChecks`), in
    the page's order: faithfulness, the occlusion cross-check, the comparison of methods. A check that raised
    one of `findings` is said by that finding's sentence; `cautions said` are the sentences of the findings a
    line says: its own, and the occlusion cross-check's when the comparison's line gives occlusion's figure in
    its stead. The report prints each of those cautions once, as that line, in the caution's colour."""
    said = {f.kind: f.sentence for f in findings}

    def caution(check: str) -> str | None:
        return next((said[kind] for kind in CAUTION_KINDS[check] if kind in said), None)

    lines = []
    faith = checks.faithfulness
    if faith is not None:
        lines.append((CHECK_TITLES["faithfulness"], caution("faithfulness") or faith.summary,
                      tuple(filter(None, [caution("faithfulness")]))))
    comparison = shown_comparison(checks)
    compared = comparison is not None and bool(comparison.agree or comparison.differ or comparison.blank)
    # Said once: the comparison of methods gives the cross-check's figure (the same two maps).
    in_comparison = compared and names_occlusion_figure(comparison, checks)
    if checks.occlusion_made and not in_comparison:
        lines.append((CHECK_TITLES["occlusion"], caution("occlusion")
                      or occlusion_line(checks.occlusion_similarity, checks.occlusion_against),
                      tuple(filter(None, [caution("occlusion")]))))
    if compared:
        title = CHECK_TITLES["every_method" if checks.every_method else "some_methods"]
        cautions = [caution("methods"), caution("occlusion") if in_comparison else None]
        lines.append((title, caution("methods") or comparison_sentence(comparison, checks.faithful),
                      tuple(filter(None, cautions))))
    return tuple(lines)
