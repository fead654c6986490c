"""Tables of a multi-model evaluation report (`model.evaluation.evaluate_models`), for the Evaluate
and Compare pages and the CSV download: plain DataFrames, no Streamlit.

    summary = summary_table(report)        # one row per figure, one column per model, "0.912 (0.88-0.94)"
    frame = report_frame(report)           # long form, one row per (model, scope, figure), for CSV
"""
from __future__ import annotations

import numpy as np
import pandas as pd

FRAME_COLUMNS = ["model", "scope", "metric", "class", "value", "ci_low", "ci_high", "n"]


def with_interval(value, interval=None, digits: int = 3) -> str:
    """"0.912 (0.884-0.940)", "0.912" without an interval, "n/a" without a value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    text = f"{value:.{digits}f}"
    if interval:
        text += f" ({interval[0]:.{digits}f}-{interval[1]:.{digits}f})"
    return text


def _model_rows(model: dict) -> dict[str, str]:
    rows = {"images scored": f"{model['n_images']:,}", "images with a label it knows": f"{model['n']:,}",
            "accuracy": with_interval(model.get("accuracy")),
            "macro AUC (95% interval)": with_interval(model["macro"].get("auc"), model["macro"].get("auc_ci")),
            "macro F1": with_interval(model["macro"].get("f1")),
            "ECE (calibration error)": with_interval((model.get("calibration") or {}).get("ece"))}
    for label, values in model.get("per_class", {}).items():
        rows[f"{label} AUC (95% interval)"] = with_interval(values.get("auc"), values.get("auc_ci"))
        rows[f"{label} precision / recall / F1"] = (f"{values['precision']:.2f} / {values['recall']:.2f} / "
                                                   f"{values['f1']:.2f}")
    return rows


def summary_table(report: dict) -> pd.DataFrame:
    """The figures of every model side by side (strings, intervals in brackets), index "figure"."""
    models = report.get("models", {})
    table = pd.DataFrame({model_id: _model_rows(model) for model_id, model in models.items()}).fillna("–")
    table.index.name = "figure"
    return table


def unknown_labels_table(report: dict) -> pd.DataFrame:
    """One row per (label the models do not know, model): how many images, and what it called them."""
    rows = []
    for model_id, model in report.get("models", {}).items():
        for label, values in model.get("unknown_labels", {}).items():
            rows.append({"label in the data": label, "model": model_id, "images": values["n"],
                         **{f"called {name}": count for name, count in values["predicted"].items()}})
    return pd.DataFrame(rows)


def comparison_table(report: dict) -> pd.DataFrame:
    """The paired comparisons: B minus A macro AUC with its interval and the share of resamples where B is higher."""
    rows = []
    for pair in report.get("comparisons", []):
        interval = pair.get("interval")
        rows.append({"model A": pair["a"], "model B": pair["b"], "images": pair["n"],
                     "macro AUC A": pair["auc_a"], "macro AUC B": pair["auc_b"],
                     "B - A": pair["difference"],
                     "95% interval of B - A": "n/a" if not interval else f"{interval[0]:+.3f} to {interval[1]:+.3f}",
                     "resamples where B > A": pair["share_b_better"]})
    return pd.DataFrame(rows)


def comparison_sentence(pair: dict) -> str:
    """One plain sentence on whether B really beats A on these images."""
    interval = pair.get("interval")
    if pair.get("difference") is None or not interval:
        return f"{pair['b']} and {pair['a']} cannot be compared on these images (an AUC is undefined)."
    if interval[0] > 0:
        verdict = f"{pair['b']} is better than {pair['a']}"
    elif interval[1] < 0:
        verdict = f"{pair['a']} is better than {pair['b']}"
    else:
        verdict = f"the difference between {pair['a']} and {pair['b']} could be noise"
    return (f"On these {pair['n']} images {verdict}: macro AUC {pair['difference']:+.3f} "
            f"(95% interval {interval[0]:+.3f} to {interval[1]:+.3f}).")


def per_source_table(report: dict) -> pd.DataFrame:
    """Per source: images and macro AUC with interval for each model, and the within-source COVID-19 vs
    Pneumonia AUC where a source has both classes."""
    models = report.get("models", {})
    sources = sorted({s for m in models.values() for s in m.get("per_source", {})})
    rows = []
    for source in sources:
        row = {"source": source}
        for model_id, model in models.items():
            sub = model.get("per_source", {}).get(source)
            if sub is None:
                continue
            row["images"] = sub["n"]
            row[f"{model_id} macro AUC"] = with_interval(sub["macro"].get("auc"), sub["macro"].get("auc_ci"))
            row[f"{model_id} accuracy"] = with_interval(sub.get("accuracy"))
        within = report.get("within_source", {}).get(source)
        if within:
            for model_id, values in within.items():
                row[f"{model_id} COVID-19 vs Pneumonia AUC (n={values['n']})"] = with_interval(values["auc"])
        rows.append(row)
    return pd.DataFrame(rows).fillna("–") if rows else pd.DataFrame(columns=["source"])


def report_frame(report: dict) -> pd.DataFrame:
    """The report in long form for a CSV: one row per (model, scope, metric, class) with value and interval."""
    rows = []

    def add(model_id, scope, metric, label, value, interval=None, n=None):
        rows.append({"model": model_id, "scope": scope, "metric": metric, "class": label, "value": value,
                     "ci_low": interval[0] if interval else None, "ci_high": interval[1] if interval else None,
                     "n": n})

    for model_id, model in report.get("models", {}).items():
        scopes = [("all", model)] + [(f"source {s}", sub) for s, sub in model.get("per_source", {}).items()]
        for scope, sub in scopes:
            add(model_id, scope, "accuracy", "", sub.get("accuracy"), n=sub.get("n"))
            add(model_id, scope, "macro AUC", "", sub["macro"].get("auc"), sub["macro"].get("auc_ci"), sub.get("n"))
            add(model_id, scope, "macro F1", "", sub["macro"].get("f1"), n=sub.get("n"))
            for label, values in sub.get("per_class", {}).items():
                add(model_id, scope, "AUC", label, values.get("auc"), values.get("auc_ci"), values.get("support"))
                for metric in ("precision", "recall", "f1"):
                    add(model_id, scope, metric, label, values.get(metric), n=values.get("support"))
        add(model_id, "all", "ECE", "", (model.get("calibration") or {}).get("ece"), n=model.get("n"))
        for label, values in model.get("unknown_labels", {}).items():
            for name, count in values["predicted"].items():
                add(model_id, f"label {label} (not a class of the model)", "images called", name, count, n=values["n"])
    for pair in report.get("comparisons", []):
        add(f"{pair['b']} - {pair['a']}", "all", "macro AUC difference", "", pair["difference"], pair.get("interval"),
            pair["n"])
        add(f"{pair['b']} - {pair['a']}", "all", "share of resamples where B > A", "", pair["share_b_better"],
            n=pair["n"])
    for source, by_model in report.get("within_source", {}).items():
        for model_id, values in by_model.items():
            add(model_id, f"source {source}", "COVID-19 vs Pneumonia AUC", "", values["auc"], n=values["n"])
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def disagreement_table(report: dict) -> pd.DataFrame:
    """The images where the versions' answers differ: file, true label, source, then what each said."""
    rows = []
    for case in report.get("disagreements", []):
        row = {"image": case["path"].rsplit("/", 1)[-1], "true label": case["label"], "source": case["source"]}
        for model_id, label in case["predicted"].items():
            row[model_id] = f"{label} ({case['confidence'][model_id]:.0%})"
        rows.append(row)
    return pd.DataFrame(rows)
