"""Diagnose & explain: one radiograph, the model's answer, why it leaned that way and how far to trust both.

Made for a reader at a workstation: the triage status comes first (answer, uncertain, out of scope:
an out-of-scope film's answer is held back), then one confidence figure, the probabilities and the
film beside its map, all on the first screen; the film carries a grid and a click on a cell hides
that region and shows the change in percentage points. Trust details, every method side by side,
zoom with window/level and the report sit in tabs below. The upload and the settings are kept in
the session (memory only), so visiting another page and coming back shows the same case.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import caching, widgets
from model.explain import METHODS
from model.explain.film_grid import cell_at, cell_name, points
from model.explain.occlusion import FILLS
from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD, DEFAULT_OPACITY, INTENDED_POPULATION
from model.prediction import Prediction
from model.present import charts, text
from model.present.layers import EDGE_NOTE, layer_choices, layer_label, visible_choices
from model.present.overlay import (
    COLORMAPS,
    SCALE_NOTE,
    colour_bar,
    colour_bar_caption,
    draw_grid,
    encode_png,
    fade_outside,
    fit_within,
    outline_lungs,
    region_caption,
    render_overlay,
    to_uint8,
    window,
)
from model.present.report import build_report, build_report_pdf
from model.trust.agreement import map_similarity, method_agreement
from model.trust.attention import lung_attention
from model.trust.triage import OUT_OF_SCOPE, UNCERTAIN

GRID = 6  # Click-to-hide cells per side of the film.
OCCLUSION = "occlusion"
MAP_LABELS = {name: method.label for name, method in METHODS.items()}
MAPS_KEPT = 8  # (image, model, class) combinations whose maps are kept for the agreement between methods.
LOW_AGREEMENT = 0.3
FILM_SIDE = 1024  # Long side of the clickable film sent to the browser (JPEG): fast on every screen.


# --------------------------------------------------------------------------- side panel


def model_panel(card, key) -> None:
    """The selected model beside the result: name, version, population, per-class recall and AUC,
    its training curves, and the caveat as prominent as the figures."""
    with st.sidebar:
        st.subheader("Selected model")
        st.markdown(f"**{card.display_name}**  \nversion {card.version} · `{card.id}`")
        st.caption(f"**For:** {INTENDED_POPULATION}")
        headline = card.metrics or {}
        split = headline.get("split", "internal test")
        st.warning(f"Figures from the {split} split of the training sources: they do not transfer to other "
                   "hospitals' images.", icon=":material/info:")
        first, second = st.columns(2)
        first.metric("Accuracy", text.percent(headline.get("accuracy")))
        second.metric("Macro AUC", text.number(headline.get("macro_auc")))
        report = caching.metrics_or_empty(key)
        if report.get("per_class"):
            # One format throughout: shares as percent with one decimal (as the metrics above), AUC to three places.
            table = charts.per_class_table(report)[["class", "recall", "auc"]].assign(
                recall=lambda t: t["recall"] * 100.0)
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={"class": st.column_config.TextColumn("Class"),
                                        "recall": st.column_config.NumberColumn("Recall", format="%.1f%%"),
                                        "auc": st.column_config.NumberColumn("AUC", format="%.3f")})
        curves = caching.history_or_empty(key)
        figure = charts.panel_curves(curves, (card.training or {}).get("monitor", "val_auc"))
        if figure is not None:
            st.plotly_chart(figure, key="panel_curves", config={"displayModeBar": False})
        st.page_link(widgets.PAGES["performance"], label="Full performance", icon=":material/monitoring:")


# --------------------------------------------------------------------------- status and output


def status_box(result) -> None:
    """The triage status, first on the page; its look follows the status."""
    reasons = " ".join(result.reasons)
    if result.status == OUT_OF_SCOPE:  # not st.error: that is kept for failures of the app itself
        with st.container(border=True):
            st.markdown(f":red[:material/block: **{result.headline}.**] {reasons}")
    elif result.status == UNCERTAIN:
        st.warning(f"**{result.headline}.** {reasons}", icon=":material/help:")
    else:
        st.info("**Answer.** No check found a reason to doubt it.",
                icon=":material/assignment:")


def output_box(card, tta, result, probabilities: Prediction) -> None:
    """The model's output with one confidence figure (the mean over the test-time copies) in plain words."""
    name, colour, icon = widgets.STATUS_BADGES[result.status]
    figure, stable, sentence = text.confidence_words(tta)
    with st.container(border=True):
        st.badge(name, color=colour, icon=icon)
        st.metric("Model output", tta.top_label, help="The class with the highest probability; not a diagnosis.")
        st.metric("Confidence", figure, help=f"Mean probability of {tta.top_label} over {tta.n} "
                          "predictions: the film itself and copies shifted by up to 4 %, rotated by up to 5°, "
                          "zoomed by ±5 % and re-exposed.")
        word, rest = sentence.split(": ", 1)
        st.markdown(f":{'orange' if tta.uncertain else 'blue'}[**{word}**]: {rest}")
        st.caption(f"{card.display_name}, version {card.version}")
    chart = charts.probability_bar(probabilities)
    # Figures inside long bars and beside short ones, so neither is cut off nor squeezed.
    chart.update_traces(textposition=["inside" if p >= 0.25 else "outside" for p in probabilities.probabilities],
                        cliponaxis=False)
    chart.update_layout(height=150, margin=dict(l=0, r=10, t=4, b=0))
    chart.update_xaxes(title=None)
    st.plotly_chart(chart, key="probabilities", config={"displayModeBar": False})


def input_check_panel(warnings: list[str]) -> None:
    """Each input-check warning, said once."""
    for warning in warnings:
        sentence = warning.removesuffix(" The image may not be a frontal chest X-ray.")
        sentence = sentence[0].lower() + sentence[1:] if sentence[:2].istitle() else sentence
        st.warning(f"This does not look like a frontal chest X-ray: {sentence}", icon=":material/warning:")


# --------------------------------------------------------------------------- settings


def explanation_controls(clf, card, default_class: int, image_digest: str, lungs_reason: str) -> dict:
    """Method, class and layer (they choose the map) and opacity, colour map, threshold (display only).
    Every choice is kept for the session (`widgets.kept`), so it survives a visit to another page."""
    cols = st.columns([1.1, 1.1, 1.8, 0.9, 0.9, 0.9])
    methods = list(METHODS)
    method = cols[0].selectbox("Method", methods, format_func=MAP_LABELS.get, key="method",
                               index=methods.index(widgets.kept("method", "gradcam")),
                               help="  \n".join(f"**{m.label}**: {m.summary}" for m in METHODS.values()))
    widgets.keep("method", method)
    target = cols[1].selectbox("Class to explain", list(card.labels), index=default_class,
                               key=f"target-{image_digest[:16]}-{card.id}")
    advanced = st.session_state.get("advanced_layers", widgets.kept("advanced_layers", False))
    choices = layer_choices(clf.layers(), card.explain_layer, (card.training or {}).get("members", ()))
    shown = visible_choices(choices, advanced)
    names = [c.name for c in shown]
    labels = {c.name: c.label for c in choices}
    layer_key = f"layer-{card.id}"
    if st.session_state.get(layer_key) not in (None, *names):
        del st.session_state[layer_key]  # an advanced layer after the switch was turned off
    kept_layer = widgets.kept(layer_key, names[0])
    layer = cols[2].selectbox("Layer", names, key=layer_key, format_func=labels.get,
                              index=names.index(kept_layer) if kept_layer in names else 0,
                              disabled=not METHODS[method].uses_layer,
                              help="Deeper layers give coarser, more class-specific maps. "
                                   + ", ".join(m.label for m in METHODS.values() if not m.uses_layer)
                                   + " work on the input and have no layer.")
    widgets.keep(layer_key, layer)
    opacity = cols[3].slider("Opacity", 0.0, 1.0, widgets.kept("opacity", DEFAULT_OPACITY), 0.05, key="opacity")
    colormap = cols[4].selectbox("Colour map", list(COLORMAPS), key="colormap",
                                 index=list(COLORMAPS).index(widgets.kept("colormap", DEFAULT_COLORMAP)))
    # A map tinting the whole film hides the anatomy a reader needs to judge it.
    threshold = cols[5].slider("Hide below", 0.0, 0.9, widgets.kept("threshold", DEFAULT_MAP_THRESHOLD), 0.05,
                               key="threshold",
                               help="Map values below this share of the map's maximum are not coloured, so faint "
                                    "evidence does not hide the anatomy. Set it to 0 to see the whole map.")
    switches = st.columns(4)
    outline = switches[0].toggle("Outline the lung fields", key="lung_outline", disabled=bool(lungs_reason),
                                 value=widgets.kept("lung_outline", False),
                                 help=lungs_reason or "Draws the lung segmentation's outline on the map (display "
                                                      "only), to see whether the evidence lies on the lungs.")
    switches[1].toggle("Advanced layers", key="advanced_layers", value=advanced,
                       help="Lists the early layers too. " + EDGE_NOTE)
    zoom = switches[2].toggle("Zoom, pan & window", key="zoom", value=widgets.kept("zoom", False),
                              help="Film and map in one zoomable view with shared axes, with window and level.")
    chosen = next((c for c in choices if c.name == layer), None)
    for name, value in (("opacity", opacity), ("colormap", colormap), ("threshold", threshold),
                        ("lung_outline", outline), ("advanced_layers", st.session_state.get("advanced_layers")),
                        ("zoom", zoom)):
        widgets.keep(name, value)
    if METHODS[method].uses_layer and chosen is not None:
        if chosen.advanced:
            st.caption(f":material/info: {EDGE_NOTE}")
        if chosen.group.startswith("Network"):
            st.caption(f":material/info: This layer belongs to {chosen.group.split(':')[0].lower()} only: the map "
                       "explains that network's part of the ensemble, not the ensemble's answer as a whole.")
    return {"method": method, "target": target, "layer": layer, "layer_label": layer_label(layer, choices),
            "opacity": opacity, "colormap": colormap, "threshold": threshold,
            "outline": outline and not lungs_reason, "zoom": zoom}


def compute_map(image_digest, key, xray, controls):
    method = METHODS[controls["method"]]
    message = f"Computing {method.label}: this method takes a while…" if method.slow else f"Computing {method.label}…"
    with st.spinner(message, show_time=method.slow):
        return caching.explanation(image_digest, key, controls["method"], controls["target"], controls["layer"],
                                  xray.pixels)


def overlay_image(xray, on_image, prepared, controls, lungs=None, image_digest="", pixels=None) -> np.ndarray:
    """The display overlay: the map faded out beyond the region the model saw, on the display copy."""
    shown = fit_within(xray.pixels if pixels is None else pixels)
    heat = fade_outside(fit_within(on_image), prepared.region, prepared.image_shape)
    overlay = render_overlay(shown, heat, controls["opacity"], controls["colormap"], controls["threshold"])
    if controls["outline"] and lungs is not None:
        overlay = outline_lungs(overlay, caching.lung_mask(image_digest, lungs, xray.pixels))
    return overlay


def colour_legend(label: str, controls) -> None:
    """The colour bar with what its colours mean, and the per-image scaling in one line."""
    bar = colour_bar(controls["colormap"], 24, 1, controls["threshold"])[0]
    stops = ", ".join(f"rgb({r},{g},{b}) {100 * i / (len(bar) - 1):.0f}%" for i, (r, g, b) in enumerate(bar))
    st.markdown(f'<div style="height:12px;border-radius:3px;background:linear-gradient(to right, {stops})"></div>',
                unsafe_allow_html=True)
    st.caption(f"{colour_bar_caption(label, controls['threshold'])}. {SCALE_NOTE}")


# --------------------------------------------------------------------------- click to hide


def hide_cell_clicked() -> None:
    """The film's click callback: the cell under the cursor becomes the hidden one (a second click on it
    shows the film as it is again)."""
    click = st.session_state.get("film_click")
    if not click:
        return
    shown = (click.get("width") or 1, click.get("height") or 1)
    cell = cell_at(click["x"], click["y"], shown, GRID)
    st.session_state["hide_cell"] = None if cell == st.session_state.get("hide_cell") else cell


def clickable_film(xray, shown, image_digest: str) -> None:
    """The film with its grid; a click hides the cell under the cursor (see `hide_cell_clicked`)."""
    from streamlit_image_coordinates import streamlit_image_coordinates

    cell = st.session_state.get("hide_cell")
    film = draw_grid(fit_within(shown, FILM_SIDE), GRID, cell)
    streamlit_image_coordinates(film, key="film_click", width="stretch", image_format="JPEG", jpeg_quality=90,
                                on_click=hide_cell_clicked, cursor="crosshair")
    st.caption(f"{film_caption(xray, image_digest)}. Click a cell to hide it and classify the film again; click it again to "
               "show it.")


def film_caption(xray, image_digest: str) -> str:
    """The film's caption with the case id of the report (not patient data: the image digest's first digits)."""
    size = f"{xray.metadata.get('width', '?')} x {xray.metadata.get('height', '?')} px"
    return f"Original ({xray.metadata.get('format', 'image')}, {size}), case {text.case_id(image_digest)}"


def hidden_cell_result(image_digest, key, xray, tta) -> dict | None:
    """The prediction with the clicked cell hidden, in percentage points; returns it for the report."""
    cell = st.session_state.get("hide_cell")
    if cell is None:
        return None
    fill = st.session_state.get("fill", widgets.kept("fill", FILLS[0]))
    result = caching.film_what_if(image_digest, key, int(cell), GRID, fill, xray.pixels)
    where = cell_name(int(cell), GRID)
    if result is None:
        st.info(f"Hiding {where}: the model never saw this part of the film (outside the region it looks at), "
                "so nothing changes.", icon=":material/visibility_off:")
        return None
    top = tta.top_label
    before, after = result.before.as_dict()[top], result.after.as_dict()[top]
    change = points(after - before)
    with st.container(border=True):
        # Streamlit reads the direction from an ASCII minus; the text elsewhere uses the typographic one.
        st.metric(f"{top} with {where} hidden", f"{after:.1%}", change.replace("−", "-"),
                  delta_color="off" if change.startswith("±") else "normal",
                  help="The film classified again with this cell blurred away (one prediction, not the mean "
                       "over copies). A large drop means the model relied on that region.")
        if result.after.label != result.before.label:
            st.markdown(f"The output changes: **{result.before.label}** → **{result.after.label}** "
                        f"({result.after.confidence:.1%}).")
        st.button("Show the film as it is", key="unhide", icon=":material/visibility:",
                  on_click=st.session_state.update, kwargs={"hide_cell": None})
    return {"cell": where, "label": top, "before": before, "after": after, "change": change,
            "output_after": result.after.label}


# --------------------------------------------------------------------------- tabs below the first screen


def zoom_view(shown, overlay_for, controls) -> None:
    """Film and overlay in one plotly figure with shared axes: zoom or pan one, the other follows."""
    level_col, width_col = st.columns(2)
    level = level_col.slider("Level", 0.0, 1.0, widgets.kept("level", 0.5), 0.01, key="level")
    width = width_col.slider("Window", 0.05, 1.0, widgets.kept("window", 1.0), 0.01, key="window")
    widgets.keep("level", level)
    widgets.keep("window", width)
    windowed = window(shown, level, width)
    figure = charts.linked_images(to_uint8(windowed), overlay_for(windowed), ("Film", "Map"))
    st.plotly_chart(figure, key="zoom_view", config={"scrollZoom": True, "displaylogo": False})


def all_methods(image_digest, key, xray, prepared, controls) -> list[str]:
    """Every method's map for the explained class, side by side (on demand: occlusion takes seconds)."""
    st.caption("Every method for the same class, the same layer (where a method uses one) and the same display "
               "settings, for teaching: where they agree the evidence is more believable.")
    wanted = st.toggle("Compute every method", key="all_methods")
    if not wanted:
        return []
    for i, (name, record) in enumerate(METHODS.items()):
        if i % 3 == 0:
            columns = st.columns(3)  # one row per three methods, read left to right
        with st.spinner(f"Computing {record.label}…"):
            _, on_image = caching.explanation(image_digest, key, name, controls["target"], controls["layer"],
                                              xray.pixels)
        columns[i % 3].image(encode_png(overlay_image(xray, on_image, prepared, controls)), width="stretch",
                             caption=record.label)
    return [record.label for record in METHODS.values()]


def grid_occlusion_tab(image_digest, key, xray, card, controls) -> None:
    """The occlusion-sensitivity map on the film's own grid: every cell hidden in turn, one batch."""
    fill_col, _ = st.columns([1, 3])
    fills = list(FILLS)
    fill = fill_col.selectbox("Hide with", fills, key="fill", index=fills.index(widgets.kept("fill", FILLS[0])),
                              help="Blur keeps the image looking like a radiograph; black is a harsher test.")
    widgets.keep("fill", fill)
    st.caption(f"Each of the {GRID} x {GRID} cells of the film's grid hidden in turn: the colour is how much the "
               f"probability of {controls['target']} falls without it.")
    if not st.toggle("Map every cell", key="grid_occlusion"):
        return
    index = list(card.labels).index(controls["target"])
    effects = caching.grid_effects(image_digest, key, GRID, index, fill, xray.pixels)
    shown = fit_within(xray.pixels)
    heat = effects.film_map(shown.shape)
    picture, numbers = st.columns([1, 1])
    picture.image(encode_png(draw_grid(render_overlay(shown, heat, controls["opacity"], controls["colormap"]),
                                       GRID)), width="stretch",
                  caption=f"Fall of {controls['target']} when each cell is hidden (grid occlusion)")
    drop = effects.drop
    if np.all(np.isnan(drop)):
        numbers.caption("No cell lies inside the region the model saw.")
        return
    worst = int(np.nanargmax(drop))
    numbers.metric("Largest fall", points(-float(np.nanmax(drop))), help=f"Hiding {cell_name(worst, GRID)}.")
    numbers.caption(f"Probability of {controls['target']} on the whole film: {effects.before:.1%}. Cells outside "
                    "the region the model saw are not coloured.")


def occlusion_wanted(image_digest, key, controls) -> tuple:
    return image_digest, key, controls["target"]


def occlusion_requested(image_digest, key, controls) -> bool:
    return st.session_state.get("occlusion_for") == occlusion_wanted(image_digest, key, controls)


def occlusion(image_digest, key, xray, card, controls):
    """(map at model-input resolution, map on the original grid) of occlusion sensitivity, cached."""
    with st.spinner("Classifying a few hundred occluded copies…", show_time=True):
        explained, on_image = caching.explanation(image_digest, key, OCCLUSION, controls["target"], None, xray.pixels)
    return explained.heatmap, on_image


def occlusion_section(image_digest, key, xray, card, controls, prepared) -> None:
    st.markdown("**Cross-check: occlusion sensitivity**")
    st.caption("Model-agnostic: a patch slides over the model input and the drop in the probability of the "
               "explained class is mapped. If it disagrees with Grad-CAM, trust neither map on its own.")
    # A callback, so the request is known from the top of the run and the agreement includes the map.
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
    picture.image(encode_png(overlay_image(xray, on_image, prepared, controls)),
                  caption=f"Occlusion sensitivity for {controls['target']}", width="stretch")
    verdict.metric("Agreement with Grad-CAM (Spearman)", f"{similarity:+.2f}",
                   help="Rank correlation of the two maps at model-input resolution: 1 same ranking, "
                        "0 unrelated, negative opposite.")
    verdict.caption(f"Grad-CAM at the card's layer `{card.explain_layer}` for the same class.")


def report_downloads(image_digest, shown, overlay, prediction, card, explanation, controls, findings, result,
                     hidden, compared) -> None:
    """PNG and PDF reports (case id, colour bar, status, what-if, methods compared), made on a button press."""
    args = (shown, overlay, prediction)
    kwargs = {"method": explanation.method, "model_id": card.id, "model_version": card.version,
              "model_name": card.display_name, "case_id": text.case_id(image_digest),
              "colormap": controls["colormap"], "threshold": controls["threshold"],
              "status": result.headline, "reasons": list(result.reasons), "what_if": hidden,
              "compared": compared,
              "notes": (f"The map explains the class {explanation.label}"
                        + (f" at the layer {controls['layer_label']}." if explanation.layer else "."), *findings)}
    stem = f"cxr-report-{text.case_id(image_digest)}-{card.id}-{explanation.method.replace('+', 'plus')}"
    png, pdf, _ = st.columns([1, 1, 3])
    png.download_button("Report (PNG)", data=lambda: build_report(*args, **kwargs), file_name=f"{stem}.png",
                        mime="image/png", icon=":material/download:", on_click="ignore", key="report_png")
    pdf.download_button("Report (PDF)", data=lambda: build_report_pdf(*args, **kwargs), file_name=f"{stem}.pdf",
                        mime="application/pdf", icon=":material/picture_as_pdf:", on_click="ignore",
                        key="report_pdf")


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
            attention = lung_attention(on_image, caching.lung_mask(image_digest, lungs, xray.pixels),
                                       caching.lung_attention_threshold(key))
        lung_panel(attention, lungs_reason, method_label)
    with faith_col:
        faith = faithfulness_panel(image_digest, key, xray, controls, explanation)
    with agree_col:
        agreement = agreement_panel(maps)
    return text.trust_notes(warnings, tta, attention, lungs_reason, faith, agreement, method_label, MAP_LABELS)


# Less empty space above the title, and metric figures that fit a 1366-pixel screen's narrow column.
PAGE_STYLE = """<style>
[data-testid="stMainBlockContainer"] {padding-top: 1.5rem; padding-bottom: 1rem;}
[data-testid="stMainBlockContainer"] h1 {padding-top: 0; padding-bottom: 0.1rem; font-size: 1.8rem;}
[data-testid="stMain"] [data-testid="stMetricValue"] {font-size: 1.7rem;}
</style>"""


def main() -> None:
    st.markdown(PAGE_STYLE, unsafe_allow_html=True)
    cards = widgets.page_start("Diagnose & explain")
    with st.sidebar:
        uploaded = widgets.uploader("upload", keep=True)
        card = widgets.model_picker(cards, key="diagnose_model")
        widgets.broken_entries()
    key = caching.model_key(card.id)
    model_panel(card, key)
    upload = widgets.read_upload(uploaded, prompt="Upload a frontal chest radiograph (in the side panel) to see the "
                                                 "model's answer, its confidence and explanation maps.", keep=True)
    if upload is None:
        caching.load_in_background(key)  # The models load while the reader picks a film.
        st.caption(f"**Made for:** {INTENDED_POPULATION}")
        return
    clf = caching.classifier(key)
    if clf is None:
        return
    lungs, lungs_reason = caching.lung_status(card.prep.lung_model)
    image_digest, xray = upload
    if st.session_state.get("hide_for") != image_digest:  # a new film starts with nothing hidden
        st.session_state["hide_for"], st.session_state["hide_cell"] = image_digest, None
    with st.spinner("Checking the image…"):
        tta = caching.uncertainty(image_digest, key, xray.pixels)
        result = caching.triage(image_digest, key, lungs, xray.pixels, xray.metadata)
        warnings = list(caching.input_check(image_digest, lungs, xray.pixels, xray.metadata).warnings)
        prepared = caching.model_input(image_digest, key, xray.pixels)
    probabilities = tta.prediction(card.labels)
    shown = fit_within(xray.pixels)

    status_col, images_col = st.columns([1, 2.5], gap="medium")
    with status_col:
        status_box(result)
        show = result.shows_answer or st.toggle(
            "Show the output anyway", key=f"show-anyway-{image_digest[:16]}",
            help="The film is outside what the model was made for: its answer would be a guess.")
        if not show:
            with images_col:
                st.image(encode_png(to_uint8(shown)), width="stretch",
                         caption=f"{film_caption(xray, image_digest)}. No answer and no map are shown for it.")
            st.caption(f"**Made for:** {INTENDED_POPULATION}")
            return
        output_box(card, tta, result, probabilities)
        hidden = hidden_cell_result(image_digest, key, xray, tta)
    st.caption(f"**Made for:** {INTENDED_POPULATION}")
    controls = explanation_controls(clf, card, list(card.labels).index(tta.top_label), image_digest, lungs_reason)
    explanation, on_image = compute_map(image_digest, key, xray, controls)
    overlay = overlay_image(xray, on_image, prepared, controls, lungs if controls["outline"] else None, image_digest)
    where = f", layer {controls['layer_label']}" if explanation.layer else ""
    with images_col:
        if controls["zoom"]:
            zoom_view(shown, lambda film: overlay_image(xray, on_image, prepared, controls,
                                                        lungs if controls["outline"] else None, image_digest,
                                                        pixels=film), controls)
        else:
            film_col, map_col = st.columns(2, gap="small")
            with film_col:
                clickable_film(xray, shown, image_digest)
            with map_col:
                st.image(encode_png(overlay), width="stretch",
                         caption=f"{MAP_LABELS[explanation.method]} for {explanation.label}{where}")
                colour_legend(explanation.label, controls)
        st.caption(region_caption(prepared.region, prepared.image_shape, card.prep.lung_crop))

    trust_tab, grid_tab, methods_tab, report_tab = st.tabs(
        ["How far to trust this map", "Hide regions on the film's grid", "All methods side by side", "Report"])
    with trust_tab:
        findings = trust_section(image_digest, key, xray, card, controls, explanation, on_image, lungs,
                                 lungs_reason, warnings, tta)
        occlusion_section(image_digest, key, xray, card, controls, prepared)
    with grid_tab:
        grid_occlusion_tab(image_digest, key, xray, card, controls)
    with methods_tab:
        compared = all_methods(image_digest, key, xray, prepared, controls)
    if not compared:  # the maps the agreement between methods compared, when there were two or more
        seen = st.session_state.get("maps_seen", {}).get((image_digest, card.id, explanation.label), {})
        compared = [MAP_LABELS.get(name, name) for name in seen] if len(seen) > 1 else []
    with report_tab:
        st.caption(f"Case {text.case_id(image_digest)} (the first digits of the image's fingerprint, not patient "
                   "data). The report holds no name, file name or other identifier.")
        report_downloads(image_digest, shown, overlay, probabilities, card, explanation, controls, findings, result,
                         hidden, compared)


main()
