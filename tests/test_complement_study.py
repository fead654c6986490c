"""The complement study's pure parts: pair weights, the probe, the calibrated average (synthetic arrays)."""
import numpy as np
import pytest

from training.source_probe import fit_logreg
from training.unmasked_branch import Probe, calibrated_average, fit_probe, pair_weights


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


def test_calibrated_average_is_the_softmax_of_the_mean_of_the_parts_scaled_logits():
    """What a merged ensemble of two temperature-scaled members outputs: softmax((la / Ta + lb / Tb) / 2),
    computed here from the logits, independently of the helpers the function is built from."""
    rng = np.random.default_rng(0)
    la, lb = rng.normal(scale=3.0, size=(2, 6, 3))

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    a, b = softmax(la), softmax(lb)
    assert np.allclose(calibrated_average([a, b], [2.0, 0.5]), softmax((la / 2.0 + lb / 0.5) / 2), atol=1e-9)
    assert np.allclose(calibrated_average([a, b], [1.0, 1.0]), softmax((la + lb) / 2), atol=1e-9)
    # A part averaged with itself at its own temperature is that part, calibrated.
    assert np.allclose(calibrated_average([a, a], [2.0, 2.0]), softmax(la / 2.0), atol=1e-9)


def test_probe_of_known_weights():
    probe = Probe(mean=np.zeros(1), scale=np.ones(1), weights=np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]))
    p = probe.probabilities(np.array([[0.0], [5.0]]))
    assert np.allclose(p[0], 1 / 3)
    assert p[1].argmax() == 0
