"""Diagnose & explain: one radiograph, the model's probabilities, why it leaned that way and how far
to trust both.

The cheap trust checks (input check, test-time augmentation: about 0.2 s together) are drawn with the
probabilities, so the page does not jump when they arrive; lung attention and the agreement between
methods follow the map, and the slow check (deletion/insertion faithfulness, seconds) runs only when
asked for, so the first display of probabilities and Grad-CAM is never held up by it.
"""
from __future__ import annotations

import streamlit as st

from dashboard import common
from model import charts
from model.compare import map_similarity
from model.explain import COLORMAPS, METHOD_LABELS, SLOW_METHODS, encode_png, fit_within, render_overlay, to_uint8
from model.occlusion import FILLS, grid_boxes
from model.report import build_report, build_report_pdf

GRID = 4  # What-if cells per side.
NO_CELL = -1
OCCLUSION = "occlusion"
MAP_LABELS = {**METHOD_LABELS, OCCLUSION: "Occlusion"}
MAPS_KEPT = 8  # (image, model, class) combinations whose maps are kept for the agreement between methods.
LOW_AGREEMENT = 0.3
WIDE_SPREAD = 0.1  # A standard deviation of the top class's probability from which its spread is pointed out.


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
        if "member" in curves.columns and "val_loss" in curves.columns:  # an ensemble: one curve per member
            figure = charts.compare_curves({card.id: curves}, "val_loss", height=230)
            figure.update_layout(legend={"orientation": "h", "y": -0.35})
            st.plotly_chart(figure, key="panel_curves", config={"displayModeBar": False})
        elif {"loss", "val_loss"} <= set(curves.columns):
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


def prediction_row(card, prediction, tta: dict, input_flagged: bool) -> None:
    """The output and probabilities, with their uncertainty under small image changes."""
    summary, chart = st.columns([1, 2], gap="large")
    with summary:
        st.metric("Model output", prediction.label, border=True,
                  help="The class with the highest probability; it is not a diagnosis.")
        st.markdown(f"Probability **{prediction.confidence:.1%}**  \n{card.display_name}, version {card.version}")
        uncertainty_panel(tta, input_flagged)
    with chart:
        st.plotly_chart(charts.probability_bar(prediction), key="probabilities", config={"displayModeBar": False})


def uncertainty_panel(tta: dict, input_flagged: bool = False) -> None:
    """Mean ± spread of the top class over the perturbed copies, and the referral state when uncertain."""
    top = tta["top_label"]
    st.metric(f"{top} under small image changes", f"{tta['top_probability']:.1%} ± {tta['std'][top]:.1%}",
              help=f"Mean ± standard deviation of the probability over {tta['n']} predictions: the image "
                   "itself and copies shifted by up to 4 %, rotated by up to 5°, zoomed by ±5 % and "
                   "re-exposed (gamma). A large spread means the output hinges on details a second "
                   "acquisition would change.")
    st.caption(" · ".join(f"{label} {mean:.0%} ± {tta['std'][label]:.0%}" for label, mean in tta["mean"].items())
               + f"  \n{tta['agreement']:.0%} of the {tta['n']} copies give {top}.")
    if tta["uncertain"]:
        st.warning(f"**{tta['message']}** " + " ".join(tta["reasons"]), icon=":material/help:")
    elif input_flagged:
        st.caption(":material/warning: Not flagged as uncertain, but this check assumes a frontal chest X-ray, "
                   "which the input check above doubts.")
    else:
        wide = tta["std"][top] >= WIDE_SPREAD
        st.caption(":material/check_circle: Not flagged as uncertain"
                   + (f", although the probability of {top} moves by ±{tta['std'][top]:.0%} between the copies."
                      if wide else ": the output holds under small changes of position and exposure."))


def input_check_panel(warnings: list[str]) -> None:
    """Each input-check warning above the result, which is still shown with that caveat."""
    if not warnings:
        return
    for warning in warnings:
        sentence = warning.removesuffix(" The image may not be a frontal chest X-ray.")
        sentence = sentence[0].lower() + sentence[1:] if sentence[:2].istitle() else sentence
        st.warning(f"This does not look like a frontal chest X-ray: {sentence}", icon=":material/warning:")
    st.caption("The prediction below is still shown, but read it with this caveat: the model was only "
               "trained on frontal chest radiographs.")


def explanation_controls(clf, card, prediction, image_digest: str, lungs_reason: str) -> dict:
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
    outline = st.toggle("Outline the lung fields", key="lung_outline", disabled=bool(lungs_reason),
                        help=lungs_reason or "Draws the lung segmentation's outline on the map (display only), "
                                             "to see whether the evidence lies on the lungs.")
    return {"method": method, "target": target, "layer": layer, "opacity": opacity, "colormap": colormap,
            "threshold": threshold, "outline": outline and not lungs_reason}


def compute_map(image_digest, key, xray, controls):
    label = METHOD_LABELS[controls["method"]]
    slow = controls["method"] in SLOW_METHODS
    text = f"Computing {label}: this method takes a while…" if slow else f"Computing {label}…"
    with st.spinner(text, show_time=slow):
        return common.explanation(image_digest, key, controls["method"], controls["target"], controls["layer"],
                                  xray.pixels)


def images_row(xray, shown, overlay, explanation) -> None:
    original, explained = st.columns(2, gap="medium")
    size = f"{xray.metadata.get('width', '?')} x {xray.metadata.get('height', '?')} px"
    # Encoded here at a fast zlib level: Streamlit's own PNG encoding took longer than the model.
    original.image(encode_png(to_uint8(shown)), caption=f"Original ({xray.metadata.get('format', 'image')}, {size})",
                   width="stretch")
    where = f", layer {explanation.layer}" if explanation.layer else ""
    explained.image(encode_png(overlay), width="stretch",
                    caption=f"{METHOD_LABELS[explanation.method]} for {explanation.label}{where}")


def report_downloads(shown, overlay, prediction, card, explanation, findings: list[str]) -> None:
    """PNG and PDF reports with the trust findings as notes, made only when a button is pressed."""
    args = (shown, overlay, prediction)
    kwargs = {"method": explanation.method, "model_id": card.id, "model_version": card.version,
              "model_name": card.display_name,
              "notes": (f"The map explains the class {explanation.label}"
                        + (f" at layer {explanation.layer}." if explanation.layer else "."), *findings)}
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


def occlusion_wanted(image_digest, key, controls) -> tuple:
    return image_digest, key, controls["target"]


def occlusion_requested(image_digest, key, controls) -> bool:
    return st.session_state.get("occlusion_for") == occlusion_wanted(image_digest, key, controls)


def occlusion(image_digest, key, xray, card, controls):
    """(map at model-input resolution, map on the original grid) of occlusion sensitivity, cached."""
    class_index = list(card.labels).index(controls["target"])
    with st.spinner("Classifying a few hundred occluded copies…", show_time=True):
        return common.occlusion_map(image_digest, key, class_index, xray.pixels)


def occlusion_section(image_digest, key, xray, card, controls) -> None:
    st.subheader("Cross-check: occlusion sensitivity")
    st.caption("Model-agnostic: a patch slides over the image and the drop in the probability of the explained "
               "class is mapped. If it disagrees with Grad-CAM, trust neither map on its own.")
    # A callback, so the request is known from the top of the run and the agreement above includes the map.
    st.button("Compute occlusion-sensitivity map", key="occlusion", icon=":material/grid_on:",
              on_click=st.session_state.update, kwargs={"occlusion_for": occlusion_wanted(image_digest, key, controls)})
    if not occlusion_requested(image_digest, key, controls):
        return
    occlusion_heat, on_image = occlusion(image_digest, key, xray, card, controls)
    with st.spinner("Computing Grad-CAM…"):
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


# --------------------------------------------------------------------------- trust


def remember_map(image_digest, card, explanation) -> dict:
    """Keep this map (model-input resolution) for the agreement between methods; returns the maps of
    every method computed so far for this image, model and class, the current one last."""
    kept = st.session_state.setdefault("maps_seen", {})
    slot = (image_digest, card.id, explanation.label)
    maps = kept.pop(slot, {})
    maps.pop(explanation.method, None)
    maps[explanation.method] = explanation.heatmap
    kept[slot] = maps  # Most recent last, so the oldest combination goes first.
    while len(kept) > MAPS_KEPT:
        kept.pop(next(iter(kept)))
    return dict(maps)


def lung_panel(attention: dict | None, lungs_reason: str, method_label: str) -> None:
    st.markdown("**Lung-field attention**")
    if attention is None:
        st.caption(f":material/block: {lungs_reason}")
        return
    st.metric("Map inside the lung fields", f"{attention['fraction']:.0%}",
              help="Share of the map's total weight that lies on the lung fields found by the registry's lung "
                   "segmentation model. Findings of COVID-19 and pneumonia are in the lungs; weight on text "
                   "markers, borders, the neck or devices is a warning sign of a shortcut.")
    if attention["low"]:
        st.warning(attention["warning"], icon=":material/report:")
        st.caption("Before concluding, switch on *Outline the lung fields*: the segmentation can leave out dense "
                   "consolidation, effusions and the lung behind the heart or the diaphragm, which makes this "
                   "share too low.")
    else:
        st.caption(f"Most of the {method_label} map lies on the lungs (warning below "
                   f"{attention['threshold']:.0%}). This says where the model looked, not that it is right.")


def faithfulness_panel(image_digest, key, xray, controls, explanation) -> dict | None:
    st.markdown("**Faithfulness**")
    wanted = st.toggle("Measure deletion and insertion", key="faithfulness",
                       help="Removes (or reveals) the pixels the map ranks highest first and follows the class "
                            "probability, against random pixel orders. About 170 predictions: a few seconds.")
    if not wanted:
        st.caption("Does hiding what the map highlights change the prediction more than hiding random pixels?")
        return None
    with st.spinner("Deleting and inserting pixels in the map's order…", show_time=True):
        faith = common.faithfulness(image_digest, key, controls["method"], controls["target"], controls["layer"],
                                    xray.pixels)
    mapped, chance = faith["map"], faith["random"]
    deletion, insertion = st.columns(2)
    deletion.metric("Deletion AUC", f"{mapped['deletion_auc']:.2f}",
                    f"{mapped['deletion_auc'] - chance['deletion_auc']:+.2f} vs random", delta_color="inverse",
                    help="Area under the probability curve while the most salient pixels are removed: lower is "
                         f"better. Random pixel orders: {chance['deletion_auc']:.2f}.")
    insertion.metric("Insertion AUC", f"{mapped['insertion_auc']:.2f}",
                     f"{mapped['insertion_auc'] - chance['insertion_auc']:+.2f} vs random",
                     help="Area under the probability curve while the most salient pixels are revealed: higher "
                          f"is better. Random pixel orders: {chance['insertion_auc']:.2f}.")
    st.plotly_chart(charts.faithfulness_figure(mapped["curves"]), key="faithfulness_curves",
                    config={"displayModeBar": False})
    if faith["better_than_random"]:
        st.success(faith["summary"], icon=":material/check_circle:")
    else:
        st.warning(faith["summary"], icon=":material/warning:")
    return faith


def agreement_panel(maps: dict) -> dict | None:
    st.markdown("**Agreement between methods**")
    if len(maps) < 2:
        st.caption("Choose another method above, or compute occlusion sensitivity below, to see whether the "
                   "methods point at the same regions.")
        return None
    from model.trust import method_agreement

    agreement = method_agreement({MAP_LABELS[method]: heat for method, heat in maps.items()})
    st.metric("Mean map similarity (Spearman)", f"{agreement['mean']:+.2f}",
              help="Rank correlation of the maps at model-input resolution, averaged over the pairs: 1 same "
                   "ranking of regions, 0 unrelated, negative opposite.")
    st.dataframe({"maps": list(agreement["pairs"]), "similarity": list(agreement["pairs"].values())},
                 hide_index=True, width="stretch",
                 column_config={"similarity": st.column_config.NumberColumn(format="%+.2f")})
    if agreement["mean"] < LOW_AGREEMENT:
        st.caption(":material/warning: The methods disagree: trust none of the maps on its own.")
    else:
        st.caption("Agreement is not correctness: the Grad-CAM variants share their layer and tend to agree even "
                   "on a shortcut; agreement with occlusion is the stronger check.")
    return agreement


def sanity_flag(key, method: str) -> None:
    """The model's explanation report's verdict on this method, when the randomisation check flagged it."""
    sanity = (common.explanation_report_or_empty(key).get("sanity_check") or {}).get("methods") or {}
    result = sanity.get(method)
    if result and result.get("flagged"):
        st.warning(f"In this model's explanation report, {METHOD_LABELS.get(method, method)} maps stayed similar "
                   f"(Spearman {result['spearman']:.2f}) when the weights were randomised: they may show the "
                   "image's structure more than the model's reasoning.", icon=":material/science:")


def trust_section(image_digest, key, xray, card, controls, explanation, on_image, lungs, lungs_reason,
                  warnings, tta) -> list[str]:
    """The trust signals of this map; returns every finding as sentences for the report."""
    method_label = METHOD_LABELS[explanation.method]
    st.subheader("How far to trust this map")
    sanity_flag(key, explanation.method)
    maps = remember_map(image_digest, card, explanation)
    if occlusion_requested(image_digest, key, controls):
        maps[OCCLUSION] = occlusion(image_digest, key, xray, card, controls)[0]
    lungs_col, faith_col, agree_col = st.columns([1, 1.4, 1.2], gap="large")
    attention = None
    with lungs_col:
        if lungs is not None:
            attention = common.lung_attention(on_image, common.lung_mask(image_digest, lungs, xray.pixels))
        lung_panel(attention, lungs_reason, method_label)
    with faith_col:
        faith = faithfulness_panel(image_digest, key, xray, controls, explanation)
    with agree_col:
        agreement = agreement_panel(maps)
    return common.trust_notes(warnings, tta, attention, lungs_reason, faith, agreement, method_label)


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
    # Loaded (and warmed up in the background) before any upload, like the classifier.
    lungs, lungs_reason = common.lung_status(card.prep.lung_model)
    upload = common.read_upload(uploaded, prompt="Upload a frontal chest radiograph to see the model's "
                                                 "probabilities and explanation maps.")
    if upload is None:
        return
    image_digest, xray = upload
    with st.spinner("Checking the image…"):
        warnings = common.input_warnings(image_digest, lungs, xray.pixels, xray.metadata)
        prediction = common.predict(image_digest, key, xray.pixels)
        tta = common.uncertainty(image_digest, key, xray.pixels)
    input_check_panel(warnings)  # Above the result, which is still shown with that caveat.
    prediction_row(card, prediction, tta, bool(warnings))
    st.divider()
    controls = explanation_controls(clf, card, prediction, image_digest, lungs_reason)
    explanation, on_image = compute_map(image_digest, key, xray, controls)
    # Shown at most DISPLAY_MAX_SIDE pixels wide or high; every figure is computed at full size.
    shown = fit_within(xray.pixels)
    overlay = render_overlay(shown, fit_within(on_image), controls["opacity"], controls["colormap"],
                             controls["threshold"])
    if controls["outline"]:
        overlay = common.outline_lungs(overlay, common.lung_mask(image_digest, lungs, xray.pixels))
    images_row(xray, shown, overlay, explanation)
    findings = trust_section(image_digest, key, xray, card, controls, explanation, on_image, lungs, lungs_reason,
                             warnings, tta)
    report_downloads(shown, overlay, prediction, card, explanation, findings)
    st.divider()
    what_if_section(image_digest, key, xray, controls)
    st.divider()
    occlusion_section(image_digest, key, xray, card, controls)


main()
