"""Compare versions: figures on common ground (the same images, none of which any compared version
trained on, with bootstrap intervals, per source and within source), training curves, explanation
reports, what changed and, on one image, predictions, maps and lung attention side by side.

Common ground needs labelled data under the configured roots (`CXR_DATA`); without them the page
says so and falls back to each version's own internal test figures, labelled as such. It is scored
only when asked (a button, with progress and Cancel) and kept per (versions and their files, data,
settings, images) for every session, so coming back to the page costs nothing."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import caching, long_runs, widgets
from dashboard.seen_film import seen_note
from model.labelled_data import (
    DATA_ENV,
    data_roots,
    find_datasets,
    short_name,
)
from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD
from model.present import charts, shortcut_tables, text
from model.present.comparison import (
    COMMON_GROUND_CAVEAT,
    agreement_text,
    explanation_rows,
    ids_note,
    method_digits,
    metrics_comparison,
    named_report,
    probability_caption,
    version_names,
)
from model.present.evaluation_tables import (
    ROUNDING_NOTE,
    SCOPE_HELP,
    SCOPE_LABELS,
    TOO_FEW_NOTE,
    accounting_sentence,
    comparison_sentence,
    comparison_table,
    disagreement_table,
    per_source_table,
    scope_sentence,
    section_notes,
    selection_sentence,
    share,
    short_names_note,
    summary_table,
)
from model.present.gallery_cases import sample_records
from model.present.glossary import explain, explained
from model.present.overlay import SCALE_NOTE, colour_bar_caption, render_overlay
from model.present.registry_tables import default_selection
from model.splits import common_records
from model.trust.agreement import map_similarity
from model.trust.attention import attention_if_lungs
from model.trust.faithfulness import CHANCE_MARGIN
from model.trust.map_checks import similarity_text

MAX_DEFAULT = 3
OWN_PREDICTION = "Each model's own prediction"
PLOT_CONFIG = {"displaylogo": False}


def highlight_best(table: pd.DataFrame, models: list[str]):
    """A Styler of the table without its "best" column: each row's best model in green instead, rows where the
    models differ by 5 points or more in bold."""
    def style_row(row: pd.Series) -> list[str]:
        differs = pd.notna(row["spread"]) and row["spread"] >= 0.05
        styles = []
        for column in row.index:
            style = "font-weight: 700;" if differs else ""
            if column in models and column == table.at[row.name, "best"]:
                style += "background-color: rgba(46, 160, 67, 0.35);"
            styles.append(style)
        return styles

    shown = table.drop(columns="best")
    return shown.style.apply(style_row, axis=1).format(precision=text.SCORE_DIGITS, na_rep="n/a",
                                                            subset=[*models, "spread"])


def curves_section(chosen: list[str], names: dict[str, str]) -> None:
    histories = {names[model_id]: caching.history_or_empty(caching.model_key(model_id)) for model_id in chosen}
    columns, default, missing = charts.curve_choice(histories)
    if not columns:
        st.info("None of these models saved a training history.")
        return
    metric = st.selectbox("Curve", columns, index=columns.index(default), key="compare_metric",
                          format_func=charts.curve_name,
                          help="Trainers record different columns; the default is the one most of these versions "
                               "share, validation AUC first.")
    if missing[metric]:
        st.caption(f"Not drawn: {', '.join(missing[metric])} (no {charts.curve_name(metric).lower()} in its "
                   "training history).")
    st.plotly_chart(charts.compare_curves(histories, metric=metric), key="compare_curves", config=PLOT_CONFIG)


def metrics_section(chosen: list[str], names: dict[str, str]) -> None:
    """Each version's own internal test figures (metrics.json): the fallback without common ground."""
    reports = {names[model_id]: caching.metrics_or_empty(caching.model_key(model_id)) for model_id in chosen}
    table = metrics_comparison(reports)
    # A table wraps the versions' names in its header (as a grid, three names in words scrolled it sideways at
    # 1366 px); the best is green, so its name need not fill a column.
    st.table(highlight_best(table, [names[model_id] for model_id in chosen]))
    st.caption("Green: the best model for that figure (lowest for ECE). Bold: the models differ by 0.05 or "
               "more. All figures are on each model's own internal test split, which may not be the same images, "
               f"and have no intervals: differences of 0.01-0.02 AUC on a few hundred images can be noise. {ROUNDING_NOTE}",
               help=explained("AUC", "Macro AUC", "F1", "Calibration error (ECE)", "Test split"))


COMMON_RUN = "compare_run"
COMMON_SCOPES = SCOPE_LABELS
COMMON_PER_LABEL = {"30 per label": 30, "60 per label": 60, "150 per label": 150, "All": None}


@st.cache_resource(show_spinner=False)
def common_ground_store() -> long_runs.ResultStore:
    """Common-ground reports by their signature, for every session: the data are the server's own."""
    return long_runs.ResultStore(8)


def common_ground_section(cards_by_id: dict, chosen: list[str], names: dict[str, str]) -> None:
    """The versions scored on the same images, by default ones none of them trained on, with intervals;
    scored when asked and kept per settings."""
    roots = data_roots()
    datasets = find_datasets(roots) if roots else []
    if not datasets:
        st.info(f"No labelled data is configured (`{DATA_ENV}`), so the versions cannot be scored on common ground "
                "here. Below: each version's own internal test figures, which are not on the same images.",
                icon=":material/settings:")
        metrics_section(chosen, names)
        return
    controls = st.columns([3, 3, 2, 2])
    choice = controls[0].selectbox("Labelled data", datasets, key="compare_data",
                                   format_func=lambda path: short_name(path, roots))
    scope = controls[1].selectbox("Images", list(COMMON_SCOPES), format_func=COMMON_SCOPES.get, key="compare_scope",
                                  help=SCOPE_HELP)
    per_label = controls[2].selectbox("How many", list(COMMON_PER_LABEL), key="compare_limit",
                                      help="A fixed sample per label keeps the page quick; intervals show what it costs.")
    resamples = controls[3].selectbox("Bootstrap resamples", [200, 1000], index=1, key="compare_resamples")
    read = widgets.read_chosen_dataset(choice, roots)
    if read is None:
        return
    path, records, _ = read
    eligible, notes = common_records(records, [cards_by_id[m] for m in chosen], scope)
    for note in notes:
        st.caption(f":orange[:material/report: {note}]")
    sampled = sample_records(eligible, COMMON_PER_LABEL[per_label], seed=0)
    name = short_name(path, roots)
    st.markdown(selection_sentence(name, len(records), len(eligible), len(sampled), scope, COMMON_PER_LABEL[per_label]))
    st.caption(COMMON_GROUND_CAVEAT)
    if not sampled:
        st.info("No image is left on common ground for these versions; choose other data or images.")
        return
    signature = (tuple(caching.model_key(m) for m in chosen), str(path), scope, per_label, resamples,
                 caching.digest("\n".join(r.path for r in sampled).encode()))
    store = common_ground_store()
    if signature not in store:
        if not long_runs.requested(COMMON_RUN, signature, f"Score {len(sampled):,} images with {len(chosen)} versions",
                                   help="Reads every image once and scores it with each version; the figures are "
                                        "then kept for these settings."):
            with st.container():  # one element after the button: the scoring run replaces it at once
                st.caption("Nothing is scored until you ask: with many images this takes a while. The figures are "
                           "then kept for these versions, data and settings.")
                with st.expander("Each version's own internal test figures (not the same images)"):
                    metrics_section(chosen, names)
            return
        from model.evaluation import Progress, Resampling, evaluate_models

        with long_runs.running(COMMON_RUN, f"with {len(chosen)} versions") as progress:
            # The progress takes the button's place; this takes the place of the words under it, which
            # otherwise stayed on the page ("Nothing is scored until you ask") until the scoring ended.
            st.empty()
            # Loaded under the progress bar: loaded before it, the cache's spinner was drawn over the button.
            progress.starting(f"Loading {len(chosen)} versions…")
            classifiers = [caching.classifier(caching.model_key(model_id)) for model_id in chosen]
            if any(clf is None for clf in classifiers):
                return
            report = evaluate_models(classifiers, sampled, caching.scoring(classifiers), Resampling(resamples),
                                     root=path if path.is_dir() else path.parent,
                                     progress=Progress(images=progress.images, stage=progress.stage))
        store.put(signature, report)
    common_ground_results(named_report(store.get(signature), names), chosen, names)


def common_ground_results(report: dict, chosen: list[str], names: dict[str, str]) -> None:
    """The figures of a common-ground report whose versions are named (`named_report`): accounting, figures,
    paired comparisons, by source, disagreements."""
    st.markdown(accounting_sentence(report))
    if report["n_images"] == 0:
        st.warning("No image could be scored.")
        return
    notes = section_notes(report)
    # A table wraps the versions' names in its header: as a grid, three names in words scrolled it sideways at 1366 px.
    st.table(summary_table(report))
    st.caption(f"The same images for every version; in brackets the 95% bootstrap interval. {ROUNDING_NOTE}",
               help=explained("Bootstrap interval", "Macro AUC", "Macro F1", "Calibration error (ECE)"))
    held = scope_sentence(report)
    if held:  # the films a version's triage holds back, as on Evaluate
        st.caption(f":orange[:material/report: {held}]")
    for pair in report["comparisons"]:
        st.markdown(f"- {comparison_sentence(pair)}")
    with st.expander("Paired comparisons in detail"):
        st.table(comparison_table(report).set_index("versions"))  # a table wraps its long names
    st.markdown("**Per source and within source**")
    sources = per_source_table(report)
    if len(sources):
        # every row in view, none hidden behind the table's own scroll bar
        st.dataframe(sources, hide_index=True, width="stretch", height=38 + 35 * len(sources))
        st.caption("Within source: COVID-19 against Pneumonia among the films of one collection, each ranked by "
                   f"{shortcut_tables.PAIR_SCORE} (as on Model performance), a figure the collection's own look "
                   "cannot explain; –: the source lacks one of the two. n/a: an AUC needs films of two classes. "
                   f"{TOO_FEW_NOTE} " + notes.get("within_source", ""))
    else:
        st.caption(notes["per_source"])
    disagree = disagreement_table(report)
    st.markdown(f"**Where they disagree:** {len(report['disagreements']):,} of the {report['n_images']:,} images "
                f"({share(len(report['disagreements']) / report['n_images'])}).")
    if not disagree.empty:
        with st.expander(f"Every image where they disagree ({len(disagree):,})"):
            # A wrapping table: with four versions a grid scrolled the last one out at 1366 px.
            st.table(disagree, hide_index=True)
            st.caption(" ".join(filter(None, [short_names_note(report["models"]), "Each image by its file name; "
                                          "the Evaluate page's downloads name it in full."])))
    with st.expander("Each version's own internal test figures (not the same images)"):
        metrics_section(chosen, names)


def _figure(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def source_section(cards_by_id: dict, chosen: list[str], names: dict[str, str]) -> None:
    """Each version's source probe and held-out-source figures: how much it leans on the source."""
    rows = {}
    for model_id in chosen:
        report = caching.metrics_or_empty(caching.model_key(model_id))
        row = {"source probe, mean balanced accuracy (lower is better)": share(shortcut_tables.source_probe_mean(report))}
        for label, value in shortcut_tables.source_probe_table(report).set_index("class")["balanced accuracy"].items():
            row[f"source probe within {label}"] = share(value)
        held = shortcut_tables.held_out_table(cards_by_id[model_id].training)
        for _, line in held.iterrows():
            spread = "" if line["runs"] == 1 else f", {line['range']}"
            also = "" if line["also held out"] == "–" else f" (with {line['also held out']})"
            # the median of the recorded runs, as on Performance; their range beside it
            row[f"held out {line['held-out source']}{also}: median recall"] = \
                _figure(line["median"], ".0%") + spread
        for pair in shortcut_tables.held_out_separation(cards_by_id[model_id].training):
            row[f"held out, {pair['pair']} AUC (any bias)"] = shortcut_tables.separation_auc_text(pair)
        rows[names[model_id]] = row
    st.table(pd.DataFrame(rows).fillna("–"))  # a table wraps its long row names: four versions fit at 1366 px
    st.caption("Source probe: how well a simple classifier on each version's features tells the sources apart within "
               "one class (near chance is better). Held out: that source's films scored by the version's recipe trained "
               "without it, or by the version itself when it never saw the source (the v1 models); median recall: the share "
               "of them called their true class, the median over the recorded runs (as on Performance), their range "
               "beside it; '(with …)': that source was held out in the same runs too, so the two rows of one source "
               "differ in what else the recipe never saw. AUC (any bias): how well "
               "the held-out films of two classes are told apart, whatever threshold is chosen.",
               help=explained("Source probe", "Balanced accuracy", "Held-out source", "Recall", "AUC"))


def explanation_section(chosen: list[str], names: dict[str, str]) -> None:
    """Each version's explanation report side by side; the command that makes the missing ones."""
    reports = {model_id: caching.explanation_report_or_none(caching.model_key(model_id)) for model_id in chosen}
    digits = method_digits([report for report in reports.values() if report])  # one format per row
    present = {model_id: explanation_rows(report, digits) for model_id, report in reports.items() if report}
    missing = [model_id for model_id in chosen if model_id not in present]
    if present:
        table = pd.DataFrame({names[model_id]: present.get(model_id, {}) for model_id in chosen}).fillna("–")
        st.table(table)  # a table wraps its long row names and cells: four versions fit at 1366 px
        st.caption("From each version's explanations.json (its own test split). Lung attention: share of the "
                   "Grad-CAM map inside the lungs, low values point to shortcuts. Deletion and insertion AUC: "
                   f"{explain('Deletion / insertion AUC')} Compare them with the random maps of the same grain; a "
                   f"curve counts as better only by more than {CHANCE_MARGIN} "
                   "(three decimals where closer). The verdict judges the mean deletion and insertion curves together "
                   "(Performance's ticks); 'films better on both' counts, film by film, the judged films where both "
                   "beat chance (Performance's 'both better'), so a version can be faithful on average and better on "
                   "fewer than half of its films. Judged films: those where hiding the whole film lowers the explained "
                   "class (Diagnose calls the others' maps 'not measurable'). "
                   "'Flagged': the maps barely change when the weights are randomised; 'not judged': the maps (trained or "
                   "randomised) were blank on most films, so the check says nothing.",
                   help=explained("Lung-field attention", "Faithfulness", "Deletion / insertion AUC",
                                  "Randomisation check"))
    for model_id in missing:
        st.caption(f"No explanation report for {names[model_id]}: `{text.explanation_report_command(model_id)}`.")


def notes_section(cards_by_id: dict, chosen: list[str]) -> None:
    """What each version changed (its card's notes and preprocessing), one expander per version."""
    columns = st.columns(len(chosen), gap="medium")
    for column, model_id in zip(columns, chosen):
        card = cards_by_id[model_id]
        with column.expander(f"Notes: {text.card_label(card)}"):
            st.markdown(f"**Preprocessing:** {text.preprocessing_summary(card)}  \n"
                        f"**Architecture:** `{card.architecture}` · created {card.created[:10]} · id `{card.id}`")
            for block in shortcut_tables.plain_notes(card.notes) or ["_The card has no notes._"]:
                st.markdown(block)


def image_section(cards_by_id: dict, chosen: list[str], names: dict[str, str]) -> None:
    st.subheader("One image, every version")
    uploaded = widgets.uploader("compare_upload")
    upload = widgets.read_upload(uploaded, prompt="Upload a radiograph to see each version's prediction and "
                                                 "Grad-CAM map side by side.")
    if upload is None:
        return
    image_digest, xray = upload
    shared = [label for label in cards_by_id[chosen[0]].labels if all(label in cards_by_id[m].labels for m in chosen)]
    target = st.selectbox("Class to explain", [OWN_PREDICTION, *shared], key="compare_target")
    # the same statement as on Diagnose, kept per film: the same film reads the same on both pages
    stated = widgets.about_this_film(image_digest, xray.metadata, st.columns([2, 1])[0], key_prefix="compare-",
                                     side_by_side=True)
    predictions, maps, statuses = {}, {}, {}
    usable = [m for m in chosen if caching.classifier(caching.model_key(m)) is not None]
    for model_id in usable:  # each version's own triage, as Diagnose makes it
        key, card = caching.model_key(model_id), cards_by_id[model_id]
        with st.spinner(f"Checking the image for {card.display_name}…"):
            statuses[model_id] = caching.triage(image_digest, key, caching.lung_status(card.prep.lung_model)[0],
                                                xray.pixels, xray.metadata, stated)
    held_back = [m for m in usable if not statuses[m].shows_answer]
    show_anyway = bool(held_back) and st.toggle(
        "Show the output anyway", key=f"compare-anyway-{image_digest[:16]}",
        help="At least one version finds the film outside what it was made for: its answer would be a guess.")
    shown = [m for m in usable if m not in held_back or show_anyway]
    explained = {}
    for model_id in shown:  # everything computed first, so that each row below lines up across the versions
        card, key = cards_by_id[model_id], caching.model_key(model_id)
        prediction = caching.uncertainty(image_digest, key, xray.pixels).prediction(card.labels)  # Diagnose's answer
        with st.spinner(f"Grad-CAM for {card.display_name}…"):
            explained[model_id] = caching.explanation(image_digest, key, "gradcam",
                                                      prediction.label if target == OWN_PREDICTION else target,
                                                      card.explain_layer, xray.pixels)
        predictions[model_id], maps[model_id] = prediction, explained[model_id][1]

    def row():  # one row of the versions' columns: a version's parts sit level with the others'
        return dict(zip(chosen, st.columns(len(chosen), gap="medium")))

    for model_id, column in row().items():
        if model_id not in usable:
            continue
        result = statuses[model_id]
        with column:
            st.markdown(f"**{text.card_label(cards_by_id[model_id])}**")
            name, colour, icon = widgets.STATUS_BADGES[result.status]
            st.badge(name, color=colour, icon=icon)
            notes = text.status_notes(result)  # as Diagnose's status names them, but the map's checks
            if notes:
                st.caption(" ".join(notes))
            seen_note(cards_by_id[model_id], image_digest, short=True)  # versions can have different splits
            if model_id not in shown:
                st.caption("No answer and no map are shown for this version.")
    if not shown:
        return
    for model_id, column in row().items():
        if model_id in shown:
            card, prediction = cards_by_id[model_id], predictions[model_id]
            column.metric("Model output" + (" (for reference only)" if model_id in held_back else ""), prediction.label)
            column.caption(probability_caption(card, prediction.confidence), help=text.probability_definition(card))
    for model_id, column in row().items():
        if model_id in shown:
            card, (explanation, on_image) = cards_by_id[model_id], explained[model_id]
            # As on Diagnose: faint evidence is not coloured, so the anatomy stays readable.
            column.image(render_overlay(xray.pixels, on_image, colormap=DEFAULT_COLORMAP,
                                        threshold=DEFAULT_MAP_THRESHOLD), width="stretch",
                         caption=f"Grad-CAM for {explanation.label}, "
                                 f"{widgets.layer_name(caching.model_key(model_id), card, explanation.layer)}")
            note = text.other_class_note(explanation.label, predictions[model_id].as_dict(),
                                         predictions[model_id].label, float(np.max(explanation.heatmap)))
            if note:  # as on Diagnose: a map of a class this version did not answer is no sign of it
                column.caption(f":material/info: {note}")
    for model_id, column in row().items():
        if model_id in shown:
            with column:
                lung_attention(image_digest, xray, cards_by_id[model_id], maps[model_id])
    for model_id, column in row().items():
        if model_id in shown:
            column.plotly_chart(charts.probability_bar(predictions[model_id]), key=f"compare_probs_{model_id}",
                                config={"displayModeBar": False})
    if predictions:
        legend, _ = st.columns([2, 3])
        legend.markdown(charts.colour_bar_html(DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD), unsafe_allow_html=True)
        legend.caption(f"Colour bar of the maps above: {colour_bar_caption('the class explained', DEFAULT_MAP_THRESHOLD)} "
                       f"(gray part). {SCALE_NOTE}")
    if len(predictions) >= 2:
        agreement_section({names[m]: predictions[m] for m in predictions}, {names[m]: maps[m] for m in maps},
                          {names[m]: statuses[m] for m in predictions})


def lung_attention(image_digest: str, xray, card, on_image) -> None:
    """The share of this version's Grad-CAM map inside the lungs, when the registry has a lung segmenter."""
    lungs, reason = caching.lung_status(card.prep.lung_model)
    if lungs is None:
        st.caption(f":material/block: {reason}")
        return
    key = caching.model_key(card.id)
    region = caching.model_input(image_digest, key, xray.pixels).region  # the chance level Diagnose gives
    attention, why = attention_if_lungs(on_image, caching.lung_mask(image_digest, lungs, xray.pixels),
                                        caching.lung_attention_threshold(key), region, caching.own_levels(key))
    if attention is None:  # as Diagnose: no share of the map on lungs that were not found
        st.caption(f":material/block: {why}")
        return
    st.metric("Map inside the lung fields", text.lung_share(attention.fraction),
              help="Share of the Grad-CAM map's weight on the lung fields; low values point to shortcuts.")
    if attention.low:
        st.caption(f":orange[:material/report: {attention.warning}]")


def agreement_section(predictions: dict, maps: dict, statuses: dict) -> None:
    """What each version said, in a neutral box: agreement is not correctness."""
    headline, answers = agreement_text(predictions, statuses)
    with st.container(border=True):
        st.markdown(headline)
        st.markdown("\n".join(f"- {answer}" for answer in answers))
    # a similarity, not a difference: no plus sign (as the randomisation similarity on Performance), nor a minus
    # on a figure that rounds to zero
    # A blank map ranks no region: its similarity is None, not measured (`map_similarity`).
    # As text: a table cell shows a missing value as "None", whatever a Styler's na_rep says.
    pairs = [{"model A": a, "model B": b, "map similarity (Spearman)":
              similarity_text(map_similarity(maps[a], maps[b], support_only=True), signed=False)}
             for a, b in combinations(maps, 2)]
    similarity = explained("Map similarity", "Spearman")
    st.dataframe(pd.DataFrame(pairs), hide_index=True, width="content",
                 column_config={"map similarity (Spearman)": st.column_config.TextColumn(help=similarity)})
    st.caption("Similarity of the Grad-CAM maps on the original image, over the part where at least one map shows "
               "evidence (the blank surround outside the region each version saw is left out: it would count as "
               "agreement), on a scale where 1 is the same ranking of regions, 0 unrelated and below 0 opposite.",
               help=similarity)


def main() -> None:
    cards = widgets.page_start("Compare versions", words="compare")
    if len(cards) < 2:
        st.info("Comparing needs at least two usable models in the registry; there is only "
                f"{text.card_label(cards[0])}.")
        widgets.broken_entries()
        return
    cards_by_id, names = {card.id: card for card in cards}, version_names(cards)  # named as on the other pages
    chosen = st.multiselect("Versions to compare", list(cards_by_id), default=default_selection(cards, MAX_DEFAULT),
                            format_func=lambda model_id: text.card_label(cards_by_id[model_id]),
                            key="compare_models", help=ids_note(names) or None)
    if len(chosen) < 2:
        st.info("Choose two or more versions.")
        return
    st.subheader("Training curves")
    curves_section(chosen, names)
    st.subheader("Figures on common ground")
    common_ground_section(cards_by_id, chosen, names)
    st.subheader("Does each version know the source?")
    source_section(cards_by_id, chosen, names)
    st.subheader("Explanation reports side by side")
    explanation_section(chosen, names)
    st.subheader("What changed")
    notes_section(cards_by_id, chosen)
    st.divider()
    image_section(cards_by_id, chosen, names)


main()
