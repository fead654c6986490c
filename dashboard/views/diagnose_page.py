"""Diagnose & explain: one radiograph, the model's answer, why it leaned that way and how far to trust both.

Made for a reader at a workstation: the status comes first (answer, uncertain, out of scope: an
out-of-scope film's answer is held back) and names every check that fired, those of the map made
later included; then the film's one probability, the film beside its map, all on the first screen.
The film carries a grid: clicking cells hides them (several at once), the film is redrawn with them
greyed and the new output stands beside the old one. Trust details, the grid occlusion, every method
side by side, the report and the glossary sit in tabs below. The upload and the settings are kept in
the session (memory only), so visiting another page and coming back shows the same case.

Everything is computed in the core and cached by the film's digest (`dashboard.case.Case`); this
page only draws typed values (statuses, findings, numbers) and never reads the core's sentences apart.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from dashboard import caching, widgets
from dashboard.case import Case, Controls
from dashboard.seen_film import seen_note
from model.explain import METHODS
from model.explain.film_grid import (
    HiddenEffect,
    cell_at,
    cell_name,
    cells_name,
    fall_points,
    hidden_effect,
    signed_points,
    toggle_cell,
)
from model.explain.occlusion import FILLS
from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD, DEFAULT_OPACITY, INTENDED_POPULATION
from model.present import charts, text
from model.present.check_lines import map_note, report_check_lines, similarity_figure
from model.present.diagnose_figures import (
    drawing_style,
    probability_bars,
    zoom_aspect,
    zoom_box_style,
    zoom_figure,
)
from model.present.gallery_cases import held_back_words, outcome_word
from model.present.glossary import GLOSSARY, explain
from model.present.layers import (
    EDGE_NOTE,
    layer_choices,
    member_layer_note,
    network_legend,
    network_names,
    visible_choices,
)
from model.present.method_grid import (
    SCALE,
    agreement_matrix,
    agreement_word,
    blank_maps_sentence,
    matrix_text,
    method_lines,
    same_map_sentence,
    summarise_agreement,
)
from model.present.overlay import (
    COLORMAPS,
    SCALE_NOTE,
    colour_bar,
    colour_bar_caption,
    draw_grid,
    encode_png,
    fade_outside,
    faint_map_note,
    fit_within,
    outline_lungs,
    region_caption,
    render_overlay,
    to_uint8,
    window,
)
from model.present.report import (
    OUTPUT_SAME,
    ReportContent,
    Status,
    build_report,
    build_report_pdf,
    fill_words,
    hidden_outcome,
)
from model.trust.agreement import BLANK_CELL, map_similarity, method_agreement
from model.trust.attention import attention_if_lungs, blank_map
from model.trust.faithfulness import CHANCE_MARGIN, NOT_JUDGED, NOT_MEASURABLE
from model.trust.findings import OUT_OF_SCOPE, UNCERTAIN
from model.trust.map_checks import (
    OCCLUSION,
    MapChecks,
    comparison_headline,
    comparison_sentence,
    maps_at_layer,
    shown_comparison,
    similarity_text,
)

GRID = 6  # Click-to-hide cells per side of the film.
MAP_LABELS = {name: method.label for name, method in METHODS.items()}
MAPS_KEPT = 8  # (image, model, class) combinations whose maps are kept for the agreement between methods.
MAPS_PER_CASE = 3 * len(METHODS)  # Maps kept per combination: every method's at about three layers.
FILM_SIDE = 1024  # Long side of the clickable film sent to the browser (JPEG): fast on every screen.


# --------------------------------------------------------------------------- side panel


def model_panel(card, key) -> None:
    """The selected model beside the result: name, version, per-class recall and AUC,
    its training curves, and the caveat as prominent as the figures."""
    with st.sidebar:
        st.subheader("Selected model")
        # Not who the model is for: the main column says it once, under the answer, where a doctor reads it.
        st.markdown(f"**{card.display_name}**  \nversion {card.version} · `{card.id}`")
        headline = card.metrics or {}
        split = headline.get("split", "internal test")
        # A caveat about the figures, not about the film: blue, so it is not read as a second warning beside
        # an uncertain status.
        st.info(f"Figures from the {split} split of the training sources: they do not transfer to other "
                "hospitals' images.", icon=":material/info:")
        first, second = st.columns(2)
        first.metric("Accuracy", text.percent(headline.get("accuracy")), help=explain("Accuracy"))
        second.metric("Macro AUC", text.number(headline.get("macro_auc")),
                      help=explain("AUC") + " Averaged over the classes.")
        report = caching.metrics_or_empty(key)
        if report.get("per_class"):
            # One format throughout: shares as percent with one decimal (as the metrics above), AUC to three places.
            table = charts.per_class_table(report)[["class", "recall", "auc"]].assign(
                recall=lambda t: t["recall"] * 100.0)
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={"class": st.column_config.TextColumn("Class"),
                                        "recall": st.column_config.NumberColumn("Recall", format="%.1f%%",
                                                                                help=explain("Recall")),
                                        "auc": st.column_config.NumberColumn("AUC", format="%.3f",
                                                                             help=explain("AUC"))})
        curves = caching.history_or_empty(key)
        figure = charts.panel_curves(curves, (card.training or {}).get("monitor", "val_auc"))
        if figure is not None:
            st.plotly_chart(figure, key="panel_curves", config={"displayModeBar": False})
            members = text.members_curves_caption(card.training, caching.metrics_or_empty(key).get("accuracy"))
            if members:
                st.caption(members)
        st.page_link(widgets.PAGES["performance"], label="Full performance", icon=":material/monitoring:")


# --------------------------------------------------------------------------- status and output


def status_box(result, line: str, not_run=tuple(text.CHECK_NAMES), map_class: str | None = None) -> None:
    """The status, first on the page and across it: its `line` (`text.status_line`, the one the report
    carries), what set it, the cautions about an answer, its assumptions and the cautions about its map, each
    from the findings' own fields; `not_run`: the map checks not made yet, pointed to below the film unless
    the map checked explains `map_class`, a class the model did not answer (the line then says what to do)."""
    # why a DICOM header's age could not be used (the line says only that it could not), as the CLI says it
    why_age = text.header_age_problems(result.assumptions) if result.status != OUT_OF_SCOPE else []
    reasons = "".join(f"  \n{finding.sentence}" for finding in [*result.deciding, *result.answer_cautions, *why_age])
    prompt = text.state_prompt(result.assumptions, result.status)
    if prompt:
        reasons += f"  \n:material/edit: {prompt}"
    if not_run and result.undoubted and not map_class:  # another class's map checked: the line says what to do
        reasons += ("  \n:material/arrow_downward: Make them below the film, under *How far to trust this map* "
                    "and *All methods side by side*.")
    if result.status == OUT_OF_SCOPE:  # not st.error: that is kept for failures of the app itself
        with st.container(border=True):
            st.markdown(f":red[:material/block: **{line}**]{reasons}")
    elif result.status == UNCERTAIN:
        st.warning(f"**{line}**{reasons}", icon=":material/help:")
    else:
        st.info(f"**{line}**{reasons}", icon=":material/assignment:")
    cautions = result.map_cautions
    if len(cautions) == 1:
        st.caption(f":orange[:material/report: {cautions[0].sentence}]")
    elif cautions:  # named in the status line; their sentences folded, so the film stays on the first screen
        with st.expander(f"Why read the map with care ({len(cautions)} checks)", icon=":material/report:"):
            for finding in cautions:
                st.caption(f":orange[{finding.sentence}]")


def output_box(case: Case, result, shown_anyway: bool, what_if: HiddenEffect | None) -> None:
    """The model's output, its one probability with every class's bar under it (on a laptop's first
    screen), and its stability in a few words (the full sentence in the help)."""
    tta = case.uncertainty()
    name, colour, icon = widgets.STATUS_BADGES[result.status]
    figure, word, _ = text.confidence_words(tta)
    with st.container(border=True):
        st.badge(name + (" · reference only" if shown_anyway else ""), color=colour, icon=icon)
        st.metric("Model output", tta.top_label, help="The class with the highest probability; not a diagnosis.")
        st.metric("Probability", figure, help=text.probability_definition(case.card))
        if what_if is not None:
            hidden_cells_box(what_if)
        probability_chart(case, what_if)
        # The word is orange only when unstable; copies below the answer level are a caution of their own,
        # coloured apart, so "Stable" never reads as a warning.
        below = text.copies_below_brief(tta)
        colour = "orange" if word == "Unstable" else "blue"
        st.markdown(f":{colour}[**{word}**]: {text.stability_brief(tta, with_below=False)}"
                    + (f"; :orange[{below}]" if below else ""),
                    help=f"{text.stability_help(tta)} {explain('Stable / varies / unstable')}"
                         + (f" {explain('Answer level')}" if below else ""))
        st.caption(f"{case.card.display_name}, version {case.card.version}")


def hidden_result(case: Case) -> HiddenEffect | None:
    """What hiding the clicked cells does, measured from the film's own probability (None when nothing is
    hidden)."""
    cells = tuple(st.session_state.get("hidden_cells") or ())
    if not cells:
        return None
    tta, fill = case.uncertainty(), hide_with()
    return hidden_effect(case.hidden_cells(cells, GRID, fill), case.card.labels, tta.top_label,
                         tta.top_probability, tta.answer_level, fill, GRID)


def hide_with() -> str:
    """The *Hide with* choice shown: the selectbox's own state, which holds a new choice before this run
    draws the box (the output box is drawn first; the remembered setting lags one run behind), else the
    remembered one (the grid tab is not drawn yet in this session)."""
    chosen = st.session_state.get("fill")
    return chosen if chosen in FILLS else widgets.kept("fill", FILLS[0])


def hidden_cells_box(effect: HiddenEffect) -> None:
    """The new output in the output box, under the film's own probability (beside the film, on a laptop's
    first screen): the answer's probability with the cells hidden and its change in points from it."""
    with st.container(border=True):
        if not effect.seen:
            st.caption(f":material/visibility_off: Hiding {cells_name(effect.cells, effect.grid)}: the model never "
                       "saw this part of the film (outside the region it looks at), so nothing changes.")
        else:
            count = len(effect.cells)
            # The class is the answer's, named under the figure ("COVID-19 with 2 cells hidden" as the label was
            # cut at 1366 px; unnamed, the figure read as the new output's beside "the output becomes COVID-19").
            st.metric(f"With {count} cell{'s' if count > 1 else ''} hidden", f"{effect.after:.1%}",
                      f"{signed_points(effect.change, minus='-')} for {effect.label}",
                      help=f"The probability of {effect.label} with the cells hidden. {explain('Hiding cells')} The "
                           f"model saw the cells {fill_words(effect.fill)} (*Hide with*, in the grid tab); the "
                           "film shows them grey.",
                      # Grey either way: a rise or a fall of a class's probability is neither good nor bad news.
                      delta_color="off", delta_arrow="off" if effect.unchanged else "auto")
            outcome = hidden_outcome(effect)  # the report's rule: a fall under the answer level is no "same"
            if outcome != OUTPUT_SAME:
                st.markdown(f"{outcome[0].upper()}{outcome[1:]}.")
        st.button("Show the film as it is", key="unhide", icon=":material/visibility:",
                  on_click=st.session_state.update, kwargs={"hidden_cells": []})


def probability_chart(case: Case, effect: HiddenEffect | None) -> None:
    """The film's probabilities and, with cells hidden, the new ones beside them."""
    bars = probability_bars(case.prediction(), None if effect is None else effect.probabilities)
    st.plotly_chart(bars, key="probabilities", config={"displayModeBar": False})


# --------------------------------------------------------------------------- settings


def layer_control(column, clf, card, method: str):
    """The layer selectbox (layers named for people, early ones behind "Advanced layers"); returns the
    chosen `LayerChoice` (None when the method has no layer)."""
    advanced = st.session_state.get("advanced_layers", widgets.kept("advanced_layers", False))
    choices = layer_choices(clf.layers(), card.explain_layer, network_names(card.training))
    shown = visible_choices(choices, advanced)
    names = [c.name for c in shown]
    options = {c.name: c.option for c in choices}
    layer_key = f"layer-{card.id}"
    if st.session_state.get(layer_key) not in (None, *names):
        del st.session_state[layer_key]  # an advanced layer after the switch was turned off
    kept_layer = widgets.kept(layer_key, names[0])
    layer = column.selectbox("Layer", names, key=layer_key, format_func=options.get,
                             index=names.index(kept_layer) if kept_layer in names else 0,
                             disabled=not METHODS[method].uses_layer, help=explain("Layer") + " "
                             + ", ".join(m.label for m in METHODS.values() if not m.uses_layer)
                             + " work on the input and have no layer. "
                             + network_legend(network_names(card.training)))
    widgets.keep(layer_key, layer)
    return next((c for c in choices if c.name == layer), None)


def display_controls(columns, lungs_reason: str) -> dict:
    """Opacity, colour map, threshold and the switches (the second row of the controls): how the map is
    drawn, never what it is."""
    opacity = columns[0].slider("Opacity", 0.0, 1.0, widgets.kept("opacity", DEFAULT_OPACITY), 0.05, key="opacity")
    colormap = columns[1].selectbox("Colour map", list(COLORMAPS), key="colormap",
                                    index=list(COLORMAPS).index(widgets.kept("colormap", DEFAULT_COLORMAP)))
    # A map tinting the whole film hides the anatomy a reader needs to judge it.
    threshold = columns[2].slider("Hide below", 0.0, 0.9, widgets.kept("threshold", DEFAULT_MAP_THRESHOLD), 0.05,
                                  key="threshold", help=explain("Hide below") + " Set it to 0 to see the whole map.")
    outline = columns[3].toggle("Outline the lung fields", key="lung_outline", disabled=bool(lungs_reason),
                                value=widgets.kept("lung_outline", False),
                                help=lungs_reason or "Draws the lung segmentation's outline on the map (display "
                                                     "only), to see whether the evidence lies on the lungs.")
    zoom = columns[4].toggle("Zoom & window", key="zoom", value=widgets.kept("zoom", False),
                             help="Film and map in one view: drag a box to zoom both, double-click to go back; "
                                  "window and level set the film's contrast and brightness.")
    values = {"opacity": opacity, "colormap": colormap, "threshold": threshold,
              "outline": outline and not lungs_reason, "zoom": zoom}
    for name, value in values.items():
        widgets.keep(name, value)
    return values


def advanced_layers_switch(column) -> None:
    """The switch listing the early layers too, beside the layer box (read by `layer_control` from the session)."""
    column.toggle("Advanced layers", key="advanced_layers",
                  value=st.session_state.get("advanced_layers", widgets.kept("advanced_layers", False)),
                  help="Lists the early layers too. " + EDGE_NOTE)
    widgets.keep("advanced_layers", st.session_state.get("advanced_layers"))


def class_control(column, case: Case, default_class: int) -> str:
    """The class to explain: the model's answer for a new film, else the class the reader chose for this film.

    The box is keyed per film and model (a new film starts at its answer), so Streamlit forgets it while
    another model is shown; the reader's own choice is kept per film and given back to every model that has
    that class, so a model switch never silently swaps the map for another class's.
    """
    labels = list(case.card.labels)
    chosen_key = f"target-chosen-{case.digest[:16]}"
    key = f"target-{case.digest[:16]}-{case.card.id}"
    chosen = widgets.kept(chosen_key, None)
    index = labels.index(chosen) if chosen in labels else default_class
    return column.selectbox("Class to explain", labels, index=index, key=key,
                            on_change=lambda: widgets.keep(chosen_key, st.session_state.get(key)))


def explanation_controls(clf, case: Case, default_class: int) -> Controls:
    """Method, class and layer (they choose the map) and the display settings. Every choice is kept
    for the session (`widgets.kept`), so it survives a visit to another page."""
    card = case.card
    # Two rows: what the map is (method, class, layer and the switch listing more layers), then how it is
    # drawn. At 1366 px one row of six cut the class ("Pneumo") and the layer's name; now the layer's longest
    # names and every class are whole.
    cols = st.columns([1.05, 1.1, 3.2, 1.25], vertical_alignment="bottom")
    methods = list(METHODS)
    method = cols[0].selectbox("Method", methods, format_func=MAP_LABELS.get, key="method",
                               index=methods.index(widgets.kept("method", "gradcam")),
                               help="  \n".join(f"**{m.label}**: {explain(m.label)}" for m in METHODS.values()))
    widgets.keep("method", method)
    target = class_control(cols[1], case, default_class)
    chosen = layer_control(cols[2], clf, card, method)
    advanced_layers_switch(cols[3])
    display = display_controls(st.columns([0.9, 0.9, 0.9, 1.45, 1.2], vertical_alignment="center"),
                               case.lungs_reason)
    uses_layer = METHODS[method].uses_layer and chosen is not None
    if uses_layer and chosen.advanced:
        st.caption(f":material/info: {EDGE_NOTE}")
    if uses_layer and chosen.member is not None:
        st.caption(f":material/info: {member_layer_note(chosen.member)}")
    return Controls(method, target, chosen.name if chosen else None,
                    chosen.label if chosen else "", chosen.member if chosen else None,
                    **display)


# --------------------------------------------------------------------------- the film and its map


def compute_map(case: Case, controls: Controls):
    method = METHODS[controls.method]
    message = f"Computing {method.label}: this method takes a while…" if method.slow else f"Computing {method.label}…"
    with st.spinner(message, show_time=method.slow):
        return case.explanation(controls.method, controls.target, controls.layer)


def overlay_image(case: Case, on_image, controls: Controls, pixels=None) -> np.ndarray:
    """The display overlay: the map faded out beyond the region the model saw, on the display copy."""
    prepared = case.model_input()
    shown = fit_within(case.pixels if pixels is None else pixels)
    heat = fade_outside(fit_within(on_image), prepared.region, prepared.image_shape)
    overlay = render_overlay(shown, heat, controls.opacity, controls.colormap, controls.threshold)
    mask = case.lung_mask() if controls.outline else None
    return overlay if mask is None else outline_lungs(overlay, mask)


def colour_legend(label: str, controls: Controls) -> None:
    """The colour bar with what its colours mean, and the per-image scaling in one line."""
    legend_bar(controls.colormap, controls.threshold, f"{colour_bar_caption(label, controls.threshold)}. {SCALE_NOTE}")


def other_class_caption(case: Case, label: str, heatmap=None) -> str | None:
    """Under a map of a class that is not the answer: its probability, and that the map is no sign of it
    (or that it is blank, given the one `heatmap` meant). Returns the note shown (None for the answer's
    map), for the report."""
    tta = case.uncertainty()
    peak = None if heatmap is None else float(np.max(heatmap))
    note = text.other_class_note(label, tta.probabilities, tta.top_label, peak)
    if note:
        st.caption(f":material/info: {note}")
    return note


def toggle_clicked_cell() -> None:
    """The film's click callback: the cell under the cursor is hidden, or shown again if it was hidden."""
    click = st.session_state.get("film_click")
    if not click:
        return
    shown = (click.get("width") or 1, click.get("height") or 1)
    cell = cell_at(click["x"], click["y"], shown, GRID)
    st.session_state["hidden_cells"] = toggle_cell(st.session_state.get("hidden_cells") or [], cell)


def film_with_grid(pixels, hidden) -> np.ndarray:
    """The film with its grid and the `hidden` cells greyed, as the page and the report show it."""
    return draw_grid(fit_within(pixels, FILM_SIDE), GRID, hidden)


def clickable_film(case: Case, shown) -> None:
    """The film with its grid and the hidden cells greyed; a click hides or shows the cell under it."""
    from streamlit_image_coordinates import streamlit_image_coordinates

    film = film_with_grid(shown, st.session_state.get("hidden_cells") or ())
    streamlit_image_coordinates(film, key="film_click", width="stretch", image_format="JPEG", jpeg_quality=90,
                                on_click=toggle_clicked_cell, cursor="crosshair")
    st.caption(f"{film_caption(case)}. Click cells to hide them and classify the film again; click again to show "
               "a cell.")


def film_caption(case: Case) -> str:
    """The film's caption with the case id of the report (not patient data: the image digest's first digits)."""
    metadata = case.xray.metadata
    size = f"{metadata.get('width', '?')} x {metadata.get('height', '?')} px"
    return f"Original ({metadata.get('format', 'image')}, {size}), case {case.case_id}"


def zoom_view(case: Case, shown, on_image, controls: Controls, explanation) -> None:
    """Film and map in one plotly figure with shared axes (drag a box to zoom both), window and level,
    and the colour bar under it."""
    level_col, width_col = st.columns(2)
    level = level_col.slider("Level", 0.0, 1.0, widgets.kept("level", 0.5), 0.01, key="level",
                             help=explain("Window and level"))
    width = width_col.slider("Window", 0.05, 1.0, widgets.kept("window", 1.0), 0.01, key="window",
                             help=explain("Window and level"))
    widgets.keep("level", level)
    widgets.keep("window", width)
    windowed = window(shown, level, width)
    figure = zoom_figure(to_uint8(windowed), overlay_image(case, on_image, controls, pixels=windowed))
    where = f", {controls.layer_label}" if explanation.layer else ""
    st.caption(f"Film (left) and {MAP_LABELS[explanation.method]} for {explanation.label}{where} (right): drag a box "
               "on either to zoom both, double-click to go back.")
    # The figure fills a box kept at the film's shape: it grows with the screen and has no empty band. No
    # plotly tip after a zoom (the caption says how to go back; the tip covered the Window slider's value).
    with st.container(key="zoom_box"):
        st.plotly_chart(figure, key="zoom_view", width="stretch", height="stretch",
                        config={"displaylogo": False, "scrollZoom": True, "responsive": True, "showTips": False,
                                "modeBarButtonsToRemove": ["select2d", "lasso2d"]})
    with st.container(key="zoom_legend"):  # the colour bar spans the panels (it ran past them into the toolbar margin)
        colour_legend(explanation.label, controls)
    st.html(zoom_box_style("zoom_box", zoom_aspect(windowed.shape), under=("zoom_legend",)))


def images(case: Case, controls: Controls, explanation, on_image, what_if: HiddenEffect | None) -> tuple:
    """Film and map side by side (or the zoom view); returns the overlay and the note shown under a map
    of a class not answered (None for the answer's map), for the report."""
    shown = fit_within(case.pixels)
    overlay = overlay_image(case, on_image, controls)
    where = f", {controls.layer_label}" if explanation.layer else ""
    if controls.zoom:
        zoom_view(case, shown, on_image, controls, explanation)
        note = other_class_caption(case, explanation.label, explanation.heatmap)
        if what_if is not None:  # the cells stay hidden in zoom mode: said, and undone from here too
            st.caption(":material/visibility_off: Cells are hidden (their output is beside the film); the zoom "
                       "view shows the film as it is. Switch zoom off to see them.")
    else:
        # The browser shows the images a second after the text round them: their boxes keep the film's shape
        # and say what is coming meanwhile.
        st.html(drawing_style(shown.shape[1] / shown.shape[0],
                              {"film_click": "Drawing the film…", "map_box": "Drawing the map…"}))
        film_col, map_col = st.columns(2, gap="small")
        with film_col:
            clickable_film(case, shown)
        with map_col:
            with st.container(key="map_box"):
                st.image(encode_png(overlay), width="stretch",
                         caption=f"{MAP_LABELS[explanation.method]} for {explanation.label}{where}")
            colour_legend(explanation.label, controls)
            note = other_class_caption(case, explanation.label, explanation.heatmap)
    faint = faint_map_note(explanation.heatmap, controls.threshold, METHODS[explanation.method])
    if faint:
        st.caption(f":material/tune: {faint}")
    prepared = case.model_input()
    prep = case.card.prep
    st.caption(region_caption(prepared.region, prepared.image_shape, prep.lung_crop, case.lungs_found(),
                              prep.mask_channel, prep.lung_mask, blank_map(explanation.heatmap)))
    return overlay, note


# --------------------------------------------------------------------------- tabs below the first screen


def all_methods(case: Case, controls: Controls) -> dict[str, np.ndarray]:
    """Every method's map for the explained class side by side under one colour bar, each with the line
    saying what it measures, and how far they agree in figures and words (on demand: occlusion takes seconds).
    Returns the maps by method name (model-input resolution; none before they are asked for), so that the
    map checks, the status and the report count them."""
    st.caption("Every method for the same class, the same layer (where a method uses one) and the same display "
               "settings, for teaching: where they agree the evidence is more believable.")
    if not st.toggle("Compute every method", key="all_methods"):
        return {}
    computed = {}
    for name, record in METHODS.items():
        with st.spinner(f"Computing {record.label}…", show_time=record.slow):
            computed[name] = case.explanation(name, controls.target, controls.layer)
    agreement = method_agreement({name: explained.heatmap for name, (explained, _) in computed.items()})
    grid, words = st.columns([3.2, 1.3], gap="medium")
    with words:
        agreement_words(summarise_agreement(agreement), controls.threshold)
    with grid:
        colour_legend(controls.target, controls)  # one colour bar for every map of the grid
        other_class_caption(case, controls.target)
        method_maps(case, controls, computed)
    agreement_table(agreement)
    return {name: explained.heatmap for name, (explained, _) in computed.items()}


def method_maps(case: Case, controls: Controls, computed: dict) -> None:
    """Three maps a row, each named, with its share on the lungs and the line saying what it measures."""
    mask = case.lung_mask()
    lines = method_lines(METHODS)
    for i, (name, (_, on_image)) in enumerate(computed.items()):
        if i % 3 == 0:
            columns = st.columns(3, gap="small")  # one row per three methods, read left to right
        record = METHODS[name]
        with columns[i % 3]:
            st.image(encode_png(overlay_image(case, on_image, controls)), width="stretch")
            share = ""
            if mask is not None:
                attention, _ = attention_if_lungs(on_image, mask, caching.lung_attention_threshold(case.key),
                                                  case.model_input().region)
                share = "" if attention is None else f" · {attention.fraction:.1%} on the lungs"
            st.markdown(f"**{record.label}**{share}")
            st.caption(lines[record.label])


def agreement_words(summary, threshold: float) -> None:
    """The agreement between the methods' maps in figures and plain words (`threshold`: the display's
    "Hide below", said because the similarity also ranks the faint parts the pictures leave uncoloured); a blank
    map's pairs are named as not measured."""
    if summary.mean is None:  # every pair has a blank map: nothing to describe
        st.metric("Mean similarity of every pair", "not measured", "blank maps", delta_color="off", delta_arrow="off")
        st.markdown(blank_maps_sentence(summary, MAP_LABELS))
        return
    first, second = (MAP_LABELS.get(n, n) for n in summary.closest[:2])
    low_first, low_second = (MAP_LABELS.get(n, n) for n in summary.furthest[:2])
    # A description of all the maps, not a verdict: the map shown is judged on the trust tab, by its own rule.
    st.metric("Mean similarity of every pair", similarity_text(summary.mean), "identical maps counted once",
              delta_color="off", delta_arrow="off", help=explain("Map similarity") + " A description of all the "
              "maps; the map shown is judged against the others under 'How far to trust this map'.")
    st.caption("A description of all the maps, not a check: the map shown is judged against the others under "
               "'How far to trust this map'.")
    st.markdown(f"{summary.agreeing} of the {summary.pairs} pairs of the {summary.maps} distinct maps agree at least "
                "moderately.  \n"
                f"**Closest:** {first} and {second}, {similarity_text(summary.closest[2])} "
                f"({agreement_word(summary.closest[2])}).  \n"
                f"**Furthest apart:** {low_first} and {low_second}, {similarity_text(summary.furthest[2])} "
                f"({agreement_word(summary.furthest[2])}).  \n" + same_map_sentence(summary, MAP_LABELS)
                + (f"  \n{blank_maps_sentence(summary, MAP_LABELS)}" if summary.blank else ""))
    hidden = (f" It compares the whole maps, faint parts included: the pictures colour only what lies above "
              f"{threshold:.0%} of each map's maximum." if threshold > 0 else "")
    st.caption(f"Similarity: {SCALE}.{hidden} Where the maps agree the evidence is more believable, not proven.")


def agreement_table(agreement) -> None:
    """Every pair's similarity, methods by methods, with the scale in words."""
    table = agreement_matrix(agreement, MAP_LABELS)
    st.markdown("**Similarity of every pair of maps**", help=explain("Map similarity"))
    st.dataframe(matrix_text(table), width="stretch")  # as text, each figure as the sentences print it
    st.caption(f"Rank correlation of two maps: {SCALE}. Agreement is not correctness: the Grad-CAM variants share "
               "their layer and tend to agree even on a shortcut; agreement with occlusion is the stronger check.")


def legend_bar(colormap: str, threshold: float, caption: str) -> None:
    """A colour bar drawn as a thin gradient, with what its colours mean."""
    bar = colour_bar(colormap, 24, 1, threshold)[0]
    stops = ", ".join(f"rgb({r},{g},{b}) {100 * i / (len(bar) - 1):.0f}%" for i, (r, g, b) in enumerate(bar))
    st.markdown(f'<div style="height:12px;border-radius:3px;background:linear-gradient(to right, {stops})"></div>',
                unsafe_allow_html=True)
    st.caption(caption)


def grid_occlusion_tab(case: Case, controls: Controls) -> None:
    """The occlusion-sensitivity map on the film's own grid: every cell hidden in turn, one batch."""
    fill_col, _ = st.columns([1, 3])
    fills = list(FILLS)
    fill = fill_col.selectbox("Hide with", fills, key="fill", index=fills.index(hide_with()),
                              help="Blur keeps the image looking like a radiograph; black is a harsher test. Also "
                                   "used when cells are clicked on the film.")
    widgets.keep("fill", fill)
    st.caption(f"Each of the {GRID} x {GRID} cells of the film's grid hidden in turn: the colour is how much the "
               f"probability of {controls.target} falls without it.")
    if not st.toggle("Map every cell", key="grid_occlusion"):
        return
    effects = case.grid_effects(GRID, list(case.card.labels).index(controls.target), fill)
    shown = fit_within(case.pixels)
    picture, numbers = st.columns([1, 1])
    heat = render_overlay(shown, effects.film_map(shown.shape), controls.opacity, controls.colormap)
    picture.image(encode_png(draw_grid(heat, GRID)), width="stretch",
                  caption=f"Fall of {controls.target} when each cell is hidden (grid occlusion)")
    if np.all(np.isnan(effects.drop)):
        numbers.caption("No cell lies inside the region the model saw.")
        return
    worst = int(np.nanargmax(effects.drop))
    with picture:
        legend_bar(controls.colormap, 0.0, text.grid_legend_sentence(controls.target, float(np.nanmax(effects.drop)),
                                                               effects.scale))
    largest = float(np.nanmax(effects.drop))
    if largest > 0:
        numbers.metric("Largest fall", fall_points(largest), help=f"Hiding {cell_name(worst, GRID)}.")
    else:  # the legend says no cell lowers it: no "fall of 0.0 points" credited to a cell
        numbers.metric("Largest fall", "none", help="Hiding no single cell lowers the probability.")
    numbers.caption(f"Probability of {controls.target} on the whole film: {effects.before:.1%} (the figure shown "
                    "above when it is the output). Cells outside the region the model saw are not coloured.")


def occlusion_wanted(case: Case, controls: Controls) -> tuple:
    return case.digest, case.key, controls.target


def occlusion_requested(case: Case, controls: Controls) -> bool:
    return st.session_state.get("occlusion_for") == occlusion_wanted(case, controls)


def occlusion(case: Case, controls: Controls):
    """(map at model-input resolution, map on the original grid) of occlusion sensitivity, cached."""
    with st.spinner("Classifying a few hundred occluded copies…", show_time=True):
        explained, on_image = case.explanation(OCCLUSION, controls.target, None)
    return explained.heatmap, on_image


def occlusion_section(case: Case, controls: Controls, explanation, computed: bool = False) -> tuple:
    """The occlusion cross-check on request, or once `computed` (every method's map, occlusion among
    them, was asked for); returns (its similarity to the map shown, that map's method), or (None, None).
    The map shown is the one read and judged; when it is occlusion's own, Grad-CAM stands in, at the layer
    of the layer box (as in the comparison of methods and every method's tab), and is named."""
    st.markdown("**Cross-check: occlusion sensitivity**")
    st.caption(f"{explain('Occlusion')} Model-agnostic: if it disagrees with the map shown, trust neither map on "
               "its own.")
    # A callback, so the request is known from the top of the run and the agreement includes the map.
    st.button("Compute occlusion-sensitivity map", key="occlusion", icon=":material/grid_on:",
              on_click=st.session_state.update, kwargs={"occlusion_for": occlusion_wanted(case, controls)})
    if not (computed or occlusion_requested(case, controls)):
        return None, None
    occlusion_heat, on_image = occlusion(case, controls)
    against = explanation
    if explanation.method == OCCLUSION:
        with st.spinner("Computing Grad-CAM…"):
            against, _ = case.explanation("gradcam", controls.target, controls.layer)
    similarity = map_similarity(against.heatmap, occlusion_heat)  # None: a blank map, the check measured nothing
    picture, verdict = st.columns([1, 1], gap="medium")
    picture.image(encode_png(overlay_image(case, on_image, controls)),
                  caption=f"Occlusion sensitivity for {controls.target}", width="stretch")
    with picture:
        colour_legend(controls.target, controls)
    label = MAP_LABELS[against.method]
    verdict.metric(f"Similarity to {label}", *similarity_figure(similarity), delta_color="off",
                   delta_arrow="off", help=explain("Map similarity"))
    where = f" at the layer {controls.layer_label}" if against.layer else ""
    verdict.caption(f"The map shown above ({label}{where}) for the same class." if against is explanation else
                    f"Grad-CAM at the layer chosen ({controls.layer_label}), as the other maps compared, for the same "
                    "class (the map shown is occlusion's own).")
    return similarity, against.method


def report_content(case: Case, explanation, controls: Controls, status: Status, checks: MapChecks) -> ReportContent:
    """What the report says of this case, its map and the display settings, with the final `status` and the
    map `checks`; the page adds what it showed beside them (the what-if, the methods compared, the map's notes)."""
    return ReportContent(
        method=explanation.method, model_id=case.card.id, model_version=case.card.version,
        model_name=case.card.display_name, case_id=case.case_id, colormap=controls.colormap,
        threshold=controls.threshold, status=status, map_label=explanation.label,
        stability=text.stability_line(case.uncertainty()),
        notes=(map_note(explanation, controls.layer_label, checks, controls.layer_member if explanation.layer else None),
               text.probability_definition(case.card, short=True)))


def report_downloads(case: Case, content: ReportContent, overlay: np.ndarray) -> None:
    """PNG and PDF reports of `content` beside the film and the `overlay`, made on a button press."""
    what_if = content.what_if
    film = (film_with_grid(case.pixels, what_if.cells) if what_if
            else fit_within(case.pixels))  # hidden cells greyed on the grid they are named by
    args = (film, overlay, case.prediction(), content)
    stem = f"cxr-report-{case.case_id}-{case.card.id}-{content.method.replace('+', 'plus')}"
    png, pdf, _ = st.columns([1, 1, 3])
    png.download_button("Report (PNG)", data=lambda: build_report(*args), file_name=f"{stem}.png",
                        mime="image/png", icon=":material/download:", on_click="ignore", key="report_png")
    pdf.download_button("Report (PDF)", data=lambda: build_report_pdf(*args), file_name=f"{stem}.pdf",
                        mime="application/pdf", icon=":material/picture_as_pdf:", on_click="ignore",
                        key="report_pdf")


def glossary_tab() -> None:
    st.caption("Every term this page uses, in one plain line each.")
    widgets.glossary_columns(GLOSSARY)


# --------------------------------------------------------------------------- trust


def remember_map(case: Case, explanation, layer: str) -> dict:
    """Keep this map (model-input resolution) for the agreement between methods; returns the maps of every
    method computed so far for this image, model and class that can be compared at `layer`
    (`model.trust.map_checks.maps_at_layer`: never another layer's), the current one last."""
    kept = st.session_state.setdefault("maps_by_layer", {})
    slot = (case.digest, case.card.id, explanation.label)
    maps = kept.pop(slot, {})
    maps.pop((explanation.method, explanation.layer), None)
    maps[(explanation.method, explanation.layer)] = explanation.heatmap
    while len(maps) > MAPS_PER_CASE:
        maps.pop(next(iter(maps)))
    kept[slot] = maps  # Most recent last, so the oldest combination goes first.
    while len(kept) > MAPS_KEPT:
        kept.pop(next(iter(kept)))
    return maps_at_layer(maps, layer)


def lung_panel(case: Case, on_image, method_label: str) -> tuple:
    """Lung-field attention of this map; returns it with the share and the sentence shown under it, for
    the report ((None, None, None) when there is no lung model or no plausible lung fields)."""
    st.markdown("**Lung-field attention**", help=explain("Lung-field attention"))
    mask = case.lung_mask()
    if mask is None:
        st.caption(f":material/block: {case.lungs_reason}")
        return None, None, None
    attention, why = attention_if_lungs(on_image, mask, caching.lung_attention_threshold(case.key),
                                        case.model_input().region, caching.own_levels(case.key))
    if attention is None:
        st.caption(f":material/block: {why}")
        return None, None, None
    share = text.lung_share(attention.fraction)
    st.metric(text.LUNG_SHARE_LABEL, share,
              help="Share of the map's total weight, faint parts included, that lies on the lung fields found by "
                   "the registry's lung segmentation model (the colours show only the strongest part). Findings "
                   "of COVID-19 and pneumonia are in the lungs; weight on text "
                   "markers, borders, the neck or devices is a warning sign of a shortcut.")
    if attention.low:
        sentence = attention.warning
        st.warning(sentence, icon=":material/report:")
        st.caption("Before concluding, switch on *Outline the lung fields*: the segmentation can leave out dense "
                   "consolidation, effusions and the lung behind the heart or the diaphragm, which makes this "
                   "share too low.")
    else:
        sentence = text.lung_share_sentence(attention.fraction, attention.threshold, method_label,
                                            attention.even_share, caching.own_levels(case.key))
        st.caption(sentence)
    return attention, share, sentence


def faithfulness_panel(case: Case, controls: Controls):
    st.markdown("**Faithfulness**", help=explain("Faithfulness"))
    wanted = st.toggle("Measure it", key="faithfulness",
                       help="Removes (or reveals) the pixels the map ranks highest first and follows the class "
                            "probability, against random maps as coarse as this one. About 170 predictions: a few "
                            "seconds.")
    if not wanted:
        st.caption("Does hiding what the map highlights change the prediction more than hiding random regions?")
        return None
    with st.spinner("Hiding and revealing pixels in the map's order…", show_time=True):
        faith = case.faithfulness(controls)
    hide, reveal = st.columns(2)
    hidden, hidden_chance, shown, shown_chance = faith.figures  # one format for the four, as in the sentence
    judged = faith.verdict != NOT_MEASURABLE
    # Figures of a check that could not be judged stay available, but marked and explained right under them.
    mark = {} if judged else {"delta": NOT_JUDGED, "delta_color": "off", "delta_arrow": "off"}
    hide.metric("While hiding", hidden, **mark,
                help="Average probability of the class while the map's highest regions are hidden first (area "
                     f"under the curve): lower is better, by more than {CHANCE_MARGIN} to count.")
    hide.caption(f"random regions cut like this map's cells: {hidden_chance}, lower is better")
    reveal.metric("While revealing", shown, **mark,
                  help="Average probability of the class while the map's highest regions are revealed first "
                       f"(area under the curve): higher is better, by more than {CHANCE_MARGIN} to count.")
    reveal.caption(f"random regions cut like this map's cells: {shown_chance}, higher is better")
    if not judged:
        st.info(faith.summary, icon=":material/help:")
    st.plotly_chart(charts.faithfulness_figure(faith.curves), key="faithfulness_curves",
                    config={"displayModeBar": False})
    if not judged:
        return faith
    icon = {"faithful": ":material/check_circle:", "mixed": ":material/contrast:"}.get(faith.verdict,
                                                                                       ":material/warning:")
    (st.success if faith.verdict == "faithful" else st.warning)(faith.summary, icon=icon)
    return faith


def agreement_panel(maps: dict, shown: str, layer_label: str) -> tuple:
    """The maps compared so far, pair by pair, those with the map `shown` first; returns their `Agreement`
    (None under two maps) and a slot above the pairs for the headline and the sentence judging the map shown
    against the others (filled once the checks are known). `layer_label`: the layer they were taken at."""
    st.markdown("**Agreement between methods**", help=explain("Agreement between methods"))
    at_layer = f"Maps at the layer chosen ({layer_label}) where a method uses one: those made at other layers are not compared."
    if len(maps) < 2:
        st.caption("Choose another method above, or compute occlusion sensitivity below, to see whether the "
                   f"methods point at the same regions. {at_layer}")
        return None, None
    agreement = method_agreement(maps)
    slot = st.empty()
    pairs = {" vs ".join(MAP_LABELS.get(name, name) for name in methods): rho
             for methods, rho in sorted(agreement.method_pairs, key=lambda item: shown not in item[0])}
    # The similarity column kept narrow so that every pair's name fits a 1366-pixel screen's column; each figure as
    # the sentences print it, a pair with a blank map (None) in words, never 0.00 (a cell shows None as "None").
    st.dataframe({"maps": list(pairs), "similarity": [BLANK_CELL if rho is None else similarity_text(rho)
                                                      for rho in pairs.values()]},
                 hide_index=True, width="stretch",
                 column_config={"maps": st.column_config.TextColumn(width=182),
                                "similarity": st.column_config.TextColumn(width=76)})
    st.caption(f"{at_layer} Agreement is not correctness: the Grad-CAM variants share their layer and tend to "
               "agree even on a shortcut; agreement with occlusion is the stronger check.")
    return agreement, slot


def comparison_headline_panel(slot, comparison, faithful: bool) -> None:
    """The comparison of the map shown with the other maps in `slot`: how many agree, in the words of the
    rule that cautions, and the sentence naming them (the one the status and the report carry)."""
    if slot is None or comparison is None:
        return
    label, figure, words = comparison_headline(comparison)
    with slot.container():
        st.metric(label, figure, words, delta_color="off", delta_arrow="off",
                  help=explain("Agreement between methods"))
        if comparison.agree or comparison.differ or comparison.blank:
            st.caption(comparison_sentence(comparison, faithful))


def randomised_similarity(case: Case, method: str) -> float | None:
    """The model's explanation report's similarity of this method's maps before and after randomising
    the weights, when the report flagged the method (None otherwise)."""
    report = caching.explanation_report_or_none(case.key)
    result = report.sanity_check.methods.get(method) if report and report.sanity_check else None
    return result.spearman if result and result.flagged else None


def trust_section(case: Case, controls: Controls, explanation, on_image, every_map: dict) -> tuple:
    """The trust signals of this map, drawn; returns what they measured (`MapChecks`), for the status and
    the report, and the lung share and its sentence as shown (None, None when not measured), for the report.
    `every_map`: the maps of the all-methods tab (empty until asked for), compared with the others."""
    method_label = MAP_LABELS[explanation.method]
    randomised = randomised_similarity(case, explanation.method)
    if randomised is not None:
        st.warning(f"In this model's explanation report, {method_label} maps stayed similar (similarity "
                   f"{randomised:.2f}) when the weights were randomised: they may show the image's structure more "
                   "than the model's reasoning.", icon=":material/science:")
    # One layer: the map read's, or the layer box's when the map read has none (every method's tab and the
    # occlusion cross-check take theirs there too).
    layer = controls.layer or case.card.explain_layer
    maps = {**remember_map(case, explanation, layer), **every_map}  # every method at this layer wins over older maps
    if OCCLUSION not in maps and occlusion_requested(case, controls):
        maps[OCCLUSION] = occlusion(case, controls)[0]
    lungs_col, faith_col, agree_col = st.columns([1, 1.4, 1.2], gap="large")
    with lungs_col:
        attention, lung_share, lung_sentence = lung_panel(case, on_image, method_label)
    with faith_col:
        faith = faithfulness_panel(case, controls)
    with agree_col:
        agreement, judged = agreement_panel(maps, explanation.method, controls.layer_label)
    similarity, against = occlusion_section(case, controls, explanation, computed=OCCLUSION in every_map)
    checks = MapChecks(attention, faith, agreement, similarity, randomised, every_method=bool(every_map),
                       shown=explanation.method, occlusion_against=against or "gradcam",
                       occlusion_blank=against is not None and similarity is None)  # made, nothing measured
    comparison_headline_panel(judged, shown_comparison(checks), checks.faithful)
    return checks, (lung_share, lung_sentence)


# Metric figures that fit a 1366-pixel screen's narrow column (the compact head is `dashboard/page_head.py`'s).
PAGE_STYLE = """<style>
[data-testid="stMain"] [data-testid="stMetricValue"] {font-size: 1.45rem;}
</style>"""


def teaching_case_box(case: Case) -> None:
    """A film opened from the gallery: what the data say about it (true label, source, split) and what
    the gallery's model answered, in one bordered line above the result. Not its file name: the label and
    source say what the film is, the case number above (its fingerprint) which one, and a file name can carry
    a patient's name where the server's labelled data are a hospital's own."""
    teaching = widgets.teaching_case(case.digest)
    if teaching is None:
        return
    # the gallery's words for the answer against the label (`outcome_word`), never mistaken for the triage below
    verdict = (":blue[label not among its classes, not an error]" if not teaching.known else
               f":{'red' if teaching.wrong else 'green'}[{outcome_word(teaching)}]")
    lungs = "" if teaching.lung_share is None else f", {text.lung_share(teaching.lung_share)} of its map on the lungs"
    # versions by their display names, as the side panel names them (the review saw ids here)
    names = {card.id: card.display_name for card in caching.usable_cards()}
    other = "" if teaching.model_id == case.card.id else f" This page reads it with **{case.card.display_name}**."
    with st.container(border=True):
        # a film the gallery held back as out of scope got no answer there, as here (`held_back_words`)
        said = (held_back_words(teaching, "this film") if teaching.held_back else
                f"answered **{teaching.predicted}** ({teaching.confidence:.1%}{lungs}): {verdict}")
        st.markdown(f":material/school: **Teaching case** · true label **{teaching.label}** "
                    f"(from the data) · source `{teaching.source}` · {teaching.split_name}  \n"
                    f"In the gallery **{names.get(teaching.model_id, teaching.model_id)}** {said}.{other}")


def open_case(card, uploaded, loading, facts_slot) -> tuple[Case, object] | None:
    """The model, the lung model and the upload as a `Case` (None, after saying why, when there is none);
    loading spinners are drawn in `loading`, a slot of their own, never over other text; the reader's
    age and view controls in `facts_slot`."""
    key = caching.model_key(card.id)
    upload = widgets.read_upload(
        uploaded, prompt="Upload a frontal chest radiograph (in the side panel) to see the model's answer, its "
                         "probability and explanation maps.", keep=True)
    model_panel(card, key)
    if upload is None:
        caching.load_in_background(key)  # the models load while the reader picks a film
        st.caption(f"**Made for:** {INTENDED_POPULATION}")
        return None
    with loading:
        clf = caching.classifier(key)
        lungs, lungs_reason = caching.lung_status(card.prep.lung_model)
    if clf is None:
        return None
    stated = widgets.about_this_film(upload[0], upload[1].metadata, facts_slot)
    digest, xray = upload
    if st.session_state.get("hide_for") != digest:  # a new film starts with nothing hidden
        st.session_state["hide_for"], st.session_state["hidden_cells"] = digest, []
    return Case(digest, xray, key, card, lungs, lungs_reason, stated), clf


def main() -> None:
    cards = widgets.page_start("Diagnose & explain")
    st.markdown(PAGE_STYLE, unsafe_allow_html=True)  # after the title: above it, its line pushed the title down
    with st.sidebar:
        uploaded = widgets.uploader("upload", keep=True)
        facts_slot = st.container()  # the film's age and view, right under the upload
        card = widgets.model_picker(cards, key="diagnose_model")
        widgets.broken_entries()
    loading = st.empty()
    opened = open_case(card, uploaded, loading, facts_slot)
    if opened is None:
        return
    case, clf = opened
    teaching_case_box(case)
    with loading, st.spinner("Checking the image…"):
        result = case.triage()
        case.model_input()
    loading.empty()
    status_slot = st.empty()
    shown_anyway = not result.shows_answer and st.toggle(
        "Show the output anyway (for reference only)", key=f"show-anyway-{case.digest[:16]}",
        help="The film is outside what the model was made for: its output would be a guess.")
    with status_slot.container():
        status_box(result, text.interim_status_line(result, shown_anyway), not_run=())
    film_note = seen_note(case.card, case.digest)  # a film of the labelled data: whether this model learnt from it
    output_col, images_col = st.columns([1, 2.5], gap="medium")
    if not result.shows_answer and not shown_anyway:
        with images_col.columns(2, gap="small")[0]:  # the film as large as it is beside a map
            st.image(encode_png(to_uint8(fit_within(case.pixels))), width="stretch",
                     caption=f"{film_caption(case)}. No answer and no map are shown for it.")
        output_col.caption(f"**Made for:** {INTENDED_POPULATION}")
        return
    what_if = hidden_result(case)
    with output_col:
        output_box(case, result, shown_anyway, what_if)
    st.caption(f"**Made for:** {INTENDED_POPULATION}")
    controls = explanation_controls(clf, case, list(case.card.labels).index(case.uncertainty().top_label))
    explanation, on_image = compute_map(case, controls)
    with images_col:
        overlay, other_class = images(case, controls, explanation, on_image, what_if)
    st.caption(f":material/info: {text.probability_definition(case.card)}")

    trust_tab, grid_tab, methods_tab, report_tab, words_tab = st.tabs(
        ["How far to trust this map", "Hide regions on the film's grid", "All methods side by side", "Report",
         "Words used here"])
    with methods_tab:  # first: the checks (and so the status) count every method's map once computed
        every_map = all_methods(case, controls)
    with trust_tab:
        checks, (lung_share, lung_sentence) = trust_section(case, controls, explanation, on_image, every_map)
    map_class = explanation.label if explanation.label != case.uncertainty().top_label else None
    final, line = text.checked_status(result, checks, MAP_LABELS[explanation.method], shown_anyway, map_class)
    with status_slot.container():  # the status names the map checks too, once they are known
        status_box(final, line, text.not_run_checks(checks), map_class)
    with grid_tab:
        grid_occlusion_tab(case, controls)
    # The maps the agreement between methods compared (occlusion's too, once computed), as its check line names them.
    compared = [label for name, label in MAP_LABELS.items() if checks.agreement and name in checks.agreement.methods]
    with report_tab:
        st.caption(f"Case {case.case_id} (the first digits of the image's fingerprint, not patient data). The "
                   "report holds no name, file name or other identifier, and carries the status above.")
        content = replace(report_content(case, explanation, controls, Status(line, final.status, tuple(final.findings)),
                                         checks),
                          what_if=what_if, compared=tuple(compared), other_class=other_class,
                          lung_share=lung_share, lung_sentence=lung_sentence,  # as the page showed them
                          checks=report_check_lines(checks, final.findings),
                          film_note=film_note and film_note[0], film_note_warns=bool(film_note and film_note[1]))
        report_downloads(case, content, overlay)
    with words_tab:
        glossary_tab()


main()
