"""Model performance: training curves, test-split metrics, calibration, how trustworthy the explanations
are and where the data came from."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import caching, widgets
from model.explain import METHODS
from model.present import charts, shortcut_tables, text, triage_summary
from model.present.comparison import curve_cells
from model.present.glossary import explain, explained
from model.trust.agreement import Agreement, pair_methods
from model.trust.explanations import FaithfulnessSummary, LungGroup, LungSummary, SanitySummary, lung_groups
from model.trust.faithfulness import CHANCE_MARGIN
from model.trust.map_checks import similarity_text

PLOT_CONFIG = {"displaylogo": False}
WEAK_WITHIN_SOURCE_AUC = 0.7  # Within-source AUCs below this are highlighted.
FLAGGED_STYLE = "background-color: rgba(220, 60, 40, 0.35); font-weight: 700;"
WEAK_STYLE = "background-color: rgba(230, 150, 30, 0.35);"


def _label(method: str | None, unknown: str | None = None) -> str:
    """A method's label from the registry of methods (a name from an older report is shown as it is)."""
    return METHODS[method].label if method in METHODS else (unknown or str(method))


def headline_row(report: dict) -> None:
    cols = st.columns(5)
    macro = report.get("macro", {})
    cols[0].metric("Accuracy", text.percent(report.get("accuracy")), help=explain("Accuracy"))
    cols[1].metric("Macro AUC", text.number(macro.get("auc")), help=explained("Macro AUC", "AUC"))
    cols[2].metric("Macro F1", text.number(macro.get("f1")), help=explained("Macro F1", "F1"))
    cols[3].metric("Calibration error (ECE)", text.number((report.get("calibration") or {}).get("ece")),
                   help=f"{explain('Calibration error (ECE)')} Its 95% interval (below, when the card has one) is "
                        "corrected for the upward bias of resampling it: a resample adds noise, which this measure "
                        "counts as miscalibration.")
    cols[4].metric("Test images", f"{report.get('n', 0):,}")
    intervals = text.intervals_caption(report)
    if intervals:
        st.caption(intervals)


def metrics_section(report: dict, card) -> None:
    st.subheader("Internal test split")
    headline_row(report)
    st.caption(f"This version's own test split ({text.test_set_summary(card)}), patients it never trained on "
               "from the sources it trained on. Versions tested on different films do not compare: *Compare "
               "versions* scores them on the same films.")
    table, matrix = st.columns([1, 1], gap="large")
    with table:
        st.markdown("**Per class**")
        st.dataframe(charts.per_class_table(report), hide_index=True, width="stretch",
                     column_config={name: st.column_config.NumberColumn(format=text.SCORE_FORMAT, help=explain(term))
                                    for name, term in (("precision", "Precision"), ("recall", "Recall"),
                                                       ("f1", "F1"), ("auc", "AUC"))})
        ranges = text.per_class_intervals_caption(report)
        if ranges:
            st.caption(ranges)
        normalize = st.toggle("Row-normalised confusion matrix", value=True, key="normalize")
    with matrix:
        st.plotly_chart(charts.confusion_matrix_figure(report, normalize=normalize), key="confusion",
                        config=PLOT_CONFIG)
    roc, calibration = st.columns(2, gap="large")
    roc.plotly_chart(charts.roc_figure(report), key="roc", config=PLOT_CONFIG)
    calibration.plotly_chart(charts.calibration_figure(report), key="calibration", config=PLOT_CONFIG)


def per_source_section(report: dict) -> None:
    """One confusion matrix per data source: a model that is only right on one source learnt the source."""
    per_source = report.get("per_source") or {}
    if not per_source:
        return
    st.subheader("By data source")
    st.caption("Accuracy that differs sharply between sources, or a class that comes from a single source, "
               "is a warning sign of a source shortcut.")
    # Accuracy to 0.1%, as the headline gives it ("84.82%" stood beside "77.6%"), still a number that sorts.
    st.dataframe(pd.DataFrame({source: {"images": sub.get("n"), "accuracy": text.as_shown(sub.get("accuracy"))}
                               for source, sub in per_source.items()}).T,
                 width="stretch", column_config={"accuracy": st.column_config.NumberColumn(format="%.1f%%"),
                                                 "images": st.column_config.NumberColumn(format="%d")})
    within_source_auc(report)
    cols = st.columns(min(3, len(per_source)))
    for i, (source, sub) in enumerate(per_source.items()):
        figure = charts.confusion_matrix_figure({"labels": report["labels"], **sub}, normalize=False)
        figure.update_layout(title=f"{source} ({sub.get('n', 0)} images)")
        cols[i % len(cols)].plotly_chart(figure, key=f"source-{i}", config=PLOT_CONFIG)


def within_source_table(report: dict) -> pd.DataFrame:
    """Per-class AUC inside each source (rows) and the number of images of each class there."""
    rows = {}
    for source, sub in (report.get("per_source") or {}).items():
        per_class = sub.get("per_class") or {}
        row = {label: (per_class.get(label) or {}).get("auc") for label in report["labels"]}
        row = {label: np.nan if value is None else float(value) for label, value in row.items()}
        row["images"] = sub.get("n")
        rows[source] = row
    return pd.DataFrame.from_dict(rows, orient="index", columns=[*report["labels"], "images"])


def within_source_auc(report: dict) -> None:
    """The honest shortcut test: how well the classes are told apart inside one collection."""
    table = within_source_table(report)
    labels = list(report["labels"])
    if table.empty or table[labels].isna().all().all():
        return
    st.markdown("**Per-class AUC within each source**")
    for sentence in shortcut_tables.within_source_pair_sentences(report):  # the figure the card cites
        st.markdown(sentence)
    # Text cells, so a missing AUC reads "–" rather than "None"; the colours come from the numbers.
    shown = table.astype(object)
    shown[labels] = table[labels].map(lambda v: "–" if pd.isna(v) else text.number(v))
    colours = table[labels].map(lambda v: WEAK_STYLE if pd.notna(v) and v < WEAK_WITHIN_SOURCE_AUC else "")
    st.dataframe(shown.style.apply(lambda _: colours, axis=None, subset=labels), width="stretch",
                 column_config={"images": st.column_config.NumberColumn(format="%d"),
                                **{label: st.column_config.TextColumn(f"{label} vs rest",
                                                                      help=shortcut_tables.within_source_column_help(label))
                                   for label in labels}})
    st.caption("Inside one collection the source cannot give the class away, so these AUCs test the findings "
               f"themselves (near 0.5: no better than chance). {shortcut_tables.within_source_table_note(report)} "
               f"Orange: below {WEAK_WITHIN_SOURCE_AUC}; –: the class is absent or alone in that source.")


def shortcut_section(card, report: dict) -> None:
    """How much the model leans on the source: the source probe and held-out-source figures."""
    probe, held = shortcut_tables.source_probe_table(report), shortcut_tables.held_out_table(card.training)
    if probe.empty and held.empty:
        return
    st.subheader("Does the model know the source?")
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Source probe**")
        if probe.empty:
            st.caption("Not measured for this version (`python -m training.source_probe --model ID`).")
        else:
            st.metric("Mean balanced accuracy (lower is better)", text.percent(shortcut_tables.source_probe_mean(report)),
                      help=explained("Source probe", "Balanced accuracy"))
            shown, config = widgets.figures_as_text(probe, {"balanced accuracy": "{:.0%}", "chance": "{:.0%}"})
            st.dataframe(shown, hide_index=True, width="stretch", column_config=config,
                         column_order=["class", "balanced accuracy", "chance", "images"])
            st.caption("Sources compared: " + "; ".join(f"{row['class']}: {row['sources']}" for row in probe.to_dict("records"))
                       + ".")
            st.caption("A simple classifier on the model's last features tries to tell the sources apart "
                       "within one class (cross-validated by patient). Near chance: the features carry little "
                       "of the source; high: the model can tell where a film comes from, which is how a "
                       "shortcut works.")
    with right:
        st.markdown("**Held-out sources**")
        if held.empty:
            st.caption("No held-out-source run recorded for this version (`python -m training.crossval`).")
        else:
            st.caption("Share of each source's films called their true class by a model trained without it")
        headline = held.drop_duplicates("held-out source")  # each source's first setting; the table has all
        for column, row in zip(st.columns(max(len(headline), 1)), headline.to_dict("records")):
            also = "" if row["also held out"] == "–" else f" Trained without {row['also held out']} too."
            runs = "one run" if row["runs"] == 1 else f"median of {row['runs']} runs"
            # the source as the label, what the figure is under it: a long label is cut at 1366 px
            column.metric(row["held-out source"], _percent(row["median"]), runs, delta_color="off", delta_arrow="off",
                          help=f"Over the recorded runs: {row['range']}; the table's shares (as …) are the first "
                               f"run's.{also}")
        for row in shortcut_tables.held_out_separation(card.training):
            st.markdown(shortcut_tables.separation_sentence(row))
    if not held.empty:  # full width: nine columns do not fit half the page at 1366 px
        called = {shortcut_tables.called_column(label): f"as {label}" for label in card.labels}
        # The range names the runs; recall is their median, as in the headline figures.
        shown, config = widgets.figures_as_text(
            held, dict.fromkeys([*shortcut_tables.HELD_OUT_SHARES, *called], "{:.0%}"),
            {"median": "recall", "mean confidence": "confidence", **called})
        st.dataframe(shown, hide_index=True, width="stretch",
                     column_order=[name for name in held.columns if name not in ("runs", "recall", "spread")],
                     column_config={"images": st.column_config.NumberColumn(format="%d"), **config})
        st.caption("Films of each source scored by a model that never trained on them (this version's "
                   "recipe retrained without the source or, for a version that never saw it, the version "
                   "itself): the honest stand-in for another hospital. Recall: the share of that source's films "
                   "called their true class (the median over the runs); as …: the share the first run called "
                   "each class; confidence: its mean top probability; also held out: the run left those sources "
                   "out as well (harder: fewer sources to learn from)"
                   + (f"; {note}." if (note := shortcut_tables.range_note(held)) else "."))
    trajectory_section(card)


def trajectory_section(card) -> None:
    """When in training the recipe learns the sources: a watched held-out run, epoch by epoch."""
    frame = shortcut_tables.trajectory_frame(card.training)
    if frame.empty:
        return
    run = card.training["held_out_trajectory"]
    st.markdown("**During training: the internal figure against unseen sources**")
    st.plotly_chart(charts.trajectory_figure(frame), key="trajectory", config=PLOT_CONFIG)
    sentences = [s for s in (shortcut_tables.trajectory_sentence(frame), shortcut_tables.averaging_sentence(card.training)) if s]
    st.caption("".join(s + " " for s in sentences) + "One held-out run of this version's recipe (trained without "
               f"{', '.join(run.get('trained_without') or [])}), scored on the unseen films after every epoch for "
               "this chart only; those figures never chose an epoch. Run-to-run noise is large (see the range above).")


def whole_percent_table(table: pd.DataFrame, columns: list[str], labels: dict[str, str] | None = None) -> None:
    """The table drawn full width with those columns as whole percent ("12%", as the page's other shares),
    a missing figure as "–" (`widgets.figures_as_text`)."""
    shown, config = widgets.figures_as_text(table, dict.fromkeys(columns, "{:.0%}"), labels)
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config)


def triage_section(card) -> None:
    """How the triage treats the model's own test films, and how its scope check did."""
    rows = triage_summary.triage_rows(card.scope)
    if rows.empty:
        return
    st.subheader("Triage on the test split")
    st.caption(triage_summary.thresholds_sentence(card.scope))
    left, right = st.columns(2, gap="large")
    with left:
        whole_percent_table(rows, ["value"])
        st.caption("Accuracy is shown as a share of films too. The lung-attention warning should fire more "
                   "often on wrong answers than on right ones, or it carries no information.")
    with right:
        synthetic = triage_summary.synthetic_table(card.scope)
        if not synthetic.empty:
            whole_percent_table(synthetic, ["held back as out of scope"], {"held back as out of scope": "held back"})
            st.caption("Inputs the dashboard was never made for, made up for this check: the share held back as out "
                       "of scope.")
    rules = triage_summary.rule_table(card.scope)
    if not rules.empty:  # full width, as the tables below: their rows are long sentences
        whole_percent_table(rules, ["fires on", "accuracy when it fires"])
        st.caption("Each rule on the test split: the share of films it holds back (they overlap) and how often "
                   "the model was right on those films.")
    unseen = triage_summary.unseen_table(card.scope)
    if not unseen.empty:  # full width: six columns do not fit half the page at 1366 px
        whole_percent_table(unseen, ["answered", "answered and right", "answered and wrong"])
        kinds = [kind for kind, present in (
            ("films of sources the model never trained on (a sample of each)", (card.scope or {}).get("unseen_sources")),
            ("the data's children's films", ((card.scope or {}).get("children") or {}).get("n"))) if present]
        st.caption(f"{' and '.join(kinds).capitalize()}, triaged as a plain upload is (no age or view stated). "
                   "Shares of very few films say little: see the images column.")
    held = triage_summary.held_out_scope_table(card.scope)
    if not held.empty:
        shares = explain("Unusual / out of scope (shares)")
        shown, config = widgets.figures_as_text(held, {"unusual": "{:.0%}", "out of scope": "{:.0%}",
                                                       "AUROC": f"{{:.{text.SCORE_DIGITS}f}}"},
                                                helps={"AUROC": explain("AUROC of the scope check"),
                                                       "unusual": shares, "out of scope": shares})
        st.dataframe(shown, hide_index=True, width="stretch", column_config=config)
        st.caption("The anatomy check fitted without each source, then run on that source's films. AUROC: how well "
                   "it tells them from the other sources' films, where 0.5 (it cannot tell them apart) is right: "
                   "these are clean adult frontal films, in scope. Unusual and out of scope: the shares it would "
                   "flag for a second read or hold back, where low is right.",
                   help=explained("Anatomy check", "AUROC of the scope check", "Held-out source"))


# --------------------------------------------------------------------------- explanation report


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _date(value) -> str:
    """"2026-11-22T02:07:59+00:00" as "2026-11-22 02:07 UTC"."""
    text = str(value or "n/a")
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 and text[10] == "T" else text


def _grid(cells: int | None) -> str:
    """A map grid as "5 x 5"; "n/a" for reports made before the grid was recorded."""
    return f"{cells} x {cells}" if cells else "n/a"


def faithfulness_table(faith: FaithfulnessSummary) -> pd.DataFrame:
    """One row per method, its chance level beside it (random maps on the method's own grid), its AUCs in the
    method's one format (`curve_cells`, as Compare and Diagnose give them)."""
    cells = {method: curve_cells(faith, method) for method in faith.methods}
    return pd.DataFrame([{"method": _label(method),
                          "deletion AUC": cells[method]["deletion"],
                          "random deletion AUC": cells[method]["random deletion"],
                          "lower than random": faith.beats_random(method, "deletion"),
                          "insertion AUC": cells[method]["insertion"],
                          "random insertion AUC": cells[method]["random insertion"],
                          "higher than random": faith.beats_random(method, "insertion"),
                          # formatted here, as Compare and the report's summary do (42.5% is "42%" everywhere)
                          "both better on": "–" if values.better_than_random_share is None
                          else f"{values.better_than_random_share:.0%}",
                          "grid": _grid(values.grid)}
                         for method, values in faith.methods.items()])


def sanity_table(sanity: SanitySummary) -> pd.DataFrame:
    """The check per method, its figures as text: a table cell shows a missing value (a method whose maps were
    all blank has no similarity) as "None", whatever a Styler's na_rep says."""
    return pd.DataFrame([{"method": _label(method),
                          "similarity (Spearman)": "n/a" if values.spearman is None
                          else similarity_text(values.spearman, signed=False),
                          "SSIM": "n/a" if values.ssim is None else f"{values.ssim:.2f}",
                          "blank maps": "n/a" if values.blank is None else f"{values.blank} of {values.n}",
                          "flagged": values.flagged, "inconclusive": values.inconclusive}
                         for method, values in sanity.methods.items()])


def explanation_section(card, key) -> None:
    """explanations.json of the model: lung attention, faithfulness and the randomisation sanity check."""
    st.subheader("Explanation report")
    report = caching.explanation_report_or_none(key)
    if report is None:
        st.caption(f"No explanation report for this model yet. Generate it (lung attention, deletion/insertion "
                   f"faithfulness and the randomisation sanity check on the model's test split) with "
                   f"`{text.explanation_report_command(card.id)}`.")
        return
    st.caption(f"{report.n} images of the {report.split} split, {len(report.methods)} methods, made "
               f"{_date(report.date)}" + (f" for version {report.version}" if report.version else "") + ".")
    if report.version and report.version != card.version:
        st.warning(f"The report was made for version {report.version}, not {card.version}; regenerate it.")
    level, own = caching.lung_attention_threshold(key), caching.own_levels(key)
    lung_attention_report(report.lung_attention, lung_groups(report.lung_attention, report.per_image, level),
                          (level, own), bool(card.prep.lung_mask), card.prep.mask_channel)
    faithfulness_report(report.faithfulness)
    sanity_report(report.sanity_check, report.method_agreement, report.agreement_not_measured)


def lung_attention_report(lungs: LungSummary, groups: list[LungGroup], warning: tuple[float, bool], lung_mask: bool,
                          mask_channel: bool = False) -> None:
    """The mean share of the maps on the lungs per group (`lung_groups`), each with the share of its images below
    the model's warning level; `warning` is (that level, whether it is the model's own). No figure is judged
    against 50%: a map's share means something only beside what the lungs fill of its film."""
    method = _label(lungs.method, "map")
    st.markdown(f"**Lung-field attention:** mean share of the {method} map inside the lungs")
    if lungs.overall is None:
        st.info(lungs.note or "Lung attention was not measured.", icon=":material/block:")
        return
    level, own = warning
    whose = "this model's own warning level" if own else "the default warning level"
    for column, group in zip(st.columns(len(groups)), groups):
        below = None if group.below is None else f"{group.below:.0%} below {text.lung_share(level)}"
        column.metric(group.name, "n/a" if group.mean is None else text.lung_share(group.mean), below,
                      delta_color="off", delta_arrow="off", border=True,
                      help=f"{group.n} images: the mean share of their maps on the lungs; under it, the share of "
                           f"them below {text.lung_share(level)}, {whose}, where {text.LUNG_WARNING_PAGES} warn "
                           "about a map.")
    caption = text.lung_attention_caption(lungs.segmenter, lungs.threshold, level if own else None, lung_mask,
                                          mask_channel)
    st.caption(f"{caption} {lungs.note}")


def faithfulness_report(faith: FaithfulnessSummary) -> None:
    st.markdown("**Faithfulness:** deletion and insertion against random maps as coarse as each method's own",
                help=explained("Faithfulness", "Deletion / insertion AUC"))
    if not faith.methods:
        st.caption("Not measured.")
        return
    table = faithfulness_table(faith)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={**{name: st.column_config.TextColumn(name, help=explain("Deletion / insertion AUC"))
                                   for name in table.columns if "AUC" in name},
                                "lower than random": st.column_config.CheckboxColumn("< random", width="small"),
                                "higher than random": st.column_config.CheckboxColumn("> random", width="small"),
                                "both better on": st.column_config.TextColumn("both better", width="small"),
                                "grid": st.column_config.TextColumn("grid", width="small")})
    st.caption("Removing the pixels a faithful map ranks highest makes the probability fall fast (lower "
               "deletion AUC than random maps); revealing them first makes it rise fast (higher insertion AUC). "
               "The random maps have as many cells as the method's own map (column 'grid'), so map and chance "
               "differ only in where they put the evidence. "
               f"The ticks (< random, > random) compare the means and need a lead of more than {CHANCE_MARGIN} "
               "(smaller gaps are the noise of the few random orders); 'both better' is the share of images where "
               "both hold, by the same rule." + (f" {faith.judged_sentence()}" if faith.judged_sentence() else ""))


def sanity_report(sanity: SanitySummary | None, agreement: Agreement | None, not_measured: dict | None = None) -> None:
    st.markdown("**Randomisation sanity check**", help=explain("Randomisation check"))
    if not sanity or not sanity.methods:
        st.caption("Not run.")
        return
    table = sanity_table(sanity)
    left, right = st.columns([1.4, 1], gap="large")
    with left:
        st.dataframe(table.style.apply(lambda row: [FLAGGED_STYLE if row["flagged"] else ""] * len(row), axis=1),
                     hide_index=True, width="stretch",
                     column_order=[name for name in table.columns if name != "inconclusive"],  # named beside it
                     column_config={"similarity (Spearman)": st.column_config.TextColumn(
                                        "similarity", help=explained("Map similarity", "Spearman")),
                                    "SSIM": st.column_config.TextColumn("SSIM", help=explain("SSIM")),
                                    "blank maps": "blank"})
    with right:
        flagged = list(table.loc[table["flagged"], "method"])
        unjudged = list(table.loc[table["inconclusive"], "method"])
        if flagged:
            one = len(flagged) == 1
            st.warning(f"Flagged: {', '.join(flagged)}. {'Its' if one else 'Their'} maps stayed similar (above "
                       f"{sanity.threshold}) when the trained weights were scrambled, "
                       f"so {'it' if one else 'they'} may show the image's structure rather than what the model "
                       "learnt.",
                       icon=":material/science:")
        if unjudged:
            one = len(unjudged) == 1
            st.warning(f"Not judged: {', '.join(unjudged)}. {'Its' if one else 'Their'} maps, trained or with "
                       f"scrambled weights, were blank on most images, and a blank map ranks nothing, so the "
                       f"similarity says nothing about {'it' if one else 'them'}.",
                       icon=":material/help:")
        if not flagged and not unjudged:
            st.caption(f"No method flagged: every method's maps changed when the weights were scrambled "
                       f"({sanity.n} images).")
        elif not flagged and len(unjudged) < len(table):
            st.caption("No other method flagged: their maps changed when the weights were scrambled "
                       f"({sanity.n} images).")
        if agreement:
            names = ", ".join(_label(m) for m in agreement.methods)
            # pairs with a blank map on some images were measured on the others only: say how many were left out
            left = "; ".join(f"{' vs '.join(_label(m) for m in pair_methods(pair))} on {n}"
                             for pair, n in (not_measured or {}).items())
            st.caption(f"Mean agreement between {names} (Spearman): {similarity_text(agreement.mean)}"
                       + (f" (not measured, a blank map, so left out: {left} images)." if left else "."),
                       help=explained("Mean agreement between methods", "Spearman"))


def provenance_section(card) -> None:
    st.subheader("Data provenance")
    training = card.training or {}
    splits = training.get("splits") or {}
    sources = training.get("sources") or []
    st.markdown("**Sources:** " + (", ".join(f"`{s}`" for s in sources) if sources else "not recorded"))
    left, right = st.columns([1, 1], gap="large")
    with left:
        facts = shortcut_tables.provenance_facts(training)
        if facts:  # a list, not a table: long values wrap instead of being cut
            st.markdown("\n".join(f"- **{name}:** {value}" for name, value in facts))
        if training.get("command"):
            with st.expander("The command that trained it"):
                st.code(training["command"], language="bash", wrap_lines=True)
                if training.get("rebuild_note"):
                    st.caption(training["rebuild_note"])
                if training.get("built_with"):
                    st.markdown("First built with:")
                    st.code(training["built_with"], language="bash", wrap_lines=True)
    with right:
        if splits:
            st.markdown("**Images per split**")
            st.dataframe(pd.DataFrame({name: {"images": s.get("images"), "patients": s.get("patients")}
                                       for name, s in splits.items()}), width="stretch")
            for field, title in (("by_label", "Per label"), ("by_source_label", "Per source and label")):
                table = pd.DataFrame({name: s.get(field, {}) for name, s in splits.items()})
                if not table.empty:
                    st.markdown(f"**{title}**")
                    st.dataframe(table.fillna(0).astype(int), width="stretch")
        else:
            st.info("The card records no split counts.")


def notes_section(card, report: dict) -> None:
    """The shortcut in short paragraphs of plain words, then the card's own notes, made readable."""
    st.subheader("The shortcut, in plain words")
    for block in shortcut_tables.shortcut_story(card, report):
        st.markdown(block)
    with st.expander("The notes recorded with this version"):
        for block in shortcut_tables.plain_notes(card.notes) or ["_The card has no notes._"]:
            st.markdown(block)


def main() -> None:
    cards = widgets.page_start("Model performance", words="performance")
    card = widgets.model_picker(cards, key="performance_model", label="Model version")
    key = caching.model_key(card.id)
    st.caption(f"{card.display_name}, version {card.version} · architecture `{card.architecture}` · "
               f"created {_date(card.created)} · classes {', '.join(card.labels)}")
    st.subheader("Training curves")
    members = (card.training or {}).get("members") or []
    histories = {card.id: caching.history_or_empty(key)}
    if members:  # An ensemble is assembled, not trained: its members' curves are its training.
        st.caption(text.members_curves_caption(card.training, caching.metrics_or_empty(key).get("accuracy")))
        for column, metric in zip(st.columns(2), charts.shown_curves(histories[card.id])):
            column.plotly_chart(charts.compare_curves(histories, metric), key=f"member_{metric}", config=PLOT_CONFIG)
    else:
        st.plotly_chart(charts.training_curves(histories[card.id]), key="curves", config=PLOT_CONFIG)
    trend = text.late_trend_sentence(charts.late_trends(histories[card.id]))
    if trend:
        st.caption(trend)
    report = caching.metrics_or_empty(key)
    if report.get("per_class"):
        metrics_section(report, card)
        per_source_section(report)
        shortcut_section(card, report)
        triage_section(card)
    else:
        st.info("This entry has no metrics.json, so there are no test-split figures to show.")
    explanation_section(card, key)
    notes_section(card, report)
    provenance_section(card)


main()
