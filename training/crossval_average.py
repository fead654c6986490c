"""Held-out figures of an average of `training.crossval` runs: the runs' models (kept as
`model.keras` beside each `results.json`) average their probabilities, and the average is scored
like one run: each held-out source alone, the internal test split, the within-source AUC.

    python -m training.crossval_average --data ../shared/data/cxr/manifest-v2.csv \
        --runs runs/mask-both-s1 runs/dann-both-s1 --out runs/avg-mask-dann-s1

The runs must hold out the same sources and share the split seed (so their internal test split is
the same and none of them trained on it). The runs are averaged as `training.ensemble` merges
models: the mean of their logits. Each run's inputs are finished as its own recipe says
(lung mask, lung equalisation). This is how an ensemble of recipes or seeds is measured before one
is assembled for the registry (`training.ensemble`); there is no source probe for an average.

`--served N` scores the answer a reader gets instead of the single pass the other figures use:
per film, the mean probabilities over the film and N - 1 test-time copies, made exactly as the
Diagnose page and `python -m model.predict` make them (`model.trust.uncertainty.test_time_copies`).
With one run it measures that run's served answer.

`--recompute-bn` first replaces each run's batch-norm statistics by those of its averaged weights on
its own training films (`recompute_batch_norm`), as SWA usually does after averaging; the runs'
saved models are not changed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model.calibration import apply_temperature
from model.inputs.preprocessing import Preprocessing
from model.labelled_data import CLASS_LABELS, read_dataset
from model.registry import MODEL_FILE
from model.runtime import doc_summary
from training.held_out import (
    file_digest,
    lung_model_of,
    pool_subset,
    predict_subset,
    run_figures,
    scoring_sets,
    subset_inputs,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.crossval_average", description=doc_summary(__doc__))
    p.add_argument("--data", type=Path, required=True, help="the manifest the runs were trained on")
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders of training.crossval")
    p.add_argument("--out", type=Path, required=True, help="folder for results.json")
    p.add_argument("--registry", type=Path, default=None, help="registry holding the lung model")
    p.add_argument("--cache-dir", type=Path, default=None, help="array cache (default: the training cache)")
    p.add_argument("--recompute-bn", action="store_true",
                   help="recompute each run's batch-norm statistics on its training films before scoring (SWA)")
    p.add_argument("--served", type=int, default=0, metavar="N",
                   help="score the served answer: the mean over each film and N-1 test-time copies (serving uses 8)")
    return p


def copy_probabilities(model, x: np.ndarray, copies: int, chunk: int = 32) -> np.ndarray:
    """(N, copies, K): per film, the probabilities of the film and of its `copies - 1` test-time
    copies, made as serving makes them (`test_time_copies`, seed 0 for every film). Their mean over
    the copies is the answer the pages and the CLI give."""
    from model.trust.uncertainty import test_time_copies

    out = []
    for start in range(0, len(x), chunk):
        batch = np.concatenate([test_time_copies(image, copies) for image in x[start:start + chunk]])
        probabilities = model.predict(batch, batch_size=64, verbose=0)
        out.append(probabilities.reshape(-1, copies, probabilities.shape[-1]))
    return np.concatenate(out) if out else np.zeros((0, copies, model.output_shape[-1]), np.float32)


def recompute_batch_norm(model, x: np.ndarray, batch_size: int = 64, seed: int = 0) -> None:
    """Replace the moving statistics of every batch-norm layer by the mean over shuffled batches of
    `x` of the statistics the layer sees with the model's current weights (dropout off, as at serving):
    weight averaging averages the statistics with the weights, which need not match the averaged
    network. Changes `model` in place."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    drops = [layer for layer in model.layers if isinstance(layer, (keras.layers.Dropout, keras.layers.SpatialDropout2D))]
    momenta, rates = [layer.momentum for layer in norms], [layer.rate for layer in drops]
    for layer in drops:
        layer.rate = 0.0
    for layer in norms:
        layer.moving_mean.assign(np.zeros(layer.moving_mean.shape))
        layer.moving_variance.assign(np.ones(layer.moving_variance.shape))
    order = np.random.default_rng(seed).permutation(len(x))  # batches mix the sources, as in training
    try:
        for k, start in enumerate(range(0, len(x), batch_size), start=1):
            for layer in norms:  # momentum 1 - 1/k: the running value is the plain mean over the k batches
                layer.momentum = 1.0 - 1.0 / k
            model(x[order[start:start + batch_size]], training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
        for layer, rate in zip(drops, rates):
            layer.rate = rate


def read_runs(folders: list[Path]) -> list[dict]:
    """Each run's results.json, checked to be averageable (same held-out sources, seed, image size)."""
    runs = []
    for folder in folders:
        results_file, model_file = folder / "results.json", folder / MODEL_FILE
        if not results_file.is_file() or not model_file.is_file():
            raise ValueError(f"{folder} has no results.json and {MODEL_FILE} (runs of training.train keep both)")
        runs.append({**json.loads(results_file.read_text(encoding="utf-8")), "folder": str(folder)})
    for key in ("held_out_sources", "seed", "image_size"):
        values = {json.dumps(run.get(key)) for run in runs}
        if len(values) > 1:
            raise ValueError(f"the runs differ in {key} ({', '.join(sorted(values))}): their figures cannot be averaged")
    return runs


def average_like_an_ensemble(probabilities: list[np.ndarray]) -> np.ndarray:
    """The probabilities a merged ensemble (`training.architectures.merge_members`: mean of the
    members' logits) gives, from the members' probabilities: the softmax of the mean log-probability
    (each member's log-softmax differs from its logits by a per-image constant, which cancels)."""
    logs = np.mean([np.log(np.clip(np.asarray(p, np.float64), 1e-12, 1.0)) for p in probabilities], axis=0)
    logs -= logs.max(axis=-1, keepdims=True)
    out = np.exp(logs)
    return out / out.sum(axis=-1, keepdims=True)


def runs_base_prep(run: dict) -> Preprocessing:
    """The lung-cropped, unmasked preprocessing of a `training.train` run (its pool; a run's own lung
    mask or equalisation is applied to it afterwards)."""
    return Preprocessing(image_size=run["image_size"], channels=1, resize="stretch", border_crop=0.06,
                         equalize="clahe", lung_crop=True, lung_model="lungs-unet-v1")


def runs_pool(runs: list[dict], data, prep: Preprocessing, cache_dir, registry):
    """What scoring averageable runs needs: (records, images, masks, ok, idx, sets): the labelled films,
    the cached pool of `prep`, the runs' patient split without their held-out sources and the sets they
    are scored on (`training.held_out.scoring_sets`)."""
    from model.registry import registry_root
    from training.pool import DEFAULT_CACHE, load_pool, split_pool

    first = runs[0]
    held = set(first["held_out_sources"])
    records = [r for r in read_dataset(data) if r.label in CLASS_LABELS]
    (images, masks, ok), = load_pool(records, [prep], cache_dir or DEFAULT_CACHE,
                                     segmenter=lung_model_of(prep, registry or registry_root()))
    idx = split_pool(records, ok, "hash", first["seed"], held)
    return records, images, masks, ok, idx, scoring_sets(records, ok, idx, held)


def average_results(runs: list[dict], recipe_name: str, command: str, data, image_size) -> dict:
    """The header of an averaged runs' results.json (their figures are added by `run_figures`)."""
    first = runs[0]
    return {"average_of": [{"run": run["folder"], "recipe_name": run.get("recipe_name"), "seed": run.get("seed"),
                            "init_seed": run.get("init_seed", run.get("seed"))} for run in runs],
            "recipe_name": recipe_name, "command": command, "data": str(data), "data_sha256": file_digest(data),
            "image_size": image_size, "seed": first["seed"], "held_out_sources": sorted(first["held_out_sources"]),
            "epochs_run": None, "train_wall_time_s": sum(run.get("train_wall_time_s") or 0 for run in runs),
            "held_out": {}}


def write_results(out: Path, results: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out / 'results.json'}")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.served and not 2 <= args.served <= 64:
        print("error: --served takes the number of predictions per film, 2 to 64 (serving uses 8)", file=sys.stderr)
        return 2
    try:
        runs = read_runs(args.runs)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    first = runs[0]
    base = runs_base_prep(first)
    records, images, masks, _, idx, sets = runs_pool(runs, args.data, base, args.cache_dir, args.registry)
    probabilities = {name: [] for name in sets}
    for run in runs:
        recipe = run["recipe"]
        prep = Preprocessing(**{**base.to_dict(), "lung_mask": recipe.get("lung_mask", False),
                                "lung_equalize": recipe.get("lung_equalize", False)})
        model = keras.saving.load_model(Path(run["folder"]) / MODEL_FILE, safe_mode=True, compile=False)
        if args.recompute_bn:
            recompute_batch_norm(model, subset_inputs(pool_subset(records, images, masks, idx["train"]), prep))
        for name, sel in sets.items():
            subset = pool_subset(records, images, masks, sel)
            raw = (copy_probabilities(model, subset_inputs(subset, prep), args.served) if args.served
                   else predict_subset(model, subset, prep)[0])
            # Runs of training.train record their calibration temperature; older runs have none (T = 1).
            probabilities[name].append(apply_temperature(raw, (run.get("calibration") or {}).get("temperature", 1.0)))
        keras.backend.clear_session()
    # Served: each copy scored by the ensemble (as a merged model scores it), then the mean over the copies.
    mean = {name: average_like_an_ensemble(values).mean(axis=1) if args.served else average_like_an_ensemble(values)
            for name, values in probabilities.items()}

    name = (("batch-norm statistics recomputed, " if args.recompute_bn else "")
            + (f"served answer (mean over the film and {args.served - 1} copies) of " if args.served else "")
            + "average of " + " / ".join(run.get("recipe_name", "?") for run in runs))
    results = average_results(runs, name, "python -m training.crossval_average "
                              + " ".join(sys.argv[1:] if argv is None else argv), args.data, first["image_size"])
    results.update({**({"served_copies": args.served} if args.served else {}),
                    **({"recompute_bn": True} if args.recompute_bn else {})})
    results.update(run_figures(records, sets, mean))
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
