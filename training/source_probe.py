"""Source probe: how well a simple classifier on a model's pooled features tells the *source* of an
image within one class (among Normal: NIH vs the teaching set; among COVID-19: the three
collections). Cross-validated balanced accuracy; lower means the features carry less of the source
(chance is 1 / number of sources).

    python -m training.source_probe --model cxr-ensemble-lungs-v1 --data ../shared/data/cxr/manifest-v2.csv

`source_probe` is a pure function of arrays (features, sources, labels[, groups]); the command
computes the pooled features of a registry model (the input of its head: the output of the global
average pooling layer) and stores the result in the entry's `metrics.json` under `source_probe`.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from model.runtime import doc_summary

DEFAULT_GROUPS = {"Normal": None, "COVID-19": None}  # None: every source that has the class


def fit_logreg(x: np.ndarray, y: np.ndarray, k: int, l2: float, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Multinomial logistic regression (weights incl. bias, (D + 1, k)) by L-BFGS; films weighted by
    `sample_weight`, by default so that every class weighs the same."""
    from scipy.optimize import minimize

    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    onehot = np.eye(k)[y]
    counts = np.bincount(y, minlength=k).astype(float)
    sample_w = (n / (k * np.maximum(counts, 1)))[y] if sample_weight is None else np.asarray(sample_weight, float)

    def loss(w_flat):
        w = w_flat.reshape(d + 1, k)
        logits = xb @ w
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        nll = -(sample_w * np.log(np.clip((p * onehot).sum(axis=1), 1e-12, None))).sum() / n
        reg = 0.5 * l2 * (w[:-1] ** 2).sum()
        grad = xb.T @ ((p - onehot) * sample_w[:, None]) / n
        grad[:-1] += l2 * w[:-1]
        return nll + reg, grad.ravel()

    result = minimize(loss, np.zeros((d + 1) * k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x.reshape(d + 1, k)


def _folds(y: np.ndarray, groups: np.ndarray, n_folds: int, rng) -> np.ndarray:
    """Fold index per sample: whole groups (patients) per fold, dealt per class to keep classes spread."""
    fold = np.zeros(len(y), int)
    for cls in np.unique(y):
        members = np.unique(groups[y == cls])
        rng.shuffle(members)
        for i, g in enumerate(members):
            fold[(groups == g) & (y == cls)] = i % n_folds
    return fold


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    recalls = [float(np.mean(y_pred[y_true == c] == c)) for c in range(k) if np.any(y_true == c)]
    return float(np.mean(recalls))


@dataclass(frozen=True)
class CrossValidation:
    """How the probe is fitted and scored: `n_folds` folds of patients dealt at random from `seed`, an
    L2 logistic regression with penalty `l2` (on standardised features) fitted on the other folds."""

    n_folds: int = 5
    l2: float = 1e-2
    seed: int = 0


def source_probe(features, sources, labels, groups=None, classes: dict | None = None, min_per_source: int = 30,
                 cross_validation: CrossValidation = CrossValidation()) -> dict:
    """Cross-validated balanced accuracy of predicting the source within each class.

    Args:
        features: (N, D) array, e.g. a model's pooled penultimate features.
        sources, labels: length-N sequences of strings.
        groups: optional length-N patient ids; all images of a patient stay in one fold.
        classes: {label: [sources] or None (all sources of that label with >= min_per_source images)};
            default Normal and COVID-19.
        min_per_source: sources with fewer images of a class are left out of that class's probe.
        cross_validation: folds, L2 penalty and shuffling seed.

    Returns:
        {"per_class": {label: {"sources": [...], "n": {...}, "balanced_accuracy": b, "chance": 1/k}},
         "mean_balanced_accuracy": mean over classes, "mean_chance": ..., "method": "..."}
    """
    x = np.asarray(features, dtype=np.float64)
    sources, labels = np.asarray(sources, dtype=str), np.asarray(labels, dtype=str)
    groups = np.asarray(groups if groups is not None else np.arange(len(x)).astype(str), dtype=str)
    if x.ndim != 2 or not len(x) == len(sources) == len(labels) == len(groups):
        raise ValueError("features must be (N, D) and sources, labels, groups of length N")
    n_folds, l2 = cross_validation.n_folds, cross_validation.l2
    rng = np.random.default_rng(cross_validation.seed)
    out = {"per_class": {}}
    for label, wanted in (classes or DEFAULT_GROUPS).items():
        in_class = labels == label
        names, counts = np.unique(sources[in_class], return_counts=True)
        keep = [s for s, c in zip(names, counts) if c >= min_per_source and (wanted is None or s in wanted)]
        if len(keep) < 2:
            continue
        sel = in_class & np.isin(sources, keep)
        xs, ys, gs = x[sel], np.array([keep.index(s) for s in sources[sel]]), groups[sel]
        fold = _folds(ys, gs, n_folds, rng)
        pred = np.zeros(len(ys), int)
        for f in range(n_folds):
            test, train = fold == f, fold != f
            if not test.any() or len(np.unique(ys[train])) < len(keep):
                continue
            mean, sd = xs[train].mean(0), xs[train].std(0) + 1e-6
            w = fit_logreg((xs[train] - mean) / sd, ys[train], len(keep), l2)
            xt = np.hstack([(xs[test] - mean) / sd, np.ones((int(test.sum()), 1))])
            pred[test] = np.argmax(xt @ w, axis=1)
        out["per_class"][label] = {"sources": keep, "n": {s: int((sources[sel] == s).sum()) for s in keep},
                                   "balanced_accuracy": balanced_accuracy(ys, pred, len(keep)),
                                   "chance": 1.0 / len(keep)}
    values = [v["balanced_accuracy"] for v in out["per_class"].values()]
    out["mean_balanced_accuracy"] = float(np.mean(values)) if values else None
    out["mean_chance"] = float(np.mean([v["chance"] for v in out["per_class"].values()])) if values else None
    out["method"] = (f"L2 logistic regression (l2={l2}) on standardised features, {n_folds}-fold cross-validation "
                     "with patients kept within one fold, balanced accuracy per class, then the mean over classes")
    return out


def pooled_features(model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """The input of the model's head: the output of its (last) global average pooling layer."""
    import keras

    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)]
    if not pools:
        raise ValueError("the model has no global average pooling layer")
    named = [layer for layer in pools if layer.name == "gap"]
    extractor = keras.Model(model.input, (named or pools)[-1].output)  # called with one tensor, as built
    return np.concatenate([np.asarray(extractor(images[i:i + batch_size].astype(np.float32), training=False))
                           for i in range(0, len(images), batch_size)])


def sample_records(records, per_source: int, seed: int, classes=("Normal", "COVID-19")):
    """At most `per_source` images per (source, class) among `classes`, in a seeded random choice."""
    rng = np.random.default_rng(seed)
    chosen = []
    for key in sorted({(r.source, r.label) for r in records if r.label in classes}):
        items = [r for r in records if (r.source, r.label) == key]
        idx = rng.permutation(len(items))[:per_source]
        chosen.extend(items[i] for i in sorted(idx))
    return chosen


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.source_probe", description=doc_summary(__doc__))
    p.add_argument("--model", required=True, help="registry id of a classifier")
    p.add_argument("--data", required=True, help="manifest CSV with a source column (e.g. manifest-v2.csv)")
    p.add_argument("--per-source", type=int, default=300, help="images per source and class at most")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--registry", type=Path, default=None)
    p.add_argument("--no-write", action="store_true", help="print only; do not update metrics.json")
    args = p.parse_args(argv)

    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from model.registry import METRICS_FILE, load_model, read_card, read_metrics, registry_root, write_report
    from training.pool import DEFAULT_CACHE, load_pool, pool_inputs

    root = args.registry or registry_root()
    card = read_card(args.model, root)
    prep = card.prep
    records = sample_records(read_dataset(args.data), args.per_source, args.seed)
    segmenter = LungSegmenter.load(prep.lung_model, root) if prep.lung_crop else None
    (images, masks, ok), = load_pool(records, [prep], DEFAULT_CACHE, segmenter=segmenter)
    images = pool_inputs(images, masks, prep)
    records = [r for r, good in zip(records, ok) if good]
    images = images[ok]
    model = load_model(args.model, root)
    feats = pooled_features(model, images)
    result = source_probe(feats, [r.source for r in records], [r.label for r in records],
                          [f"{r.source}/{r.patient_id}" for r in records],
                          cross_validation=CrossValidation(seed=args.seed))
    result.update({"data": str(args.data), "images": len(records), "per_source_cap": args.per_source,
                   "features": f"global average pooling ({feats.shape[1]} values)",
                   "note": "images of every split (training images included); the probe measures what the "
                           "features carry, not generalisation of the classifier",
                   "computed": datetime.now(UTC).isoformat(timespec="seconds")})
    print(json.dumps({k: result[k] for k in ("per_class", "mean_balanced_accuracy")}, indent=1))
    if not args.no_write:
        path = write_report(args.model, METRICS_FILE, {**read_metrics(args.model, root), "source_probe": result}, root)
        print(f"wrote source_probe into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
