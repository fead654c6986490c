"""Case gallery: labelled images scored by one model, misclassified and least confident first.

It teaches honestly: by default only images the selected model never trained on (its test split
and sources outside its training data, re-made from its card), each case labelled with its split
and source; labels outside the model's classes are explained, not counted as errors. The data it
reads are set by configuration only (`CXR_DATA` roots); there is no free path box.

"Open in Diagnose" puts the case's bytes in `st.session_state["diagnose_upload"]`
(`{"name": str, "data": bytes}`) and switches to the Diagnose page, which reads that key.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import caching, widgets
from model.inputs.intake import XrayInputError, load_xray
from model.labelled_data import (
    DataPathError,
    data_roots,
    find_datasets,
    read_dataset,
    records_within,
    resolve_in_roots,
    short_name,
)
from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD
from model.present.gallery_cases import (
    DATA_ENV,
    SPLIT_CHOICES,
    SPLIT_NAMES,
    cases_frame,
    gallery_records,
    score_cases,
)
from model.present.overlay import colour_bar, render_overlay, to_uint8
from model.trust.attention import lung_attention
from model.trust.input_check import input_check
from model.trust.triage import triage

COLUMNS = 4
DIAGNOSE_UPLOAD = "diagnose_upload"  # {"name": str, "data": bytes}, read by the Diagnose page.
HOW_TO = (f"No labelled data is configured. Set the environment variable `{DATA_ENV}` before starting the "
          f"dashboard (for example `{DATA_ENV}=../shared/data/cxr streamlit run dashboard/app.py`; several "
          "folders separated by ':'), pointing at manifest CSVs or folders with one sub-folder per class "
          "(COVID/, Normal/, Viral Pneumonia/). The gallery reads nothing else on the server.")
STATUS_MARKS = {"answer": "", "uncertain": ":orange[:material/help: second read advised]",
                "out_of_scope": ":red[:material/block: out of scope]"}


@st.cache_data(max_entries=8, show_spinner=False)
def _records(path: str):
    """The dataset's records whose files lie inside the configured roots (a manifest may name others)."""
    return records_within(read_dataset(Path(path), keep_unknown=True), data_roots())[0]


@st.cache_data(max_entries=8, show_spinner=False)
def _cases(path: str, key: caching.ModelKey, split: str, limit: int, seed: int):
    records = _records(path)
    card = caching.cached_classifier(key).card
    chosen, splits, _ = gallery_records(records, card, split)
    return score_cases(caching.cached_classifier(key), chosen, limit_per_label=limit, seed=seed, splits=splits,
                       include_unknown=True)


@st.cache_data(max_entries=8, show_spinner=False)
def _split_note(path: str, key: caching.ModelKey) -> str:
    return gallery_records(_records(path), caching.cached_classifier(key).card, "all")[2]


@st.cache_data(max_entries=4, show_spinner=False)
def _xray(path: str):
    return load_xray(path)


@st.cache_data(max_entries=256, show_spinner=False)
def _thumbnail(path: str):
    """(thumbnail, triage status) of one case: the input check without the lung mask is cheap."""
    xray = load_xray(path)
    status = triage(input_check(xray.pixels, xray.metadata)).status
    return to_uint8(xray.pixels), status


def data_path() -> Path | None:
    """A dataset chosen among those found under the configured roots (a deep link `?data=` too, checked)."""
    roots = data_roots()
    if not roots:
        st.info(HOW_TO, icon=":material/settings:")
        return None
    linked = st.query_params.get("data")
    if linked:
        try:
            return resolve_in_roots(linked, roots)
        except DataPathError as exc:
            st.error(str(exc), icon=":material/folder_off:")
            return None
    datasets = find_datasets(roots)
    if not datasets:
        st.info("No manifest CSV or folder per class was found under the configured data folders. " + HOW_TO)
        return None
    choice = st.selectbox("Labelled data", datasets, key="gallery_data", format_func=lambda p: short_name(p, roots))
    try:
        return resolve_in_roots(choice, roots)
    except DataPathError as exc:
        st.error(str(exc), icon=":material/folder_off:")
        return None


def case_verdict(case) -> str:
    if not case.known:
        return (f":blue[label not among its classes] · it said **{case.predicted}** {case.confidence:.0%}")
    mark = ":green[correct]" if case.correct else ":red[misclassified]"
    return f"Model **{case.predicted}** {case.confidence:.0%} · {mark}"


def selected_case_panel(case, key, card) -> None:
    """The clicked case, large: original, Grad-CAM overlay with the Diagnose threshold and its colour
    legend, probabilities, input check and lung attention, and a way to open it in Diagnose."""
    try:
        xray = _xray(case.path)
    except XrayInputError as exc:
        st.error(str(exc))
        return
    pixels = xray.pixels
    digest = caching.digest(b"file:" + case.path.encode())  # A file of the data pool: its path names it.
    explanation, on_image = caching.explanation(digest, key, "gradcam", case.predicted, card.explain_layer, pixels)
    with st.container(border=True):
        st.markdown(f"**{Path(case.path).name}** · true **{case.label}** · {case_verdict(case)} · "
                    f"{SPLIT_NAMES.get(case.split, case.split)} · source `{case.source or 'unknown'}`")
        if not case.known:
            st.caption(f"'{case.label}' is not one of this model's classes ({', '.join(card.labels)}): it can only "
                       "force such a film into one of them, so this is not counted as an error.")
        original, overlay, details = st.columns([1, 1, 1], gap="medium")
        original.image(to_uint8(pixels), caption="Original", width="stretch")
        shown = render_overlay(pixels, on_image, colormap=DEFAULT_COLORMAP, threshold=DEFAULT_MAP_THRESHOLD)
        overlay.image(shown, width="stretch",
                      caption=f"Grad-CAM for {explanation.label}, layer {explanation.layer}")
        overlay.image(colour_bar(DEFAULT_COLORMAP, threshold=DEFAULT_MAP_THRESHOLD), width="stretch",
                      caption=f"weak → strong evidence; below {DEFAULT_MAP_THRESHOLD:.0%} not coloured, as on Diagnose")
        with details:
            st.dataframe({"probability": case.probabilities}, width="stretch",
                         column_config={"probability": st.column_config.NumberColumn(format="percent")})
            lungs, reason = caching.lung_status(card.prep.lung_model)
            mask = caching.lung_mask(digest, lungs, pixels) if lungs is not None else None
            result = caching.triage(digest, key, lungs, pixels, xray.metadata)
            st.markdown(f"**Triage:** {result.headline}")
            for why in result.reasons:
                st.caption(why)
            if mask is not None:
                attention = lung_attention(on_image, mask, caching.lung_attention_threshold(key))
                st.metric("Map inside the lung fields", f"{attention.fraction:.0%}")
                if attention.low:
                    st.caption(f":orange[:material/report: {attention.warning}]")
            else:
                st.caption(f":material/block: {reason}")
        buttons = st.columns([1, 1, 4])
        if buttons[0].button("Open in Diagnose", key="open_in_diagnose", icon=":material/radiology:"):
            st.session_state[DIAGNOSE_UPLOAD] = {"name": Path(case.path).name, "data": Path(case.path).read_bytes()}
            st.switch_page(widgets.PAGES["diagnose"])
        buttons[1].button("Close", key="close_case", on_click=st.session_state.pop, args=("gallery_case", None))


def case_grid(cases) -> None:
    for start in range(0, len(cases), COLUMNS):
        for column, case in zip(st.columns(COLUMNS, gap="small"), cases[start:start + COLUMNS]):
            with column.container(border=True):
                try:
                    thumbnail, status = _thumbnail(case.path)
                except XrayInputError:
                    st.caption("This image can no longer be read.")
                    continue
                st.image(thumbnail, width="stretch")
                st.markdown(f"True **{case.label}**  \n{case_verdict(case)}  \n"
                            f"{SPLIT_NAMES.get(case.split, case.split)} · `{case.source or 'unknown source'}` "
                            f"{STATUS_MARKS.get(status, '')}")
                # A callback, so the chosen case is known before the panel above the grid is drawn.
                st.button("Explain", key=f"explain_{case.path}", icon=":material/visibility:", width="stretch",
                          on_click=st.session_state.__setitem__, args=("gallery_case", case.path))


def main() -> None:
    cards = widgets.page_start("Case gallery",
                               "Labelled images scored by one model, misclassified first, then the least confident: the cases "
                               "worth discussing. By default only images the model never trained on.")
    path = data_path()
    if path is None:
        return
    try:
        records = _records(str(path))
    except (OSError, ValueError) as exc:
        st.error(f"The labelled data could not be read: {' '.join(str(exc).split())}")
        return
    if not records:
        st.info("No labelled images were found there. " + HOW_TO)
        return
    controls = st.columns([2, 2, 1])
    with controls[0]:
        card = widgets.model_picker(cards, key="gallery_model")
    key = caching.model_key(card.id)
    if caching.classifier(key) is None:
        return
    split = controls[1].selectbox("Images", list(SPLIT_CHOICES), format_func=SPLIT_CHOICES.get, key="gallery_split")
    limit = controls[2].slider("Cases per label", 2, 100, 12, key="gallery_limit",
                               help="Scoring reads and classifies every image; more cases take longer.")
    note = _split_note(str(path), key)
    if note:
        st.caption(f":orange[:material/report: {note}]")
    with st.spinner(f"Scoring up to {limit} images per label with {card.display_name}…", show_time=True):
        cases = _cases(str(path), key, split, int(limit), 0)
    filters = st.columns([2, 2, 1])
    sources = sorted({c.source for c in cases})
    source = filters[0].selectbox("Source", ["All", *sources], key="gallery_source")
    labels = sorted({c.label for c in cases}, key=lambda label: (label not in card.labels, label))
    label = filters[1].selectbox("True label", ["All", *labels], key="gallery_label")
    only_wrong = filters[2].toggle("Only misclassified", key="gallery_wrong")
    shown = [c for c in cases if (label == "All" or c.label == label) and (source == "All" or c.source == source)
             and not (only_wrong and (c.correct or not c.known))]
    known = [c for c in cases if c.known]
    wrong = sum(not c.correct for c in known)
    share = f" ({wrong / len(known):.0%})" if known else ""
    unknown = len(cases) - len(known)
    summary = f"{len(known)} images scored from {len(records):,}; {wrong} misclassified{share}."
    if unknown:
        outside = ", ".join(sorted({c.label for c in cases if not c.known}))
        summary += (f" {unknown} more carry labels outside its classes ({outside}): shown with what it called them, "
                    "not counted as errors.")
    st.markdown(summary + f" Showing {len(shown)}.")
    st.caption(f"Images: {SPLIT_CHOICES[split].lower()}; each case says which part of {card.id}'s split it is in.")
    if split == "train":
        st.warning("These are images the model trained on: its errors here are rare and say little about new films.",
                   icon=":material/school:")
    chosen = next((c for c in cases if c.path == st.session_state.get("gallery_case")), None)
    if chosen is not None:
        selected_case_panel(chosen, key, card)
    case_grid(shown)
    with st.expander("All scored cases as a table"):
        st.dataframe(cases_frame(cases), hide_index=True, width="stretch")


main()
