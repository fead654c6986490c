"""The source-probe and held-out-source tables of the Performance and Compare pages."""
import json
import re
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from model.present.charts import trajectory_figure
from model.present.shortcut_tables import (
    averaging_sentence,
    held_out_table,
    source_probe_mean,
    source_probe_table,
    trajectory_frame,
    trajectory_sentence,
)

PROBE = {"per_class": {"Normal": {"sources": ["nih", "teach"], "n": {"nih": 30, "teach": 20},
                                  "balanced_accuracy": 0.9, "chance": 0.5},
                       "COVID-19": {"sources": ["a", "b", "c"], "n": {"a": 10, "b": 10, "c": 10},
                                    "balanced_accuracy": 0.4, "chance": 1 / 3}},
         "mean_balanced_accuracy": 0.65}
HELD = {"teach": {"n": 20, "called_fraction": {"COVID-19": 0.1, "Normal": 0.85, "Pneumonia": 0.05},
                  "recall": {"Normal": 0.85}, "mean_confidence": 0.7}}


def test_tables_carry_the_figures_and_are_empty_without_them():
    probe = source_probe_table({"source_probe": PROBE})
    assert list(probe["class"]) == ["Normal", "COVID-19"] and list(probe["images"]) == [50, 30]
    assert list(probe.columns)[-1] == "sources"  # the long list last: cut off first on a narrow page
    assert list(probe["balanced accuracy"]) == [0.9, 0.4] and source_probe_mean({"source_probe": PROBE}) == 0.65
    held = held_out_table({"held_out_source": HELD})
    assert held.loc[0, "recall"] == 0.85 and held.loc[0, "called Normal"] == 0.85
    # Its share columns by name, for the page's formats and headers (it never reads "called" off a header).
    from model.present.shortcut_tables import HELD_OUT_SHARES, called_column
    assert {called_column(label) for label in HELD["teach"]["called_fraction"]} | set(HELD_OUT_SHARES) <= set(held)
    assert held.loc[0, "runs"] == 1 and held.loc[0, "range"] == "one run"
    repeated = {"teach": {**HELD["teach"], "repeats": [{"recall": 0.85}, {"recall": 0.3}, {"recall": 0.68}]}}
    held = held_out_table({"held_out_source": repeated})
    assert held.loc[0, "runs"] == 3 and held.loc[0, "range"] == "30%–85% (3 runs)"
    assert held.loc[0, "median"] == 0.68 and held.loc[0, "recall"] == 0.85  # headline run, and the middle run
    assert source_probe_table({}).empty and held_out_table({}).empty and source_probe_mean({}) is None
    # A run recorded twice (a watched rerun reproduces its run figure for figure) counts once, and the copy
    # with the separation is the one kept, so recall and separation count the same runs.
    run = {"n": 20, "called_fraction": {"Normal": 0.85}, "mean_confidence": 0.7, "recall": 0.85}
    twice = {"teach": {**HELD["teach"], "repeats": [
        run, {**run, "recall": 0.3}, {**run, "separation": {"A vs B": {"auc": 0.7, "best_both": 0.6}}}]}}
    held = held_out_table({"held_out_source": twice})
    assert held.loc[0, "runs"] == 2 and held.loc[0, "range"] == "30%–85% (2 runs)"
    from model.present.shortcut_tables import held_out_separation
    assert held_out_separation({"held_out_source": twice})[0]["runs"] == 1


def test_runs_that_held_a_source_out_alone_or_with_others_are_separate_rows():
    both, alone = ["cov-b", "teach"], ["teach"]
    run = {"n": 20, "called_fraction": {"COVID-19": 0.1, "Normal": 0.6, "Pneumonia": 0.3}, "mean_confidence": 0.6}
    block = {"teach": {**run, "recall": {"Normal": 0.6}, "trained_without": both, "repeats": [
        {**run, "recall": 0.6, "trained_without": both}, {**run, "recall": 0.7, "trained_without": both},
        {**run, "recall": 0.9, "trained_without": alone,
         "called_fraction": {"COVID-19": 0.05, "Normal": 0.9, "Pneumonia": 0.05}, "mean_confidence": 0.8}]}}
    table = held_out_table({"held_out_source": block})
    assert list(table.columns[:7]) == ["held-out source", "also held out", "images", "recall", "median", "runs",
                                       "range"]
    assert list(table["also held out"]) == ["cov-b", "–"] and list(table["recall"]) == [0.6, 0.9]
    assert list(table["range"]) == ["60%–70% (2 runs)", "one run"] and list(table["called Normal"]) == [0.6, 0.9]
    assert list(table["mean confidence"]) == [0.6, 0.8]
    # A card written before repeats named their setting: one row, the source's own setting and figures.
    old = {"teach": {**HELD["teach"], "trained_without": both, "repeats": [{"recall": 0.85}, {"recall": 0.5}]}}
    table = held_out_table({"held_out_source": old})
    assert len(table) == 1 and table.loc[0, "also held out"] == "cov-b" and table.loc[0, "range"] == "50%–85% (2 runs)"
    assert table.loc[0, "called Normal"] == 0.85


def trajectory(separations, val_aucs) -> dict:
    """A card's held_out_trajectory with the given per-epoch separation and validation AUCs."""
    return {"run": "r.json", "trained_without": ["teach", "cov-b"], "epochs": [
        {"epoch": i + 1, "val_auc": v, "separation": {"COVID-19 vs Normal": {"auc": a, "best_both": a - 0.05}},
         "called_right": {"teach": 0.5, "cov-b": 0.4}} for i, (a, v) in enumerate(zip(separations, val_aucs))]}


def test_the_trajectory_says_when_the_unseen_separation_peaked_and_where_it_ended():
    frame = trajectory_frame({"held_out_trajectory": trajectory([0.70, 0.78, 0.74, 0.66], [0.65, 0.72, 0.80, 0.84])})
    assert list(frame.columns) == ["epoch", "internal validation AUC", "unseen COVID-19 vs Normal AUC",
                                   "teach called right", "cov-b called right"]
    sentence = trajectory_sentence(frame)
    assert sentence.startswith("Unseen COVID-19 vs Normal separation peaked at 0.78 in epoch 2 (internal "
                               "validation AUC 0.72 then); in the last epoch it was 0.66 with internal validation "
                               "AUC 0.84.")
    assert "do not carry over" in sentence and "best internal validation AUC came" not in sentence  # last = best
    # Rising together: no claim about the sources; the best internal epoch named when it is not the last.
    steady = trajectory_sentence(trajectory_frame({"held_out_trajectory": trajectory([0.6, 0.7, 0.72],
                                                                                     [0.7, 0.85, 0.8])}))
    assert "do not carry over" not in steady and "best internal validation AUC came in epoch 2" in steady
    figure = trajectory_figure(frame)
    assert [t.name for t in figure.data] == list(frame.columns[1:])
    assert trajectory_frame({}).empty and trajectory_sentence(trajectory_frame({})) is None
    averaged = {"held_out_trajectory": {**trajectory([0.7, 0.78, 0.74], [0.6, 0.7, 0.8]), "average_from": 2}}
    assert averaging_sentence(averaged) == ("This recipe does not keep one epoch: the model it ships is the mean of "
                                            "the weights of epochs 2 to 3, which flattens the swings of single epochs.")
    assert averaging_sentence({"held_out_trajectory": trajectory([0.7], [0.6])}) is None
    assert not trajectory_figure(trajectory_frame({})).data


def performance_page(registry, monkeypatch, metrics=None, card=None, training=None) -> AppTest:
    """The Performance page of a one-entry registry whose metrics, card and card's training block
    are updated with the given dicts."""
    from tests.support import write_tiny_entry

    write_tiny_entry(registry, "tiny-perf", default=True)
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    entry = registry / "tiny-perf"
    written = json.loads((entry / "metrics.json").read_text())
    (entry / "metrics.json").write_text(json.dumps({**written, **(metrics or {})}))
    written = json.loads((entry / "card.json").read_text())
    written = {**written, **(card or {}), "training": {**written["training"], **(training or {})}}
    (entry / "card.json").write_text(json.dumps(written))
    st.cache_data.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/performance_page.py").run()
    assert not at.exception
    return at


def test_performance_page_shows_the_source_probe_and_held_out_sources(tmp_path, monkeypatch):
    pair = {"COVID-19 vs Normal": {"auc": 0.71, "best_both": 0.66}}
    held = {"teach": {**HELD["teach"], "separation": pair}}
    at = performance_page(tmp_path, monkeypatch, metrics={"source_probe": PROBE}, training={"held_out_source": held})
    assert any("Does the model know the source?" in h.value for h in at.subheader)
    assert any("Unseen COVID-19 films against unseen Normal films" in m.value and "AUC 0.71." in m.value
               and "at most 66% of both" in m.value for m in at.markdown)
    assert any(m.label.startswith("Mean balanced accuracy") and m.value == "65.0%" for m in at.metric)
    # Each held-out source's share called right is a headline figure of its own; the table carries the rest.
    assert any(m.label == "teach" and m.value == "85%" and m.proto.delta == "one run" for m in at.metric)
    table = next(d.value for d in at.dataframe if "held-out source" in d.value.columns)
    assert table.loc[0, "called Normal"] == "85%"  # as printed: a missing share reads "–", never "None"
    assert not any("Triage on the test split" in h.value for h in at.subheader)  # no scope check: no section
    # With several runs, the headline is their median, and says so (the table keeps the first run).
    repeated = {"teach": {**held["teach"], "repeats": [{"recall": 0.85}, {"recall": 0.3}, {"recall": 0.68}]}}
    again = performance_page(tmp_path / "again", monkeypatch, metrics={"source_probe": PROBE},
                             training={"held_out_source": repeated})
    assert any(m.label == "teach" and m.value == "68%" and m.proto.delta == "median of 3 runs" for m in again.metric)
    assert not any("During training" in m.value for m in at.markdown)  # no watched run: no chart


def test_performance_page_with_a_probe_and_no_held_out_run(tmp_path, monkeypatch):
    at = performance_page(tmp_path, monkeypatch, metrics={"source_probe": PROBE})
    assert any(c.value.startswith("No held-out-source run recorded") for c in at.caption)
    assert not any("held-out source" in d.value.columns for d in at.dataframe)


def test_performance_page_shows_a_watched_runs_trajectory(tmp_path, monkeypatch):
    at = performance_page(tmp_path, monkeypatch, training={
        "held_out_source": HELD, "held_out_trajectory": trajectory([0.70, 0.78, 0.66], [0.65, 0.72, 0.84])})
    assert any("During training: the internal figure against unseen sources" in m.value for m in at.markdown)
    assert any(c.value.startswith("Unseen COVID-19 vs Normal separation peaked at 0.78 in epoch 2")
               and "trained without teach, cov-b" in c.value for c in at.caption)


def test_performance_page_shows_the_triage_of_the_test_split(tmp_path, monkeypatch):
    from tests.test_present_triage import SCOPE

    at = performance_page(tmp_path, monkeypatch, card={"scope": SCOPE})
    assert any("Triage on the test split" in h.value for h in at.subheader)
    tables = [d.value for d in at.dataframe]
    rows = next(t for t in tables if "measure" in t.columns)
    assert dict(zip(rows["measure"], rows["value"]))["Answer: share of test films"] == "80%"
    from model.present.triage_summary import triage_rows
    values = triage_rows(SCOPE)["value"]  # the figures as the core gives them, some missing
    assert rows["value"].tolist() == ["–" if pd.isna(v) else f"{v:.0%}" for v in values]
    assert not any(cell is None or cell == "None" for t in tables for column in t.columns for cell in t[column])
    assert any("held-out source" in t.columns and "AUROC" in t.columns for t in tables)


def test_compare_page_shows_each_versions_source_probe(tmp_path, monkeypatch):
    from tests.support import write_tiny_entry

    for model_id in ("tiny-p1", "tiny-p2"):
        write_tiny_entry(tmp_path, model_id, default=model_id == "tiny-p1")
        entry = tmp_path / model_id
        metrics = json.loads((entry / "metrics.json").read_text())
        (entry / "metrics.json").write_text(json.dumps({**metrics, "source_probe": PROBE}))
        card = json.loads((entry / "card.json").read_text())
        card["training"]["held_out_source"] = {"teach": {**HELD["teach"], "separation": {
            "COVID-19 vs Normal": {"auc": 0.71, "best_both": 0.66}}}}
        (entry / "card.json").write_text(json.dumps(card))
    monkeypatch.setenv("CXR_REGISTRY", str(tmp_path))
    monkeypatch.delenv("CXR_DATA", raising=False)
    st.cache_data.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/compare_page.py").run()
    assert not at.exception
    assert any("Does each version know the source?" in h.value for h in at.subheader)
    key = "source probe, mean balanced accuracy (lower is better)"
    table = next(d.value for d in at.table if key in d.value.index)  # a wrapping table (fits four versions)
    first, second = "Tiny test model tiny-p1", "Tiny test model tiny-p2"  # by name, as the side panel names them
    assert table.loc[key, first] == table.loc[key, second] == "65%"  # shares in whole percent, as the page's rule
    assert table.loc["held out, COVID-19 vs Normal AUC (any bias)", first] == "0.71"
    assert table.loc["held out teach: median recall", first] == "85%"


# --------------------------------------------------------------------------- the shortcut story in plain words

INTERNAL_KEY = re.compile(r"\b(?:training|metrics|card|preprocessing)\.[a-z_]+")
SHIPPED = Path(__file__).resolve().parents[1] / "model" / "versions"


def shipped_classifiers():
    from model.registry import CLASSIFIER, list_cards

    return list_cards(CLASSIFIER, SHIPPED)


def words(block: str) -> int:
    return len(block.split())


def test_the_notes_of_every_shipped_version_read_as_short_plain_blocks():
    from model.present.shortcut_tables import plain_notes

    cards = shipped_classifiers()
    assert cards
    for card in cards:
        blocks = plain_notes(card.notes)
        text = "\n".join(blocks)
        assert not INTERNAL_KEY.search(text), (card.id, text)
        assert "CLAHE" not in text.replace("(CLAHE)", ""), card.id  # the term only in brackets after plain words
        assert "letterboxed" not in text and "collimation" not in text
        for block in blocks:
            if block.lstrip().startswith("- ") or "\n- " in block:  # a list: each item short
                assert all(words(line) <= 45 for line in block.splitlines()), block
            else:  # a paragraph: two sentences at most
                assert words(block) <= 90 and len(re.findall(r"[.!?](\s|$)", block)) <= 2, block
    # What the card said survives: the key's figures are named by where the reader finds them.
    notes = "Figures are in training.held_out_source. CLAHE helps."
    assert plain_notes(notes) == ["Figures are in “Does the model know the source?” on the Performance page. "
                                  "Local contrast equalisation (CLAHE) helps."]
    assert plain_notes("") == []


def test_the_shortcut_story_comes_from_the_cards_facts():
    from model.present.shortcut_tables import shortcut_story
    from model.registry import read_metrics

    for card in shipped_classifiers():
        story = shortcut_story(card, read_metrics(card.id, SHIPPED))
        text = "\n".join(story)
        assert not INTERNAL_KEY.search(text) and "_" not in text.replace("lungs-unet-v1", ""), (card.id, text)
        assert story[0].startswith("Where a film comes from can give its label away.")
        assert any(block.startswith("**How much is left**") for block in story)
        for block in story:  # short paragraphs; a list may be longer, each of its lines short
            lines = block.splitlines()
            assert all(words(line) <= 40 for line in lines if line.startswith("- ")), block
            assert words(" ".join(line for line in lines if not line.startswith("- "))) <= 110, block
    card = next(c for c in shipped_classifiers() if c.id == "cxr-compact-averaged-v2")
    story = shortcut_story(card, read_metrics(card.id, SHIPPED))
    assert "Normal came from nih-chestxray14 (59%), openist-normal (40%)" in story[0]
    assert "- Everything outside the lung fields (slightly enlarged) is set to black" in story[1]
    assert "39% of the covid-radiography-db films (median of 3 runs)" in story[2]  # the median, as every page gives it
    # The closing sentence claims no more than the figures show: below half right on an unseen collection, it says so.
    assert "It is still wrong on most covid-radiography-db films (39% right)" in story[2]


def test_what_is_left_is_judged_by_the_held_out_figures():
    from model.present.shortcut_tables import _verdict_on_what_is_left

    good = [{"held-out source": "a", "median": 0.95}, {"held-out source": "b", "median": 0.914}]
    bad = good + [{"held-out source": "c", "median": 0.3}, {"held-out source": "d", "median": 0.05}]
    assert _verdict_on_what_is_left(True, good) == ("The steps above are meant to reduce the shortcut; none removes "
                                                    "it. The figures above say how much of it is left.")
    # More than one film in ten wrong (as printed), though not most: said in words, the worst collection.
    fair = good + [{"held-out source": "e", "median": 0.777}, {"held-out source": "f", "median": 0.52}]
    assert _verdict_on_what_is_left(True, fair).endswith("It still gets 48% of the f films wrong: a new collection's "
                                                         "look still sways some of its answers.")
    assert "10% of the g films" in _verdict_on_what_is_left(True, [{"held-out source": "g", "median": 0.904}])
    worst = _verdict_on_what_is_left(True, bad)
    assert "still wrong on most d films (5% right)" in worst and "reduce" in worst
    assert _verdict_on_what_is_left(False, bad).startswith("This version takes no particular step against the shortcut.")
    assert _verdict_on_what_is_left(True, []).endswith("how much is left is not measured.")


def test_provenance_facts_have_plain_names_and_no_machine_paths():
    from model.present.shortcut_tables import provenance_facts

    for card in shipped_classifiers():
        facts = dict(provenance_facts(card.training))
        assert facts and not any("_" in name for name in facts), card.id
        assert not any("shared/data" in value for value in facts.values()), card.id
    facts = dict(provenance_facts({"split_method": "hash", "wall_time_s": 810.7, "odd_key": 3, "command": "x"}))
    assert facts == {"how patients were split": "by a hash of the patient's id (a patient keeps its split when data "
                                                "are added)", "training time": "14 min", "odd key": "3"}
    # An ensemble's total is named as one, not a second "training time" beside the members'.
    ensemble = dict(provenance_facts({"members_wall_time_s": 852.5, "merge_wall_time_s": 12.0, "wall_time_s": 864.5}))
    assert ensemble == {"members' training time": "14 min", "time to combine the members": "12 s",
                        "total time (members and combining)": "14 min"}


def test_performance_page_tells_the_shortcut_in_plain_words(tmp_path, monkeypatch):
    at = performance_page(tmp_path, monkeypatch, metrics={"source_probe": PROBE},
                          card={"notes": "Against shortcuts: a; b; CLAHE and c. Figures are in training.held_out_source."},
                          training={"held_out_source": HELD, "init_seed": 3, "split_method": "hash"})
    assert any(h.value == "The shortcut, in plain words" for h in at.subheader)
    shown = "\n".join(m.value for m in at.markdown)
    assert "Where a film comes from can give its label away." in shown
    assert "**How much is left**" in shown and "85% of the teach films" in shown
    assert "- Local contrast equalisation (CLAHE) and c." in shown
    assert not INTERNAL_KEY.search(shown) and "init_seed" not in shown and "split_method" not in shown
    assert "**random seed of the first weights:** 3" in shown


def test_the_rebuild_facts_stay_with_the_command():
    from model.present.shortcut_tables import provenance_facts

    facts = dict(provenance_facts({"command": "python -m training.train --data ../shared/data/x.csv",
                                   "built_with": "python -m training.crossval --data ../shared/data/x.csv",
                                   "rebuild_note": "training.train reruns it", "seed": 1}))
    assert facts == {"random seed of the split": "1"}  # the commands and the note go with the command


def test_the_within_source_pair_figure_is_said_with_its_film_counts():
    from model.present.shortcut_tables import within_source_pair_sentences
    from model.registry import read_metrics

    report = read_metrics("cxr-mobilenet-v2", SHIPPED)
    [sentence] = within_source_pair_sentences(report)
    pair = report["within_source_covid_vs_pneumonia"]["ieee8023-covid-chestxray"]["test"]
    assert f"AUC {pair['auc']:.3f} on the test split ({pair['n_pos']} COVID-19 and {pair['n_neg']} Pneumonia" in sentence
    assert within_source_pair_sentences({}) == [] and within_source_pair_sentences(read_metrics("cxr-compact-v1", SHIPPED)) == []


def test_each_within_source_figure_names_what_it_ranks_by_and_why_they_differ():
    """The default model's page gave three AUCs for ieee8023's 54 test films (COVID-19 0.823, Pneumonia 0.723, the
    pair 0.848) with nothing saying they rank by three scores: each is now named, and the note says why."""
    from model.present.shortcut_tables import PAIR_SCORE, within_source_pair_sentences, within_source_table_note
    from model.registry import read_metrics

    report = read_metrics("cxr-mobilenet-v3", SHIPPED)
    [sentence] = within_source_pair_sentences(report)
    assert f"Each film is ranked by {PAIR_SCORE}, so the probability the model gives Normal plays no part." in sentence
    note = within_source_table_note(report)
    assert note.startswith("Each cell is one class against the collection's other films, each film ranked by the "
                           "model's probability of that class alone (one-vs-rest).")
    source = report["per_source"]["ieee8023-covid-chestxray"]
    cells = [source["per_class"][label]["auc"] for label in ("COVID-19", "Pneumonia")]
    pair = report["within_source_covid_vs_pneumonia"]["ieee8023-covid-chestxray"]["test"]["auc"]
    assert len({f"{value:.3f}" for value in (*cells, pair)}) == 3  # three figures for one set of films
    assert (f"its COVID-19 cell ({cells[0]:.3f}, ranked by P(COVID-19)), its Pneumonia cell ({cells[1]:.3f}, ranked "
            f"by P(Pneumonia)) and the pair figure above ({pair:.3f}, ranked by COVID-19's share of the two) judge "
            f"the same {source['n']} films") in note
    assert "probability of Normal" in note
    # A collection with Normal films as well: its cells are one-vs-rest over three classes, not the pair's films.
    three = json.loads(json.dumps(report))
    three["per_source"]["ieee8023-covid-chestxray"]["per_class"]["Normal"]["support"] = 3
    assert "ieee8023-covid-chestxray holds only" not in within_source_table_note(three)
    assert "nih-chestxray14 holds only" in within_source_table_note(three)
    assert within_source_table_note({}) == note[:note.index("(one-vs-rest).") + len("(one-vs-rest).")]
    older = within_source_table_note(read_metrics("cxr-compact-v1", SHIPPED))  # no pair figure recorded
    assert "pair figure" not in older and "ieee8023-covid-chestxray holds only" in older


def test_every_collection_of_two_classes_says_why_its_two_cells_differ():
    """The review: nih-chestxray14 holds Normal and Pneumonia films only (0.760 and 0.735 for the default model's
    138 test films) but the note explained only ieee8023's cells. Every such collection is now explained, with the
    figures the table shows and the third class named."""
    from model.present.shortcut_tables import within_source_column_help, within_source_table_note
    from model.registry import read_metrics

    report = read_metrics("cxr-mobilenet-v3", SHIPPED)
    note = within_source_table_note(report)
    for source, sub in report["per_source"].items():
        present = [label for label in report["labels"] if sub["per_class"][label].get("support")]
        if len(present) != 2:
            assert f"{source} holds only" not in note
            continue
        first, second = present
        cells = [sub["per_class"][label]["auc"] for label in present]
        assert (f"{source} holds only {first} and {second} films, so its {first} cell ({cells[0]:.3f}, ranked by "
                f"P({first}))") in note
        assert f"its {second} cell ({cells[1]:.3f}, ranked by P({second}))" in note
        other = next(label for label in report["labels"] if label not in present)
        assert f"probability of {other}, more to some films" in note
    assert "nih-chestxray14 holds only Normal and Pneumonia films" in note  # the case the review found missing
    assert "judge the same 138 films by two scores" in note and "judge the same 54 films by three scores" in note
    assert within_source_column_help("Normal") == ("Normal against the collection's other films (one-vs-rest), "
                                                   "each film ranked by the model's probability of Normal alone, "
                                                   "P(Normal).")


def test_the_pair_sentence_claims_no_more_than_its_counts():
    from model.present.shortcut_tables import _verdict_on_what_is_left, within_source_pair_sentences

    def report(**sources):
        return {"within_source_covid_vs_pneumonia": {
            name: {"test": {"auc": 0.8, "n_pos": pos, "n_neg": neg}} for name, (pos, neg) in sources.items()}}

    [one] = within_source_pair_sentences(report(a=(40, 8)))
    assert "the one collection with both COVID-19 and Pneumonia films" in one and "rough" in one
    both = within_source_pair_sentences(report(a=(400, 300), b=(50, 60)))
    assert len(both) == 2 and not any("one collection" in s or "rough" in s for s in both)
    # A median printed as 50% is not "wrong on most".
    assert "wrong on most" not in _verdict_on_what_is_left(True, [{"held-out source": "x", "median": 0.496}])
    assert "wrong on most x films (49% right)" in _verdict_on_what_is_left(True, [{"held-out source": "x", "median": 0.494}])


def test_range_note_follows_the_widest_range_shown():
    """The caption's word on run-to-run ranges is measured from the table: it said "tens of points" beside the
    default's ranges of 2 and 4 points."""
    from model.present.shortcut_tables import range_note

    def table(*recall_lists):
        sources = {f"s{i}": {**HELD["teach"], "repeats": [{"recall": r} for r in recalls]}
                   for i, recalls in enumerate(recall_lists)}
        return held_out_table({"held_out_source": sources})

    assert range_note(table([0.51, 0.53], [0.75, 0.79])) == \
        "range: over the recorded runs of the recipe (at most 4 points apart here)"
    assert range_note(table([0.30, 0.68], [0.75, 0.79])).endswith(
        "(at most 38 points apart here, so one run's figure is not a precise measure)")
    assert range_note(table([0.5, 0.51])).endswith("(at most 1 point apart here)")
    # Measured between the ends as printed: 32%-46% (cxr-compact-averaged-v2's recalls 0.325 and 0.4575) is 14 points.
    assert table([0.325, 0.4575]).loc[0, "range"] == "32%–46% (2 runs)"
    assert range_note(table([0.325, 0.4575])).startswith("range: over the recorded runs of the recipe (at most 14 points")
    assert range_note(held_out_table({"held_out_source": HELD})) == ""  # one run: nothing to say about a range
    assert range_note(held_out_table({})) == ""
