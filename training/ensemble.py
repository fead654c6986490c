"""Merge trained registry classifiers into one ensemble entry and evaluate it.

    python -m training.ensemble --members cxr-resnet-lungs-v1 cxr-compact-lungs-v1 \
        --model-id cxr-ensemble-lungs-v1 --data ../shared/data/cxr [--default]

The members must share their preprocessing, labels and patient split (same data and seed), so
the ensemble's internal test split is one that no member trained or stopped on. The merged model
is one flat Keras graph (see `training.architectures.merge_members`): the dashboard, the CLI and
Grad-CAM use it like any other entry. The command evaluates it on the internal test split and
writes a complete registry entry (model, card, metrics, and the members' training histories).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from model.labelled_data import CLASS_LABELS, read_dataset
from model.metrics import format_report
from model.registry import (
    CLASSIFIER,
    ModelCard,
    RegistryError,
    load_model,
    read_card,
    read_history,
    registry_root,
    save_entry,
)
from model.runtime import doc_summary
from training.held_out import WITHIN_SOURCE, held_out_block, lung_model_of, pool_subset, subset_inputs, within_source_auc
from training.pool import DEFAULT_CACHE


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.ensemble", description=doc_summary(__doc__))
    p.add_argument("--members", nargs="+", required=True, help="registry ids of two or more trained classifiers")
    p.add_argument("--model-id", required=True, help="registry folder name for the ensemble")
    p.add_argument("--data", required=True, help="the labelled data the members were trained on")
    p.add_argument("--display-name", default=None)
    p.add_argument("--version", default="1.0")
    p.add_argument("--default", action="store_true", help="mark the ensemble as the registry default")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--registry", type=Path, default=None, help="registry folder (default: CXR_REGISTRY or model/versions)")
    p.add_argument("--unmasked-branch", type=Path, default=None, metavar="WEIGHTS",
                   help="the ImageNet MobileNet (width 0.25) weights file: add a frozen network that sees the whole "
                        "lung box to lung-masked members, on a two-channel input (film, lung mask); see "
                        "training.two_channel")
    p.add_argument("--held-out-results", type=Path, nargs="*", default=[],
                   help="results.json of held-out runs of the ensemble's recipe (e.g. training.crossval_average "
                        "of the members' recipe trained without a source), copied into the card")
    return p


def check_members(cards: list[ModelCard]) -> None:
    """Refuse members that do not share preprocessing, labels and split; raises ValueError."""
    if len(cards) < 2 or len({c.id for c in cards}) != len(cards):
        raise ValueError("an ensemble needs two or more different members")
    first = cards[0]
    for card in cards:
        if not (card.training or {}).get("splits"):
            raise ValueError(f"{card.id}'s card records no patient split, so its test images cannot be told apart")
    for card in cards[1:]:
        if card.kind != CLASSIFIER:
            raise ValueError(f"{card.id} is not a classifier")
        if card.labels != first.labels:
            raise ValueError(f"{card.id} has labels {card.labels}, {first.id} has {first.labels}")
        if card.preprocessing != first.preprocessing:
            raise ValueError(f"{card.id} and {first.id} preprocess images differently; an ensemble shares one input")
        if (card.training or {}).get("seed") != (first.training or {}).get("seed") or \
                (card.training or {}).get("splits") != (first.training or {}).get("splits"):
            raise ValueError(f"{card.id} and {first.id} were trained on different patient splits, so one "
                             f"member's test images could be another's training images")


def member_history(cards: list[ModelCard], root: Path) -> pd.DataFrame:
    """The members' training histories in one table with a `member` column, so the ensemble's
    entry keeps its training curves even where the members are not shipped."""
    frames = [read_history(card.id, root).assign(member=card.id) for card in cards]
    frames = [frame for frame in frames if len(frame)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# What the members' cards say about their data and recipe, carried into the ensemble's card.
PROVENANCE = ("split_method", "manifest", "manifest_sha256", "recipe", "recipe_name", "augmentation")


def within_source_figures(probabilities: dict, data: dict) -> dict:
    """COVID-19 vs Pneumonia AUC inside the one collection with both, on the test split and on
    validation + test (neither trained on), as `training.held_out.run_figures` reports it."""
    import numpy as np

    out = {}
    for name, parts in (("test", ["test"]), ("validation+test", ["validation", "test"])):
        sources = np.concatenate([data[p]["sources"] for p in parts])
        keep = sources == WITHIN_SOURCE
        if not keep.any():
            continue
        labels = np.concatenate([data[p]["labels"] for p in parts])[keep]
        out[name] = within_source_auc(labels, np.concatenate([probabilities[p] for p in parts])[keep])
    return {WITHIN_SOURCE: out} if out else {}


def score_ensemble(model, data: dict, prep) -> tuple[dict, dict, dict]:
    """(internal test report, within-source figures, calibration) of the merged model: the
    temperature is fitted on the validation split, which no member trained on."""
    from model.calibration import apply_temperature, fit_temperature
    from model.evaluation import evaluation_report

    raw = {name: model.predict(subset_inputs(data[name], prep), batch_size=64, verbose=0)
           for name in ("validation", "test")}
    temperature = fit_temperature(data["validation"]["labels"], raw["validation"])
    probabilities = {name: apply_temperature(p, temperature) for name, p in raw.items()}
    report = evaluation_report(data["test"]["labels"], probabilities["test"], CLASS_LABELS, list(data["test"]["sources"]))
    calibration = {"method": "temperature scaling", "temperature": temperature, "fitted_on": "validation split",
                   "n": int(len(data["validation"]["labels"]))}
    return report, within_source_figures(probabilities, data), calibration


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.time()
    root = args.registry or registry_root()
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from training.architectures import merge_members
    from training.training_run import CALIBRATION_NOTE_PATTERN, calibration_note, headline

    try:
        cards = [read_card(member, root) for member in args.members]
        check_members(cards)
        members = [load_model(card.id, root) for card in cards]
    except (RegistryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    first = cards[0]
    if args.unmasked_branch is not None:
        fault = ("" if first.prep.lung_mask and not first.prep.lung_equalize else
                 "needs lung-masked members without equalisation inside the lungs (the film channel stays unmasked)")
        fault = fault or ("" if args.unmasked_branch.is_file() else f"needs the weights file ({args.unmasked_branch} "
                                                                    "is not a file)")
        if fault:
            print(f"error: --unmasked-branch {fault}", file=sys.stderr)
            return 2
    if args.unmasked_branch is None:
        model, explain_layer = merge_members(members, name=args.model_id.replace("-", "_"))
    seed = int(first.training.get("seed", 42))
    split = first.training.get("split_method", "legacy")
    from training.input_pipeline import split_summary
    from training.pool import load_pool, split_pool

    records = [r for r in read_dataset(args.data) if r.label in CLASS_LABELS]
    from training.two_channel import two_channel_prep

    prep = first.prep if args.unmasked_branch is None else two_channel_prep(first.prep)
    (images, masks, ok), = load_pool(records, [prep], args.cache_dir, segmenter=lung_model_of(prep, root))
    idx = split_pool(records, ok, split, seed)
    summary = split_summary({name: [records[i] for i in ids] for name, ids in idx.items()}, seed)
    if summary["splits"] != first.training.get("splits"):
        print(f"error: {args.data} does not give the members' patient split; evaluate on the data they were "
              f"trained on", file=sys.stderr)
        return 2
    data = {name: pool_subset(records, images, masks, ids) for name, ids in idx.items()}
    branch = {}
    if args.unmasked_branch is not None:
        import numpy as np

        from training.pool import pool_inputs
        from training.two_channel import SplitPool, attach_unmasked_branch

        labels = np.array([CLASS_LABELS.index(r.label) for r in records], int)
        pool = SplitPool(pool_inputs(images, masks, prep), labels, np.array([r.source for r in records]), idx)
        model, explain_layer, branch = attach_unmasked_branch(members, args.unmasked_branch, pool,
                                                              name=args.model_id.replace("-", "_"))
    report, within, calibration = score_ensemble(model, data, prep)
    print(format_report(report))
    report["within_source_covid_vs_pneumonia"] = within
    held_out = held_out_block(args.held_out_results)
    if held_out:
        report["held_out_source"] = held_out
    member_wall = sum(float(c.training.get("wall_time_s", 0.0)) for c in cards)
    summary.update({
        "data": str(args.data), "members": [c.id for c in cards],
        **({"networks": [c.id for c in cards] + ["frozen ImageNet MobileNet (whole lung box)"]} if branch else {}),
        "combination": branch.pop("combination", "mean of the members' logits"), **branch,
        "member_metrics": {c.id: c.metrics for c in cards},
        "sources": first.training.get("sources", []), "skipped_images": int((~ok).sum()),
        "command": "python -m training.ensemble " + shlex.join(sys.argv[1:] if argv is None else argv),
        **{key: first.training[key] for key in PROVENANCE if key in first.training},
        **({"held_out_source": held_out} if held_out else {}),
        "within_source_covid_vs_pneumonia": report["within_source_covid_vs_pneumonia"],
        "members_wall_time_s": round(member_wall, 1), "merge_wall_time_s": round(time.time() - started, 1),
        "wall_time_s": round(member_wall + time.time() - started, 1)})
    if branch:
        intro = (f"Two-channel model (film, lung-field mask): the lung-masked networks {', '.join(c.id for c in cards)} "
                 f"see only the lung fields; a frozen ImageNet MobileNet sees the whole lung box, markers and devices "
                 f"inside it included, through a regression fitted on the training split. Every network counts "
                 f"alike; Grad-CAM at '{explain_layer}' covers all their last feature maps. The unmasked network "
                 f"carries more of the source than the masked ones; the held-out figures are the whole model's. ")
    else:
        intro = (f"Ensemble of {', '.join(c.id for c in cards)}: one flat model whose class logits are the mean of "
                 f"the members' logits; Grad-CAM at '{explain_layer}' covers every member's last feature maps. ")
    notes = (intro + f"The members' own notes apply: {CALIBRATION_NOTE_PATTERN.sub('', first.notes)}"
             + calibration_note(calibration))  # the ensemble's own temperature, not a member's
    card = ModelCard(
        id=args.model_id, display_name=args.display_name or f"Ensemble of {len(cards)} ({args.model_id})",
        version=args.version, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        architecture=("ensemble(" + ", ".join(c.architecture for c in cards) + ")" if not branch else
                      "two_channel(ensemble(" + ", ".join(c.architecture for c in cards) + ") on the lung fields, "
                      "frozen mobilenet on the lung box)"), labels=list(first.labels),
        preprocessing=prep.to_dict(), explain_layer=explain_layer, training=summary,
        metrics=headline(report), default=args.default, notes=notes, calibration=calibration)
    folder = save_entry(model, card, history=member_history(cards, root), metrics=report, root=root)
    print(f"wrote {folder} ({sum(p.stat().st_size for p in folder.iterdir()) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
