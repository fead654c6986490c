"""Train a classifier on labelled chest X-rays and write a complete registry entry.

    python -m training.train --data ../shared/data/cxr --arch compact_cnn --model-id cxr-compact-v1

Steps: read the data, patient-level split, decode and cache arrays, train with early stopping
and a best-on-validation checkpoint, evaluate on the internal test split, write model, card,
history and metrics into the registry.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from model.evaluation import evaluation_report
from model.inputs.preprocessing import Preprocessing
from model.labelled_data import CLASS_LABELS, read_dataset
from model.metrics import format_report
from model.registry import HISTORY_FILE, ModelCard, model_file, registry_root, save_entry
from model.splits import hash_split, patient_split
from training.input_pipeline import class_weights, load_arrays, make_dataset, split_summary

DEFAULT_CACHE = Path(os.environ.get("CXR_CACHE", Path.home() / ".cache" / "cxr-dashboard"))
SHORTCUT_NOTE = (
    "Against source shortcuts (nearly all Normal images come from NIH ChestX-ray14, COVID-19 images from "
    "other collections): images are stretched, never letterboxed, to the square input (NIH images are all "
    "square, the others are not, so padding would reveal the source); a {crop:.0%} margin is cropped on every "
    "side to drop text markers and collimation edges; CLAHE and a per-image standardisation layer remove "
    "exposure and processing differences; training augments gamma, contrast, noise, small rotations, shifts "
    "and zoom (no left-right flip). These reduce but do not remove the source signal: check the attention "
    "inside the lungs and the per-source figures before trusting a prediction.")
LUNG_CROP_NOTE = (
    " This version also crops every image to the bounding box of its lung fields (segmented by the registry's "
    "{lung_model} model, {margin:.0%} margin) before resizing, at training and at serving time alike, so text "
    "markers, collimation edges and most of what lies outside the chest never reach the classifier.")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="manifest CSV, folder with manifest.csv, or folder-per-class layout")
    p.add_argument("--arch", required=True, help="architecture name (see training/architectures.py)")
    p.add_argument("--model-id", required=True, help="registry folder name for the new entry")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--split", choices=("hash", "legacy"), default="hash",
                   help="patient split: hash of (seed, patient id), stable when data are added (default); "
                        "legacy: the stratified dealing that the v1 models were trained with")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=10, help="epochs without validation improvement before stopping")
    p.add_argument("--monitor", choices=("val_auc", "val_loss"), default="val_auc",
                   help="validation figure for early stopping, the best checkpoint and learning-rate decay")
    p.add_argument("--ema", action="store_true",
                   help="keep an exponential moving average of the weights and validate, checkpoint and ship it")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--border-crop", type=float, default=0.06)
    p.add_argument("--equalize", choices=("clahe", "none"), default="clahe")
    p.add_argument("--lung-crop", action="store_true",
                   help="crop every image to its lung fields (needs a lung segmentation entry, see --lung-model)")
    p.add_argument("--lung-model", default="lungs-unet-v1", help="registry id of the lung segmentation entry")
    p.add_argument("--display-name", default=None)
    p.add_argument("--version", default="1.0")
    p.add_argument("--default", action="store_true", help="mark the new entry as the registry default")
    p.add_argument("--label-map", type=Path, help="JSON mapping folder names to labels (folder layouts)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--registry", type=Path, default=None, help="registry folder (default: CXR_REGISTRY or model/versions)")
    p.add_argument("--limit", type=int, default=None, help="use at most N images (smoke runs)")
    return p


def lung_segmenter(model_id: str, root: Path):
    """The lung model a lung-cropped version trains with: from the registry it is written to, so
    training and serving crop with the same weights."""
    from model.inputs.lungs import LungSegmenter

    return LungSegmenter.load(model_id, root)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_strategy(name: str):
    """`tf.distribute` strategy: one device, all local devices, or workers described by TF_CONFIG."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def prepare_data(args, prep: Preprocessing, segmenter=None):
    """Read, split and decode (lung-cropped `prep`: with `segmenter`); returns per-split (images,
    labels, records), summary and failures."""
    records = read_dataset(args.data, json.loads(args.label_map.read_text()) if args.label_map else None)
    records = [r for r in records if r.label in CLASS_LABELS]
    if args.limit:
        records = list(np.random.default_rng(args.seed).permutation(np.array(records, dtype=object))[:args.limit])
    splits = hash_split(records, seed=args.seed) if args.split == "hash" else patient_split(records, seed=args.seed)
    data, failures = {}, []
    for name, items in splits.items():
        images, kept, failed = load_arrays(items, prep, args.cache_dir, segmenter)
        failures.extend(failed)
        data[name] = (images, np.array([CLASS_LABELS.index(r.label) for r in kept], dtype=int), kept)
        splits[name] = kept
    summary = split_summary(splits, args.seed)
    summary["split_method"] = args.split
    return data, summary, failures


def fit(args, data, explain_holder: dict):
    """Build, compile and fit in the strategy's scope; returns (model, history DataFrame)."""
    import keras
    import pandas as pd

    from training.architectures import build_model

    strategy = make_strategy(args.strategy)
    x_train, y_train, _ = data["train"]
    weights = class_weights(y_train, len(CLASS_LABELS))
    train_ds = make_dataset(x_train, y_train, len(CLASS_LABELS), args.batch_size, True, args.seed,
                            sample_weights=np.array([weights[k] for k in y_train]))
    val_ds = make_dataset(*data["validation"][:2], len(CLASS_LABELS), args.batch_size, False)
    with strategy.scope():
        model, explain_holder["layer"] = build_model(args.arch, args.image_size, 1, len(CLASS_LABELS))
        optimizer = keras.optimizers.Adam(args.learning_rate, use_ema=args.ema, ema_momentum=0.99)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing)
        model.compile(optimizer=optimizer, loss=loss,
                      metrics=["accuracy", keras.metrics.AUC(name="auc", multi_label=True,
                                                             num_labels=len(CLASS_LABELS))])
    workdir = Path(tempfile.mkdtemp(prefix="cxr-train-"))
    # Validation AUC rather than loss by default: with ~300 validation images the loss swings with a
    # few confident mistakes while the ranking (what AUC measures) is steadier.
    mode = "max" if args.monitor == "val_auc" else "min"
    # With --ema the averaged weights are swapped in for each validation pass, so early stopping and
    # the checkpoint judge (and keep) the averaged model.
    callbacks = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if args.ema else []
    callbacks += [
        keras.callbacks.ModelCheckpoint(workdir / "best.keras", monitor=args.monitor, mode=mode, save_best_only=True),
        keras.callbacks.EarlyStopping(monitor=args.monitor, mode=mode, patience=args.patience),
        keras.callbacks.ReduceLROnPlateau(monitor=args.monitor, mode=mode, factor=0.5,
                                          patience=max(2, args.patience // 3)),
        keras.callbacks.CSVLogger(workdir / HISTORY_FILE),
    ]
    # shuffle=False: the tf.data pipeline shuffles itself (Keras ignores the flag for a dataset, with a warning).
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, callbacks=callbacks, shuffle=False,
              verbose=1 if sys.stdout.isatty() else 2)
    best = keras.saving.load_model(workdir / "best.keras", compile=False, safe_mode=True)
    return best, pd.read_csv(workdir / HISTORY_FILE)


def evaluate_split(model, images, labels, records, batch_size: int = 64) -> dict:
    """Internal test-split report, with per-source figures."""
    probabilities = model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0)
    return evaluation_report(labels, probabilities, CLASS_LABELS, [r.source for r in records])


def headline(report: dict) -> dict:
    return {"accuracy": report["accuracy"], "macro_auc": report["macro"]["auc"], "macro_f1": report["macro"]["f1"],
            "ece": report["calibration"]["ece"],
            "per_class": {k: {m: v[m] for m in ("precision", "recall", "f1", "auc")} for k, v in report["per_class"].items()},
            "split": "internal test"}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.time()
    prep = Preprocessing(image_size=args.image_size, channels=1, resize="stretch",
                         border_crop=args.border_crop, equalize=args.equalize, lung_crop=args.lung_crop,
                         lung_model=args.lung_model if args.lung_crop else "")
    root = args.registry or registry_root()
    segmenter = lung_segmenter(args.lung_model, root) if args.lung_crop else None
    data, summary, failures = prepare_data(args, prep, segmenter)
    for path, reason in failures:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    explain = {}
    model, history = fit(args, data, explain)
    report = evaluate_split(model, *data["test"])
    print(format_report(report))
    summary.update({"data": str(args.data), "skipped_images": len(failures), "epochs_run": int(len(history)),
                    "epochs_max": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                    "strategy": args.strategy, "ema": args.ema, "label_smoothing": args.label_smoothing,
                    "monitor": args.monitor, "patience": args.patience, "wall_time_s": round(time.time() - started, 1),
                    "sources": sorted({r.source for split in data.values() for r in split[2]}),
                    "augmentation": "rotation +-11 deg, shift +-6%, zoom -12..+8%, gamma, contrast, noise; no flips",
                    "class_weights": "inverse frequency"})
    if segmenter is not None:
        summary["lung_model"] = {"id": args.lung_model, "sha256": file_digest(model_file(args.lung_model, root))}
    card = ModelCard(
        id=args.model_id, display_name=args.display_name or f"{args.arch} ({args.model_id})", version=args.version,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), architecture=args.arch,
        labels=list(CLASS_LABELS), preprocessing=prep.to_dict(), explain_layer=explain["layer"],
        training=summary, metrics=headline(report), default=args.default,
        notes=SHORTCUT_NOTE.format(crop=args.border_crop)
        + (LUNG_CROP_NOTE.format(lung_model=args.lung_model, margin=prep.lung_margin) if args.lung_crop else ""))
    folder = save_entry(model, card, history=history, metrics=report, root=root)
    print(f"wrote {folder} in {summary['wall_time_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
