"""The downloadable one-page report: a readable PNG/PDF page with the images, output and disclaimer."""
from __future__ import annotations

import inspect
import io
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from model.prediction import Prediction
from model.present.overlay import render_overlay
from model.present.report import DISCLAIMER, PAGE_SIZE, build_report, build_report_pdf, render_report
from tests.support import LABELS, synthetic_radiograph

PREDICTION = Prediction(tuple(LABELS), np.array([0.7, 0.2, 0.1]))
META = dict(method="gradcam", model_id="tiny-a", model_version="0.1", model_name="Tiny test model")


def _inputs(height: int = 128, width: int = 128):
    pixels = synthetic_radiograph(height, width=width)
    heat = np.zeros_like(pixels)
    heat[height // 4: height // 2, width // 4: width // 2] = 1.0
    return pixels, render_overlay(pixels, heat)


def test_png_report_is_one_a4_page():
    pixels, overlay = _inputs()
    png = build_report(pixels, overlay, PREDICTION, **META, created=datetime(2026, 3, 1, 12, 30))
    page = Image.open(io.BytesIO(png))
    assert page.format == "PNG" and page.size == PAGE_SIZE == (1240, 1754)
    array = np.asarray(page.convert("RGB"))
    assert (array == 255).all(axis=-1).mean() > 0.5, "the page background is white"
    # The overlay's red hot spot appears on the right half of the page only (the overlay panel).
    red = (array[..., 0].astype(int) - array[..., 2] > 60) & (array[..., 1] < 120)
    assert red[:, PAGE_SIZE[0] // 2:].sum() > 1000 and red[:1000, : PAGE_SIZE[0] // 2].sum() == 0


def test_pdf_report_is_a_pdf():
    pixels, overlay = _inputs()
    pdf = build_report_pdf(pixels, overlay, PREDICTION, **META)
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
    details = dict(**META, case_id="abc12345", status=status, notes=["Only 18.8% of this map lies on the lungs."],
                   stability=stability)
    pdf = build_report_pdf(pixels, overlay, PREDICTION, **details)
    words = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    words = " ".join(words.split())
    for line in ("Chest X-ray explanation report", "abc12345", status.line, "70.0%", "Only 18.8% of this map",
                 DISCLAIMER, stability):
        assert line in words
    # The PDF's page images carry no text of their own (it would be set twice): the title's place is white.
    texts = []
    bare = report._render(pixels, overlay, PREDICTION, texts, **details)[0]
    drawn = render_report(pixels, overlay, PREDICTION, **details)
    title = (slice(40, 110), slice(60, 700))
    assert (np.asarray(bare)[title] == 255).all() and (np.asarray(drawn)[title] < 128).any()
    assert any(t[3] == "Chest X-ray explanation report" for t in texts)
    # A note longer than a page is shortened and its page drawn again: the failed attempt's lines are not kept.
    again = []
    report._render(pixels, overlay, PREDICTION, again, **{**details, "notes": ["word " * 3000]})
    placed = [(t[0], t[1], t[2], t[3]) for t in again]
    assert len(placed) == len(set(placed))
    # Without the fonts the PDF still comes, as images of the pages.
    monkeypatch.setattr(report, "_pdf_fonts", lambda: None)
    fallback = build_report_pdf(pixels, overlay, PREDICTION, **details)
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
    what_if = {"cells": "2 cells", "label": "COVID-19", "before": 0.9, "after": 0.8, "change": "−10.0 points",
               "output_after": "COVID-19"}
    texts = []
    pages = report._render(pixels, overlay, long_labels, texts, **META, status=status, what_if=what_if,
                           colormap="inferno", threshold=0.5, map_label="Normal",
                           notes=[f"note {i}: " + "words of a sentence " * 8 for i in range(12)])
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


def test_original_image_keeps_its_aspect_ratio():
    # A uniform mid-gray portrait image: its pasted footprint must stay twice as tall as wide.
    pixels = np.full((200, 100), 128 / 255, np.float32)
    overlay = np.zeros((200, 100, 3), np.uint8)
    array = np.asarray(render_report(pixels, overlay, PREDICTION, **META))
    gray = (array == 128).all(axis=-1)[:, : PAGE_SIZE[0] // 2]
    # Rows and columns mostly of that gray: stray anti-aliased text pixels do not count.
    rows, cols = np.nonzero(gray.sum(axis=1) > 20)[0], np.nonzero(gray.sum(axis=0) > 20)[0]
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert height / width == pytest.approx(2.0, rel=0.03)
    assert height > 400, "the image is shown large enough to read"


def test_notes_and_time_change_the_page_and_many_notes_do_not_cover_the_disclaimer():
    pixels, overlay = _inputs()
    when = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    plain = np.asarray(render_report(pixels, overlay, PREDICTION, **META, created=when))
    noted = np.asarray(render_report(pixels, overlay, PREDICTION, **META, created=when,
                                     notes=["Image looks unlike the training data."]))
    assert (plain != noted).any()
    # The same instant given in another time zone prints the same UTC time.
    shifted = when.astimezone(timezone(timedelta(hours=5)))
    same = np.asarray(render_report(pixels, overlay, PREDICTION, **META, created=shifted))
    np.testing.assert_array_equal(plain, same)
    crowded = np.asarray(render_report(pixels, overlay, PREDICTION, **META, created=when,
                                       notes=[f"warning number {i} " * 8 for i in range(40)]))
    # The disclaimer box at the bottom is drawn identically, however many notes there are.
    np.testing.assert_array_equal(crowded[-170:], plain[-170:])


def test_notes_that_do_not_fit_continue_on_further_pages_of_the_png_and_the_pdf():
    from model.present.report import render_pages

    pixels, overlay = _inputs()
    when = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    few = render_pages(pixels, overlay, PREDICTION, **META, created=when, notes=["One note."])
    assert len(few) == 1
    notes = [f"note {i}: " + "a sentence of some length " * 6 for i in range(60)]
    pages = render_pages(pixels, overlay, PREDICTION, **META, created=when, notes=notes)
    assert len(pages) >= 3  # 60 notes of three lines each need two more pages
    first = np.asarray(few[0])
    for page in pages:  # every page ends with the same disclaimer box
        np.testing.assert_array_equal(np.asarray(page)[-170:], first[-170:])
    png = Image.open(io.BytesIO(build_report(pixels, overlay, PREDICTION, **META, created=when, notes=notes)))
    assert png.size == (PAGE_SIZE[0], PAGE_SIZE[1] * len(pages))
    pdf = build_report_pdf(pixels, overlay, PREDICTION, **META, created=when, notes=notes)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == len(pages)  # one PDF page per page
    # A note longer than a page is shortened, not lost and not looping.
    assert len(render_pages(pixels, overlay, PREDICTION, **META, created=when, notes=["word " * 20000])) == 2


def test_the_what_if_line_says_whether_the_output_changes():
    from model.present.report import what_if_line

    hidden = {"cells": "2 cells", "label": "COVID-19", "before": 0.763, "after": 0.754, "change": "−0.9 points"}
    assert what_if_line({**hidden, "output_after": "COVID-19"}).endswith(
        "COVID-19 76.3% → 75.4% (−0.9 points); the output stays the same.")
    assert what_if_line({**hidden, "after": 0.30, "change": "−46.3 points", "output_after": "Normal"}).endswith(
        "; the output becomes Normal.")


def test_the_what_if_line_names_the_fill_and_cells_the_model_never_saw():
    from model.present.report import render_pages, what_if_line

    hidden = {"cells": "row 3, column 2", "label": "Normal", "before": 0.6, "after": 0.5, "change": "−10.0 points",
              "output_after": "Normal"}
    assert what_if_line({**hidden, "fill": "blur"}).startswith("What if row 3, column 2 of the film were hidden "
                                                              "(blurred): Normal 60.0% → 50.0%")
    assert what_if_line({**hidden, "fill": "black"}).startswith("What if row 3, column 2 of the film were hidden "
                                                               "(blacked out):")
    outside = {"cells": "row 1, column 1", "label": "Normal", "before": 0.6, "probabilities": None, "fill": "blur"}
    assert what_if_line(outside).endswith("the model never saw this part of the film (outside the region it looks "
                                          "at), so nothing changes.")
    pixels, overlay = _inputs()
    assert render_pages(pixels, overlay, PREDICTION, **META, what_if=outside)  # a report, not a KeyError


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
    parameters = set(inspect.signature(build_report).parameters)
    assert not parameters & {"path", "filename", "patient_id", "name"}
    assert inspect.signature(build_report_pdf).parameters.keys() == inspect.signature(build_report).parameters.keys()


def test_bad_overlay_is_refused():
    pixels, _ = _inputs()
    with pytest.raises(ValueError, match="shape"):
        build_report(pixels, np.zeros((5, 5, 7), np.uint8), PREDICTION, **META)
