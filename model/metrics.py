"""Classification metrics written into a registry entry's `metrics.json` and shown by the dashboard.

Plain numpy so that evaluation, training and tests share one implementation and nothing needs
scikit-learn. Probabilities are (N, K) arrays whose columns follow the card's labels.
"""
from __future__ import annotations

import numpy as np

MAX_ROC_POINTS = 200


def _check(y_true, probabilities, labels):
    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), len(labels)):
        raise ValueError(f"probabilities must have shape ({len(y_true)}, {len(labels)}), got {probabilities.shape}")
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= len(labels)):
        raise ValueError("y_true holds a class index outside the label list")
    return y_true, probabilities


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half.

    Returns None when one of the two groups is empty, where AUC is undefined.
    """
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = np.asarray(scores)[order]
    # Average ranks over tied scores.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start:start + count]] = start + (count + 1) / 2.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def pair_auc(positive: np.ndarray, p_positive: np.ndarray, p_negative: np.ndarray) -> float | None:
    """AUC of telling two classes apart among films of those two classes only, each film ranked by the
    first class's share of the two probabilities, p_pos / (p_pos + p_neg).

    The share, not p_pos alone: with a third class (Normal) the two probabilities do not add to one, and
    the part the model gives the third class, which differs from film to film, would otherwise move a
    film up or down the ranking. This is the one within-source "COVID-19 against Pneumonia" figure:
    training stores it (`within_source_covid_vs_pneumonia`) and Compare and Evaluate compute it.

    Args:
        positive: whether each film is of the first class (the others are of the second).
        p_positive, p_negative: the model's probabilities of the two classes for each film.

    Returns:
        The AUC, or None when one of the two classes has no film.
    """
    p_positive, p_negative = np.asarray(p_positive, np.float64), np.asarray(p_negative, np.float64)
    return roc_auc(positive, p_positive / np.maximum(p_positive + p_negative, 1e-12))


def roc_curve(positive: np.ndarray, scores: np.ndarray, max_points: int = MAX_ROC_POINTS) -> dict:
    """False- and true-positive rates at every distinct threshold, thinned to `max_points`."""
    positive = np.asarray(positive, dtype=bool)
    if len(positive) == 0:
        return {"fpr": [0.0], "tpr": [0.0]}
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    scores_sorted, pos_sorted = np.asarray(scores)[order], positive[order]
    distinct = np.r_[np.flatnonzero(np.diff(scores_sorted)), len(scores_sorted) - 1]
    tps = np.cumsum(pos_sorted)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / max(positive.sum(), 1)]
    fpr = np.r_[0.0, fps / max((~positive).sum(), 1)]
    if len(fpr) > max_points:
        keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, max_points).round().astype(int)])
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr]}


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts with true classes in rows and predicted classes in columns."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def calibration(y_true, probabilities, n_bins: int = 10) -> dict:
    """Reliability of the top-class confidence in equal-width bins, and the expected calibration error."""
    y_true, probabilities = np.asarray(y_true, int), np.asarray(probabilities, float)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        members = index == b
        count = int(members.sum())
        mean_conf = float(confidence[members].mean()) if count else None
        accuracy = float(correct[members].mean()) if count else None
        if count:
            ece += count / len(y_true) * abs(accuracy - mean_conf)
        bins.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": count,
                     "confidence": mean_conf, "accuracy": accuracy})
    return {"bins": bins, "ece": float(ece)}


def _safe_div(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def classification_report(y_true, probabilities, labels) -> dict:
    """Everything `metrics.json` holds for one labelled set.

    Args:
        y_true: true class indices (N,).
        probabilities: (N, K) predicted probabilities, columns in `labels` order.
        labels: class labels in output order.

    Returns:
        dict with n, accuracy, per_class (precision, recall, f1, support, auc), macro averages,
        roc curve points per class, confusion_matrix (rows true, columns predicted), calibration.
    """
    labels = list(labels)
    y_true, probabilities = _check(y_true, probabilities, labels)
    y_pred = probabilities.argmax(axis=1) if len(y_true) else np.zeros(0, int)
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    per_class, roc = {}, {}
    for k, label in enumerate(labels):
        tp = matrix[k, k]
        precision, recall = _safe_div(tp, matrix[:, k].sum()), _safe_div(tp, matrix[k].sum())
        positive = y_true == k
        per_class[label] = {"precision": precision, "recall": recall,
                            "f1": _safe_div(2 * precision * recall, precision + recall),
                            "support": int(matrix[k].sum()), "auc": roc_auc(positive, probabilities[:, k])}
        roc[label] = roc_curve(positive, probabilities[:, k])
    aucs = [v["auc"] for v in per_class.values() if v["auc"] is not None]
    macro = {key: float(np.mean([v[key] for v in per_class.values()])) for key in ("precision", "recall", "f1")}
    macro["auc"] = float(np.mean(aucs)) if aucs else None
    return {"labels": labels, "n": int(len(y_true)), "accuracy": _safe_div(np.trace(matrix), matrix.sum()),
            "per_class": per_class, "macro": macro, "roc": roc,
            "confusion_matrix": matrix.tolist(), "calibration": calibration(y_true, probabilities)}


def format_report(report: dict) -> str:
    """A plain-text table of a `classification_report`, for the terminal."""
    labels = report["labels"]
    width = max(12, *(len(label) for label in labels))
    lines = [f"{'class':<{width}} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8} {'AUC':>6}"]
    for label in labels:
        row = report["per_class"][label]
        auc = "n/a" if row["auc"] is None else f"{row['auc']:.3f}"
        lines.append(f"{label:<{width}} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} "
                     f"{row['support']:8d} {auc:>6}")
    macro = report["macro"]
    macro_auc = "n/a" if macro["auc"] is None else f"{macro['auc']:.3f}"
    lines.append(f"{'macro avg':<{width}} {macro['precision']:9.3f} {macro['recall']:7.3f} {macro['f1']:6.3f} "
                 f"{report['n']:8d} {macro_auc:>6}")
    lines.append(f"accuracy {report['accuracy']:.3f}   expected calibration error "
                 f"{report['calibration']['ece']:.3f}")
    lines.append("confusion matrix (rows: true, columns: predicted; order " + ", ".join(labels) + ")")
    lines.extend("  " + " ".join(f"{v:6d}" for v in row) for row in report["confusion_matrix"])
    return "\n".join(lines)
