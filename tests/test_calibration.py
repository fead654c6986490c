"""Temperature scaling: fitted on known data, stored on the card, applied by every classifier call."""
from __future__ import annotations

import numpy as np
import pytest

from model.calibration import apply_temperature, fit_temperature, negative_log_likelihood
from model.registry import ModelCard


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _overconfident(true_temperature: float, n: int = 4000, seed: int = 0):
    """Labels drawn from softmax(z); the model reports softmax(z * T), over-confident for T > 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, (n, 3))
    labels = np.array([rng.choice(3, p=p) for p in _softmax(logits)])
    return labels, _softmax(logits * true_temperature)


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_fit_recovers_the_temperature_that_made_the_probabilities(true_temperature):
    labels, reported = _overconfident(true_temperature)
    fitted = fit_temperature(labels, reported)
    assert fitted == pytest.approx(true_temperature, rel=0.1)
    assert negative_log_likelihood(labels, apply_temperature(reported, fitted)) <= negative_log_likelihood(labels, reported)


def test_temperature_keeps_the_answer_and_sums_to_one():
    _, reported = _overconfident(2.0, n=200)
    for t in (0.3, 1.0, 3.0):
        scaled = apply_temperature(reported, t)
        assert np.array_equal(scaled.argmax(axis=1), reported.argmax(axis=1))
        assert np.allclose(scaled.sum(axis=1), 1.0)
    assert np.array_equal(apply_temperature(reported, 1.0), reported)
    # Dividing the logits by T > 1 softens: the top probability falls.
    assert np.all(apply_temperature(reported, 2.0).max(axis=1) <= reported.max(axis=1) + 1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "warm", None])
def test_a_card_refuses_a_temperature_that_is_no_positive_number(bad):
    values = dict(id="m", display_name="m", version="1", created="2026", architecture="compact_cnn",
                  labels=["A", "B"], preprocessing={"image_size": 32}, explain_layer="c")
    with pytest.raises(ValueError, match="temperature"):
        ModelCard(**values, calibration={"temperature": bad})
    assert ModelCard(**values).temperature == 1.0
    assert ModelCard(**values, calibration={"temperature": 1.7}).temperature == 1.7


def test_fit_refuses_empty_or_mismatched_input():
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(np.array([], int), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(np.array([0, 1]), np.full((3, 3), 1 / 3))


def test_the_classifier_shows_calibrated_probabilities_in_every_path(test_registry):
    """predict_inputs and the explainers' one-pass probabilities give the same calibrated figure."""
    import dataclasses

    from model.classifier import Classifier
    from tests.support import synthetic_radiograph

    plain = Classifier.load("tiny-a", test_registry)
    hot = Classifier(dataclasses.replace(plain.card, calibration={"temperature": 0.25}), plain.model)
    model_input = hot.prepare(synthetic_radiograph(64, seed=3))
    raw = plain.predict_input(model_input).probabilities
    calibrated = hot.predict_input(model_input).probabilities
    assert np.allclose(calibrated, apply_temperature(raw, 0.25))
    assert calibrated.max() > raw.max()  # T < 1 sharpens
    prediction, _ = hot.analyse_input(model_input, "gradcam")
    assert np.allclose(prediction.probabilities, calibrated, atol=1e-5)
