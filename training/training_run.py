"""One run of `python -m training.train`, step by step: prepare the data, fit, calibrate and score,
register. The command line (`training.train`) parses and checks the options and builds the recipe,
network, schedule and preprocessing; this class does the work and writes the card.
"""
from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from model.calibration import apply_temperature, fit_temperature
from model.labelled_data import CLASS_LABELS, read_dataset
from model.metrics import classification_report
from model.registry import MODEL_FILE, ModelCard, model_file, registry_root, save_entry
from training.held_out import (
    file_digest,
    held_out_block,
    held_out_trajectory,
    held_out_watch,
    lung_model_of,
    pool_subset,
    predict_subset,
    run_figures,
    scoring_sets,
    subset_inputs,
)
from training.input_pipeline import split_summary
from training.pool import load_pool, split_pool
from training.recipes import fit_classifier

SHORTCUT_NOTE = (
    "Against source shortcuts (the classes are spread unevenly over the sources): images are stretched, never "
    "letterboxed, to the square input (NIH images are all square, the others are not, so padding would reveal "
    "the source); a {crop:.0%} margin is cropped on every side to drop text markers and collimation edges; "
    "CLAHE and a per-image standardisation layer remove exposure and processing differences; training augments "
    "gamma, contrast, noise, small rotations, shifts and zoom (no left-right flip). These reduce but do not "
    "remove the source signal: check the attention inside the lungs and the per-source figures before trusting "
    "a prediction.")
LUNG_CROP_NOTE = (
    " This version also crops every image to the bounding box of its lung fields (segmented by the registry's "
    "{lung_model} model, {margin:.0%} margin) before resizing, at training and at serving time alike, so text "
    "markers, collimation edges and most of what lies outside the chest never reach the classifier.")
PRETRAINED_NOTE = (
    " The network is {arch} pretrained on ImageNet ({weights}), fine-tuned in two stages (the new head alone for "
    "{head} epochs, then {blocks} at {factor:g} times the rate, batch normalisation fixed); the gray film is "
    "repeated to three channels and scaled as the backbone expects, inside the model.")
CALIBRATION_NOTE = " Probabilities are calibrated by temperature scaling (T = {temperature:.2f}, fitted on the validation split)."
CALIBRATION_NOTE_PATTERN = re.compile(r" Probabilities are calibrated by temperature scaling \(T = [0-9.]+, fitted on the "
                                      r"validation split\)\.")


def calibration_note(calibration: dict | None) -> str:
    """The notes' sentence on calibration, from the card's `calibration` block ("" without one)."""
    return CALIBRATION_NOTE.format(temperature=calibration["temperature"]) if calibration else ""


AUGMENTATION = "rotation +-11 deg, shift +-6%, zoom -12..+8%, gamma, contrast, noise; no flips"


def headline(report: dict) -> dict:
    """The card's `metrics`: the figures every page shows first, from the internal test report."""
    return {"accuracy": report["accuracy"], "macro_auc": report["macro"]["auc"], "macro_f1": report["macro"]["f1"],
            "ece": report["calibration"]["ece"],
            "per_class": {k: {m: v[m] for m in ("precision", "recall", "f1", "auc")} for k, v in report["per_class"].items()},
            "split": "internal test"}


def lean_copy(model):
    """The model without optimizer state (a fresh, uncompiled graph holding the same weights), so
    the registry file holds only what serving needs."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def augmentation_text(recipe) -> str:
    """What the training batches went through, in words for the card."""
    parts = [AUGMENTATION]
    if recipe.photometric:
        parts.append("photometric: histogram matching to other sources, blur/sharpen, JPEG re-compression, noise, "
                     "down-and-up sampling")
    options = [(recipe.amplitude_mix, f"Fourier amplitude mixing with another source (p={recipe.amplitude_mix:g})"),
               (recipe.rand_conv, f"random convolutions (p={recipe.rand_conv:g})"),
               (recipe.mixup, f"cross-class mixup (Beta({recipe.mixup:g}, {recipe.mixup:g}))"),
               (recipe.label_smoothing, f"label smoothing {recipe.label_smoothing:g}"),
               (recipe.style_mix, f"feature-statistics mixing after the first two stages (p={recipe.style_mix:g})")]
    parts += [text for on, text in options if on]
    if recipe.average_from:
        parts.append(f"weights averaged over the epochs from {recipe.average_from} on"
                     + (" at a constant learning rate" if recipe.constant_lr else ""))
    return "; ".join(parts)


class TrainingRun:
    """The state of one training run between its steps (see the module docstring)."""

    def __init__(self, args, command: str, recipe, network, schedule, prep):
        self.args, self.command = args, command
        self.recipe, self.network, self.schedule, self.prep = recipe, network, schedule, prep
        self.root = args.registry or registry_root()
        self.split_seed = args.seed if args.split_seed is None else args.split_seed
        self.out = args.out or Path("runs") / (args.register or f"{args.arch}-{self.recipe.name()}-s{args.seed}")
        self.started = time.time()
        self.results: dict = {}

    @staticmethod
    def log(line: str) -> None:
        print(line, flush=True)

    # ------------------------------------------------------------------ data

    def prepare(self) -> None:
        """Read and decode every film once, remove the held-out sources, split by patient."""
        args = self.args
        label_map = json.loads(args.label_map.read_text(encoding="utf-8")) if args.label_map else None
        records = [r for r in read_dataset(args.data, label_map) if r.label in CLASS_LABELS]
        if args.limit:
            records = list(np.random.default_rng(args.seed).permutation(np.array(records, dtype=object))[:args.limit])
        unknown = set(args.hold_out_source) - {r.source for r in records}
        if unknown:
            raise SystemExit(f"no images of source(s) {sorted(unknown)} in {args.data}")
        (self.images, self.masks, self.ok), = load_pool(records, [self.prep], args.cache_dir,
                                                         segmenter=lung_model_of(self.prep, self.root), progress=True)
        self.records, self.held = records, set(args.hold_out_source)
        self.idx = split_pool(records, self.ok, args.split, self.split_seed, self.held)
        self.data = {name: self.subset(i) for name, i in self.idx.items()}
        self.sets = scoring_sets(records, self.ok, self.idx, self.held)
        self.log(f"recipe {self.recipe.name()} ({self.network.arch}, {self.network.image_size} px); "
                 f"train {len(self.idx['train'])}, validation {len(self.idx['validation'])}, test {len(self.idx['test'])}; "
                 f"held out {sorted(self.held) or 'none'}; {int((~self.ok).sum())} unreadable images skipped")

    def subset(self, idx: np.ndarray) -> dict:
        return pool_subset(self.records, self.images, self.masks, idx)

    # ------------------------------------------------------------------ fit

    def fit(self) -> None:
        """Train with the one fit loop, keep the run's model and history in the run folder."""
        watch = (held_out_watch(self.records, self.images, self.masks, self.sets, self.prep)
                 if self.args.watch_held_out and self.held else None)
        fitted = fit_classifier(self.network, self.data["train"], self.data["validation"], self.recipe, self.schedule,
                                log=self.log, watch=watch)
        self.model, self.history, self.explain_layer = lean_copy(fitted.model), fitted.history, fitted.explain_layer
        self.train_time = time.time() - self.started
        self.out.mkdir(parents=True, exist_ok=True)
        # Kept beside results.json (runs/ is not committed) so held-out models can be re-scored or averaged later.
        self.model.save(self.out / MODEL_FILE)

    # ------------------------------------------------------------------ score

    def calibrate(self) -> dict:
        """The temperature that makes the validation probabilities honest, and the ECE it changes."""
        raw = predict_subset(self.model, self.data["validation"], self.prep)[0]
        labels = self.data["validation"]["labels"]
        temperature = fit_temperature(labels, raw)
        before = classification_report(labels, raw, CLASS_LABELS)["calibration"]["ece"]
        after = classification_report(labels, apply_temperature(raw, temperature), CLASS_LABELS)["calibration"]["ece"]
        self.log(f"calibration: temperature {temperature:.3f}, validation ECE {before:.3f} -> {after:.3f}")
        return {"method": "temperature scaling", "temperature": temperature, "fitted_on": "validation split",
                "n": int(len(labels)), "validation_ece_before": before, "validation_ece_after": after}

    def score(self) -> None:
        """Calibrate, then score every set the run never trained on (calibrated, as served); write results.json."""
        self.calibration = self.calibrate()
        t = self.calibration["temperature"]
        raw = {name: predict_subset(self.model, self.subset(sel), self.prep)[0] for name, sel in self.sets.items()}
        probabilities = {name: apply_temperature(p, t) for name, p in raw.items()}
        self.results = self.run_header()
        self.results.update(run_figures(self.records, self.sets, probabilities, self.log))
        self.report = self.test_report(probabilities["test"], raw["test"])
        self.results["source_probe"] = self.probe()
        self.results["wall_time_s"] = round(time.time() - self.started, 1)
        self.results["history"] = self.history
        (self.out / "results.json").write_text(json.dumps(self.results, indent=2) + "\n", encoding="utf-8")
        self.log(f"wrote {self.out / 'results.json'} in {self.results['wall_time_s']:.0f} s")

    def run_header(self) -> dict:
        args = self.args
        return {"recipe": self.recipe.to_dict(), "recipe_name": self.recipe.name(), "command": self.command,
                "data": str(args.data), "data_sha256": file_digest(args.data) if Path(args.data).is_file() else None,
                "arch": args.arch, "image_size": args.image_size,
                **({"fine_tuning": self.network.fine_tuning.to_dict()} if self.network.pretrained else {}),
                "epochs_max": args.epochs, "epochs_run": len(self.history), "seed": self.split_seed,
                "init_seed": args.seed, "split": "hash(seed, patient_id)" if args.split == "hash" else "legacy",
                "held_out_sources": sorted(self.held), "train_images": len(self.idx["train"]),
                "train_wall_time_s": round(self.train_time, 1), "calibration": self.calibration}

    def test_report(self, calibrated: np.ndarray, raw: np.ndarray) -> dict:
        """The internal test report (calibrated, with per-source figures) for metrics.json."""
        from model.evaluation import evaluation_report

        test = self.data["test"]
        report = evaluation_report(test["labels"], calibrated, CLASS_LABELS, list(test["sources"]))
        report["calibration_uncalibrated"] = classification_report(test["labels"], raw, CLASS_LABELS)["calibration"]
        self.log(f"internal test (calibrated): accuracy {report['accuracy']:.3f}, macro AUC {report['macro']['auc']:.3f}, "
                 f"ECE {report['calibration']['ece']:.3f} (uncalibrated {report['calibration_uncalibrated']['ece']:.3f})")
        return report

    def probe(self) -> dict | None:
        """How well the model's pooled features tell the sources apart within a class (every source)."""
        from training.source_probe import CrossValidation, pooled_features, sample_records, source_probe

        index = {id(r): i for i, r in enumerate(self.records)}
        chosen = sample_records([r for r, good in zip(self.records, self.ok) if good], self.args.probe_per_source,
                                self.args.seed)
        if len({r.source for r in chosen}) < 2:
            return None
        sub = self.subset(np.array([index[id(r)] for r in chosen], int))
        feats = pooled_features(self.model, subset_inputs(sub, self.prep))
        probe = source_probe(feats, [r.source for r in chosen], [r.label for r in chosen],
                             [f"{r.source}/{r.patient_id}" for r in chosen],
                             min_per_source=min(30, self.args.probe_per_source),
                             cross_validation=CrossValidation(seed=self.args.seed))
        self.log(f"source probe: mean balanced accuracy {probe['mean_balanced_accuracy']}")
        return probe

    # ------------------------------------------------------------------ register

    def register(self) -> Path:
        """Write the registry entry: lean model, card (with this command), history, metrics."""
        import pandas as pd

        args = self.args
        held_out = held_out_block(args.held_out_results, self.recipe.to_dict())
        card = ModelCard(id=args.register, display_name=args.display_name or f"{args.arch} {self.recipe.name()}",
                         version=args.version, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         architecture=args.arch, labels=list(CLASS_LABELS), preprocessing=self.prep.to_dict(),
                         explain_layer=self.explain_layer, training=self.card_training(held_out),
                         metrics=headline(self.report), default=args.default, notes=self.notes(),
                         calibration=self.calibration)
        metrics = {**self.report, "source_probe": self.results.get("source_probe"), "held_out_source": held_out,
                   "within_source_covid_vs_pneumonia": self.results["within_source_covid_vs_pneumonia"]}
        folder = save_entry(self.model, card, history=pd.DataFrame(self.history), metrics=metrics, root=self.root)
        self.log(f"wrote {folder}")
        return folder

    def card_training(self, held_out: dict) -> dict:
        args = self.args
        named = {name: [self.records[i] for i in ids] for name, ids in self.idx.items()}
        summary = split_summary(named, self.split_seed)
        trajectory = held_out_trajectory(args.held_out_results or [])
        summary.update({
            "init_seed": args.seed, "split_method": args.split, "data": str(args.data), "manifest": Path(args.data).name,
            "manifest_sha256": self.results["data_sha256"], "recipe": self.recipe.to_dict(),
            "recipe_name": self.recipe.name(), "network": {"arch": args.arch, "image_size": args.image_size,
                                                          **({"fine_tuning": self.network.fine_tuning.to_dict()}
                                                             if self.network.pretrained else {})},
            "epochs_run": len(self.history), "epochs_max": args.epochs, "batch_size": args.batch_size,
            "learning_rate": args.learning_rate, "strategy": args.strategy,
            "sources": sorted({r.source for r in named["train"]}), "skipped_images": int((~self.ok).sum()),
            "wall_time_s": round(self.train_time, 1), "command": self.command, "held_out_source": held_out,
            **({"held_out_trajectory": trajectory} if trajectory else {}),
            "augmentation": augmentation_text(self.recipe),
            "within_source_covid_vs_pneumonia": self.results["within_source_covid_vs_pneumonia"]})
        lung_file = model_file(self.prep.lung_model, self.root) if self.prep.lung_crop else None
        if lung_file is not None and lung_file.is_file():  # which lung weights cropped the films
            summary["lung_model"] = {"id": self.prep.lung_model, "sha256": file_digest(lung_file)}
        return summary

    def notes(self) -> str:
        prep, recipe, tuning = self.prep, self.recipe, self.network.fine_tuning
        notes = SHORTCUT_NOTE.format(crop=prep.border_crop)
        if prep.lung_crop:
            notes += LUNG_CROP_NOTE.format(lung_model=prep.lung_model, margin=prep.lung_margin)
        if self.network.pretrained:
            weights = "Keras's download" if tuning.weights == "imagenet" else re.sub(r".*/", "", str(tuning.weights))
            blocks = "the whole backbone" if tuning.top_blocks is None else f"its top {tuning.top_blocks} blocks"
            notes += PRETRAINED_NOTE.format(arch=self.args.arch, weights=weights, head=tuning.head_epochs,
                                            blocks=blocks, factor=tuning.rate_factor)
        notes += (f" Trained with the recipe '{recipe.name()}' against the source shortcut"
                  + (" and with everything outside the dilated lung fields set to zero, at training and serving alike"
                     if recipe.lung_mask else "") + "; held-out-source figures are in the card's training block."
                  + calibration_note(self.calibration))
        return notes


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m training.train")
