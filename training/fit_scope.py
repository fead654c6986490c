"""Fit and validate a classifier's out-of-scope (novelty) check and its lung-attention threshold,
and store them in its registry entry (`scope.json`, summary in the card's `scope`).

    python -m training.fit_scope --model cxr-ensemble-lungs-v1 --data ../shared/data/cxr

Steps: lung masks and anatomy features of every image of the model's own patient split; the
novelty density on the training split, its thresholds on the validation split; the lung-attention
threshold from the correctly classified validation images; then, on the test split, the share of
images that get an `answer`, the accuracy of those against all, and how often the lung-attention
warning fires on right and on wrong answers. The check is validated with held-out sources (fitted
without one source, how well it flags that source against the other sources' test images) and on
synthetic out-of-scope inputs (CT and MR slices, photographs, non-chest pictures, inverted films,
films turned on their side).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter

import numpy as np

from model.policy import (
    AGREEMENT_LEVELS,
    AGREEMENT_QUANTILE,
    INTENDED_POPULATION,
    LUNG_ATTENTION_QUANTILE,
    MIN_TOP_PROBABILITY,
    UNCERTAIN_BUDGET,
    UNCERTAIN_QUANTILE,
)
from training.evaluate import add_model_and_data_arguments

SYNTHETIC_FILMS = 40
# The model's own uncertainty threshold is kept within these bounds.
MIN_TOP_FLOOR, MIN_TOP_CEILING = 0.4, 0.8


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.fit_scope", description=__doc__.splitlines()[0])
    add_model_and_data_arguments(p, split="all")
    p.add_argument("--limit", type=int, default=None, help="at most N images per split (smoke runs)")
    p.add_argument("--sources-data", default=None,
                   help="labelled data for the held-out-source validation of the check (default: --data); e.g. "
                        "manifest v2 for a model trained on v1, so every source of the pool is held out once "
                        "(anatomy only: the check does not depend on the classifier)")
    return p


def _progress(name: str, done: int, total: int) -> None:
    if done == total or done % 100 == 0:
        print(f"  {name}: {done}/{total}", file=sys.stderr, flush=True)


def anatomy_of(records, segmenter, name: str):
    """(features (N, F), kept records) of readable records."""
    from model.inputs.intake import XrayInputError, load_xray
    from model.trust.novelty import anatomy_features

    rows, kept = [], []
    for i, record in enumerate(records, start=1):
        try:
            pixels = load_xray(record.path).pixels
        except (XrayInputError, OSError):
            continue
        rows.append(anatomy_features(pixels, segmenter.mask(pixels)))
        kept.append(record)
        _progress(name, i, len(records))
    return np.array(rows), kept


def assess_records(clf, records, scope, segmenter, name: str, lung_threshold=None) -> list[dict]:
    """Per readable image: label, prediction, status, features and the Grad-CAM lung fraction."""
    from model.inputs.intake import XrayInputError, load_xray
    from model.inputs.lungs import lung_attention_fraction
    from model.trust.novelty import anatomy_features
    from model.trust.triage import UNCERTAIN, assess, triage

    rows = []
    for i, record in enumerate(records, start=1):
        try:
            xray = load_xray(record.path)
        except (XrayInputError, OSError):
            continue
        mask = segmenter.mask(xray.pixels)
        result = assess(clf, xray, mask, scope)
        _, explanation, on_image = clf.analyse(result.model_input, "gradcam", predict=False)
        rows.append({"label": record.label, "source": record.source, "predicted": result.prediction.label,
                     "status": result.triage.status, "features": anatomy_features(xray.pixels, mask),
                     # findings other than the uncertainty rules that make an answer uncertain
                     "other_soft": triage(result.check, None, result.novelty).status == UNCERTAIN,
                     "top_probability": result.uncertainty.top_probability,
                     "agreement": result.uncertainty.agreement,
                     "lung_fraction": lung_attention_fraction(on_image, mask)})
        _progress(name, i, len(records))
    return rows


def held_out_sources(features: dict, splits: dict) -> dict:
    """For each source: fitted without it, AUROC of flagging it against the others' test images."""
    from model.metrics import roc_auc
    from model.trust.novelty import NoveltyModel

    out = {}
    sources = sorted({r.source for part in splits.values() for r in part if r.source})
    for source in sources:
        def others(name, source=source):
            return np.array([f for f, r in zip(features[name], splits[name]) if r.source != source])
        held = np.array([f for name in splits for f, r in zip(features[name], splits[name]) if r.source == source])
        if len(held) == 0 or len(others("train")) < 10 or len(others("validation")) == 0:
            continue
        model = NoveltyModel.fit(others("train"), others("validation"))
        inside, outside = model.scores(others("test")), model.scores(held)
        truth = np.r_[np.zeros(len(inside), bool), np.ones(len(outside), bool)]
        out[source] = {"n": int(len(held)), "auroc": roc_auc(truth, np.r_[inside, outside]),
                       "flagged_unusual": float(np.mean(outside > model.unusual_threshold)),
                       "flagged_out_of_scope": float(np.mean(outside > model.out_of_scope_threshold))}
    return out


def _sources_data(args, features, splits, segmenter, label_map, clf):
    """(features, splits) for the held-out-source validation: the model's own, or those of
    `--sources-data` under the stable hash split."""
    if not args.sources_data:
        return features, splits
    from model.labelled_data import read_dataset
    from model.splits import hash_split

    records = [r for r in read_dataset(args.sources_data, label_map) if r.label in clf.labels]
    other_splits = {name: part[:args.limit] for name, part in hash_split(records).items()}
    other_features = {}
    for name, part in other_splits.items():
        other_features[name], other_splits[name] = anatomy_of(part, segmenter, f"sources {name}")
    return other_features, other_splits


def synthetic_inputs(test_records) -> dict[str, list]:
    """Out-of-scope inputs made here: {kind: [Xray, ...]}."""
    from PIL import Image
    from pydicom.data import get_testdata_file

    from model.inputs.intake import load_xray

    def png(pixels):
        buffer = io.BytesIO()
        Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
        return load_xray(buffer.getvalue())

    kinds = {"CT slice (DICOM)": [load_xray(get_testdata_file("CT_small.dcm"))],
             "MR slice (DICOM)": [load_xray(get_testdata_file("MR_small.dcm"))]}
    kinds["CT or MR slice (PNG, no header)"] = [png(x.pixels) for x in kinds["CT slice (DICOM)"] + kinds["MR slice (DICOM)"]]
    try:
        import skimage.data as pictures
    except ImportError:  # scikit-image comes with requirements-dev.txt
        pictures = None
    if pictures is not None:
        photos, others = [], []
        for name in ("astronaut", "coffee", "chelsea", "rocket"):
            buffer = io.BytesIO()
            Image.fromarray(getattr(pictures, name)()).save(buffer, format="PNG")
            photos.append(load_xray(buffer.getvalue()))
        for name in ("camera", "moon", "brick", "grass", "page", "text", "coins", "clock"):
            image = getattr(pictures, name)().astype(np.float32)
            others.append(png((image - image.min()) / (np.ptp(image) + 1e-9)))
        kinds["colour photograph"] = photos
        kinds["grey non-chest picture"] = others
    films = [load_xray(r.path).pixels for r in test_records[:SYNTHETIC_FILMS]]
    kinds["inverted chest film"] = [png(1.0 - f) for f in films]
    kinds["chest film turned on its side"] = [png(np.rot90(f)) for f in films]
    return kinds


def synthetic_figures(clf, scope, segmenter, test_records) -> dict:
    from model.trust.triage import assess

    figures = {}
    for kind, xrays in synthetic_inputs(test_records).items():
        statuses = Counter(assess(clf, x, segmenter.mask(x.pixels), scope).triage.status for x in xrays)
        figures[kind] = {"n": len(xrays), "out_of_scope": statuses["out_of_scope"] / len(xrays),
                         "statuses": dict(statuses)}
    return figures


def agreement_level(agreements) -> float:
    """The strictest of `AGREEMENT_LEVELS` under which at most `AGREEMENT_QUANTILE` of the
    validation images' test-time copies disagree."""
    agreements = np.asarray(agreements, float)
    for level in AGREEMENT_LEVELS:
        if agreements.size == 0 or np.mean(agreements < level) <= AGREEMENT_QUANTILE:
            return level
    return AGREEMENT_LEVELS[-1]


def uncertainty_thresholds(rows: list[dict], budget: float = UNCERTAIN_BUDGET,
                           quantile: float = UNCERTAIN_QUANTILE) -> tuple[float, float]:
    """(min_top_probability, min_agreement) of a model from its validation rows.

    The agreement level is `agreement_level`. The top-probability threshold starts at the rows'
    `quantile` of top probabilities and is lowered until all soft findings together (top probability
    below it, agreement below the level, `other_soft`) hold back at most `budget` of the rows that
    are not out of scope; it stays within [MIN_TOP_FLOOR, MIN_TOP_CEILING].

    Args:
        rows: dicts with "top_probability", "agreement", "other_soft" (bool) and "status".
    """
    if not rows:
        return MIN_TOP_PROBABILITY, agreement_level([])
    level = agreement_level([r["agreement"] for r in rows])
    kept = [r for r in rows if r["status"] != "out_of_scope"] or rows
    top = np.array([r["top_probability"] for r in kept], float)
    start = float(np.clip(np.quantile(top, quantile), MIN_TOP_FLOOR, MIN_TOP_CEILING))
    # Candidates: the start and every validation top probability under it, from the highest down.
    for threshold in [start] + sorted({float(t) for t in top if MIN_TOP_FLOOR <= t < start}, reverse=True):
        if validation_held_back(kept, threshold, level) <= budget:
            return threshold, level
    return MIN_TOP_FLOOR, level


def validation_held_back(rows: list[dict], min_top: float, min_agreement: float) -> float:
    """Share of the validation rows not out of scope that the thresholds (and the other soft
    findings) mark uncertain."""
    kept = [r for r in rows if r["status"] != "out_of_scope"]
    if not kept:
        return 0.0
    return float(np.mean([r["other_soft"] or r["agreement"] < min_agreement or r["top_probability"] < min_top
                          for r in kept]))


def test_figures(rows: list[dict], lung_threshold: float) -> dict:
    correct = np.array([r["label"] == r["predicted"] for r in rows])
    status = np.array([r["status"] for r in rows])
    warned = np.array([r["lung_fraction"] < lung_threshold for r in rows])
    answered = status == "answer"
    return {
        "n": len(rows), "status_share": {s: float(np.mean(status == s)) for s in ("answer", "uncertain", "out_of_scope")},
        "accuracy_all": float(correct.mean()), "accuracy_answered": float(correct[answered].mean()) if answered.any() else None,
        "accuracy_uncertain": float(correct[status == "uncertain"].mean()) if (status == "uncertain").any() else None,
        "lung_warning_share": float(warned.mean()),
        "lung_warning_on_correct": float(warned[correct].mean()) if correct.any() else None,
        "lung_warning_on_wrong": float(warned[~correct].mean()) if (~correct).any() else None,
    }


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from model.classifier import Classifier
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from model.registry import SCOPE_FILE, RegistryError, read_card, write_card, write_report
    from model.splits import split_records
    from model.trust.novelty import NoveltyModel
    from model.trust.scope import Scope

    started = time.time()
    try:
        clf = Classifier.load(args.model, args.registry)
        segmenter = clf.segmenter or LungSegmenter.load(root=args.registry)
        label_map = json.loads(args.label_map.read_text()) if args.label_map else None
        records = [r for r in read_dataset(args.data, label_map) if r.label in clf.labels]
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    splits = {name: split_records(records, clf.card, name)[:args.limit] for name in ("train", "validation", "test")}
    features = {"train": anatomy_of(splits["train"], segmenter, "train")}
    splits["train"] = features["train"][1]
    features["train"] = features["train"][0]
    provenance = {"model": clf.card.id, "data": str(args.data), "lung_model": segmenter.card.id,
                  "train_images": len(splits["train"])}
    # Thresholds need validation scores; assess_records needs a scope: fit, then assess with it.
    validation_features, splits["validation"] = anatomy_of(splits["validation"], segmenter, "validation")
    novelty = NoveltyModel.fit(features["train"], validation_features, provenance)
    features["validation"] = validation_features
    validation = assess_records(clf, splits["validation"], Scope(novelty), segmenter, "validation (assess)")
    right = [r["lung_fraction"] for r in validation if r["label"] == r["predicted"]]
    lung_threshold = float(np.quantile(right, LUNG_ATTENTION_QUANTILE)) if right else 0.5
    lung_threshold = min(max(lung_threshold, 0.01), 0.99)
    # The model's own "unsure" levels from its validation images, within the uncertainty budget.
    min_top, min_agreement = uncertainty_thresholds(validation)
    scope = Scope(novelty, lung_threshold, min_top, min_agreement=min_agreement)
    test = assess_records(clf, splits["test"], scope, segmenter, "test")
    splits["test"] = [r for r in splits["test"]][:len(test)]
    features["test"] = np.array([r["features"] for r in test])
    figures = {
        "validation": {"n": len(validation), "unusual_share": float(np.mean(novelty.scores(validation_features)
                                                                            > novelty.unusual_threshold)),
                       "uncertain_budget": UNCERTAIN_BUDGET,
                       "held_back_share": validation_held_back(validation, min_top, min_agreement)},
        "test": test_figures(test, lung_threshold),
        "held_out_sources": held_out_sources(*_sources_data(args, features, splits, segmenter, label_map, clf)),
        "synthetic": synthetic_figures(clf, scope, segmenter, splits["test"]),
        "wall_time_s": round(time.time() - started, 1),
    }
    scope = Scope(novelty, lung_threshold, min_top, figures, min_agreement)
    write_report(clf.card.id, SCOPE_FILE, scope.to_dict(), args.registry)
    card = read_card(clf.card.id, args.registry)
    card.scope = {"intended_population": INTENDED_POPULATION, "check": "anatomy novelty (training.fit_scope)",
                  "unusual_threshold": round(novelty.unusual_threshold, 3),
                  "out_of_scope_threshold": round(novelty.out_of_scope_threshold, 3),
                  "lung_attention_threshold": round(lung_threshold, 3), "min_top_probability": round(min_top, 3),
                  "min_agreement": min_agreement,
                  "test": figures["test"], "held_out_sources": figures["held_out_sources"],
                  "synthetic": {k: v["out_of_scope"] for k, v in figures["synthetic"].items()}}
    write_card(card, args.registry)
    print(format_scope(clf.card.id, scope))
    return 0


def format_scope(model_id: str, scope) -> str:
    f = scope.figures
    test = f["test"]
    lines = [f"scope check of {model_id}: novelty thresholds {scope.novelty.unusual_threshold:.2f} (unusual) / "
             f"{scope.novelty.out_of_scope_threshold:.2f} (out of scope); lung-attention threshold "
             f"{scope.lung_attention_threshold:.2f}; uncertain below a top probability of "
             f"{scope.min_top_probability:.2f} or {scope.min_agreement:.0%} agreeing copies",
             "test split: " + ", ".join(f"{k} {v:.1%}" for k, v in test["status_share"].items())
             + f"; accuracy {test['accuracy_all']:.3f} overall, "
             + (f"{test['accuracy_answered']:.3f} on answered images" if test["accuracy_answered"] is not None else "n/a"),
             f"lung-attention warning: {test['lung_warning_share']:.1%} of test images; on correct answers "
             f"{test['lung_warning_on_correct']:.1%}, on wrong answers {test['lung_warning_on_wrong']:.1%}",
             "held-out sources (AUROC against the other sources' test images; share flagged unusual / out of scope):"]
    for source, v in f["held_out_sources"].items():
        lines.append(f"  {source:<28} AUROC {v['auroc']:.3f}  {v['flagged_unusual']:.0%} / {v['flagged_out_of_scope']:.0%}"
                     f"  (n={v['n']})")
    lines.append("synthetic out-of-scope inputs (share out of scope):")
    for kind, v in f["synthetic"].items():
        lines.append(f"  {kind:<34} {v['out_of_scope']:.0%} of {v['n']}  {v['statuses']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
