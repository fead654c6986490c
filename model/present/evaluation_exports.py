"""What a team downloads from an evaluation (`model.evaluation.evaluate_models` run with a `root`, so
images are named relative to their data folder and no server path leaves the server):

    predictions_frame(report)     # one row per image: label, status, each version's answer and probabilities
    figures_frame(report)         # tidy: one row per (figure, version, subset, class), value and 95% interval
    export_json(report, about)    # both, the comparisons read from the higher version, and why sections are empty

Values are not rounded here (the pages round for reading; a file is for computing).
"""
from __future__ import annotations

import json
import math

import pandas as pd

from model.present.evaluation_tables import paired, reading, section_notes

FIGURE_COLUMNS = ["figure", "version", "subset", "class", "value", "ci_low", "ci_high", "images"]
ALL_KNOWN = "images with a label the version knows"
OUT_OF_SCOPE_WORDS = "out of scope"  # a film a version's triage holds back, as Diagnose's badge words it


def predictions_frame(report: dict) -> pd.DataFrame:
    """One row per image (scored, of an unknown label, or unreadable): image, label, source, status,
    reason, agreement, then per version "<id> predicted", "<id> correct", "<id> triage" ("out of scope" when its
    triage holds the film back, as Diagnose does; with a triaged report only) and "<id> P(<class>)"."""
    models = {model_id: model["labels"] for model_id, model in report.get("models", {}).items()}
    triaged = any("out_of_scope" in model for model in report.get("models", {}).values())
    rows = []
    for image in sorted(report.get("images", []), key=lambda row: row["image"]):
        row = {key: image[key] for key in ("image", "label", "source", "status", "reason")}
        row["agreement"] = image["agreement"] or ""
        for model_id, labels in models.items():
            row[f"{model_id} predicted"] = image["predicted"].get(model_id, "")
            correct = image["correct"].get(model_id)
            row[f"{model_id} correct"] = "" if correct is None else correct
            if triaged:
                row[f"{model_id} triage"] = OUT_OF_SCOPE_WORDS if image.get("out_of_scope", {}).get(model_id) else ""
            probabilities = image["probabilities"].get(model_id, {})
            for label in labels:
                row[f"{model_id} P({label})"] = probabilities.get(label)
        rows.append(row)
    columns = ["image", "label", "source", "status", "reason", "agreement"]
    for model_id, labels in models.items():
        columns += [f"{model_id} predicted", f"{model_id} correct", *([f"{model_id} triage"] if triaged else []),
                    *(f"{model_id} P({label})" for label in labels)]
    return pd.DataFrame(rows, columns=columns)


def _figures_of(version: str, subset: str, part: dict, add) -> None:
    add("accuracy", version, subset, "", part.get("accuracy"), None, part.get("n"))
    add("macro AUC", version, subset, "", part["macro"].get("auc"), part["macro"].get("auc_ci"), part.get("n"))
    add("macro F1", version, subset, "", part["macro"].get("f1"), None, part.get("n"))
    for label, values in part.get("per_class", {}).items():
        add("AUC", version, subset, label, values.get("auc"), values.get("auc_ci"), values.get("support"))
        for name in ("precision", "recall", "f1"):
            add(name, version, subset, label, values.get(name), None, values.get("support"))


def figures_frame(report: dict) -> pd.DataFrame:
    """Every figure of the report in tidy form: figure, version (or "a − b" for a paired difference,
    read from the higher version), subset (all images with a known label, a source, within a source,
    an unknown label), class, value, ci_low, ci_high (95% bootstrap interval where there is one) and
    the number of images it rests on."""
    rows = []

    def add(name, version, subset, label, value, interval, n):
        rows.append({"figure": name, "version": version, "subset": subset, "class": label, "value": value,
                     "ci_low": interval[0] if interval else None, "ci_high": interval[1] if interval else None,
                     "images": n})

    for model_id, model in report.get("models", {}).items():
        _figures_of(model_id, ALL_KNOWN, model, add)
        add("ECE (calibration error)", model_id, ALL_KNOWN, "", (model.get("calibration") or {}).get("ece"), None,
            model.get("n"))
        for source, part in model.get("per_source", {}).items():
            _figures_of(model_id, f"source {source}", part, add)
        for label, values in model.get("unknown_labels", {}).items():
            for name, count in values["predicted"].items():
                add("images called", model_id, f"label {label} (not a class of the version)", name, count, None,
                    values["n"])
    for source, by_model in report.get("within_source", {}).items():
        for model_id, values in by_model.items():
            add("COVID-19 vs Pneumonia AUC", model_id, f"within source {source}", "", values["auc"], None, values["n"])
    for pair in map(paired, report.get("comparisons", [])):
        versions = f"{pair.first} \u2212 {pair.second}"
        add("macro AUC difference", versions, ALL_KNOWN, "", pair.difference,
            [pair.low, pair.high] if pair.defined else None, pair.n)
        add("share of resamples where the first is higher", versions, ALL_KNOWN, "", pair.share_first_higher, None,
            pair.n)
    return pd.DataFrame(rows, columns=FIGURE_COLUMNS)


def _plain(value):
    """NaN as None (JSON has no NaN), NumPy scalars as Python numbers."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def export_json(report: dict, about: dict) -> str:
    """The report for a team: `about` (what was scored, as the page says it), why empty sections are
    empty, every image's predictions, the tidy figures, the comparisons read from the higher version,
    the unreadable files and each version's full report (confusion matrices and ROC curves included)."""
    figures = [{key: _plain(value) for key, value in row.items()} for row in figures_frame(report).to_dict("records")]
    comparisons = [{"first": p.first, "second": p.second, "images": p.n, "macro_auc_first": p.auc_first,
                    "macro_auc_second": p.auc_second, "difference": p.difference,
                    "interval": None if p.low is None else [p.low, p.high], "share_first_higher": p.share_first_higher,
                    "reading": reading(p)} for p in map(paired, report.get("comparisons", []))]
    document = {"about": dict(about, bootstrap=report.get("bootstrap"), images_scored=report.get("n_images", 0)),
                "empty_sections": section_notes(report), "images": report.get("images", []), "figures": figures,
                "comparisons": comparisons, "skipped": report.get("skipped", []),
                "version_reports": report.get("models", {})}
    return json.dumps(document, indent=2, allow_nan=False, default=_plain)
