"""The shipped registry: every entry loads, and its published figures are reproducible.

The reproduction uses the real pool and is skipped when ../shared/data is absent.
"""
import numpy as np
import pytest

from model.registry import (
    LUNG_SEGMENTATION,
    MODEL_FILE,
    PACKAGE_REGISTRY,
    default_model_id,
    list_cards,
    list_entries,
    read_card,
    read_metrics,
)

CLASSIFIERS = [card.id for card in list_cards(root=PACKAGE_REGISTRY)]


def test_the_shipped_registry_has_a_default_and_two_versions():
    assert all(status.error is None for status in list_entries(PACKAGE_REGISTRY))
    assert len(CLASSIFIERS) >= 2
    assert default_model_id(PACKAGE_REGISTRY) in CLASSIFIERS
    assert list_cards(LUNG_SEGMENTATION, PACKAGE_REGISTRY), "the lung-cropped models need a segmenter"
    # Since issue #12 the default is chosen by held-out-source figures first: they must be recorded.
    metrics = read_metrics(default_model_id(PACKAGE_REGISTRY), PACKAGE_REGISTRY)
    assert {"openist-normal", "covid-radiography-db"} <= set(metrics["held_out_source"])
    assert metrics["source_probe"]["mean_balanced_accuracy"] is not None
    # ... and its recipe's held-out runs must clear issue #24's bar on the unseen sources (median of the
    # repeats): unseen normals called Normal, unseen COVID-19 called COVID-19, the two told apart. The
    # source probe is recorded, not held to v1's: a frozen network that sees the whole lung box
    # carries the collection in its features (RESEARCH.md), and what counts is what the model calls
    # films of collections it never saw.
    held = metrics["held_out_source"]

    def median(source, key):
        return float(np.median([r[key] if key == "recall" else r["separation"]["COVID-19 vs Normal"]["auc"]
                                for r in held[source]["repeats"]]))

    assert len(held["openist-normal"]["repeats"]) >= 3
    assert median("openist-normal", "recall") >= 0.70
    assert median("covid-radiography-db", "recall") >= 0.50
    assert median("covid-radiography-db", "separation") >= 0.78


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_each_cards_headline_figures_are_those_of_its_test_report(model_id):
    """The card's figures (side panel, picker, About, Compare) are the entry's metrics.json, so a model
    re-evaluated or recalibrated without its card rewritten shows here, not on a page."""
    card, report = read_card(model_id, PACKAGE_REGISTRY), read_metrics(model_id, PACKAGE_REGISTRY)
    headline = card.metrics
    assert headline["accuracy"] == pytest.approx(report["accuracy"], abs=1e-9)
    assert headline["macro_auc"] == pytest.approx(report["macro"]["auc"], abs=1e-9)
    assert headline["macro_f1"] == pytest.approx(report["macro"]["f1"], abs=1e-9)
    assert headline["ece"] == pytest.approx(report["calibration"]["ece"], abs=1e-9)
    for label in card.labels:
        for figure in ("precision", "recall", "f1", "auc"):
            assert headline["per_class"][label][figure] == pytest.approx(report["per_class"][label][figure], abs=1e-9)


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_each_cards_intervals_surround_its_own_figures(model_id):
    """The Performance page's 95% intervals (`training.evaluate --card-intervals`) were computed on the same
    test films as the figures beside them: same count, and the accuracy and AUCs inside their ranges."""
    report = read_metrics(model_id, PACKAGE_REGISTRY)
    intervals = report.get("intervals")
    assert intervals, f"{model_id} has no intervals: run training.evaluate --split test --card-intervals"
    assert intervals["n"] == report["n"] and intervals["resamples"] >= 1000 and "--card-intervals" in intervals["command"]
    assert intervals["accuracy"][0] <= report["accuracy"] <= intervals["accuracy"][1]
    assert intervals["macro_auc"][0] <= report["macro"]["auc"] <= intervals["macro_auc"][1]
    for label, pair in intervals["per_class_auc"].items():
        assert pair[0] <= report["per_class"][label]["auc"] <= pair[1]
    assert 0.0 <= intervals["ece"][0] <= report["calibration"]["ece"] <= intervals["ece"][1] <= 1.0


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_each_shipped_explanation_report_is_judged_by_the_pages_rules(model_id):
    """Diagnose judges one film by MIN_EVIDENCE and CHANCE_MARGIN; a report judged by other values would
    call maps faithful that the page calls not measurable (or the reverse): rescore it with
    `python -m training.explanation_report --model ID --data unused --faithfulness-only`."""
    from model.registry import EXPLANATIONS_FILE, read_report
    from model.trust.faithfulness import CHANCE_MARGIN, MIN_EVIDENCE

    report = read_report(model_id, EXPLANATIONS_FILE, PACKAGE_REGISTRY)
    if not report:
        pytest.skip(f"{model_id} ships no explanation report")
    faith = report["faithfulness"]
    assert faith["margin"] == CHANCE_MARGIN and faith["min_evidence"] == MIN_EVIDENCE
    assert faith["measured"] + faith["not_measurable"] > 0


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_each_shipped_model_is_small_and_explainable(model_id, monkeypatch):
    from model.classifier import Classifier
    from model.present.layers import layer_choices, network_names
    from tests.support import synthetic_radiograph

    monkeypatch.setenv("CXR_REGISTRY", str(PACKAGE_REGISTRY))
    assert (PACKAGE_REGISTRY / model_id / MODEL_FILE).stat().st_size < 20 * 1024 * 1024
    clf = Classifier.load(model_id)
    explanation, on_image = clf.explain_xray(synthetic_radiograph(300, width=260), "gradcam")
    assert on_image.shape == (300, 260) and np.isfinite(explanation.heatmap).all()
    # Every layer the layer box can list is named in words: no part is a bare number (the review read
    # "network 1, stage 4, block 2 (last), 1 (activated)" for the ensemble's m1_stage4_block2_1_relu).
    choices = layer_choices(clf.layers(), clf.card.explain_layer, network_names(clf.card.training))
    bare = [c.label for c in choices if any(part.split(" ")[0].isdigit() for part in c.label.split(", "))]
    assert not bare, bare


@pytest.mark.realdata
def test_default_models_test_split_figures_are_reproduced(shared_cxr, monkeypatch):
    from model.classifier import Classifier
    from model.evaluation import evaluate
    from model.labelled_data import read_dataset
    from model.splits import split_records

    monkeypatch.setenv("CXR_REGISTRY", str(PACKAGE_REGISTRY))
    clf = Classifier.load()
    published = read_metrics(clf.card.id)
    # The data version the default was trained on (v2 models name their manifest; v1 used manifest.csv).
    manifest = shared_cxr / clf.card.training.get("manifest", "manifest.csv")
    report = evaluate(clf, split_records(read_dataset(manifest), clf.card, "test"))
    assert report["n"] == published["n"]
    assert report["confusion_matrix"] == published["confusion_matrix"]
    assert report["macro"]["auc"] == pytest.approx(published["macro"]["auc"], abs=2e-3)


def _readme_model_rows() -> dict[str, list[str]]:
    """The README's Models table: model ids of a row -> its cells after the first two."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Models", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        ids = re.findall(r"`(cxr-[a-z0-9-]+)`", cells[0]) if cells else []
        if ids:
            rows[tuple(ids)] = cells[2:]
    return rows


def _within(cell: str, value: float, digits: int) -> bool:
    """Whether `value`, rounded to `digits`, is the cell's figure or lies in its range "a-b"."""
    low, _, high = cell.partition("-")
    shown = round(value, digits)
    return float(low) - 1e-9 <= shown <= float(high or low) + 1e-9


def test_the_readmes_models_table_gives_each_cards_own_figures():
    """Internal macro AUC / accuracy and source probe in the README are the entries' metrics.json figures
    (a number typed by hand, or a placeholder left in, shows here)."""
    rows = _readme_model_rows()
    assert rows, "README.md has no Models table with model ids"
    for ids, cells in rows.items():
        internal, _, probe = cells
        auc_cell, acc_cell = (c.strip() for c in internal.split("/"))
        for model_id in ids:
            report = read_metrics(model_id, PACKAGE_REGISTRY)
            assert _within(auc_cell, report["macro"]["auc"], 3), (model_id, auc_cell)
            digits = len(acc_cell.split("-")[0].split(".")[1])
            assert _within(acc_cell, report["accuracy"], digits), (model_id, acc_cell)
            probe_digits = len(probe.split("-")[0].split(".")[1])
            assert _within(probe, report["source_probe"]["mean_balanced_accuracy"], probe_digits), (model_id, probe)


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_each_cards_notes_name_the_temperature_the_card_applies(model_id):
    """The notes are shown on Performance and Compare beside the card's own temperature: an ensemble once kept
    its member's (1.04 against the applied 1.03)."""
    import re

    card = read_card(model_id, PACKAGE_REGISTRY)
    named = re.findall(r"temperature scaling \(T = ([0-9.]+)", card.notes or "")
    if card.calibration:
        assert named == [f"{card.calibration['temperature']:.2f}"]
    else:
        assert named == []


@pytest.mark.parametrize("model_id", CLASSIFIERS)
def test_each_shipped_name_fits_the_side_panels_model_box_at_1366(model_id):
    """The side panel's model box shows about 30 characters at 1366 x 768 (seen in Chromium): a longer name
    was cut ("MobileNet from ImageNet, lung-r")."""
    assert len(read_card(model_id, PACKAGE_REGISTRY).display_name) <= 29
