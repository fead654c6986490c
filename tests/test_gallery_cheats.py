"""The gallery for an educator: filters before the sample, the map's share on the lungs on every case,
"where the model cheats" by source, the case explained where it was clicked and handed to Diagnose
as a labelled teaching case.

The ground truth comes from `tests.gallery_support`: a fixed-weights model that reads a corner marker
(outside the lungs) on the "alpha" films and a lesion (inside a lung) on the "beta" ones, and a lung
model whose lung fields are exact.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from model.present.cheating_view import (
    FRAME_COLUMNS,
    cheating_by_source,
    cheating_frame,
    cheating_total,
)
from model.present.gallery_cases import read_cases
from tests.gallery_support import POOL, write_fixed_lungs_entry, write_shortcut_entry, write_shortcut_pool
from tests.test_gallery import make_case

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 180
IN_POOL = sum(count for *_, count in POOL)


# --------------------------------------------------------------------------- the core


def test_cheating_by_source_counts_confident_answers_whose_map_misses_the_lungs():
    cases = [make_case("a1", confidence=0.95, lung_share=0.1, source="alpha"),
             make_case("a2", confidence=0.90, lung_share=0.3, source="alpha", label="Normal"),
             make_case("a3", confidence=0.85, lung_share=0.8, source="alpha"),
             make_case("a4", confidence=0.50, lung_share=0.0, source="alpha"),  # not confident
             make_case("b1", confidence=0.99, lung_share=0.7, source="beta"),
             make_case("b2", confidence=0.99, lung_share=None, source="beta"),  # nothing known of its map
             make_case("c1", confidence=0.81, lung_share=0.45, source="")]
    groups = cheating_by_source(cases)
    assert [g.source for g in groups] == ["unknown", "alpha", "beta"], "worst share first"
    alpha = groups[1]
    assert (alpha.confident, alpha.outside, alpha.wrong) == (3, 2, 1)
    assert alpha.share == pytest.approx(2 / 3)
    assert [Path(c.path).stem for c in alpha.cases] == ["a1", "a2"], "the lowest share first"
    assert (groups[2].confident, groups[2].outside, groups[2].share) == (1, 0, 0.0)
    assert cheating_total(groups) == (5, 3)
    frame = cheating_frame(groups)
    assert list(frame.columns) == FRAME_COLUMNS and list(frame["map mostly outside the lungs"]) == [1, 2, 0]
    # How many of them the model's own warning level (Diagnose's) flags too: c1 (45%) is only mostly outside.
    from model.present.cheating_view import below_own_level, own_level_sentence
    shares = sorted(c.lung_share for g in groups for c in g.cases)
    assert below_own_level(groups, 0.33) == sum(share < 0.33 for share in shares) < 3
    assert own_level_sentence(groups, 0.33).startswith(f"{below_own_level(groups, 0.33)} of these 3 lie below 33.0% "
                                                       "on the lungs, this model's own warning level")
    assert own_level_sentence(groups, 0.46, outside=0.5).startswith("All 3 lie below 46.0% on the lungs")
    # A level at or above "mostly outside" adds nothing: every flagged map lies below it by definition.
    assert own_level_sentence(groups, 0.5) == "" and own_level_sentence(groups, 0.99) == ""
    # A model without a scope check: the policy's default level, never called its own.
    default = own_level_sentence(groups, 0.33, own=False)
    assert "the default warning level (this model has no scope check of its own), where Diagnose warns" in default
    assert "own warning level" not in default and "Performance" not in default
    assert own_level_sentence([], 0.33) == ""
    # None below the level: said as such, not as "0 of these ... the others".
    assert own_level_sentence(groups, 0.01).startswith("None of these 3 lies below 1.0% on the lungs")
    stricter = cheating_by_source(cases, min_confidence=0.9, max_lung_share=0.2)
    assert cheating_total(stricter) == (3, 1)
    assert cheating_by_source([]) == []
    for bad in ({"min_confidence": 0.0}, {"max_lung_share": 1.5}):
        with pytest.raises(ValueError):
            cheating_by_source(cases, **bad)


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
    assert ("**1 misclassified** (33%), 1 of them at the default answer level (60.0%; this model has no scope check "
            "of its own) or more") in line
    # Only the misclassified: the lesion film labelled Normal, which the model calls COVID-19 at 99%.
    at.segmented_control(key="gallery_show").set_value("wrong").run()
    assert card_files(at) == [f for f in card_files(at) if "-lesion-Normal-" in f] and len(card_files(at)) == 1
    assert "Showing **1** (misclassified only)" in summary(at)


def test_orders_confident_errors_first_and_lowest_lung_share_first(gallery):
    at = gallery
    first_two = card_files(at)[:2]
    assert {re.sub(r"-\d+\.png$", "", f) for f in first_two} == {"alpha-marker-Normal", "beta-lesion-Normal"}
    at.selectbox(key="gallery_order").set_value("lungs").run()
    files = card_files(at)
    shares = table(at).set_index("path")["lung_share"]
    by_name = {Path(p).name: share for p, share in shares.items()}
    ordered = [by_name[f] for f in files]
    assert ordered == sorted(ordered) and files[-1].startswith("beta-lesion-")
    assert any(":orange[map **0.0%** on the lungs]" in m.value for m in at.markdown)
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
    expected = [Path(p).name for p in table(at)["path"]]
    assert [f for page in pages for f in page] == expected
    assert any(c.value == "Cards 13–14 of 14; the others on the pages above the cards." for c in at.caption)
    # Another order starts on its first page and orders over every case: the lowest share of the map first.
    at.selectbox(key="gallery_order").set_value("lungs").run()
    assert pager(at).value == 0
    files = [f for page in every_page(at) for f in page]
    by_name = {Path(p).name: share for p, share in table(at).set_index("path")["lung_share"].items()}
    assert sorted(files) == sorted(expected) and [by_name[f] for f in files] == sorted(by_name.values())
    # Only the misclassified: 2 of them, on one page.
    at.segmented_control(key="gallery_show").set_value("wrong").run()
    assert not [w for w in at.segmented_control if w.key and w.key.startswith("gallery_page:")]
    assert len(card_files(at)) == 2


def test_where_the_model_cheats_by_source(gallery):
    at = gallery
    at.segmented_control(key="gallery_view").set_value("cheats").run()
    assert not at.exception
    # alpha: 3 marker films and 1 labelled against its marker, 2 plain films read off the dark surround;
    # beta: 4 lesion films (map in the lungs: not counted), 4 plain films (surround): all confident.
    assert any(m.value.startswith("#### On **10 of 14** confident answers (71%), the map of Shortcut test model "
                                  "lies mostly outside the lungs") for m in at.markdown)
    # This entry has no scope check: its warning level is the policy's 50%, the "mostly outside" line itself, so
    # no line counts the maps below it (all are, by definition) and nothing calls a level this model's own.
    assert not any("warning level" in m.value or "own answer level" in m.value for m in at.markdown)
    frame = at.dataframe[0].value
    assert list(frame["source"]) == ["alpha", "beta"]
    assert list(frame["map mostly outside the lungs"]) == [6, 4] and list(frame["share"]) == [100.0, 50.0]
    # The heading says what its cases are (the view's definition), standing alone on a projected slide.
    assert any(m.value == "##### alpha: 6 of its 6 confident answers (100%) have less than 50.0% of the map on the "
                          "lungs; 1 of the 6 misclassified" for m in at.markdown)
    assert len(card_files(at, "cheat_alpha_")) == 4 and len(card_files(at, "cheat_more_alpha_")) == 2
    beta = card_files(at, "cheat_beta_")
    assert beta and not [f for f in beta if "-lesion-" in f]
    # A stricter definition, from the popover: from 99% only the marker films (99.4-99.5%) and the lesion
    # film labelled Normal (99.3%) are confident; the plain films (98.4%) are not.
    slider = next(s for s in at.slider if s.key.startswith("cheat_confident_"))  # keyed by the model's level
    at.slider(key=slider.key).set_value(0.99).run()
    assert any(m.value.startswith("#### On **4 of 5** confident answers (80%)") for m in at.markdown)


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
    assert f"`{Path(path).name}`" in box and "true label **Normal** (from the data)" in box
    assert "source `alpha`" in box and "never seen (source not in its training data)" in box
    assert re.search(r"answered \*\*COVID-19\*\* \(99\.\d%, 0.0% of its map on the lungs\): :red\[misclassified\]", box)
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

    masked = cheats_headline((5, 5, 72), 0.845, "MobileNet", lung_mask=True)
    assert masked == ("On **5 of 5** confident answers (100%), the map of MobileNet spills mostly outside the lung "
                      "fields, the only part of the film it sees")
    whole = cheats_headline((2, 8, 72), 0.8, "CNN", lung_mask=False)
    assert whole.endswith("(25%), the map of CNN lies mostly outside the lungs")
    assert cheats_headline((0, 0, 12), 0.845, "CNN", lung_mask=False) == \
        "None of the 12 answers read is confident (84.5% or more)."
    # How many are unusual for this model too, in the headline a class reads (79% "mostly outside" read as
    # 79% cheating where 3 of the 26 lay below the model's own warning level).
    assert cheats_headline((26, 33, 72), 0.783, "CNN", False, unusual=3).endswith(
        "(79%), the map of CNN lies mostly outside the lungs; **3** of them unusually so for this model")
    assert cheats_headline((26, 33, 72), 0.783, "CNN", False, unusual=0).endswith("; **none** of them unusually so "
                                                                                 "for this model")
    assert cheats_headline((2, 8, 72), 0.8, "CNN", False, unusual=2).endswith("; all of them unusually so for this model")
    assert cheats_headline((0, 8, 72), 0.8, "CNN", False, unusual=0).endswith("lies mostly outside the lungs")

