"""A blank (constant) explanation map ranks no region: its similarity to any map is not measured, never 0.00
("unrelated"), which read as a finding (another method "draws other regions", a map that "changed when the
weights were randomised") and passed or cautioned checks that nothing measured. Built on tiny constant and
ramp arrays, as the other core tests are."""
from __future__ import annotations

import json

import numpy as np
import pytest

from model.trust.agreement import NOT_MEASURED, Agreement, map_similarity, method_agreement, ranks_nothing
from model.trust.map_checks import MapChecks, compare_shown_map, comparison_headline, comparison_sentence, map_findings
from model.trust.triage import Triage

RAMP = np.tile(np.linspace(0.0, 1.0, 16), (16, 1))
BLANK = np.zeros((16, 16))


def status(checks: MapChecks) -> tuple[list[str], str]:
    """(the kinds of the map findings, the status line) of an answer with these map checks."""
    from model.present.text import checked_status

    final, line = checked_status(Triage("answer"), checks, "Grad-CAM")
    return [f.kind for f in final.findings], line


def test_a_blank_map_has_no_similarity_on_the_whole_film_or_on_the_support():
    assert ranks_nothing(BLANK) and ranks_nothing(np.full((4, 4), 0.5)) and not ranks_nothing(RAMP)
    for first, second in ((RAMP, BLANK), (BLANK, RAMP), (BLANK, BLANK), (RAMP, np.ones((8, 8)))):
        assert map_similarity(first, second) is None
        assert map_similarity(first, second, support_only=True) is None
    assert map_similarity(RAMP, RAMP ** 2) == pytest.approx(1.0)


def test_a_blank_other_map_is_named_as_blank_not_counted_as_drawing_other_regions():
    agreement = method_agreement({"gradcam": RAMP, "scorecam": BLANK})
    comparison = compare_shown_map(agreement, "gradcam")
    assert comparison.blank == ("scorecam",) and not comparison.differ and not comparison.disagrees
    assert not comparison.measured
    assert comparison_headline(comparison)[1:] == ("not measured", "a blank map")
    sentence = comparison_sentence(comparison)
    assert "Score-CAM's map is blank, so its similarity is not measured" in sentence
    assert "other regions" not in sentence and "0.00" not in sentence
    kinds, line = status(MapChecks(agreement=agreement, shown="gradcam", every_method=True))
    assert "methods_disagree" not in kinds
    # Made, but it measured nothing: never "no check found a reason to doubt it".
    assert "No check found a reason to doubt it" not in line and "the comparison of methods (a blank map" in line


def test_the_occlusion_figure_added_to_the_comparison_keeps_its_blank_maps():
    """Occlusion made against the shown map, not among the maps compared, joins the comparison: the blank map's
    name was dropped ("Grad-CAM: . Occlusion ...", "0 of 1 draws other regions")."""
    from model.trust.map_checks import shown_comparison

    checks = MapChecks(agreement=method_agreement({"gradcam": RAMP, "scorecam": BLANK}), shown="gradcam",
                       occlusion_similarity=0.10, occlusion_against="gradcam")
    comparison = shown_comparison(checks)
    assert comparison.blank == ("scorecam",) and comparison.occlusion == pytest.approx(0.10)
    sentence = comparison_sentence(comparison)
    assert "Score-CAM's map is blank" in sentence and ": ." not in sentence


def test_a_blank_map_neither_makes_nor_breaks_the_methods_caution():
    # LayerCAM agrees, SmoothGrad draws the reverse: one of two distinct maps differs, no caution. The blank
    # Score-CAM map counted as a third map "drawing other regions" made it two of three, and a caution.
    noise = np.random.default_rng(0).random(RAMP.shape)
    maps = {"gradcam": RAMP, "layercam": RAMP + noise, "smoothgrad": 1.0 - RAMP, "scorecam": BLANK}
    comparison = compare_shown_map(method_agreement(maps), "gradcam")
    assert (comparison.distinct, comparison.agreeing, comparison.blank) == (2, 1, ("scorecam",))
    assert "methods_disagree" not in status(MapChecks(agreement=method_agreement(maps), shown="gradcam"))[0]
    # Where the others themselves disagree, the caution stands, with the blank map named apart.
    differ = {"gradcam": RAMP, "smoothgrad": 1.0 - RAMP, "scorecam": BLANK}
    findings = map_findings(MapChecks(agreement=method_agreement(differ), shown="gradcam"))
    [caution] = [f for f in findings if f.kind == "methods_disagree"]
    assert caution.values["similarity"] == {"SmoothGrad": pytest.approx(-1.0)}
    assert "Score-CAM's map is blank" in caution.sentence


def test_a_blank_map_read_is_compared_with_nothing():
    agreement = method_agreement({"gradcam": BLANK, "scorecam": RAMP, "occlusion": 1.0 - RAMP})
    comparison = compare_shown_map(agreement, "gradcam")
    assert comparison.shown_blank and not (comparison.agree or comparison.differ) and comparison.occlusion is None
    assert comparison_sentence(comparison).startswith("Grad-CAM's map is blank: it ranks no region")
    kinds, line = status(MapChecks(agreement=agreement, shown="gradcam", every_method=True))
    assert kinds == [] and "No check found a reason to doubt it" not in line


def test_an_occlusion_cross_check_with_a_blank_map_is_made_but_not_passed():
    from model.present.check_lines import occlusion_line, report_check_lines, similarity_figure
    from model.present.text import not_run_checks, unavailable_checks

    checks = MapChecks(occlusion_blank=True)
    assert checks.occlusion_made and "occlusion" not in not_run_checks(checks)
    assert "occlusion" in unavailable_checks(checks)
    kinds, line = status(checks)
    assert "occlusion_disagrees" not in kinds and "the occlusion cross-check (a blank map" in line
    assert similarity_figure(None) == ("not measured", "a blank map")
    assert similarity_figure(0.65) == ("+0.65", "moderate agreement")
    assert occlusion_line(None, "gradcam") == f"Similarity to Grad-CAM: {NOT_MEASURED}."
    assert report_check_lines(checks) == (("Occlusion cross-check", occlusion_line(None, "gradcam"), ()),)
    # The same two maps in the comparison of methods: said there, once.
    with_maps = MapChecks(agreement=method_agreement({"gradcam": RAMP, "layercam": RAMP ** 2, "occlusion": BLANK}),
                          occlusion_blank=True, shown="gradcam", occlusion_against="gradcam")
    [(title, sentence, _)] = report_check_lines(with_maps)
    assert title == "Methods compared so far" and "Occlusion's map is blank" in sentence
    assert "was not compared" not in sentence


def test_the_summary_and_matrix_leave_a_blank_maps_pairs_out():
    from model.present.method_grid import agreement_matrix, blank_maps_sentence, matrix_text, summarise_agreement
    from model.trust.map_checks import similarity_text

    agreement = method_agreement({"gradcam": RAMP, "scorecam": BLANK, "smoothgrad": 1.0 - RAMP})
    assert agreement.pairs["gradcam vs scorecam"] is None and agreement.pairs["scorecam vs smoothgrad"] is None
    assert agreement.mean == pytest.approx(-1.0) and agreement.blank == ("scorecam",)
    summary = summarise_agreement(agreement)
    assert (summary.mean, summary.pairs, summary.maps, summary.blank) == (pytest.approx(-1.0), 1, 2, ("scorecam",))
    assert blank_maps_sentence(summary, {"scorecam": "Score-CAM"}).startswith("Score-CAM's map is blank")
    table = agreement_matrix(agreement)
    assert np.isnan(table.loc["gradcam", "scorecam"]) and np.isnan(table.loc["scorecam", "scorecam"])
    assert table.loc["gradcam", "smoothgrad"] == pytest.approx(-1.0)
    printed = matrix_text(table)  # as Diagnose shows it: words, not 0.00 (nor "None", a cell's missing value)
    assert printed.loc["gradcam", "scorecam"] == printed.loc["scorecam", "scorecam"] == "blank map"
    assert printed.loc["gradcam", "smoothgrad"] == "-1.00" and printed.loc["gradcam", "gradcam"] == "+1.00"
    assert similarity_text(None) == NOT_MEASURED
    # Every pair with a blank map: nothing to describe, and no figure made up.
    empty = summarise_agreement(method_agreement({"gradcam": RAMP, "scorecam": BLANK}))
    assert (empty.mean, empty.closest, empty.pairs) == (None, None, 0)
    assert blank_maps_sentence(empty).endswith("no pair of maps is left to compare.")


def test_an_agreement_with_unmeasured_pairs_survives_json():
    agreement = method_agreement({"gradcam": RAMP, "scorecam": BLANK, "smoothgrad": 1.0 - RAMP})
    again = Agreement.from_dict(json.loads(json.dumps(agreement.to_dict())))
    assert again == agreement
    nothing = Agreement.from_dict(json.loads(json.dumps(method_agreement({"a": BLANK, "b": RAMP}).to_dict())))
    assert nothing.mean is None and nothing.pairs == {"a vs b": None} and nothing.blank == ("a",)
    assert Agreement.from_dict({"pairs": {"a vs b": 0.5}, "mean": 0.5}).blank == ()  # reports made before it


def test_the_explanation_reports_agreement_leaves_blank_films_out_of_its_means():
    from training.explanation_report import _agreement_summary

    rows = [{"maps": {"gradcam": RAMP, "scorecam": RAMP ** 2}}, {"maps": {"gradcam": RAMP, "scorecam": BLANK}}]
    summary = _agreement_summary(rows, ("gradcam", "scorecam"))
    assert summary["pairs"] == {"gradcam vs scorecam": pytest.approx(1.0)} and summary["mean"] == pytest.approx(1.0)
    assert summary["not_measured"] == {"gradcam vs scorecam": 1}
    only_blank = _agreement_summary(rows[1:], ("gradcam", "scorecam"))
    assert only_blank["mean"] is None and Agreement.from_dict(only_blank).mean is None


def test_a_blank_trained_map_does_not_pass_the_randomisation_check():
    from model.present.comparison import explanation_rows
    from model.trust.explanations import ExplanationReport
    from model.trust.sanity import randomization_similarity

    rng = np.random.default_rng(0)
    result = randomization_similarity(lambda i: BLANK, lambda i: rng.random((16, 16)), range(4))
    # It read 0.00 on every input: "the maps changed when the weights were randomised", a pass.
    assert result["spearman"] is None and result["spearman_per_input"] == [None] * 4 and result["blank"] == 4
    assert result["inconclusive"] and not result["flagged"]
    report = ExplanationReport.from_dict({"model": "m", "sanity_check": {"methods": {"gradcam": result},
                                                                          "threshold": 0.5, "n": 4}})
    assert explanation_rows(report)["Grad-CAM similarity to random weights"] == "–, not judged"
    # Blank on a minority of inputs: those are left out of the mean, not counted as 0.00.
    maps = iter([BLANK, RAMP, RAMP, RAMP])
    mostly = randomization_similarity(lambda i: next(maps), lambda i: RAMP ** 2, range(4))
    assert mostly["blank"] == 1 and not mostly["inconclusive"]
    assert mostly["spearman"] == pytest.approx(1.0) and mostly["flagged"]


def test_the_lung_masked_caption_says_a_blank_map_is_blank():
    from model.present.overlay import region_caption

    blank = region_caption((10, 60, 10, 90), (100, 100), lung_crop=True, lung_mask=True, map_blank=True)
    assert "the map is blank" in blank and "colour on the map outside the lungs" not in blank
    assert "colour on the map outside the lungs" in region_caption((10, 60, 10, 90), (100, 100), lung_crop=True,
                                                                   lung_mask=True)


def test_an_explanation_report_keeps_the_pairs_it_could_not_measure():
    """`training.explanation_report` writes how many images each pair was left out on (a blank map); the typed
    report dropped it, so Performance printed the mean as if every image counted."""
    from model.trust.explanations import ExplanationReport

    values = {"model": "m", "method_agreement": {"pairs": {"gradcam vs scorecam": 0.4}, "mean": 0.4, "blank": [],
                                                 "not_measured": {"gradcam vs scorecam": 3}}}
    report = ExplanationReport.from_dict(values)
    assert report.agreement_not_measured == {"gradcam vs scorecam": 3}
    assert report.to_dict()["method_agreement"]["not_measured"] == {"gradcam vs scorecam": 3}
    assert ExplanationReport.from_dict(report.to_dict()) == report
    assert "not_measured" not in ExplanationReport.from_dict({"model": "m", "method_agreement": {
        "pairs": {"a vs b": 0.4}, "mean": 0.4}}).to_dict()["method_agreement"]
