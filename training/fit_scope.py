"""Fit and validate a classifier's triage rules and store them in its registry entry (`scope.json`,
summary in the card's `scope`): the anatomy (novelty) check, the answer's probability threshold and
agreement level, and the lung-attention threshold.

    python -m training.fit_scope --model cxr-ensemble-lungs-v1 --data ../shared/data/cxr \
        --sources-data ../shared/data/cxr/manifest-v2.csv

Steps: lung masks and anatomy features of every image of the model's own patient split; the
novelty density on the training split, its thresholds on the validation split; the lung-attention
threshold from the correctly classified validation images; the agreement level and the lowest
probability threshold at which the validation films that get an `answer` are right at least
`TARGET_ANSWERED_ACCURACY` of the time (never below `MIN_TOP_FLOOR`). Then, on the test split, the
share of films per status, the accuracy of the answered ones, how often each rule fires and how
often the lung-attention warning fires on right and on wrong answers. The rules are validated on
sources the model never trained on (`--sources-data` holds them: answered, answered and right,
answered and wrong), with held-out sources for the anatomy check (fitted without one source, how well
it flags that source against the other sources' test images), on the pool's films of children (its
`age` column) and on synthetic out-of-scope inputs (CT and MR slices, photographs, non-chest pictures,
inverted films, films turned on their side, films framed like a small child's whole-trunk film).
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
    ADULT_AGE,
    AGREEMENT_LEVELS,
    AGREEMENT_QUANTILE,
    INTENDED_POPULATION,
    LUNG_ATTENTION_QUANTILE,
    MIN_TOP_CEILING,
    MIN_TOP_FLOOR,
    TARGET_ANSWERED_ACCURACY,
)
from model.runtime import doc_summary
from model.trust.uncertainty import too_many_below as copies_fire
from training.evaluate import add_model_and_data_arguments

SYNTHETIC_FILMS = 40
UNSEEN_PER_SOURCE = 300  # films per source the model never trained on (a fixed sample: the time is per film)
# The rules a film's status comes from, in the order the card lists them.
RULES = ("low_probability", "copies_disagree", "many_copies_below", "anatomy_unusual", "odd_shape", "anatomy_out_of_scope",
         "no_lung_fields", "colour", "no_contrast")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.fit_scope", description=doc_summary(__doc__))
    add_model_and_data_arguments(p, split="all")
    p.add_argument("--limit", type=int, default=None, help="at most N images per split (smoke runs)")
    p.add_argument("--sources-data", default=None,
                   help="labelled data for the held-out-source validation of the check (default: --data); e.g. "
                        "manifest v2 for a model trained on v1, so every source of the pool is held out once "
                        "and the sources the model never trained on are triaged in full")
    p.add_argument("--target-accuracy", type=float, default=TARGET_ANSWERED_ACCURACY,
                   help="accuracy the answered validation films must reach (default %(default)s)")
    p.add_argument("--unseen-limit", type=int, default=UNSEEN_PER_SOURCE,
                   help="films per unseen source that are triaged in full (default %(default)s)")
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


def assess_records(clf, records, scope, segmenter, name: str, lung_fraction: bool = True) -> list[dict]:
    """Per readable image: label, prediction, the findings of the image-side checks, the answer's own
    figures (calibrated top probability, agreement of the copies), features and the Grad-CAM lung
    fraction (`lung_fraction`). Images are triaged as the CLI and an unstated plain upload are: no
    age or view stated."""
    from model.inputs.intake import XrayInputError, load_xray
    from model.inputs.lungs import lung_attention_fraction
    from model.trust.findings import OUT_OF_SCOPE, UNCERTAIN
    from model.trust.novelty import anatomy_features
    from model.trust.triage import assess, triage

    rows = []
    for i, record in enumerate(records, start=1):
        try:
            xray = load_xray(record.path)
        except (XrayInputError, OSError):
            continue
        mask = segmenter.mask(xray.pixels)
        result = assess(clf, xray, mask, scope)
        image_side = triage(result.check, None, result.novelty)  # every finding but the answer's own rules
        row = {"label": record.label, "source": record.source, "predicted": result.prediction.label,
               "correct": record.label == result.prediction.label,
               "status": result.triage.status, "features": anatomy_features(xray.pixels, mask),
               "kinds": sorted({f.kind for f in image_side.findings if f.severity in (OUT_OF_SCOPE, UNCERTAIN)}),
               "blocked": image_side.status == OUT_OF_SCOPE, "other_soft": image_side.status == UNCERTAIN,
               "top_probability": result.uncertainty.top_probability, "agreement": result.uncertainty.agreement,
               "copies": list(result.uncertainty.copies)}
        if lung_fraction:
            _, explanation, on_image = clf.analyse(result.model_input, "gradcam", predict=False)
            row["lung_fraction"] = lung_attention_fraction(on_image, mask)
        rows.append(row)
        _progress(name, i, len(records))
    return rows


def too_many_below(row: dict, min_top: float, max_below: int | None) -> bool:
    """The "many_copies_below" rule on a row (`model.trust.uncertainty.too_many_below`, the served rule)."""
    return copies_fire(row["top_probability"], row["copies"], min_top, max_below)


def film_status(row: dict, min_top: float, min_agreement: float, max_below: int | None = None) -> str:
    """The status a film gets under the given thresholds (the image-side findings are fixed)."""
    if row["blocked"]:
        return "out_of_scope"
    if (row["other_soft"] or row["top_probability"] < min_top or row["agreement"] < min_agreement
            or too_many_below(row, min_top, max_below)):
        return "uncertain"
    return "answer"


def rule_fires(row: dict, rule: str, min_top: float, min_agreement: float, max_below: int | None = None) -> bool:
    if rule == "low_probability":
        return row["top_probability"] < min_top
    if rule == "copies_disagree":
        return row["agreement"] < min_agreement
    if rule == "many_copies_below":
        return too_many_below(row, min_top, max_below)
    return rule in row["kinds"]


def answer_figures(rows: list[dict], min_top: float, min_agreement: float, max_below: int | None = None) -> dict:
    """How a set of films is triaged: shares per status, the accuracy of the answered films, the
    shares answered and right / answered and wrong, and per rule the share of films it fires on and
    the model's accuracy on those."""
    status = np.array([film_status(r, min_top, min_agreement, max_below) for r in rows])
    correct = np.array([r["correct"] for r in rows], bool)
    answered = status == "answer"
    rules = {}
    for rule in RULES:
        fired = np.array([rule_fires(r, rule, min_top, min_agreement, max_below) for r in rows], bool)
        if fired.any():
            rules[rule] = {"fires": float(fired.mean()), "accuracy_when_fired": float(correct[fired].mean())}
    n = len(rows)
    return {"n": n, "status_share": {s: float(np.mean(status == s)) if n else 0.0
                                     for s in ("answer", "uncertain", "out_of_scope")},
            "accuracy_all": float(correct.mean()) if n else None,
            "accuracy_answered": float(correct[answered].mean()) if answered.any() else None,
            "answered_right": float(np.mean(answered & correct)) if n else None,
            "answered_wrong": float(np.mean(answered & ~correct)) if n else None,
            "rules": rules}


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
    kinds["adult film framed like a small child's (stand-in)"] = [png(framed_like_a_small_child(f)) for f in films]
    return kinds


def framed_like_a_small_child(film: np.ndarray) -> np.ndarray:
    """An adult chest film redrawn as a small child's AP film is often framed: the chest small in the
    middle of a film that also shows the neck and the abdomen, and wider than tall.

    A stand-in only: it gets the framing of such films, not a child's anatomy (proportions of heart and
    lungs, bones), so how the check does on it says nothing of real children's films."""
    import cv2

    height, width = film.shape
    chest = cv2.resize(film, (round(width * 0.62), round(height * 0.5)), interpolation=cv2.INTER_AREA)
    canvas = np.full(film.shape, 0.08, np.float32)  # air around the body
    rows, cols = np.mgrid[0:height, 0:width] / np.array([height, width], float)[:, None, None]
    trunk = np.abs(cols - 0.5) < 0.36  # neck, chest and abdomen: soft tissue of one grey
    canvas[trunk] = np.median(film[film > np.median(film)])
    top, left = round(height * 0.18), (width - chest.shape[1]) // 2
    canvas[top:top + chest.shape[0], left:left + chest.shape[1]] = chest
    return np.clip(canvas, 0.0, 1.0)


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


def probability_threshold(rows: list[dict], min_agreement: float, target: float = TARGET_ANSWERED_ACCURACY,
                          max_below: int | None = None) -> tuple[float, bool]:
    """(threshold, reached) of the answer's calibrated top probability, from validation rows.

    The lowest threshold in [MIN_TOP_FLOOR, MIN_TOP_CEILING] at which the films that get an
    `answer` (nothing else holds them back, their top probability reaches it and no more than `max_below` of
    their copies fall under it) are right at least `target` of the time; MIN_TOP_CEILING and reached=False
    when no threshold gets there.

    Args:
        rows: dicts with "top_probability", "agreement", "copies", "correct", "blocked" and "other_soft".
    """
    pool = [r for r in rows if not r["blocked"] and not r["other_soft"] and r["agreement"] >= min_agreement]
    tops = np.array([r["top_probability"] for r in pool], float)
    correct = np.array([r["correct"] for r in pool], bool)
    for threshold in [MIN_TOP_FLOOR] + sorted({float(t) for t in tops if MIN_TOP_FLOOR < t <= MIN_TOP_CEILING}):
        answered = (tops >= threshold) & ~np.array([too_many_below(r, threshold, max_below) for r in pool], bool)
        if answered.any() and correct[answered].mean() >= target:
            return threshold, True
    return MIN_TOP_CEILING, False


def uncertainty_thresholds(rows: list[dict], target: float = TARGET_ANSWERED_ACCURACY) -> tuple[float, float, int, bool]:
    """(min_top_probability, min_agreement, max_copies_below, target reached) of a model from its validation rows.

    The agreement level first (`agreement_level`); then, for each limit on the copies below the answer level
    (0 up to every copy, which is no limit), `probability_threshold` under it; the limit that answers the most
    validation films at the target is kept (on a tie, the fewer wrong answers, then the looser limit). Measured
    with cxr-mobilenet-v3 (472 validation films): no limit answers 201 (42.6%, 90.0% right) at 78.3%, at most 2
    copies below 232 (49.2%, 90.1% right) at 66.3%.
    """
    level = agreement_level([r["agreement"] for r in rows])
    copies = max((len(r["copies"]) for r in rows), default=0)
    fits = []
    for max_below in range(copies, -1, -1):  # loosest first: on a tie the looser limit is kept
        threshold, reached = probability_threshold(rows, level, target, max_below)
        figures = answer_figures(rows, threshold, level, max_below)
        fits.append((reached, figures["status_share"]["answer"], -(figures["answered_wrong"] or 0.0),
                     -len(fits), threshold, max_below))
    reached, _, _, _, threshold, max_below = max(fits)
    return threshold, level, max_below, reached


def test_figures(rows: list[dict], levels: tuple, lung_threshold: float) -> dict:
    """`answer_figures` of the test split at `levels` (min_top, min_agreement, max_below), with the accuracy of
    the uncertain films and how often the lung-attention warning fires on all films, on right and on wrong
    answers."""
    figures = answer_figures(rows, *levels)
    correct = np.array([r["correct"] for r in rows], bool)
    uncertain = np.array([film_status(r, *levels) == "uncertain" for r in rows], bool)
    warned = np.array([r["lung_fraction"] < lung_threshold for r in rows], bool)
    return {**figures,
            "accuracy_uncertain": float(correct[uncertain].mean()) if uncertain.any() else None,
            "lung_warning_share": float(warned.mean()),
            "lung_warning_on_correct": float(warned[correct].mean()) if correct.any() else None,
            "lung_warning_on_wrong": float(warned[~correct].mean()) if (~correct).any() else None}


def unseen_sources(clf, records, label_map) -> dict[str, list]:
    """{source: records} of the labelled data's sources the model never trained on (its card's
    `training.sources`), each a fixed sample; {} when the card does not say what it trained on."""
    trained = set((clf.card.training or {}).get("sources") or ())
    if not trained:
        return {}
    by_source: dict[str, list] = {}
    for record in records:
        if record.source and record.source not in trained and record.label in clf.labels:
            by_source.setdefault(record.source, []).append(record)
    return by_source


def unseen_figures(clf, scope, segmenter, by_source: dict, limit: int) -> dict:
    """Per unseen source: how the films are triaged (`answer_figures`) with the fitted rules."""
    out = {}
    for source, records in sorted(by_source.items()):
        sample = sorted(records, key=lambda r: r.path)[::max(1, len(records) // max(limit, 1))][:limit]
        rows = assess_records(clf, sample, scope, segmenter, f"unseen {source}", lung_fraction=False)
        out[source] = answer_figures(rows, scope.min_top_probability, scope.min_agreement)
        out[source]["labels"] = dict(Counter(r["label"] for r in rows))
    return out


def pool_children(data, clf) -> list:
    """The records of a manifest's films of patients under `ADULT_AGE` (its `age` column), if any."""
    import csv
    from pathlib import Path

    from model.labelled_data import LabelledImage

    path = Path(data)
    path = path / "manifest.csv" if path.is_dir() else path
    if not path.is_file() or path.suffix != ".csv":
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if (r.get("age") or "").strip()]
    young = []
    for row in rows:
        try:
            age = float(row["age"])
        except ValueError:
            continue
        if age < ADULT_AGE and row["label"] in clf.labels:
            young.append(LabelledImage(str(path.parent / row["file"]), row["label"], row.get("patient_id") or "",
                                       row.get("source") or ""))
    return young


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
        other_records = read_dataset(args.sources_data, label_map) if args.sources_data else records
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
    right = [r["lung_fraction"] for r in validation if r["correct"]]
    lung_threshold = float(np.quantile(right, LUNG_ATTENTION_QUANTILE)) if right else 0.5
    lung_threshold = min(max(lung_threshold, 0.01), 0.99)
    # The model's own thresholds from its validation films, for the stated answered accuracy.
    min_top, min_agreement, max_below, reached = uncertainty_thresholds(validation, args.target_accuracy)
    scope = Scope(novelty, lung_threshold, min_top, min_agreement=min_agreement, max_copies_below=max_below)
    test = assess_records(clf, splits["test"], scope, segmenter, "test")
    features["test"] = np.array([r["features"] for r in test])
    splits["test"] = splits["test"][:len(test)]
    children = assess_records(clf, pool_children(args.sources_data or args.data, clf), scope, segmenter,
                              "children", lung_fraction=False)
    figures = {
        "target_accuracy": args.target_accuracy, "target_reached": reached,
        "validation": {**answer_figures(validation, min_top, min_agreement, max_below),
                       "unusual_share": float(np.mean(novelty.scores(validation_features) > novelty.unusual_threshold))},
        "test": test_figures(test, (min_top, min_agreement, max_below), lung_threshold),
        "unseen_sources": unseen_figures(clf, scope, segmenter, unseen_sources(clf, other_records, label_map),
                                         args.unseen_limit),
        "children": {**answer_figures(children, min_top, min_agreement, max_below),
                     "note": f"films of patients under {ADULT_AGE} in the data's age column (most rows have no age)"},
        "held_out_sources": held_out_sources(*_sources_data(args, features, splits, segmenter, label_map, clf)),
        "synthetic": synthetic_figures(clf, scope, segmenter, splits["test"]),
        "wall_time_s": round(time.time() - started, 1),
    }
    scope = Scope(novelty, lung_threshold, min_top, figures, min_agreement, max_below)
    write_report(clf.card.id, SCOPE_FILE, scope.to_dict(), args.registry)
    card = read_card(clf.card.id, args.registry)
    card.scope = card_scope(scope)
    write_card(card, args.registry)
    print(format_scope(clf.card.id, scope))
    return 0


def card_scope(scope) -> dict:
    """The card's `scope` block: the population, the thresholds and the figures that validate them."""
    f = scope.figures
    return {"intended_population": INTENDED_POPULATION, "check": "anatomy novelty and answer rules (training.fit_scope)",
            "unusual_threshold": round(scope.novelty.unusual_threshold, 3),
            "out_of_scope_threshold": round(scope.novelty.out_of_scope_threshold, 3),
            "lung_attention_threshold": round(scope.lung_attention_threshold, 3),
            "min_top_probability": round(scope.min_top_probability, 3), "min_agreement": scope.min_agreement,
            "max_copies_below": scope.max_copies_below,
            "target_accuracy": f["target_accuracy"], "target_reached": f["target_reached"],
            "validation": f["validation"], "test": f["test"], "unseen_sources": f["unseen_sources"],
            "children": f["children"], "held_out_sources": f["held_out_sources"],
            "synthetic": {k: v["out_of_scope"] for k, v in f["synthetic"].items()},
            "synthetic_not_answered": {k: 1.0 - v["statuses"].get("answer", 0) / v["n"]
                                       for k, v in f["synthetic"].items()}}


def _shares(figures: dict) -> str:
    share = figures["status_share"]
    accuracy = figures.get("accuracy_answered")
    return (f"answer {share['answer']:.1%} / uncertain {share['uncertain']:.1%} / out of scope "
            f"{share['out_of_scope']:.1%}; answered and right {figures['answered_right']:.1%}, answered and wrong "
            f"{figures['answered_wrong']:.1%}; accuracy of answered films "
            + ("n/a" if accuracy is None else f"{accuracy:.3f}") + f" (n={figures['n']})")


def format_scope(model_id: str, scope) -> str:
    f = scope.figures
    test = f["test"]
    lines = [f"scope check of {model_id}: novelty thresholds {scope.novelty.unusual_threshold:.2f} (unusual) / "
             f"{scope.novelty.out_of_scope_threshold:.2f} (out of scope); lung-attention threshold "
             f"{scope.lung_attention_threshold:.2f}; uncertain below a calibrated top probability of "
             f"{scope.min_top_probability:.2f} or {scope.min_agreement:.0%} agreeing copies"
             + ("" if scope.max_copies_below is None else f" or more than {scope.max_copies_below} copies under that "
                "probability") + " (target accuracy of "
             f"answered validation films {f['target_accuracy']:.0%}: "
             + ("reached" if f["target_reached"] else "NOT reached, nearly nothing is answered") + ")",
             "validation split: " + _shares(f["validation"]),
             "test split: " + _shares(test),
             f"lung-attention warning: {test['lung_warning_share']:.1%} of test images; on correct answers "
             f"{test['lung_warning_on_correct'] or 0:.1%}, on wrong answers {test['lung_warning_on_wrong'] or 0:.1%}",
             "rules on the test split (share of films each fires on; the model's accuracy on those):"]
    for rule, v in test["rules"].items():
        lines.append(f"  {rule:<22} {v['fires']:.1%}  accuracy {v['accuracy_when_fired']:.3f}")
    lines.append("sources the model never trained on:" + ("" if f["unseen_sources"] else " none"))
    for source, v in f["unseen_sources"].items():
        lines.append(f"  {source:<28} {_shares(v)}")
    lines.append("children's films in the data: " + (_shares(f["children"]) if f["children"]["n"] else "none"))
    lines.append("held-out sources (AUROC against the other sources' test images; share flagged unusual / out of scope):")
    for source, v in f["held_out_sources"].items():
        lines.append(f"  {source:<28} AUROC {v['auroc']:.3f}  {v['flagged_unusual']:.0%} / {v['flagged_out_of_scope']:.0%}"
                     f"  (n={v['n']})")
    lines.append("synthetic out-of-scope inputs (share out of scope):")
    for kind, v in f["synthetic"].items():
        lines.append(f"  {kind:<34} {v['out_of_scope']:.0%} of {v['n']}  {v['statuses']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
