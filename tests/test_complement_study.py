"""The complement study's pure parts: pair weights, the probe, the calibrated average (synthetic arrays)."""
import numpy as np
import pytest

from model.calibration import apply_temperature
from training.complement_study import Probe, calibrated_average, fit_probe, pair_weights
from training.crossval_average import average_like_an_ensemble
from training.source_probe import fit_logreg


def test_pair_weights_make_every_source_label_pair_weigh_the_same():
    sources = np.array(["a"] * 30 + ["b"] * 10 + ["b"] * 5)
    labels = np.array([0] * 30 + [0] * 10 + [1] * 5)
    w = pair_weights(sources, labels)
    assert w.mean() == pytest.approx(1.0)
    totals = [w[(sources == s) & (labels == y)].sum() for s, y in (("a", 0), ("b", 0), ("b", 1))]
    assert totals == pytest.approx([totals[0]] * 3)


def _classes(n=90, seed=0, shift=3.0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n // 3)
    features = rng.normal(size=(n, 5)) * 10 + 50  # far from standardised: the probe must standardise
    features[:, 0] += shift * 10 * labels
    features[:, 1] -= shift * 10 * (labels == 1)
    return features, labels


def test_probe_learns_separable_classes_and_gives_probabilities():
    features, labels = _classes()
    sources = np.array(["s"] * len(labels))
    probe = fit_probe(features, labels, sources)
    held, held_labels = _classes(seed=1)
    p = probe.probabilities(held)
    assert p.shape == (len(held), 3)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.mean(p.argmax(axis=1) == held_labels) > 0.9
    noise = fit_probe(np.random.default_rng(2).normal(size=features.shape), labels, sources)
    assert np.mean(noise.probabilities(held).argmax(axis=1) == held_labels) < 0.6


def test_sample_weights_decide_which_films_the_regression_follows():
    # Two films with contradicting labels at the same point: the heavier one wins.
    x = np.array([[1.0], [1.0], [-1.0]])
    y = np.array([0, 1, 1])
    heavy_first = fit_logreg(x, y, 2, 1e-3, sample_weight=np.array([10.0, 1.0, 1.0]))
    heavy_second = fit_logreg(x, y, 2, 1e-3, sample_weight=np.array([1.0, 10.0, 1.0]))
    point = np.array([[1.0, 1.0]])
    assert np.argmax(point @ heavy_first) == 0
    assert np.argmax(point @ heavy_second) == 1


def test_calibrated_average_is_the_ensemble_average_of_the_calibrated_parts():
    rng = np.random.default_rng(0)
    a, b = (rng.dirichlet(np.ones(3), size=6) for _ in range(2))
    both = calibrated_average([a, b], [1.0, 1.0])
    assert np.allclose(both, average_like_an_ensemble([a, b]))
    assert np.allclose(calibrated_average([a, b], [2.0, 0.5]),
                       average_like_an_ensemble([apply_temperature(a, 2.0), apply_temperature(b, 0.5)]))
    # A part averaged with itself is itself.
    assert np.allclose(calibrated_average([a, a], [1.0, 1.0]), a, atol=1e-9)


def test_probe_of_known_weights():
    probe = Probe(mean=np.zeros(1), scale=np.ones(1), weights=np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]))
    p = probe.probabilities(np.array([[0.0], [5.0]]))
    assert np.allclose(p[0], 1 / 3)
    assert p[1].argmax() == 0
