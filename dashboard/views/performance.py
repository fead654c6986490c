"""Model performance: training curves, test-split metrics, calibration and where the data came from."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import common
from model import charts

PLOT_CONFIG = {"displaylogo": False}


def headline_row(report: dict) -> None:
    cols = st.columns(5)
    macro = report.get("macro", {})
    cols[0].metric("Accuracy", common.percent(report.get("accuracy")))
    cols[1].metric("Macro AUC", common.number(macro.get("auc")))
    cols[2].metric("Macro F1", common.number(macro.get("f1")))
    cols[3].metric("Calibration error (ECE)", common.number((report.get("calibration") or {}).get("ece")),
                   help="Expected calibration error: the mean gap between confidence and accuracy; 0 is ideal.")
    cols[4].metric("Test images", f"{report.get('n', 0):,}")


def metrics_section(report: dict) -> None:
    st.subheader("Internal test split")
    headline_row(report)
    table, matrix = st.columns([1, 1], gap="large")
    with table:
        st.markdown("**Per class**")
        st.dataframe(charts.per_class_table(report), hide_index=True, width="stretch",
                     column_config={name: st.column_config.NumberColumn(format="%.3f")
                                    for name in ("precision", "recall", "f1", "auc")})
        normalize = st.toggle("Row-normalised confusion matrix", value=True, key="normalize")
    with matrix:
        st.plotly_chart(charts.confusion_matrix_figure(report, normalize=normalize), key="confusion",
                        config=PLOT_CONFIG)
    roc, calibration = st.columns(2, gap="large")
    roc.plotly_chart(charts.roc_figure(report), key="roc", config=PLOT_CONFIG)
    calibration.plotly_chart(charts.calibration_figure(report), key="calibration", config=PLOT_CONFIG)


def per_source_section(report: dict) -> None:
    """One confusion matrix per data source: a model that is only right on one source learnt the source."""
    per_source = report.get("per_source") or {}
    if not per_source:
        return
    st.subheader("By data source")
    st.caption("Accuracy that differs sharply between sources, or a class that comes from a single source, "
               "is a warning sign of a source shortcut.")
    st.dataframe(pd.DataFrame({source: {"images": sub.get("n"), "accuracy": sub.get("accuracy")}
                               for source, sub in per_source.items()}).T,
                 width="stretch", column_config={"accuracy": st.column_config.NumberColumn(format="percent"),
                                                 "images": st.column_config.NumberColumn(format="%d")})
    cols = st.columns(min(3, len(per_source)))
    for i, (source, sub) in enumerate(per_source.items()):
        figure = charts.confusion_matrix_figure({"labels": report["labels"], **sub}, normalize=False)
        figure.update_layout(title=f"{source} ({sub.get('n', 0)} images)")
        cols[i % len(cols)].plotly_chart(figure, key=f"source-{i}", config=PLOT_CONFIG)


def provenance_section(card) -> None:
    st.subheader("Data provenance")
    training = card.training or {}
    splits = training.get("splits") or {}
    facts = {key: value for key, value in training.items() if key != "splits" and not isinstance(value, (dict, list))}
    sources = training.get("sources") or []
    st.markdown("**Sources:** " + (", ".join(f"`{s}`" for s in sources) if sources else "not recorded"))
    left, right = st.columns([1, 2], gap="large")
    with left:
        if facts:
            st.dataframe(pd.Series({k: str(v) for k, v in facts.items()}, name="value"), width="stretch")
    with right:
        if splits:
            st.markdown("**Images per split**")
            st.dataframe(pd.DataFrame({name: {"images": s.get("images"), "patients": s.get("patients")}
                                       for name, s in splits.items()}), width="stretch")
            for field, title in (("by_label", "Per label"), ("by_source_label", "Per source and label")):
                table = pd.DataFrame({name: s.get(field, {}) for name, s in splits.items()})
                if not table.empty:
                    st.markdown(f"**{title}**")
                    st.dataframe(table.fillna(0).astype(int), width="stretch")
        else:
            st.info("The card records no split counts.")


def main() -> None:
    st.title("Model performance")
    common.disclaimer()
    cards = common.require_models()
    card = common.model_picker(cards, key="performance_model", label="Model version")
    key = common.model_key(card.id)
    st.caption(f"{card.display_name}, version {card.version} · architecture `{card.architecture}` · "
               f"created {card.created} · classes {', '.join(card.labels)}")
    st.subheader("Training curves")
    st.plotly_chart(charts.training_curves(common.history_or_empty(key)), key="curves", config=PLOT_CONFIG)
    report = common.metrics_or_empty(key)
    if report.get("per_class"):
        metrics_section(report)
        per_source_section(report)
    else:
        st.info("This entry has no metrics.json, so there are no test-split figures to show.")
    provenance_section(card)
    st.subheader("Notes on shortcuts and limitations")
    st.markdown(card.notes or "_The card has no notes._")


main()
