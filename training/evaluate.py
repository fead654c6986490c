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

from model.evaluation import evaluate
from model.metrics import format_report
from model.splits import split_records


def add_model_and_data_arguments(p: argparse.ArgumentParser, split: str) -> None:
    """`--model`, `--data`, `--split` (default `split`) and `--label-map`, as every command that runs
    a registry model on labelled data takes them."""
    p.add_argument("--model", default=None, help="registry model id (default: the registry's default)")
    p.add_argument("--data", required=True, help="manifest CSV, folder with manifest.csv, or folder-per-class layout")
    p.add_argument("--split", choices=("all", "train", "validation", "test"), default=split,
                   help="use only one part of the model's own patient split (seed from its card)")
    p.add_argument("--label-map", type=Path, help="JSON mapping folder names to labels")
    p.add_argument("--registry", type=Path, default=None, help="registry folder (default: CXR_REGISTRY or model/registry)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    add_model_and_data_arguments(p, split="all")
    p.add_argument("--out", type=Path, help="write the report as JSON here")
    p.add_argument("--batch-size", type=int, default=32)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()  # TensorFlow's start-up notices are not for users.
    from model.classifier import Classifier
    from model.data import read_dataset
    from model.registry import RegistryError

    try:
        clf = Classifier.load(args.model, args.registry)
        label_map = json.loads(args.label_map.read_text()) if args.label_map else None
        records = split_records(read_dataset(args.data, label_map), clf.card, args.split)
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
