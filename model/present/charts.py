"""Plotly figures for the dashboard: predictions, training histories and `metrics.json` reports.

Every function returns a `plotly.graph_objects.Figure` and takes plain data (a `Prediction`, a
history DataFrame, a report dict as written by `model.metrics.classification_report`), so the
figures can be tested without a browser and shown by any front end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PRIMARY = "#1f5aaa"
MUTED = "#a9b8cc"
TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#ff7f0e"
# Metrics shown first, in this order; any other `x`/`val_x` pair follows alphabetically.
METRIC_ORDER = ("loss", "accuracy", "auc", "precision", "recall")
METRIC_TITLES = {"loss": "Loss", "accuracy": "Accuracy", "auc": "AUC", "precision": "Precision",
                 "recall": "Recall"}
# History columns that are never drawn as a curve, and those that are bookkeeping, not a model metric.
NOT_CURVES = {"epoch", "member", "averaged_epochs"}
NON_METRICS = NOT_CURVES | {"lr", "learning_rate", "seconds"}


def _layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50 if title else 20, b=10),
                      template="plotly_white")
    return fig


def _empty(message: str, height: int | None = None) -> go.Figure:
    """A blank figure that says why it is blank, rather than an empty axis."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height)


def probability_bar(prediction) -> go.Figure:
    """Horizontal bars of every class probability in percent, the predicted class highlighted."""
    labels = list(prediction.labels)
    percent = np.asarray(prediction.probabilities, float) * 100.0
    predicted = int(np.argmax(percent))
    colours = [PRIMARY if k == predicted else MUTED for k in range(len(labels))]
    fig = go.Figure(go.Bar(x=percent, y=labels, orientation="h", marker_color=colours,
                           text=[f"{p:.1f}%" for p in percent], textposition="auto",
                           hovertemplate="%{y}: %{x:.1f}%<extra></extra>"))
    fig.update_xaxes(range=[0, 100], title="probability (%)")
    # First label on top, as in the card's order.
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=max(160, 60 + 45 * len(labels)))


def history_metrics(history: pd.DataFrame) -> list[str]:
    """Metric names in a history: every `x` with an `x` or a `val_x` column (some trainers log only the
    validation side of a metric), the usual ones first."""
    columns = set(history.columns)
    found = {c.removeprefix("val_") for c in columns} - NON_METRICS
    return sorted(found, key=lambda m: (METRIC_ORDER.index(m) if m in METRIC_ORDER else len(METRIC_ORDER), m))


def _epochs(history: pd.DataFrame) -> np.ndarray:
    """Epochs counted from 1, as people count: Keras' CSVLogger writes them from 0, the recipe trainer
    (training.recipes) from 1; a history's first row tells which (an ensemble's members each start over)."""
    if "epoch" in history.columns and len(history):
        epochs = history["epoch"].to_numpy()
        return epochs + 1 if epochs.min() == 0 else epochs
    return np.arange(1, len(history) + 1)


CURVE_PREFERENCE = ("val_auc", "val_loss", "val_accuracy", "loss")


def _runs(history: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """(member, rows) per trained network of a history: an ensemble's history holds its members' rows
    under a `member` column, in order; any other history is one run (member None)."""
    if "member" in history.columns:
        return list(history.groupby("member", sort=False))
    return [(None, history)]


def shown_curves(history: pd.DataFrame | None, count: int = 2) -> list[str]:
    """The first `count` columns of CURVE_PREFERENCE the history records (fit loops differ: one logs
    validation loss, another only validation AUC and accuracy), so no chart is drawn empty."""
    columns = set(getattr(history, "columns", ()))
    return [metric for metric in CURVE_PREFERENCE if metric in columns][:count]


def curve_choice(histories: dict[str, pd.DataFrame]) -> tuple[list[str], str | None, dict[str, list[str]]]:
    """What the Compare page can overlay: every history column (the usual validation ones first), the
    default (the preferred column recorded by the most models, so versions trained by different
    trainers still meet on one chart) and, per column, the models whose history lacks it."""
    have = {m: set(getattr(h, "columns", ())) - NOT_CURVES for m, h in histories.items()
            if h is not None and len(h)}
    columns = sorted(set().union(*have.values()) if have else set(),
                     key=lambda c: (CURVE_PREFERENCE.index(c) if c in CURVE_PREFERENCE else len(CURVE_PREFERENCE), c))
    missing = {c: [m for m in histories if c not in have.get(m, set())] for c in columns}
    default = min(columns, key=lambda c: (len(missing[c]), columns.index(c))) if columns else None
    return columns, default, missing


def training_curves(history: pd.DataFrame, height: int = 360) -> go.Figure:
    """One subplot per metric of a training history, training against validation by epoch."""
    metrics = history_metrics(history) if history is not None and len(history) else []
    if not metrics:
        return _empty("No training history was saved for this model.", height)
    epochs = _epochs(history)
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[METRIC_TITLES.get(m, m) for m in metrics])
    named = set()  # each of "training" and "validation" once in the legend, wherever it first appears
    for i, metric in enumerate(metrics, start=1):
        for column, name, colour in ((metric, "training", TRAIN_COLOUR), (f"val_{metric}", "validation",
                                                                            VALIDATION_COLOUR)):
            if column in history.columns:
                fig.add_trace(go.Scatter(x=epochs, y=history[column], mode="lines+markers", name=name,
                                         legendgroup=name, showlegend=name not in named, line=dict(color=colour)),
                              row=1, col=i)
                named.add(name)
        fig.update_xaxes(title_text="epoch", row=1, col=i)
    _shade_averaged(fig, averaged_epochs(history), [(1, i) for i in range(1, len(metrics) + 1)])
    return _layout(fig, height=height)


def curve_name(column: str) -> str:
    """A history column as a reader says it: "val_auc" -> "Validation AUC" (`model.present.text.CURVE_NAMES`
    first), "loss" -> "Training loss", "learning_rate" -> "Learning rate"."""
    from model.present.text import CURVE_NAMES

    if column in CURVE_NAMES:
        return CURVE_NAMES[column]
    base = column.removeprefix("val_")
    if base in NON_METRICS:
        return base.replace("_", " ").capitalize()
    title = METRIC_TITLES.get(base, base.replace("_", " "))
    title = title if title.isupper() else title.lower()
    return f"{'Validation' if column.startswith('val_') else 'Training'} {title}"


def _averaged_spans(histories: dict[str, pd.DataFrame], metric: str) -> dict[tuple[int, int], list[str]]:
    """{(first, last) averaged epoch: the models drawn with that span}, each run of a history (an
    ensemble's members) on its own, only models whose history has `metric`."""
    spans: dict[tuple[int, int], list[str]] = {}
    for model_id, history in histories.items():
        if history is None or metric not in getattr(history, "columns", ()):
            continue
        for _, rows in _runs(history):
            span = averaged_epochs(rows)
            if span is not None and model_id not in spans.setdefault(span, []):
                spans[span].append(model_id)
    return spans


# Between the versions one curve or shading belongs to: Compare names them in words, and its names hold commas
# ("MobileNet, two-channel v3"), so a comma between two of them read as four versions.
VERSIONS_JOINED = "; "


def compare_curves(histories: dict[str, pd.DataFrame], metric: str = "val_loss", height: int = 360) -> go.Figure:
    """One curve per model of one history column, overlaid, titled in words (`curve_name`); models without
    that column are left out.

    An ensemble's history holds its members' rows with a `member` column: one curve per member. The epochs
    whose weights were averaged into a model (its members') are shaded, as on a single model's chart."""
    fig = go.Figure()
    curves: dict = {}  # a member shared by several versions (the same run) is one curve naming them all
    for model_id, history in histories.items():
        if history is None or metric not in getattr(history, "columns", ()):
            continue
        for member, rows in _runs(history):
            key = (model_id,) if member is None else (member, tuple(_epochs(rows)), tuple(rows[metric]))
            curves.setdefault(key, (member, rows, []))[2].append(model_id)
    for member, rows, owners in curves.values():
        # One ensemble alone: its members' ids say enough (the narrow Diagnose panel).
        name = (owners[0] if member is None else member if len(histories) == 1
                else f"{VERSIONS_JOINED.join(owners)} · member {member}")
        fig.add_trace(go.Scatter(x=_epochs(rows), y=rows[metric], mode="lines+markers", name=name))
    if not fig.data:
        return _empty(f"No model has a {curve_name(metric)} history.", height)
    spans = _averaged_spans(histories, metric)
    for span, models in spans.items():
        whose = "" if len(histories) == 1 and len(spans) == 1 else f" of {VERSIONS_JOINED.join(models)}"
        _shade_averaged(fig, span, None, f"averaged epochs{whose} (the shipped weights)")
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=curve_name(metric))
    # The legend under the plot: beside it, long model names took half of a half-width chart.
    fig.update_layout(legend=dict(orientation="h", y=-0.3))
    return _layout(fig, title=curve_name(metric), height=height)


def trajectory_figure(frame: pd.DataFrame, height: int = 340) -> go.Figure:
    """Internal validation AUC and the unseen-source separation AUC by epoch of a watched held-out
    run (`model.present.shortcut_tables.trajectory_frame`) on one 0-1 axis, with the held-out sources'
    called-right shares as thin dotted lines on the same axis (shares, not AUCs)."""
    if frame is None or frame.empty:
        return _empty("No watched held-out run recorded.", height)
    fig = go.Figure()
    for column in frame.columns:
        if column == "epoch" or frame[column].isna().all():
            continue
        share = column.endswith("called right")
        fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[column], name=column,
                                 mode="lines" if share else "lines+markers",
                                 line=dict(width=1, dash="dot") if share else dict(width=3),
                                 hovertemplate="epoch %{x}: %{y:.2f}<extra>" + column + "</extra>"))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="AUC / share", range=[0, 1])
    fig = _layout(fig, height=height)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    return fig


def confusion_matrix_figure(report: dict, normalize: bool = False) -> go.Figure:
    """Heatmap of the confusion matrix, rows true and columns predicted, counts written in the cells.

    With `normalize`, colours show each row's share (the recall of its class) and cells read
    "count (share)"; without, colours show counts.
    """
    labels = list(report["labels"])
    counts = np.asarray(report["confusion_matrix"], dtype=float).reshape(len(labels), len(labels))
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    z = shares if normalize else counts
    text = [[f"{int(c)} ({s:.0%})" if normalize else f"{int(c)}" for c, s in zip(cr, sr)]
            for cr, sr in zip(counts, shares)]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues",
                               zmin=0, zmax=1 if normalize else None, showscale=False,
                               hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_xaxes(title="predicted", side="bottom")
    fig.update_yaxes(title="true", autorange="reversed")
    return _layout(fig, title="Confusion matrix" + (" (row-normalised)" if normalize else ""),
                   height=120 + 80 * len(labels))


def _auc_text(auc) -> str:
    return "AUC n/a" if auc is None else f"AUC {auc:.3f}"


def roc_figure(report: dict) -> go.Figure:
    """One-vs-rest ROC curve per class, AUC in the legend, and the chance diagonal."""
    fig = go.Figure()
    for label in report["labels"]:
        curve = report.get("roc", {}).get(label, {"fpr": [], "tpr": []})
        auc = report["per_class"][label].get("auc")
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=f"{label} ({_auc_text(auc)})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line=dict(dash="dash", color="grey")))
    fig.update_xaxes(title="false-positive rate", range=[0, 1])
    fig.update_yaxes(title="true-positive rate", range=[0, 1.02])
    return _layout(fig, title="ROC curves (one class against the rest)", height=420)


# The reliability diagram's axes: past 0 and 1 by the radius of its largest marker (15 px of a plot about 300 px
# high at 1366 px), so a bin at a corner is not cut in half.
CALIBRATION_RANGE = (-0.06, 1.06)


def calibration_figure(report: dict) -> go.Figure:
    """Reliability diagram: accuracy against mean confidence per non-empty bin, markers sized by count. The
    legend lies below the plot (at its side it took a third of a half-page chart at 1366 px) and the axes reach a
    little past 0 and 1, so a large marker at a corner (the top bin: confident and right) is drawn whole."""
    from model.present.text import number

    calibration = report.get("calibration") or {"bins": [], "ece": None}
    bins = [b for b in calibration["bins"] if b.get("count")]
    ece = calibration.get("ece")
    title = "Reliability diagram" + ("" if ece is None else f" (ECE {number(ece)})")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=dict(dash="dash", color="grey")))
    if bins:
        counts = np.array([b["count"] for b in bins], float)
        sizes = 8 + 22 * np.sqrt(counts / counts.max())
        fig.add_trace(go.Scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins],
                                 mode="lines+markers", name="model", marker=dict(size=sizes, color=PRIMARY),
                                 customdata=counts, hovertemplate="confidence %{x:.2f}, accuracy %{y:.2f}, "
                                                                  "%{customdata:.0f} images<extra></extra>"))
    fig.update_xaxes(title="mean confidence of the predicted class", range=list(CALIBRATION_RANGE))
    fig.update_yaxes(title="accuracy", range=list(CALIBRATION_RANGE))
    fig.update_layout(legend=dict(orientation="h", y=-0.22, x=0))
    return _layout(fig, title=title, height=440)


def per_class_table(report: dict) -> pd.DataFrame:
    """Precision, recall, F1, support and AUC of each class; a missing AUC is NaN."""
    rows = []
    for label in report["labels"]:
        values = report["per_class"][label]
        auc = values.get("auc")
        rows.append({"class": label, "precision": values["precision"], "recall": values["recall"],
                     "f1": values["f1"], "support": int(values["support"]),
                     "auc": np.nan if auc is None else float(auc)})
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1", "support", "auc"])


def faithfulness_figure(curves: dict, height: int = 220) -> go.Figure:
    """Deletion and insertion curves of one map (`model.trust.deletion_insertion` output): the
    explained class's probability as the most salient pixels are removed or revealed first."""
    fractions = [100 * f for f in curves["fractions"]]
    # Named as the figures above the chart name them ("While hiding", "While revealing"); the glossary keeps
    # deletion and insertion as the technical names.
    figure = go.Figure([go.Scatter(x=fractions, y=curves[name], mode="lines", name=shown)
                        for name, shown in (("deletion", "while hiding"), ("insertion", "while revealing"))])
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, template="plotly_white",
                         legend={"orientation": "h", "y": -0.35}, yaxis={"range": [0, 1], "title": "probability"},
                         xaxis={"title": "% of pixels, most salient first"})
    return figure


def roc_overlay(reports: dict[str, dict], label: str, digits: int = 2) -> go.Figure:
    """The ROC curve of one class (against the rest) for several models on the same images, AUC and
    its interval in the legend to `digits` decimals; `reports` is {model id: report with `roc` and `per_class`}.
    A model whose AUCs rest on too few films (`evaluation_tables.roc_withheld`, the figures table's rule) has no
    curve: the table beside it refuses its AUC (`roc_withheld_note` says why under the chart)."""
    from model.present.evaluation_tables import roc_withheld, too_few_text

    fig, withheld = go.Figure(), roc_withheld(reports)
    for model_id, report in reports.items():
        curve = (report.get("roc") or {}).get(label)
        if not curve or model_id in withheld:
            continue
        values = report["per_class"].get(label, {})
        interval, auc = values.get("auc_ci"), values.get("auc")
        name = f"{model_id} (AUC {'n/a' if auc is None else f'{auc:.{digits}f}'}"
        name += f", 95% {interval[0]:.{digits}f}–{interval[1]:.{digits}f})" if interval else ")"
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=name))
    if not fig.data and withheld:
        return _empty(f"No ROC curve is drawn: {too_few_text(min(withheld.values()))} for an AUC.", 160)
    if not fig.data:
        return _empty(f"No model has a ROC curve for {label}.", 420)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(dash="dash", color="grey")))
    fig.update_xaxes(title="false-positive rate", range=[0, 1])
    fig.update_yaxes(title="true-positive rate", range=[0, 1.02])
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return _layout(fig, title=f"ROC curves, {label} against the rest", height=460)


def averaged_epochs(history: pd.DataFrame) -> tuple[int, int] | None:
    """First and last epoch (counted from 1) whose weights were averaged into the shipped model
    (`training.recipes.Recipe.average_from`: the history's `averaged_epochs` column), else None."""
    if history is None or "averaged_epochs" not in getattr(history, "columns", ()) or not len(history):
        return None
    epochs = _epochs(history)[history["averaged_epochs"].notna().to_numpy()]
    return (int(epochs.min()), int(epochs.max())) if len(epochs) else None


def _shade_averaged(fig: go.Figure, averaged: tuple[int, int] | None, cells: list[tuple[int, int]] | None,
                    name: str = "averaged epochs (the shipped weights)") -> None:
    """Shade the averaged epochs in each (row, col) subplot (the whole figure for `cells` None) and name
    them once in the legend."""
    if averaged is None:
        return
    shade = dict(x0=averaged[0] - 0.5, x1=averaged[1] + 0.5, fillcolor="#888", opacity=0.15, line_width=0)
    for row, col in cells or [(None, None)]:
        fig.add_vrect(**shade, **({} if row is None else {"row": row, "col": col}))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                             marker=dict(color="rgba(136,136,136,0.4)", symbol="square", size=12)),
                  **({} if cells is None else {"row": 1, "col": 1}))


def chosen_epoch(history: pd.DataFrame, monitor: str = "val_auc") -> int | None:
    """The epoch (counted from 1) whose weights training kept: the best `monitor` (highest AUC, lowest
    loss); None when no single epoch was kept (weights averaged over epochs, see `averaged_epochs`)."""
    if history is None or monitor not in getattr(history, "columns", ()) or not len(history):
        return None
    if averaged_epochs(history) is not None:
        return None
    values = history[monitor].to_numpy(dtype=float)
    best = int(np.nanargmin(values) if "loss" in monitor else np.nanargmax(values))
    return int(_epochs(history)[best])


@dataclass(frozen=True)
class LateTrend:
    """How a validation curve moved over the last epochs of one run (an ensemble has one per member).

    `change`: the least-squares line through the last `epochs` values, its rise from the first of those
    epochs to the last, in the metric's own units; `improving`: that change is in the metric's good
    direction (up for AUC and accuracy, down for loss) by at least `min_change`.
    """

    metric: str
    member: str | None
    epochs: int
    last_epoch: int
    change: float
    improving: bool


def late_trends(history: pd.DataFrame | None, metric: str = "val_auc", window: int = 8,
                min_change: float = 0.01) -> list[LateTrend]:
    """The trend of `metric` over the last `window` epochs of each run in a history (each member of an
    ensemble's history on its own); empty when the history lacks the metric or has under 3 epochs."""
    if history is None or metric not in getattr(history, "columns", ()) or not len(history):
        return []
    trends = []
    for member, run in _runs(history):
        epochs, values = _epochs(run), run[metric].to_numpy(dtype=float)
        keep = np.isfinite(values)
        epochs, values = epochs[keep][-window:], values[keep][-window:]
        if len(values) < 3:
            continue
        slope = float(np.polyfit(epochs, values, 1)[0])
        change = slope * float(epochs[-1] - epochs[0])
        good = -change if "loss" in metric else change
        trends.append(LateTrend(metric, None if member is None else str(member), len(values), int(epochs[-1]),
                                change, good >= min_change))
    return trends


def panel_curves(history: pd.DataFrame, monitor: str = "val_auc", height: int = 460) -> go.Figure | None:
    """Loss and AUC by epoch, training against validation, the kept epoch marked: the narrow side
    panel's figure, titles on the subplots and the legend below the axes. An ensemble's history (a
    `member` column) gets one pair of curves per network. None when there is nothing to draw."""
    if history is None or not len(history) or not {"loss", "val_loss"} & set(history.columns):
        return None
    second = "auc" if "val_auc" in history.columns else "accuracy" if "val_accuracy" in history.columns else None
    metrics = ["loss"] + ([second] if second else [])
    titles = [f"{METRIC_TITLES.get(m, m)} by epoch" for m in metrics]
    fig = make_subplots(rows=len(metrics), cols=1, subplot_titles=titles, vertical_spacing=0.12, shared_xaxes=True)
    parts = _runs(history)
    dashes = ("solid", "dot", "dash")
    for m_index, (member, rows) in enumerate(parts):
        prefix = f"network {m_index + 1} " if member is not None else ""
        for row, metric in enumerate(metrics, start=1):
            for column, name, colour in ((metric, "training", TRAIN_COLOUR), (f"val_{metric}", "validation",
                                                                                VALIDATION_COLOUR)):
                if column not in rows.columns:
                    continue
                fig.add_trace(go.Scatter(x=_epochs(rows), y=rows[column], mode="lines", name=f"{prefix}{name}",
                                         legendgroup=f"{prefix}{name}", showlegend=row == 1,
                                         line=dict(color=colour, dash=dashes[m_index % len(dashes)])),
                              row=row, col=1)
            kept = chosen_epoch(rows, monitor)
            if kept is not None:
                fig.add_vline(x=kept, line=dict(color="#888", width=1, dash="dash"), row=row, col=1)
    # What was kept, named in the legend rather than written over a plot: one epoch's dashed line, or
    # the shaded span of epochs whose weights were averaged.
    averaged = averaged_epochs(history)
    if averaged is not None:
        _shade_averaged(fig, averaged, [(row, 1) for row in range(1, len(metrics) + 1)])
    else:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="kept epoch (best validation "
                                 + ("loss" if "loss" in monitor else "AUC") + ")",
                                 line=dict(color="#888", width=1, dash="dash")), row=1, col=1)
    fig.update_xaxes(title_text="epoch", title_standoff=4, row=len(metrics), col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white",
                      legend=dict(orientation="h", yanchor="top", y=-0.14, x=0, font=dict(size=11)),
                      font=dict(size=11))
    return fig


def colour_bar_html(colormap: str, threshold: float = 0.0, stops: int = 24) -> str:
    """The overlay's colour bar as a CSS gradient strip (HTML), weak on the left and strong on the right,
    the uncoloured part below `threshold` gray: drawn as text, it needs no image and follows the page's width."""
    from model.present.overlay import colour_bar

    bar = colour_bar(colormap, stops, 1, threshold)[0]
    gradient = ", ".join(f"rgb({r},{g},{b}) {100 * i / (len(bar) - 1):.0f}%" for i, (r, g, b) in enumerate(bar))
    return (f'<div role="img" aria-label="colour bar: weak to strong evidence" style="height:12px;border-radius:3px;'
            f'background:linear-gradient(to right, {gradient})"></div>')
