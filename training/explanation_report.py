"""How trustworthy a model's explanations are, measured once per model on its own test split.

    python -m training.explanation_report --model cxr-compact-v1 --data ../shared/data/cxr \
        [--split test] [--limit 40] [--methods gradcam,gradcam++,scorecam,smoothgrad] \
        [--layer NAME --out PATH]

Writes `explanations.json` into the model's registry entry (or the file `--out` names) and prints a summary.
`--layer` explains another layer than the card's `explain_layer`, any the dashboard's layer box offers for
the model (e.g. one ensemble network's last feature maps, to see which network carries what): such a report
is not the card's, so it needs `--out` and never replaces the registry's file; it records its `layer`.

* lung attention: the share of the Grad-CAM map inside the lungs (lung masks from the registry's
  lung segmentation model), overall and per predicted class; low values point to shortcuts
  such as text markers, borders or devices (DeGrave et al. 2021). Null, with a note, when the
  registry holds no lung segmentation model.
* faithfulness: mean deletion and insertion AUC of every method against random region orders
  (Petsiuk et al. 2018), the random maps on the method's own grid (`model.trust.faithfulness`).
* randomisation sanity check: how similar each method's maps stay when the weights are
  scrambled (Adebayo et al. 2018, `model.trust.sanity`); a flagged method may describe the image, not
  the model, and one whose scrambled maps were blank is not judged. `--sanity-only` redoes this part
  alone in an existing report, on the same images; `--faithfulness-only` recomputes the faithfulness
  summary from the report's stored per-image figures (no model run), e.g. after the rule changed.

The images come from the model's own patient split (seed from its card), the internal test part
by default, sampled class by class up to `--limit`. File paths are not written to the report.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from model.policy import LOW_LUNG_ATTENTION as LOW_ATTENTION
from model.policy import REPORT_METHODS
from model.runtime import doc_summary
from model.trust.explanations import FaithfulnessSummary
from model.trust.faithfulness import DEFAULT_STEPS
from training.evaluate import add_model_and_data_arguments

DEFAULT_LIMIT = 40
SANITY_IMAGES = 8
RANDOM_REPEATS = 3
LUNG_METHOD = "gradcam"
NO_SEGMENTER_NOTE = ("No lung segmentation model in the registry, so lung attention was not measured; "
                     "train one with `python -m training.train_lungs`.")


@dataclass(frozen=True)
class ReportSettings:
    """What a report measures and on which films (the command's options). `refresh_sanity` and
    `refresh_evidence` take the settings the report was made with, so they find the same films.

    Attributes:
        methods: explanation methods to assess (`model.explain.METHODS`).
        limit: at most this many images, sampled class by class (see `select_records`).
        seed: seed of the sampling, the random region orders and the random weights.
        steps: steps of the deletion and insertion curves.
        sanity_images: how many of the images go into the randomisation check.
        layer: the layer the layer-based methods explain, one the dashboard offers (`offered_layer`); None:
            the card's `explain_layer`, and the report has no `layer` entry (as before the option existed).
    """

    methods: tuple[str, ...] = REPORT_METHODS
    limit: int = DEFAULT_LIMIT
    seed: int = 0
    steps: int = DEFAULT_STEPS
    sanity_images: int = SANITY_IMAGES
    layer: str | None = None


# --------------------------------------------------------------------------- sampling


def select_records(records, labels, limit: int, seed: int = 0) -> list:
    """Up to `limit` records of known labels, shuffled with `seed` and taken class by class in turn,
    so every class is represented even when the limit is small."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    by_label: dict[str, list] = defaultdict(list)
    for record in records:
        if record.label in labels:
            by_label[record.label].append(record)
    rng = np.random.default_rng(seed)
    queues = {label: [items[i] for i in rng.permutation(len(items))] for label, items in sorted(by_label.items())}
    chosen = []
    while len(chosen) < limit and any(queues.values()):
        for queue in queues.values():
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return chosen


# --------------------------------------------------------------------------- per image


def _explain_image(classifier, pixels: np.ndarray, segmenter, settings: ReportSettings,
                   timing: dict) -> tuple[dict, np.ndarray]:
    """Maps, deletion/insertion AUCs and lung attention of one image; returns (row, model input)."""
    from model.inputs.lungs import lung_attention_fraction, mask_plausibility
    from model.trust.faithfulness import RandomOrders, deletion_insertion, random_baseline

    methods, steps, layer = settings.methods, settings.steps, settings.layer
    # One segmentation per image: the lung crop of a lung-cropped model and lung attention share it.
    mask = segmenter.mask(pixels) if segmenter is not None else None
    model_input = classifier.prepare(pixels, mask if segmenter is classifier.segmenter else None)
    x = model_input.array
    probabilities = classifier.predict_inputs(x[None])[0]
    target = int(np.argmax(probabilities))
    row = {"predicted": classifier.labels[target], "confidence": float(probabilities[target]), "methods": {}}
    maps, grids = {}, {}
    for method in methods:
        started = time.perf_counter()
        explanation = classifier.explain_input(x, method, target, layer)
        maps[method], grids[method] = explanation.heatmap, classifier.map_grid(explanation)
        timing["maps_s"][method] = timing["maps_s"].get(method, 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    # One chance level per grain: random maps as coarse as the method's own (`chance_grid`).
    chance = {grid: random_baseline(classifier, x, target, steps, RandomOrders(RANDOM_REPEATS, settings.seed), grid=grid)
              for grid in dict.fromkeys(grids.values())}
    for method, heat in maps.items():
        curves = deletion_insertion(classifier, x, heat, target, steps)
        # The ends of every deletion curve of this film: whether its maps can be judged at all.
        row.setdefault("evidence", {"film": curves["deletion"][0], "hidden": curves["deletion"][-1]})
        level = chance[grids[method]]
        row["methods"][method] = {"deletion_auc": curves["deletion_auc"], "insertion_auc": curves["insertion_auc"],
                                  "random_deletion_auc": level["deletion_auc"],
                                  "random_insertion_auc": level["insertion_auc"], "grid": level["grid"]}
    lead = chance[grids[LUNG_METHOD if LUNG_METHOD in grids else methods[0]]]
    row["random"] = {"deletion_auc": lead["deletion_auc"], "insertion_auc": lead["insertion_auc"]}
    timing["faithfulness_s"] += time.perf_counter() - started
    if segmenter is not None:
        started = time.perf_counter()
        heat = maps.get(LUNG_METHOD)
        if heat is None:
            heat = classifier.explain_input(x, LUNG_METHOD, target, layer).heatmap
        on_image = classifier.to_image(heat, model_input)  # through the region the model saw
        row["lung_fraction"] = lung_attention_fraction(on_image, mask)
        row["mask_plausible"] = bool(mask_plausibility(mask)["plausible"])
        timing["lungs_s"] += time.perf_counter() - started
    row["maps"] = maps
    return row, x


# --------------------------------------------------------------------------- aggregation


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _lung_summary(rows: list[dict], labels, segmenter) -> dict:
    if segmenter is None:
        return {"method": LUNG_METHOD, "segmenter": None, "overall": None, "per_class": None,
                "low_share": None, "threshold": LOW_ATTENTION, "note": NO_SEGMENTER_NOTE}
    fractions = [r["lung_fraction"] for r in rows]
    per_class = {}
    for label in labels:
        mine = [r["lung_fraction"] for r in rows if r["predicted"] == label]
        per_class[label] = {"mean": _mean(mine), "n": len(mine),
                            "low_share": _mean([f < LOW_ATTENTION for f in mine])}
    implausible = sum(not r["mask_plausible"] for r in rows)
    note = "Grouped by the predicted class; the map explains the predicted class."
    if implausible:
        note += f" {implausible} lung mask(s) looked implausible, so their fractions are less reliable."
    return {"method": LUNG_METHOD, "segmenter": getattr(getattr(segmenter, "card", None), "id", None),
            "overall": _mean(fractions), "per_class": per_class,
            "low_share": _mean([f < LOW_ATTENTION for f in fractions]), "threshold": LOW_ATTENTION,
            "implausible_masks": implausible, "note": note}


def is_measured(row: dict) -> bool:
    """Whether a film's maps can be judged by hiding regions (`model.trust.faithfulness.measurable`), as
    Diagnose judges them; rows of reports made before `evidence` was stored count as measured."""
    from model.trust.faithfulness import measurable

    ends = row.get("evidence")
    return ends is None or measurable(ends["film"], ends["hidden"])


def _faithfulness_summary(rows: list[dict], methods, steps: int) -> dict:
    """Mean AUCs per method, each against its own chance level (random maps of its grain), over the
    films whose maps can be judged (`is_measured`; Diagnose calls the others "not measurable"); the
    top-level `random` is Grad-CAM's (the card layer's grain), the one a page names first."""
    from model.trust.faithfulness import CHANCE_MARGIN, MIN_EVIDENCE, is_better_than_random
    judged = [r for r in rows if is_measured(r)]
    unjudged = len(rows) - len(judged)
    rows = judged
    random = {k: _mean([r["random"][k] for r in rows]) for k in ("deletion_auc", "insertion_auc")}
    summary = {"random": random, "steps": steps, "random_repeats": RANDOM_REPEATS, "baseline": "blur",
               "margin": CHANCE_MARGIN, "min_evidence": MIN_EVIDENCE, "measured": len(rows),
               "not_measurable": unjudged,
               "chance": "random maps on each method's own grid (`grid` cells per side)", "methods": {}}
    for method in methods:
        own = [r["methods"][method] for r in rows]
        mine = {k: _mean([o[k] for o in own]) for k in ("deletion_auc", "insertion_auc")}
        chance = {k: _mean([o[f"random_{k}"] for o in own]) for k in ("deletion_auc", "insertion_auc")}
        wins = [is_better_than_random(o, {k: o[f"random_{k}"] for k in ("deletion_auc", "insertion_auc")})
                for o in own]
        summary["methods"][method] = {**mine, "better_than_random_share": _mean(wins),
                                      "better_than_random": bool(rows) and is_better_than_random(mine, chance),
                                      "random_deletion_auc": chance["deletion_auc"],
                                      "random_insertion_auc": chance["insertion_auc"],
                                      "grid": own[0]["grid"] if own else None}
    return summary


def _agreement_summary(rows: list[dict], methods) -> dict | None:
    from model.trust.agreement import mean_measured, method_agreement
    if len(methods) < 2 or not rows:
        return None
    pairs: dict[str, list[float | None]] = defaultdict(list)
    for row in rows:
        for pair, rho in method_agreement(row["maps"]).pairs.items():
            pairs[pair].append(rho)
    # A film with a blank map has no similarity for its pairs (None): left out of the means, never 0.00.
    means = {pair: mean_measured(values) for pair, values in pairs.items()}
    blank = {pair: sum(rho is None for rho in values) for pair, values in pairs.items()}
    return {"pairs": means, "mean": mean_measured(means.values()),
            "not_measured": {pair: n for pair, n in blank.items() if n}}


def _sanity_summary(classifier, inputs: list[np.ndarray], methods, seed: int, layer: str | None = None) -> dict | None:
    from model.trust.sanity import randomization_sanity_check
    if not inputs:
        return None
    result = randomization_sanity_check(classifier, np.stack(inputs), methods, seed=seed, layer=layer)
    for values in result["methods"].values():
        values.pop("spearman_per_input", None)
    return result


def _json_safe(value):
    """Floats that JSON can hold: NaN and infinities become None; numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


# --------------------------------------------------------------------------- the report


def offered_layer(classifier, layer: str) -> dict:
    """`layer` as the report records it ({"layer": name, "label": the reader's name}) when the dashboard's
    layer box offers it for this model (`model.present.layers.layer_choices`, advanced layers included);
    ValueError in one sentence otherwise."""
    from model.present.layers import layer_choices, layer_label, network_names

    card = classifier.card
    choices = layer_choices(classifier.layers(), card.explain_layer, network_names(card.training))
    if layer not in {c.name for c in choices}:
        examples = list(dict.fromkeys([c.name for c in choices if c.default] +
                                      [next(c.name for c in choices if c.group == g) for g in
                                       dict.fromkeys(c.group for c in choices)]))
        raise ValueError(f"layer {layer!r} is not one the dashboard offers for model {card.id!r} (it offers "
                         f"{len(choices)}, e.g. {', '.join(examples[:5])})")
    return {"layer": layer, "label": layer_label(layer, choices)}


def build_explanation_report(classifier, records, segmenter=None, settings: ReportSettings = ReportSettings(),
                             progress: Callable[[int, int], None] | None = None) -> dict:
    """Measure lung attention, faithfulness and the randomisation sanity check on labelled images.

    Args:
        classifier: a `model.classifier.Classifier`.
        records: `training.input_pipeline.LabelledImage`s (e.g. the model's test split); records whose label
            the model does not know are left out.
        segmenter: a `model.inputs.lungs.LungSegmenter` (anything with `.mask(pixels)`), or None.
        settings: the methods, films, seed, curve steps, sanity images and layer (`ReportSettings`).
        progress: called as progress(done, total) after every image.

    Returns:
        A JSON-ready dict: model, version, date, n, skipped, methods, seed, (layer, layer_label,)
        lung_attention, faithfulness, method_agreement, sanity_check, per_image (no paths) and timing.
    """
    from model.explain import check_method
    from model.inputs.intake import XrayInputError, load_xray

    methods = tuple(check_method(m) for m in settings.methods)
    if not methods:
        raise ValueError("methods must name at least one explanation method")
    settings = replace(settings, methods=methods)
    seed, layer = settings.seed, settings.layer
    chosen_layer = offered_layer(classifier, layer) if layer is not None else None
    started = time.perf_counter()
    chosen = select_records(records, classifier.labels, settings.limit, seed)
    timing = {"maps_s": {}, "faithfulness_s": 0.0, "lungs_s": 0.0}
    rows, inputs, skipped = [], [], 0
    for i, record in enumerate(chosen, start=1):
        try:
            pixels = load_xray(record.path).pixels
        except (XrayInputError, OSError):
            pixels = None
            skipped += 1
        if pixels is not None:
            row, x = _explain_image(classifier, pixels, segmenter, settings, timing)
            rows.append({"label": record.label, **row})
            inputs.append(x)
        if progress:
            progress(i, len(chosen))
    agreement = _agreement_summary(rows, methods)
    sanity_started = time.perf_counter()
    sanity = _sanity_summary(classifier, inputs[:max(0, int(settings.sanity_images))], methods, seed, layer)
    timing["sanity_s"] = time.perf_counter() - sanity_started
    timing["total_s"] = time.perf_counter() - started
    report = {
        "model": classifier.card.id, "version": classifier.card.version,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n": len(rows), "skipped": skipped, "methods": list(methods), "seed": seed,
        **({"layer": chosen_layer["layer"], "layer_label": chosen_layer["label"]} if chosen_layer else {}),
        "lung_attention": _lung_summary(rows, classifier.labels, segmenter),
        "faithfulness": _faithfulness_summary(rows, methods, settings.steps),
        "method_agreement": agreement, "sanity_check": sanity,
        "per_image": [{k: v for k, v in row.items() if k != "maps"} for row in rows],
        "timing": timing,
    }
    return _json_safe(report)


def _prepared_films(classifier, records, segmenter, limit: int, seed: int, count: int):
    """(record, model input) for the first `count` readable films of `select_records`, in
    order, prepared as `build_explanation_report` prepares them (unreadable films are skipped)."""
    from model.inputs.intake import XrayInputError, load_xray

    taken = 0
    for record in select_records(records, classifier.labels, limit, seed):
        if taken >= max(0, int(count)):
            return
        try:
            pixels = load_xray(record.path).pixels
        except (XrayInputError, OSError):
            continue
        mask = segmenter.mask(pixels) if segmenter is not None and segmenter is classifier.segmenter else None
        taken += 1
        yield record, classifier.prepare(pixels, mask).array


def refresh_sanity(classifier, records, report: dict, segmenter=None,
                   settings: ReportSettings = ReportSettings()) -> dict:
    """`report` with its randomisation sanity check made again on the same images as
    `build_explanation_report` uses with these settings (the first `settings.sanity_images` readable
    ones of `select_records`), at the card's layer; everything else is kept."""
    from model.explain import check_method

    methods = tuple(check_method(m) for m in settings.methods)
    started = time.perf_counter()
    inputs = [x for _, x in _prepared_films(classifier, records, segmenter, settings.limit, settings.seed,
                                            settings.sanity_images)]
    sanity = _sanity_summary(classifier, inputs, methods, settings.seed)
    timing = {**(report.get("timing") or {}), "sanity_s": time.perf_counter() - started}
    return _json_safe({**report, "sanity_check": sanity, "timing": timing,
                       "sanity_date": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def refresh_evidence(classifier, records, report: dict, segmenter=None,
                     settings: ReportSettings = ReportSettings()) -> dict:
    """`report` with each film's `evidence` (its explained class's probability on the film and on its
    fully hidden copy) measured on the same films as `build_explanation_report` explained with these
    settings (their `limit` and `seed`), in the same order; two model passes per film. ValueError when
    the films no longer match the report's rows."""
    from model.trust.faithfulness import evidence

    rows = [dict(r) for r in report.get("per_image") or []]
    films = list(_prepared_films(classifier, records, segmenter, settings.limit, settings.seed, len(rows)))
    if len(films) != len(rows):
        raise ValueError(f"the report explained {len(rows)} films, {len(films)} of them can be read now")
    for row, (record, x) in zip(rows, films):
        if row.get("label") != record.label or row.get("predicted") not in classifier.labels:
            raise ValueError("the films no longer match the report's rows (another data list, seed or limit?)")
        target = classifier.labels.index(row["predicted"])
        film, hidden = evidence(classifier, x, target, (report.get("faithfulness") or {}).get("baseline") or "blur")
        if abs(film - row["confidence"]) > 1e-4:  # the film's own pass must give the report's answer again
            raise ValueError("the model answers a film otherwise than the report says: make the report again")
        row["evidence"] = {"film": film, "hidden": hidden}
    return _json_safe({**report, "per_image": rows})


def refresh_faithfulness(report: dict) -> dict:
    """`report` with its faithfulness summary computed again from its stored per-image figures (the
    same films and curves; only the judging rule, e.g. `CHANCE_MARGIN`, can change the result)."""
    rows = [r for r in report.get("per_image") or [] if r.get("methods") and r.get("random")]
    old = report.get("faithfulness") or {}
    methods = list(old.get("methods") or {})
    if not rows or not methods:
        raise ValueError("the report has no per-image faithfulness figures to recompute from")
    summary = _faithfulness_summary(rows, methods, old.get("steps") or DEFAULT_STEPS)
    summary["random_repeats"] = old.get("random_repeats", summary["random_repeats"])
    return _json_safe({**report, "faithfulness": summary})


def _figure(value, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def format_summary(report: dict) -> str:
    """A readable multi-line summary of a report from `build_explanation_report`."""
    at = f" at layer {report['layer']} ({report.get('layer_label') or report['layer']})" if report.get("layer") else ""
    lines = [f"Explanation report for {report['model']} (version {report['version']}){at}: {report['n']} images, "
             f"{report['skipped']} unreadable, {report['timing']['total_s']:.0f} s"]
    lungs = report["lung_attention"]
    if lungs["overall"] is None:
        lines.append(f"Lung attention: {lungs['note']}")
    else:
        per_class = ", ".join(f"{label} {_figure(v['mean'])} (n={v['n']})" for label, v in lungs["per_class"].items())
        lines.append(f"Lung attention ({lungs['method']}, share of the map inside the lungs): overall "
                     f"{_figure(lungs['overall'])}; by predicted class: {per_class}; "
                     f"{_figure(lungs['low_share'], '.0%')} of images below {lungs['threshold']}")
    faith = FaithfulnessSummary.from_dict(report["faithfulness"])  # each method's own chance level, as pages read it
    lines.append("Faithfulness (lower deletion, higher insertion is better; against random maps on the method's "
                 "own grid):")
    if faith.judged_sentence():
        lines.append(f"  {faith.judged_sentence()}")
    for method, values in faith.methods.items():
        lines.append(f"  {method:<11} deletion {_figure(values.deletion_auc)} (random "
                     f"{_figure(faith.chance(method, 'deletion'))})  insertion {_figure(values.insertion_auc)} (random "
                     f"{_figure(faith.chance(method, 'insertion'))})  {values.grid or 'n/a'} cells  "
                     f"{faith.verdict(method)} on average (better on "
                     f"{_figure(values.better_than_random_share, '.0%')} of images)")
    if report.get("method_agreement"):
        agreement = report["method_agreement"]
        blank = "; ".join(f"{pair} on {n}" for pair, n in (agreement.get("not_measured") or {}).items())
        lines.append(f"Agreement between methods (mean Spearman): {_figure(agreement['mean'])}"
                     + (f" (not measured, a blank map, left out: {blank} images)" if blank else ""))
    sanity = report.get("sanity_check")
    if sanity:
        lines.append(f"Randomisation sanity check on {sanity['n']} images (flagged above {sanity['threshold']}):")
        for method, values in sanity["methods"].items():
            flag = ("FLAGGED: the maps barely change with random weights" if values["flagged"] else
                    "not judged: its maps were blank (trained or scrambled) on most images"
                    if values.get("inconclusive") else "ok")
            lines.append(f"  {method:<11} similarity {_figure(values['spearman'])}  SSIM "
                         f"{_figure(values['ssim'])}  {flag}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.explanation_report", description=doc_summary(__doc__))
    add_model_and_data_arguments(p, split="test")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="at most N images (Score-CAM is slow)")
    p.add_argument("--methods", default=",".join(REPORT_METHODS), help="comma-separated explanation methods")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="steps of the deletion/insertion curves")
    p.add_argument("--sanity-images", type=int, default=SANITY_IMAGES,
                   help="images used for the randomisation sanity check")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling, random orders and random weights")
    p.add_argument("--layer", default=None,
                   help="explain this layer instead of the card's explain_layer: any the dashboard's layer box offers "
                        "for the model (e.g. one ensemble network's m1_... layer); another layer than the card's "
                        "needs --out, so the registry's report stays the card layer's")
    p.add_argument("--out", type=Path, default=None,
                   help="write the report to this JSON file instead of the model's registry entry")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--sanity-only", action="store_true",
                      help="redo only the randomisation sanity check of the model's existing report (same images)")
    only.add_argument("--faithfulness-only", action="store_true",
                      help="recompute only the faithfulness summary of the model's existing report from its "
                           "stored per-image figures; films without stored evidence (older reports) are scored "
                           "again on the film and its hidden copy (two model passes each, same films)")
    return p


def _load_segmenter(root):
    """The registry's lung segmenter, or None when there is none (or it cannot be loaded)."""
    from model.inputs.lungs import LungSegmenter
    from model.registry import RegistryError

    try:
        return LungSegmenter.load(root=root)
    except RegistryError as exc:
        print(f"note: {exc}", file=sys.stderr)
        return None


def _progress(done: int, total: int) -> None:
    """One updating line on a terminal, one line per image in a log."""
    if sys.stderr.isatty():
        print(f"\r  explained {done}/{total} images", end="\n" if done == total else "", file=sys.stderr, flush=True)
    else:
        print(f"  explained {done}/{total} images", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from model.classifier import Classifier
    from model.labelled_data import read_dataset
    from model.registry import EXPLANATIONS_FILE, RegistryError, write_report
    from model.splits import split_records

    if (args.layer is not None or args.out is not None) and (args.sanity_only or args.faithfulness_only):
        print("error: --sanity-only and --faithfulness-only update the registry's report of the card's layer; "
              "make a report with --layer or --out in full (without them)", file=sys.stderr)
        return 2
    if args.faithfulness_only and _has_evidence(args):
        return _refresh_faithfulness_main(args)
    try:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        clf = Classifier.load(args.model, args.registry)
        _check_destination(clf, args)
        label_map = json.loads(args.label_map.read_text()) if args.label_map else None
        records = split_records(read_dataset(args.data, label_map), clf.card, args.split)
        # A lung-cropped model's own lung model (same registry); otherwise the registry's first one.
        segmenter = clf.segmenter or _load_segmenter(args.registry)
        print(f"model {clf.card.id}: {len(records)} images in the {args.split} split, using up to {args.limit}",
              file=sys.stderr)
        settings = ReportSettings(methods, args.limit, args.seed, args.steps, args.sanity_images, args.layer)
        if args.faithfulness_only:
            existing = _existing_report(clf.card.id, args.registry)
            report = refresh_faithfulness(refresh_evidence(clf, records, existing, segmenter, settings))
        elif args.sanity_only:
            report = refresh_sanity(clf, records, _existing_report(clf.card.id, args.registry), segmenter, settings)
        else:
            report = build_explanation_report(clf, records, segmenter, settings, progress=_progress)
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report.update({"split": args.split, "data": str(args.data)})
    if args.out is not None:
        path = args.out
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    else:
        path = write_report(clf.card.id, EXPLANATIONS_FILE, report, args.registry)
    print(format_summary(report))
    print(f"wrote {path}")
    return 0


def _check_destination(classifier, args) -> None:
    """ValueError in one sentence when the report would replace the registry's report of the card's layer
    with another layer's: that needs `--out`, and `--out` may not name the registry's file itself."""
    from model.registry import EXPLANATIONS_FILE, entry_dir

    if args.layer is None or args.layer == classifier.card.explain_layer:
        return
    offered_layer(classifier, args.layer)  # an unknown layer is named as such, not as a missing --out
    registry_file = (entry_dir(classifier.card.id, args.registry) / EXPLANATIONS_FILE).resolve()
    if args.out is None or args.out.resolve() == registry_file:
        raise ValueError(f"a report on layer {args.layer!r} is not the card's (its layer is "
                         f"{classifier.card.explain_layer!r}), so it needs --out PATH other than the registry's "
                         f"{EXPLANATIONS_FILE}")


def _existing_report(model_id: str, registry) -> dict:
    """The entry's explanation report, to update in part; ValueError when it has none."""
    from model.registry import EXPLANATIONS_FILE, read_report

    existing = read_report(model_id, EXPLANATIONS_FILE, registry)
    if not existing:
        raise ValueError(f"model {model_id!r} has no explanation report to update; make it first (without "
                         "--sanity-only or --faithfulness-only)")
    return existing


def _has_evidence(args) -> bool:
    """Whether every film of the model's existing report has its evidence stored (then no model runs), or
    the report cannot be read (`_refresh_faithfulness_main` says why in one line)."""
    from model.registry import RegistryError, default_model_id, read_card

    try:
        card = read_card(args.model or default_model_id(args.registry), args.registry)
        rows = _existing_report(card.id, args.registry).get("per_image") or []
    except (RegistryError, FileNotFoundError, ValueError):
        return True
    return all("evidence" in r for r in rows)


def _refresh_faithfulness_main(args) -> int:
    from model.registry import EXPLANATIONS_FILE, RegistryError, default_model_id, read_card, write_report

    try:
        card = read_card(args.model or default_model_id(args.registry), args.registry)
        report = refresh_faithfulness(_existing_report(card.id, args.registry))
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = write_report(card.id, EXPLANATIONS_FILE, report, args.registry)
    print(format_summary(report))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
