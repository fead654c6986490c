"""A one-page report of one analysed image, as PNG or PDF, drawn with Pillow.

The page holds what a reader needs to judge the result and nothing that identifies a patient:
`ReportContent` has no field for an identifier or a file name, so the report cannot print one.

    content = ReportContent(method="gradcam", model_id=card.id, model_version=card.version,
                            model_name=card.display_name, case_id=digest[:8], colormap="inferno",
                            status=Status(line, kind, findings), what_if=effect,
                            compared=("Grad-CAM", "Occlusion"), other_class=note,
                            lung_share="82.3%", lung_sentence=sentence)
    png = build_report(xray.pixels, overlay, prediction, content)

The status is the final one: the triage and every check made afterwards (the map checks), each
finding drawn in the colour of its severity, from its own fields (never guessed from its words).
The sentences beside the map (another class's note, the share on the lungs) and the note under the status
on a labelled film of the server (whether this model learnt from it) are those the page shows for the same
film, passed in as the page made them, never worded here again; the advice Diagnose gives under an answer
that assumed the age or view (`text.state_prompt`) is said under the status too, naming where to state them.
Each is printed once: a finding the status line states (its assumptions) or a line beside its figure carries
is not repeated among the notes.

The case identifier is not patient data: the first hex digits of the image's SHA-256 digest, so a
reader can match a report to the session's case without any identifier on the page.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.explain import method_label
from model.explain.film_grid import HiddenEffect, cells_name, signed_points
from model.present import text
from model.present.overlay import colour_bar, colour_bar_caption
from model.trust.findings import ANSWER_CAUTION, ASSUMPTION, MAP_CAUTION, OUT_OF_SCOPE, UNCERTAIN
from model.trust.uncertainty import prints_as

DISCLAIMER = f"{text.DISCLAIMER} {text.QUALIFIED_READER}"  # the pages' notice, word for word

PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi.
PAGE_DPI = 150
MARGIN = 80
GAP = 40
COLUMN = (PAGE_SIZE[0] - 2 * MARGIN - GAP) // 2  # the film's column and the map's, each with its text under it
IMAGE_BOX_HEIGHT = 410
# Smaller image boxes tried, in turn, when the page's words do not fit at full size: the film and its map give
# up some height before a case's report runs on to a second page (only if one of them fits it on one).
SMALLER_IMAGE_BOXES = (370, 330, 290)
NOTE_SIZE = 20  # the notes' font size (pixels)
TEXT = (20, 20, 20)
MUTED = (95, 95, 95)
BAR = (150, 170, 200)
BAR_PREDICTED = (31, 90, 170)
WARNING = (170, 60, 0)
INFO = (40, 70, 120)
BLOCKED = (160, 20, 20)
# A finding's severity sets its colour and mark; notes without a severity are information.
SEVERITY_STYLE = {OUT_OF_SCOPE: (BLOCKED, "!"), UNCERTAIN: (WARNING, "!"), ANSWER_CAUTION: (WARNING, "!"),
                  MAP_CAUTION: (WARNING, "!"),
                  ASSUMPTION: (INFO, "-"), "info": (INFO, "-")}
STATUS_COLOURS = {"answer": INFO, UNCERTAIN: WARNING, OUT_OF_SCOPE: BLOCKED}


@dataclass(frozen=True)
class Status:
    """The final status of the case as the report prints it.

    Attributes:
        line: the status line (`model.present.text.status_line`).
        kind: "answer", "uncertain" or "out_of_scope" (its colour).
        findings: every `model.trust.findings.Finding` of the case, those set by the map checks too.
    """

    line: str
    kind: str = "answer"
    findings: tuple = ()


@dataclass(frozen=True)
class ReportContent:
    """What a report says about one analysed image, besides the images and the prediction themselves.

    Attributes:
        method: explanation method key (e.g. "gradcam"); shown by its label.
        model_id, model_version, model_name: the model card's registry id, version and display name.
        created: time of the analysis; now (UTC) when None. Printed in UTC.
        case_id: a case identifier that is not patient data (first hex digits of the image digest).
        colormap, threshold: the overlay's colour map and threshold, for the colour bar (none when
            `colormap` is None).
        status: the final `Status` (line, kind and every finding, those of the map checks included).
        what_if: what hiding cells of the film did, when the reader hid some (`HiddenEffect`; see
            `what_if_line`).
        compared: labels of the methods whose maps were compared.
        map_label: the class the map explains, named by the colour bar; the top class when None.
        stability: the output's stability as the page shows it (`model.present.text.stability_line`),
            under the probabilities.
        notes: further lines (plain sentences, information), printed across the page below the film's
            and the map's columns, after the status's findings that did not set it (assumptions, map
            cautions, ...); those that do not fit continue on further pages.
        other_class: the page's note under a map of a class the model did not answer
            (`model.present.text.other_class_note`), printed under the colour bar; None for the answer's map.
        lung_share: the map's share on the lung fields as the page shows it (`model.present.text.lung_share`);
            None when it was not measured (no lung model, no plausible lung fields).
        lung_sentence: the sentence the page shows under that share (`model.present.text.lung_share_sentence`,
            or the attention's warning when it fired), printed beside it under the map; a status finding
            with the same sentence (that warning) is printed there in its colour, not again as a note.
        checks: ((title, sentence, cautions), ...) of the map checks made, as the page shows them
            (`model.present.check_lines.report_check_lines`; `cautions`: the sentences of the findings a line
            says), printed compactly below the two columns; a status finding a line says (a check's caution) is
            printed there in its colour, not again as a note.
        film_note: the page's note on a labelled film of the server (`dashboard.seen_film.seen_note`: whether
            this model learnt from it, or its true label), printed under the status; None when the page showed
            none. `film_note_warns`: the page showed it as a warning (the model learnt from the film).
    """

    method: str
    model_id: str
    model_version: str
    model_name: str
    created: datetime | None = None
    case_id: str = ""
    colormap: str | None = None
    threshold: float = 0.0
    status: Status | None = None
    what_if: HiddenEffect | None = None
    compared: tuple[str, ...] = ()
    map_label: str | None = None
    stability: str | None = None
    notes: tuple = ()
    other_class: str | None = None
    lung_share: str | None = None
    lung_sentence: str | None = None
    checks: tuple = ()
    film_note: str | None = None
    film_note_warns: bool = False

    def __post_init__(self):
        # Lists are taken as given but kept as tuples: the content stays frozen all the way down.
        object.__setattr__(self, "compared", tuple(self.compared))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "checks", tuple((title, sentence, tuple(said)) for title, sentence, said in self.checks))
        if self.status is not None and not isinstance(self.status, Status):
            raise ValueError(f"status must be a report Status, got {type(self.status).__name__}")


FONT_FILES = {False: ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
              True: ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")}


@lru_cache(maxsize=None)
def _font(size: int, bold: bool = False):
    """DejaVu when available (clear at print size), else Pillow's built-in scalable font."""
    for name in FONT_FILES[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font.
        return ImageFont.load_default()


def _to_rgb_image(array: np.ndarray) -> Image.Image:
    """A Pillow RGB image from grayscale float [0, 1], uint8 gray or uint8/float RGB."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"an image must be HxW or HxWx3, got shape {array.shape}")
    if array.dtype != np.uint8:
        array = np.round(np.clip(np.nan_to_num(array.astype(np.float64)), 0.0, 1.0) * 255).astype(np.uint8)
    image = Image.fromarray(array[..., :3] if array.ndim == 3 else array)
    return image.convert("RGB")


def _fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to fit inside width x height, keeping the aspect ratio."""
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Greedy word wrap to a pixel width."""
    lines, current = [], ""
    for word in str(text).split():
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return lines + ([current] if current else [])


def _paragraph(draw, xy: tuple[int, int], text: str, font, width: int, fill=TEXT, spacing: int = 8) -> int:
    """Draw wrapped text; returns the y below it."""
    x, y = xy
    line_height = font.size + spacing if hasattr(font, "size") else 20
    for line in _wrap(draw, text, font, width):
        draw.text((x, y), line, font=font, fill=fill)
        y += line_height
    return y


def _utc(created: datetime | None) -> datetime:
    if created is None:
        return datetime.now(timezone.utc)
    # A naive time is taken to be UTC already; an aware one is converted.
    return created.replace(tzinfo=timezone.utc) if created.tzinfo is None else created.astimezone(timezone.utc)


def note_style(note) -> tuple[tuple[int, int, int], str, str]:
    """(colour, mark, text) of a note: a `Finding` by its severity, a plain sentence as information."""
    severity = getattr(note, "severity", "info")
    colour, mark = SEVERITY_STYLE.get(severity, SEVERITY_STYLE["info"])
    return colour, mark, str(getattr(note, "sentence", note))


def _header(draw, y: int, content: ReportContent) -> int:
    width = PAGE_SIZE[0] - 2 * MARGIN
    draw.text((MARGIN, y), "Chest X-ray explanation report", font=_font(44, True), fill=TEXT)
    # The time on the title's line, right-aligned, as a letter's date: its own row would cost the line the
    # status's advice needs.
    created = _utc(content.created).strftime("%Y-%m-%d %H:%M UTC")
    draw.text((PAGE_SIZE[0] - MARGIN - draw.textlength(created, font=_font(22)), y + 18), created, font=_font(22),
              fill=MUTED)
    y += 58
    case_id, status = content.case_id, content.status
    rows = [("Case", f"{case_id} (image fingerprint, not patient data)" if case_id else ""),
            ("Model", f"{content.model_name} (id {content.model_id}, version {content.model_version})"),
            ("Compared", ", ".join(content.compared))]
    for key, value in rows:
        if not value:
            continue
        draw.text((MARGIN, y), f"{key}:", font=_font(24, True), fill=TEXT)
        y = _paragraph(draw, (MARGIN + 190, y), value, _font(24), width - 190, spacing=6)
    if status is not None:
        draw.text((MARGIN, y), "Status:", font=_font(24, True), fill=TEXT)
        y = _paragraph(draw, (MARGIN + 190, y), status.line, _font(24, True), width - 190,
                       fill=STATUS_COLOURS.get(status.kind, WARNING), spacing=6)
        for finding in status.findings:  # what set the status, in full
            if finding.severity == status.kind:
                y = _paragraph(draw, (MARGIN + 190, y), finding.sentence, _font(22), width - 190,
                               fill=STATUS_COLOURS.get(status.kind, WARNING), spacing=6)
        # What the reader can do about an assumption the line states, as the page says it under the line.
        prompt = text.state_prompt([f for f in status.findings if f.severity == ASSUMPTION], status.kind,
                                   text.STATE_IN_REPORT)
        if prompt:
            y = _paragraph(draw, (MARGIN + 190, y), prompt, _font(20), width - 190, fill=INFO, spacing=5)
    if content.film_note:  # whether the output tests the model at all: beside the status, as on the page
        y = _paragraph(draw, (MARGIN + 190, y + 4), content.film_note, _font(20), width - 190,
                       fill=WARNING if content.film_note_warns else INFO, spacing=5)
    draw.line((MARGIN, y + 8, PAGE_SIZE[0] - MARGIN, y + 8), fill=MUTED, width=2)
    return y + 24


def _under_map(page: Image.Image, draw, y: int, content: ReportContent, top_label: str) -> int:
    """Under the overlay: the colour bar with what its colours mean (it names the class the map explains,
    the answer unless another was chosen), the page's note on a map of a class not answered and the
    map's share on the lungs; returns the y below them."""
    panel_w = COLUMN
    x = MARGIN + panel_w + GAP
    if content.colormap:
        threshold = content.threshold
        page.paste(Image.fromarray(colour_bar(content.colormap, panel_w, 18, threshold)), (x, y))
        draw.rectangle((x - 1, y - 1, x + panel_w, y + 18), outline=MUTED)
        y = _paragraph(draw, (x, y + 26), colour_bar_caption(content.map_label or top_label, threshold) + ".",
                       _font(18), panel_w, fill=MUTED, spacing=4)  # it says the map is scaled to its own maximum
    if content.other_class:
        y = _paragraph(draw, (x, y + 6), content.other_class, _font(18), panel_w, fill=INFO, spacing=4)
    if lung_line(content):  # the map's share on the lungs, as the page's lung panel shows it
        y = _paragraph(draw, (x, y + 6), lung_line(content), _font(18), panel_w, fill=_lung_colour(content),
                       spacing=4)
    return y + 16


FILL_WORDS = {"blur": "blurred", "mean": "filled with the film's mean grey", "black": "blacked out"}


def fill_words(fill: str | None) -> str:
    """How hidden cells were hidden, as a participle ("blurred"); "" when not known."""
    return FILL_WORDS.get(fill or "", "")


def output_headline(prediction, status: Status | None = None) -> str:
    """The report's headline: the top class and its probability, marked as for reference only when the
    film is out of scope (its output shown only because the reader asked)."""
    labels, probabilities = list(prediction.labels), np.asarray(prediction.probabilities, float)
    top = int(np.argmax(probabilities))
    head = ("Model output, for reference only (out of scope)" if status is not None and status.kind == "out_of_scope"
            else "Model output")
    return f"{head}: {labels[top]} ({probabilities[top]:.1%})"


def what_if_line(effect: HiddenEffect) -> str:
    """The report's line on hidden cells: how they were hidden, the answer's class before and after, the
    change in points as the page shows it, and whether the output changes (or that the model never saw them)."""
    how = fill_words(effect.fill)
    hidden = f"{cells_name(effect.cells, effect.grid)} of the film were hidden" + (f" ({how})" if how else "")
    if not effect.seen:
        return (f"What if {hidden}: the model never saw this part of the film (outside the region it looks at), "
                "so nothing changes.")
    return (f"What if {hidden}: {effect.label} {effect.before:.1%} → {effect.after:.1%} "
            f"({signed_points(effect.change)}); {hidden_outcome(effect)}.")


OUTPUT_SAME = "the output stays the same"


def _under(probability: float, level: float) -> str:
    return "just under" if prints_as(probability, level) else "under"


def hidden_outcome(effect: HiddenEffect) -> str:
    """What hiding the cells does to the answer, one clause for the page's hidden-cells box and the report's
    line, from the effect's flags: another class becomes the output; or the answer stays but crosses the model's
    answer level (`effect.level`, the "low_probability" rule's threshold: a fall under it holds the film for a
    second read, so it is not "the same"); else `OUTPUT_SAME`. Without a level, only a change of class is said."""
    label, level = effect.label, effect.level
    if effect.output_changes:
        under = f", {_under(effect.after_top, level)} the answer level ({level:.1%})" if effect.after_top_under else ""
        return f"the output becomes {effect.output_after} ({effect.after_top:.1%}){under}"
    if effect.falls_under:
        return (f"the output stays {label} but falls {_under(effect.after, level)} the answer level "
                f"({level:.1%}), so it would be held for a second read")
    if effect.reaches_level:
        return (f"the output stays {label} and now reaches the answer level ({level:.1%}), which alone would no "
                "longer hold it for a second read")
    return OUTPUT_SAME


def _images(page: Image.Image, draw, y: int, images: tuple, content: ReportContent,
            height: int = IMAGE_BOX_HEIGHT) -> int:
    """The film and the overlay (`images`) side by side, each fitted into a box `height` pixels high."""
    panel_w = COLUMN
    pixels, overlay_rgb = images
    # "marked", not "greyed": the shading only shows where they are; the what-if line says how the model saw
    # them hidden (blurred, by default), which the caption contradicted.
    captions = ("Original image, hidden cells marked" if content.what_if else "Original image",
                f"Explanation overlay ({method_label(content.method)})")
    bottom = y
    for i, (array, caption) in enumerate(zip((pixels, overlay_rgb), captions)):
        x = MARGIN + i * (panel_w + GAP)
        draw.text((x, y), caption, font=_font(24, True), fill=TEXT)
        image = _fit(_to_rgb_image(array), panel_w, height)
        # Centre horizontally in the panel so both images line up whatever their aspect ratio.
        left = x + (panel_w - image.width) // 2
        page.paste(image, (left, y + 36))
        draw.rectangle((left - 1, y + 35, left + image.width, y + 36 + image.height), outline=MUTED)
        bottom = max(bottom, y + 36 + image.height)
    return bottom + 14


def _under_film(draw, y: int, prediction, content: ReportContent) -> int:
    """Under the film: the output (headline, one bar per class, its stability as the page shows it beside
    the probability), then what hiding cells of the film changed; returns the y below them."""
    y = _paragraph(draw, (MARGIN, y), output_headline(prediction, content.status), _font(28, True), COLUMN,
                   spacing=6) + 10  # wrapped: "for reference only (out of scope)" is long
    y = _bars(draw, y, prediction)
    if content.stability:
        y = _paragraph(draw, (MARGIN, y), content.stability, _font(20), COLUMN, spacing=6) + 8
    if content.what_if:
        y = _paragraph(draw, (MARGIN, y + 4), what_if_line(content.what_if), _font(22, True), COLUMN, spacing=6) + 8
    return y + 8


def _bars(draw, y: int, prediction) -> int:
    """One row per class: its name (wrapped when long), a bar and the probability, the top class in bold."""
    labels, probabilities = list(prediction.labels), np.asarray(prediction.probabilities, float)
    predicted = int(np.argmax(probabilities))
    fonts = [_font(24, k == predicted) for k in range(len(labels))]
    name_w = min(max(draw.textlength(label, font=font) for label, font in zip(labels, fonts)) + 16,
                 round(COLUMN * 0.45))
    figure_w = draw.textlength("100.0%", font=_font(24, True)) + 16
    bar_left, bar_width = MARGIN + name_w, COLUMN - name_w - figure_w
    for k, (label, p) in enumerate(zip(labels, probabilities)):
        lines = _wrap(draw, label, fonts[k], name_w - 12)
        for i, line in enumerate(lines):
            draw.text((MARGIN, y + 32 * i), line, font=fonts[k], fill=TEXT)
        draw.rectangle((bar_left, y + 2, bar_left + bar_width, y + 28), outline=MUTED)
        filled = round(bar_width * float(np.clip(p, 0.0, 1.0)))
        if filled > 0:
            draw.rectangle((bar_left, y + 2, bar_left + filled, y + 28), fill=BAR_PREDICTED if k == predicted else BAR)
        figure = f"{p:.1%}"  # right-aligned at the column's edge
        draw.text((MARGIN + COLUMN - draw.textlength(figure, font=fonts[k]), y), figure, font=fonts[k], fill=TEXT)
        y += max(40, 32 * len(lines) + 8)
    return y + 4


def lung_line(content: ReportContent) -> str:
    """The map's share on the lung fields as the page's lung panel shows it: its figure under the page's
    label, then the page's sentence; "" when it was not measured."""
    figure = f"{text.LUNG_SHARE_LABEL}: {content.lung_share}." if content.lung_share else ""
    return " ".join(part for part in (figure, content.lung_sentence or "") if part)


def _lung_caution(content: ReportContent):
    """The status's finding whose sentence the lung line carries (the attention's warning, when it fired),
    else None: printed beside its figure in its colour, and not again among the notes."""
    if not content.lung_sentence:
        return None
    return next((f for f in _findings(content) if f.sentence == content.lung_sentence), None)


def _lung_colour(content: ReportContent) -> tuple[int, int, int]:
    caution = _lung_caution(content)
    return TEXT if caution is None else note_style(caution)[0]


def _check_cautions(content: ReportContent) -> dict:
    """{sentence: finding} of the status's findings that a check line carries (a check's caution): printed
    there in its colour, and not again among the notes."""
    sentences = {said for _, sentence, cautions in content.checks for said in (sentence, *cautions)}
    return {f.sentence: f for f in _findings(content) if f.sentence in sentences}


def _checks(draw, y: int, content: ReportContent) -> int:
    """The map checks made, one compact line each ("Faithfulness: ..."), in a caution's colour where the line
    is one; returns the y below them."""
    if not content.checks:
        return y
    width = PAGE_SIZE[0] - 2 * MARGIN
    draw.text((MARGIN, y), "Checks of the map", font=_font(22, True), fill=TEXT)
    y += 30
    cautions = _check_cautions(content)
    for title, sentence, said in content.checks:
        caution = next((cautions[s] for s in (sentence, *said) if s in cautions), None)
        colour = INFO if caution is None else note_style(caution)[0]
        y = _paragraph(draw, (MARGIN, y), f"{title}: {sentence}", _font(18), width, fill=colour, spacing=4) + 4
    return y + 6


def _findings(content: ReportContent) -> tuple:
    return content.status.findings if content.status is not None else ()


def _notes(draw, y: int, notes: Sequence, bottom: int, title: str = "Notes") -> list:
    """Draw the notes (findings and plain sentences) above `bottom`, never over the disclaimer; returns
    those that did not fit, for the next page."""
    width, font = PAGE_SIZE[0] - 2 * MARGIN, _font(NOTE_SIZE)
    line_height = NOTE_SIZE + 8  # as `_paragraph` sets them
    floor = bottom - 20  # clear of the disclaimer's box

    def room(i: int) -> int:  # a line kept for "(continued on the next page)", unless note i is the last
        return floor - (0 if i == len(notes) - 1 else 30)

    if not notes:
        return []
    _, mark, line = note_style(notes[0])
    if y + 38 + line_height * len(_wrap(draw, f"{mark} {line}", font, width)) + 6 > room(0):
        # Not even the first note fits: no heading left alone over an empty space.
        if y + 30 <= floor:
            draw.text((MARGIN, y), "(notes on the next page)", font=font, fill=MUTED)
        return list(notes)
    draw.text((MARGIN, y), title, font=_font(26, True), fill=TEXT)
    y += 38
    for i, note in enumerate(notes):
        colour, mark, line = note_style(note)
        needed = line_height * len(_wrap(draw, f"{mark} {line}", font, width)) + 6
        if y + needed > room(i):
            draw.text((MARGIN, y), "(continued on the next page)", font=font, fill=MUTED)
            return list(notes[i:])
        y = _paragraph(draw, (MARGIN, y), f"{mark} {line}", font, width, fill=colour) + 6
    return []


def _disclaimer(draw) -> int:
    """The disclaimer, pinned to the bottom of the page in a box whatever is above it; returns its top."""
    width = PAGE_SIZE[0] - 2 * MARGIN - 40
    font = _font(24, True)
    lines = _wrap(draw, DISCLAIMER, font, width)
    top = PAGE_SIZE[1] - MARGIN - 30 - 34 * len(lines)
    draw.rectangle((MARGIN, top, PAGE_SIZE[0] - MARGIN, PAGE_SIZE[1] - MARGIN), outline=WARNING, width=3)
    _paragraph(draw, (MARGIN + 20, top + 16), DISCLAIMER, font, width, fill=WARNING, spacing=10)
    return top


class _Draw:
    """An `ImageDraw` whose text is either drawn on the page or, for a PDF with real text, only recorded
    (page, x, y, text, font, colour) so that the PDF sets it at the same place in the same font."""

    def __init__(self, page: Image.Image, number: int, texts: list | None):
        self._draw, self._number, self._texts = ImageDraw.Draw(page), number, texts

    def text(self, xy, text, font, fill) -> None:
        if self._texts is None:
            self._draw.text(xy, text, font=font, fill=fill)
        else:
            self._texts.append((self._number, *xy, text, font, fill))

    def __getattr__(self, name):
        return getattr(self._draw, name)


def render_pages(pixels: np.ndarray, overlay_rgb: np.ndarray, prediction, content: ReportContent
                 ) -> list[Image.Image]:
    """The report as Pillow RGB A4 pages: the first as `render_report`; notes that do not fit on it
    continue on further pages, each with the case, its page number and the disclaimer."""
    return _render(pixels, overlay_rgb, prediction, content)


def _assumptions_in_line(content: ReportContent) -> tuple:
    """The status's assumptions when its line states them in full (`model.present.text.assumed_line`: "Read as an
    adult's frontal film (age and view not stated)."): said in the header, not again as notes. A DICOM header's
    age that could not be used is named by the line but not why: its sentence stays among the notes."""
    assumed = tuple(f for f in _findings(content) if f.severity == ASSUMPTION)
    said = text.assumed_line(assumed)
    why = text.header_age_problems(assumed)
    return tuple(f for f in assumed if f not in why) if said and said in content.status.line else ()


def _pending_notes(content: ReportContent) -> list:
    """The notes of the page: the status's findings that neither set it nor are stated by its line, then the
    plain notes; the lung attention's warning and the checks' cautions are left out, as they are printed beside
    their figures."""
    status, checked = content.status, _check_cautions(content)
    said = {id(f) for f in (_lung_caution(content), *_assumptions_in_line(content)) if f is not None}
    undecided = [f for f in _findings(content) if f.severity != status.kind and id(f) not in said
                 and f.sentence not in checked]
    return [n for n in [*undecided, *content.notes] if note_style(n)[2].strip()]


def _render(pixels: np.ndarray, overlay_rgb: np.ndarray, prediction, content: ReportContent,
            texts: list | None = None) -> list[Image.Image]:
    """`render_pages`; given a list `texts`, the pages carry no text and every line is recorded in it.
    A report that runs on to a second page at full image size is laid out again with smaller images
    (`SMALLER_IMAGE_BOXES`); the first that fits it on one page is kept, else the full size."""
    if not isinstance(content, ReportContent):
        raise ValueError(f"the report's content must be a ReportContent, got {type(content).__name__}")
    recorded = len(texts) if texts is not None else 0
    pages = _layout((pixels, overlay_rgb), prediction, content, texts)
    for height in SMALLER_IMAGE_BOXES if len(pages) > 1 else ():
        tried = [] if texts is not None else None
        smaller = _layout((pixels, overlay_rgb), prediction, content, tried, height)
        if len(smaller) == 1:
            if texts is not None:
                texts[recorded:] = tried  # the full-size attempt's lines replaced by those of the page kept
            return smaller
    return pages


def _layout(images: tuple, prediction, content: ReportContent, texts: list | None = None,
            height: int = IMAGE_BOX_HEIGHT) -> list[Image.Image]:
    """The pages of `_render` with the film and the overlay (`images`) in boxes `height` pixels high."""
    first = Image.new("RGB", PAGE_SIZE, "white")
    draw = _Draw(first, 0, texts)
    y = _header(draw, MARGIN, content)
    y = _images(first, draw, y, images, content, height)
    top_label = list(prediction.labels)[int(np.argmax(prediction.probabilities))]
    # Two columns, each image's words under it: the output and the what-if under the film, the colour bar
    # and the map's sentences under the map; the notes go on across the page below the longer column.
    y = max(_under_film(draw, y, prediction, content), _under_map(first, draw, y, content, top_label)) + 4
    y = _checks(draw, y, content)
    pending = _pending_notes(content)
    pages = [first]
    begun = False  # whether a note was set yet: the next page's heading says "continued" only then
    if pending:
        left = _notes(draw, y, pending, bottom=_disclaimer(draw))
        begun, pending = len(left) < len(pending), left
    else:
        _disclaimer(draw)
    while pending:
        page = Image.new("RGB", PAGE_SIZE, "white")
        recorded = len(texts) if texts is not None else 0
        draw = _Draw(page, len(pages), texts)
        top = _paragraph(draw, (MARGIN, MARGIN), f"Chest X-ray explanation report, case {content.case_id or 'n/a'} "
                         f"(continued)", _font(26, True), PAGE_SIZE[0] - 2 * MARGIN) + 20
        left = _notes(draw, top, pending, bottom=_disclaimer(draw), title="Notes (continued)" if begun else "Notes")
        if len(left) == len(pending):  # a note longer than a whole page: shortened, and the page drawn again
            pending = [note_style(pending[0])[2][:1000] + " …", *pending[1:]]
            if texts is not None:
                del texts[recorded:]  # the failed attempt's lines, which the PDF would set twice
            continue
        begun = True
        pending = left
        pages.append(page)
    for number, page in enumerate(pages, start=1):
        if len(pages) > 1:
            _Draw(page, number - 1, texts).text((PAGE_SIZE[0] - MARGIN - 150, MARGIN // 2),
                                                f"page {number} of {len(pages)}", font=_font(20), fill=MUTED)
    return pages


def render_report(pixels: np.ndarray, overlay_rgb: np.ndarray, prediction, content: ReportContent) -> Image.Image:
    """The report's first page as a Pillow RGB image; see `build_report` for the arguments."""
    return render_pages(pixels, overlay_rgb, prediction, content)[0]


def build_report(pixels: np.ndarray, overlay_rgb: np.ndarray, prediction, content: ReportContent) -> bytes:
    """A PNG report of one analysed image (one A4 page, more when the notes need them).

    Args:
        pixels: the original grayscale image, float in [0, 1], HxW.
        overlay_rgb: the explanation overlay, uint8 HxWx3 (see `model.explain.render_overlay`).
        prediction: a `model.classifier.Prediction`.
        content: what the report says besides the images and the prediction (`ReportContent`).

    Returns:
        PNG bytes of a 1240 x 1754 page (A4 at 150 dpi); when the notes need more pages, they are
        stacked below it (1240 x 1754 each).
    """
    pages = render_pages(pixels, overlay_rgb, prediction, content)
    sheet = pages[0] if len(pages) == 1 else Image.new("RGB", (PAGE_SIZE[0], PAGE_SIZE[1] * len(pages)), "white")
    for number, page in enumerate(pages if len(pages) > 1 else ()):
        sheet.paste(page, (0, number * PAGE_SIZE[1]))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", dpi=(PAGE_DPI, PAGE_DPI))
    return buffer.getvalue()


def build_report_pdf(pixels: np.ndarray, overlay_rgb: np.ndarray, prediction, content: ReportContent) -> bytes:
    """The same pages as `build_report`, as an A4 PDF (one page, or more when the notes need them).

    With fpdf2 and the DejaVu fonts the pages' text is real PDF text (selectable, searchable, read
    aloud), set in the same font at the same place over the pages' images and lines; without them the
    pages are images, as the PNG."""
    fonts = _pdf_fonts()
    texts = [] if fonts else None
    pages = _render(pixels, overlay_rgb, prediction, content, texts)
    if fonts:
        return _text_pdf(pages, texts, fonts)
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=float(PAGE_DPI), title="Chest X-ray explanation report",
                  save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def _pdf_fonts() -> dict | None:
    """{bold: TTF path} of the fonts the pages were laid out in, for a text PDF; None without fpdf2 or
    when Pillow's built-in font stood in (DejaVu not installed): then the PDF's pages are images."""
    try:
        import fpdf  # noqa: F401
    except ImportError:
        return None
    paths = {bold: getattr(_font(24, bold), "path", None) for bold in (False, True)}
    return paths if all(isinstance(path, str) and os.path.isfile(path) for path in paths.values()) else None


def _text_pdf(pages: list[Image.Image], texts: list, fonts: dict) -> bytes:
    """An A4 PDF of the text-free `pages` with every recorded line set on them as text."""
    from fpdf import FPDF

    scale = 72.0 / PAGE_DPI  # page pixels to PDF points
    pdf = FPDF(unit="pt", format=(PAGE_SIZE[0] * scale, PAGE_SIZE[1] * scale))
    pdf.set_title("Chest X-ray explanation report")
    pdf.set_creator("CXR explainability dashboard")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", fonts[False])
    pdf.add_font("DejaVu", "B", fonts[True])
    for number, page in enumerate(pages):
        pdf.add_page()
        buffer = io.BytesIO()
        page.save(buffer, format="PNG")
        pdf.image(buffer, x=0, y=0, w=pdf.w, h=pdf.h)
        for _, x, y, line, font, fill in (t for t in texts if t[0] == number):
            bold = font.path == fonts[True]
            pdf.set_font("DejaVu", "B" if bold else "", font.size * scale)
            pdf.set_text_color(*fill[:3])
            ascent = font.getmetrics()[0]  # Pillow places a line by its top, a PDF by its baseline
            pdf.text(x * scale, (y + ascent) * scale, line)
    return bytes(pdf.output())
