"""Evaluate on your data: several versions scored on the same labelled images (a folder under the
configured data roots or an uploaded ZIP), figures with bootstrap intervals side by side, ROC
curves overlaid, where the versions disagree (with their maps), and the report as CSV and JSON.

The ZIP is read in memory (`model.archive.read_labelled_zip`), never written to disk; the computing
is `model.evaluation.evaluate_models`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from dashboard import caching, widgets
from model.archive import MAX_MEMBERS, MAX_TOTAL_BYTES, ArchiveError, read_labelled_zip
from model.inputs.intake import XrayInputError
from model.labelled_data import (
    DATA_ENV,
    data_roots,
    find_datasets,
    short_name,
)
from model.policy import DEFAULT_MAP_THRESHOLD
from model.present import charts, text
from model.present.evaluation_tables import (
    comparison_sentence,
    comparison_table,
    disagreement_table,
    per_source_table,
    report_frame,
    summary_table,
    unknown_labels_table,
)
from model.present.gallery_cases import sample_records
from model.present.overlay import render_overlay, to_uint8
from model.splits import common_records

RESULT = "evaluate_result"
FOLDER, UPLOAD = "A data folder on this server", "A ZIP of labelled images"
SCOPES = {"unseen": "Images none of these versions trained on", "all": "All images"}
PER_LABEL = {"25 per label": 25, "50 per label": 50, "100 per label": 100, "200 per label": 200, "All images": None}
CASES_SHOWN = 4
PLOT_CONFIG = {"displaylogo": False}
NO_ROOTS = (f"No data folder is configured on this server. Set `{DATA_ENV}` (one or more folders separated by "
            f"'{os.pathsep}') before starting the dashboard, or upload a ZIP.")
ZIP_HELP = (f"A ZIP with one folder per class (COVID/, Normal/, Pneumonia/; other folder names such as Tuberculosis/ "
            f"are reported as labels the models do not know) or with a manifest.csv (columns file, label, optionally "
            f"source and patient_id). Up to {widgets.UPLOAD_LIMIT_MB} MB, {MAX_MEMBERS:,} files and "
            f"{MAX_TOTAL_BYTES // 2**20} MB uncompressed; read in memory and never stored.")


def folder_choice():
    """(records, loader, description) of a dataset found under the configured roots, or None."""
    roots = data_roots()
    if not roots:
        st.info(NO_ROOTS, icon=":material/settings:")
        return None
    datasets = find_datasets(roots)
    if not datasets:
        st.info(f"No manifest CSV or folder per class was found under the configured data folders ({DATA_ENV}).")
        return None
    choice = st.selectbox("Labelled data", datasets, format_func=lambda p: short_name(p, roots), key="evaluate_data")
    read = widgets.read_chosen_dataset(choice, roots)
    if read is None:
        return None
    path, records, outside = read
    if outside:
        st.caption(f"{outside} image(s) named by the manifest lie outside the configured data folders and are left out.")
    return records, None, short_name(path, roots)


def zip_choice():
    uploaded = st.file_uploader("ZIP of labelled images", type=["zip"], key="evaluate_zip", help=ZIP_HELP,
                                max_upload_size=widgets.UPLOAD_LIMIT_MB)
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
            st.dataframe([{"file": name, "reason": reason} for name, reason in archive.skipped], hide_index=True)
    return archive.records, archive.load, uploaded.name


def run(classifiers, records, loader, resamples: int, description: str, scope: str) -> dict:
    bar = st.progress(0.0, text="Scoring…")

    def progress(done, total):
        bar.progress(done / max(total, 1), text=f"Scoring image {done} of {total} with {len(classifiers)} version(s)…")

    from model.evaluation import evaluate_models

    report = evaluate_models(classifiers, records, batch_size=16, resamples=resamples, progress=progress, load=loader)
    bar.progress(1.0, text=f"Scored {report['n_images']} images.")
    report.update({"data": description, "scope": scope})
    cases = {}
    for case in report["disagreements"][:CASES_SHOWN]:
        record = next(r for r in records if r.path == case["path"])
        data = loader(record) if loader else Path(record.path).read_bytes()
        cases[case["path"]] = data
    return {"report": report, "cases": cases}


def figures(report: dict) -> None:
    models = report["models"]
    st.subheader("Figures side by side")
    st.dataframe(summary_table(report), width="stretch", height=38 + 35 * len(summary_table(report)))
    st.caption(f"Every version on the same {report['n_images']:,} images; in brackets the 95% bootstrap interval "
               f"({report['bootstrap']['resamples']} resamples of the images). Overlapping intervals mean the "
               "difference may be noise; the paired comparison below says more.")
    if report["comparisons"]:
        st.markdown("**Paired comparison on the same images**")
        for pair in report["comparisons"]:
            st.markdown(f"- {comparison_sentence(pair)}")
        st.dataframe(comparison_table(report), hide_index=True, width="stretch",
                     column_config={"resamples where B > A": st.column_config.NumberColumn(format="percent")})
    unknown = unknown_labels_table(report)
    if not unknown.empty:
        st.markdown("**Labels the versions do not know**")
        st.dataframe(unknown, hide_index=True, width="stretch")
        st.caption("These images are not counted as errors: the versions can only answer COVID-19, Normal or "
                   "Pneumonia, so this says what each forced them into.")
    labels = list(dict.fromkeys(label for m in models.values() for label in m["labels"]))
    label = st.selectbox("ROC curves of class", labels, key="evaluate_roc_class")
    st.plotly_chart(charts.roc_overlay(models, label), key="evaluate_roc", config=PLOT_CONFIG)
    columns = st.columns(len(models), gap="medium")
    for column, (model_id, model) in zip(columns, models.items()):
        column.plotly_chart(charts.confusion_matrix_figure(model, normalize=True), key=f"evaluate_cm_{model_id}",
                            config=PLOT_CONFIG)
        column.caption(f"{model_id}: rows true, columns predicted.")
    sources = per_source_table(report)
    if len(sources) > 0:
        st.markdown("**By data source**")
        st.dataframe(sources, hide_index=True, width="stretch")


def disagreement_section(report: dict, cases: dict, cards_by_id: dict) -> None:
    st.subheader("Where the versions disagree")
    table = disagreement_table(report)
    if table.empty:
        st.info("The versions gave the same answer on every image." if len(report["models"]) > 1 else
                "Choose two or more versions to see where they disagree.")
        return
    st.caption(f"{len(report['disagreements'])} images got different answers; the first {min(CASES_SHOWN, len(cases))} "
               f"with each version's Grad-CAM map (threshold {DEFAULT_MAP_THRESHOLD:.0%}: fainter evidence is not "
               "coloured; red strongest, blue weakest).")
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
            st.markdown(f"**{Path(case['path']).name}** · true **{case['label']}**"
                        + (f" · source `{case['source']}`" if case["source"] else ""))
            columns = st.columns(1 + len(case["predicted"]), gap="small")
            columns[0].image(to_uint8(xray.pixels), caption="Original", width="stretch")
            for column, (model_id, label) in zip(columns[1:], case["predicted"].items()):
                key = caching.model_key(model_id)
                if caching.classifier(key) is None:
                    continue
                _, on_image = caching.explanation(image_digest, key, "gradcam", label,
                                                  cards_by_id[model_id].explain_layer, xray.pixels)
                column.image(render_overlay(xray.pixels, on_image, threshold=DEFAULT_MAP_THRESHOLD), width="stretch",
                             caption=f"{model_id}: {label} ({case['confidence'][model_id]:.0%})")
    with st.expander("Every image where they disagree"):
        st.dataframe(table, hide_index=True, width="stretch")


def downloads(report: dict) -> None:
    columns = st.columns(2)
    columns[0].download_button("Download the report (CSV)", report_frame(report).to_csv(index=False),
                               file_name="evaluation.csv", mime="text/csv", icon=":material/download:",
                               key="evaluate_csv")
    columns[1].download_button("Download the report (JSON)", json.dumps(report, indent=2),
                               file_name="evaluation.json", mime="application/json", icon=":material/download:",
                               key="evaluate_json")


def main() -> None:
    cards = widgets.page_start("Evaluate on your data",
                               "Score versions on the same labelled images, yours or a folder on this server, and see whether "
                               "one really beats another.")
    cards_by_id = {card.id: card for card in cards}
    chosen = st.multiselect("Versions", list(cards_by_id), default=list(cards_by_id)[:2], key="evaluate_models",
                            format_func=lambda model_id: text.card_label(cards_by_id[model_id]))
    if not chosen:
        st.info("Choose one or more versions.")
        return
    where = st.radio("Labelled images", [FOLDER, UPLOAD], horizontal=True, key="evaluate_source")
    picked = folder_choice() if where == FOLDER else zip_choice()
    if picked is None:
        return
    records, loader, description = picked
    controls = st.columns(3)
    scope = controls[0].selectbox("Images", list(SCOPES), format_func=SCOPES.get, key="evaluate_scope",
                                  help="Images a version trained on flatter it; by default they are left out "
                                       "(from each version's recorded split).")
    per_label = controls[1].selectbox("How many", list(PER_LABEL), index=2, key="evaluate_limit",
                                      help="A sample per label keeps large folders quick; the same sample every time.")
    resamples = controls[2].selectbox("Bootstrap resamples", [200, 1000, 2000], index=1, key="evaluate_resamples")
    records, notes = common_records(records, [cards_by_id[m] for m in chosen], scope)
    for note in notes:
        st.caption(f":orange[:material/report: {note}]")
    records = sample_records(records, PER_LABEL[per_label], seed=0)
    st.markdown(f"{len(records):,} images from **{description}** will be scored by {len(chosen)} version(s).")
    signature = (tuple(chosen), description, scope, per_label, resamples, tuple(r.path for r in records))
    if st.button("Evaluate", type="primary", icon=":material/play_arrow:", key="evaluate_run", disabled=not records):
        classifiers = [caching.classifier(caching.model_key(model_id)) for model_id in chosen]
        if any(clf is None for clf in classifiers):
            return
        result = run(classifiers, records, loader, resamples, description, SCOPES[scope])
        st.session_state[RESULT] = dict(result, signature=signature)
    result = st.session_state.get(RESULT)
    if not result:
        return
    if result["signature"] != signature:
        st.caption("The results below are from an earlier choice; press Evaluate to update them.")
    report = result["report"]
    if report["skipped"]:
        with st.expander(f"{len(report['skipped'])} image(s) could not be read and were skipped"):
            st.dataframe(report["skipped"], hide_index=True)
    if report["n_images"] == 0:
        st.warning("No image could be scored.")
        return
    downloads(report)
    figures(report)
    disagreement_section(report, result["cases"], cards_by_id)


main()
