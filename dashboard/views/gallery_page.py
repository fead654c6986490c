"""Case gallery: labelled images read by one model, with the map of each answer, for teaching.

It teaches honestly: by default only images the selected model never trained on (its test split
and sources outside its training data, re-made from its card), each case labelled with its split
and source; labels outside the model's classes are explained, not counted as errors. The data it
reads are set by configuration only (`CXR_DATA` roots); there is no free path box.

The source and label filters choose the images before the sample is drawn, so the counts follow
them. Every case read carries the Grad-CAM map of its answer and the share of that map on the lung
fields; the cases can be ordered by confident errors or by that share (lowest first), and "Where
the model cheats" gathers, per source, the confident answers whose map favours what lies outside
the lungs (less on them than a map spread evenly over what the model saw), large enough to project
(a link to `/gallery?view=cheats` opens on it).

A first load reads for a while (each film with its map): the controls come first, the first `FIRST_READ` cases
read are drawn at once (said to be the first read, ordered among themselves) while the rest is read, in
`reading_order` (the labels in turn, so those first cards are a fair mix). The counts, the order and both views
then cover every case read; the Cases view draws its cards a page at a time (`PER_PAGE`), slices of that one
order. "Explain" opens the case in a dialog over the grid, where it was clicked; "Open in Diagnose" hands the
film and what the data say about it to the Diagnose page (`dashboard.widgets.HANDED_UPLOAD`, with a
`model.present.gallery_cases.TeachingCase`).
"""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from dashboard import caching, widgets
from model.explain import method_label
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
from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD, DEFAULT_OPACITY
from model.present.cheating_view import (
    EVEN,
    SHARE_COLUMN,
    card_outside_words,
    cheating_frame,
    cheats_headline,
    cheats_seen_sentence,
    count_cheats,
    group_headings,
    own_level_sentence,
    rule_caption,
)
from model.present.gallery_cases import (
    DATA_ENV,
    FIRST_READ,
    ORDERS,
    SHOW,
    SPLIT_CHOICES,
    SPLIT_HELP,
    SPLIT_NAMES,
    TABLE_SPLITS_HELP,
    TeachingCase,
    card_checks_sentence,
    card_triage_mark,
    cases_table,
    count_cases,
    counts_by,
    dialog_title,
    early_cards_sentence,
    even_level,
    filter_records,
    fit_map,
    gallery_records,
    held_back_words,
    lung_summary,
    misclassified_words,
    outcome_word,
    page_ranges,
    probability_columns,
    read_case,
    reading_order,
    sample_records,
    shown_cases,
)
from model.present.overlay import colour_bar, fit_within, pad_to_square, render_overlay, to_uint8
from model.present.text import (
    answer_level_name,
    checked_status,
    lung_share,
    stability_help,
    stability_line,
)
from model.trust.attention import attention_if_lungs
from model.trust.map_checks import MapChecks

COLUMNS = 4
THUMB_SIDE = 320  # Long side of a card's thumbnail (pixels sent to the browser).
CASE_KEY = "gallery_case"  # The path of the case whose explanation is open.
VIEWS = {"cases": "Cases", "cheats": "Where the model cheats"}
# The view last shown, kept outside the view's widget: Streamlit forgets a widget's value while another page
# is shown, so an educator back from Diagnose would otherwise land on "Cases", not on the view projected.
VIEW_KEPT = "gallery_view_kept"
LIMITS = (4, 8, 12, 24, 48, 100, 200, None)  # Images read per label; None: every matching image.
# Cards drawn a page (None: all on one): drawing is a good part of a first load and of every later run (the order,
# the show and the maps switches draw the grid again), and 24 is six rows to walk through in class.
PER_PAGE = (4, 8, 12, 24, 48, None)
PER_PAGE_KEY, PER_PAGE_KEPT = "gallery_per_page", "gallery_per_page_kept"  # the slider's, and its choice kept
# Short enough to leave room for its "?" in the Definitions popover at 1366 px; the help says the rest.
RATIO_LABEL = "Flagged: lungs under % of an even spread"
PER_SOURCE = 4  # Cases of each source drawn large in the cheating view; the rest behind an expander.
HOW_TO = (f"No labelled data is configured. Set the environment variable `{DATA_ENV}` before starting the "
          f"dashboard (for example `{DATA_ENV}=../shared/data/cxr streamlit run dashboard/app.py`; several "
          "folders separated by ':'), pointing at manifest CSVs or folders with one sub-folder per class "
          "(COVID/, Normal/, Viral Pneumonia/). The gallery reads nothing else on the server.")
STATUS_MARKS = {"uncertain": ("orange", ":material/help:"), "out_of_scope": ("red", ":material/block:")}  # colour, icon


# --------------------------------------------------------------------------- cached reads


@st.cache_data(max_entries=8, show_spinner=False)
def _records(path: str):
    """The dataset's records whose files lie inside the configured roots (a manifest may name others)."""
    return records_within(read_dataset(Path(path), keep_unknown=True), data_roots())[0]


@st.cache_data(max_entries=8, show_spinner=False)
def _pool(path: str, key: caching.ModelKey, split: str):
    """(records of the split choice, {path: split}, note of the split's re-making)."""
    return gallery_records(_records(path), caching.cached_classifier(key).card, split)


@st.cache_data(max_entries=4096, show_spinner=False)
def _read(record, split: str, key: caching.ModelKey, lungs: caching.ModelKey | None):
    """One case read by the model as Diagnose reads it, with its map, lung share and triage (`read_case`),
    or the sentence saying why the image could not be read. One entry per image, so a wider filter reuses what
    was read."""
    segment = caching.cached_lung_segmenter(lungs).mask if lungs is not None else None
    try:
        return read_case(caching.cached_classifier(key), record, split=split, lungs=segment,
                         low_threshold=caching.lung_attention_threshold(key), scope=caching.scope(key))
    except (XrayInputError, OSError) as exc:
        return " ".join(str(exc).split())


@st.cache_data(max_entries=4, show_spinner=False)
def _xray(path: str):
    return load_xray(path)


@st.cache_data(max_entries=512, show_spinner=False)
def _thumbnail(path: str):
    """A small copy of the film."""
    return fit_within(load_xray(path).pixels, THUMB_SIDE)


def read_all(records: list, splits: dict, models: tuple, what: str, slots: tuple) -> tuple[list, int]:
    """Every record read (cached per image) in the order given, `models` the classifier's and the lung model's
    keys; a progress bar in `slots[0]` once it takes a moment, and, when the first `FIRST_READ` took a moment
    and more remain, `slots[1](cases)` draws those while the rest is read.
    Returns (cases, how many images could not be read)."""
    (key, lungs), (place, early) = models, slots
    cases, failed, bar, started = [], 0, None, time.monotonic()
    for done, record in enumerate(records, start=1):
        result = _read(record, splits.get(record.path, ""), key, lungs)
        if isinstance(result, str):
            failed += 1
        else:
            cases.append(result)
        slow = time.monotonic() - started > 0.4
        if bar is None and slow:
            bar = place.progress(0.0)
        if bar is not None and (done % 4 == 0 or done == len(records)):
            bar.progress(done / len(records), text=f"Reading {what}: {done} of {len(records)} images, each with its map…")
        if early is not None and done == FIRST_READ < len(records) and slow:
            early(list(cases))
    place.empty()
    return cases, failed


# --------------------------------------------------------------------------- choices


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
    with st.sidebar:
        choice = st.selectbox("Labelled data", datasets, key="gallery_data", format_func=lambda p: short_name(p, roots))
    try:
        return resolve_in_roots(choice, roots)
    except DataPathError as exc:
        st.error(str(exc), icon=":material/folder_off:")
        return None


# The "All ..." choice of a filter: a string, not None, which Streamlit would take for "nothing chosen".
EVERY = "*every*"


def counted(counts: dict[str, int], everything: str, total: int):
    """Options and their labels for a filter: "All ... (n)" (`EVERY`) then each value with its count."""
    names = {EVERY: f"{everything} ({total:,})"}
    names.update({value: f"{value or 'unknown'} ({n:,})" for value, n in counts.items()})
    return list(names), names.get


def counted_choice(label: str, options: list, format_func, key: str) -> str | None:
    """A filter's select box whose counts follow the data: the chosen value is set again before it is
    drawn, so the closed box shows today's count (Streamlit otherwise keeps the label it drew when the
    counts change under the same choice, e.g. after the model is switched); None for "All"."""
    if st.session_state.get(key) in options:
        st.session_state[key] = st.session_state[key]
    else:
        st.session_state.pop(key, None)  # a value the new data lack: back to "All"
    choice = st.selectbox(label, options, format_func=format_func, key=key)
    return None if choice in (EVERY, None) else choice


def filters(pool: list, labels: tuple) -> tuple[str | None, str | None, int | None]:
    """Source, true label and the images read per label (side panel); each count follows the filters above it."""
    sources, source_name = counted(counts_by(pool, "source"), "All sources", len(pool))
    source = counted_choice("Source", sources, source_name, "gallery_source")
    of_source = filter_records(pool, source=source)
    label_counts = counts_by(of_source, "label")
    ordered = dict(sorted(label_counts.items(), key=lambda item: (item[0] not in labels, item[0])))
    label_options, label_name = counted(ordered, "All labels", len(of_source))
    label = counted_choice("True label", label_options, label_name, "gallery_label")
    limit = st.select_slider("Images read per label", LIMITS, value=24, key="gallery_limit",
                             format_func=lambda n: "all" if n is None else str(n),
                             help="A sample of the matching images, the same for the same choice; a narrower "
                                  "choice keeps the films of the wider one that match it. Each is read with "
                                  "its map (a few hundredths of a second each here).")
    return source, label, limit


def cards_a_page() -> int | None:
    """How many cards a page shows (side panel, drawn on the Cases view only: the other view has no pages); None:
    every card on one page. The choice is kept (`PER_PAGE_KEPT`) while the slider is not drawn."""
    if PER_PAGE_KEY not in st.session_state:  # back from the cheats view: Streamlit dropped the slider's value
        st.session_state[PER_PAGE_KEY] = st.session_state.get(PER_PAGE_KEPT, 24)
    per_page = st.select_slider("Cards a page", PER_PAGE, key=PER_PAGE_KEY,
                                format_func=lambda n: "all" if n is None else str(n),
                                help="The cards read are shown a page at a time, in the chosen order over all of "
                                     "them; the counts above the cards always cover every image read.")
    st.session_state[PER_PAGE_KEPT] = per_page
    return per_page


# --------------------------------------------------------------------------- one case


def outcome(case) -> str:
    colour = "blue" if not case.known else "green" if case.correct else "red"
    return f":{colour}[{outcome_word(case)}]"


def case_verdict(case) -> str:
    """What the model made of the film: its answer and outcome, or, held back as out of scope, its output for
    reference only (`held_back_words`)."""
    if case.held_back:
        return held_back_words(case)
    return f"said **{case.predicted}** {case.confidence:.1%} · {outcome(case)}"


def lung_part(case) -> str:
    """The share of the case's map on the lungs; orange only below the model's warning level (its own, or the default)
    (`case.lung_low`), where Diagnose and Compare warn too, not merely under an even spread; "" without one."""
    if case.lung_share is None:
        return ""
    text = f"map **{lung_share(case.lung_share)}** on the lungs"
    # Said, not only coloured: Diagnose puts "read the map with care" in the status for the same share.
    return f":orange[{text}, under the warning level]" if case.lung_low else text


def where_else(case, even_ratio: float = EVEN) -> str:
    """For a map that favours what lies outside the lungs by the view's rule (`even_ratio` of an even spread), its
    film's even spread and where the rest lies (or why there is no share), else ""."""
    return case.map_note if case.lung_share is None else card_outside_words(case, even_ratio)


def thumbnail(case, with_map: bool):
    """The card's picture: the small film, with the case's map over it (the gallery's legend) when asked."""
    pixels = _thumbnail(case.path)
    if not with_map or case.heat is None:
        return pad_to_square(to_uint8(pixels))
    return pad_to_square(render_overlay(pixels, fit_map(case.heat, pixels.shape), DEFAULT_OPACITY, DEFAULT_COLORMAP,
                                        DEFAULT_MAP_THRESHOLD))


def status_mark(case) -> str:
    """The card's triage mark in the core's words (`card_triage_mark`: "Triage: second read advised (unusual
    anatomy for this model)"), coloured as Diagnose's badge; "" for a plain answer."""
    mark = card_triage_mark(case)
    if not mark:
        return ""
    colour, icon = STATUS_MARKS[case.triage.status]
    return f":{colour}[{icon} {mark}]"


def open_case(path: str) -> None:
    st.session_state[CASE_KEY] = path


def close_case() -> None:
    st.session_state.pop(CASE_KEY, None)


def hand_to_diagnose(case, card) -> None:
    """Put the film and what the data say about it where the Diagnose page reads them, and go there."""
    data = Path(case.path).read_bytes()
    teaching = TeachingCase.from_case(case, caching.digest(data), card.id)
    st.session_state[widgets.HANDED_UPLOAD] = {"name": teaching.file_name, "data": data, "case": teaching.to_dict()}
    close_case()
    st.switch_page(widgets.PAGES["diagnose"])


def case_details(case, key, card) -> None:
    """The opened case, large: original, Grad-CAM overlay with the Diagnose threshold and its colour
    bar, probabilities, triage and lung attention, and the way to Diagnose."""
    try:
        xray = _xray(case.path)
    except XrayInputError as exc:
        st.error(str(exc))
        return
    pixels = xray.pixels
    digest = caching.digest(b"file:" + case.path.encode())  # A file of the data pool: its path names it.
    explanation, on_image = caching.explanation(digest, key, "gradcam", case.predicted, card.explain_layer, pixels)
    facts, actions = st.columns([2.2, 1], vertical_alignment="center")
    facts.markdown(f"True **{case.label}** · {case_verdict(case)} · {SPLIT_NAMES.get(case.split, case.split)} · "
                   f"source `{case.source or 'unknown'}`")
    # The buttons on the dialog's first line: below the film they fell off a 768-pixel screen.
    with actions.container(horizontal=True, horizontal_alignment="right"):
        if st.button("Open in Diagnose", key="open_in_diagnose", icon=":material/radiology:", type="primary",
                     help="The film goes to the Diagnose page as a teaching case: its true label, source and split, "
                          "and what this model answered, shown above the result."):
            hand_to_diagnose(case, card)
        if st.button("Close", key="close_case", icon=":material/close:"):
            close_case()
            st.rerun()
    if not case.known:
        st.caption(f"'{case.label}' is not one of this model's classes ({', '.join(card.labels)}): it can only "
                   "force such a film into one of them, so this is not counted as an error.")
    lungs, reason = caching.lung_status(card.prep.lung_model)
    result = caching.triage(digest, key, lungs, pixels, xray.metadata)
    attention = None
    if lungs is not None:  # as Diagnose: no share without plausible lungs, and its chance level too
        attention, why = attention_if_lungs(on_image, caching.lung_mask(digest, lungs, pixels),
                                            caching.lung_attention_threshold(key),
                                            caching.model_input(digest, key, pixels).region, caching.own_levels(key))
        reason = why or reason
    # The status as Diagnose words it before its on-request checks (assumptions and map cautions included),
    # across the dialog: in the details column its length pushed the buttons off a 768-pixel screen.
    # The dialog shows every film's output for teaching: an out-of-scope film's is said to be for reference only.
    final, line = checked_status(result, MapChecks(attention=attention), method_label("gradcam"),
                                 shown_anyway=not result.shows_answer, made_where="on Diagnose")
    st.markdown(f"**Triage:** {line}")
    for why in final.reasons:
        st.caption(why)
    original, overlay, details = st.columns([1, 1, 1], gap="medium")
    original.image(to_uint8(fit_within(pixels, 640)), caption="Original", width="stretch")
    shown = render_overlay(fit_within(pixels, 640), fit_map(on_image, fit_within(pixels, 640).shape),
                           DEFAULT_OPACITY, DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD)
    overlay.image(shown, width="stretch",  # the layer as Diagnose names it
                  caption=f"Grad-CAM for {explanation.label}, {widgets.layer_name(key, card, explanation.layer)}")
    overlay.image(colour_bar(DEFAULT_COLORMAP, threshold=DEFAULT_MAP_THRESHOLD), width="stretch",
                  caption=f"weak → strong evidence; below {DEFAULT_MAP_THRESHOLD:.0%} not coloured, as on Diagnose")
    with details:
        st.dataframe({"probability": {label: f"{p:.1%}" for label, p in case.probabilities.items()}},
                     width="stretch")
        tta = caching.uncertainty(digest, key, pixels)
        st.caption(f"{stability_line(tta)}.", help=stability_help(tta))  # Diagnose's words: "Stable: moves ..."
        if attention is not None:
            st.metric("Map inside the lung fields", lung_share(attention.fraction),
                      help="Share of the whole map's weight on the lung fields, faint parts included: the colours "
                           "show only its strongest half, so the picture can look further off the lungs.")
            if attention.low:
                st.caption(f":orange[:material/report: {attention.warning}]")
        else:
            st.caption(f":material/block: {reason}")


def case_dialog(case, key, card) -> None:
    """The case over the grid, where the reader clicked (a dialog): closing it clears the choice."""
    st.dialog(dialog_title(case), width="large", on_dismiss=close_case)(case_details)(case, key, card)


# --------------------------------------------------------------------------- the grid and the views


def legend(with_map: bool) -> None:
    """The one colour bar of every thumbnail on the page."""
    if not with_map:
        return
    bar, words = st.columns([1, 3], vertical_alignment="center")
    bar.image(colour_bar(DEFAULT_COLORMAP, threshold=DEFAULT_MAP_THRESHOLD), width="stretch")
    words.caption(f"Thumbnails: Grad-CAM of the class each film was called, weak → strong evidence, below "
                  f"{DEFAULT_MAP_THRESHOLD:.0%} not coloured; each map is scaled to its own maximum.")


def case_card(case, with_map: bool, key_prefix: str = "explain", even_ratio: float = EVEN) -> None:
    """One card, marked with the film's triage (`Case.triage`) as its dialog and Diagnose mark it; `even_ratio` is
    the view's rule (`where_else`)."""
    with st.container(border=True):
        try:
            picture = thumbnail(case, with_map)
        except XrayInputError:
            st.caption("This image can no longer be read.")
            return
        st.image(picture, width="stretch")
        # a film held back as out of scope got no answer: its output is said as one for reference only
        said = "" if case.held_back else f" · said **{case.predicted}** {case.confidence:.1%}"
        verdict = case_verdict(case) if case.held_back else outcome(case)
        st.markdown(f"True **{case.label}**{said}  \n" + " · ".join(part for part in (verdict, lung_part(case)) if part))
        st.caption(" · ".join(part for part in (where_else(case, even_ratio), SPLIT_NAMES.get(case.split, case.split),
                                                case.source or "unknown source", status_mark(case)) if part))
        # A callback, so the chosen case is known before the dialog is drawn.
        st.button("Explain", key=f"{key_prefix}_{case.path}", icon=":material/visibility:", width="stretch",
                  on_click=open_case, args=(case.path,))


def case_grid(cases, with_map: bool, key_prefix: str = "explain", even_ratio: float = EVEN) -> None:
    for start in range(0, len(cases), COLUMNS):
        for column, case in zip(st.columns(COLUMNS, gap="small"), cases[start:start + COLUMNS]):
            with column:
                case_card(case, with_map, key_prefix, even_ratio)


def summary_line(counts, source, label, limit, show: str, level_name: str, warning: tuple[float, bool]) -> str:
    """The line above the cards; `level_name` names the answer level counted from (`text.answer_level_name`),
    `warning` is the model's lung-attention warning level and whether it is its own (`lung_summary`)."""
    chosen = " and ".join(part for part in (f"source `{source or 'unknown'}`" if source is not None else "",
                                            f"label {label}" if label is not None else "") if part)
    line = (f"**{counts.matching:,}** of {counts.pool:,} images" + (f" match {chosen}" if chosen else "")
            + f"; the model read **{counts.read}**" + ("" if limit is None else f" (up to {limit} per label)"))
    errors = misclassified_words(counts, level_name)
    line += (f": {errors}" if errors else "") + "." + lung_summary(counts, *warning)
    if counts.unknown:
        line += (f" {counts.unknown} carry labels outside its classes ({', '.join(counts.unknown_labels)}): shown "
                 "with what it called them, not counted as errors.")
    if counts.unreadable:
        line += f" {counts.unreadable} could not be read."
    return line + f" Showing **{counts.shown}** ({SHOW[show].lower()})."


def cases_controls(bar, lungs_reason: str) -> tuple[str, str, bool]:
    """The Cases view's switches in `bar`, the three columns beside the view's switch, drawn before any image is
    read: (what to show, the order, whether the maps are drawn)."""
    show_col, order_col, map_col = bar
    show = show_col.segmented_control("Show", list(SHOW), format_func=SHOW.get, default="all", key="gallery_show",
                                      required=True, label_visibility="collapsed") or "all"
    orders = [o for o in ORDERS if o != "lungs" or not lungs_reason]
    order = order_col.selectbox("Order", orders, format_func=ORDERS.get, key="gallery_order", label_visibility="collapsed",
                                help=None if not lungs_reason else f"No order by the map's place: {lungs_reason}")
    with_map = map_col.toggle("Maps", value=True, key="gallery_maps",
                              help="Each film's Grad-CAM map over its thumbnail (the colour bar below); off: the films alone.")
    return show, order if order in orders else "errors", with_map


def early_cards(slot, look: tuple[str, str, bool]):
    """What draws the first cases read into `slot` while the rest is read (`read_all`), said as what they are:
    a part of the sample, ordered among themselves; `look` is the Cases view's (show, order, maps)."""
    show, order, with_map = look

    def draw(cases: list) -> None:
        shown = shown_cases(cases, show, order)
        with slot.container():
            st.markdown(early_cards_sentence(len(cases), None if show == "all" else len(shown), order))
            legend(with_map)
            case_grid(shown, with_map, "early")
    return draw


def pager(total: int, per_page: int | None, signature: str) -> tuple[int, int]:
    """The (start, stop) of the page of cards to draw, of `total` in the chosen order, with a switch above the grid
    when there are several pages. `signature` says which cards these are (filters, show, order, model, page
    size) and `total` is part of the key too: another set (another split or data, whose cards the signature does
    not name) starts on its first page, never on a page number it does not have."""
    ranges = page_ranges(total, per_page)
    if len(ranges) == 1:
        return ranges[0]
    names = {i: f"{start + 1}–{stop}" for i, (start, stop) in enumerate(ranges)}
    label, key = f"Cards of the {total}, in this order", f"gallery_page:{signature}|{total}"
    with st.container(horizontal=True, vertical_alignment="center"):
        if len(ranges) <= 10:
            index = st.segmented_control(label, list(names), format_func=names.get, default=0, required=True, key=key,
                                         label_visibility="collapsed")
        else:  # a row of many buttons would wrap: a list
            index = st.selectbox(label, list(names), format_func=names.get, key=key, label_visibility="collapsed",
                                 width=160)
        st.caption(f"cards of the {total}, in this order")
    return ranges[index or 0]


def cases_view(cases, sizes: tuple[int, int, int], chosen: tuple, lungs_reason: str, look: tuple, key) -> None:
    """The cards, filtered and ordered, under the summary line, a page at a time; `sizes` is (pool, matching,
    unreadable), `chosen` the side panel's (source, label, limit per label, cards a page), `look` the view's
    switches (`cases_controls`), `key` the model's (its answer and warning levels, its own or the default)."""
    source, label, limit, per_page = chosen
    show, order, with_map = look
    level, own = caching.answer_level(key), caching.own_levels(key)
    warning = (caching.lung_attention_threshold(key), own)
    shown = shown_cases(cases, show, order)
    pool, matching, unreadable = sizes
    st.markdown(summary_line(count_cases(pool, matching, cases, len(shown), unreadable, confident=level), source,
                             label, limit, show, answer_level_name(level, own), warning))
    if lungs_reason:
        st.caption(f":material/block: Share of each map on the lungs not measured: {lungs_reason}")
    legend(with_map)
    st.caption(card_checks_sentence(answer_level_name(level, own), not lungs_reason, own and not lungs_reason))
    start, stop = pager(len(shown), per_page, f"{key.model_id}|{source}|{label}|{limit}|{show}|{order}|{per_page}")
    case_grid(shown[start:stop], with_map)
    if stop - start < len(shown):
        st.caption(f"Cards {start + 1}–{stop} of {len(shown)}; the others on the pages above the cards.")
    with st.expander("All cases read, as a table"):
        cases_table_view(cases)


def cases_table_view(cases) -> None:
    """Every case read, confident errors first, as the core lays the table out (`cases_table`): short headers whose
    help says the rest, percentages printed as the cards print them, so every column fits at 1920 px and all but
    the file's at 1366 px."""
    shown = shown_cases(cases, "all", "errors")
    frame = cases_table(shown)
    percent = {"format": "%.1f%%"}
    config = {"true": st.column_config.TextColumn(help="The film's label in the data."),
              "said": st.column_config.TextColumn(help="The class the model answered."),
              "confidence": st.column_config.NumberColumn(help="Its probability for that answer.", width=72, **percent),
              "on the lungs": st.column_config.NumberColumn(help="Share of the map of its answer on the lung fields "
                                                               "(blank: not measured).", width=84, **percent),
              "split": st.column_config.TextColumn(help=TABLE_SPLITS_HELP),
              "file": st.column_config.TextColumn(help="The film's file name: with its source, it names the film "
                                                       "without the server's path to it."),
              **{column: st.column_config.NumberColumn(help=f"The model's probability for {label}.", **percent)
                 for column, label in probability_columns(shown).items()}}
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def thresholds(level: float) -> tuple[float, float]:
    """The cheats view's definitions: confident from the model's answer level (its own, or the default) `level`, and
    the rule's share of an even spread (`cheating_view.favours_outside`)."""
    with st.popover("Definitions", icon=":material/tune:"):
        # Keyed by the level, so a model with another answer level starts at its own, not the last one's.
        confident = st.slider("Confident from", 0.5, 0.995, float(level), 0.005, key=f"cheat_confident_{level:.4f}",
                              format="percent",
                              help="An answer at or above this probability counts as confident; it starts at the "
                                   "level Diagnose answers alone from (the model's own, or the default for a model "
                                   "without a scope check).")
        ratio = st.slider(RATIO_LABEL, 0.25, 1.0, EVEN,
                          0.05, key="cheat_even", format="percent",
                          help="A map is flagged (it favours what lies outside the lungs) when it puts less on "
                               "them than this share of what an even spread would put there. An even spread is a "
                               "map spread evenly over what the model saw: it puts on each film's lungs their share "
                               "of that area. At 100% every map that puts less there is counted; lower counts only "
                               "the maps further off the lungs.")
    return confident, ratio


def cheats_view(cases, lungs_reason: str, card, definitions: tuple[float, float], key) -> None:
    """Per source, the confident answers whose map favours what lies outside the lungs: big enough to project.
    `definitions` is (confident from, share of an even spread below which a map counts), set in the row of
    controls (`thresholds`)."""
    if lungs_reason:
        st.info(f"This view needs the share of each map on the lungs, which is not available: {lungs_reason}",
                icon=":material/block:")
        return
    level, own = caching.answer_level(key), caching.own_levels(key)
    confident, ratio = definitions
    counts = count_cheats(cases, confident, ratio, caching.lung_attention_threshold(key))
    total, cheats, missing = counts.confident, counts.flagged, counts.left_out
    # "unusually so for this model" only of the model's own level; a default level is said by the line below
    headline = cheats_headline(counts, confident, card.display_name, bool(card.prep.lung_mask), own, ratio)
    if total and not cheats:  # the all-clear, once, in green
        st.success(headline, icon=":material/check_circle:")
    else:
        st.markdown("#### " + headline)
    if total and cheats:
        st.markdown(own_level_sentence(counts, own))
    seen = cheats_seen_sentence(card.prep.lung_mask, card.prep.mask_channel)
    st.caption(f"{rule_caption(confident, ratio, even_level(cases), missing)} {seen} {len(cases)} films read, as "
               "chosen in the side panel.")
    if not total:
        return
    table = cheating_frame(counts.groups)
    table[SHARE_COLUMN] *= 100.0
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={SHARE_COLUMN: st.column_config.ProgressColumn(SHARE_COLUMN, format="%.0f%%",
                                                                              min_value=0.0, max_value=100.0)})
    if not cheats:  # no cards: no legend for them
        return
    legend(True)
    # the cards' marks, said as the Cases view says them
    st.caption(card_checks_sentence(answer_level_name(level, own), not lungs_reason, own and not lungs_reason))
    for group, heading in group_headings(counts, ratio, own):
        st.markdown("##### " + heading)
        case_grid(list(group.cases[:PER_SOURCE]), True, f"cheat_{group.source}", ratio)
        if group.outside > PER_SOURCE:
            with st.expander(f"The other {group.outside - PER_SOURCE} of {group.source}"):
                case_grid(list(group.cases[PER_SOURCE:]), True, f"cheat_more_{group.source}", ratio)


def view_switch(column) -> str:
    """The view's switch: a deep link's `?view=` first, else the view last shown on this page (`VIEW_KEPT`, so
    that coming back from Diagnose by the side menu finds the view the educator was projecting); the choice is
    kept and written into the address, so a reload or a copied link opens on it too."""
    linked = st.query_params.get("view")
    start = linked if linked in VIEWS else st.session_state.get(VIEW_KEPT, "cases")
    view = column.segmented_control("View", list(VIEWS), format_func=VIEWS.get, key="gallery_view", required=True,
                                    default=start, label_visibility="collapsed") or "cases"
    st.session_state[VIEW_KEPT] = view
    if view == "cheats":
        st.query_params["view"] = "cheats"
    elif "view" in st.query_params:
        del st.query_params["view"]
    return view


def main() -> None:
    cards = widgets.page_start("Case gallery",
                               "Labelled films the model never trained on, each with the map of its answer: confident "
                               "errors, maps that miss the lungs, and where the model cheats.")
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
    with st.sidebar:
        card = widgets.model_picker(cards, key="gallery_model")
    key = caching.model_key(card.id)
    if caching.classifier(key) is None:
        return
    with st.sidebar:
        split = st.selectbox("Images", list(SPLIT_CHOICES), format_func=SPLIT_CHOICES.get, key="gallery_split",
                             help=SPLIT_HELP)
        pool, splits, note = _pool(str(path), key, split)
        source, label, limit = filters(pool, tuple(card.labels))
    if note:
        st.caption(f":orange[:material/report: {note}]")
    if split == "train":
        st.warning("These are images the model trained on: its errors here are rare and say little about new films.",
                   icon=":material/school:")
    matching = filter_records(pool, source=source, label=label)
    wanted = sample_records(matching, limit, seed=0)
    lungs, lungs_reason = caching.lung_status(card.prep.lung_model)
    # The controls first, then the cards as they are read: the page is usable before the last image is read.
    bar = st.columns([2.3, 2.1, 2.1, 1.5], vertical_alignment="center")
    view = view_switch(bar[0])
    look = definitions = None
    if view == "cheats":
        if not lungs_reason:
            with bar[-1]:
                definitions = thresholds(caching.answer_level(key))
    else:
        look = cases_controls(bar[1:], lungs_reason)
        with st.sidebar:  # last in the side panel, as before: only this view has pages
            per_page = cards_a_page()
    place, early = st.empty(), st.empty()
    cases, failed = read_all(reading_order(wanted), splits, (key, lungs), card.display_name,
                             (place, early_cards(early, look) if look else None))
    early.empty()
    if view == "cheats":
        cheats_view(cases, lungs_reason, card, definitions, key)
    else:
        cases_view(cases, (len(pool), len(matching), failed), (source, label, limit, per_page), lungs_reason, look,
                   key)
        st.caption(f"Images: {SPLIT_CHOICES[split].lower()}; each case says which part of {card.display_name}'s split "
                   "it is in.")
    if failed and view == "cheats":
        st.caption(f"{failed} images could not be read.")
    chosen = next((c for c in cases if c.path == st.session_state.get(CASE_KEY)), None)
    if chosen is not None:
        case_dialog(chosen, key, card)


main()
