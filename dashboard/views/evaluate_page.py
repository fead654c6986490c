"""Evaluate on your data: several versions scored on the same labelled images (a folder under the
configured data roots or an uploaded ZIP), figures with bootstrap intervals side by side, ROC
curves overlaid, where the versions disagree (with their maps), and downloads a team can use:
every image's predictions (CSV and JSON, images named relative to their data folder) and the
figures with their intervals in a tidy CSV.

The ZIP is read in memory (`model.archive.read_labelled_zip`), never written to disk; its images are
matched by their bytes to the server's labelled films and each version's split (`model.data_overlap`),
so the ones a version trained on can be left out; the computing
is `model.evaluation.evaluate_models`, the wording `model.present.evaluation_tables`, the files
`model.present.evaluation_exports`.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import caching, long_runs, seen_film, widgets
from model.archive import MAX_MEMBERS, MAX_TOTAL_BYTES, ArchiveError, read_labelled_zip
from model.data_overlap import (
    VersionOverlap,
    data_overlap,
    matched_sources,
    readable_digests,
    recognised,
    trained_on_any,
    with_matched_sources,
)
from model.inputs.intake import MEGABYTE, XrayInputError
from model.known_films import FilmIndex
from model.labelled_data import (
    DATA_ENV,
    data_roots,
    datasets_version,
    find_datasets,
    short_name,
)
from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD
from model.present import charts, text
from model.present.comparison import ids_note, named_report, version_names
from model.present.evaluation_exports import export_json, figures_frame, predictions_frame
from model.present.evaluation_tables import (
    ROUNDING_NOTE,
    SCOPE_HELP,
    SCOPE_LABELS,
    SCOPE_WORDS,
    SOURCE_FIGURES,
    TABLE_TRIAGE_NOTE,
    TOO_FEW_NOTE,
    ZIP_CAVEAT,
    accounting_sentence,
    comparison_sentence,
    comparison_table,
    disagreement_caption,
    disagreement_table,
    matched_source_sentence,
    overlap_sentence,
    overlap_table,
    per_source_table,
    roc_withheld_note,
    scope_sentence,
    section_notes,
    selection_sentence,
    short_names_note,
    summary_table,
    unknown_labels_table,
    zip_caveat,
    zip_scope,
)
from model.present.gallery_cases import sample_records
from model.present.glossary import explained
from model.present.overlay import SCALE_NOTE, colour_bar_caption, render_overlay, to_uint8
from model.present.registry_tables import default_selection
from model.present.shortcut_tables import PAIR_SCORE
from model.splits import common_records

RESULTS = "evaluate_results"  # this session's results by settings (a ZIP's results stay in its session)
LAST = "evaluate_last"  # the settings of the last result, shown while the current ones have none
RUN = "evaluate_run"
FOLDER, UPLOAD = "A data folder on this server", "A ZIP of labelled images"
UPLOADED = "the uploaded ZIP"  # what the page calls it: its file name can carry a patient's name
SCOPES = SCOPE_LABELS  # the same choices as Compare
PER_LABEL = {"25 per label": 25, "50 per label": 50, "100 per label": 100, "200 per label": 200, "All images": None}
CASES_SHOWN = 4
MATRICES_PER_ROW = 3  # confusion matrices side by side: three keep their titles whole at 1366 px
PLOT_CONFIG = {"displaylogo": False}
NO_ROOTS = (f"No data folder is configured on this server. Set `{DATA_ENV}` (one or more folders separated by "
            f"'{os.pathsep}') before starting the dashboard, or upload a ZIP.")
ZIP_HELP = (f"A ZIP with one folder per class (COVID/, Normal/, Pneumonia/; other folder names such as Tuberculosis/ "
            f"are reported as labels the models do not know) or with a manifest.csv (columns file, label, optionally "
            f"source and patient_id). Up to {widgets.UPLOAD_LIMIT_MB} MB, {MAX_MEMBERS:,} files and "
            f"{MAX_TOTAL_BYTES // MEGABYTE} MB uncompressed; read in memory and never stored.")


@dataclass(frozen=True)
class Choice:
    """What is to be scored: the records, how to read them (None: from disk), the folder their ids are
    relative to (None: a ZIP's own names), what to call them in the export (never an uploaded file's own
    name: it can carry a patient's), how they were chosen, the scope's wording for the report, the settings
    that make them and the caveat the figures rest on ("" for none): with the versions' ids for the export,
    and with their names for the page; how many of the records are known not to be readable images (scored
    as the others are, so that the report lists them with their reason)."""

    records: list
    loader: Callable | None
    root: Path | None
    name: str
    selection: str
    scope: str
    settings: tuple
    caveat: str = ""
    shown_caveat: str = ""
    unreadable: int = 0  # of the records, found unreadable before scoring (an uploaded ZIP's)


def folder_choice(cards_by_id: dict, chosen: list[str]) -> Choice | None:
    """A dataset found under the configured roots, with the folder-only controls (which images, how many)."""
    roots = data_roots()
    if not roots:
        st.info(NO_ROOTS, icon=":material/settings:")
        return None
    datasets = find_datasets(roots)
    if not datasets:
        st.info(f"No manifest CSV or folder per class was found under the configured data folders ({DATA_ENV}).")
        return None
    controls = st.columns([3, 3, 2])
    choice = controls[0].selectbox("Labelled data", datasets, format_func=lambda p: short_name(p, roots),
                                   key="evaluate_data")
    scope = controls[1].selectbox("Images", list(SCOPES), format_func=SCOPES.get, key="evaluate_scope",
                                  help="Images a version trained on flatter it; by default they are left out "
                                       f"(from each version's recorded split).  \n{SCOPE_HELP}")
    per_label = controls[2].selectbox("How many", list(PER_LABEL), index=2, key="evaluate_limit",
                                      help="A sample per label keeps large folders quick; the same sample every time.")
    read = widgets.read_chosen_dataset(choice, roots)
    if read is None:
        return None
    path, records, outside = read
    if outside:
        st.caption(f"{outside} image(s) named by the manifest lie outside the configured data folders and are left out.")
    eligible, notes = common_records(records, [cards_by_id[m] for m in chosen], scope)
    for note in notes:
        st.caption(f":orange[:material/report: {note}]")
    sampled = sample_records(eligible, PER_LABEL[per_label], seed=0)
    name = short_name(path, roots)
    selection = selection_sentence(name, len(records), len(eligible), len(sampled), scope,
                                   PER_LABEL[per_label])
    scope_words = SCOPE_WORDS[scope] + ("" if PER_LABEL[per_label] is None else f", {per_label}")
    return Choice(sampled, None, path if path.is_dir() else path.parent, name, selection, scope_words,
                  (str(path), scope, per_label))


def labelled_films() -> FilmIndex | None:
    """The labelled films under the configured data roots (cached as Diagnose and Compare cache them), or None
    without data roots: then nothing can be matched."""
    return seen_film.labelled_index("Looking the images up among the labelled films…")


def zip_overlap(archive, zip_digest: str, cards: list) -> tuple[list[VersionOverlap] | None, dict[str, str]]:
    """Where each chosen version's data put the ZIP's readable images, matched by their bytes, drawn as a sentence
    and a table, and the source each matched film's record names ({member: source}). (None, {}) when there are no
    labelled films to match against. Cached per ZIP, versions and data version: every redraw of the page (the
    leave-out box, the resamples) would hash every image of the ZIP again."""
    index = labelled_films()
    if index is None:
        return None, {}
    versions = tuple((card.id, card.version) for card in cards)
    digests = zip_readable(zip_digest, archive)
    return _overlaps(zip_digest, versions, datasets_version(data_roots()), digests, cards, index)


@st.cache_data(max_entries=4, show_spinner="Reading the ZIP's images…")
def zip_readable(zip_digest: str, _archive) -> dict[str, str]:
    """`readable_digests` of the ZIP's images (a file nobody can read is never scored), keyed by the ZIP's digest:
    read once for the matching and for the count said before scoring."""
    return readable_digests(_archive.records, _archive.load)


@st.cache_data(max_entries=4, show_spinner=False)
def _overlaps(zip_digest: str, versions: tuple, data_version: str, _digests: dict[str, str], _cards,
              _index) -> tuple[list[VersionOverlap], dict[str, str]]:
    """`data_overlap` and `matched_sources` of the ZIP's readable images (`zip_readable`), keyed by what they
    depend on (the underscored arguments are not hashed: the images by the ZIP's digest, the cards by their ids
    and versions, the index by the data's version)."""
    return data_overlap(_cards, _digests, _index), matched_sources(_digests, _index)


def named_overlaps(overlaps: list[VersionOverlap] | None, names: dict[str, str]) -> list[VersionOverlap] | None:
    """The overlaps with each version named as the page names it (`version_names`), for its sentences and tables."""
    return None if overlaps is None else [replace(o, model_id=names.get(o.model_id, o.model_id)) for o in overlaps]


def overlap_section(overlaps: list[VersionOverlap] | None) -> bool:
    """What matching found, per version (named: `named_overlaps`); returns whether the images a version trained
    on are to be left out (a box, ticked by default, shown only when there are such images)."""
    if overlaps is None:
        st.caption(f":orange[:material/report: {ZIP_CAVEAT}]")
        return False
    trained = trained_on_any(overlaps)
    leave = bool(trained) and st.checkbox(
        f"Leave out the {len(trained):,} image{'' if len(trained) == 1 else 's'} a chosen version trained on", value=True,
        key="evaluate_leave_trained",
        help="A version scores well on the films it learnt from: figures on them are no fair test of it.")
    st.markdown(overlap_sentence(overlaps, leave))
    if recognised(overlaps):
        table = overlap_table(overlaps)
        st.dataframe(table, hide_index=True, width="stretch", height=38 + 35 * len(table))
    return leave


def zip_choice(cards: list, names: dict[str, str]) -> Choice | None:
    """An uploaded ZIP: every readable image in it (no folder controls: they mean nothing for a ZIP), less the
    ones a chosen version trained on when they are recognised and the reader leaves them out. Called "the
    uploaded ZIP" and, in the export, by the start of its SHA-256 digest (to tell runs apart): never by its
    file name, which can carry a patient's name (Diagnose never shows or stores an upload's name either)."""
    widgets.upload_limit_note("ZIP")
    uploaded = st.file_uploader("ZIP of labelled images", type=["zip"], key="evaluate_zip", help=ZIP_HELP,
                                max_upload_size=widgets.WIDGET_LIMIT_MB)
    if uploaded is None:
        st.info("Upload a ZIP with one folder per class or a manifest.csv.", icon=":material/upload_file:")
        return None
    try:
        archive = read_labelled_zip(uploaded.getvalue())
    except ArchiveError as exc:
        st.error(str(exc), icon=":material/folder_zip:")
        return None
    if archive.skipped:
        with st.expander(f"{len(archive.skipped)} file(s) in the ZIP were skipped"):
            reasons(archive.skipped)
    zip_digest = caching.digest(uploaded.getvalue())
    overlaps, sources = zip_overlap(archive, zip_digest, cards)
    leave = overlap_section(named_overlaps(overlaps, names))
    trained = trained_on_any(overlaps or []) if leave else set()
    records, sourced = with_matched_sources([record for record in archive.records if record.path not in trained],
                                            sources)
    if sourced:
        st.caption(matched_source_sentence(sourced))
    unreadable = len(archive.records) - len(zip_readable(zip_digest, archive))  # said before scoring, not after
    selection = selection_sentence(UPLOADED, len(archive.records), len(records), len(records), "zip", None, unreadable)
    scored = [record.path for record in records]
    return Choice(records, archive.load, None, f"uploaded ZIP, SHA-256 {zip_digest[:8]}", selection,
                  zip_scope(overlaps, len(trained), sourced), (zip_digest, leave), zip_caveat(overlaps, scored),
                  zip_caveat(named_overlaps(overlaps, names), scored), unreadable)


def run(classifiers, choice: Choice, resamples: int) -> dict:
    """Score, with progress and a Cancel button; the report and the bytes of the first disagreements."""
    from model.evaluation import Progress, Resampling, evaluate_models

    with long_runs.running(RUN, f"with {len(classifiers)} version" + ("s" if len(classifiers) != 1 else "")) as progress:
        report = evaluate_models(classifiers, choice.records, caching.scoring(classifiers), Resampling(resamples),
                                 load=choice.loader, root=choice.root,
                                 progress=Progress(images=progress.images, stage=progress.stage))
    about = {"data": choice.name, "images": choice.scope, "selection": choice.selection, "caveat": choice.caveat,
             "versions": [clf.card.id for clf in classifiers],
             "image_ids": ("names inside the ZIP" if choice.root is None else
                           f"paths relative to the data's folder, {choice.root.name}")}  # a manifest is no folder
    by_id = {case_id(record, choice): record for record in choice.records}
    cases = {}
    for case in report["disagreements"][:CASES_SHOWN]:
        record = by_id.get(case["path"])
        if record is not None:
            cases[case["path"]] = choice.loader(record) if choice.loader else Path(record.path).read_bytes()
    return {"report": report, "cases": cases, "about": about, "shown_caveat": choice.shown_caveat}


def case_id(record, choice: Choice) -> str:
    from model.evaluation import image_id

    return image_id(record.path, choice.root)


def figures(report: dict, notes: dict, caveat: str) -> None:
    """The figures of a report whose versions are named (`named_report`), with the caveat they rest on."""
    models = report["models"]
    st.subheader("Figures side by side")
    if caveat:  # the figures rest on it: said beside them, not only in the export
        st.caption(f":orange[:material/report: {caveat}]")
    # A table wraps the versions' names in its header (as Compare's): a grid of names in words scrolls sideways.
    st.table(summary_table(report))
    st.caption(f"In brackets the 95% bootstrap interval ({report['bootstrap']['resamples']:,} resamples of the "
               f"images). Overlapping intervals mean the difference may be noise; the paired comparison below says "
               f"more. {ROUNDING_NOTE}",
               help=explained("Bootstrap interval", "Macro AUC", "Macro F1", "Precision", "Recall",
                              "Calibration error (ECE)", "Out of scope"))
    held_back(report)
    st.markdown("**Paired comparison on the same images**")
    if report["comparisons"]:
        for pair in report["comparisons"]:
            st.markdown(f"- {comparison_sentence(pair)}")
        st.table(comparison_table(report).set_index("versions"))  # a table wraps its long names
    else:
        st.caption(notes["comparisons"])
    unknown = unknown_labels_table(report)
    if not unknown.empty:
        st.markdown("**Labels the versions do not know**")
        st.dataframe(unknown, hide_index=True, width="stretch")
        st.caption("These images are not counted as errors: the versions can only answer COVID-19, Normal or "
                   "Pneumonia, so this says what each forced them into.")
    labels = list(dict.fromkeys(label for m in models.values() for label in m["labels"]))
    label = st.selectbox("ROC curves of class", labels, key="evaluate_roc_class")
    st.plotly_chart(charts.roc_overlay(models, label), key="evaluate_roc", config=PLOT_CONFIG)
    withheld = roc_withheld_note(models)
    if withheld:  # the figures table's rule: no curve where it withholds the AUC
        st.caption(withheld, help=explained("ROC curve", "AUC"))
    confusion_matrices(models)
    st.markdown("**By data source**")
    sources = per_source_table(report)
    if len(sources) > 0:
        # A static table, shown whole: a grid scrolled inside itself past ten rows (three versions over five
        # sources), and a reader missed the rows below. Its figures right-aligned, their headers too (important:
        # the table sets each cell's alignment by its type, text to the left, on the cell itself).
        right = [{"selector": f"td.col{column}, th.col_heading.col{column}", "props": "text-align: right !important;"}
                 for column in map(sources.columns.get_loc, SOURCE_FIGURES)]
        st.table(sources.style.set_table_styles(right), hide_index=True)
        st.caption("Macro AUC: each class against the rest among the source's films, averaged over its classes. "
                   f"Within source: only its COVID-19 films against its Pneumonia films, each ranked by {PAIR_SCORE} "
                   "(as on Model performance), so the two figures differ for a source holding both; –: the source "
                   "lacks one of the two. n/a: an AUC needs films of two "
                   f"classes. {TOO_FEW_NOTE}")
    else:
        st.caption(notes["per_source"])
    if "within_source" in notes and "per_source" not in notes:
        st.caption(notes["within_source"])


def held_back(report: dict) -> None:
    """The scored images a version's triage holds back as out of scope (`scope_sentence`), marked as a caution."""
    sentence = scope_sentence(report)
    if sentence:
        st.caption(f":orange[:material/report: {sentence}]")


def confusion_matrices(models: dict) -> None:
    """Each version's row-normalised confusion matrix, at most `MATRICES_PER_ROW` to a row and the rows evenly
    filled (four versions: two rows of two): four to a row at 1366 px cut their titles and shrank their cells."""
    rows = -(-len(models) // MATRICES_PER_ROW)
    per_row = -(-len(models) // rows)
    items = list(models.items())
    for start in range(0, len(items), per_row):
        for column, (name, model) in zip(st.columns(per_row, gap="medium"), items[start:start + per_row]):
            column.plotly_chart(charts.confusion_matrix_figure(model, normalize=True),
                                key=f"evaluate_cm_{name}", config=PLOT_CONFIG)
            column.caption(f"{name}: rows true, columns predicted.")


def map_legend() -> None:
    """The colour bar of the overlays below and what it means."""
    st.markdown(charts.colour_bar_html(DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD), unsafe_allow_html=True)
    st.caption(f"Colour bar of the maps: {colour_bar_caption('the answer shown', DEFAULT_MAP_THRESHOLD)} (gray "
               f"part). {SCALE_NOTE}")


def disagreement_section(report: dict, shown: dict, cases: dict, cards_by_id: dict, names: dict[str, str]) -> None:
    """The films the versions answered differently, each version's map of its own answer; `report` is keyed by
    id (the maps need the versions), `shown` is it named as the page names them (`named_report` with `names`)."""
    st.subheader("Where the versions disagree")
    table = disagreement_table(shown)
    notes = section_notes(shown)
    if table.empty:
        st.info(notes["disagreements"])
        return
    st.caption(disagreement_caption(len(report["disagreements"]), min(CASES_SHOWN, len(cases))))
    legend, _ = st.columns([2, 3])
    with legend:
        map_legend()
    for case in report["disagreements"][:CASES_SHOWN]:
        data = cases.get(case["path"])
        if data is None:
            continue
        image_digest = caching.digest(data)
        try:
            xray = caching.decode(image_digest, data)
        except XrayInputError:
            continue
        with st.container(border=True):
            st.markdown(f"**{case['path']}** · true **{case['label']}**"
                        + (f" · source `{case['source']}`" if case["source"] else ""))
            columns = st.columns(1 + len(case["predicted"]), gap="small")
            columns[0].image(to_uint8(xray.pixels), caption="Original", width="stretch")
            for column, model_id in zip(columns[1:], case["predicted"]):
                with column:
                    version_map(case, image_digest, xray, cards_by_id[model_id], names[model_id])
    with st.expander(f"Every image where they disagree ({len(table):,})"):
        st.table(table, hide_index=True)  # wraps: with four versions a grid scrolled the last one out at 1366 px
        st.caption(" ".join(filter(None, [short_names_note(shown["models"]), "Each image by its file name; the "
                                          f"downloads name it in full. {TABLE_TRIAGE_NOTE}"])))


def version_map(case: dict, image_digest: str, xray, card, name: str) -> None:
    """One version's map of its own answer on a film the versions disagree on, under it the answer with the
    version's triage of the film as Compare gives it (the same cached `caching.triage`, the same words:
    `text.answer_line` and `text.status_notes`)."""
    key = caching.model_key(card.id)
    if caching.classifier(key) is None:
        return
    label = case["predicted"][card.id]
    _, on_image = caching.explanation(image_digest, key, "gradcam", label, card.explain_layer, xray.pixels)
    result = caching.triage(image_digest, key, caching.lung_status(card.prep.lung_model)[0], xray.pixels,
                            xray.metadata)
    st.image(render_overlay(xray.pixels, on_image, colormap=DEFAULT_COLORMAP, threshold=DEFAULT_MAP_THRESHOLD),
             width="stretch", caption=text.answer_line(name, label, case["confidence"][card.id], result))
    notes = text.status_notes(result)
    if notes:
        st.caption(" ".join(notes))


def downloads(result: dict, names: dict[str, str]) -> None:
    """Every image's predictions (CSV, JSON) and the figures with their intervals (tidy CSV), the versions
    keyed by id (a script needs the key; the caption gives each name's id)."""
    report = result["report"]
    columns = st.columns(3)
    columns[0].download_button("Predictions per image (CSV)", predictions_frame(report).to_csv(index=False),
                               file_name="predictions.csv", mime="text/csv", icon=":material/download:",
                               on_click="ignore", key="evaluate_predictions_csv")
    columns[1].download_button("Figures with intervals (CSV)", figures_frame(report).to_csv(index=False),
                               file_name="figures.csv", mime="text/csv", icon=":material/download:",
                               on_click="ignore", key="evaluate_figures_csv")
    columns[2].download_button("Everything (JSON)", export_json(report, result["about"]),
                               file_name="evaluation.json", mime="application/json", icon=":material/download:",
                               on_click="ignore", key="evaluate_json")
    st.caption(" ".join(filter(None, [
        "Images are named by their path inside the data folder or the ZIP; one row per image, scored or not, "
        "with each version's answer and probabilities. The files keep full precision and name each version by "
        "its id.", ids_note({model_id: names.get(model_id, model_id) for model_id in report["models"]})])))


def reasons(files: list[tuple[str, str]]) -> None:
    """Files left out, each with its reason in full: a table wraps its sentences (a grid cut them at 1366 px,
    "...please use the full-resolution X-r")."""
    st.table(pd.DataFrame(files, columns=["file", "reason"]), hide_index=True)


def results(result: dict, cards_by_id: dict, names: dict[str, str]) -> None:
    """A scored result: the downloads keyed by version id, the figures and disagreements with each version
    named as the other pages name it (`names`)."""
    report = result["report"]
    st.markdown(accounting_sentence(report))
    if report["skipped"]:
        with st.expander(f"{len(report['skipped'])} file(s) could not be read"):
            reasons([(row["path"], row["reason"]) for row in report["skipped"]])
    if report["n_images"] == 0:
        st.warning("No image could be scored.")
        return
    downloads(result, names)
    shown = named_report(report, names)
    figures(shown, section_notes(shown), result.get("shown_caveat", ""))
    disagreement_section(report, shown, result["cases"], cards_by_id, names)


def main() -> None:
    cards = widgets.page_start("Evaluate on your data",
                               "Score versions on the same labelled images, yours or a folder on this server, and see whether "
                               "one really beats another.", words="evaluate")
    cards_by_id, names = {card.id: card for card in cards}, version_names(cards)  # named as on the other pages
    chosen = st.multiselect("Versions", list(cards_by_id), default=default_selection(cards, 2), key="evaluate_models",
                            format_func=lambda model_id: text.card_label(cards_by_id[model_id]),
                            help=ids_note(names) or None)
    if not chosen:
        st.info("Choose one or more versions.")
        return
    where = st.radio("Labelled images", [FOLDER, UPLOAD], horizontal=True, key="evaluate_source")
    st.caption("Images are read as adults' frontal films unless a DICOM header gives the patient's age or the view: "
               "here, unlike on Diagnose and Compare, no age or view can be stated for each film.")
    choice = (folder_choice(cards_by_id, chosen) if where == FOLDER else
              zip_choice([cards_by_id[model_id] for model_id in chosen], names))
    if choice is None:
        return
    resamples = st.selectbox("Bootstrap resamples", [200, 1000, 2000], index=1, key="evaluate_resamples",
                             help="More resamples give steadier intervals and take longer.")
    st.markdown(f"{choice.selection} Press Evaluate to score **{len(choice.records) - choice.unreadable:,} images** with "
                f"{len(chosen)} version{'s' if len(chosen) != 1 else ''}.")
    signature = (tuple(chosen), tuple(caching.model_key(m) for m in chosen), where, choice.settings, resamples,
                 tuple(r.path for r in choice.records))
    store = st.session_state.setdefault(RESULTS, long_runs.ResultStore(4))
    if long_runs.requested(RUN, signature, "Evaluate", disabled=not choice.records):
        classifiers = [caching.classifier(caching.model_key(model_id)) for model_id in chosen]
        if any(clf is None for clf in classifiers):
            return
        store.put(signature, run(classifiers, choice, resamples))
        st.session_state[LAST] = signature
    result = store.get(signature)
    if result is None and st.session_state.get(LAST) in store:
        result = store.get(st.session_state[LAST])
        st.caption("The results below are from an earlier choice; press Evaluate to update them.")
    if result is not None:
        results(result, cards_by_id, names)


main()
