"""Held-out-source evaluation and anti-shortcut training recipes.

    python -m training.crossval --data ../shared/data/cxr/manifest-v2.csv \
        --hold-out-source openist-normal covid-radiography-db --image-size 128 --epochs 15 \
        --balance source_label --photometric --lung-mask --out runs/xval-NAME

Trains with every image of the named source(s) removed (patient split by hash of (seed, patient id),
`model.splits`), then reports on each held-out source alone: per-class recall, what the model
called the images (counts per predicted class) and mean confidence; plus the internal test split
of the remaining sources (macro AUC, per source), the within-source COVID-19 vs Pneumonia AUC in
ieee8023-covid-chestxray and the source probe (`training.source_probe`). Results go to
OUT/results.json. With no held-out source and `--register ID` the run writes a registry entry
(the way to ship a recipe; `--held-out-results` copies earlier held-out figures into its card).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from model.inputs.preprocessing import Preprocessing
from model.labelled_data import CLASS_LABELS, read_dataset
from model.metrics import classification_report, roc_auc
from model.registry import MODEL_FILE
from model.splits import hash_split
from training.pool import lung_inputs
from training.recipes import Recipe, train_recipe

WITHIN_SOURCE = "ieee8023-covid-chestxray"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.crossval", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="manifest CSV with a source column")
    p.add_argument("--hold-out-source", nargs="*", default=[], metavar="SOURCE",
                   help="source(s) removed from training and reported on alone")
    p.add_argument("--arch", default="compact_cnn")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--patience", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--split-seed", type=int, default=None,
                   help="seed of the patient split (default: --seed); runs that differ only in --seed then share "
                        "their test patients and can be averaged (training.crossval_average, training.ensemble)")
    p.add_argument("--balance", choices=("label", "source_label"), default="label")
    p.add_argument("--photometric", action="store_true", help="photometric augmentation that makes sources alike")
    p.add_argument("--lung-mask", action="store_true", help="zero outside the dilated lung fields (also at serving)")
    p.add_argument("--lung-equalize", action="store_true",
                   help="with --lung-mask: histogram equalisation inside the lung field (also at serving)")
    p.add_argument("--mix", type=float, default=0.0, help="probability of blending with a same-class image of another source")
    p.add_argument("--contrasts", choices=["all", "within_source"], default="all",
                   help="within_source: learn normal vs abnormal and COVID-19 vs Pneumonia only among films of "
                        "one source (sources of one class teach nothing)")
    p.add_argument("--select", choices=["macro_auc", "within_source"], default="macro_auc",
                   help="checkpoint choice on validation: macro AUC, or the mean AUC inside each source")
    p.add_argument("--select-after", type=int, default=0, metavar="EPOCH",
                   help="burn-in: keep no checkpoint from before this epoch and start patience and learning-rate "
                        "halving only then (a noisy score can otherwise freeze the weights of a lucky first epoch)")
    p.add_argument("--amplitude-mix", type=float, default=0.0,
                   help="probability of giving an image the low-frequency Fourier amplitude of another source's image")
    p.add_argument("--style-mix", type=float, default=0.0, metavar="P",
                   help="probability a batch mixes early feature statistics across films (MixStyle; compact_cnn)")
    p.add_argument("--rand-conv", type=float, default=0.0, metavar="P",
                   help="probability a batch passes through a random convolution (RandConv)")
    p.add_argument("--average-from", type=int, default=0, metavar="EPOCH",
                   help="ship the mean of the weights of every epoch from EPOCH to the end of training (stochastic "
                        "weight averaging, as SWAD does for domain generalisation) instead of the best checkpoint")
    p.add_argument("--constant-lr", action="store_true",
                   help="with --average-from: never halve the learning rate (SWA keeps it constant while it "
                        "averages, so the averaged epochs spread further)")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="cross-class mixup: blend each film and its target with another film of the batch, the "
                        "share drawn from Beta(ALPHA, ALPHA) (0: off; 0.2-0.4 usual)")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="share of each target spread evenly over the classes (0: off)")
    p.add_argument("--init-from", default="", metavar="MODEL_KERAS",
                   help="start from the weights of a saved model's same-named layers, e.g. the lung-field U-Net's "
                        "encoder (model/versions/lungs-unet-v1/model.keras with --arch lung_encoder_cnn)")
    p.add_argument("--freeze-init", action="store_true",
                   help="with --init-from: keep the copied layers fixed and train only the rest")
    p.add_argument("--dann", type=float, default=0.0, help="weight of a gradient-reversed source head (0: off)")
    p.add_argument("--watch-held-out", action="store_true",
                   help="diagnostic: score the held-out sources after every epoch and write the figures into the "
                        "run's history (watch_*); they never choose the checkpoint or stop training")
    p.add_argument("--probe-per-source", type=int, default=200)
    p.add_argument("--out", type=Path, required=True, help="folder for results.json, history.csv and model.keras")
    p.add_argument("--register", default=None, metavar="MODEL_ID", help="write a registry entry (no held-out source)")
    p.add_argument("--default", action="store_true", help="with --register: make it the registry default")
    p.add_argument("--display-name", default=None)
    p.add_argument("--held-out-results", type=Path, nargs="*", default=[],
                   help="results.json files of held-out runs of the same recipe, copied into the card")
    p.add_argument("--registry", type=Path, default=None)
    p.add_argument("--evaluate-model", default=None, metavar="MODEL_ID",
                   help="no training: report an existing registry model on the --hold-out-source sources "
                        "(only meaningful for sources it never trained on)")
    p.add_argument("--cache-dir", type=Path, default=None, help="array cache (default: the training cache)")
    p.add_argument("--limit", type=int, default=None, help="use at most N images (smoke runs)")
    return p


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def held_out_report(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """What a model called the images of one source: recall per present class, counts, confidence."""
    pred = np.argmax(probabilities, axis=1)
    out = {"n": len(labels),
           "called": {c: int((pred == k).sum()) for k, c in enumerate(CLASS_LABELS)},
           "called_fraction": {c: float(np.mean(pred == k)) if len(pred) else None for k, c in enumerate(CLASS_LABELS)},
           "recall": {c: float(np.mean(pred[labels == k] == k)) for k, c in enumerate(CLASS_LABELS) if np.any(labels == k)},
           "mean_confidence": float(probabilities.max(axis=1).mean()) if len(pred) else None,
           "mean_true_class_probability": float(probabilities[np.arange(len(labels)), labels].mean()) if len(pred) else None}
    return out


def held_out_separation(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """How well a model tells apart the classes of films from sources it never trained on, whatever
    its bias: for each pair of classes present among those films (pooled over held-out sources), the
    AUC of log(p_a / p_b) with class a positive, and `best_both`, the largest share that both classes
    could have called right in a choice between the two if the threshold were moved after the fact
    (max over thresholds of min(recall a, recall b)). Unlike the called-right shares, neither depends
    on where an unfamiliar source happens to land between two classes, so they vary less from run to
    run; `best_both` below a target share means no change of bias or threshold can reach it."""
    labels = np.asarray(labels, int)
    present = [k for k in range(len(CLASS_LABELS)) if np.any(labels == k)]
    out = {}
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            sel = (labels == a) | (labels == b)
            p = np.clip(np.asarray(probabilities, np.float64)[sel], 1e-12, 1.0)
            score, positive = np.log(p[:, a]) - np.log(p[:, b]), labels[sel] == a
            cuts = np.unique(score)
            recall_a = np.array([np.mean(score[positive] >= t) for t in cuts])
            recall_b = np.array([np.mean(score[~positive] < t) for t in cuts])
            best = int(np.argmax(np.minimum(recall_a, recall_b)))
            out[f"{CLASS_LABELS[a]} vs {CLASS_LABELS[b]}"] = {
                "auc": roc_auc(positive, score), "best_both": float(min(recall_a[best], recall_b[best])),
                "n": {CLASS_LABELS[a]: int(positive.sum()), CLASS_LABELS[b]: int((~positive).sum())}}
    return out


def within_source_auc(labels: np.ndarray, probabilities: np.ndarray, positive: str = "COVID-19",
                      negative: str = "Pneumonia") -> dict:
    """AUC of positive vs negative among images of those two classes, score p_pos / (p_pos + p_neg)."""
    pi, ni = CLASS_LABELS.index(positive), CLASS_LABELS.index(negative)
    sel = (labels == pi) | (labels == ni)
    score = probabilities[sel, pi] / np.maximum(probabilities[sel, pi] + probabilities[sel, ni], 1e-12)
    return {"auc": roc_auc(labels[sel] == pi, score), "n_pos": int((labels[sel] == pi).sum()),
            "n_neg": int((labels[sel] == ni).sum())}


def held_out_block(paths, recipe: dict | None = None) -> dict:
    """The card's `training.held_out_source`: per source, the figures of held-out runs (results.json
    of `training.crossval` or `training.crossval_average`) with where they come from. The first run
    naming a source gives its headline figures; when several runs hold it out (repeats of one
    recipe), every run's recall is listed under "repeats", so the run-to-run spread travels with
    the headline. Runs that held out the source alone and runs that held out several sources at
    once are both repeats, each with its own `trained_without` and calls. A run of another recipe
    than `recipe` is said on stderr, not refused."""
    held_out = {}
    for path in paths:
        other = json.loads(Path(path).read_text(encoding="utf-8"))
        if recipe is not None and "average_of" not in other and other.get("recipe") != recipe:
            print(f"warning: {path} used another recipe ({other.get('recipe_name')})", file=sys.stderr)
        for source, figures in other["held_out"].items():
            label = next(iter(figures.get("recall") or {}), None)
            # The run's separation figures for pairs involving this source's class (other held-out sources).
            separation = {pair: values for pair, values in (other.get("held_out_separation") or {}).items()
                          if label is not None and label in pair.split(" vs ")}
            repeat = {"run": str(path), "recall": next(iter((figures.get("recall") or {}).values()), None),
                      "seed": other.get("seed"), "init_seed": other.get("init_seed", other.get("seed")),
                      # what the run left out (one source, or several at once) and what it called them:
                      # runs of different settings are shown apart (`model.present.shortcut_tables.held_out_table`)
                      "trained_without": _trained_without(other),
                      **{k: figures[k] for k in ("n", "called_fraction", "mean_confidence") if k in figures},
                      **({"separation": {pair: {k: v[k] for k in ("auc", "best_both")}
                                         for pair, v in separation.items()}} if separation else {})}
            if source in held_out:
                held_out[source]["repeats"].append(repeat)
                continue
            held_out[source] = {**figures, "run": str(path), "recipe": other.get("recipe_name"),
                                "image_size": other.get("image_size"), "epochs_run": other.get("epochs_run"),
                                "trained_without": _trained_without(other), "repeats": [repeat],
                                **({"separation": separation} if separation else {})}
    return held_out


def _trained_without(results: dict) -> list[str]:
    """The sources a held-out run never trained on: those it held out or, for an already trained
    version scored with `--evaluate-model`, every scored source it had not seen."""
    if results.get("held_out_sources") is not None:
        return list(results["held_out_sources"])
    return sorted(set(results.get("held_out") or {}) - set(results.get("warning_seen_sources") or []))


def _watch_key(pair: str) -> str:
    """The history-column stem of a class pair: "COVID-19 vs Normal" -> "covid_vs_normal"."""
    return pair.replace("-19", "").replace(" vs ", "_vs_").lower()


def held_out_trajectory(paths) -> dict | None:
    """The card's `training.held_out_trajectory`: from the first results file whose history was
    watched (`--watch-held-out`), per epoch the internal validation AUC beside the held-out figures
    (separation of each pair of classes, share of each source called right). It shows when in
    training a recipe learns the sources rather than the findings. None when no run was watched."""
    for path in paths:
        other = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = [row for row in other.get("history") or [] if any(k.startswith("watch_") for k in row)]
        if not rows:
            continue
        sources = other.get("held_out_sources") or []
        pairs = list(other.get("held_out_separation") or {})
        epochs = []
        for row in rows:
            entry = {"epoch": row["epoch"], "val_auc": row.get("val_auc"), "separation": {}, "called_right": {}}
            for pair in pairs:
                key = _watch_key(pair)
                entry["separation"][pair] = {"auc": row.get(f"watch_{key}_auc"),
                                             "best_both": row.get(f"watch_{key}_best_both")}
            for source in sources:
                entry["called_right"][source] = row.get(f"watch_{source}_called_right")
            epochs.append(entry)
        return {"run": str(path), "recipe": other.get("recipe_name"), "trained_without": sources,
                "image_size": other.get("image_size"), "epochs": epochs,
                **({"average_from": other["recipe"]["average_from"]}
                   if (other.get("recipe") or {}).get("average_from") else {})}
    return None


def scoring_sets(records, ok, idx: dict, held) -> dict:
    """Indices a run is scored on: each held-out source alone ("held:SOURCE"), the internal test
    split ("test") and the within-source collection's validation + test images ("within"; the test
    split holds few of its pneumonias). None of them was trained on."""
    sets = {f"held:{source}": np.array([i for i, r in enumerate(records) if r.source == source and ok[i]], int)
            for source in sorted(held)}
    sets["test"] = np.asarray(idx["test"], int)
    vt = np.concatenate([idx["validation"], idx["test"]]).astype(int)
    sets["within"] = vt[np.array([records[i].source == WITHIN_SOURCE for i in vt], bool)]
    return sets


def run_figures(records, sets: dict, probabilities: dict, log=print) -> dict:
    """held_out, internal_test and within_source_covid_vs_pneumonia of a run (or an average of
    runs) from its probabilities on each of `scoring_sets`."""
    def labels(name):
        return np.array([CLASS_LABELS.index(records[i].label) for i in sets[name]], int)

    out = {"held_out": {}}
    for name in sets:
        if name.startswith("held:"):
            out["held_out"][name[5:]] = held_out_report(labels(name), probabilities[name])
            log(f"held out {name[5:]}: {json.dumps(out['held_out'][name[5:]])}")
    held_sets = [name for name in sets if name.startswith("held:")]
    if held_sets:
        separation = held_out_separation(np.concatenate([labels(name) for name in held_sets]),
                                         np.concatenate([probabilities[name] for name in held_sets]))
        if separation:
            out["held_out_separation"] = separation
            log(f"held-out separation: {json.dumps(separation)}")
    test_labels, test_probs = labels("test"), probabilities["test"]
    report = classification_report(test_labels, test_probs, CLASS_LABELS)
    out["internal_test"] = {"n": len(test_labels), "macro_auc": report["macro"]["auc"],
                            "accuracy": report["accuracy"], "macro_f1": report["macro"]["f1"],
                            "per_class_auc": {c: report["per_class"][c]["auc"] for c in CLASS_LABELS}}
    m = np.array([records[i].source == WITHIN_SOURCE for i in sets["test"]], bool)
    out["within_source_covid_vs_pneumonia"] = {WITHIN_SOURCE: {
        "test": within_source_auc(test_labels[m], test_probs[m]),
        "validation+test": within_source_auc(labels("within"), probabilities["within"])}}
    log(f"internal test: {json.dumps(out['internal_test'])}")
    log(f"within source: {json.dumps(out['within_source_covid_vs_pneumonia'])}")
    return out


def held_out_watch(records, images, masks, sets: dict, prep):
    """A `train_recipe` watch for diagnostics: after each epoch, the held-out separation (AUC and
    best share of both) and each held-out source's share called its own label. It shows when in
    training the model learns the sources rather than the findings; it must never select anything."""
    held_sets = [name for name in sets if name.startswith("held:")]
    index = np.concatenate([sets[name] for name in held_sets]).astype(int)
    held = _subset(records, images, masks, index)
    x = lung_inputs(held["images"], held["masks"], prep.lung_mask, prep.lung_equalize)

    def watch(model) -> dict:
        probabilities = model.predict(x, batch_size=64, verbose=0)
        row = {}
        for pair, figures in held_out_separation(held["labels"], probabilities).items():
            key = _watch_key(pair)
            row[f"watch_{key}_auc"], row[f"watch_{key}_best_both"] = figures["auc"], figures["best_both"]
        called = probabilities.argmax(axis=1)
        for source in sorted(set(held["sources"].tolist())):
            here = held["sources"] == source
            row[f"watch_{source}_called_right"] = float(np.mean(called[here] == held["labels"][here]))
        return row

    return watch


def _subset(records, images, masks, idx):
    return {"images": images[idx], "masks": None if masks is None else masks[idx],
            "labels": np.array([CLASS_LABELS.index(records[i].label) for i in idx], int),
            "sources": np.array([records[i].source for i in idx])}


def _inputs(subset, prep):
    """Model inputs of a subset of the cached pool, finished as `prep` says (lung mask, equalisation)."""
    return lung_inputs(subset["images"], subset["masks"], prep.lung_mask, prep.lung_equalize)


def _predict(model, subset, prep):
    """Probabilities (and the inputs) of a subset of the cached pool, finished as `prep` says."""
    x = _inputs(subset, prep)
    return model.predict(x, batch_size=64, verbose=0), x


def lung_model_of(prep, root):
    """The lung model a lung-cropped preprocessing names, from the registry the run writes to."""
    from model.inputs.lungs import LungSegmenter

    return LungSegmenter.load(prep.lung_model, root) if prep.lung_crop else None


def evaluate_existing(args, argv=None) -> int:
    """Held-out figures of an already trained registry model on sources it never saw."""
    from model.registry import load_model, read_card, registry_root
    from training.pool import load_pool
    from training.train import DEFAULT_CACHE

    root = args.registry or registry_root()
    card = read_card(args.evaluate_model, root)
    trained_on = set(card.training.get("sources", []))
    records = [r for r in read_dataset(args.data) if r.label in CLASS_LABELS and r.source in set(args.hold_out_source)]
    seen = sorted(set(args.hold_out_source) & trained_on)
    (images, masks, ok), = load_pool(records, [card.prep], args.cache_dir or DEFAULT_CACHE,
                                     segmenter=lung_model_of(card.prep, root))
    model = load_model(args.evaluate_model, root)
    results = {"model": args.evaluate_model, "command": "python -m training.crossval " + " ".join(argv or sys.argv[1:]),
               "data": str(args.data), "data_sha256": file_digest(args.data),
               "trained_on_sources": sorted(trained_on), "warning_seen_sources": seen,
               "held_out_sources": sorted(set(args.hold_out_source) - trained_on), "held_out": {}}
    pooled = []
    for source in sorted(set(args.hold_out_source)):
        sel = np.array([i for i, r in enumerate(records) if r.source == source and ok[i]], int)
        probs, _ = _predict(model, _subset(records, images, masks, sel), card.prep)
        labels = np.array([CLASS_LABELS.index(records[i].label) for i in sel], int)
        results["held_out"][source] = held_out_report(labels, probs)
        pooled.append((labels, probs))
        print(f"{args.evaluate_model} on {source}: {json.dumps(results['held_out'][source])}", flush=True)
    separation = held_out_separation(np.concatenate([lab for lab, _ in pooled]), np.concatenate([p for _, p in pooled]))
    if separation:
        results["held_out_separation"] = separation
        print(f"{args.evaluate_model} held-out separation: {json.dumps(separation)}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.time()
    from model.registry import ModelCard, registry_root, save_entry
    from training.pool import load_pool
    from training.source_probe import pooled_features, sample_records, source_probe
    from training.train import DEFAULT_CACHE, LUNG_CROP_NOTE, SHORTCUT_NOTE, headline

    if args.register and args.hold_out_source:
        raise SystemExit("--register trains on every source: drop --hold-out-source")
    if args.evaluate_model:
        return evaluate_existing(args, argv)
    if args.lung_equalize and not args.lung_mask:
        raise SystemExit("--lung-equalize needs --lung-mask")
    recipe = Recipe(balance=args.balance, photometric=args.photometric, lung_mask=args.lung_mask, mix=args.mix,
                    dann=args.dann, lung_equalize=args.lung_equalize, amplitude_mix=args.amplitude_mix,
                    select=args.select, contrasts=args.contrasts, select_after=args.select_after,
                    style_mix=args.style_mix, rand_conv=args.rand_conv, average_from=args.average_from,
                    constant_lr=args.constant_lr, mixup=args.mixup, label_smoothing=args.label_smoothing,
                    init_from=args.init_from, freeze_init=args.freeze_init)
    try:
        recipe.check()
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if args.init_from and not Path(args.init_from).is_file():
        raise SystemExit(f"--init-from: no such model file {args.init_from}")
    records = [r for r in read_dataset(args.data) if r.label in CLASS_LABELS]
    if args.limit:
        records = list(np.random.default_rng(args.seed).permutation(np.array(records, dtype=object))[:args.limit])
    unknown = set(args.hold_out_source) - {r.source for r in records}
    if unknown:
        raise SystemExit(f"no images of source(s) {sorted(unknown)} in {args.data}")
    prep = Preprocessing(image_size=args.image_size, channels=1, resize="stretch", border_crop=0.06, equalize="clahe",
                         lung_crop=True, lung_model="lungs-unet-v1", lung_mask=args.lung_mask,
                         lung_equalize=args.lung_equalize)
    (images, masks, ok), = load_pool(records, [prep], args.cache_dir or DEFAULT_CACHE,
                                     segmenter=lung_model_of(prep, args.registry or registry_root()))
    index = {id(r): i for i, r in enumerate(records)}
    held = set(args.hold_out_source)
    split_seed = args.seed if args.split_seed is None else args.split_seed
    splits = hash_split([r for r, good in zip(records, ok) if good and r.source not in held], seed=split_seed)
    idx = {name: np.array([index[id(r)] for r in items], int) for name, items in splits.items()}
    data = {name: _subset(records, images, masks, i) for name, i in idx.items()}
    print(f"recipe {recipe.name()}; train {len(idx['train'])}, validation {len(idx['validation'])}, "
          f"test {len(idx['test'])}; held out {sorted(held) or 'none'}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    log_lines = []

    def log(line):
        print(line, flush=True)
        log_lines.append(line)

    sets = scoring_sets(records, ok, idx, held)
    watch = held_out_watch(records, images, masks, sets, prep) if args.watch_held_out and held else None
    model, history, explain = train_recipe(args.arch, args.image_size, data["train"], data["validation"], recipe,
                                           epochs=args.epochs, batch_size=args.batch_size,
                                           learning_rate=args.learning_rate, patience=args.patience,
                                           seed=args.seed, log=log, watch=watch)
    train_time = time.time() - started
    # Kept beside results.json (runs/ is not committed) so held-out models can be re-scored or averaged later.
    model.save(args.out / MODEL_FILE)
    results = {"recipe": recipe.to_dict(), "recipe_name": recipe.name(), "command": "python -m training.crossval "
               + " ".join(sys.argv[1:] if argv is None else argv), "data": str(args.data),
               "data_sha256": file_digest(args.data), "arch": args.arch, "image_size": args.image_size,
               "epochs_max": args.epochs, "epochs_run": len(history), "seed": split_seed, "init_seed": args.seed,
               "split": "hash(seed, patient_id)",
               "held_out_sources": sorted(held), "train_images": len(idx["train"]),
               "train_wall_time_s": round(train_time, 1)}

    probabilities = {name: _predict(model, _subset(records, images, masks, sel), prep)[0] for name, sel in sets.items()}
    results.update(run_figures(records, sets, probabilities, log))
    # The full internal test report (with per-source figures) goes into a registered entry's metrics.
    test = data["test"]
    report = classification_report(test["labels"], probabilities["test"], CLASS_LABELS)
    report["per_source"] = {}
    for source in sorted(set(test["sources"].tolist())):
        m = test["sources"] == source
        sub = classification_report(test["labels"][m], probabilities["test"][m], CLASS_LABELS)
        report["per_source"][source] = {k: sub[k] for k in ("n", "accuracy", "per_class", "confusion_matrix")}

    # Source probe on pooled features (every source, held-out ones included).
    chosen = sample_records([r for r, good in zip(records, ok) if good], args.probe_per_source, args.seed)
    sel = np.array([index[id(r)] for r in chosen], int)
    sub = _subset(records, images, masks, sel)
    x = lung_inputs(sub["images"], sub["masks"], prep.lung_mask, prep.lung_equalize)
    feats = pooled_features(model, x)
    results["source_probe"] = source_probe(feats, [r.source for r in chosen], [r.label for r in chosen],
                                           [f"{r.source}/{r.patient_id}" for r in chosen], seed=args.seed,
                                           min_per_source=min(30, args.probe_per_source))
    log(f"source probe: mean balanced accuracy {results['source_probe']['mean_balanced_accuracy']} "
        + json.dumps({k: round(v['balanced_accuracy'], 3) for k, v in results['source_probe']['per_class'].items()}))
    results["wall_time_s"] = round(time.time() - started, 1)
    results["history"] = history
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {args.out / 'results.json'} in {results['wall_time_s']:.0f} s")

    if args.register:
        import pandas as pd

        from training.input_pipeline import split_summary

        named = {name: [records[i] for i in ids] for name, ids in idx.items()}
        summary = split_summary(named, split_seed)
        summary["init_seed"] = args.seed
        held_out = held_out_block(args.held_out_results, recipe.to_dict())
        trajectory = held_out_trajectory(args.held_out_results or [])
        summary.update({"split_method": "hash", "data": str(args.data), "manifest": Path(args.data).name,
                        "manifest_sha256": results["data_sha256"], "recipe": recipe.to_dict(),
                        "recipe_name": recipe.name(), "epochs_run": len(history), "epochs_max": args.epochs,
                        "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                        "sources": sorted({r.source for r in named["train"]}), "skipped_images": int((~ok).sum()),
                        "wall_time_s": round(train_time, 1), "command": results["command"],
                        "held_out_source": held_out,
                        **({"held_out_trajectory": trajectory} if trajectory else {}),
                        "augmentation": "rotation +-11 deg, shift +-6%, zoom -12..+8%, gamma, contrast, noise; no flips"
                        + ("; photometric: histogram matching to other sources, blur/sharpen, JPEG re-compression, "
                           "noise, down-and-up sampling" if recipe.photometric else "")
                        + (f"; Fourier amplitude mixing with another source (p={recipe.amplitude_mix:g})"
                           if recipe.amplitude_mix else "")
                        + (f"; random convolutions (p={recipe.rand_conv:g})" if recipe.rand_conv else "")
                        + (f"; cross-class mixup (Beta({recipe.mixup:g}, {recipe.mixup:g}))" if recipe.mixup else "")
                        + (f"; label smoothing {recipe.label_smoothing:g}" if recipe.label_smoothing else "")
                        + (f"; weights averaged over the epochs from {recipe.average_from} on"
                           + (" at a constant learning rate" if recipe.constant_lr else "")
                           if recipe.average_from else "")
                        + (f"; feature-statistics mixing after the first two stages (p={recipe.style_mix:g})"
                           if recipe.style_mix else ""),
                        "within_source_covid_vs_pneumonia": results["within_source_covid_vs_pneumonia"]})
        notes = SHORTCUT_NOTE.format(crop=prep.border_crop) + LUNG_CROP_NOTE.format(
            lung_model=prep.lung_model, margin=prep.lung_margin)
        notes += (f" Trained with the recipe '{recipe.name()}' against the source shortcut"
                  + (" and with everything outside the dilated lung fields set to zero, at training and serving alike"
                     if recipe.lung_mask else "") + "; held-out-source figures are in training.held_out_source.")
        card = ModelCard(id=args.register, display_name=args.display_name or f"{args.arch} {recipe.name()} ({args.register})",
                         version="2.0", created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         architecture=args.arch, labels=list(CLASS_LABELS), preprocessing=prep.to_dict(),
                         explain_layer=explain, training=summary, metrics=headline(report), default=args.default,
                         notes=notes)
        report["source_probe"] = results["source_probe"]
        report["held_out_source"] = held_out
        report["within_source_covid_vs_pneumonia"] = results["within_source_covid_vs_pneumonia"]
        folder = save_entry(model, card, history=pd.DataFrame(history), metrics=report,
                            root=args.registry or registry_root())
        print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
