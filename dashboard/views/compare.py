"""Compare versions: training curves, test metrics and, on one image, predictions and maps side by side."""
from __future__ import annotations

from itertools import combinations

import pandas as pd
import streamlit as st

from dashboard import common
from model import charts
from model.compare import map_similarity, metrics_comparison, prediction_agreement
from model.explain import render_overlay

MAX_DEFAULT = 3
OWN_PREDICTION = "Each model's own prediction"
PLOT_CONFIG = {"displaylogo": False}


def highlight_best(table: pd.DataFrame, models: list[str]):
    """A Styler: each row's best model in green, rows where the models differ by 5 points or more in bold."""
    def style_row(row: pd.Series) -> list[str]:
        differs = pd.notna(row["spread"]) and row["spread"] >= 0.05
        styles = []
        for column in row.index:
            style = "font-weight: 700;" if differs else ""
            if column in models and column == row["best"]:
                style += "background-color: rgba(46, 160, 67, 0.35);"
            styles.append(style)
        return styles

    return table.style.apply(style_row, axis=1).format(precision=3, na_rep="n/a", subset=[*models, "spread"])


def curves_section(chosen: list[str]) -> None:
    histories = {model_id: common.history_or_empty(common.model_key(model_id)) for model_id in chosen}
    columns = sorted({c for h in histories.values() for c in h.columns if c != "epoch"})
    if not columns:
        st.info("None of these models saved a training history.")
        return
    metric = st.selectbox("Curve", columns, index=columns.index("val_loss") if "val_loss" in columns else 0,
                          key="compare_metric")
    st.plotly_chart(charts.compare_curves(histories, metric=metric), key="compare_curves", config=PLOT_CONFIG)


def metrics_section(chosen: list[str]) -> None:
    reports = {model_id: common.metrics_or_empty(common.model_key(model_id)) for model_id in chosen}
    table = metrics_comparison(reports)
    st.dataframe(highlight_best(table, chosen), width="stretch", height=38 + 35 * len(table))
    st.caption("Green: the best model for that figure (lowest for ECE). Bold: the models differ by 0.05 or "
               "more. All figures are on each model's own internal test split, which may not be the same images.")


def image_section(cards_by_id: dict, chosen: list[str]) -> None:
    st.subheader("One image, every version")
    uploaded = common.uploader("compare_upload")
    upload = common.read_upload(uploaded)
    if upload is None:
        if uploaded is None:
            st.info("Upload a radiograph to see each version's prediction and Grad-CAM map side by side.",
                    icon=":material/upload_file:")
        return
    image_digest, xray = upload
    shared = [label for label in cards_by_id[chosen[0]].labels if all(label in cards_by_id[m].labels for m in chosen)]
    target = st.selectbox("Class to explain", [OWN_PREDICTION, *shared], key="compare_target")
    predictions, maps = {}, {}
    columns = st.columns(len(chosen), gap="medium")
    for column, model_id in zip(columns, chosen):
        card, key = cards_by_id[model_id], common.model_key(model_id)
        if common.classifier(key) is None:
            continue
        prediction = common.predict(image_digest, key, xray.pixels)
        with st.spinner(f"Grad-CAM for {card.display_name}…"):
            explanation, on_image = common.explanation(image_digest, key, "gradcam",
                                                       prediction.label if target == OWN_PREDICTION else target,
                                                       card.explain_layer, xray.pixels)
        predictions[model_id], maps[model_id] = prediction, on_image
        with column:
            st.markdown(f"**{common.card_label(card)}**")
            st.metric("Model output", prediction.label)
            st.caption(f"Probability {prediction.confidence:.1%}")
            st.image(render_overlay(xray.pixels, on_image), width="stretch",
                     caption=f"Grad-CAM for {explanation.label}, layer {explanation.layer}")
            st.plotly_chart(charts.probability_bar(prediction), key=f"compare_probs_{model_id}",
                            config={"displayModeBar": False})
    if len(predictions) >= 2:
        agreement_section(predictions, maps)


def agreement_section(predictions: dict, maps: dict) -> None:
    agreement = prediction_agreement(predictions)
    if agreement["all_agree"]:
        st.success(f"All versions output **{agreement['majority']}**; the largest difference in any class "
                   f"probability is {agreement['max_probability_gap']:.1%}.", icon=":material/check_circle:")
    else:
        votes = ", ".join(f"{model_id}: {label}" for model_id, label in agreement["labels"].items())
        st.warning(f"The versions disagree ({votes}); majority {agreement['majority']} "
                   f"({agreement['agreement']:.0%}). Largest probability difference "
                   f"{agreement['max_probability_gap']:.1%}.", icon=":material/warning:")
    pairs = [{"model A": a, "model B": b, "map similarity (Spearman)": map_similarity(maps[a], maps[b])}
             for a, b in combinations(maps, 2)]
    st.dataframe(pd.DataFrame(pairs), hide_index=True, width="content",
                 column_config={"map similarity (Spearman)": st.column_config.NumberColumn(format="%+.2f")})
    st.caption("Similarity of the Grad-CAM maps on the original image: 1 same ranking of regions, 0 unrelated.")


def main() -> None:
    st.title("Compare versions")
    common.disclaimer()
    cards = common.require_models()
    if len(cards) < 2:
        st.info("Comparing needs at least two usable models in the registry; there is only "
                f"{common.card_label(cards[0])}.")
        common.broken_entries()
        return
    cards_by_id = {card.id: card for card in cards}
    chosen = st.multiselect("Versions to compare", list(cards_by_id), default=list(cards_by_id)[:MAX_DEFAULT],
                            format_func=lambda model_id: common.card_label(cards_by_id[model_id]),
                            key="compare_models")
    if len(chosen) < 2:
        st.info("Choose two or more versions.")
        return
    st.subheader("Training curves")
    curves_section(chosen)
    st.subheader("Test metrics side by side")
    metrics_section(chosen)
    st.divider()
    image_section(cards_by_id, chosen)


main()
