"""Evaluate one or several registry models on the same labelled images.

    python -m training.evaluate --model cxr-compact-v1 --data ../shared/data/cxr [--split test] [--out report.json]
    python -m training.evaluate --model cxr-resnet-v1 --model cxr-ensemble-lungs-v1 --data FOLDER \\
        [--bootstrap 1000] [--split unseen] [--out report.json]

Data: a manifest CSV, a folder holding `manifest.csv`, or a folder per class (COVID/, Normal/,
Viral Pneumonia/, ...; folders whose name is no known class, e.g. Tuberculosis/, are kept under
their own name). Every model is scored on the same images (an image any model cannot read is
skipped for all and listed). Per model: accuracy, macro and per-class ROC AUC with 95% bootstrap
intervals (images resampled, seeded), precision/recall/F1, confusion matrix, ECE, per-source
figures, and what the model called images of labels it does not know. With two or more models: a
paired bootstrap of the macro AUC difference of each pair. The computing is `model.evaluation`.

JSON (`--out`): with one model, the model's report itself (as before, plus `auc_ci` intervals and
`unknown_labels`); with several, `{"models": {id: report}, "comparisons": [...], "n_images", ...}`.
Exit 0 when at least one image was scored, 1 when none, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from model.metrics import format_report
from model.runtime import doc_summary

SPLITS = ("all", "train", "validation", "test")


def add_model_and_data_arguments(p: argparse.ArgumentParser, split: str, several_models: bool = False) -> None:
    """`--model`, `--data`, `--split` (default `split`) and `--label-map`, as every command that runs
    a registry model on labelled data takes them (`several_models`: `--model` may be repeated and
    `--split` also takes "unseen")."""
    if several_models:
        p.add_argument("--model", action="append", default=None,
                       help="registry model id; repeat to compare models on the same images (default: the registry's default)")
    else:
        p.add_argument("--model", default=None, help="registry model id (default: the registry's default)")
    p.add_argument("--data", required=True, help="manifest CSV, folder with manifest.csv, or folder-per-class layout")
    choices = (*SPLITS, "unseen") if several_models else SPLITS
    p.add_argument("--split", choices=choices, default=split,
                   help=("use only one part of the models' own patient split (seed from each card; with several "
                         "models, images in that part for every model; 'unseen': images no model trained on)")
                   if several_models else "use only one part of the model's own patient split (seed from its card)")
    p.add_argument("--label-map", type=Path, help="JSON mapping folder names to labels")
    p.add_argument("--registry", type=Path, default=None, help="registry folder (default: CXR_REGISTRY or model/versions)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=doc_summary(__doc__))
    add_model_and_data_arguments(p, split="all", several_models=True)
    p.add_argument("--out", type=Path, help="write the report as JSON here")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for the 95%% intervals (0: none; default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--card-intervals", action="store_true",
                   help="store the 95%% intervals of the accuracy, the macro and per-class AUC and the calibration "
                        "error in the model's own metrics.json, which the Performance page shows beside its "
                        "figures; one model, --split test, and only when this run reproduces the stored figures")
    return p


# How far a rerun's figures may be from the stored ones for its intervals to be stored with them (float32
# arithmetic differs in the 5th decimal between runs; any real difference is far larger).
REPRODUCED = 5e-4


def card_intervals(stored: dict, report: dict, command: str) -> dict:
    """The `intervals` entry of a model's metrics.json from a rerun of its test split (`report`, as
    `model.evaluation.model_report` makes it), or ValueError naming the figure that does not match the
    stored report (`stored`): intervals are stored only beside the figures they were computed around."""
    checks = {"images": (stored.get("n"), report.get("n")),
              "accuracy": (stored.get("accuracy"), report.get("accuracy")),
              "macro AUC": ((stored.get("macro") or {}).get("auc"), report["macro"].get("auc")),
              "calibration error": ((stored.get("calibration") or {}).get("ece"), report["calibration"].get("ece"))}
    for name, (before, now) in checks.items():
        if before is None or now is None or abs(float(before) - float(now)) > REPRODUCED:
            raise ValueError(f"this run's {name} ({now}) is not the stored one ({before}): its intervals would "
                             "not belong to the figures on the card, so nothing was stored")
    return {"accuracy": report.get("accuracy_ci"), "macro_auc": report["macro"].get("auc_ci"),
            "per_class_auc": {label: row.get("auc_ci") for label, row in report["per_class"].items()},
            "ece": report["calibration"].get("ece_ci"), "n": report["n"], **report["bootstrap"],
            "command": command}


class ProgressBar:
    """A text progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise."""

    def __init__(self, stream=None, width: int = 30):
        self.stream, self.width, self.last, self.start = stream or sys.stderr, width, -1, time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        total = max(total, 1)
        filled = int(self.width * done / total)
        line = (f"scoring [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} images "
                f"{time.monotonic() - self.start:.0f}s")
        if getattr(self.stream, "isatty", lambda: False)():
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
        else:
            step = int(10 * done / total)
            if step == self.last and done < total:
                return
            self.last = step
            self.stream.write(line + "\n")
        self.stream.flush()


def _interval(values) -> str:
    return "" if not values else f" [95% CI {values[0]:.3f}-{values[1]:.3f}]"


def print_model(report: dict) -> None:
    print(f"\nmodel {report['model']} (version {report['version']}): {report['n_images']} images scored, "
          f"{report['n']} with a label it knows")
    print(format_report(report))
    macro = report["macro"]
    if macro.get("auc") is not None:
        print(f"macro AUC {macro['auc']:.3f}{_interval(macro.get('auc_ci'))}")
    for label, row in report["per_class"].items():
        if row.get("auc") is not None:
            print(f"  {label} AUC {row['auc']:.3f}{_interval(row.get('auc_ci'))}")
    for source, sub in report.get("per_source", {}).items():
        auc = sub["macro"].get("auc")
        auc_text = "n/a" if auc is None else f"{auc:.3f}{_interval(sub['macro'].get('auc_ci'))}"
        print(f"  source {source}: n={sub['n']} accuracy={sub['accuracy']:.3f} macro AUC {auc_text}")
    for label, row in report.get("unknown_labels", {}).items():
        called = ", ".join(f"{name} {count}" for name, count in row["predicted"].items())
        print(f"  label {label!r} is not one of this model's classes ({row['n']} images): called {called}")


def print_comparisons(report: dict) -> None:
    for pair in report["comparisons"]:
        if pair["difference"] is None:
            print(f"\n{pair['b']} vs {pair['a']}: macro AUC difference undefined on these images")
            continue
        interval = pair["interval"]
        ci = "" if interval is None else f", 95% CI {interval[0]:+.3f} to {interval[1]:+.3f}"
        share = "" if pair["share_b_better"] is None else (f"; {pair['b']} higher in {pair['share_b_better']:.0%} "
                                                          f"of {pair['resamples']} resamples")
        print(f"\n{pair['b']} minus {pair['a']}: macro AUC {pair['difference']:+.3f}{ci} on the same "
              f"{pair['n']} images{share}")
    for source, by_model in report.get("within_source", {}).items():
        figures = ", ".join(f"{m} {v['auc']:.3f}" if v["auc"] is not None else f"{m} n/a" for m, v in by_model.items())
        n = next(iter(by_model.values()))["n"]
        print(f"within {source}, COVID-19 vs Pneumonia AUC (n={n}): {figures}")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.bootstrap < 0:
        print("error: --bootstrap must be 0 or more", file=sys.stderr)
        return 2
    if args.card_intervals and (len(args.model or [None]) != 1 or args.split != "test" or args.bootstrap < 1):
        print("error: --card-intervals takes one model, --split test and --bootstrap of 1 or more (the card's "
              "figures are its test split's)", file=sys.stderr)
        return 2
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()  # TensorFlow's start-up notices are not for users.
    from model.classifier import Classifier
    from model.evaluation import Progress, Resampling, Scoring, evaluate_models
    from model.labelled_data import read_dataset
    from model.registry import RegistryError
    from model.splits import common_records

    model_ids = args.model or [None]
    try:
        classifiers = []
        for model_id in model_ids:
            clf = Classifier.load(model_id, args.registry)
            if any(other.card.id == clf.card.id for other in classifiers):
                raise ValueError(f"model {clf.card.id!r} is named twice")
            classifiers.append(clf)
        label_map = json.loads(args.label_map.read_text()) if args.label_map else None
        records, notes = common_records(read_dataset(args.data, label_map, keep_unknown=True),
                                        [clf.card for clf in classifiers], args.split)
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    report = evaluate_models(classifiers, records, Scoring(args.batch_size), Resampling(args.bootstrap, args.seed),
                             progress=Progress(images=ProgressBar()))
    for item in report["skipped"]:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    ids = ", ".join(clf.card.id for clf in classifiers)
    print(f"{ids} on {args.data} [{args.split}]: {report['n_images']} images scored, {len(report['skipped'])} skipped")
    if report["n_images"] == 0:
        print("error: no image could be scored", file=sys.stderr)
        return 1
    for model_report in report["models"].values():
        print_model(model_report)
    print_comparisons(report)
    if args.card_intervals:
        from model.registry import METRICS_FILE, read_metrics, write_report

        clf = classifiers[0]
        stored = read_metrics(clf.card.id, args.registry)
        command = "python -m training.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
        try:
            intervals = card_intervals(stored, report["models"][clf.card.id], command)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        path = write_report(clf.card.id, METRICS_FILE, {**stored, "intervals": intervals}, args.registry)
        print(f"stored the 95% intervals in {path}")
    if args.out:
        payload = dict(report, split=args.split, data=str(args.data))
        if len(classifiers) == 1:  # One model: its report itself, as this command always wrote.
            payload = dict(next(iter(report["models"].values())), skipped=report["skipped"], split=args.split,
                           data=str(args.data))
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
