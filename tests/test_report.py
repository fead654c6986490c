"""The downloadable one-page report: a readable PNG/PDF page with the images, output and disclaimer."""
from __future__ import annotations

import inspect
import io
import re
from dataclasses import fields, replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from model.prediction import Prediction
from model.present.overlay import render_overlay
from model.present.report import (
    DISCLAIMER,
    PAGE_SIZE,
    ReportContent,
    build_report,
    build_report_pdf,
    render_report,
)
from tests.support import LABELS, synthetic_radiograph

PREDICTION = Prediction(tuple(LABELS), np.array([0.7, 0.2, 0.1]))
META = dict(method="gradcam", model_id="tiny-a", model_version="0.1", model_name="Tiny test model")


def content(**fields) -> ReportContent:
    """The test model's report content with the given fields."""
    return ReportContent(**{**META, **fields})


def hidden(before: float, probabilities, label: str = "Normal", level: float | None = None, cells=(13,),
           fill: str = "blur"):
    """The typed effect of hiding `cells` of the 6 x 6 grid (13: row 3, column 2) on `label`, whose film
    probability is `before`; `probabilities` (one per class of `LABELS`) None: the model never saw them."""
    from model.explain.film_grid import HiddenCells, hidden_effect

    inside = () if probabilities is None else tuple(cells)
    return hidden_effect(HiddenCells(tuple(cells), inside, None if probabilities is None else np.array(probabilities)),
                         LABELS, label, before, level, fill, 6)


def _inputs(height: int = 128, width: int = 128):
    pixels = synthetic_radiograph(height, width=width)
    heat = np.zeros_like(pixels)
    heat[height // 4: height // 2, width // 4: width // 2] = 1.0
    return pixels, render_overlay(pixels, heat)


def test_png_report_is_one_a4_page():
    pixels, overlay = _inputs()
    png = build_report(pixels, overlay, PREDICTION, content(created=datetime(2026, 3, 1, 12, 30)))
    page = Image.open(io.BytesIO(png))
    assert page.format == "PNG" and page.size == PAGE_SIZE == (1240, 1754)
    array = np.asarray(page.convert("RGB"))
    assert (array == 255).all(axis=-1).mean() > 0.5, "the page background is white"
    # The overlay's red hot spot appears on the right half of the page only (the overlay panel).
    red = (array[..., 0].astype(int) - array[..., 2] > 60) & (array[..., 1] < 120)
    assert red[:, PAGE_SIZE[0] // 2:].sum() > 1000 and red[:1000, : PAGE_SIZE[0] // 2].sum() == 0


def test_pdf_report_is_a_pdf():
    pixels, overlay = _inputs()
    pdf = build_report_pdf(pixels, overlay, PREDICTION, content())
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type/Page") >= 1


def test_pdf_text_is_real_text_where_the_png_draws_it(monkeypatch):
    import model.present.report as report
    from model.present.report import Status

    if report._pdf_fonts() is None:
        pytest.skip("fpdf2 or the DejaVu fonts are not installed: the PDF's pages are images")
    pypdf = pytest.importorskip("pypdf")
    pixels, overlay = _inputs()
    status = Status("Uncertain: second read advised (probability too low to stand alone).", "uncertain")
    stability = "Varies: moves ±6.9 points (one standard deviation) on 7 changed copies"
    details = content(case_id="abc12345", status=status, notes=["Only 18.8% of this map lies on the lungs."],
                      stability=stability)
    pdf = build_report_pdf(pixels, overlay, PREDICTION, details)
    words = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    words = " ".join(words.split())
    for line in ("Chest X-ray explanation report", "abc12345", status.line, "70.0%", "Only 18.8% of this map",
                 DISCLAIMER, stability):
        assert line in words
    # The PDF's page images carry no text of their own (it would be set twice): the title's place is white.
    texts = []
    bare = report._render(pixels, overlay, PREDICTION, details, texts)[0]
    drawn = render_report(pixels, overlay, PREDICTION, details)
    title = (slice(40, 110), slice(60, 700))
    assert (np.asarray(bare)[title] == 255).all() and (np.asarray(drawn)[title] < 128).any()
    assert any(t[3] == "Chest X-ray explanation report" for t in texts)
    # A note longer than a page is shortened and its page drawn again: the failed attempt's lines are not kept.
    again = []
    report._render(pixels, overlay, PREDICTION, replace(details, notes=["word " * 3000]), again)
    placed = [(t[0], t[1], t[2], t[3]) for t in again]
    assert len(placed) == len(set(placed))
    # Without the fonts the PDF still comes, as images of the pages.
    monkeypatch.setattr(report, "_pdf_fonts", lambda: None)
    fallback = build_report_pdf(pixels, overlay, PREDICTION, details)
    assert fallback.startswith(b"%PDF") and "abc12345" not in "".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(fallback)).pages)


def test_report_text_stays_inside_the_page_and_clear_of_the_disclaimer():
    # The review's cases: a long out-of-scope headline ran past the right margin, and with a long status
    # "(continued on the next page)" ran into the disclaimer box under a "Notes" heading with no note.
    from PIL import ImageDraw

    import model.present.report as report
    from model.present.report import MARGIN, Status
    from model.trust.findings import Finding

    pixels, overlay = _inputs()
    long_labels = Prediction(("COVID-19 (a long class name here)", "Normal", "Pneumonia"), np.array([0.983, 0.01, 0.007]))
    findings = tuple(Finding("child", "out_of_scope", "header", "A sentence that explains why at some length " * 3)
                     for _ in range(4))
    status = Status("Out of scope: the output is shown for reference only (a child's film).", "out_of_scope", findings)
    what_if = hidden(0.9, (0.8, 0.1, 0.1), "COVID-19", cells=(13, 19))
    texts = []
    pages = report._render(pixels, overlay, long_labels, content(
        status=status, what_if=what_if, colormap="inferno", threshold=0.5, map_label="Normal",
        notes=[f"note {i}: " + "words of a sentence " * 8 for i in range(12)]), texts)
    draw = ImageDraw.Draw(Image.new("RGB", PAGE_SIZE, "white"))
    box_top = report._disclaimer(draw)
    for number, x, y, line, font, _ in texts:
        assert x + draw.textlength(line, font=font) <= PAGE_SIZE[0] - MARGIN + 1, line
        if line not in DISCLAIMER:
            assert y + font.size <= box_top, (number, line)
    lines = [t[3] for t in texts]
    for i, line in enumerate(lines):  # a heading is followed by a note, never by the continuation line alone
        if line.startswith("Notes"):
            assert not lines[i + 1].startswith("(continued"), lines[i:i + 2]
    assert len(pages) >= 2 and any("notes on the next page" in line or line.startswith("Notes") for line in lines)
    # The colour bar names the class the map explains, not the top class.
    caption = " ".join(lines)
    assert "evidence for Normal" in caption and "evidence for COVID-19" not in caption
    # The film's caption says the hidden cells are marked, never that the model saw them greyed (they were
    # blurred, as the what-if line says).
    assert "Original image, hidden cells marked" in lines and not any("greyed" in line for line in lines)


def test_original_image_keeps_its_aspect_ratio():
    # A uniform mid-gray portrait image: its pasted footprint must stay twice as tall as wide.
    pixels = np.full((200, 100), 128 / 255, np.float32)
    overlay = np.zeros((200, 100, 3), np.uint8)
    array = np.asarray(render_report(pixels, overlay, PREDICTION, content()))
    gray = (array == 128).all(axis=-1)[:, : PAGE_SIZE[0] // 2]
    # Rows and columns mostly of that gray: stray anti-aliased text pixels do not count.
    rows, cols = np.nonzero(gray.sum(axis=1) > 20)[0], np.nonzero(gray.sum(axis=0) > 20)[0]
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert height / width == pytest.approx(2.0, rel=0.03)
    assert height > 400, "the image is shown large enough to read"


def test_notes_and_time_change_the_page_and_many_notes_do_not_cover_the_disclaimer():
    pixels, overlay = _inputs()
    when = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    plain = np.asarray(render_report(pixels, overlay, PREDICTION, content(created=when)))
    noted = np.asarray(render_report(pixels, overlay, PREDICTION, content(created=when,
                                     notes=["Image looks unlike the training data."])))
    assert (plain != noted).any()
    # The same instant given in another time zone prints the same UTC time.
    shifted = when.astimezone(timezone(timedelta(hours=5)))
    same = np.asarray(render_report(pixels, overlay, PREDICTION, content(created=shifted)))
    np.testing.assert_array_equal(plain, same)
    crowded = np.asarray(render_report(pixels, overlay, PREDICTION, content(created=when,
                                       notes=[f"warning number {i} " * 8 for i in range(40)])))
    # The disclaimer box at the bottom is drawn identically, however many notes there are.
    np.testing.assert_array_equal(crowded[-170:], plain[-170:])


def test_notes_that_do_not_fit_continue_on_further_pages_of_the_png_and_the_pdf():
    from model.present.report import render_pages

    pixels, overlay = _inputs()
    when = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    few = render_pages(pixels, overlay, PREDICTION, content(created=when, notes=["One note."]))
    assert len(few) == 1
    notes = [f"note {i}: " + "a sentence of some length " * 6 for i in range(60)]
    pages = render_pages(pixels, overlay, PREDICTION, content(created=when, notes=notes))
    assert len(pages) >= 3  # 60 notes of three lines each need two more pages
    first = np.asarray(few[0])
    for page in pages:  # every page ends with the same disclaimer box
        np.testing.assert_array_equal(np.asarray(page)[-170:], first[-170:])
    png = Image.open(io.BytesIO(build_report(pixels, overlay, PREDICTION, content(created=when, notes=notes))))
    assert png.size == (PAGE_SIZE[0], PAGE_SIZE[1] * len(pages))
    pdf = build_report_pdf(pixels, overlay, PREDICTION, content(created=when, notes=notes))
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == len(pages)  # one PDF page per page
    # A note longer than a page is shortened, not lost and not looping.
    assert len(render_pages(pixels, overlay, PREDICTION, content(created=when, notes=["word " * 20000]))) == 2


def test_the_what_if_line_says_whether_the_output_changes():
    from model.present.report import what_if_line

    assert what_if_line(hidden(0.763, (0.754, 0.146, 0.1), "COVID-19", cells=(13, 19))) == (
        "What if 2 cells (row 3, column 2; row 4, column 2) of the film were hidden (blurred): COVID-19 76.3% → 75.4% "
        "(−0.9 points); the output stays the same.")
    assert what_if_line(hidden(0.763, (0.30, 0.6, 0.1), "COVID-19")).endswith(
        "COVID-19 76.3% → 30.0% (−46.3 points); the output becomes Normal (60.0%).")


def test_a_fall_under_the_answer_level_is_not_the_same_output():
    """The review's report read "Normal 85.4% → 75.3% (−10.1 points); the output stays the same" under an
    answer level of 78.3%: the answer stays Normal, but would be held for a second read. The page's
    hidden-cells box says the same clause (`hidden_outcome`)."""
    from model.present.report import OUTPUT_SAME, hidden_outcome, what_if_line

    fall = hidden(0.854, (0.147, 0.753, 0.1), level=0.783)
    assert what_if_line(fall).endswith(
        "Normal 85.4% → 75.3% (−10.1 points); the output stays Normal but falls under the answer level (78.3%), "
        "so it would be held for a second read.")
    rise = hidden(0.753, (0.046, 0.854, 0.1), level=0.783)
    assert what_if_line(rise).endswith("(+10.1 points); the output stays Normal and now reaches the answer level "
                                       "(78.3%), which alone would no longer hold it for a second read.")
    # On the same side of the level, either side, the output is the same.
    assert hidden_outcome(hidden(0.854, (0.1, 0.8, 0.1), level=0.783)) == OUTPUT_SAME
    assert hidden_outcome(hidden(0.70, (0.2, 0.6, 0.2), level=0.783)) == OUTPUT_SAME
    # Never "under 78.3%" beside a figure shown as 78.3%.
    assert "falls just under the answer level (78.3%)" in hidden_outcome(hidden(0.854, (0.1172, 0.7828, 0.1),
                                                                                level=0.783))
    # Another class: named with its figure, and said to be under the level when it is.
    assert hidden_outcome(hidden(0.854, (0.55, 0.30, 0.15), level=0.783)) == (
        "the output becomes COVID-19 (55.0%), under the answer level (78.3%)")
    assert hidden_outcome(hidden(0.854, (0.90, 0.05, 0.05), level=0.783)) == "the output becomes COVID-19 (90.0%)"
    # Without a level only a change of class is said.
    assert hidden_outcome(hidden(0.854, (0.147, 0.753, 0.1))) == OUTPUT_SAME


def test_the_what_if_line_names_the_fill_and_cells_the_model_never_saw():
    from model.present.report import render_pages, what_if_line

    assert what_if_line(hidden(0.6, (0.1, 0.5, 0.4), fill="blur")).startswith(
        "What if row 3, column 2 of the film were hidden (blurred): Normal 60.0% → 50.0%")
    assert what_if_line(hidden(0.6, (0.1, 0.5, 0.4), fill="black")).startswith(
        "What if row 3, column 2 of the film were hidden (blacked out):")
    outside = hidden(0.6, None, cells=(0,))
    assert what_if_line(outside) == ("What if row 1, column 1 of the film were hidden (blurred): the model never saw "
                                     "this part of the film (outside the region it looks at), so nothing changes.")
    pixels, overlay = _inputs()
    assert render_pages(pixels, overlay, PREDICTION, content(what_if=outside))  # a report, not an AttributeError


def test_an_out_of_scope_films_output_is_headed_for_reference_only():
    from model.present.report import Status, output_headline

    assert output_headline(PREDICTION) == f"Model output: {LABELS[0]} (70.0%)"
    assert output_headline(PREDICTION, Status("Uncertain: ...", "uncertain")) == f"Model output: {LABELS[0]} (70.0%)"
    assert output_headline(PREDICTION, Status("Out of scope: the output is shown for reference only (a child's "
                                              "film).", "out_of_scope")) == \
        f"Model output, for reference only (out of scope): {LABELS[0]} (70.0%)"


def test_disclaimer_text_and_no_identifier_parameters():
    # The pages' notice word for word (the report said "a qualified radiologist must interpret", the pages
    # "a qualified reader interprets").
    assert DISCLAIMER == ("Decision support for research and teaching, not a diagnosis. It is not a medical device; "
                          "a qualified reader interprets every image.")
    # What a report can print is what its content holds: no field for an identifier or a file name.
    names = {field.name for field in fields(ReportContent)} | set(inspect.signature(build_report).parameters)
    assert not names & {"path", "filename", "file_name", "patient_id", "patient", "name", "identifier"}
    # The PNG and the PDF take the very same arguments: one content value makes both.
    assert inspect.signature(build_report_pdf) == inspect.signature(build_report)
    assert list(inspect.signature(build_report).parameters) == ["pixels", "overlay_rgb", "prediction", "content"]


def test_bad_overlay_is_refused():
    pixels, _ = _inputs()
    with pytest.raises(ValueError, match="shape"):
        build_report(pixels, np.zeros((5, 5, 7), np.uint8), PREDICTION, content())


# --------------------------------------------------------------------------- the page's sentences, one value


def realistic_content(**fields) -> ReportContent:
    """A crowded but ordinary case, worded as a real pool film's report is (covid-radiography-db, read by
    cxr-mobilenet-v3 with Normal explained): an uncertain status set by one finding with two assumptions,
    another class's map, the lung share, a what-if, the stability and the page's two notes."""
    from types import SimpleNamespace

    from model.present import text
    from model.present.report import Status
    from model.trust.findings import Finding

    findings = (
        Finding("low_probability", "uncertain", "model", "COVID-19 has a probability of only 69.6%: this model "
                "needs 78.3% to answer on its own."),
        Finding("age_not_known", "assumption", "reader", "Age not known: answered as for an adult (state the age if "
                "the patient is a child)."),
        Finding("view_not_known", "assumption", "reader", "View not known: read as a frontal (PA or AP) film."))
    status = Status("Uncertain: second read advised (probability too low to stand alone). Read as an adult's "
                    "frontal film (age and view not stated).", "uncertain", findings)
    card = SimpleNamespace(calibration=True, temperature=0.66)
    return ReportContent(**{
        "method": "gradcam", "model_id": "cxr-mobilenet-v3", "model_version": "3.0",
        "model_name": "MobileNet, two-channel v3", "case_id": "60dca182", "colormap": "inferno", "threshold": 0.5,
        "status": status, "map_label": "Normal",
        "what_if": hidden(0.696, (0.687, 0.2, 0.113), "COVID-19", cells=(13, 19)),
        "stability": "Varies: moves ±8.5 points (one standard deviation) on 7 changed copies",
        "notes": ("The map explains the class Normal at the layer all 3 networks, last block.",
                  text.probability_definition(card)),
        "other_class": text.other_class_note("Normal", {"COVID-19": 0.7, "Normal": 0.2, "Pneumonia": 0.1},
                                             "COVID-19", 0.8),
        "lung_share": text.lung_share(0.345),  # the longer of its sentences: "Less than half ..., but not ..."
        "lung_sentence": text.lung_share_sentence(0.345, 0.269, "Grad-CAM", 0.372, True),
        **fields})


def recorded_words(content_value: ReportContent, prediction=PREDICTION) -> tuple[str, list]:
    """The report's text as laid out (every line of every page, in order, joined) and its pages."""
    import model.present.report as report

    pixels, overlay = _inputs()
    texts = []
    pages = report._render(pixels, overlay, prediction, content_value, texts)
    return " ".join(" ".join(t[3] for t in texts).split()), pages


def test_the_report_prints_the_pages_other_class_note_and_lung_share_and_nothing_when_not_given():
    import model.present.report as report
    from model.present.text import LUNG_SHARE_LABEL

    full = realistic_content()
    words, _ = recorded_words(full)
    assert full.other_class in words and full.lung_sentence in words
    assert f"{LUNG_SHARE_LABEL}: 34.5%. {full.lung_sentence}" in words
    # The map's answer, no lung fields: no note, no share, no label left over.
    bare, _ = recorded_words(replace(full, other_class=None, lung_share=None, lung_sentence=None))
    assert "not its answer" not in bare and LUNG_SHARE_LABEL not in bare and "lies on the lungs" not in bare
    assert full.notes[0] in bare  # the rest is still there
    # In the PDF as real text, where fpdf2 and the DejaVu fonts make it.
    if report._pdf_fonts() is not None:
        pypdf = pytest.importorskip("pypdf")
        pixels, overlay = _inputs()
        pdf = build_report_pdf(pixels, overlay, PREDICTION, full)
        text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
        assert full.other_class in text and f"{LUNG_SHARE_LABEL}: 34.5%" in text and full.lung_sentence in text


def test_a_lung_warning_is_printed_once_beside_its_figure_in_its_colour():
    # When little of the map lies on the lungs, the page shows the attention's warning under the share, and
    # the warning is also a finding of the status: the report prints it once, beside the figure, as a caution.
    import model.present.report as report
    from model.present.report import WARNING, Status
    from model.trust.findings import Finding

    warning = "Only 18.8% of this map lies on the lung fields; most of the rest is on the neck."
    caution = Finding("lung_attention_low", "map_caution", "map", warning)
    assumed = Finding("age_not_known", "assumption", "reader", "Age not known.")
    value = content(status=Status("Answer.", "answer", (caution, assumed)), lung_share="18.8%", lung_sentence=warning)
    words, _ = recorded_words(value)
    assert words.count("Only 18.8% of this map") == 1 and "Age not known." in words
    pixels, overlay = _inputs()
    texts = []
    report._render(pixels, overlay, PREDICTION, value, texts)
    assert {t[5] for t in texts if "18.8%" in t[3]} == {WARNING}
    # Without the share (not measured), a caution finding stays among the notes.
    words, _ = recorded_words(replace(value, lung_share=None, lung_sentence=None))
    assert words.count("Only 18.8% of this map") == 1 and "Map inside" not in words


def test_a_crowded_ordinary_case_fits_on_one_page():
    from model.present.report import render_pages

    pixels, overlay = _inputs()
    crowded = realistic_content()
    assert len(render_pages(pixels, overlay, PREDICTION, crowded)) == 1
    words, _ = recorded_words(crowded)
    assert "next page" not in words and crowded.notes[-1].split()[-1] in words
    # A few more notes do go on to a second page, where they are said to continue.
    more = replace(crowded, notes=(*crowded.notes, *[f"Another note {i} of some length, " * 4 for i in range(8)]))
    assert len(render_pages(pixels, overlay, PREDICTION, more)) == 2


def test_an_answer_resting_on_assumptions_says_once_what_the_reader_can_do_and_stays_one_page():
    """A plain PNG, no age or view stated: Diagnose shows under the status "State the age and view in the side
    panel, under *About this film*.". The report, read away from the page, says it once, saying where that
    panel is; the findings' own sentences are not printed again (the line states the assumptions)."""
    from model.present import text
    from model.present.report import Status
    from model.trust.findings import Finding

    age, view = realistic_content().status.findings[1:]
    advice = "State the age and view on Diagnose, in its side panel under “About this film”."
    for value in (content(status=Status("Answer. Read as an adult's frontal film (age and view not stated).",
                                        "answer", (age, view))),
                  realistic_content()):  # the crowded ordinary case: still one page with the advice
        words, pages = recorded_words(value)
        assert words.count(advice) == 1 and len(pages) == 1
        assert "state the age if the patient is a child" not in words and "side panel, under *" not in words
    only_view, _ = recorded_words(content(status=Status("Answer. Read as a frontal film (view not stated).",
                                                        "answer", (view,))))
    assert "State the view on Diagnose, in its side panel" in only_view and "the age" not in only_view
    # Out of scope, no answer rests on them: no advice to state them (the findings stay among the notes).
    blocked = Finding("child", "out_of_scope", "reader", "The reader gives the patient's age as 9 years: ...")
    words, _ = recorded_words(content(status=Status("Out of scope: no answer shown (a child's film).",
                                                    "out_of_scope", (blocked, view))))
    assert "State the" not in words and view.sentence in words
    assert text.state_prompt([age, view]) == "State the age and view in the side panel, under *About this film*."


def test_a_dicom_age_that_could_not_be_used_is_explained_in_the_report_as_on_the_page():
    """The line says the header's age could not be used (not "not stated": the header gave one); why is the
    finding's own sentence, the one the CLI prints, kept among the notes."""
    from model.present import text
    from model.present.report import Status
    from model.trust.facts import fact_findings, scope_facts
    from model.trust.triage import Triage

    found = fact_findings(scope_facts({"patient_age_problem": "age_not_in_form", "view_position": "PA"}))
    assert [f.kind for f in found] == ["age_not_known"]
    line = text.status_line(Triage("answer", found))
    assert line == "Answer. Read as an adult's film (the DICOM header's age could not be used)."
    words, _ = recorded_words(content(status=Status(line, "answer", tuple(found))))
    assert "not in DICOM's form, such as 045Y, so it could not be read" in words and "not stated" not in words


def test_no_function_of_the_report_takes_more_than_seven_parameters():
    # Our rule for `model/present/`: a long parameter list becomes a typed value (here `ReportContent`).
    # Every function written in the module counts, private ones and methods too; the dataclasses' generated
    # __init__ does not (its parameters are the value's named fields, which is the remedy, not the fault).
    import model.present.report as report

    written = [f for _, f in inspect.getmembers(report, inspect.isfunction) if f.__module__ == report.__name__]
    for _, cls in inspect.getmembers(report, inspect.isclass):
        if cls.__module__ == report.__name__:
            written += [f for f in vars(cls).values() if inspect.isfunction(f)]
    written = [f for f in written if f.__code__.co_filename == report.__file__]
    assert len(written) > 20 and "_render" in {f.__name__ for f in written}
    too_long = {f.__qualname__: len(inspect.signature(f).parameters) for f in written
                if len(inspect.signature(f).parameters) > 7}
    assert not too_long, too_long


def test_report_content_is_frozen_and_refuses_a_status_of_another_kind():
    value = content(compared=["Grad-CAM", "Occlusion"], notes=["One note."])
    assert value.compared == ("Grad-CAM", "Occlusion") and value.notes == ("One note.",)
    with pytest.raises(AttributeError):
        value.case_id = "changed"
    with pytest.raises(ValueError, match="Status"):
        content(status="Answer.")


def test_the_measured_checks_are_printed_compactly_and_a_realistic_report_stays_one_page():
    """The review's case: faithfulness passed, occlusion agrees, every method compared. The report carries
    the page's one-line results (not only the cautions) and stays one A4 page; a check that raised a
    caution is printed once, in its line, in the caution's colour."""
    from types import SimpleNamespace

    import model.present.report as report
    from model.present.check_lines import report_check_lines
    from model.present.report import WARNING, Status, render_pages
    from model.trust.agreement import Agreement
    from model.trust.map_checks import MapChecks, map_findings

    pairs = {"gradcam vs gradcam++": 0.72, "gradcam vs layercam": 0.72, "gradcam vs scorecam": 0.05,
             "gradcam vs smoothgrad": 0.10, "gradcam vs occlusion": 0.65, "gradcam++ vs layercam": 1.0}
    faith = SimpleNamespace(verdict="faithful", summary="The map ranks the evidence better than random region "
                            "orders (average probability while hiding 0.40 against 0.55 for random regions, while "
                            "revealing 0.58 against 0.45).")
    checks = MapChecks(faithfulness=faith, agreement=Agreement(pairs, 0.2), occlusion_similarity=0.65,
                       every_method=True, shown="gradcam")
    lines = report_check_lines(checks, map_findings(checks))
    assert [title for title, *_ in lines] == ["Faithfulness", "Every method compared"]  # occlusion said in the last
    crowded = realistic_content(checks=lines)
    pixels, overlay = _inputs()
    assert len(render_pages(pixels, overlay, PREDICTION, crowded)) == 1
    words, _ = recorded_words(crowded)
    assert "Checks of the map" in words and "next page" not in words
    for title, sentence, _ in lines:
        assert f"{title}: {sentence}" in words
    assert "Occlusion, the stronger, gradient-free check, agrees (+0.65)." in words
    # Without checks made, no heading is left over.
    assert "Checks of the map" not in recorded_words(realistic_content())[0]
    # Occlusion drawing other regions: its caution is the line, printed once and in the caution's colour.
    low = MapChecks(occlusion_similarity=0.1)
    [caution] = map_findings(low)
    status = Status("Answer. Read the map with care: occlusion agrees little with Grad-CAM.", "answer", (caution,))
    value = realistic_content(status=status, checks=report_check_lines(low, [caution]))
    words, _ = recorded_words(value)
    assert words.count("points elsewhere than Grad-CAM") == 1
    texts = []
    report._render(pixels, overlay, PREDICTION, value, texts)
    assert {t[5] for t in texts if "points elsewhere" in t[3]} == {WARNING}


def test_a_second_read_case_with_every_check_made_is_one_page_and_says_each_figure_once():
    """The browser review's film (covid-cxnet, 59.3% COVID-19, second read advised): lung share measured,
    faithfulness mixed, occlusion computed (+0.28, below the limit) and every method compared. The report
    is one A4 page with the images at full or near-full size; occlusion's figure is said once (in the
    comparison's line, in a caution's colour); the assumptions the status line states ("Read as an adult's
    frontal film (age and view not stated).") are not printed again as notes; the two other notes are."""
    from types import SimpleNamespace

    import model.present.report as report
    from model.present import text
    from model.present.check_lines import report_check_lines
    from model.present.report import IMAGE_BOX_HEIGHT, SMALLER_IMAGE_BOXES, WARNING, Status, render_pages
    from model.trust.agreement import Agreement
    from model.trust.map_checks import MapChecks, map_findings

    pairs = {"gradcam vs gradcam++": 0.38, "gradcam vs layercam": 0.38, "gradcam vs scorecam": -0.10,
             "gradcam vs smoothgrad": -0.04, "gradcam vs occlusion": 0.28, "gradcam++ vs layercam": 1.0}
    faith = SimpleNamespace(verdict="mixed", deletion_auc=0.59, insertion_auc=0.45, random_deletion_auc=0.38,
                            random_insertion_auc=0.37, summary=(
        "Mixed: one of the two tests passed. Passed: revealing the regions the map ranks first brings the "
        "probability higher than revealing random regions does. Not passed: hiding them keeps it higher than "
        "hiding random regions does (average probability while hiding 0.59 against 0.38 for random regions, "
        "while revealing 0.45 against 0.37)."))
    checks = MapChecks(faithfulness=faith, agreement=Agreement(pairs, 0.2), occlusion_similarity=0.28,
                       every_method=True, shown="gradcam", occlusion_against="gradcam")
    findings = (*realistic_content().status.findings[1:], *map_findings(checks, "Grad-CAM"))
    low = realistic_content().status.findings[0]
    low = replace(low, sentence="COVID-19 has a probability of only 59.3%: this model needs 78.3% to answer on its own.")
    status = Status("Uncertain: second read advised (probability too low to stand alone). Read as an adult's frontal "
                    "film (age and view not stated). Read the map with care: the map passes only one of its two "
                    "faithfulness tests, most other methods draw other regions and occlusion agrees little with "
                    "Grad-CAM.", "uncertain", (low, *findings))
    card = SimpleNamespace(calibration=True, temperature=0.66)
    film_note = ("This film is in this model's data but held out (source covid-cxnet; its patient is in the test "
                 "split): a fair test; true label COVID-19.")
    case = realistic_content(
        status=status, map_label="COVID-19", other_class=None, what_if=None,
        compared=("Grad-CAM", "Grad-CAM++", "LayerCAM", "Score-CAM", "SmoothGrad", "Occlusion"),
        stability="Varies: moves ±7.4 points (one standard deviation) on 7 changed copies",
        notes=("The map explains the class COVID-19 at the layer all 3 networks, last block.",
               text.probability_definition(card, short=True)),
        lung_share=text.lung_share(0.37), lung_sentence=text.lung_share_sentence(0.37, 0.269, "Grad-CAM", 0.394, True),
        checks=report_check_lines(checks, status.findings), film_note=film_note)
    pixels, overlay = _inputs()
    texts = []
    pages = report._render(pixels, overlay, PREDICTION, case, texts)
    assert len(pages) == 1
    words = " ".join(" ".join(t[3] for t in texts).split())
    # Occlusion's figure, once: in the comparison's line (the occlusion caution's own line goes), in its colour.
    assert words.count("+0.28") == 1 and "Occlusion cross-check" not in words
    assert "Every method compared: Grad-CAM agrees little" in words
    assert {t[5] for t in texts if "draws other regions (+0.28)" in t[3]} == {WARNING}
    assert "points elsewhere than Grad-CAM" not in words  # not again among the notes
    # Every figure and note still there, the film's note under the status, the short probability note.
    for said in ("59.3%", "78.3%", "±7.4", "37.0%", "0.59 against 0.38", "(-0.10)", "(-0.04)", "+0.38", "0.66",
                 "at the layer all 3 networks", film_note, text.probability_definition(card, short=True)):
        assert said in words, said
    assert words.count("age and view not stated") == 1 and "Age not known" not in words
    assert "View not known" not in words
    assert "Slightly shifted" not in words and "next page" not in words
    assert words.index(film_note) < words.index("Original image")
    # The images at a readable size: at most one step smaller than the full box.
    height = next(h for h in (IMAGE_BOX_HEIGHT, *SMALLER_IMAGE_BOXES) if len(
        report._layout((pixels, overlay), PREDICTION, case, None, h)) == 1)
    assert height >= SMALLER_IMAGE_BOXES[0]
    assert len(render_pages(pixels, overlay, PREDICTION, case)) == 1


def test_occlusions_own_map_read_says_its_cross_check_figure_once():
    """The same film with occlusion's map read: the comparison of methods names Grad-CAM (+0.28), the very
    pair of the occlusion cross-check; the figure is said once, by the comparison's line, in a caution's colour."""
    import model.present.report as report
    from model.present.check_lines import report_check_lines
    from model.present.report import WARNING, Status
    from model.trust.agreement import Agreement
    from model.trust.map_checks import MapChecks, map_findings

    pairs = {"occlusion vs gradcam": 0.28, "occlusion vs gradcam++": -0.11, "occlusion vs layercam": -0.11,
             "occlusion vs scorecam": -0.32, "occlusion vs smoothgrad": -0.10, "gradcam++ vs layercam": 1.0,
             "gradcam vs gradcam++": 0.38, "gradcam vs layercam": 0.38}
    checks = MapChecks(agreement=Agreement(pairs, 0.2), occlusion_similarity=0.28, every_method=True,
                       shown="occlusion", occlusion_against="gradcam")
    findings = map_findings(checks, "Occlusion")
    assert {f.kind for f in findings} == {"methods_disagree"}  # the same pair: one caution (`map_findings`)
    assert [title for title, *_ in report_check_lines(checks, findings)] == ["Every method compared"]
    status = Status("Answer. Read the map with care.", "answer", tuple(findings))
    value = realistic_content(method="occlusion", status=status, checks=report_check_lines(checks, findings))
    words, _ = recorded_words(value)
    assert words.count("+0.28") == 1 and "points elsewhere than Grad-CAM" not in words
    pixels, overlay = _inputs()
    texts = []
    report._render(pixels, overlay, PREDICTION, value, texts)
    assert {t[5] for t in texts if "+0.28" in t[3]} == {WARNING}


def test_an_answers_caution_is_in_the_reports_status_and_said_once_in_the_warning_colour():
    """An answer whose copies fall below its level: the report's status line names it (as Diagnose's does) and
    its sentence is printed once, in the colour of a caution, not as information."""
    import model.present.report as report
    from model.present.report import WARNING, Status, note_style
    from model.present.text import stability_line, status_line
    from model.trust.triage import Triage
    from model.trust.uncertainty import uncertainty_of

    tta = uncertainty_of(tuple(LABELS), np.array([[0.81, 0.12, 0.07]] + [[0.9, 0.06, 0.04]] * 5
                                                 + [[0.7, 0.2, 0.1]] * 2), 0.783, 0.5)
    [caution] = tta.findings
    assert note_style(caution)[:2] == (WARNING, "!")
    line = status_line(Triage("answer", list(tta.findings)))
    pixels, overlay = _inputs()
    texts = []
    report._render(pixels, overlay, PREDICTION, content(status=Status(line, "answer", (caution,)),
                                                        stability=stability_line(tta)), texts)
    words = " ".join(" ".join(t[3] for t in texts).split())
    assert "Answer. Read the answer with care: 2 of 7 changed copies below the answer level 78.3%." in words
    assert "2 of the 7 copies below the answer level 78.3%" in words  # the stability line beside the probability
    first = " ".join(caution.sentence.split()[:6])
    said = [t for t in texts if first in t[3]]
    assert len(said) == 1 and said[0][5] == WARNING
