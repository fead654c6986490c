"""Diagnose & explain: one radiograph, the model's probabilities and why it leaned that way."""
from __future__ import annotations

import streamlit as st

from dashboard import common
from model import charts
from model.compare import map_similarity
from model.explain import COLORMAPS, METHOD_LABELS, SLOW_METHODS, render_overlay, to_uint8
from model.occlusion import FILLS, grid_boxes
from model.report import build_report, build_report_pdf

GRID = 4  # What-if cells per side.
NO_CELL = -1


def model_panel(card, key) -> None:
    """A compact summary of the selected model in the sidebar, linking to its full performance page."""
    with st.sidebar:
        st.subheader("Selected model")
        st.markdown(f"**{card.display_name}**  \nversion {card.version} · `{card.id}`")
        headline = card.metrics or {}
        first, second = st.columns(2)
        first.metric("Accuracy", common.percent(headline.get("accuracy")))
        second.metric("Macro AUC", common.number(headline.get("macro_auc")))
        report = common.metrics_or_empty(key)
        if report.get("per_class"):
            # The sidebar is narrow: the two figures a reader asks first, per class.
            st.dataframe(charts.per_class_table(report)[["class", "recall", "auc"]], hide_index=True,
                         width="stretch", column_config={"recall": st.column_config.NumberColumn(format="%.2f"),
                                                         "auc": st.column_config.NumberColumn("AUC", format="%.2f")})
        curves = common.history_or_empty(key)
        if {"loss", "val_loss"} <= set(curves.columns):
            figure = charts.training_curves(curves[[c for c in ("epoch", "loss", "val_loss") if c in curves]],
                                            height=230)
            figure.update_layout(legend={"orientation": "h", "y": -0.35})
            st.plotly_chart(figure, key="panel_curves", config={"displayModeBar": False})
        st.caption(f"Figures on the {headline.get('split', 'internal test')} split; they do not transfer "
                   "to other hospitals' images.")
        st.page_link(common.PAGES["performance"], label="Full performance", icon=":material/monitoring:")


def cell_name(index: int) -> str:
    if index == NO_CELL:
        return "None (image as it is)"
    row, col = divmod(index, GRID)
    return f"Row {row + 1}, column {col + 1}"


def prediction_row(card, prediction) -> None:
    summary, chart = st.columns([1, 2], gap="large")
    with summary:
        st.metric("Model output", prediction.label, border=True,
                  help="The class with the highest probability; it is not a diagnosis.")
        st.markdown(f"Probability **{prediction.confidence:.1%}**  \n{card.display_name}, version {card.version}")
    with chart:
        st.plotly_chart(charts.probability_bar(prediction), key="probabilities", config={"displayModeBar": False})


def explanation_controls(clf, card, prediction, image_digest: str) -> dict:
    """Method, class and layer (they choose the map) and opacity, colour map, threshold (display only)."""
    cols = st.columns([1.2, 1.2, 1.4, 1, 1, 1])
    method = cols[0].selectbox("Method", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="method",
                               help="Grad-CAM family: where in a convolutional layer the evidence sits. "
                                    "Score-CAM and SmoothGrad are slower.")
    # Keyed by image and model, so a new image starts from its own predicted class.
    target = cols[1].selectbox("Class to explain", list(card.labels), index=prediction.index,
                               key=f"target-{image_digest[:16]}-{card.id}")
    layers = clf.layers()
    layer = cols[2].selectbox("Layer", layers, key=f"layer-{card.id}",
                              index=layers.index(card.explain_layer) if card.explain_layer in layers else len(layers) - 1,
                              disabled=method == "smoothgrad",
                              help="Deeper layers give coarser, more class-specific maps. SmoothGrad works on "
                                   "pixels and has no layer.")
    opacity = cols[3].slider("Opacity", 0.0, 1.0, 0.45, 0.05, key="opacity")
    colormap = cols[4].selectbox("Colour map", list(COLORMAPS), key="colormap")
    # 0.2 by default: a map tinting the whole film hides the anatomy a reader needs to judge it.
    threshold = cols[5].slider("Hide below", 0.0, 0.9, 0.2, 0.05, key="threshold",
                               help="Map values below this are not coloured, so faint evidence does not "
                                    "hide the anatomy. Set it to 0 to see the whole map.")
    return {"method": method, "target": target, "layer": layer, "opacity": opacity, "colormap": colormap,
            "threshold": threshold}


def compute_map(image_digest, key, xray, controls):
    label = METHOD_LABELS[controls["method"]]
    slow = controls["method"] in SLOW_METHODS
    text = f"Computing {label}: this method takes a while…" if slow else f"Computing {label}…"
    with st.spinner(text, show_time=slow):
        return common.explanation(image_digest, key, controls["method"], controls["target"], controls["layer"],
                                  xray.pixels)


def images_row(xray, overlay, explanation) -> None:
    original, explained = st.columns(2, gap="medium")
    size = f"{xray.metadata.get('width', '?')} x {xray.metadata.get('height', '?')} px"
    original.image(to_uint8(xray.pixels), caption=f"Original ({xray.metadata.get('format', 'image')}, {size})",
                   width="stretch", output_format="PNG")
    where = f", layer {explanation.layer}" if explanation.layer else ""
    explained.image(overlay, width="stretch", output_format="PNG",
                    caption=f"{METHOD_LABELS[explanation.method]} for {explanation.label}{where}")


def report_downloads(xray, overlay, prediction, card, explanation) -> None:
    """PNG and PDF reports, made only when a button is pressed."""
    args = (xray.pixels, overlay, prediction)
    kwargs = {"method": explanation.method, "model_id": card.id, "model_version": card.version,
              "model_name": card.display_name,
              "notes": (f"The map explains the class {explanation.label}"
                        + (f" at layer {explanation.layer}." if explanation.layer else "."),)}
    stem = f"cxr-report-{card.id}-{explanation.method.replace('+', 'plus')}"
    png, pdf, _ = st.columns([1, 1, 3])
    png.download_button("Report (PNG)", data=lambda: build_report(*args, **kwargs), file_name=f"{stem}.png",
                        mime="image/png", icon=":material/download:", on_click="ignore", key="report_png")
    pdf.download_button("Report (PDF)", data=lambda: build_report_pdf(*args, **kwargs), file_name=f"{stem}.pdf",
                        mime="application/pdf", icon=":material/picture_as_pdf:", on_click="ignore",
                        key="report_pdf")


def what_if_section(image_digest, key, xray, controls) -> None:
    st.subheader("What if this region were hidden?")
    st.caption(f"The model input is divided into a {GRID} x {GRID} grid; the chosen cell is hidden and the "
               "image is classified again. A large drop means the model relied on that region.")
    choose, hidden, change = st.columns([1, 1.2, 1.6], gap="medium")
    cell = choose.selectbox("Cell to hide", [NO_CELL, *range(GRID * GRID)], format_func=cell_name, key="cell")
    fill = choose.selectbox("Hide with", FILLS, key="fill",
                            help="Blur keeps the image looking like a radiograph; black is a harsher test.")
    if cell == NO_CELL:
        choose.caption("Choose a cell to see the prediction without it.")
        return
    box = grid_boxes(GRID, GRID)[cell]
    result = common.what_if(image_digest, key, box, fill, xray.pixels)
    hidden.image(to_uint8(result.occluded_input[..., 0]), caption=f"Model input, {cell_name(cell).lower()} hidden",
                 width="stretch")
    table = {"before": result.before.as_dict(), "after": result.after.as_dict(), "change": result.delta}
    change.dataframe(table, width="stretch", column_config={
        name: st.column_config.NumberColumn(name.capitalize(), format="percent") for name in table})
    change.markdown(f"Output **{result.before.label}** ({result.before.confidence:.1%}) → "
                    f"**{result.after.label}** ({result.after.confidence:.1%})")


def occlusion_section(image_digest, key, xray, card, controls) -> None:
    st.subheader("Cross-check: occlusion sensitivity")
    st.caption("Model-agnostic: a patch slides over the image and the drop in the probability of the explained "
               "class is mapped. If it disagrees with Grad-CAM, trust neither map on its own.")
    wanted = (image_digest, key, controls["target"])
    if st.button("Compute occlusion-sensitivity map", key="occlusion", icon=":material/grid_on:"):
        st.session_state["occlusion_for"] = wanted
    if st.session_state.get("occlusion_for") != wanted:
        return
    class_index = list(card.labels).index(controls["target"])
    with st.spinner("Classifying a few hundred occluded copies…", show_time=True):
        occlusion_heat, on_image = common.occlusion_map(image_digest, key, class_index, xray.pixels)
        gradcam, _ = common.explanation(image_digest, key, "gradcam", controls["target"], card.explain_layer,
                                        xray.pixels)
    similarity = map_similarity(gradcam.heatmap, occlusion_heat)
    picture, verdict = st.columns([1, 1], gap="medium")
    picture.image(render_overlay(xray.pixels, on_image, controls["opacity"], controls["colormap"],
                                 controls["threshold"]),
                  caption=f"Occlusion sensitivity for {controls['target']}", width="stretch")
    verdict.metric("Agreement with Grad-CAM (Spearman)", f"{similarity:+.2f}",
                   help="Rank correlation of the two maps at model-input resolution: 1 same ranking, "
                        "0 unrelated, negative opposite.")
    verdict.caption(f"Grad-CAM at the card's layer `{card.explain_layer}` for the same class.")


def main() -> None:
    st.title("Diagnose & explain")
    common.disclaimer()
    cards = common.require_models()
    upload_col, model_col = st.columns([3, 2], gap="large")
    with upload_col:
        uploaded = common.uploader("upload")
    with model_col:
        card = common.model_picker(cards, key="diagnose_model")
        common.broken_entries()
    key = common.model_key(card.id)
    model_panel(card, key)
    clf = common.classifier(key)
    if clf is None:
        return
    upload = common.read_upload(uploaded)
    if upload is None:
        if uploaded is None:
            st.info("Upload a frontal chest radiograph to see the model's probabilities and explanation maps.",
                    icon=":material/upload_file:")
        return
    image_digest, xray = upload
    prediction = common.predict(image_digest, key, xray.pixels)
    prediction_row(card, prediction)
    st.divider()
    controls = explanation_controls(clf, card, prediction, image_digest)
    explanation, on_image = compute_map(image_digest, key, xray, controls)
    overlay = render_overlay(xray.pixels, on_image, controls["opacity"], controls["colormap"], controls["threshold"])
    images_row(xray, overlay, explanation)
    report_downloads(xray, overlay, prediction, card, explanation)
    st.divider()
    what_if_section(image_digest, key, xray, controls)
    st.divider()
    occlusion_section(image_digest, key, xray, card, controls)


main()
