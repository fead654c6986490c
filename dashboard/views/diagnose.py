"""Diagnose & explain: one radiograph, the model's probabilities, why it leaned that way and how far
to trust both.

The cheap trust checks (input check, test-time augmentation: about 0.2 s together) are drawn with the
probabilities, so the page does not jump when they arrive; lung attention and the agreement between
methods follow the map, and the slow check (deletion/insertion faithfulness, seconds) runs only when
asked for, so the first display of probabilities and Grad-CAM is never held up by it.
"""
from __future__ import annotations

import streamlit as st

from dashboard import caching, widgets
from model.explain import METHODS
from model.explain.occlusion import FILLS, grid_boxes
from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD, DEFAULT_OPACITY
from model.present import charts, text
from model.present.overlay import COLORMAPS, encode_png, fit_within, outline_lungs, render_overlay, to_uint8
from model.present.report import build_report, build_report_pdf
from model.trust.agreement import map_similarity, method_agreement
from model.trust.attention import lung_attention

GRID = 4  # What-if cells per side.
NO_CELL = -1
OCCLUSION = "occlusion"
MAP_LABELS = {name: method.label for name, method in METHODS.items()}
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
        first.metric("Accuracy", text.percent(headline.get("accuracy")))
        second.metric("Macro AUC", text.number(headline.get("macro_auc")))
        report = caching.metrics_or_empty(key)
        if report.get("per_class"):
            # The sidebar is narrow: the two figures a reader asks first, per class.
            st.dataframe(charts.per_class_table(report)[["class", "recall", "auc"]], hide_index=True,
                         width="stretch", column_config={"recall": st.column_config.NumberColumn(format="%.2f"),
                                                         "auc": st.column_config.NumberColumn("AUC", format="%.2f")})
        curves = caching.history_or_empty(key)
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
        st.page_link(widgets.PAGES["performance"], label="Full performance", icon=":material/monitoring:")


def cell_name(index: int) -> str:
    if index == NO_CELL:
        return "None (image as it is)"
    row, col = divmod(index, GRID)
    return f"Row {row + 1}, column {col + 1}"


def prediction_row(card, prediction, tta, input_flagged: bool) -> None:
    """The output and probabilities, with their uncertainty under small image changes."""
    summary, chart = st.columns([1, 2], gap="large")
    with summary:
        st.metric("Model output", prediction.label, border=True,
                  help="The class with the highest probability; it is not a diagnosis.")
        st.markdown(f"Probability **{prediction.confidence:.1%}**  \n{card.display_name}, version {card.version}")
        uncertainty_panel(tta, input_flagged)
    with chart:
        st.plotly_chart(charts.probability_bar(prediction), key="probabilities", config={"displayModeBar": False})


def uncertainty_panel(tta, input_flagged: bool = False) -> None:
    """Mean ± spread of the top class over the perturbed copies, and the referral state when uncertain."""
    top = tta.top_label
    st.metric(f"{top} under small image changes", f"{tta.top_probability:.1%} ± {tta.std[top]:.1%}",
              help=f"Mean ± standard deviation of the probability over {tta.n} predictions: the image "
                   "itself and copies shifted by up to 4 %, rotated by up to 5°, zoomed by ±5 % and "
                   "re-exposed (gamma). A large spread means the output hinges on details a second "
                   "acquisition would change.")
    st.caption(" · ".join(f"{label} {mean:.0%} ± {tta.std[label]:.0%}" for label, mean in tta.mean.items())
               + f"  \n{tta.agreement:.0%} of the {tta.n} copies give {top}.")
    if tta.uncertain:
        st.warning(f"**{tta.message}** " + " ".join(tta.reasons), icon=":material/help:")
    elif input_flagged:
        st.caption(":material/warning: Not flagged as uncertain, but this check assumes a frontal chest X-ray, "
                   "which the input check above doubts.")
    else:
        wide = tta.std[top] >= WIDE_SPREAD
        st.caption(":material/check_circle: Not flagged as uncertain"
                   + (f", although the probability of {top} moves by ±{tta.std[top]:.0%} between the copies."
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
    method = cols[0].selectbox("Method", list(METHODS), format_func=MAP_LABELS.get, key="method",
                               help="  \n".join(f"**{m.label}**: {m.summary}" for m in METHODS.values()))
    # Keyed by image and model, so a new image starts from its own predicted class.
    target = cols[1].selectbox("Class to explain", list(card.labels), index=prediction.index,
                               key=f"target-{image_digest[:16]}-{card.id}")
    layers = clf.layers()
    layer = cols[2].selectbox("Layer", layers, key=f"layer-{card.id}",
                              index=layers.index(card.explain_layer) if card.explain_layer in layers else len(layers) - 1,
                              disabled=not METHODS[method].uses_layer,
                              help="Deeper layers give coarser, more class-specific maps. "
                                   + ", ".join(m.label for m in METHODS.values() if not m.uses_layer)
                                   + " work on the input and have no layer.")
    opacity = cols[3].slider("Opacity", 0.0, 1.0, DEFAULT_OPACITY, 0.05, key="opacity")
    colormap = cols[4].selectbox("Colour map", list(COLORMAPS), index=list(COLORMAPS).index(DEFAULT_COLORMAP),
                                 key="colormap")
    # A map tinting the whole film hides the anatomy a reader needs to judge it.
    threshold = cols[5].slider("Hide below", 0.0, 0.9, DEFAULT_MAP_THRESHOLD, 0.05, key="threshold",
                               help="Map values below this are not coloured, so faint evidence does not "
                                    "hide the anatomy. Set it to 0 to see the whole map.")
    outline = st.toggle("Outline the lung fields", key="lung_outline", disabled=bool(lungs_reason),
                        help=lungs_reason or "Draws the lung segmentation's outline on the map (display only), "
                                             "to see whether the evidence lies on the lungs.")
    return {"method": method, "target": target, "layer": layer, "opacity": opacity, "colormap": colormap,
            "threshold": threshold, "outline": outline and not lungs_reason}


def compute_map(image_digest, key, xray, controls):
    method = METHODS[controls["method"]]
    message = f"Computing {method.label}: this method takes a while…" if method.slow else f"Computing {method.label}…"
    with st.spinner(message, show_time=method.slow):
        return caching.explanation(image_digest, key, controls["method"], controls["target"], controls["layer"],
                                  xray.pixels)


def images_row(xray, shown, overlay, explanation) -> None:
    original, explained = st.columns(2, gap="medium")
    size = f"{xray.metadata.get('width', '?')} x {xray.metadata.get('height', '?')} px"
    # Encoded here at a fast zlib level: Streamlit's own PNG encoding took longer than the model.
    original.image(encode_png(to_uint8(shown)), caption=f"Original ({xray.metadata.get('format', 'image')}, {size})",
                   width="stretch")
    where = f", layer {explanation.layer}" if explanation.layer else ""
    explained.image(encode_png(overlay), width="stretch",
                    caption=f"{MAP_LABELS[explanation.method]} for {explanation.label}{where}")


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
    result = caching.what_if(image_digest, key, box, fill, xray.pixels)
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
    with st.spinner("Classifying a few hundred occluded copies…", show_time=True):
        explained, on_image = caching.explanation(image_digest, key, OCCLUSION, controls["target"], None, xray.pixels)
    return explained.heatmap, on_image


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
        gradcam, _ = caching.explanation(image_digest, key, "gradcam", controls["target"], card.explain_layer,
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


def lung_panel(attention, lungs_reason: str, method_label: str) -> None:
    st.markdown("**Lung-field attention**")
    if attention is None:
        st.caption(f":material/block: {lungs_reason}")
        return
    st.metric("Map inside the lung fields", f"{attention.fraction:.0%}",
              help="Share of the map's total weight that lies on the lung fields found by the registry's lung "
                   "segmentation model. Findings of COVID-19 and pneumonia are in the lungs; weight on text "
                   "markers, borders, the neck or devices is a warning sign of a shortcut.")
    if attention.low:
        st.warning(attention.warning, icon=":material/report:")
        st.caption("Before concluding, switch on *Outline the lung fields*: the segmentation can leave out dense "
                   "consolidation, effusions and the lung behind the heart or the diaphragm, which makes this "
                   "share too low.")
    else:
        st.caption(f"Most of the {method_label} map lies on the lungs (warning below "
                   f"{attention.threshold:.0%}). This says where the model looked, not that it is right.")


def faithfulness_panel(image_digest, key, xray, controls, explanation):
    st.markdown("**Faithfulness**")
    wanted = st.toggle("Measure deletion and insertion", key="faithfulness",
                       help="Removes (or reveals) the pixels the map ranks highest first and follows the class "
                            "probability, against random pixel orders. About 170 predictions: a few seconds.")
    if not wanted:
        st.caption("Does hiding what the map highlights change the prediction more than hiding random pixels?")
        return None
    with st.spinner("Deleting and inserting pixels in the map's order…", show_time=True):
        faith = caching.faithfulness(image_digest, key, controls["method"], controls["target"], controls["layer"],
                                    xray.pixels)
    deletion, insertion = st.columns(2)
    deletion.metric("Deletion AUC", f"{faith.deletion_auc:.2f}",
                    f"{faith.deletion_auc - faith.random_deletion_auc:+.2f} vs random", delta_color="inverse",
                    help="Area under the probability curve while the most salient pixels are removed: lower is "
                         f"better. Random pixel orders: {faith.random_deletion_auc:.2f}.")
    insertion.metric("Insertion AUC", f"{faith.insertion_auc:.2f}",
                     f"{faith.insertion_auc - faith.random_insertion_auc:+.2f} vs random",
                     help="Area under the probability curve while the most salient pixels are revealed: higher "
                          f"is better. Random pixel orders: {faith.random_insertion_auc:.2f}.")
    st.plotly_chart(charts.faithfulness_figure(faith.curves), key="faithfulness_curves",
                    config={"displayModeBar": False})
    if faith.verdict == "faithful":
        st.success(faith.summary, icon=":material/check_circle:")
    elif faith.verdict == "mixed":
        st.info(faith.summary, icon=":material/contrast:")
    else:
        st.warning(faith.summary, icon=":material/warning:")
    return faith


def agreement_panel(maps: dict):
    st.markdown("**Agreement between methods**")
    if len(maps) < 2:
        st.caption("Choose another method above, or compute occlusion sensitivity below, to see whether the "
                   "methods point at the same regions.")
        return None
    agreement = method_agreement(maps)
    st.metric("Mean map similarity (Spearman)", f"{agreement.mean:+.2f}",
              help="Rank correlation of the maps at model-input resolution, averaged over the pairs: 1 same "
                   "ranking of regions, 0 unrelated, negative opposite.")
    pairs = {" vs ".join(MAP_LABELS.get(name, name) for name in pair.split(" vs ")): rho
             for pair, rho in agreement.pairs.items()}
    st.dataframe({"maps": list(pairs), "similarity": list(pairs.values())},
                 hide_index=True, width="stretch",
                 column_config={"similarity": st.column_config.NumberColumn(format="%+.2f")})
    if agreement.mean < LOW_AGREEMENT:
        st.caption(":material/warning: The methods disagree: trust none of the maps on its own.")
    else:
        st.caption("Agreement is not correctness: the Grad-CAM variants share their layer and tend to agree even "
                   "on a shortcut; agreement with occlusion is the stronger check.")
    return agreement


def sanity_flag(key, method: str) -> None:
    """The model's explanation report's verdict on this method, when the randomisation check flagged it."""
    report = caching.explanation_report_or_none(key)
    result = report.sanity_check.methods.get(method) if report and report.sanity_check else None
    if result and result.flagged:
        st.warning(f"In this model's explanation report, {MAP_LABELS.get(method, method)} maps stayed similar "
                   f"(Spearman {result.spearman:.2f}) when the weights were randomised: they may show the "
                   "image's structure more than the model's reasoning.", icon=":material/science:")


def trust_section(image_digest, key, xray, card, controls, explanation, on_image, lungs, lungs_reason,
                  warnings, tta) -> list[str]:
    """The trust signals of this map; returns every finding as sentences for the report."""
    method_label = MAP_LABELS[explanation.method]
    st.subheader("How far to trust this map")
    sanity_flag(key, explanation.method)
    maps = remember_map(image_digest, card, explanation)
    if occlusion_requested(image_digest, key, controls):
        maps[OCCLUSION] = occlusion(image_digest, key, xray, card, controls)[0]
    lungs_col, faith_col, agree_col = st.columns([1, 1.4, 1.2], gap="large")
    attention = None
    with lungs_col:
        if lungs is not None:
            attention = lung_attention(on_image, caching.lung_mask(image_digest, lungs, xray.pixels))
        lung_panel(attention, lungs_reason, method_label)
    with faith_col:
        faith = faithfulness_panel(image_digest, key, xray, controls, explanation)
    with agree_col:
        agreement = agreement_panel(maps)
    return text.trust_notes(warnings, tta, attention, lungs_reason, faith, agreement, method_label, MAP_LABELS)


def main() -> None:
    st.title("Diagnose & explain")
    widgets.disclaimer()
    cards = widgets.require_models()
    upload_col, model_col = st.columns([3, 2], gap="large")
    with upload_col:
        uploaded = widgets.uploader("upload")
    with model_col:
        card = widgets.model_picker(cards, key="diagnose_model")
        widgets.broken_entries()
    key = caching.model_key(card.id)
    model_panel(card, key)
    clf = caching.classifier(key)
    if clf is None:
        return
    # Loaded (and warmed up in the background) before any upload, like the classifier.
    lungs, lungs_reason = caching.lung_status(card.prep.lung_model)
    upload = widgets.read_upload(uploaded, prompt="Upload a frontal chest radiograph to see the model's "
                                                 "probabilities and explanation maps.")
    if upload is None:
        return
    image_digest, xray = upload
    with st.spinner("Checking the image…"):
        warnings = caching.input_warnings(image_digest, lungs, xray.pixels, xray.metadata)
        prediction = caching.predict(image_digest, key, xray.pixels)
        tta = caching.uncertainty(image_digest, key, xray.pixels)
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
        overlay = outline_lungs(overlay, caching.lung_mask(image_digest, lungs, xray.pixels))
    images_row(xray, shown, overlay, explanation)
    findings = trust_section(image_digest, key, xray, card, controls, explanation, on_image, lungs, lungs_reason,
                             warnings, tta)
    report_downloads(shown, overlay, prediction, card, explanation, findings)
    st.divider()
    what_if_section(image_digest, key, xray, controls)
    st.divider()
    occlusion_section(image_digest, key, xray, card, controls)


main()
