"""Record held-out-source runs of a registry entry's recipe in its card and metrics.

    python -m training.held_out_card --model cxr-compact-masked-v2 \
        --results training/held_out_runs/balphotomask-both.json training/held_out_runs/balphotomask-both-rerun.json ...

The first results file gives the headline figures per held-out source; every file that holds the
source out is listed under "repeats" with its recall, so the run-to-run spread of the recipe is
shown beside the headline (Performance and Compare pages). Use it to add repeats made after the
entry was registered (`training.train --register ... --held-out-results` does the same at
registration). Only the card's `training.held_out_source` and the same block of `metrics.json`
change, plus `training.held_out_trajectory` when one of the runs was watched (`--watch-held-out`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.present.shortcut_tables import held_out_table
from model.runtime import doc_summary
from training.held_out import held_out_block, held_out_trajectory


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.held_out_card", description=doc_summary(__doc__))
    p.add_argument("--model", required=True, help="registry id")
    p.add_argument("--results", type=Path, nargs="+", required=True,
                   help="results.json files of held-out runs of the entry's recipe, headline first")
    p.add_argument("--registry", type=Path, default=None)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.registry import METRICS_FILE, RegistryError, read_card, read_metrics, registry_root, write_card, write_report

    root = args.registry or registry_root()
    try:
        card = read_card(args.model, root)
        metrics = read_metrics(args.model, root)
        block = held_out_block(args.results, (card.training or {}).get("recipe"))
        trajectory = held_out_trajectory(args.results)
    except (RegistryError, OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    card.training = {**(card.training or {}), "held_out_source": block}
    if trajectory is not None:  # a watched run (--watch-held-out) among the results: its per-epoch figures
        card.training["held_out_trajectory"] = trajectory
    write_card(card, root)
    write_report(args.model, METRICS_FILE, {**metrics, "held_out_source": block}, root)
    for row in held_out_table({"held_out_source": block}).to_dict("records"):  # one line per source and setting
        also = "" if row["also held out"] == "–" else f" (with {row['also held out']})"
        print(f"{args.model} held out {row['held-out source']}{also}: first run {row['recall']:.0%}; "
              + (f"recall {row['range']}" if row["runs"] > 1 else "one run"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
