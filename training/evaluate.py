"""Evaluate any registry model on any labelled manifest or folder-per-class layout.

    python -m training.evaluate --model cxr-compact-v1 --data ../shared/data/cxr [--split test] [--out report.json]

Prints precision, recall, F1, support and one-vs-rest AUC per class and the confusion matrix;
with `--out`, writes the report as JSON, with per-source figures when the data names sources.
Images that cannot be read are listed and skipped.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model.metrics import classification_report, format_report


def add_model_and_data_arguments(p: argparse.ArgumentParser, split: str) -> None:
    """`--model`, `--data`, `--split` (default `split`) and `--label-map`, as every command that runs
    a registry model on labelled data takes them."""
    p.add_argument("--model", default=None, help="registry model id (default: the registry's default)")
    p.add_argument("--data", required=True, help="manifest CSV, folder with manifest.csv, or folder-per-class layout")
    p.add_argument("--split", choices=("all", "train", "validation", "test"), default=split,
                   help="use only one part of the model's own patient split (seed from its card)")
    p.add_argument("--label-map", type=Path, help="JSON mapping folder names to labels")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    add_model_and_data_arguments(p, split="all")
    p.add_argument("--out", type=Path, help="write the report as JSON here")
    p.add_argument("--batch-size", type=int, default=32)
    return p


def select_split(records, card, split: str):
    """The records of one split, re-made with the seed and fractions the model was trained with."""
    from training.data import patient_split
    from training.splits import hash_split

    if split == "all":
        return records
    seed = int(card.training.get("seed", 42))
    if card.training.get("split_method") == "hash":  # models trained since the stable split
        return hash_split(records, seed=seed)[split]
    return patient_split(records, seed=seed)[split]


def predict_records(clf, records, batch_size: int):
    """Probabilities for every readable record; returns (kept records, probs, [(path, reason)])."""
    from model.intake import XrayInputError, load_xray

    kept, inputs, failed, chunks = [], [], [], []
    for record in records:
        try:
            inputs.append(clf.prepare(load_xray(record.path).pixels))
            kept.append(record)
        except (XrayInputError, OSError) as exc:
            failed.append((record.path, " ".join(str(exc).split())))
        if len(inputs) == batch_size:
            chunks.append(clf.predict_inputs(np.stack(inputs), batch_size))
            inputs = []
    if inputs:
        chunks.append(clf.predict_inputs(np.stack(inputs), batch_size))
    probs = np.concatenate(chunks) if chunks else np.zeros((0, len(clf.labels)))
    return kept, probs, failed


def evaluate(clf, records, batch_size: int = 32) -> dict:
    """Report on labelled records whose labels the model knows; records of other labels are counted."""
    known = [r for r in records if r.label in clf.labels]
    kept, probs, failed = predict_records(clf, known, batch_size)
    y_true = np.array([clf.labels.index(r.label) for r in kept], dtype=int)
    report = classification_report(y_true, probs, clf.labels)
    report.update({"model": clf.card.id, "version": clf.card.version,
                   "skipped": [{"path": p, "reason": r} for p, r in failed],
                   "unknown_label_images": len(records) - len(known)})
    sources = sorted({r.source for r in kept if r.source})
    if len(sources) > 1 or (sources and any(not r.source for r in kept)):
        report["per_source"] = {}
        for source in sources:
            mask = np.array([r.source == source for r in kept])
            sub = classification_report(y_true[mask], probs[mask], clf.labels)
            report["per_source"][source] = {k: sub[k] for k in ("n", "accuracy", "per_class", "macro",
                                                                  "confusion_matrix")}
    return report


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()  # TensorFlow's start-up notices are not for users.
    from model.classifier import Classifier
    from model.registry import RegistryError
    from training.data import read_dataset

    try:
        clf = Classifier.load(args.model)
        label_map = json.loads(args.label_map.read_text()) if args.label_map else None
        records = select_split(read_dataset(args.data, label_map), clf.card, args.split)
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = evaluate(clf, records, args.batch_size)
    for item in report["skipped"]:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(f"model {clf.card.id} (version {clf.card.version}) on {args.data} [{args.split}]")
    print(format_report(report))
    for source, sub in report.get("per_source", {}).items():
        print(f"  source {source}: n={sub['n']} accuracy={sub['accuracy']:.3f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
