"""The figures written into metrics.json, checked against values worked out by hand."""
import numpy as np
import pytest

from model.metrics import calibration, classification_report, format_report, roc_auc, roc_curve

LABELS = ["A", "B", "C"]


def test_auc_counts_ties_as_half_and_is_undefined_for_one_class():
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert roc_auc(np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    # One positive ranked above one of two negatives: 1 of 2 pairs.
    assert roc_auc(np.array([1, 0, 0]), np.array([0.5, 0.9, 0.1])) == 0.5
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_roc_curve_runs_from_origin_to_corner_and_is_thinned():
    rng = np.random.default_rng(0)
    positive = rng.random(1000) < 0.3
    curve = roc_curve(positive, rng.random(1000), max_points=50)
    assert curve["fpr"][0] == 0 and curve["tpr"][0] == 0
    assert curve["fpr"][-1] == 1 and curve["tpr"][-1] == 1
    assert len(curve["fpr"]) <= 50 and np.all(np.diff(curve["fpr"]) >= 0)


def test_report_per_class_figures_and_confusion_matrix():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .8, .1], [.1, .6, .3], [.1, .1, .8], [.6, .2, .2]])
    report = classification_report(y_true, probabilities, LABELS)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class"]["B"]["precision"] == pytest.approx(2 / 3)
    assert report["per_class"]["B"]["recall"] == 1.0
    assert report["per_class"]["C"]["f1"] == pytest.approx(2 / 3)
    assert report["per_class"]["C"]["support"] == 2
    assert "macro avg" in format_report(report)


def test_expected_calibration_error_of_an_overconfident_model():
    # Always 90% sure, right half of the time: ECE = |0.5 - 0.9| = 0.4, all in the top bin.
    y_true = np.array([0, 1, 0, 1])
    probabilities = np.tile([0.9, 0.1], (4, 1))
    result = calibration(y_true, probabilities, n_bins=10)
    assert result["ece"] == pytest.approx(0.4)
    filled = [b for b in result["bins"] if b["count"]]
    assert len(filled) == 1 and filled[0]["count"] == 4
    assert filled[0]["confidence"] == pytest.approx(0.9) and filled[0]["accuracy"] == 0.5


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shape"):
        classification_report([0, 1], np.zeros((2, 2)), LABELS)
