"""The case gallery: labelled images scored by a model, hardest (misclassified, least sure) first."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.inputs.intake import XrayInputError
from model.labelled_data import LabelledImage
from model.present.gallery_cases import (
    MAP_SIDE,
    NO_EVIDENCE,
    TABLE_COLUMNS,
    TABLE_FILE_COLUMNS,
    Case,
    TeachingCase,
    as_shown,
    cases_table,
    count_cases,
    counts_by,
    data_location,
    dialog_title,
    early_cards_sentence,
    filter_records,
    fit_map,
    held_back_words,
    misclassified_words,
    page_ranges,
    read_case,
    read_cases,
    reading_order,
    sample_records,
    shown_cases,
    small_map,
    sort_cases,
)
from model.present.text import NO_LUNG_FIELDS, lung_share
from tests.support import png_bytes
from tests.test_lungs import synthetic_lung_mask


def test_sample_records_picks_up_to_the_limit_per_label():
    items = [LabelledImage(f"/x/{label}{i}.png", label, str(i)) for label in "AB" for i in range(10)]
    picked = sample_records(items, limit_per_label=4, seed=1)
    assert len(picked) == 8 and {r.label for r in picked} == {"A", "B"}
    assert picked != sample_records(items, limit_per_label=4, seed=2)
    # A narrower choice keeps what it matches of the wider sample: one label alone, or one source.
    assert sample_records([r for r in items if r.label == "B"], 4, seed=1) == [r for r in picked if r.label == "B"]
    mixed = [LabelledImage(f"/x/{label}{i}.png", label, str(i), source="s" if i % 2 else "t")
             for label in "AB" for i in range(30)]
    wide = sample_records(mixed, 6, seed=1)
    narrow = sample_records([r for r in mixed if r.source == "s"], 6, seed=1)
    assert {r.path for r in wide if r.source == "s"} <= {r.path for r in narrow}
    # Not the order they were read in, nor where the folder lies.
    assert sample_records(items[::-1], 4, seed=1) == picked
    moved = [LabelledImage(r.path.replace("/x/", "/elsewhere/"), r.label, r.patient_id) for r in items]
    assert [r.path.split("/")[-1] for r in sample_records(moved, 4, seed=1)] == [r.path.split("/")[-1] for r in picked]
    with pytest.raises(ValueError):
        sample_records(items, limit_per_label=0)


def test_reading_order_takes_the_labels_in_turn_and_keeps_every_record_once():
    items = [LabelledImage(f"/x/{label}{i}.png", label, str(i), source="s" if i % 3 else "t")
             for label, n in (("A", 7), ("B", 3), ("C", 5)) for i in range(n)]
    order = reading_order(items, seed=1)
    assert sorted(r.path for r in order) == sorted(r.path for r in items), "a record dropped or read twice"
    # The first cards drawn while the rest is read hold every label: A B C A B C A B C, then A C A C, then A A.
    assert [r.label for r in order] == list("ABCABCABCACACAA")
    assert [r.label for r in order[:5]] != [r.label for r in sorted(items, key=lambda r: r.path)[:5]]
    # Not the order they came in; within a label, the sample's fixed rank (another seed, another order).
    assert reading_order(items[::-1], seed=1) == order
    assert [r.path for r in reading_order(items, seed=2)] != [r.path for r in order]
    assert reading_order([]) == []


@pytest.mark.parametrize("total, per_page, pages", [
    (72, 24, [(0, 24), (24, 48), (48, 72)]),
    (14, 4, [(0, 4), (4, 8), (8, 12), (12, 14)]),
    (5, None, [(0, 5)]),
    (3, 24, [(0, 3)]),
    (0, 24, [(0, 0)]),
])
def test_page_ranges_hold_every_card_once_in_order(total, per_page, pages):
    assert page_ranges(total, per_page) == pages
    flat = [i for start, stop in pages for i in range(start, stop)]
    assert flat == list(range(total))


def test_the_early_cards_line_names_no_count_the_progress_bar_would_contradict():
    # Drawn once while the bar above moves on: "the other 64 of the 72" would be stale by the next update.
    line = early_cards_sentence(8, None, "errors")
    assert line == ("The first **8** cases read, shown while the rest are read (progress above); here confident "
                    "errors first among themselves. The counts and the order over every case follow.")
    assert early_cards_sentence(7, 2, "lungs").startswith("The first **7** cases read (2 of them misclassified), shown "
                                                          "while the rest are read (progress above); here ")
    assert not any(ch.isdigit() for ch in line.replace("**8**", ""))


def test_page_ranges_refuse_a_page_of_nothing():
    with pytest.raises(ValueError, match="per_page"):
        page_ranges(10, 0)
    with pytest.raises(ValueError, match="total"):
        page_ranges(-1, 4)


def test_data_location(monkeypatch, tmp_path):
    monkeypatch.delenv("CXR_DATA", raising=False)
    assert data_location() is None
    monkeypatch.setenv("CXR_DATA", str(tmp_path / "nowhere"))
    assert data_location() is None
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,label\n", encoding="utf-8")
    monkeypatch.setenv("CXR_DATA", str(manifest))
    assert data_location() == manifest
    # A folder: its first dataset, as the gallery's data box offers first (manifest-v2.csv sorts before
    # manifest.csv, as in the shared data), not the folder (read_dataset would read its manifest.csv).
    (tmp_path / "manifest-v2.csv").write_text("file,label\n", encoding="utf-8")
    monkeypatch.setenv("CXR_DATA", str(tmp_path))
    assert data_location() == (tmp_path / "manifest-v2.csv").resolve()


# --------------------------------------------------------------------------- filters, order, one pass with the map


def make_case(name: str, label: str = "COVID-19", predicted: str = "COVID-19", confidence: float = 0.9,
              lung_share: float | None = 0.5, source: str = "alpha", known: bool = True) -> Case:
    return Case(path=f"/x/{name}.png", label=label, source=source, patient_id=name, predicted=predicted,
                confidence=confidence, correct=label == predicted, probabilities={predicted: confidence},
                known=known, lung_share=lung_share)


def test_filters_choose_what_is_sampled_so_counts_follow_them():
    """Source = beta keeps every beta image in the sample (the old gallery sampled first and kept 8 of 243)."""
    items = [LabelledImage(f"/x/{source}{label}{i}.png", label, f"{source}{i}", source)
             for source, n in (("alpha", 40), ("beta", 6)) for label in ("COVID-19", "Normal") for i in range(n)]
    beta = filter_records(items, source="beta")
    assert len(beta) == 12 and {r.source for r in beta} == {"beta"}
    picked = sample_records(beta, limit_per_label=24)
    assert len(picked) == 12, "a filter before the sample keeps every matching image"
    thinned = [r for r in sample_records(items, limit_per_label=24) if r.source == "beta"]
    assert len(thinned) < 12, "the old order (sample, then filter) loses most of them"
    assert len(filter_records(items, source="beta", label="Normal")) == 6
    assert filter_records(items) == items
    assert counts_by(items, "source") == {"alpha": 80, "beta": 12}
    assert counts_by(beta, "label") == {"COVID-19": 6, "Normal": 6}


def test_sort_cases_orders():
    cases = [make_case("right-sure", confidence=0.95, lung_share=0.9),
             make_case("right-unsure", confidence=0.5, lung_share=0.2),
             make_case("wrong-sure", label="Normal", confidence=0.92, lung_share=0.6),
             make_case("wrong-unsure", label="Normal", confidence=0.55, lung_share=None),
             make_case("tb", label="Tuberculosis", predicted="Normal", confidence=0.99, lung_share=0.1, known=False)]
    names = lambda order: [Path(c.path).stem for c in sort_cases(cases, order)]  # noqa: E731
    assert names("errors") == ["wrong-sure", "wrong-unsure", "right-unsure", "right-sure", "tb"]
    assert names("lungs") == ["tb", "right-unsure", "wrong-sure", "right-sure", "wrong-unsure"]
    assert names("uncertain") == ["right-unsure", "wrong-unsure", "wrong-sure", "right-sure", "tb"]
    assert [Path(c.path).stem for c in shown_cases(cases, "wrong")] == ["wrong-sure", "wrong-unsure"]
    assert len(shown_cases(cases, "all", "lungs")) == 5
    with pytest.raises(ValueError, match="order"):
        sort_cases(cases, "random")
    with pytest.raises(ValueError, match="show"):
        shown_cases(cases, "some")


def test_count_cases_follows_what_was_read():
    cases = [make_case("a", label="Normal", confidence=0.95, lung_share=0.2), make_case("b", label="Normal", confidence=0.6),
             make_case("c", lung_share=None), make_case("d", label="Tuberculosis", predicted="Normal", known=False)]
    counts = count_cases(500, 12, cases, shown=2, unreadable=1)
    assert (counts.pool, counts.matching, counts.read, counts.unreadable, counts.shown) == (500, 12, 4, 1, 2)
    assert (counts.known, counts.wrong, counts.confident_wrong) == (3, 2, 1)
    assert counts.wrong_share == pytest.approx(2 / 3)
    assert (counts.unknown, counts.unknown_labels) == (1, ("Tuberculosis",))
    assert (counts.mapped, counts.below_level, counts.no_lungs, counts.no_evidence) == (3, 0, 0, 0)
    assert count_cases(0, 0, [], 0).wrong_share is None
    # The median lungs' share of what the model saw, as the cheats view's caption gives it.
    from dataclasses import replace

    from model.present.cheating_view import rule_caption
    from model.present.gallery_cases import even_level

    assert counts.even is None and "at the median" not in rule_caption(0.8, 1.0, None)
    evened = [replace(c, lung_even=share) for c, share in zip(cases, (0.3, 0.4, 0.36, None))]
    assert even_level(evened) == pytest.approx(0.36) and count_cases(500, 12, evened, 2).even == pytest.approx(0.36)
    assert "puts on the lungs their share of that area: about 36% at the median of these films" in \
        rule_caption(0.8, 1.0, even_level(evened))


@pytest.fixture(scope="module")
def shortcut(tmp_path_factory):
    """The shortcut model, the fixed lung fields and the pool of `tests.gallery_support`."""
    from model.classifier import Classifier
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from tests.gallery_support import (
        LUNGS_ID,
        SHORTCUT_ID,
        write_fixed_lungs_entry,
        write_shortcut_entry,
        write_shortcut_pool,
    )

    root = tmp_path_factory.mktemp("shortcut-registry")
    write_shortcut_entry(root)
    write_fixed_lungs_entry(root)
    records = read_dataset(write_shortcut_pool(tmp_path_factory.mktemp("shortcut-pool")), keep_unknown=True)
    return Classifier.load(SHORTCUT_ID, root), LungSegmenter.load(LUNGS_ID, root), records


def kind(case) -> str:
    return Path(case.path).stem.split("-")[1]


def test_read_case_measures_where_the_map_lies(shortcut):
    """Ground truth: on a marker film the model reads the marker (outside the lungs), on a lesion film the
    lesion (inside); the map and its share say so, with the answer of the same pass."""
    clf, lungs, records = shortcut
    cases, failed = read_cases(clf, records, splits={r.path: "outside" for r in records}, lungs=lungs.mask)
    assert not failed and len(cases) == len(records)
    by_kind = {k: [c for c in cases if kind(c) == k] for k in ("marker", "lesion", "plain")}
    assert all(c.predicted == "COVID-19" and c.confidence > 0.95 for c in by_kind["marker"] + by_kind["lesion"])
    assert all(c.lung_share < 0.05 and c.elsewhere == "above the lungs" for c in by_kind["marker"])
    assert all(c.lung_share > 0.95 for c in by_kind["lesion"])
    assert all(c.predicted == "Normal" and c.lung_share < 0.05 for c in by_kind["plain"])
    # Below the model's own warning level (as Diagnose uses it): the markers' maps, not the lesions'.
    assert all(c.lung_low for c in by_kind["marker"]) and not any(c.lung_low for c in by_kind["lesion"])
    # The level is the one given: just under a film's share it is not low, just over it it is.
    some = next(c for c in cases if 0.0 < c.lung_share < 0.9)
    record = next(r for r in records if str(r.path) == some.path)
    under, over = (read_case(clf, record, lungs=lungs.mask, low_threshold=level)
                   for level in (some.lung_share / 2, some.lung_share + 0.05))
    assert not under.lung_low and over.lung_low and under.lung_share == pytest.approx(some.lung_share)
    marker = by_kind["marker"][0]
    assert marker.split == "outside" and marker.heat.shape == (MAP_SIDE, MAP_SIDE) and marker.heat.dtype == np.float32
    corner = marker.heat[: MAP_SIDE // 4, : MAP_SIDE // 4].sum() / marker.heat.sum()
    assert corner > 0.9, "the kept map lies on the corner marker"
    # The same answer as Evaluate's batch scoring, and the same share as the trust check on Diagnose.
    from model.evaluation import predict_records

    kept, probabilities, _ = predict_records(clf, records)
    batch = {str(r.path): max(p) for r, p in zip(kept, probabilities)}
    assert len(batch) == len(cases)
    for case in cases:
        assert case.confidence == pytest.approx(batch[case.path], abs=1e-4)
    from model.inputs.intake import load_xray
    from model.trust.attention import lung_attention

    pixels = load_xray(marker.path).pixels
    _, on_image = clf.explain_xray(pixels, "gradcam", marker.predicted)
    assert marker.lung_share == pytest.approx(lung_attention(on_image, lungs.mask(pixels)).fraction)
    # Its chance level is the lungs' share of the region the model saw, as Diagnose measures it.
    region = clf.prepare(pixels, lungs.mask(pixels)).region
    assert marker.lung_even == pytest.approx(lung_attention(on_image, lungs.mask(pixels), region=region).even_share)


def test_read_cases_reports_progress_and_names_the_films_it_could_not_read(shortcut, tmp_path):
    clf, _, records = shortcut
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    chosen = [records[0], LabelledImage(str(corrupt), "Normal", "x"), LabelledImage(str(tmp_path / "gone.png"),
                                                                                    "Normal", "y"), records[1]]
    seen = []
    cases, failed = read_cases(clf, chosen, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]  # after each film, those it could not read too
    assert [c.path for c in cases] == [str(records[0].path), str(records[1].path)]
    assert [Path(path).name for path, _ in failed] == ["corrupt.png", "gone.png"] and all(why for _, why in failed)


def test_cases_table_reads_every_figure_as_the_cards_print_it(shortcut):
    """The table beside the cards: the same percentages to 0.1 (it showed 91.95% and 41.86% beside cards reading 92.0%
    and 41.9%), and the film by its file name, never the server's path to it."""
    clf, segmenter, records = shortcut
    cases, _ = read_cases(clf, records[:6], lungs=segmenter.mask)
    ordered = shown_cases(cases, "all", "errors")
    frame = cases_table(ordered)
    assert list(frame.columns) == TABLE_COLUMNS + ["P(COVID-19)", "P(Normal)", "P(Pneumonia)"] + TABLE_FILE_COLUMNS
    # The page names each probability column's class from this, never by cutting "P(" and ")" off the header.
    from model.present.gallery_cases import probability_columns
    assert probability_columns(ordered) == {"P(COVID-19)": "COVID-19", "P(Normal)": "Normal",
                                            "P(Pneumonia)": "Pneumonia"}
    assert probability_columns([]) == {}
    assert list(frame["file"]) == [Path(c.path).name for c in ordered]
    root = str(Path(records[0].path).parent)
    assert not any(root in str(value) or "/" in str(value) for value in frame.to_numpy().ravel())
    for row, case in zip(frame.itertuples(index=False), ordered):
        assert f"{row.confidence:.1f}%" == f"{case.confidence:.1%}"  # as the card: "said COVID-19 99.2%"
        assert f"{row[4]:.1f}%" == lung_share(case.lung_share)  # as the card: "map 0.0% on the lungs"
        assert [f"{row[7 + i]:.1f}%" for i in range(3)] == [f"{p:.1%}" for p in case.probabilities.values()]
    assert cases_table([]).empty and list(cases_table([]).columns) == TABLE_COLUMNS + TABLE_FILE_COLUMNS


def test_cases_table_words_the_outcome_and_split_as_the_cards():
    from dataclasses import replace

    cases = [replace(make_case("right", confidence=0.91954, lung_share=0.41857), split="test"),
             replace(make_case("wrong", predicted="Normal", confidence=0.6), split="outside"),
             replace(make_case("other", label="Tuberculosis", predicted="Normal", known=False, lung_share=None),
                     split="validation")]
    frame = cases_table(cases).set_index("file")
    assert frame.loc["right.png", ["confidence", "on the lungs"]].tolist() == [92.0, 41.9]  # not 91.95, 41.86
    # the answer held against the label, in words no reader takes for the triage beside it on the card
    assert frame["outcome"].tolist() == ["output matches the label", "misclassified", "label not among its classes"]
    assert frame["split"].tolist() == ["test", "never seen", "validation"]
    assert np.isnan(frame.loc["other.png", "on the lungs"])  # not measured: blank, not 0%


@pytest.mark.parametrize("fraction", [0.0, 0.00049, 0.0005, 0.41857, 0.9195, 0.12345, 0.99949, 0.9995, 1.0])
def test_as_shown_is_the_printed_figure(fraction):
    assert f"{as_shown(fraction):.1f}%" == f"{fraction:.1%}" == lung_share(fraction)
    assert round(as_shown(fraction), 1) == as_shown(fraction)
    assert as_shown(None) is None


def test_read_case_without_a_lung_model_or_evidence(shortcut, tmp_path):
    from dataclasses import replace

    clf, _, records = shortcut
    case = read_case(clf, records[0])
    assert case.lung_share is None and case.map_note == "" and case.heat is not None
    blank = tmp_path / "blank.png"
    blank.write_bytes(png_bytes(np.full((64, 64), 0.5, np.float32)))  # neither bright nor dark: no evidence
    two_lungs = lambda pixels: synthetic_lung_mask(*pixels.shape[:2])  # noqa: E731
    empty = read_case(clf, LabelledImage(str(blank), "Normal", "b"), lungs=two_lungs)
    assert empty.lung_share is None and empty.map_note == NO_EVIDENCE and empty.lungs_found is True
    # No plausible lung fields (one blob over the film): no share, Diagnose's sentence, and the card is out of
    # scope as Diagnose's input check says, however confident the answer.
    blob = read_case(clf, records[0], lungs=lambda pixels: np.ones(pixels.shape, bool))
    assert blob.lung_share is None and blob.map_note == NO_LUNG_FIELDS and blob.lungs_found is False
    assert blob.triage.status == "out_of_scope" and "no_lung_fields" in {f.kind for f in blob.triage.deciding}
    # The blank film has no contrast: out of scope by the input check, as on Diagnose; the plain film is an answer.
    assert [f.kind for f in empty.triage.deciding] == ["no_contrast"]
    assert case.lungs_found is None and case.triage.status == "answer"
    # Out of scope, the film got no answer: held back, never misclassified, whatever its output was.
    assert blob.held_back and not blob.wrong and not case.held_back
    wrong_blob = replace(blob, label="Normal" if blob.predicted != "Normal" else "COVID-19", correct=False)
    assert not wrong_blob.wrong and TeachingCase.from_case(wrong_blob, "d" * 64, "m").held_back
    with pytest.raises(XrayInputError):
        read_case(clf, LabelledImage(str(tmp_path / "gone.png"), "Normal", "g"))
    cases, failed = read_cases(clf, [LabelledImage(str(tmp_path / "gone.png"), "Normal", "g"), records[0]])
    assert len(cases) == 1 and failed[0][0].endswith("gone.png") and failed[0][1]


def test_small_map_and_fit_map():
    heat = np.zeros((300, 200), np.float32)
    heat[:150] = 1.0
    small = small_map(heat, 64)
    assert small.shape == (64, 43) and small.dtype == np.float32
    assert small[:30].min() == pytest.approx(1.0) and small[34:].max() == pytest.approx(0.0)
    assert small_map(heat[:10, :10], 64).shape == (10, 10)
    back = fit_map(small, (150, 100, 3))
    assert back.shape == (150, 100) and 0.0 <= back.min() and back.max() <= 1.0
    assert fit_map(back, (150, 100)) is back


def test_teaching_case_round_trip():
    case = make_case("film", label="Normal", confidence=0.92, lung_share=0.31)
    teaching = TeachingCase.from_case(case, digest="ab" * 32, model_id="m")
    assert teaching.wrong and teaching.file_name == "film.png" and teaching.lung_share == pytest.approx(0.31)
    assert TeachingCase.from_dict(teaching.to_dict()) == teaching
    assert TeachingCase.from_dict({**teaching.to_dict(), "unexpected": 1}) == teaching
    assert teaching.split_name == "split unknown"
    tb = TeachingCase.from_case(make_case("tb", label="Tuberculosis", known=False), "cd" * 32, "m")
    assert not tb.wrong and not tb.known


def held_back_case(name: str, label: str = "Normal", predicted: str = "Pneumonia", confidence: float = 0.44) -> Case:
    """A case the triage held back as out of scope (no plausible lung fields), as `read_case` marks it."""
    from dataclasses import replace

    from model.trust.findings import IMAGE, OUT_OF_SCOPE, Finding
    from model.trust.triage import Triage

    finding = Finding("no_lung_fields", OUT_OF_SCOPE, IMAGE, "No plausible lung fields were found.")
    return replace(make_case(name, label=label, predicted=predicted, confidence=confidence, lung_share=None),
                   triage=Triage("out_of_scope", [finding]))


def test_a_film_held_back_as_out_of_scope_is_counted_apart_from_the_misclassified():
    """The review's film: out of scope (no plausible lung fields), output Pneumonia 44.0% for a Normal film. The
    card said "misclassified" and the header counted it among the errors, while Diagnose gave no answer."""
    cases = [make_case("right"), make_case("wrong", label="Normal", confidence=0.95),
             make_case("wrong-unsure", label="Normal", confidence=0.55), held_back_case("held"),
             held_back_case("held-right", label="Pneumonia")]
    counts = count_cases(100, 5, cases, shown=5)
    assert (counts.known, counts.wrong, counts.held_back, counts.held_back_wrong, counts.with_output) == (5, 2, 2, 1, 3)
    assert counts.wrong_share == pytest.approx(2 / 3)  # of the films given an output, not of all five
    words = misclassified_words(counts, "the answer level")
    assert words.startswith("**2 misclassified** (67% of the 3 given an output), 1 of them at the answer level or more")
    assert words.endswith("; 2 held back as out of scope, not counted (no answer; 1 of their outputs would have "
                          "been wrong)")
    one = misclassified_words(count_cases(10, 2, cases[:1] + cases[3:4], shown=2), "the answer level")
    assert "1 held back as out of scope, not counted (no answer; its output would have been wrong)" in one
    assert misclassified_words(count_cases(1, 1, cases[3:4], shown=1), "x") == (
        "none given an output; 1 held back as out of scope, not counted (no answer; its output would have been wrong)")
    assert misclassified_words(count_cases(0, 0, [], 0), "x") == ""
    assert [Path(c.path).stem for c in shown_cases(cases, "wrong")] == ["wrong", "wrong-unsure"]
    assert [Path(c.path).stem for c in sort_cases(cases)][:4] == ["wrong", "wrong-unsure", "held", "held-right"]
    assert cases_table(cases)["outcome"].tolist()[3:] == ["held back, out of scope"] * 2


def test_a_held_back_film_is_said_as_an_output_for_reference_not_an_answer():
    case = held_back_case("held")
    assert held_back_words(case) == ("held back as out of scope: its output would have been **Pneumonia** 44.0%, "
                                     "which is wrong")
    teaching = TeachingCase.from_dict(TeachingCase.from_case(case, "d" * 64, "m").to_dict())
    assert teaching.held_back and not teaching.wrong
    assert held_back_words(teaching, "this film").startswith("held this film back as out of scope: its output")
    assert held_back_words(held_back_case("r", label="Pneumonia")).endswith(", which matches the label")
    # The dialog's title says it too: no answer, an output for reference (it read "model Pneumonia 44.0%").
    assert dialog_title(case).endswith(": true Normal, held back as out of scope (output Pneumonia 44.0%, for "
                                       "reference only)")
    assert dialog_title(make_case("a", label="Normal", predicted="Pneumonia", confidence=0.44)).endswith(
        ": true Normal, model Pneumonia 44.0%")
    assert held_back_words(replace_known(case)).endswith("44.0%")  # a label outside its classes: no verdict
    assert not TeachingCase.from_dict({k: v for k, v in teaching.to_dict().items() if k != "held_back"}).held_back


def replace_known(case: Case) -> Case:
    from dataclasses import replace

    return replace(case, label="Tuberculosis", known=False)
