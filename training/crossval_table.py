"""One markdown table from `training.crossval` results files (one row per run).

    python -m training.crossval_table runs/*/results.json [--out training/held_out_runs/table.md]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.runtime import doc_summary


def _pct(value):
    return "-" if value is None else f"{100 * value:.0f}%"


def _num(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def _seed(res: dict) -> str:
    if "average_of" in res:
        return f"{res.get('seed', '?')}/avg of " + ", ".join(str(run.get("init_seed", run.get("seed", "?")))
                                                         for run in res["average_of"])
    if "seed" not in res:
        return "-"
    init = res.get("init_seed", res["seed"])
    return str(res["seed"]) if init == res["seed"] else f"{res['seed']}/{init}"


def row(res: dict) -> str:
    held = res.get("held_out", {})
    openist = held.get("openist-normal", {})
    crdb = held.get("covid-radiography-db", {})
    probe = res.get("source_probe", {})
    per = probe.get("per_class", {})
    within = res.get("within_source_covid_vs_pneumonia", {}).get("ieee8023-covid-chestxray", {})
    name = res.get("recipe_name") or res.get("model", "?")
    if res.get("arch", "compact_cnn") != "compact_cnn":  # compact_cnn goes unnamed, as in every earlier row
        name += f" ({res['arch']})"
    pair = res.get("held_out_separation", {}).get("COVID-19 vs Normal", {})
    return ("| " + " | ".join([
        name, ", ".join(res.get("held_out_sources") or sorted(held)) or "none", _seed(res),
        _pct(openist.get("called_fraction", {}).get("Normal")), _num(openist.get("mean_confidence"), 2),
        _pct(crdb.get("called_fraction", {}).get("COVID-19")), _num(crdb.get("mean_confidence"), 2),
        _num(pair.get("auc")), _pct(pair.get("best_both")),
        _num(probe.get("mean_balanced_accuracy")),
        _num(per.get("Normal", {}).get("balanced_accuracy")), _num(per.get("COVID-19", {}).get("balanced_accuracy")),
        _num(res.get("internal_test", {}).get("macro_auc")),
        _num(within.get("test", {}).get("auc")), _num(within.get("validation+test", {}).get("auc")),
        str(res.get("image_size", "-")), f"{res.get('epochs_run', '-')}/{res.get('epochs_max', '-')}",
        f"{res['train_wall_time_s'] / 60:.0f} min" if "train_wall_time_s" in res else "-",
        f"`{res.get('command', '')}`"]) + " |")


HEADER = ("| recipe | held out | seed (split/init) | openist called Normal | conf. | covid-rdb called COVID-19 | conf. "
          "| unseen COVID-19 vs Normal AUC | best both | source probe (mean bal. acc.) | probe Normal | probe COVID-19 "
          "| internal test macro AUC "
          "| ieee COVID vs Pneu AUC (test) | (val+test) | px | epochs | train time | command |\n" + "|---" * 19 + "|")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.crossval_table", description=doc_summary(__doc__))
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    lines = [HEADER] + [row(json.loads(path.read_text(encoding="utf-8"))) for path in args.results]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
