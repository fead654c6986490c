"""A two-channel default: lung-masked networks and a frozen ImageNet network that sees the whole
lung box, in one flat Keras model (`training.architectures.two_channel_model`).

    python -m training.two_channel --data ../shared/data/cxr/manifest-v2.csv \\
        --weights ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5 \\
        --runs runs/mn160-i42 runs/mn160-i1 --out runs/two-channel-42-1

scores the construction on held-out sources: the given `training.train` runs (lung-masked, trained
without the sources their results name, one patient split) are merged, the unmasked branch is
fitted on the same training split, and the assembled model is scored on the held-out sources, the
internal test split and the within-source films (a results.json like `training.crossval_average`'s,
readable by `training.crossval_table` and `training.ensemble --held-out-results`). A registry
entry is built by `training.ensemble --unmasked-branch WEIGHTS`, through `attach_unmasked_branch`.

How the parts are put together (nothing here looks at a held-out source): the unmasked branch is a
logistic regression on the pooled outputs of two frozen MobileNet blocks of the unmasked film
(`training.unmasked_branch`), fitted on the training split with every (source, label) pair weighing
the same. The masked networks' mean logits and the branch's logits are each calibrated by a
temperature fitted on validation, every network counts alike in the sum, and the assembled model
gets its own temperature on validation, the one its card stores.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.labelled_data import CLASS_LABELS
from model.runtime import doc_summary

UNMASKED_SIZE = 224  # the ImageNet MobileNet's native input; its features are weaker at 160 px
UNMASKED_L2 = 0.05


def two_channel_prep(prep):
    """The lung-masked networks' preprocessing made the two-channel model's: the unmasked film at the
    unmasked network's size, the lung-field mask as the second channel (everything else theirs)."""
    from dataclasses import replace

    return replace(prep, image_size=UNMASKED_SIZE, channels=2, lung_mask=False, mask_channel=True)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class SplitPool:
    """The films a two-channel model is fitted and calibrated on, with their patient split.

    Attributes:
        inputs: (N, S, S, 2) two-channel inputs of the pool (`training.pool.pool_inputs`), S = UNMASKED_SIZE.
        labels: class index per film (N,).
        sources: source name per film (N,).
        idx: index arrays into the pool by split name, at least "train" and "validation".
    """

    inputs: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    idx: dict


def attach_unmasked_branch(masked_models: list, weights: Path, pool: SplitPool, l2: float = UNMASKED_L2,
                           name: str = "two_channel"):
    """Fit the unmasked branch on the pool's training split, calibrate both parts on its validation
    split and assemble the two-channel model.

    Args:
        masked_models: one-channel lung-masked classifiers sharing one input size (their logits are averaged).
        weights: the ImageNet MobileNet (width 0.25) weights file.
        pool: the films, their labels and sources, and the split.
    Returns (model, explain_layer, facts): facts hold the temperatures, the probe's size and the
    largest difference between the assembled model and the parts computed apart (a check).
    """
    import tensorflow as tf

    from model.calibration import fit_temperature
    from training.architectures import merge_members, two_channel_model
    from training.unmasked_branch import PROBE_LAYERS, fit_probe, frozen_features, probe_classifier

    inputs, labels, sources, idx = pool.inputs, pool.labels, pool.sources, pool.idx
    size = int(inputs.shape[1])
    used = np.unique(np.concatenate([np.asarray(v, int) for v in idx.values()]))
    pooled = frozen_features(weights, size, inputs[used][..., :1])
    features = np.zeros((len(inputs), pooled.shape[1]), np.float64)
    features[used] = pooled
    probe = fit_probe(features[idx["train"]], labels[idx["train"]], sources[idx["train"]], l2)
    masked = merge_members(masked_models)[0] if len(masked_models) > 1 else masked_models[0]
    small = int(masked.inputs[0].shape[1])
    val = np.asarray(idx["validation"], int)
    lungs = inputs[val][..., :1] * inputs[val][..., 1:2]
    if small != size:
        lungs = tf.image.resize(lungs, (small, small), method="bilinear").numpy()
    z_masked = np.log(np.clip(masked.predict(lungs, batch_size=64, verbose=0).astype(np.float64), 1e-12, 1))
    t_masked = fit_temperature(labels[val], _softmax(z_masked))
    t_unmasked = fit_temperature(labels[val], probe.probabilities(features[val]))
    branch = probe_classifier(weights, size, probe)
    model, layer = two_channel_model(masked_models, branch, t_masked, t_unmasked, name=name)
    # The assembled model against its parts computed apart (float32 graph against float64 numpy).
    n = len(masked_models) + 1
    expected = _softmax(z_masked * (n - 1) / (n * t_masked) + probe.logits(features[val]) / (n * t_unmasked))
    got = model.predict(inputs[val], batch_size=64, verbose=0)
    gap = float(np.abs(got - expected).max())
    if gap > 2e-3:
        raise RuntimeError(f"the assembled model differs from its parts by {gap:.4f}")
    facts = {"unmasked_branch": {"network": "ImageNet MobileNet v1 (width 0.25), frozen",
                                 "weights_file": Path(weights).name if weights else None,
                                 "layers": list(PROBE_LAYERS), "image_size": size, "l2": l2,
                                 "balance": "every (source, label) pair weighs the same",
                                 "features": int(features.shape[1]), "fitted_on": "train split",
                                 "temperature": t_unmasked},
             "masked_temperature": t_masked, "masked_size": small,
             "combination": f"every network counts alike: {n - 1} lung-masked networks (mean logits / T = {t_masked:.2f}) "
                            f"and the unmasked branch (logits / T = {t_unmasked:.2f})",
             "parts_check_max_difference": gap}
    return model, layer, facts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.two_channel", description=doc_summary(__doc__))
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--weights", type=Path, required=True, help="the ImageNet MobileNet (width 0.25) weights file")
    p.add_argument("--runs", type=Path, nargs="+", required=True,
                   help="training.train runs (lung-masked, one split, the same held-out sources) to merge")
    p.add_argument("--out", type=Path, required=True, help="folder for results.json")
    p.add_argument("--l2", type=float, default=UNMASKED_L2, help="L2 penalty of the unmasked branch's regression")
    p.add_argument("--registry", type=Path, default=None)
    p.add_argument("--cache-dir", type=Path, default=None)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from training.crossval_average import average_results, read_runs, runs_base_prep, runs_pool, write_results

    try:
        runs = read_runs(args.runs)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.weights.is_file():
        print(f"error: {args.weights} is not a file (the ImageNet MobileNet weights)", file=sys.stderr)
        return 2
    from model.registry import MODEL_FILE
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from model.calibration import apply_temperature, fit_temperature
    from training.held_out import run_figures
    from training.pool import pool_inputs

    prep = two_channel_prep(runs_base_prep(runs[0]))
    records, images, masks, _, idx, sets = runs_pool(runs, args.data, prep, args.cache_dir, args.registry)
    labels = np.array([CLASS_LABELS.index(r.label) for r in records], int)
    sources = np.array([r.source for r in records])
    inputs = pool_inputs(images, masks, prep)
    members = [keras.saving.load_model(Path(run["folder"]) / MODEL_FILE, safe_mode=True, compile=False) for run in runs]
    pool = SplitPool(inputs, labels, sources, {**idx, **{n: s for n, s in sets.items() if len(s)}})
    model, _, facts = attach_unmasked_branch(members, args.weights, pool, args.l2)
    val = idx["validation"]
    t_final = fit_temperature(labels[val], model.predict(inputs[val], batch_size=64, verbose=0))
    probabilities = {name: apply_temperature(model.predict(inputs[sel], batch_size=64, verbose=0), t_final)
                     if len(sel) else np.zeros((0, len(CLASS_LABELS))) for name, sel in sets.items()}
    name = ("two-channel: average of " + " / ".join(run.get("recipe_name", "?") for run in runs)
            + f" + frozen ImageNet MobileNet on the unmasked lung box ({UNMASKED_SIZE} px), every network alike")
    results = average_results(runs, name, "python -m training.two_channel "
                              + " ".join(sys.argv[1:] if argv is None else argv), args.data, UNMASKED_SIZE)
    results.update({"calibration": {"temperature": t_final, "fitted_on": "validation split"}, **facts})
    results.update(run_figures(records, sets, probabilities))
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
