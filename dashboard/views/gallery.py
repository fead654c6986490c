"""Case gallery: labelled images scored by one model, misclassified and least confident first."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import caching, widgets
from model.inputs.intake import XrayInputError, load_xray
from model.present.gallery import DATA_ENV, cases_frame, data_location, score_cases
from model.present.overlay import render_overlay, to_uint8

COLUMNS = 4
HOW_TO = (f"No labelled data is configured. Set the environment variable `{DATA_ENV}` before starting the "
          f"dashboard (for example `{DATA_ENV}=../shared/data/cxr streamlit run dashboard/app.py`) or type the "
          "path of a manifest CSV or of a folder with one sub-folder per class (COVID/, Normal/, "
          "Viral Pneumonia/) above.")


@st.cache_data(max_entries=8, show_spinner=False)
def _records(path: str):
    from model.data import read_dataset

    return read_dataset(Path(path))


@st.cache_data(max_entries=8, show_spinner=False)
def _cases(path: str, key: caching.ModelKey, limit: int, seed: int):
    return score_cases(caching.cached_classifier(key), _records(path), limit_per_label=limit, seed=seed)


@st.cache_data(max_entries=4, show_spinner=False)
def _pixels(path: str):
    return load_xray(path).pixels


@st.cache_data(max_entries=256, show_spinner=False)
def _thumbnail(path: str):
    return to_uint8(load_xray(path).pixels)


def data_path() -> Path | None:
    configured = data_location()
    typed = st.text_input("Labelled data (manifest CSV or folder)", value=str(configured or ""), key="data_path",
                          placeholder="../shared/data/cxr")
    path = Path(typed).expanduser() if typed.strip() else None
    if path is None or not path.exists():
        if path is not None:
            st.warning("Nothing was found at that path; please check it.", icon=":material/folder_off:")
        st.info(HOW_TO, icon=":material/settings:")
        return None
    return path.resolve()


def selected_case_panel(case, key, card) -> None:
    """The clicked case, large: original, Grad-CAM overlay of its prediction, probabilities."""
    try:
        pixels = _pixels(case.path)
    except XrayInputError as exc:
        st.error(str(exc))
        return
    digest = caching.digest(b"file:" + case.path.encode())  # A file of the data pool: its path names it.
    explanation, on_image = caching.explanation(digest, key, "gradcam", case.predicted, card.explain_layer, pixels)
    with st.container(border=True):
        st.markdown(f"**{Path(case.path).name}** · true **{case.label}** · model **{case.predicted}** "
                    f"({case.confidence:.1%}) · source `{case.source}`")
        original, overlay, probabilities = st.columns([1, 1, 1], gap="medium")
        original.image(to_uint8(pixels), caption="Original", width="stretch")
        overlay.image(render_overlay(pixels, on_image), width="stretch",
                      caption=f"Grad-CAM for {explanation.label}, layer {explanation.layer}")
        probabilities.dataframe({"probability": case.probabilities}, width="stretch",
                                column_config={"probability": st.column_config.NumberColumn(format="percent")})
        st.button("Close", key="close_case", on_click=st.session_state.pop, args=("gallery_case", None))


def case_grid(cases) -> None:
    for start in range(0, len(cases), COLUMNS):
        for column, case in zip(st.columns(COLUMNS, gap="small"), cases[start:start + COLUMNS]):
            with column.container(border=True):
                try:
                    column_image = _thumbnail(case.path)
                except XrayInputError:
                    st.caption("This image can no longer be read.")
                    continue
                mark = ":green[correct]" if case.correct else ":red[misclassified]"
                st.image(column_image, width="stretch")
                st.markdown(f"True **{case.label}**  \nModel **{case.predicted}** {case.confidence:.0%} · {mark}")
                # A callback, so the chosen case is known before the panel above the grid is drawn.
                st.button("Explain", key=f"explain_{case.path}", icon=":material/visibility:", width="stretch",
                          on_click=st.session_state.__setitem__, args=("gallery_case", case.path))


def main() -> None:
    st.title("Case gallery")
    widgets.disclaimer()
    st.caption("Labelled images scored by one model, misclassified first, then the least confident: the cases "
               "worth discussing.")
    cards = widgets.require_models()
    path = data_path()
    if path is None:
        return
    try:
        records = _records(str(path))
    except (OSError, ValueError) as exc:
        st.error(f"The labelled data could not be read: {exc}")
        return
    if not records:
        st.info("No labelled images were found there. " + HOW_TO)
        return
    controls = st.columns([2, 2, 2, 1])
    with controls[0]:
        card = widgets.model_picker(cards, key="gallery_model")
    key = caching.model_key(card.id)
    if caching.classifier(key) is None:
        return
    label = controls[1].selectbox("True label", ["All", *card.labels], key="gallery_label")
    limit = controls[2].slider("Cases scored per label", 2, 100, 12, key="gallery_limit",
                               help="Scoring reads and classifies every image; more cases take longer.")
    only_wrong = controls[3].toggle("Only misclassified", key="gallery_wrong")
    with st.spinner(f"Scoring up to {limit} images per label with {card.display_name}…", show_time=True):
        cases = _cases(str(path), key, int(limit), 0)
    shown = [c for c in cases if (label == "All" or c.label == label) and not (only_wrong and c.correct)]
    wrong = sum(not c.correct for c in cases)
    st.markdown(f"{len(cases)} images scored from {len(records):,}; {wrong} misclassified. Showing {len(shown)}.")
    chosen = next((c for c in cases if c.path == st.session_state.get("gallery_case")), None)
    if chosen is not None:
        selected_case_panel(chosen, key, card)
    case_grid(shown)
    with st.expander("All scored cases as a table"):
        st.dataframe(cases_frame(cases), hide_index=True, width="stretch")


main()
