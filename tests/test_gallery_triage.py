"""The gallery says of a film what its dialog and Diagnose say: the card's triage mark is Diagnose's triage (the
stability of the test-time copies included), the Cases summary counts the maps by Diagnose's rules (the model's
own warning level, a map spread evenly), the cheating view's headings stand alone, and the view an educator
was projecting is still there after a visit to Diagnose.

Ground truth from `tests.gallery_support`: the shortcut model, exact lung fields, and a scope check whose
anatomy check calls the lesion films unusual (their lung texture) and every other film typical; with its answer
level at 90% and at most 2 copies under it, the marker films' copies set them apart (4 of 7 under it).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from model.present.gallery_cases import (
    card_checks_sentence,
    count_cases,
    lung_summary,
    more_than_even,
    read_cases,
    shown_cases,
)
from model.present.text import lung_share_sentence
from tests.gallery_support import (
    COPIES_ALLOWED,
    COPIES_LEVEL,
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
TOO_MANY_BELOW = (f"second read advised (4 of 7 changed copies below the answer level {COPIES_LEVEL:.1%}, more than "
                  f"the {COPIES_ALLOWED} allowed)")


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


@pytest.fixture(scope="module")
def copies_scoped(tmp_path_factory):
    """(registry, data root) as `scoped`, the scope check at an answer level of `COPIES_LEVEL` with at most
    `COPIES_ALLOWED` copies under it (as cxr-mobilenet-v3's: 66.3% and 2)."""
    registry = tmp_path_factory.mktemp("copies-registry")
    write_shortcut_entry(registry)
    write_fixed_lungs_entry(registry)
    write_anatomy_scope(registry, answer_level=COPIES_LEVEL, copies_allowed=COPIES_ALLOWED)
    data = tmp_path_factory.mktemp("copies-data")
    write_shortcut_pool(data / "pool")
    return registry, data


def read_scoped(registry: Path, data: Path):
    """(classifier, lung segmenter, scope check, cases of the whole pool read as the gallery reads them)."""
    from model.classifier import Classifier
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from model.trust.scope import read_scope

    clf, lungs, scope = Classifier.load(SHORTCUT_ID, registry), LungSegmenter.load(LUNGS_ID, registry), \
        read_scope(SHORTCUT_ID, registry)
    records = read_dataset(data / "pool" / "manifest.csv", keep_unknown=True)
    cases, failed = read_cases(clf, records, lungs=lungs.mask, low_threshold=scope.lung_attention_threshold,
                               scope=scope)
    assert not failed
    return clf, lungs, scope, cases


# --------------------------------------------------------------------------- the core


def test_a_cards_triage_and_figure_are_diagnoses(scoped):
    """Every card's triage is `triage.assess`'s (Diagnose's: input check, test-time copies, anatomy check) on the
    same film: the same findings in the same order, the same status and novelty; and its figure is the one
    Diagnose shows, the film's own pass (the first row of the copies' batch). An unusual anatomy makes a confident
    answer a second read on both; without a lung model there is no anatomy check on either."""
    from model.inputs.intake import load_xray
    from model.present.gallery_cases import read_case
    from model.trust.triage import assess

    clf, lungs, scope, cases = read_scoped(*scoped)
    for case in cases:
        xray = load_xray(case.path)
        diagnose = assess(clf, xray, lungs.mask(xray.pixels), scope)
        assert case.triage == diagnose.triage, case.path
        assert case.probabilities == diagnose.prediction.as_dict() and case.predicted == diagnose.prediction.label
        expected = "uncertain" if "-lesion-" in case.path else "answer"
        assert case.triage.status == expected and case.confidence > 0.9, (case.path, case.triage.reasons)
    from model.labelled_data import LabelledImage

    alone = read_case(clf, LabelledImage(cases[0].path, cases[0].label, cases[0].source), scope=scope)
    xray = load_xray(cases[0].path)
    assert alone.triage == assess(clf, xray, None, scope).triage and alone.triage.novelty is None


def test_a_card_whose_copies_fall_below_the_level_is_uncertain_as_on_diagnose(copies_scoped, monkeypatch):
    """The marker films answer COVID-19 at 99.5%, over the model's level of 90%, but 4 of their 7 copies fall
    under it, more than the 2 the model allows: Diagnose (`assess`) and the gallery's dialog (`caching.triage`)
    say "second read advised" for that reason alone, and so does the card (it said "answer": it read no copies).
    The plain films' copies stay above the level: answers on every view. A second read is still an answer: the
    summary counts the misclassified among the answered, and "Misclassified only" shows them, as before."""
    from dashboard import caching
    from model.inputs.intake import load_xray
    from model.trust.triage import assess

    registry, data = copies_scoped
    clf, lungs, scope, cases = read_scoped(registry, data)
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    st.cache_data.clear()
    markers = [c for c in cases if "-marker-" in c.path]
    plain = [c for c in cases if "-plain-" in c.path]
    assert len(markers) == 4 and len(plain) == 6
    for case in markers + plain:
        xray = load_xray(case.path)
        diagnose = assess(clf, xray, lungs.mask(xray.pixels), scope).triage
        dialog = caching.triage(Path(case.path).name, caching.model_key(SHORTCUT_ID), caching.model_key(LUNGS_ID),
                                xray.pixels, xray.metadata)
        assert case.triage == diagnose == dialog, case.path
    for case in markers:
        assert case.confidence >= COPIES_LEVEL and case.triage.status == "uncertain", case.path
        assert [f.kind for f in case.triage.deciding] == ["many_copies_below"], case.triage.reasons
        assert case.triage.deciding[0].values["below"] == 4
    assert all(c.triage.status == "answer" for c in plain)
    # The marker film labelled Normal: misclassified with a second read advised, still answered and still shown.
    counts = count_cases(len(cases), len(cases), cases, shown=len(cases))
    wrong = [c for c in cases if c.known and not c.correct]
    assert counts.held_back == 0 and counts.with_output == counts.known == 12 and counts.wrong == len(wrong) == 2
    assert any("-marker-Normal-" in c.path for c in shown_cases(cases, "wrong"))
    assert {c.path for c in shown_cases(cases, "wrong")} == {c.path for c in wrong}


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


def test_the_cards_caption_names_every_check_of_the_mark():
    line = card_checks_sentence("the model's own answer level (78.3%)", lungs=True, anatomy=True)
    assert line.startswith("Cards are marked as Diagnose marks the film (the input check with its lung fields, the "
                           "anatomy check, the stability of its test-time copies and the model's own answer level "
                           "(78.3%)): *second read advised* or *out of scope* with what set it.")
    # No apology left: a card marked as an answer opens as an answer.
    assert "may open as" not in line and "adds one check" not in line
    plain = card_checks_sentence("the default answer level (60.0%)", lungs=False, anatomy=False)
    assert "anatomy" not in plain and "lung fields" not in plain and "test-time copies" in plain


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


def open_gallery(registry: Path, data: Path, monkeypatch):
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    monkeypatch.setenv("CXR_DATA", str(data))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/gallery_page.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


@pytest.fixture()
def gallery(scoped, monkeypatch):
    return open_gallery(*scoped, monkeypatch)


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
    # named as the model's own triage: beside "output matches the label" it reads as a second fact, not a contradiction
    assert f"Triage: {UNUSUAL}" in drawn[lesion][1], drawn[lesion]
    assert "second read advised" not in drawn[plain][1] and "out of scope" not in drawn[plain][1]
    caption = next(c.value for c in at.caption if c.value.startswith("Cards are marked as Diagnose marks the film"))
    assert "the anatomy check" in caption and "the stability of its test-time copies" in caption
    for name, status in ((lesion, f"Uncertain: {UNUSUAL}"), (plain, "Answer")):
        at.button(key=drawn[name][0]).click().run()
        assert not at.exception
        assert dialog_triage(at).startswith(f"**Triage:** {status}"), (name, dialog_triage(at))
        at.button(key="close_case").click().run()


def test_a_card_whose_copies_fall_below_the_level_opens_as_it_is_marked(copies_scoped, monkeypatch):
    """The page, with the copies' rule: a marker film's card says the second read and why, as its dialog does;
    a plain film's card is an answer and opens as one. The summary counts the second reads among the answered."""
    at = open_gallery(*copies_scoped, monkeypatch)
    drawn = cards(at)
    marker = next(name for name in drawn if "-marker-COVID-19-" in name)
    plain = next(name for name in drawn if "-plain-Normal-" in name)
    assert f"Triage: {TOO_MANY_BELOW}" in drawn[marker][1], drawn[marker]
    assert "Triage:" not in drawn[plain][1], drawn[plain]
    for name, status in ((marker, f"Uncertain: {TOO_MANY_BELOW}"), (plain, "Answer")):
        at.button(key=drawn[name][0]).click().run()
        assert not at.exception
        assert dialog_triage(at).startswith(f"**Triage:** {status}"), (name, dialog_triage(at))
        at.button(key="close_case").click().run()
    line = next(m.value for m in at.markdown if "the model read" in m.value)
    # Both errors are held for a second read by the copies rule: none of the plain answers is wrong (the figure
    # Performance's "accuracy on answered films" is about), said apart from the share of all outputs.
    assert "**2 misclassified** (17% of the 12 given an output; 0 of the 4 marked *Answer*)" in line, line


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
