"""The gallery says of a film what its dialog and Diagnose say: the card's triage mark is Diagnose's triage but
for the stability of the test-time copies, the Cases summary counts the maps by Diagnose's rules (the model's
own warning level, a map spread evenly), the cheating view's headings stand alone, and the view an educator
was projecting is still there after a visit to Diagnose.

Ground truth from `tests.gallery_support`: the shortcut model, exact lung fields, and a scope check whose
anatomy check calls the lesion films unusual (their lung texture) and every other film typical.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.present.gallery_cases import (
    card_checks_sentence,
    card_triage,
    count_cases,
    lung_summary,
    more_than_even,
    read_cases,
)
from model.present.text import lung_share_sentence
from tests.gallery_support import (
    LUNGS_ID,
    OWN_WARNING,
    SHORTCUT_ID,
    write_anatomy_scope,
    write_fixed_lungs_entry,
    write_shortcut_entry,
    write_shortcut_pool,
)
from tests.test_gallery import make_case

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 180
UNUSUAL = "second read advised (unusual anatomy for this model)"


@pytest.fixture(scope="module")
def scoped(tmp_path_factory):
    """(registry: the shortcut model with its anatomy scope check and the fixed lung fields, data root)."""
    registry = tmp_path_factory.mktemp("triage-registry")
    write_shortcut_entry(registry)
    write_fixed_lungs_entry(registry)
    write_anatomy_scope(registry)
    data = tmp_path_factory.mktemp("triage-data")
    write_shortcut_pool(data / "pool")
    return registry, data


# --------------------------------------------------------------------------- the core


def test_a_cards_triage_is_diagnoses_but_for_the_copies(scoped):
    """The card's triage and `triage.assess`'s (Diagnose's: input check, test-time copies, anatomy check) give every
    film the same findings in the same order, the copies' rule aside: an unusual anatomy makes a confident answer
    a second read on both."""
    from model.classifier import Classifier
    from model.inputs.intake import load_xray
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from model.prediction import Prediction
    from model.trust.scope import read_scope
    from model.trust.triage import assess

    registry, data = scoped
    clf, lungs, scope = Classifier.load(SHORTCUT_ID, registry), LungSegmenter.load(LUNGS_ID, registry), \
        read_scope(SHORTCUT_ID, registry)
    records = read_dataset(data / "pool" / "manifest.csv", keep_unknown=True)
    cases, _ = read_cases(clf, records, lungs=lungs.mask, low_threshold=scope.lung_attention_threshold, scope=scope)
    for case in cases:
        xray = load_xray(case.path)
        diagnose = assess(clf, xray, lungs.mask(xray.pixels), scope)
        without_copies = [(f.kind, f.severity, f.sentence) for f in diagnose.triage.findings
                          if f.kind != "copies_disagree"]
        assert [(f.kind, f.severity, f.sentence) for f in case.triage.findings] == without_copies, case.path
        assert case.triage.novelty == diagnose.triage.novelty, case.path
        if len(without_copies) == len(diagnose.triage.findings):
            assert case.triage.status == diagnose.triage.status, case.path
        # On assess's own inputs (its lung mask and the film's own pass), the card's triage is assess's, copies aside.
        same = card_triage(xray, diagnose.lung_mask, diagnose.prediction, scope)
        assert same.findings == [f for f in diagnose.triage.findings if f.kind != "copies_disagree"], case.path
        expected = "uncertain" if "-lesion-" in case.path else "answer"
        assert case.triage.status == expected and case.confidence > 0.9, (case.path, case.triage.reasons)
    # The probability rule at the model's own answer level, from the same function as Diagnose's.
    xray = load_xray(records[0].path)
    low = card_triage(xray, lungs.mask(xray.pixels), Prediction(tuple(clf.labels), np.array([0.5, 0.3, 0.2])), scope)
    assert low.status == "uncertain" and [f.kind for f in low.deciding] == ["low_probability"]
    # Without a lung model: no anatomy check and no lung fields to judge, as on Diagnose.
    plain = card_triage(xray, None, Prediction(tuple(clf.labels), np.array([0.95, 0.03, 0.02])), scope)
    assert plain.status == "answer" and plain.novelty is None


def test_the_dashboards_cached_triage_is_film_triages(scoped, monkeypatch):
    """`dashboard.caching.triage` (Diagnose, Compare, the gallery's dialog) is `film_triage` on the same film, lung
    mask, test-time copies and scope check: the anatomy check only with a scope check and a lung model, the reader's
    statement in the input check. A lesion film (unusual anatomy), a marker film, with and without a lung model."""
    from dashboard import caching
    from model.classifier import Classifier
    from model.inputs.intake import load_xray
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from model.trust.facts import Stated
    from model.trust.scope import read_scope
    from model.trust.triage import answer_levels, film_triage
    from model.trust.uncertainty import tta_uncertainty

    registry, data = scoped
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    st.cache_data.clear()
    clf, segmenter, scope = Classifier.load(SHORTCUT_ID, registry), LungSegmenter.load(LUNGS_ID, registry), \
        read_scope(SHORTCUT_ID, registry)
    key, lungs = caching.model_key(SHORTCUT_ID), caching.model_key(LUNGS_ID)
    records = read_dataset(data / "pool" / "manifest.csv", keep_unknown=True)
    films = [next(r.path for r in records if kind in r.path) for kind in ("-lesion-", "-marker-")]
    seen = set()
    for path, (lung_model, stated) in [(path, case) for path in films
                                       for case in ((lungs, None), (None, None), (lungs, Stated(age_years=8)))]:
        xray = load_xray(path)
        digest = f"{Path(path).name}"  # the cache's key for these pixels, as an upload's SHA-256 is
        mask = segmenter.mask(xray.pixels) if lung_model is not None else None
        copies = tta_uncertainty(clf, clf.prepare(xray.pixels, mask), **answer_levels(scope))
        expected = film_triage(xray, mask, copies, scope, stated)[2]
        shown = caching.triage(digest, key, lung_model, xray.pixels, xray.metadata, stated)
        assert shown == expected, (path, lung_model, stated)
        seen.add((shown.status, shown.novelty is None))
    # the cases differ where it matters: unusual anatomy, no anatomy check without lungs, a child out of scope
    assert {("uncertain", False), ("answer", True), ("out_of_scope", False)} <= seen, seen


def test_the_cards_caption_names_the_one_check_the_dialog_adds():
    line = card_checks_sentence("the model's own answer level (78.3%)", lungs=True, anatomy=True)
    assert line.startswith("Cards are marked as Diagnose marks the film (the input check with its lung fields, the "
                           "anatomy check and the model's own answer level (78.3%))")
    assert line.endswith("The case's dialog adds one check, the stability of the film's test-time copies, which can "
                         "turn an answer into *second read advised* or, when some copies fall below the answer level, "
                         "add a caution to it.")
    assert "anatomy" not in card_checks_sentence("the default answer level (60.0%)", lungs=False, anatomy=False)
    # A model with a limit of copies below its level (v3: 2): the dialog can hold back what the card shows as an
    # answer, and the caption says so (it said copies below the level only add a caution).
    limited = card_checks_sentence("the model's own answer level (66.3%)", lungs=True, anatomy=True, copies_allowed=2)
    assert ("(copies that give other classes, or more than 2 below the answer level) or, when fewer fall below it, "
            "add a caution to it: a card marked as an answer may open as *second read advised*.") in limited


def test_the_summary_counts_the_maps_as_diagnose_words_each_film():
    """41.9% against a warning level of 26.9% and an even spread of 38.5%: Diagnose says "not unusually little ...
    this one puts more"; the summary counts it the same way, never as "mostly outside"."""
    from dataclasses import replace

    film = replace(make_case("film", lung_share=0.419), lung_even=0.385, lung_low=False)
    diagnose = lung_share_sentence(film.lung_share, 0.269, "Grad-CAM", even=film.lung_even)
    assert "not unusually little" in diagnose and "this one puts more" in diagnose and more_than_even(film)
    # Equal as shown (to 0.1%): "as much", not more.
    tie = replace(film, lung_share=0.38541, lung_even=0.38512)
    assert "this one puts as much" in lung_share_sentence(0.38541, 0.269, "Grad-CAM", even=0.38512)
    assert not more_than_even(tie)
    low = replace(film, path="/x/low.png", lung_share=0.2, lung_low=True)
    lungless = replace(film, path="/x/none.png", lung_share=None, lung_even=None, lungs_found=False,
                       map_note="No plausible lung fields.")
    counts = count_cases(72, 3, [film, tie, low, lungless], shown=4)
    assert (counts.mapped, counts.below_level, counts.above_even, counts.no_lungs) == (3, 1, 1, 1)
    line = lung_summary(counts, 0.269, own=True)
    assert line == (" The share of the map on the lungs is measured on 3 of the 4 (1 without plausible lung fields, "
                    "out of scope: no share): 1 below 26.9%, this model's own warning level (set from its correct "
                    "answers), where Diagnose, Compare versions and the Gallery warn; 1 put more there than a map "
                    "spread evenly over what the model "
                    "saw would (about 38%, the median of these films).")
    assert "mostly outside" not in line and "50" not in line
    assert ("none below 50.0%, the warning level (the default: this model has no level of its own), where Diagnose, "
            "Compare versions and the Gallery warn") in lung_summary(count_cases(1, 1, [film], 1), 0.5, own=False)
    assert lung_summary(count_cases(1, 1, [make_case("x", lung_share=None)], 1), 0.5, own=False) == ""


def test_a_sources_heading_says_what_its_cases_are():
    from dataclasses import replace

    from model.present.cheating_view import count_cheats, group_headings

    cases = [replace(make_case("a1", confidence=0.95, lung_share=0.1), lung_even=0.35),
             replace(make_case("a2", confidence=0.9, lung_share=0.3, label="Normal"), lung_even=0.35),
             replace(make_case("b1", confidence=0.9, lung_share=0.5, source="beta"), lung_even=0.35)]
    # beta's one confident answer favours the lungs: a source with nothing flagged gets no heading (and no cards)
    [(group, heading)] = group_headings(count_cheats(cases, 0.8, 1.0, 0.269), 1.0)
    assert group.source == "alpha" and heading == (
        "alpha: 2 of its 2 confident answers (100%) have less of the map on the lungs than an even spread would (1 of "
        "the 2 below this model's own warning level, 26.9%); 1 of these 2 misclassified")
    [(_, one)] = group_headings(count_cheats(cases[:1], 0.8, 0.5, 0.05), 0.5, own=False)
    assert one == (
        "alpha: 1 of its 1 confident answers (100%) has less of the map on the lungs than 50% of what an even spread "
        "would (none below the default warning level, 5.0%); this one not misclassified")
    # The rule is each film's own even spread, not a line: a level of 50% is still worth counting against.
    [(_, level)] = group_headings(count_cheats(cases, 0.8, 1.0, 0.5), 1.0, own=False)
    assert "(all 2 below the default warning level, 50.0%)" in level
    # Of these flagged answers alone: a bare "none misclassified" read as none of the source's answers.
    both = [replace(case, correct=False, predicted="Normal") for case in cases[:2]]
    [(_, wrong)] = group_headings(count_cheats(both, 0.8, 1.0, 0.269), 1.0)
    assert wrong.endswith("; all 2 of these misclassified")
    [(_, right)] = group_headings(count_cheats([cases[0], replace(cases[0], path="/x/a3.png")], 0.8, 1.0, 0.269), 1.0)
    assert right.endswith("; none of these 2 misclassified")
    [(_, lone)] = group_headings(count_cheats(both[:1], 0.8, 1.0, 0.269), 1.0)
    assert lone.endswith("; this one misclassified")


# --------------------------------------------------------------------------- the page


@pytest.fixture()
def gallery(scoped, monkeypatch):
    registry, data = scoped
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    monkeypatch.setenv("CXR_DATA", str(data))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/gallery_page.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def cards(at, prefix: str = "explain_") -> dict[str, tuple[str, str]]:
    """{file name: (its Explain button's key, the card's caption)} of the cards drawn."""
    found = {}
    for column in at.columns:
        keys = [b.key for b in column.button if b.key and b.key.startswith(prefix)]
        if len(keys) == 1:
            found[Path(keys[0].removeprefix(prefix)).name] = (keys[0], " ".join(c.value for c in column.caption))
    return found


def dialog_triage(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Triage:**"))


def test_a_card_and_its_dialog_give_the_film_one_status(gallery):
    at = gallery
    drawn = cards(at)
    lesion = next(name for name in drawn if "-lesion-COVID-19-" in name)
    plain = next(name for name in drawn if "-plain-Normal-" in name)
    # named as the model's own triage: beside "answer matches the label" it reads as a second fact, not a contradiction
    assert f"Triage: {UNUSUAL}" in drawn[lesion][1], drawn[lesion]
    assert "second read advised" not in drawn[plain][1] and "out of scope" not in drawn[plain][1]
    caption = next(c.value for c in at.caption if c.value.startswith("Cards are marked as Diagnose marks the film"))
    assert "the anatomy check" in caption and "adds one check, the stability of the film's test-time copies" in caption
    for name, status in ((lesion, f"Uncertain: {UNUSUAL}"), (plain, "Answer")):
        at.button(key=drawn[name][0]).click().run()
        assert not at.exception
        assert dialog_triage(at).startswith(f"**Triage:** {status}"), (name, dialog_triage(at))
        at.button(key="close_case").click().run()


def test_the_summary_counts_by_the_models_own_warning_level(gallery):
    line = next(m.value for m in gallery.markdown if "the model read" in m.value)
    # 14 films read: the markers' and plain films' maps lie off the lungs (10), the lesions' on them (4).
    assert (f"The share of the map on the lungs is measured on 14 of the 14: 10 below {OWN_WARNING:.1%}, this "
            "model's own warning level (set from its correct answers), where Diagnose, Compare versions and the "
            "Gallery warn; 4 put more there") in line
    assert "mostly outside" not in line and "under 50%" not in line


def test_the_cheating_view_is_still_there_after_diagnose(gallery):
    at = gallery
    at.segmented_control(key="gallery_view").set_value("cheats").run()
    assert at.query_params.get("view") == ["cheats"] or at.query_params.get("view") == "cheats"
    # The headline a class reads says how many of the flagged maps are unusual for this model too.
    headline = next(m.value for m in at.markdown if m.value.startswith("#### On **"))
    assert "unusually so for this model" in headline, headline
    # Its cards carry the same marks as the Cases view's, said by the same caption.
    assert any(c.value.startswith("Cards are marked as Diagnose marks the film") for c in at.caption), \
        [c.value for c in at.caption]
    heading = next(m.value for m in at.markdown if m.value.startswith("##### alpha:"))
    assert heading == ("##### alpha: 6 of its 6 confident answers (100%) have less of the map on the lungs than an "
                       f"even spread would (all 6 below this model's own warning level, {OWN_WARNING:.1%}); 1 of these "
                       "6 misclassified")
    key = next(key for key, _ in cards(at, "cheat_alpha_").values())
    at.button(key=key).click().run()
    at.button(key="open_in_diagnose").click().run()
    assert not at.exception and any(t.value == "Diagnose & explain" for t in at.title)
    at.switch_page("views/gallery_page.py").run()  # "Case gallery" in the side menu
    assert not at.exception
    assert at.segmented_control(key="gallery_view").value == "cheats"
    assert any(m.value.startswith("##### alpha:") for m in at.markdown)
    # Back to Cases: the address no longer names the cheating view.
    at.segmented_control(key="gallery_view").set_value("cases").run()
    assert "view" not in at.query_params
