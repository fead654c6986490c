"""Widgets every page shares: the disclaimer, the model picker, the uploader and the registry's
broken entries. Pages only draw; what they show is computed in the core and cached in
`dashboard.caching`.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import caching
from dashboard.long_runs import ResultStore
from model.inputs.intake import DEFAULT_MAX_BYTES, MEGABYTE, Xray, XrayInputError
from model.labelled_data import DataPathError, read_dataset, records_within, resolve_in_roots
from model.policy import MAX_AGE
from model.present.gallery_cases import TeachingCase
from model.present.glossary import page_glossary
from model.present.layers import layer_choices, layer_label, network_names
from model.present.text import DISCLAIMER, QUALIFIED_READER
from model.registry import ModelCard
from model.trust.facts import HEADER, Stated, age_words, scope_facts
from model.trust.triage import ANSWER, OUT_OF_SCOPE, UNCERTAIN

# Page files, relative to dashboard/app.py (st.Page, st.page_link and AppTest.switch_page use these).
PAGES = {
    "diagnose": "views/diagnose_page.py",
    "performance": "views/performance_page.py",
    "compare": "views/compare_page.py",
    "gallery": "views/gallery_page.py",
    "about": "views/about_page.py",
    "evaluate": "views/evaluate_page.py",
}
UPLOAD_LIMIT_MB = DEFAULT_MAX_BYTES // MEGABYTE  # what the core reads (model.inputs.intake), as the help says
# What the upload widget lets through: more than the core reads, so that a file over the limit reaches the
# core and gets its one sentence on the page (the widget's own refusal shows only in the side panel).
WIDGET_LIMIT_MB = 200
UPLOAD_HELP = (f"PNG, JPEG, DICOM (with or without the .dcm extension), TIFF or BMP, up to {UPLOAD_LIMIT_MB} MB. The image is "
               "analysed in memory and "
               "never stored; remove names or other identifiers burnt into the image before uploading.")


# How each triage status looks in a badge: (name, colour, icon), the same on every page.
STATUS_BADGES = {ANSWER: ("Answer", "blue", ":material/assignment:"),
                 UNCERTAIN: ("Second read advised", "orange", ":material/help:"),
                 OUT_OF_SCOPE: ("Out of scope", "red", ":material/block:")}


KEPT_UPLOAD = "_kept_upload"  # (widget key, bytes) of the upload kept for the session, in memory only
KEPT_SETTINGS = "_kept_settings"  # {setting: value}: choices that survive a visit to another page
# {film digest: `Stated`}: the age and view the reader stated about each film, for the session (memory only). Not
# the widgets' state, which Streamlit drops on a page that does not draw them: the statement belongs to the film,
# so it survives a visit to another page and holds on every page that reads the film (Diagnose, Compare).
STATED_FACTS = "_stated_facts"
STATED_KEPT = 64  # films whose statement is kept; the oldest is forgotten first
VIEWS = {"not stated": None, "PA (frontal)": "PA", "AP (frontal)": "AP", "lateral": "lateral"}


# A case another page hands to Diagnose: {"name": str, "data": bytes} (the gallery's "Open in Diagnose"),
# optionally with "case": `model.present.gallery_cases.TeachingCase.to_dict()`, kept as TEACHING_CASE.
HANDED_UPLOAD = "diagnose_upload"
TEACHING_CASE = "_teaching_case"


def teaching_case(image_digest: str) -> TeachingCase | None:
    """The gallery's teaching case of the film with this digest, if that film was handed over as one."""
    values = st.session_state.get(TEACHING_CASE)
    return TeachingCase.from_dict(values) if values and values.get("digest") == image_digest else None


def kept(name: str, default):
    """The value a setting had when last chosen in this session, else `default`: pass it as a
    widget's default so that the choice survives a visit to another page (Streamlit forgets the
    state of widgets that a run does not draw)."""
    return st.session_state.get(KEPT_SETTINGS, {}).get(name, default)


def keep(name: str, value) -> None:
    """Remember a setting for the session (see `kept`)."""
    st.session_state.setdefault(KEPT_SETTINGS, {})[name] = value


def stated_about(image_digest: str) -> Stated:
    """What the reader stated in this session about the film with this digest (`Stated()`: nothing)."""
    return _stated_store().get(image_digest) or Stated()


def _stated_store() -> ResultStore:
    """The session's statements by film digest, the `STATED_KEPT` most recent."""
    return st.session_state.setdefault(STATED_FACTS, ResultStore(STATED_KEPT))


def about_this_film(image_digest: str, metadata: dict, slot, key_prefix: str = "", side_by_side: bool = False
                    ) -> Stated:
    """The reader's statement of the patient's age and the film's view, drawn in `slot` under "About this film";
    a DICOM header's own facts are shown instead of a control. The statement is kept per film for the session
    (`stated_about`): it comes back after a visit to another page and holds on every page that reads the same
    film, while another film starts unstated. `key_prefix` keeps each page's widgets apart; `side_by_side` puts
    the two controls in one row (a wide column) rather than one above the other (the side panel)."""
    header, kept = scope_facts(metadata), stated_about(image_digest)
    age = view = None
    with slot:
        st.markdown("**About this film**")
        age_place, view_place = st.columns(2) if side_by_side else (st.container(), st.container())
        if header.age_source == HEADER:
            age_place.caption(f"Patient's age: {age_words(header.age_years)} (DICOM header)")
        else:
            age = age_place.number_input(
                "Patient's age (years)", min_value=0, max_value=MAX_AGE, value=kept.age_years, step=1,
                key=f"{key_prefix}age-{image_digest[:16]}", placeholder="not stated",
                help="The models were made for adults: under 18 is out of scope. Not stated, the answer is given "
                     "for an adult, and the status says so.")
            if header.age_problem:  # the header has an age, but none that could be used: the status says why
                age_place.caption("The DICOM header's age could not be used (the status says why).")
        if header.view_source == HEADER:
            view_place.caption(f"View: {header.view_code} (DICOM header)")
        else:
            codes = list(VIEWS.values())
            choice = view_place.selectbox("View", list(VIEWS), key=f"{key_prefix}view-{image_digest[:16]}",
                                          index=codes.index(kept.view) if kept.view in codes else 0,
                                          help="The models read frontal (PA or AP) films: a lateral view is out of "
                                               "scope.")
            view = VIEWS[choice]
    stated = Stated(None if age is None else int(age), view)
    _stated_store().put(image_digest, stated)
    return stated


def _remember_upload(key: str) -> None:
    """The uploader's change callback: keep the new file's bytes, or forget them when it was removed."""
    uploaded = st.session_state.get(key)
    if uploaded is None:
        st.session_state.pop(KEPT_UPLOAD, None)
    else:
        st.session_state[KEPT_UPLOAD] = (key, uploaded.getvalue())


def forget_upload() -> None:
    st.session_state.pop(KEPT_UPLOAD, None)


def read_upload(uploaded, prompt: str | None = None, keep: bool = False) -> tuple[str, Xray] | None:
    """Decode an uploaded file in memory; on a bad file show its one-sentence error and return None.

    With nothing uploaded yet, `prompt` (if given) is shown as an invitation to upload. With `keep`,
    the upload's bytes are kept in the session (never on disk) and, when the uploader comes back empty
    after a visit to another page, the kept image is shown again (re-decoded through the cached decoder).
    """
    data = None
    handed = st.session_state.pop(HANDED_UPLOAD, None)  # "Open in Diagnose" from the gallery
    if keep and handed and handed.get("data"):
        st.session_state[KEPT_UPLOAD] = ("", handed["data"])
        st.session_state[TEACHING_CASE] = handed.get("case")
        uploaded = None
    if uploaded is not None:
        data = uploaded.getvalue()
        if keep:
            st.session_state[KEPT_UPLOAD] = ("", data)
    elif keep and KEPT_UPLOAD in st.session_state:
        data = st.session_state[KEPT_UPLOAD][1]
        note, clear = st.columns([5, 1], vertical_alignment="center")
        kept_digest = caching.digest(data)
        what = ("A teaching case opened from the gallery" if teaching_case(kept_digest) is not None
                else "The film uploaded earlier in this session")
        note.caption(f":material/history: {what} (case {kept_digest[:8]}), kept in memory; upload another to "
                     "replace it.")
        with clear.container(horizontal=True, horizontal_alignment="right"):  # level with the column's right edge
            st.button("Clear", key="forget_upload", on_click=forget_upload, icon=":material/close:")
    if data is None:
        if prompt:
            st.info(prompt, icon=":material/upload_file:")
        return None
    image_digest = caching.digest(data)
    try:
        return image_digest, caching.decode(image_digest, data)
    except XrayInputError as exc:
        st.error(str(exc), icon=":material/broken_image:")
        return None


def disclaimer() -> None:
    st.caption(f":material/info: **{DISCLAIMER}** {QUALIFIED_READER}")


def broken_entries() -> None:
    """Registry entries that cannot be used, each with its reason, out of the way in an expander."""
    broken = [status for status in caching.entries() if status.error]
    if broken:
        with st.expander(f"{len(broken)} registry entr{'y' if len(broken) == 1 else 'ies'} could not be used"):
            for status in broken:
                st.markdown(f"**{status.id}**: {status.error}")


def require_models() -> list[ModelCard]:
    """The usable classifiers; without any, a clear message and the page stops."""
    cards = caching.usable_cards()
    if not cards:
        st.warning(f"No usable classifier in the model registry at `{caching.registry_folder()}`. Train one with "
                   "`python -m training.train ...`, copy an entry folder into the registry, or point the "
                   "environment variable `CXR_REGISTRY` at another registry; the About page explains how.",
                   icon=":material/warning:")
        broken_entries()
        st.page_link(PAGES["about"], label="How to add a model", icon=":material/help:")
        st.stop()
    return cards


def page_title(title: str) -> None:
    """The page's title; its compact size is the page's own CSS (`dashboard.page_head`), there before it is drawn."""
    st.title(title)


def page_start(title: str, caption: str | None = None, words: str | None = None) -> list[ModelCard]:
    """The head every model page shares: title, the decision-support disclaimer, an optional line on
    what the page does and, for a page named in `words` (a `model.present.glossary.PAGE_TERMS` key), its
    glossary folded under them; returns the usable classifiers (without any, the page stops, see
    `require_models`)."""
    page_title(title)
    disclaimer()
    if caption:
        st.caption(caption)
    if words:
        words_used_here(words)
    return require_models()


def words_used_here(page: str) -> None:
    """Every term the page uses in one plain line each (`page_glossary`), in an expander at its head: the
    terms of its tables and captions at hand without leaving the page (Diagnose has them in a tab)."""
    with st.expander("Words used here", icon=":material/menu_book:"):
        glossary_columns(page_glossary(page))


def glossary_columns(glossary: dict[str, str]) -> None:
    """Terms and their plain lines as wrapped text in two columns (a table cut the lines at 1366 and 1920 px):
    Diagnose's glossary tab and the other pages' "Words used here"."""
    terms = list(glossary.items())
    half = (len(terms) + 1) // 2
    for column, part in zip(st.columns(2, gap="large"), (terms[:half], terms[half:])):
        column.markdown("\n".join(f"- **{term}**: {meaning}" for term, meaning in part))


def model_picker(cards: list[ModelCard], *, key: str, label: str = "Model") -> ModelCard:
    """A model selectbox; the choice follows the user from page to page."""
    ids = [card.id for card in cards]
    preferred = st.session_state.get("selected_model")
    by_id = {card.id: card for card in cards}
    # The name alone (the version is beside every output): name and version were cut at 1366 px.
    choice = st.selectbox(label, ids, index=ids.index(preferred) if preferred in ids else 0, key=key,
                          format_func=lambda model_id: by_id[model_id].display_name,
                          help="The model, by name; its version is given beside every output it makes.")
    st.session_state["selected_model"] = choice
    return by_id[choice]


def layer_name(key, card: ModelCard, layer: str) -> str:
    """The explained layer as Diagnose's layer box names it ("both networks, last block"), for captions."""
    choices = layer_choices(caching.cached_classifier(key).layers(), card.explain_layer, network_names(card.training))
    return layer_label(layer, choices)


def upload_limit_note(kinds: str = "") -> None:
    """Say the core's limit under the page's upload box (`kinds`: the accepted types, e.g. "ZIP", which the
    widget's own line named too): the widget lets larger files through (so that they get the core's
    sentence) and would otherwise print its own, larger figure ("200MB per file")."""
    words = f"Up to {UPLOAD_LIMIT_MB} MB per file" + (f" \u2022 {kinds}" if kinds else "")
    st.html(f"""<style>
[data-testid="stFileUploaderDropzoneInstructions"] > div > span {{font-size: 0;}}
[data-testid="stFileUploaderDropzoneInstructions"] > div > span::after {{content: "{words}"; font-size: 0.875rem;}}
</style>""")


def uploader(key: str, label: str = "Chest radiograph", keep: bool = False):
    """The upload widget. It accepts any file type: DICOM exports often have no extension ("IM000001"), and
    `model.inputs.intake` recognises the format from the content and refuses anything else with one sentence.
    With `keep`, a change (a new file or its removal) updates the session's kept upload (see `read_upload`)."""
    upload_limit_note()
    return st.file_uploader(label, type=None, key=key, help=UPLOAD_HELP, max_upload_size=WIDGET_LIMIT_MB,
                            on_change=_remember_upload if keep else None, args=(key,) if keep else None)


def read_chosen_dataset(choice, roots):
    """(resolved path, records inside the configured roots, how many the manifest names outside them)
    of a dataset picked from `model.labelled_data.find_datasets`, or None after one error line when it cannot
    be read."""
    try:
        path = resolve_in_roots(choice, roots)
        return (path, *records_within(read_dataset(path, keep_unknown=True), roots))
    except DataPathError as exc:
        st.error(str(exc))
    except (OSError, ValueError) as exc:
        st.error(f"The labelled data could not be read: {' '.join(str(exc).split())}")
    return None


def figures_as_text(table: pd.DataFrame, formats: dict[str, str], labels: dict[str, str] | None = None,
                    missing: str = "–", helps: dict[str, str] | None = None) -> tuple[pd.DataFrame, dict]:
    """`table` with each column of `formats` ({column: format, e.g. "{:.0%}"}) written out as text, a missing
    value as `missing`, and the `st.dataframe` column config that keeps those columns right-aligned as numbers
    are (`labels` renames columns, formatted or not; `helps` gives a formatted column its header's tooltip).

    `st.dataframe` shows a missing value as "None" whatever a pandas Styler's `na_rep` says (Streamlit 1.67,
    checked in the browser), so the figures go to the table as the text they are printed as; such a column
    sorts as text, which these short tables can bear."""
    shown, labels = table.copy(), labels or {}
    config = {name: st.column_config.Column(label) for name, label in labels.items() if name in table.columns}
    for column, form in formats.items():
        if column in table.columns:
            shown[column] = [missing if pd.isna(value) else form.format(value) for value in table[column]]
            config[column] = st.column_config.TextColumn(labels.get(column), alignment="right",
                                                         help=(helps or {}).get(column))
    return shown, config
