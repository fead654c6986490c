"""Temperature scaling: one number that makes a classifier's probabilities mean what they say.

A network trained with cross-entropy tends to be over- or under-confident. Temperature scaling
(Guo et al., 2017) divides the class logits by one temperature T fitted on the validation split,
which changes no ranking and no argmax, only how sure the probabilities sound. The card stores T
(`ModelCard.calibration`), and `model.classifier.Classifier` applies it to every probability it
returns, so the pages, the report, the CLI and the triage thresholds all see the same figures.

    T = fit_temperature(validation_labels, validation_probabilities)
    calibrated = apply_temperature(probabilities, T)
"""
from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-12
TEMPERATURE_RANGE = (0.05, 20.0)


def check_temperature(value) -> float:
    """The temperature as a float; ValueError naming the value when it is not finite and positive."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number, got {value!r}") from None
    if not math.isfinite(t) or not TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]:
        raise ValueError(f"temperature must lie in {TEMPERATURE_RANGE}, got {value!r}")
    return t


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax outputs (..., K) rescaled as if their logits were divided by `temperature`.

    log p differs from the logits by a constant per row, which the softmax removes, so this is
    exact for a softmax model; T = 1 returns the input unchanged.
    """
    t = check_temperature(temperature)
    p = np.asarray(probabilities, np.float64)
    if t == 1.0:
        return p
    scaled = np.log(np.clip(p, EPSILON, 1.0)) / t
    scaled -= scaled.max(axis=-1, keepdims=True)
    out = np.exp(scaled)
    return out / out.sum(axis=-1, keepdims=True)


def negative_log_likelihood(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean cross-entropy of integer `labels` under `probabilities` (N, K)."""
    p = np.clip(np.asarray(probabilities, np.float64)[np.arange(len(labels)), np.asarray(labels, int)], EPSILON, 1.0)
    return float(-np.mean(np.log(p)))


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of `labels` (validation split).

    A golden-section search over log T in `TEMPERATURE_RANGE`: the likelihood is unimodal in T,
    and one scalar needs no optimiser library. ValueError on empty or mismatched input.
    """
    labels = np.asarray(labels, int)
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or len(labels) != len(probabilities) or not len(labels):
        raise ValueError("fit_temperature needs N labels and an (N, K) array of probabilities, N > 0")

    def loss(log_t: float) -> float:
        return negative_log_likelihood(labels, apply_temperature(probabilities, math.exp(log_t)))

    low, high = (math.log(v) for v in TEMPERATURE_RANGE)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    for _ in range(80):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return float(math.exp((low + high) / 2.0))
