"""Model comparison: which model is better on what, whether models agree, how alike their maps are."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from model.metrics import classification_report
from model.prediction import Prediction
from model.present.comparison import metrics_comparison, prediction_agreement
from model.trust.agreement import map_similarity
from model.trust.findings import Finding
from model.trust.triage import Triage
from tests.support import LABELS

Y_TRUE = np.tile([0, 1, 2], 40)  # 120 images, 40 per class


def _probabilities(correct: np.ndarray, confidence: float) -> np.ndarray:
    """Predicted class = true class where `correct`, else the next class; top probability `confidence`."""
    predicted = np.where(correct, Y_TRUE, (Y_TRUE + 1) % 3)
    probabilities = np.full((len(Y_TRUE), 3), (1 - confidence) / 2)
    probabilities[np.arange(len(Y_TRUE)), predicted] = confidence
    return probabilities


@pytest.fixture(scope="module")
def reports():
    # "accurate": always right but under-confident (0.6) -> ECE 0.4.
    accurate = classification_report(Y_TRUE, _probabilities(np.ones(120, bool), 0.6), LABELS)
    # "calibrated": right 79% of the time (half the COVID-19 and 5 Normal images missed) at
    # confidence 0.8 -> ECE about 0.01.
    correct = ~((Y_TRUE == 0) & (np.arange(120) % 2 == 0)) & ~((Y_TRUE == 1) & (np.arange(120) % 8 == 1))
    calibrated = classification_report(Y_TRUE, _probabilities(correct, 0.8), LABELS)
    return {"accurate": accurate, "calibrated": calibrated}


def test_metrics_comparison_rows_columns_and_best(reports):
    table = metrics_comparison(reports)
    assert list(table.columns) == ["accurate", "calibrated", "best", "spread"]
    assert list(table.index[:4]) == ["accuracy", "macro AUC", "macro F1", "ECE"]
    assert {"COVID-19 recall", "Normal AUC", "Pneumonia F1"} <= set(table.index)
    assert table.loc["accuracy", "accurate"] == 1.0
    assert table.loc["accuracy", "best"] == "accurate"
    assert table.loc["macro F1", "best"] == "accurate"
    # Lower is better for the calibration error.
    assert table.loc["ECE", "accurate"] == pytest.approx(0.4)
    assert table.loc["ECE", "best"] == "calibrated"
    assert table.loc["accuracy", "spread"] == pytest.approx(1.0 - reports["calibrated"]["accuracy"])
    assert table.loc["COVID-19 recall", "calibrated"] == pytest.approx(0.5)
    assert table.loc["COVID-19 recall", "spread"] == pytest.approx(0.5)


def test_metrics_comparison_tie_goes_to_reference_and_missing_auc_is_nan(reports):
    no_auc = classification_report([0, 0], [[0.9, 0.05, 0.05], [0.6, 0.3, 0.1]], LABELS)
    table = metrics_comparison({"ref": reports["accurate"], "copy": reports["accurate"], "tiny": no_auc})
    assert table.loc["accuracy", "best"] == "ref"
    assert np.isnan(table.loc["COVID-19 AUC", "tiny"])
    assert table.loc["COVID-19 AUC", "best"] == "ref"
    with pytest.raises(ValueError):
        metrics_comparison({})


def _prediction(*probabilities) -> Prediction:
    return Prediction(tuple(LABELS), np.array(probabilities))


def test_prediction_agreement_when_models_agree():
    result = prediction_agreement({"a": _prediction(0.7, 0.2, 0.1), "b": _prediction(0.5, 0.3, 0.2)})
    assert result["all_agree"] is True
    assert result["labels"] == {"a": "COVID-19", "b": "COVID-19"}
    assert result["majority"] == "COVID-19"
    assert result["max_probability_gap"] == pytest.approx(0.2)


def test_prediction_agreement_when_models_disagree():
    result = prediction_agreement({"a": _prediction(0.1, 0.8, 0.1), "b": _prediction(0.6, 0.3, 0.1),
                                   "c": _prediction(0.2, 0.7, 0.1)})
    assert result["all_agree"] is False
    assert result["majority"] == "Normal"
    assert result["labels"]["b"] == "COVID-19"
    assert result["max_probability_gap"] == pytest.approx(0.5)
    assert result["agreement"] == pytest.approx(2 / 3)


def test_prediction_agreement_matches_classes_by_label():
    reordered = Prediction(("Pneumonia", "Normal", "COVID-19"), np.array([0.1, 0.2, 0.7]))
    result = prediction_agreement({"a": _prediction(0.7, 0.2, 0.1), "b": reordered})
    assert result["all_agree"] and result["max_probability_gap"] == pytest.approx(0.0)


def test_map_similarity():
    rng = np.random.default_rng(0)
    heat = rng.random((32, 32)).astype(np.float32)
    assert map_similarity(heat, heat) == pytest.approx(1.0)
    assert map_similarity(heat, 1.0 - heat) == pytest.approx(-1.0)
    assert map_similarity(heat, heat[::-1, ::-1]) < 0.2
    assert map_similarity(heat, np.zeros_like(heat)) is None  # a blank map ranks nothing: not measured, never 0.00
    # A map at another resolution is resized before comparing.
    yy, xx = np.mgrid[0:64, 0:64]
    smooth = (xx + yy).astype(np.float32)
    small = smooth[::2, ::2]
    assert map_similarity(small, smooth) > 0.99
    assert map_similarity(small, smooth[::-1, ::-1]) < -0.99
    # Two unrelated maps inside a shared blank surround (the film outside the region both models saw): on the
    # whole film the surround reads as agreement; on the maps' support they are unrelated, as they are.
    a, b = np.zeros((64, 64)), np.zeros((64, 64))
    a[16:48, 16:48], b[16:48, 16:48] = rng.random((32, 32)) + 0.01, rng.random((32, 32)) + 0.01
    assert map_similarity(a, b) > 0.4
    assert abs(map_similarity(a, b, support_only=True)) < 0.1
    assert map_similarity(a, a, support_only=True) == pytest.approx(1.0)
    assert map_similarity(np.zeros((8, 8)), np.zeros((8, 8)), support_only=True) is None


def test_agreement_text_is_neutral_and_lists_every_answer():
    from model.present.comparison import agreement_text

    headline, answers = agreement_text({"a": _prediction(0.7, 0.2, 0.1), "b": _prediction(0.4, 0.3, 0.3)})
    assert headline.startswith("All 2 versions output COVID-19") and "wrong together" in headline
    assert answers == ["a: COVID-19 (70.0%)", "b: COVID-19 (40.0%)"]  # to 0.1%, as every page gives a probability
    headline, answers = agreement_text({"a": _prediction(0.7, 0.2, 0.1), "b": _prediction(0.1, 0.2, 0.7)})
    assert headline.startswith("The versions disagree: 2 different answers") and answers[1] == "b: Pneumonia (70.0%)"
    # Each version's triage goes with its answer, with what set it, in the words of every compact view.
    _, answers = agreement_text({"a": _prediction(0.7, 0.2, 0.1), "b": _prediction(0.4, 0.3, 0.3)},
                                {"a": Triage("answer"), "b": _triage("uncertain", "low_probability")})
    assert answers == ["a: COVID-19 (70.0%)", "b: COVID-19 (40.0%), second read advised (probability too low to "
                                                "stand alone)"]
    _, answers = agreement_text({"a": _prediction(0.7, 0.2, 0.1)}, {"a": _triage("out_of_scope", "lateral_view")})
    assert answers == ["a: COVID-19 (70.0%), out of scope (a lateral view): output for reference only"]
    _, answers = agreement_text({"a": _prediction(0.794, 0.106, 0.1)})
    assert answers == ["a: COVID-19 (79.4%)"]  # beside "Probability 79.4%", never "79%"


def _triage(status: str, kind: str) -> Triage:
    return Triage(status, [Finding(kind, status, "image", "A sentence.")])


def test_one_rule_words_a_films_triage_in_every_compact_view():
    """Compare's answers, Evaluate's disagreements and the gallery's cards say a film's triage by one function:
    an answer nothing doubts adds nothing, the rest name their status and what set it."""
    from model.present.gallery_cases import card_triage_mark
    from model.present.text import answer_line, triage_words
    from tests.test_gallery import make_case

    unsure = _triage("uncertain", "anatomy_unusual")
    assert triage_words(Triage("answer")) == "" and answer_line("v1", "Normal", 0.9, Triage("answer")) == "v1: Normal (90.0%)"
    assert triage_words(unsure) == "second read advised (unusual anatomy for this model)"
    assert answer_line("v1", "Normal", 0.5123, unsure) == ("v1: Normal (51.2%), second read advised (unusual anatomy "
                                                           "for this model)")
    assert answer_line("v1", "Normal", 0.5123) == "v1: Normal (51.2%)"
    # The card names the mark for what it is, beside an outcome that names the label it is held against.
    case = make_case("a", "Normal", "Normal", 0.51)
    assert card_triage_mark(replace(case, triage=unsure)) == "Triage: second read advised (unusual anatomy for this model)"
    assert card_triage_mark(replace(case, triage=Triage("answer"))) == "" == card_triage_mark(case)


def test_the_probability_line_says_per_card_whether_it_is_calibrated():
    """Only a card with a fitted temperature is called calibrated; the others read as scores."""
    from model.present.comparison import probability_caption
    from model.registry import PACKAGE_REGISTRY, read_card

    calibrated, plain = read_card("cxr-mobilenet-v2", PACKAGE_REGISTRY), read_card("cxr-compact-v1", PACKAGE_REGISTRY)
    assert calibrated.calibration and not plain.calibration
    line = probability_caption(calibrated, 0.6561)
    assert line.startswith("Probability 65.6%: ") and f"calibrated (temperature {calibrated.temperature:.2f}" in line
    line = probability_caption(plain, 0.6561)
    assert line.startswith("Probability 65.6%: ") and "not calibrated" in line and " calibrated (" not in line


def test_explanation_rows_give_the_verdict_and_close_figures_to_three_decimals():
    """Compare's explanation table: each method's verdict on the mean curves and, in a row of its own, the
    share of judged films better on both with its count (so "faithful" never sits beside 49% as if earned film
    by film), figures within two margins of chance to three decimals (the default's SmoothGrad: 0.338 against
    0.342 is level, so mixed), the films judged, and the randomisation check in short words, unsigned as on
    Performance."""
    from model.present.comparison import explanation_rows
    from model.registry import EXPLANATIONS_FILE, PACKAGE_REGISTRY, read_report
    from model.trust.explanations import ExplanationReport

    report = ExplanationReport.from_dict(read_report("cxr-mobilenet-v2", EXPLANATIONS_FILE, PACKAGE_REGISTRY))
    rows = explanation_rows(report)
    assert rows["SmoothGrad deletion AUC (lower is better)"] == "0.338"
    assert rows["SmoothGrad deletion AUC, random maps"] == "0.342"
    assert rows["SmoothGrad verdict on the mean curves"] == "mixed on average"
    # One format per method, as Diagnose's panel: SmoothGrad's insertion pair is far from chance but is shown to
    # three decimals too, beside its close deletion pair.
    assert len(rows["SmoothGrad insertion AUC (higher is better)"].split(".")[1]) == 3
    for method in ("Grad-CAM", "Grad-CAM++", "SmoothGrad", "Score-CAM"):
        figures = [v for k, v in rows.items() if k.startswith(f"{method} ") and " AUC" in k]
        assert len({len(v.split(".")[1]) for v in figures}) <= 1, (method, figures)
    assert rows["Grad-CAM deletion AUC (lower is better)"] == "0.35"  # far from chance: two decimals
    faith = report.faithfulness
    assert rows["faithfulness judged on"] == f"{faith.measured} of {faith.measured + faith.not_measurable} films"
    assert 0 < faith.not_measurable < faith.measured
    share = faith.methods["gradcam"].better_than_random_share
    assert faith.verdict("gradcam") == "faithful" and share < 0.5  # the case a reader found confusing
    assert rows["Grad-CAM verdict on the mean curves"] == "faithful on average"
    assert rows["Grad-CAM films better on both"] == f"{share:.0%} of {faith.measured} films"
    assert not any("faithful" in value and "%" in value for value in rows.values())
    # Its Grad-CAM maps are blank on all 8 images: not measured (the rebuilt report), not "0.00".
    assert rows["Grad-CAM similarity to random weights"] == "–, not judged"
    assert rows["Grad-CAM++ similarity to random weights"] == "-0.05"


def test_verdict_and_films_cells_say_what_they_rest_on():
    from model.present.comparison import films_better_on_both, mean_verdict

    assert [mean_verdict(v) for v in ("faithful", "mixed", "not better than random", "not measurable")] == [
        "faithful on average", "mixed on average", "not better than random on average", "not measurable"]
    assert films_better_on_both(0.4857, 35) == "49% of 35 films"
    assert films_better_on_both(0.4857, None) == "49%"  # a report made before films were counted
    assert films_better_on_both(None, 35) == "–"


def test_versions_are_named_as_the_other_pages_name_them_and_never_alike():
    """Compare headed its columns with ids ("cxr-mobilenet-v3") where the side panel and Diagnose say
    "MobileNet, two-channel v3"; two cards of one name get their versions, and the same version their ids."""
    from dataclasses import replace

    from model.present.comparison import ids_note, version_names
    from model.registry import read_card

    v3, v1 = read_card("cxr-mobilenet-v3"), read_card("cxr-compact-v1")
    assert version_names([v3, v1]) == {"cxr-mobilenet-v3": "MobileNet, two-channel v3",
                                       "cxr-compact-v1": "Compact CNN v1"}
    renamed = replace(v1, display_name=v3.display_name)  # another version of the same name
    assert version_names([v3, renamed]) == {"cxr-mobilenet-v3": "MobileNet, two-channel v3 · v3.0",
                                            "cxr-compact-v1": "MobileNet, two-channel v3 · v1.0"}
    twin = replace(renamed, version=v3.version)
    assert version_names([v3, twin]) == {"cxr-mobilenet-v3": "cxr-mobilenet-v3", "cxr-compact-v1": "cxr-compact-v1"}
    assert ids_note(version_names([v3, v1])) == ("Ids: MobileNet, two-channel v3 is `cxr-mobilenet-v3`, "
                                                 "Compact CNN v1 is `cxr-compact-v1`.")
    assert ids_note(version_names([v3, twin])) == ""


def test_a_methods_row_on_compare_and_its_figures_on_performance_have_one_format():
    """Compare's explanation table read "0.402 | 0.35 | 0.27" in one row (each version chose its own decimals):
    a row now takes three decimals for every version when any version's pair is close to chance; Performance's
    table gives each method's figures in the same one format (`curve_cells`), never 0.482 beside Compare's 0.48."""
    from model.present.comparison import curve_cells, explanation_rows, method_digits
    from model.registry import EXPLANATIONS_FILE, PACKAGE_REGISTRY, read_report
    from model.trust.explanations import ExplanationReport

    reports = {model_id: ExplanationReport.from_dict(read_report(model_id, EXPLANATIONS_FILE, PACKAGE_REGISTRY))
               for model_id in ("cxr-mobilenet-v3", "cxr-mobilenet-v2", "cxr-compact-averaged-v2")}
    alone = {model_id: explanation_rows(report) for model_id, report in reports.items()}
    row = "Grad-CAM deletion AUC (lower is better)"
    assert len({len(rows[row].split(".")[1]) for rows in alone.values()}) == 2  # the review's mixed row
    digits = method_digits(reports.values())
    together = {model_id: explanation_rows(report, digits) for model_id, report in reports.items()}
    for name in together["cxr-mobilenet-v3"]:
        if " AUC" in name:
            assert len({len(rows[name].split(".")[1]) for rows in together.values()}) == 1, name
    assert together["cxr-mobilenet-v3"][row] == alone["cxr-mobilenet-v3"][row]  # the close one keeps its three
    v3 = reports["cxr-mobilenet-v3"].faithfulness
    cells = curve_cells(v3, "gradcam")
    assert cells["deletion"] == alone["cxr-mobilenet-v3"][row]
    assert cells["random deletion"] == alone["cxr-mobilenet-v3"]["Grad-CAM deletion AUC, random maps"]
    assert all(len(value.split(".")[1]) == len(cells["deletion"].split(".")[1]) for value in cells.values())
