"""Bootstrap intervals for ROC AUC, accuracy and calibration error: how much a figure on N images could move with other images.

Images are resampled with replacement (seeded, so a report is reproducible); each resample's
per-class one-vs-rest AUC and macro AUC (mean over the classes whose AUC is defined, as
`model.metrics.classification_report` computes it) are collected, and the 2.5th and 97.5th
percentiles give the 95% interval. A paired comparison resamples the same images for two models,
so the interval of the difference reflects only the difference between the models.

    intervals = auc_intervals(y_true, probabilities, labels, resamples=1000, seed=0)
    figures = figure_intervals(y_true, probabilities, resamples=1000, seed=0)  # accuracy and ECE
    paired = paired_auc_difference(y_true, probs_a, probs_b, labels)   # B - A
"""
from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 1000
LEVEL = 0.95


def fast_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Rank-sum AUC with ties counted half (as `model.metrics.roc_auc`), vectorised; NaN when one
    group is empty."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True, return_counts=True)
    # Average rank of each distinct score: ranks before it plus the middle of its own run.
    starts = np.cumsum(counts) - counts
    ranks = (starts + (counts + 1) / 2.0)[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def class_aucs(y_true: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC of every column; NaN where a class has no positive or no negative image."""
    return np.array([fast_auc(y_true == k, probabilities[:, k]) for k in range(probabilities.shape[1])])


def _macro(aucs: np.ndarray) -> float:
    defined = aucs[~np.isnan(aucs)]
    return float(defined.mean()) if len(defined) else float("nan")


def resample_indices(n: int, resamples: int, seed: int):
    """`resamples` arrays of n image indices drawn with replacement, the same for the same seed."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield rng.integers(0, n, n)


def _interval(values, level: float = LEVEL) -> list[float] | None:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return [float(low), float(high)]


def auc_intervals(y_true, probabilities, labels, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                  level: float = LEVEL) -> dict:
    """Bootstrap intervals of the macro and per-class AUC.

    Returns:
        {"macro": [low, high] or None, "per_class": {label: [low, high] or None}, "resamples": n,
        "level": level}. An interval is None when the AUC is undefined in every resample (e.g. a
        class without images).
    """
    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = list(labels)
    if resamples < 1 or len(y_true) == 0:
        return {"macro": None, "per_class": {label: None for label in labels}, "resamples": 0, "level": level}
    per_class = np.empty((resamples, len(labels)))
    macro = np.empty(resamples)
    for b, index in enumerate(resample_indices(len(y_true), resamples, seed)):
        per_class[b] = class_aucs(y_true[index], probabilities[index])
        macro[b] = _macro(per_class[b])
    return {"macro": _interval(macro, level),
            "per_class": {label: _interval(per_class[:, k], level) for k, label in enumerate(labels)},
            "resamples": int(resamples), "level": level}


def figure_intervals(y_true, probabilities, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     level: float = LEVEL) -> dict:
    """Bootstrap intervals of the accuracy and of the expected calibration error (`model.metrics.calibration`,
    ten bins) over the same resamples `auc_intervals` draws for the same seed.

    The ECE of a resample is biased upward (its duplicated films add noise that the measure counts as
    miscalibration), so its percentile range sat almost wholly above the figure; its interval is the basic
    bootstrap one instead (2 x figure minus the resamples' upper and lower percentiles, at least 0), which
    corrects that shift.

    Returns:
        {"accuracy": [low, high] or None, "ece": [low, high] or None, "resamples": n, "level": level}.
    """
    from model.metrics import calibration

    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if resamples < 1 or len(y_true) == 0:
        return {"accuracy": None, "ece": None, "resamples": 0, "level": level}
    correct = probabilities.argmax(axis=1) == y_true
    accuracy, ece = np.empty(resamples), np.empty(resamples)
    for b, index in enumerate(resample_indices(len(y_true), resamples, seed)):
        accuracy[b] = correct[index].mean()
        ece[b] = calibration(y_true[index], probabilities[index])["ece"]
    whole = calibration(y_true, probabilities)["ece"]
    spread = _interval(ece, level)
    basic = None if spread is None else [max(0.0, 2 * whole - spread[1]), max(0.0, 2 * whole - spread[0])]
    return {"accuracy": _interval(accuracy, level), "ece": basic, "resamples": int(resamples), "level": level}


def paired_auc_difference(y_true, probs_a, probs_b, labels, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                          level: float = LEVEL) -> dict:
    """Macro AUC of model B minus model A on the same images, with a paired bootstrap interval.

    Args:
        y_true: true class indices in `labels` order (N,).
        probs_a, probs_b: (N, K) probabilities of the two models, columns in `labels` order.

    Returns:
        {"auc_a", "auc_b", "difference" (B - A), "interval" ([low, high] of the difference or None),
        "share_b_better" and "share_a_better" (shares of resamples where B's, or A's, macro AUC is
        higher; resamples where they tie count for neither), "n", "resamples", "level"}.
    """
    y_true = np.asarray(y_true, dtype=int)
    probs_a, probs_b = np.asarray(probs_a, np.float64), np.asarray(probs_b, np.float64)
    auc_a, auc_b = _macro(class_aucs(y_true, probs_a)), _macro(class_aucs(y_true, probs_b))
    differences = []
    for index in resample_indices(len(y_true), resamples if len(y_true) else 0, seed):
        a = _macro(class_aucs(y_true[index], probs_a[index]))
        b = _macro(class_aucs(y_true[index], probs_b[index]))
        differences.append(b - a)
    differences = np.asarray(differences, dtype=np.float64)
    defined = differences[~np.isnan(differences)]

    def number(value):
        return None if value is None or np.isnan(value) else float(value)

    return {"auc_a": number(auc_a), "auc_b": number(auc_b), "difference": number(auc_b - auc_a),
            "interval": _interval(defined, level), "share_b_better": float((defined > 0).mean()) if len(defined) else None,
            "share_a_better": float((defined < 0).mean()) if len(defined) else None,
            "n": int(len(y_true)), "resamples": int(len(differences)), "level": level}
