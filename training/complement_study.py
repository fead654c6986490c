"""Does a second network that sees the whole lung box complement the lung-masked one? A study, not a
registry entry: frozen ImageNet MobileNet features of the *unmasked* lung-cropped film (the pooled
outputs of two of its blocks), a logistic regression on them, and the equal average of that probe
with each lung-masked run (or registry model), scored as `training.crossval_average` scores runs.

    python -m training.complement_study --data ../shared/data/cxr/manifest-v2.csv \
        --weights ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5 \
        --runs runs/mn160-i42 runs/mn160-i1 runs/mn160-i2 --out runs/complement

Each folder in `--runs` is a `training.train` run (`results.json` and `model.keras`, trained without
the held-out sources its results name) or a registry entry (`card.json`; trained on every source,
so only its internal test figures mean anything). For each, the probe is fitted on the same
training split (films weighted so that every source/label pair counts alike; `--balance
source_label` of training weighs classes alike first, then sources within a class), both are
calibrated by a temperature fitted on the validation split, the average is the softmax of the mean
of their log-probabilities (as `training.ensemble` merges members) and is calibrated again on the
validation split, as `training.ensemble` calibrates.
Nothing here chooses a weight by looking at the held-out sources. One results.json per folder
and per scored model (the run, the probe, the average) is written under `--out`, readable by
`training.crossval_table`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model.calibration import apply_temperature, fit_temperature
from model.inputs.preprocessing import Preprocessing
from model.labelled_data import CLASS_LABELS, read_dataset
from model.metrics import classification_report
from model.registry import CARD_FILE, MODEL_FILE
from model.runtime import doc_summary
from training.held_out import file_digest, lung_model_of, pool_subset, predict_subset, run_figures, scoring_sets
from training.unmasked_branch import calibrated_average, fit_probe, frozen_features


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.complement_study", description=doc_summary(__doc__))
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--weights", type=Path, required=True, help="the ImageNet MobileNet (width 0.25) weights file")
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="training.train run folders or registry entries")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--probe-size", type=int, default=224, help="input side of the probe's network")
    p.add_argument("--l2", type=float, default=0.05, help="L2 penalty of the probe on standardised features")
    p.add_argument("--registry", type=Path, default=None)
    p.add_argument("--cache-dir", type=Path, default=None)
    return p


def _folder_facts(folder: Path) -> dict:
    """What scoring a run folder or a registry entry needs: held-out sources, split seed, preprocessing, T."""
    if (folder / "results.json").is_file():
        run = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        recipe = run.get("recipe") or {}
        return {"name": folder.name, "held": sorted(run.get("held_out_sources") or []), "seed": run["seed"],
                "init_seed": run.get("init_seed", run["seed"]),
                "image_size": run["image_size"], "lung_mask": bool(recipe.get("lung_mask")),
                "temperature": (run.get("calibration") or {}).get("temperature", 1.0),
                "recipe_name": run.get("recipe_name", "?")}
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    prep = card["preprocessing"]
    return {"name": card["id"], "held": [], "seed": card["training"]["seed"],
            "init_seed": card["training"]["seed"], "image_size": prep["image_size"],
            "lung_mask": bool(prep.get("lung_mask")), "temperature": (card.get("calibration") or {}).get("temperature", 1.0),
            "recipe_name": card.get("recipe_name", card["id"])}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.registry import registry_root
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from training.pool import DEFAULT_CACHE, load_pool, split_pool

    records = [r for r in read_dataset(args.data) if r.label in CLASS_LABELS]
    labels = np.array([CLASS_LABELS.index(r.label) for r in records], int)
    sources = np.array([r.source for r in records])
    cache = args.cache_dir or DEFAULT_CACHE
    probe_prep = Preprocessing(image_size=args.probe_size, channels=1, resize="stretch", border_crop=0.06,
                               equalize="clahe", lung_crop=True, lung_model="lungs-unet-v1")
    root = args.registry or registry_root()
    (probe_images, _, probe_ok), = load_pool(records, [probe_prep], cache, segmenter=lung_model_of(probe_prep, root))
    features = frozen_features(args.weights, args.probe_size, probe_images)
    command = "python -m training.complement_study " + " ".join(sys.argv[1:] if argv is None else argv)
    for folder in args.runs:
        facts = _folder_facts(folder)
        base = Preprocessing(image_size=facts["image_size"], channels=1, resize="stretch", border_crop=0.06,
                             equalize="clahe", lung_crop=True, lung_model="lungs-unet-v1")
        (images, masks, ok), = load_pool(records, [base], cache, segmenter=lung_model_of(base, root))
        ok = ok & probe_ok
        idx = split_pool(records, ok, "hash", facts["seed"], facts["held"])
        sets = scoring_sets(records, ok, idx, facts["held"])
        sets["validation"] = idx["validation"]
        probe = fit_probe(features[idx["train"]], labels[idx["train"]], sources[idx["train"]], args.l2)
        model = keras.saving.load_model(folder / MODEL_FILE, safe_mode=True, compile=False)
        prep = Preprocessing(**{**base.to_dict(), "lung_mask": facts["lung_mask"]})
        net = {name: apply_temperature(predict_subset(model, pool_subset(records, images, masks, sel), prep)[0],
                                       facts["temperature"]) for name, sel in sets.items()}
        keras.backend.clear_session()
        raw_probe = {name: probe.probabilities(features[sel]) for name, sel in sets.items()}
        t_probe = fit_temperature(labels[idx["validation"]], raw_probe["validation"])
        t_net = fit_temperature(labels[idx["validation"]], net["validation"])
        average = {n: calibrated_average([net[n], raw_probe[n]], [t_net, t_probe]) for n in sets}
        t_average = fit_temperature(labels[idx["validation"]], average["validation"])
        scored = {"run": net, "probe": {n: apply_temperature(p, t_probe) for n, p in raw_probe.items()},
                  "average": {n: apply_temperature(p, t_average) for n, p in average.items()}}
        names = {"run": facts["recipe_name"],
                 "probe": f"frozen MobileNet features, unmasked {args.probe_size} px, logistic regression",
                 "average": f"average of {facts['recipe_name']} / frozen MobileNet features (unmasked "
                            f"{args.probe_size} px) + logistic regression"}
        sizes = {"run": facts["image_size"], "probe": args.probe_size,
                 "average": f"{facts['image_size']} + {args.probe_size}"}
        for kind, probabilities in scored.items():
            score_sets = {n: s for n, s in sets.items() if n != "validation"}
            results = {"recipe_name": names[kind], "command": command, "data": str(args.data),
                       "data_sha256": file_digest(args.data), "image_size": sizes[kind], "seed": facts["seed"],
                       **({"init_seed": facts["init_seed"]} if kind != "probe" else {}),
                       "held_out_sources": facts["held"], "epochs_run": None, "study_of": str(folder),
                       "temperatures": {"run": t_net, "probe": t_probe, "average": t_average}, "probe_l2": args.l2}
            results.update(run_figures(records, score_sets, {n: probabilities[n] for n in score_sets}, log=lambda _: None))
            test = classification_report(labels[idx["test"]], probabilities["test"], CLASS_LABELS)
            results["internal_test"]["ece"] = test["calibration"]["ece"]
            out = args.out / facts["name"] / kind
            out.mkdir(parents=True, exist_ok=True)
            (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
            held = results.get("held_out", {})
            print(f"{facts['name']:>22} {kind:>8}: internal macro AUC {results['internal_test']['macro_auc']:.3f}, "
                  f"accuracy {results['internal_test']['accuracy']:.3f}, ECE {test['calibration']['ece']:.3f}; "
                  + "; ".join(f"{s} recall {v['recall']}" for s, v in held.items())
                  + (f"; separation {results['held_out_separation']['COVID-19 vs Normal']['auc']:.3f}"
                     if "held_out_separation" in results else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
