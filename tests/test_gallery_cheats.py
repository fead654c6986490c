"""The gallery for an educator: filters before the sample, the map's share on the lungs on every case,
"where the model cheats" by source, the case explained where it was clicked and handed to Diagnose
as a labelled teaching case.

The ground truth comes from `tests.gallery_support`: a fixed-weights model that reads a corner marker
(outside the lungs) on the "alpha" films and a lesion (inside a lung) on the "beta" ones, and a lung
model whose lung fields are exact.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from model.present.cheating_view import (
    CONFIDENT,
    EVEN,
    FLAGGED_COLUMN,
    FRAME_COLUMNS,
    SHARE_COLUMN,
    CheatsCounts,
    below_own_level,
    card_outside_words,
    cheating_by_source,
    cheating_frame,
    cheating_total,
    count_cheats,
    left_out,
    own_level_sentence,
    rule_caption,
)
from model.present.gallery_cases import TABLE_COLUMNS, TABLE_FILE_COLUMNS, read_cases
from tests.gallery_support import (
    POOL,
    SHORTCUT_ID,
    write_fixed_lungs_entry,
    write_shortcut_entry,
    write_shortcut_pool,
)
from tests.test_gallery import make_case

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 180
IN_POOL = sum(count for *_, count in POOL)
SHORTCUT_NAME = "Shortcut test model"  # the display name of `gallery_support`'s card


# --------------------------------------------------------------------------- the core


def evened(name: str, confidence: float, share: float | None, even: float | None, source: str = "alpha",
           label: str = "COVID-19"):
    """A case read with its map's share on the lungs and its film's even spread share (`Case.lung_even`)."""
    return replace(make_case(name, confidence=confidence, lung_share=share, source=source, label=label), lung_even=even)


# a1, a2 below their film's even spread; a3 under half but above it (the old "mostly outside" counted it);
# b1 over half yet below its even spread (the old rule missed it); b2, b3 without one of the shares: left out;
# c1 below as shown (36.9% < 37.0%), c2 equal as shown (37.0% = 37.0%, as Diagnose says "as much").
CASES = [evened("a1", 0.95, 0.10, 0.35), evened("a2", 0.90, 0.30, 0.35, label="Normal"),
         evened("a3", 0.85, 0.41, 0.37), evened("a4", 0.50, 0.0, 0.35),
         evened("b1", 0.99, 0.55, 0.60, "beta"), evened("b2", 0.99, None, None, "beta"),
         evened("b3", 0.95, 0.45, None, "beta"),
         evened("c1", 0.81, 0.369, 0.370, ""), evened("c2", 0.82, 0.3704, 0.3701, "")]


def test_a_map_is_counted_when_it_puts_less_on_the_lungs_than_its_films_even_spread():
    groups = cheating_by_source(CASES)
    assert [g.source for g in groups] == ["beta", "alpha", "unknown"], "worst share first"
    beta, alpha, unknown = groups
    assert (alpha.confident, alpha.outside, alpha.wrong) == (3, 2, 1) and alpha.share == pytest.approx(2 / 3)
    assert [Path(c.path).stem for c in alpha.cases] == ["a1", "a2"], "the lowest share first; a3 favours the lungs"
    assert [Path(c.path).stem for c in beta.cases] == ["b1"] and beta.confident == 1, "b2, b3 are not measured"
    assert [Path(c.path).stem for c in unknown.cases] == ["c1"] and unknown.confident == 2
    assert cheating_total(groups) == (6, 4) and left_out(CASES) == 2 and left_out(CASES, 0.999) == 0
    frame = cheating_frame(groups)
    assert list(frame.columns) == FRAME_COLUMNS and list(frame[FLAGGED_COLUMN]) == [1, 2, 1]
    # A confident error whose map favours the lungs is not flagged, so not counted among the flagged misclassified:
    # "of them misclassified" read 0 beside the Cases view's confident errors, "them" taken for every answer.
    with_error = cheating_frame(cheating_by_source(CASES + [evened("a5", 0.9, 0.5, 0.35, label="Normal")]))
    alpha = with_error.set_index("source").loc["alpha"]
    assert (alpha["confident answers"], alpha[FLAGGED_COLUMN], alpha["flagged and misclassified"]) == (4, 2, 1)
    assert FLAGGED_COLUMN.startswith("flagged") and FRAME_COLUMNS[-1] == "flagged and misclassified"
    # Named as what it is a share of: beside the flagged maps, "share" read as the lungs' share.
    assert SHARE_COLUMN == "share of its confident answers" and list(frame[SHARE_COLUMN]) == pytest.approx([1, 2 / 3, 0.5])
    # Stricter, from the educator's control: less than half of what an even spread would put there.
    assert cheating_total(cheating_by_source(CASES, even_ratio=0.5)) == (6, 1)
    assert cheating_total(cheating_by_source(CASES, min_confidence=0.9)) == (3, 3)
    assert cheating_by_source([]) == []
    for bad in ({"min_confidence": 0.0}, {"even_ratio": 1.5}, {"even_ratio": 0.0}):
        with pytest.raises(ValueError):
            cheating_by_source(CASES, **bad)


def held_to(level: float, cases=CASES) -> CheatsCounts:
    """The view's figures over `cases` at the default rule, held to the warning level `level`."""
    return count_cheats(cases, CONFIDENT, EVEN, level)


def test_the_second_line_counts_the_flagged_maps_below_the_models_warning_level():
    groups = cheating_by_source(CASES)  # flagged shares 10%, 30%, 36.9%, 55%
    assert below_own_level(groups, 0.33) == 2
    counts = held_to(0.33)
    # Every figure the view says, counted once: the headline, the line under it and the headings read these.
    assert (counts.read, counts.confident, counts.flagged, counts.left_out) == (len(CASES), 6, 4, 2)
    assert counts.groups == tuple(groups) and counts.below == (0, 2, 0) and counts.below_level == 2
    line = own_level_sentence(counts)
    assert line.startswith("2 of these 4 lie below 33.0% on the lungs, this model's own warning level")
    assert line.endswith("each of the others favours what lies outside the lungs, but not unusually so for this model.")
    # The rule is each film's even spread, not a line: a level of 50% or more still says something (55% is above).
    assert own_level_sentence(held_to(0.5)).startswith("3 of these 4 lie below 50.0% on the lungs")
    assert own_level_sentence(held_to(0.6)).startswith("All 4 lie below 60.0% on the lungs")
    default = own_level_sentence(counts, own=False)
    assert ("the warning level (the default: this model has no level of its own), where Diagnose, Compare versions "
            "and the Gallery warn") in default
    assert "own warning level" not in default and "Performance" not in default
    assert own_level_sentence(held_to(0.33, [])) == "" and own_level_sentence(held_to(0.33, CASES[2:4])) == ""
    assert own_level_sentence(held_to(0.01)).startswith("None of these 4 lies below 1.0% on the lungs")
    assert own_level_sentence(held_to(0.33, CASES[:1])).startswith("It lies below 33.0% on the lungs")
    assert own_level_sentence(held_to(0.05, CASES[:1])).startswith("It does not lie below 5.0% on the lungs")


def test_the_captions_and_cards_say_the_same_rule():
    caption = rule_caption(0.783, 1.0, 0.37, missing=2)
    assert caption.startswith("Confident: 78.3% or more. Favours outside the lungs: less of the Grad-CAM map of the "
                              "answer on the lung fields than an even spread would put there.")
    assert "about 37% at the median of these films" in caption and "mostly outside" not in caption
    assert caption.endswith("2 confident answers are left out: no share on the lungs measured (no plausible lung "
                            "fields, or no evidence in the map).")
    assert "than 75% of what an even spread would put there" in rule_caption(0.8, 0.75, None)
    # A card says its film's own even spread beside the rest of the map, only when the map favours outside.
    low = replace(CASES[0], elsewhere="above the lungs", elsewhere_most=True)
    assert card_outside_words(low) == "less than an even spread's 35.0%; most of the rest: above the lungs"
    assert card_outside_words(replace(CASES[2], elsewhere="around the lungs' edges")) == "", "41% > 37%: favours lungs"
    assert card_outside_words(CASES[6]) == "" and card_outside_words(CASES[8]) == ""
    # Under the view's stricter rule a card says the line its share is under: 75% of 35.0% is 26.2% (a2's 30% is
    # not under it, a1's 10% is), never "less than an even spread's" alone for a rule that is not the even spread.
    assert card_outside_words(low, 0.75) == ("less than 26.2%, 75% of an even spread's 35.0%; most of the rest: "
                                             "above the lungs")
    assert card_outside_words(CASES[1], 0.75) == "" and card_outside_words(CASES[1]) != ""
    assert card_outside_words(CASES[0], 1.0) == card_outside_words(CASES[0]) == "less than an even spread's 35.0%"


@pytest.fixture(scope="module")
def shortcut_setup(tmp_path_factory):
    """(registry with the shortcut model and the fixed lung fields, data root holding the pool)."""
    registry = tmp_path_factory.mktemp("cheats-registry")
    write_shortcut_entry(registry)
    write_fixed_lungs_entry(registry)
    data = tmp_path_factory.mktemp("cheats-data")
    write_shortcut_pool(data / "pool")
    return registry, data


def test_the_cheating_view_finds_the_marker_and_not_the_lesion(shortcut_setup):
    from model.classifier import Classifier
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from tests.gallery_support import LUNGS_ID, SHORTCUT_ID

    registry, data = shortcut_setup
    records = read_dataset(data / "pool" / "manifest.csv", keep_unknown=True)
    cases, _ = read_cases(Classifier.load(SHORTCUT_ID, registry), records,
                          lungs=LungSegmenter.load(LUNGS_ID, registry).mask)
    found = {Path(c.path).stem for g in cheating_by_source(cases) for c in g.cases}
    assert {Path(r.path).stem for r in records if "-marker-" in r.path} <= found
    assert not {stem for stem in found if "-lesion-" in stem}, "a map on a lesion in the lungs is not a shortcut"


# --------------------------------------------------------------------------- the page


@pytest.fixture()
def gallery(shortcut_setup, monkeypatch):
    registry, data = shortcut_setup
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    monkeypatch.setenv("CXR_DATA", str(data))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/gallery_page.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def summary(at) -> str:
    return next(m.value for m in at.markdown if "images" in m.value and "the model read" in m.value)


def table(at):
    return next(e for e in at.expander if e.label == "All cases read, as a table").dataframe[0].value


def card_files(at, prefix: str = "explain_") -> list[str]:
    return [Path(b.key.removeprefix(prefix)).name for b in at.button if b.key and b.key.startswith(prefix)]


def test_counts_follow_the_filters_chosen_before_the_sample(gallery):
    at = gallery
    assert summary(at).startswith(f"**{IN_POOL}** of {IN_POOL} images; the model read **{IN_POOL}**")
    sources = at.selectbox(key="gallery_source")
    assert sources.options == [f"All sources ({IN_POOL})", "alpha (6)", "beta (8)"]
    sources.set_value("beta").run()
    assert summary(at).startswith(f"**8** of {IN_POOL} images match source `beta`; the model read **8**")
    assert set(table(at)["source"]) == {"beta"} and len(table(at)) == 8
    # The label filter counts what the source filter left.
    labels = at.selectbox(key="gallery_label")
    assert labels.options == ["All labels (8)", "COVID-19 (3)", "Normal (3)", "Tuberculosis (2)"]
    labels.set_value("Normal").run()
    assert at.selectbox(key="gallery_label").value == "Normal"  # the choice survives being set again each run
    line = summary(at)
    assert line.startswith(f"**3** of {IN_POOL} images match source `beta` and label Normal; the model read **3**")
    # "Confident" is the answer level: this test entry has no scope check, so the policy's 60%, named as the default.
    assert ("**1 misclassified** (33% of the 3 given an output; 1 of the 3 marked *Answer*), 1 of them at the answer "
            "level of 60.0% (the default: this "
            "model has no level "
            "of its own) or more") in line
    # Only the misclassified: the lesion film labelled Normal, which the model calls COVID-19 at 99%.
    at.segmented_control(key="gallery_show").set_value("wrong").run()
    assert card_files(at) == [f for f in card_files(at) if "-lesion-Normal-" in f] and len(card_files(at)) == 1
    assert "Showing **1** (misclassified only)" in summary(at)


def test_the_table_names_each_film_by_its_file_and_the_caption_the_model_by_its_name(gallery):
    at = gallery
    frame = table(at)
    assert list(frame.columns) == TABLE_COLUMNS + ["P(COVID-19)", "P(Normal)", "P(Pneumonia)"] + TABLE_FILE_COLUMNS
    assert all("/" not in name for name in frame["file"]) and sorted(frame["file"]) == sorted(card_files(at))
    root = os.environ["CXR_DATA"]
    assert not any(root in str(value) for value in frame.to_numpy().ravel()), "the server's path to the data"
    # the same figure as the card: "said COVID-19 99.2%" beside 99.2, never 99.24
    cards = [m.value for m in at.markdown if m.value.startswith("True **")]
    for row in frame.itertuples(index=False):  # each row's figures as a card prints them
        assert any(f"True **{row.true}** · said **{row.said}** {row.confidence:.1f}%" in card for card in cards)
    assert any(f"each case says which part of {SHORTCUT_NAME}'s split it is in" in c.value for c in at.caption)
    assert not any(f"{SHORTCUT_ID}'s split" in c.value for c in at.caption)


def test_orders_confident_errors_first_and_lowest_lung_share_first(gallery):
    at = gallery
    first_two = card_files(at)[:2]
    assert {re.sub(r"-\d+\.png$", "", f) for f in first_two} == {"alpha-marker-Normal", "beta-lesion-Normal"}
    at.selectbox(key="gallery_order").set_value("lungs").run()
    files = card_files(at)
    by_name = table(at).set_index("file")["on the lungs"]
    ordered = [by_name[f] for f in files]
    assert ordered == sorted(ordered) and files[-1].startswith("beta-lesion-")
    assert any(":orange[map **0.0%** on the lungs, under the warning level]" in m.value for m in at.markdown)
    assert any("most of the rest: above the lungs" in c.value for c in at.caption)
    # One colour bar for every thumbnail, and the maps can be switched off.
    assert sum("Thumbnails: Grad-CAM of the class each film was called" in c.value for c in at.caption) == 1
    with_maps = at.main.image[1].value
    at.toggle(key="gallery_maps").set_value(False).run()
    assert not any("Thumbnails: Grad-CAM" in c.value for c in at.caption)
    assert at.main.image[0].value != with_maps


def pager(at):
    return next(w for w in at.segmented_control if w.key and w.key.startswith("gallery_page:"))


def every_page(at) -> list[str]:
    """The card files of every page, walked from the first through the page switch."""
    seen, count = [], len(pager(at).options)
    for index in range(count):
        pager(at).set_value(index).run()
        assert not at.exception
        seen.append(card_files(at))
    return seen


def test_pages_hold_every_case_once_in_the_order_over_all_of_them(gallery):
    at = gallery
    assert not [w for w in at.segmented_control if w.key and w.key.startswith("gallery_page:")], "24 a page: one"
    assert len(card_files(at)) == IN_POOL
    at.select_slider(key="gallery_per_page").set_value(4).run()
    assert pager(at).options == ["1–4", "5–8", "9–12", "13–14"]
    # The counts cover every image read, whatever the page.
    assert summary(at).startswith(f"**{IN_POOL}** of {IN_POOL} images; the model read **{IN_POOL}**")
    assert f"Showing **{IN_POOL}** (all cases)" in summary(at)
    pages = every_page(at)
    assert [len(p) for p in pages] == [4, 4, 4, 2]
    # Confident errors first over all the cases: the pages, one after the other, are the table's order.
    expected = list(table(at)["file"])
    assert [f for page in pages for f in page] == expected
    assert any(c.value == "Cards 13–14 of 14; the others on the pages above the cards." for c in at.caption)
    # Another order starts on its first page and orders over every case: the lowest share of the map first.
    at.selectbox(key="gallery_order").set_value("lungs").run()
    assert pager(at).value == 0
    files = [f for page in every_page(at) for f in page]
    by_name = table(at).set_index("file")["on the lungs"].to_dict()
    assert sorted(files) == sorted(expected) and [by_name[f] for f in files] == sorted(by_name.values())
    # Only the misclassified: 2 of them, on one page.
    at.segmented_control(key="gallery_show").set_value("wrong").run()
    assert not [w for w in at.segmented_control if w.key and w.key.startswith("gallery_page:")]
    assert len(card_files(at)) == 2


def test_where_the_model_cheats_by_source(gallery):
    at = gallery
    at.select_slider(key="gallery_per_page").set_value(8).run()
    at.segmented_control(key="gallery_view").set_value("cheats").run()
    assert not at.exception
    # "Cards a page" does nothing here (no pages): not drawn; its choice comes back with the Cases view (below).
    assert not [s for s in at.select_slider if s.label == "Cards a page"]
    # alpha: 3 marker films and 1 labelled against its marker, 2 plain films read off the dark surround;
    # beta: 4 lesion films (map in the lungs: not counted), 4 plain films (surround): all confident. Each film's
    # lungs are 26.8% of what the model saw, so an even spread would put 26.8% there: the markers' and plain
    # films' maps (0-0.6%) put less, the lesions' (99-100%) more.
    assert any(m.value.startswith("#### On **10 of 14** confident answers (71%), the map of Shortcut test model "
                                  "puts less on the lungs than a map spread evenly over what it saw would: it "
                                  "favours what lies outside them") for m in at.markdown)
    # This entry has no scope check: its warning level is the policy's 50%, named as the default, never its own,
    # and counted (the old "mostly outside" line, also 50%, said nothing of it).
    assert any(m.value.startswith("All 10 lie below 50.0% on the lungs, the warning level (the default: this model "
                                  "has no level of its own), where Diagnose, Compare versions and the Gallery "
                                  "warn too") for m in at.markdown)
    assert not any("own warning level" in m.value or "own answer level" in m.value for m in at.markdown)
    caption = next(c.value for c in at.caption if c.value.startswith("Confident: "))
    assert "than an even spread would put there" in caption and "about 27% at the median of these films" in caption
    frame = at.dataframe[0].value
    assert list(frame["source"]) == ["alpha", "beta"]
    assert list(frame[FLAGGED_COLUMN]) == [6, 4] and list(frame[SHARE_COLUMN]) == [100.0, 50.0]
    assert list(frame["flagged and misclassified"]) == [1, 0]
    # The heading says what its cases are (the view's definition), standing alone on a projected slide.
    assert any(m.value == "##### alpha: 6 of its 6 confident answers (100%) have less of the map on the lungs than "
                          "an even spread would (all 6 below the default warning level, 50.0%); 1 of these 6 "
                          "misclassified" for m in at.markdown)
    assert len(card_files(at, "cheat_alpha_")) == 4 and len(card_files(at, "cheat_more_alpha_")) == 2
    beta = card_files(at, "cheat_beta_")
    assert beta and not [f for f in beta if "-lesion-" in f]
    # Each card gives its film's own even spread, the figure the rule compares its share with.
    assert sum(c.value.startswith("less than an even spread's 26.8%; ") for c in at.caption) == 10
    # The Definitions popover's label is short (its "?" beside it at 1366 px); the help says the whole rule.
    ratio = at.slider(key="cheat_even")
    assert ratio.label == "Flagged: lungs under % of an even spread" and len(ratio.label) <= 40
    assert "flagged (it favours what lies outside the lungs) when it puts less on them than this share of what an " \
           "even spread would put there" in ratio.help
    # A stricter definition, from the popover: from 99% only the marker films (99.4-99.5%) and the lesion
    # film labelled Normal (99.3%) are confident; the plain films (98.4%) are not.
    slider = next(s for s in at.slider if s.key.startswith("cheat_confident_"))  # keyed by the model's level
    at.slider(key=slider.key).set_value(0.99).run()
    assert any(m.value.startswith("#### On **4 of 5** confident answers (80%)") for m in at.markdown)
    # A quarter of an even spread (6.7% here): the markers' maps (0%) still put less on the lungs.
    at.slider(key="cheat_even").set_value(0.25).run()
    assert any(m.value.startswith("#### On **4 of 5** confident answers (80%), the map of Shortcut test model puts "
                                  "less on the lungs than 25% of what a map spread evenly over what it saw would")
               for m in at.markdown)
    assert any(m.value.startswith("##### alpha: 4 of its 4 confident answers (100%) have less of the map on the lungs "
                                  "than 25% of what an even spread would") for m in at.markdown)
    # The cards say the view's rule too (a quarter of 26.8%), not the even spread alone.
    cards = [c.value for c in at.caption if c.value.startswith("less than ")]
    assert len(cards) == 4 and all(c.startswith("less than 6.7%, 25% of an even spread's 26.8%; ") for c in cards)
    # Nothing flagged (beta's lesion films, their maps on the lungs): one all-clear, the headline itself, in green.
    at.slider(key=slider.key).set_value(0.8).run()
    at.selectbox(key="gallery_source").set_value("beta").run()
    at.selectbox(key="gallery_label").set_value("COVID-19").run()
    assert not at.exception
    assert [s.value for s in at.success] == ["On none of the 3 confident answers (80.0% or more) does the map of "
                                             "Shortcut test model put less on the lungs than 25% of what a map spread "
                                             "evenly over what it saw would."]
    assert not [m for m in at.markdown if m.value.startswith("#### ") or "On 0 of" in m.value]
    # Back on the Cases view, "Cards a page" is drawn again with the choice made before.
    at.segmented_control(key="gallery_view").set_value("cases").run()
    assert at.select_slider(key="gallery_per_page").value == 8


def test_the_case_opens_where_it_was_clicked_and_goes_to_diagnose_labelled(gallery):
    from dashboard.widgets import KEPT_UPLOAD

    at = gallery
    key = next(b.key for b in at.button if b.key and b.key.startswith("explain_") and "-marker-Normal-" in b.key)
    at.button(key=key).click().run()
    assert not at.exception
    # A dialog over the grid (not a panel at the top of the page), with the map's colour bar.
    dialog = next(block for block in at.get("dialog"))
    assert "true Normal, model COVID-19" in dialog.proto.dialog.title
    assert any(c.startswith("weak → strong evidence") for i in at.image for c in i.captions)
    at.button(key="close_case").click().run()
    assert "gallery_case" not in at.session_state and not list(at.get("dialog"))
    at.button(key=key).click().run()
    at.button(key="open_in_diagnose").click().run()
    assert not at.exception and any(t.value == "Diagnose & explain" for t in at.title)
    path = key.removeprefix("explain_")
    assert at.session_state[KEPT_UPLOAD][1] == Path(path).read_bytes()
    box = next(m.value for m in at.markdown if m.value.startswith(":material/school: **Teaching case**"))
    # Said by its label and source, not its file name (which can carry a patient's name in a hospital's own data).
    assert Path(path).name not in box and "true label **Normal** (from the data)" in box
    assert "source `alpha`" in box and "never seen (source not in its training data)" in box
    assert re.search(r"answered \*\*COVID-19\*\* \(99\.\d%, 0.0% of its map on the lungs\): :red\[misclassified\]", box)
    assert "In the gallery **Shortcut test model** answered" in box  # by its name, as the side panel says it
    # Another film replaces it: no teaching label on a film it does not belong to.
    from tests.support import png_bytes, synthetic_radiograph

    at.file_uploader[0].set_value(("other.png", png_bytes(synthetic_radiograph(64, seed=99)), "image/png")).run()
    assert not [m for m in at.markdown if "**Teaching case**" in m.value]


def test_without_a_lung_model_the_cheating_view_says_why(registry_env, monkeypatch, tmp_path):
    write_shortcut_pool(tmp_path / "pool")
    monkeypatch.setenv("CXR_DATA", str(tmp_path))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/gallery_page.py").run()
    assert not at.exception
    assert at.selectbox(key="gallery_order").options == ["Confident errors first", "Least confident first"]
    assert any("Share of each map on the lungs not measured" in c.value for c in at.caption)
    at.segmented_control(key="gallery_view").set_value("cheats").run()
    assert any("This view needs the share of each map on the lungs" in i.value for i in at.info)


def test_the_cheats_headline_is_worded_for_what_the_model_sees():
    from model.present.cheating_view import cheats_headline

    def counts(flagged: int, confident: int, read: int, missing: int, below: int = 0) -> CheatsCounts:
        """Figures as `count_cheats` gives them, for a view of that size (its groups are not read here)."""
        return CheatsCounts((), read, confident, flagged, missing, 0.3, (below,))

    masked = cheats_headline(counts(5, 5, 72, 0), 0.845, "MobileNet", lung_mask=True)
    assert masked == ("On **5 of 5** confident answers (100%), the map of MobileNet puts less on the lung fields (the "
                      "only part of the film it sees) than a map spread evenly over what it saw would: it favours what "
                      "lies outside them")
    whole = cheats_headline(counts(2, 8, 72, 0), 0.8, "CNN", lung_mask=False)
    assert whole.endswith("(25%), the map of CNN puts less on the lungs than a map spread evenly over what it saw "
                          "would: it favours what lies outside them")
    assert "than 50% of what a map spread evenly" in cheats_headline(counts(2, 8, 72, 0), 0.8, "CNN", False,
                                                                     even_ratio=0.5)
    assert cheats_headline(counts(0, 0, 12, 0), 0.845, "CNN", lung_mask=False) == \
        "None of the 12 answers read is confident (84.5% or more)."
    assert cheats_headline(counts(0, 0, 12, 3), 0.845, "CNN", lung_mask=False) == \
        "None of the 3 confident answers (84.5% or more) of the 12 read has its map's share on the lungs measured."
    # How many are unusual for this model too, in the headline a class reads (the default model's gallery: 5 of 33
    # flagged, 3 of them below its own warning level).
    assert cheats_headline(counts(5, 33, 72, 0, below=3), 0.783, "CNN", False, own=True).endswith(
        "(15%), the map of CNN puts less on the lungs than a map spread evenly over what it saw would: it favours what "
        "lies outside them; **3** of them unusually so for this model")
    # A default level is no measure of "unusual for this model": the line under the headline says it instead.
    assert "unusually" not in cheats_headline(counts(5, 33, 72, 0, below=3), 0.783, "CNN", False)
    assert cheats_headline(counts(5, 33, 72, 0, below=0), 0.783, "CNN", False, own=True).endswith(
        "; **none** of them unusually so for this model")
    assert cheats_headline(counts(2, 8, 72, 0, below=2), 0.8, "CNN", False, own=True).endswith(
        "; all of them unusually so for this model")
    # Confident answers and none flagged: one all-clear (not "On 0 of 8 (0%) ...: it favours what lies outside them").
    assert cheats_headline(counts(0, 8, 72, 0, below=0), 0.8, "CNN", False, own=True) == (
        "On none of the 8 confident answers (80.0% or more) does the map of CNN put less on the lungs than a map spread "
        "evenly over what it saw would.")
    assert "than 75% of what a map spread" in cheats_headline(counts(0, 33, 72, 0), 0.8, "CNN", True, even_ratio=0.75)
