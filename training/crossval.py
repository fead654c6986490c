"""Held-out-source runs of one recipe, over several seeds: `training.train` once per seed.

    python -m training.crossval --data ../shared/data/cxr/manifest-v2.csv \
        --hold-out-source openist-normal covid-radiography-db --seeds 42 1 2 --out runs/NAME \
        --arch mobilenet --weights ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5 --image-size 224 ...

Every option of `python -m training.train` is passed on; each seed's run goes to OUT-iSEED (OUT
itself for one seed) with its own results.json, and with several seeds OUT-summary.json gives
the median and range of the held-out figures over the runs. Runs share the patient split
(`--split-seed`, default the first seed) so their internal figures compare. As before, every
run is lung-cropped (the held-out work's common ground); `--no-lung-crop` turns that off.

With `--evaluate-model ID` nothing is trained: an existing registry model is scored on the
`--hold-out-source` sources (only meaningful for sources it never trained on).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from model.labelled_data import CLASS_LABELS, read_dataset
from model.runtime import doc_summary
from training.held_out import (
    file_digest,
    held_out_report,
    held_out_separation,
    lung_model_of,
    pool_subset,
    predict_subset,
)
from training.pool import DEFAULT_CACHE


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.crossval", description=doc_summary(__doc__),
                                epilog="Every other option is passed to python -m training.train.")
    p.add_argument("--data", required=True, help="manifest CSV with a source column")
    p.add_argument("--out", type=Path, required=True, help="run folder (one seed) or prefix (several seeds)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="initialisation seeds, one run each")
    p.add_argument("--no-lung-crop", action="store_true", help="do not crop to the lung fields")
    p.add_argument("--hold-out-source", nargs="*", default=[], metavar="SOURCE")
    p.add_argument("--evaluate-model", default=None, metavar="MODEL_ID",
                   help="no training: report an existing registry model on the --hold-out-source sources")
    p.add_argument("--registry", type=Path, default=None)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    return p


def run_arguments(args, rest: list[str], seed: int | None, several: bool) -> list[str]:
    """The `training.train` command line of one seed's run."""
    out = f"{args.out}-i{seed}" if several else str(args.out)
    argv = ["--data", str(args.data), "--out", out, "--cache-dir", str(args.cache_dir), *rest]
    if args.hold_out_source:
        argv += ["--hold-out-source", *args.hold_out_source]
    if args.registry:
        argv += ["--registry", str(args.registry)]
    if not args.no_lung_crop and "--lung-crop" not in rest:
        argv.append("--lung-crop")
    if seed is not None:
        argv += ["--seed", str(seed)]
        if "--split-seed" not in rest:
            argv += ["--split-seed", str(args.seeds[0])]
    return argv


def summary(folders: list[str]) -> dict:
    """Median and range over runs of each held-out source's called-right share and of the separation AUCs."""
    runs = [json.loads((Path(f) / "results.json").read_text(encoding="utf-8")) for f in folders]
    out = {"runs": folders, "held_out": {}, "held_out_separation": {}, "internal_test_macro_auc": {}}

    def spread(values):
        values = [v for v in values if v is not None]
        return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values)),
                "values": values} if values else None

    for source in runs[0].get("held_out", {}):
        out["held_out"][source] = spread([next(iter(r["held_out"][source]["recall"].values()), None) for r in runs])
    for pair in runs[0].get("held_out_separation", {}):
        out["held_out_separation"][pair] = spread([r["held_out_separation"][pair]["auc"] for r in runs])
    out["internal_test_macro_auc"] = spread([r["internal_test"]["macro_auc"] for r in runs])
    return out


def evaluate_existing(args, argv=None) -> int:
    """Held-out figures of an already trained registry model on sources it never saw."""
    from model.calibration import apply_temperature
    from model.registry import load_model, read_card, registry_root
    from training.pool import load_pool

    root = args.registry or registry_root()
    card = read_card(args.evaluate_model, root)
    trained_on = set(card.training.get("sources", []))
    records = [r for r in read_dataset(args.data) if r.label in CLASS_LABELS and r.source in set(args.hold_out_source)]
    seen = sorted(set(args.hold_out_source) & trained_on)
    (images, masks, ok), = load_pool(records, [card.prep], args.cache_dir,
                                     segmenter=lung_model_of(card.prep, root))
    model = load_model(args.evaluate_model, root)
    results = {"model": args.evaluate_model, "command": "python -m training.crossval " + shlex.join(argv or sys.argv[1:]),
               "data": str(args.data), "data_sha256": file_digest(args.data),
               "trained_on_sources": sorted(trained_on), "warning_seen_sources": seen,
               "held_out_sources": sorted(set(args.hold_out_source) - trained_on), "held_out": {}}
    pooled = []
    for source in sorted(set(args.hold_out_source)):
        sel = np.array([i for i, r in enumerate(records) if r.source == source and ok[i]], int)
        raw, _ = predict_subset(model, pool_subset(records, images, masks, sel), card.prep)
        probs = apply_temperature(raw, card.temperature)  # as the model is served
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
    args, rest = build_parser().parse_known_args(argv)
    if args.evaluate_model:
        return evaluate_existing(args, argv)
    from training import train

    seeds = args.seeds or [None]
    several = len(seeds) > 1
    folders = []
    for seed in seeds:
        run_argv = run_arguments(args, rest, seed, several)
        print("python -m training.train " + shlex.join(run_argv), flush=True)
        code = train.main(run_argv)
        if code:
            return code
        folders.append(run_argv[run_argv.index("--out") + 1])
    if several:
        result = summary(folders)
        Path(f"{args.out}-summary.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
