"""A gallery of labelled cases scored by one model, hardest first, for teaching and error analysis.

    records = read_dataset(data_location())
    chosen, splits, note = gallery_records(records, clf.card, "test")   # never its training images
    cases, failed = read_cases(clf, sample_records(chosen, 40), splits=splits, lungs=segmenter.mask)
    table = cases_table(shown_cases(cases, "all", "errors"))   # confident errors first, then the least sure

Each case is read with its map (the gallery's cards and its "where the model cheats" view,
`model.present.cheating_view`):

    wanted = sample_records(filter_records(chosen, source="nih-chestxray14"), 24)   # filters, then the sample
    case = read_case(clf, wanted[0], split=splits[wanted[0].path], lungs=segmenter.mask)
    case.lung_share                     # share of its Grad-CAM map on the lung fields (None: no lung model)
    ordered = sort_cases(cases, "lungs")  # lowest share first: where the model looks elsewhere

The labelled data lives under the roots named by `CXR_DATA` (`model.labelled_data.data_roots`, one or more
folders separated by `os.pathsep`); a chosen path must lie inside one (`model.labelled_data.resolve_in_roots`).
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pandas as pd

from model.inputs.intake import XrayInputError, load_xray
from model.labelled_data import DATA_ENV, data_roots, find_datasets
from model.policy import LOW_LUNG_ATTENTION
from model.present.cheating_view import CONFIDENT
from model.present.text import LUNG_WARNING_PAGES, TRIAGE_LABEL, as_shown, lung_share, triage_words
from model.splits import OUTSIDE, assign_splits
from model.trust.attention import BLANK_MAP, NO_LUNG_FIELDS, attention_if_lungs, compare_as_shown
from model.trust.findings import OUT_OF_SCOPE
from model.trust.scope import default_level
from model.trust.triage import ANSWER, Triage, assess

# Cards read first and drawn at once while the rest is read (two rows: the first screen at 1366 x 768), when
# reading them took a moment: the class has films to look at instead of a progress bar. The benchmark times them.
FIRST_READ = 8
MAP_METHOD = "gradcam"  # The gallery's map: Grad-CAM of the class the model answered, at the card's layer.
MAP_SIDE = 64  # Long side of the small copy of each case's map kept for its thumbnail.
NO_EVIDENCE = BLANK_MAP  # the one rule and words of every view (`attention_if_lungs`)
# How the gallery may order its cases (`sort_cases`), as a person reads the choice.
ORDERS = {
    "errors": "Confident errors first",
    "lungs": "Map inside the lungs, lowest first",
    "uncertain": "Least confident first",
}
# What the gallery may show of a model's own split; "test" (the default) never shows a training image.
# Short enough for the side panel's select box at 1366 px; SPLIT_HELP says more.
SPLIT_CHOICES = {
    "test": "Test split + unseen sources",
    "validation": "Validation split",
    "train": "Training split (flatters it)",
    "all": "All images",
}
SPLIT_HELP = ("Test split + unseen sources: the model's own test images and every image of a source it never "
              "trained on (the default: no training image). Validation split: the images its calibration "
              "and answer thresholds were fitted on. Training split: images it learnt, where errors are rare and say little "
              "about new films. All images: every image, each labelled with its split.")
SPLIT_NAMES = {"train": "training split", "validation": "validation split", "test": "test split",
               OUTSIDE: "never seen (source not in its training data)"}


@dataclass(frozen=True)
class Case:
    """One labelled image and the model's prediction for it."""

    path: str
    label: str
    source: str
    patient_id: str
    predicted: str
    confidence: float
    correct: bool
    probabilities: dict
    split: str = ""
    known: bool = True  # False: the label is not one of the model's classes (not an error)
    lung_share: float | None = None  # share of the map on the lung fields; None: no lung model or no map
    elsewhere: str | None = None  # the zone outside the lungs with the largest part of the rest of the map
    elsewhere_most: bool = True  # whether that zone holds more than half of the rest ("most of the rest")
    lung_low: bool = False  # below the model's lung-attention warning level (its own or the default) (Diagnose warns there too)
    lung_even: float | None = None  # the lungs' share of what the model saw: where an evenly spread map lies
    map_note: str = ""  # why there is no lung share although a lung model ran (one sentence), else ""
    lungs_found: bool | None = None  # plausible lung fields found (None: no lung model), as Diagnose decides
    heat: np.ndarray | None = field(default=None, compare=False, repr=False)  # the map, MAP_SIDE on its long side
    # The film's triage as Diagnose makes it (`model.trust.triage.assess`, its test-time copies included); None:
    # not read with it.
    triage: Triage | None = field(default=None, compare=False, repr=False)

    @property
    def held_back(self) -> bool:
        """Out of scope: as on Diagnose, the film gets no answer (its output is shown for reference only)."""
        return self.triage is not None and self.triage.status == OUT_OF_SCOPE

    @property
    def wrong(self) -> bool:
        """Misclassified: an answer (plain or with a second read advised) that is not the film's label, of the
        model's classes. A film held back as out of scope got no answer, so it is not misclassified
        (`held_back_words` says what its output would have been)."""
        return self.known and not self.correct and not self.held_back


def data_location() -> Path | None:
    """The labelled data the gallery opens on: the first dataset found under the roots named by `CXR_DATA`
    (`find_datasets`, the page's first choice), or None. (The first root itself read its folder's
    `manifest.csv`, so the benchmark scored another manifest than the page showed.)"""
    if not os.environ.get(DATA_ENV, "").strip():
        return None
    found = find_datasets(data_roots())
    return found[0] if found else None


def gallery_records(records: list, card, split: str = "test") -> tuple[list, dict[str, str], str]:
    """The records the gallery may show for one model and split choice (`SPLIT_CHOICES`), the split of
    every record ({path: "train" | "validation" | "test" | "outside"}) and the note of
    `model.splits.assign_splits` ("" when the split was re-made as recorded).

    "test" keeps the model's test split and images of sources it never trained on: never a
    training image.
    """
    if split not in SPLIT_CHOICES:
        raise ValueError(f"split must be one of {tuple(SPLIT_CHOICES)}, got {split!r}")
    assignment, note = assign_splits(records, card)
    allowed = {"test": {"test", OUTSIDE}, "validation": {"validation"}, "train": {"train"},
               "all": {"train", "validation", "test", OUTSIDE}}[split]
    return [r for r in records if assignment[r.path] in allowed], assignment, note


def sample_records(records: list, limit_per_label: int | None = 40, seed: int = 0) -> list:
    """Up to `limit_per_label` records per label, the same ones for the same records and seed.

    Each record gets a fixed rank from its seed, source and file name (`_sample_rank`), and each label
    keeps its lowest ranks: the sample does not depend on the order the records were read in, nor on the
    other labels, and a narrower filter keeps every film of the wider sample that it matches (a film seen
    among "All labels" is still there when the reader picks its label or its source).
    """
    if limit_per_label is not None and limit_per_label < 1:
        raise ValueError(f"limit_per_label must be positive or None, got {limit_per_label!r}")
    by_label: dict[str, list] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.label, r.path)):
        by_label[record.label].append(record)
    chosen = []
    for label in sorted(by_label):
        items = by_label[label]
        if limit_per_label is not None and len(items) > limit_per_label:
            kept = set(map(id, sorted(items, key=lambda r: _sample_rank(r, seed))[:limit_per_label]))
            items = [r for r in items if id(r) in kept]
        chosen.extend(items)
    return chosen


def reading_order(records: list, seed: int = 0) -> list:
    """The records in the order the gallery reads them: the labels in turn, each label's records by their fixed
    rank (`_sample_rank`), so that the first few read (drawn while the rest is read) already hold every label and
    a spread of sources. The same records, each once; the order does not depend on the order they came in."""
    by_label: dict[str, list] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.label, _sample_rank(r, seed), str(r.path))):
        by_label[record.label].append(record)
    queues = [by_label[label] for label in sorted(by_label)]
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


def page_ranges(total: int, per_page: int | None) -> list[tuple[int, int]]:
    """The (start, stop) of each page of `total` cards, `per_page` a page (None: all on one page); one empty
    page when there are none. The pages follow each other: together they hold every card once, in order."""
    if per_page is not None and per_page < 1:
        raise ValueError(f"per_page must be positive or None, got {per_page!r}")
    if total < 0:
        raise ValueError(f"total must not be negative, got {total!r}")
    size = per_page or max(total, 1)
    return [(start, min(start + size, total)) for start in range(0, max(total, 1), size)]


def _sample_rank(record, seed: int) -> bytes:
    """A record's fixed place in the sample order: a hash of the seed, its source and its file name (not
    the whole path, so the same film ranks the same wherever the data folder lies)."""
    return hashlib.sha256(f"{seed}:{record.source}:{Path(str(record.path)).name}".encode()).digest()


def _case(record, prediction, split: str = "", known: bool = True) -> Case:
    return Case(path=str(record.path), label=record.label, source=record.source, patient_id=record.patient_id,
                predicted=prediction.label, confidence=prediction.confidence,
                correct=prediction.label == record.label, probabilities=prediction.as_dict(), split=split,
                known=known)


def filter_records(records: list, source: str | None = None, label: str | None = None) -> list:
    """The records of one source and one label (None: any), before any sample is drawn, so that a
    filter chooses what is scored rather than thinning out what was scored."""
    return [r for r in records if (source is None or r.source == source) and (label is None or r.label == label)]


def counts_by(records: list, attribute: str) -> dict[str, int]:
    """{value: number of records} of one attribute ("source", "label"), by value."""
    return dict(sorted(Counter(getattr(r, attribute) for r in records).items()))


def sort_cases(cases: list[Case], order: str = "errors") -> list[Case]:
    """Cases in one of the `ORDERS`.

    "errors": misclassified first, the most confident error first (a 92% error is the one to
    discuss), then the films held back as out of scope (no answer), then the correct answers, least confident
    first; labels outside the model's classes last.
    "lungs": the lowest share of the map on the lung fields first (where the model looks elsewhere),
    the more confident first on a tie; cases without a share last.
    "uncertain": the least confident answer first.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {tuple(ORDERS)}, got {order!r}")
    if order == "errors":
        return sorted(cases, key=lambda c: (not c.known, not c.wrong, not c.held_back,
                                            c.confidence if c.correct else -c.confidence, c.path))
    if order == "lungs":
        return sorted(cases, key=lambda c: (c.lung_share is None, c.lung_share or 0.0, -c.confidence, c.path))
    return sorted(cases, key=lambda c: (c.confidence, c.path))


def small_map(heatmap: np.ndarray, side: int = MAP_SIDE) -> np.ndarray:
    """A copy of a map at most `side` pixels on its long side (area averaging), float32: what a
    thumbnail needs, a few kilobytes however large the film."""
    heat = np.asarray(heatmap, np.float32)
    height, width = heat.shape
    scale = side / max(height, width)
    if scale >= 1.0:
        return heat.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(heat, size, interpolation=cv2.INTER_AREA)


def fit_map(heat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A small map (`small_map`) brought to the grid of a display copy of its film (`shape[:2]`)."""
    height, width = shape[:2]
    heat = np.asarray(heat, np.float32)
    if heat.shape == (height, width):
        return heat
    return np.clip(cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


def read_case(classifier, record, *, split: str = "", lungs: Callable | None = None,
              method: str = MAP_METHOD, low_threshold: float = LOW_LUNG_ATTENTION, scope=None) -> Case:
    """One labelled image read as Diagnose reads it: its answer and triage by `model.trust.triage.assess` (the
    film's own pass and its test-time copies in one batch, the input check, the anatomy check), the map of that
    answer and the share of the map on the lung fields.

    Args:
        classifier: a `model.classifier.Classifier`.
        record: a `model.labelled_data.LabelledImage`.
        split: the image's split for this model (`gallery_records`).
        lungs: `pixels -> boolean lung mask` (e.g. `LungSegmenter.mask`), used when the classifier has
            no lung model of its own; without either, `lung_share` is None.
        method: the explanation method of the map.
        low_threshold: the model's lung-attention warning level (its scope check's, else the default, as Diagnose uses);
            `lung_low` says whether the share lies below it.
        scope: the model's `model.trust.scope.Scope` (None: it has none), whose levels and checks the triage applies.

    Raises:
        XrayInputError, OSError: the image cannot be read.
    """
    xray = load_xray(record.path)
    segment = classifier.segmenter.mask if getattr(classifier, "segmenter", None) is not None else lungs
    mask = segment(xray.pixels) if segment is not None else None
    # Diagnose's reading of the film: its probability is the batch's first row (the film itself), the figure
    # Diagnose shows; the copies only judge its stability. The map explains that answer, as the dialog's does.
    reading = assess(classifier, xray, mask, scope)
    prediction = reading.prediction
    _, _, on_image = classifier.analyse(reading.model_input, method, prediction.index, predict=False)
    share = elsewhere = even = None
    most, low = True, False
    note = ""
    found = None
    if mask is not None:  # as every view: no share of the map on lungs that were not found
        attention, note = attention_if_lungs(on_image, mask, low_threshold, reading.model_input.region)
        found = note != NO_LUNG_FIELDS
        if attention is not None:
            share, elsewhere, most, low = (attention.fraction, attention.elsewhere, attention.elsewhere_holds_most,
                                           attention.low)
            even = attention.even_share
    case = _case(record, prediction, split, record.label in tuple(classifier.labels))
    return Case(**{**asdict(case), "lung_share": share, "elsewhere": elsewhere, "elsewhere_most": most,
                   "lung_low": low, "lung_even": even, "map_note": note, "lungs_found": found,
                   "heat": small_map(on_image), "triage": reading.triage})


def read_cases(classifier, records: list, *, splits: dict[str, str] | None = None, lungs: Callable | None = None,
               progress: Callable[[int, int], None] | None = None, low_threshold: float = LOW_LUNG_ATTENTION,
               scope=None) -> tuple[list[Case], list[tuple[str, str]]]:
    """`read_case` of every record, unreadable images left out (`scope`: the model's scope check, or None).

    Returns:
        (cases in the records' order, [(path, reason)] of the images that could not be read).
    """
    cases, failed = [], []
    splits = splits or {}
    for done, record in enumerate(records, start=1):
        try:
            cases.append(read_case(classifier, record, split=splits.get(str(record.path), ""), lungs=lungs,
                                   low_threshold=low_threshold, scope=scope))
        except (XrayInputError, OSError) as exc:
            failed.append((str(record.path), " ".join(str(exc).split())))
        if progress is not None:
            progress(done, len(records))
    return cases, failed


@dataclass(frozen=True)
class TeachingCase:
    """A gallery case handed to the Diagnose page: what the data say about the film and what the
    gallery's model answered. Plain values only (it travels in the session).

    Attributes:
        digest: SHA-256 of the film's bytes: Diagnose labels the film only while it shows this one.
        file_name, label, source, split: the film's name, true label, source and split name (`SPLIT_NAMES` key).
        model_id, predicted, confidence: the gallery's model and its answer.
        known, correct: whether the label is one of the model's classes, and whether the answer was right.
        lung_share: share of the gallery's map on the lung fields (None when not measured).
        held_back: the gallery held the film back as out of scope (`Case.held_back`): no answer, its output
            for reference only.
    """

    digest: str
    file_name: str
    label: str
    source: str
    split: str
    model_id: str
    predicted: str
    confidence: float
    known: bool
    correct: bool
    lung_share: float | None = None
    held_back: bool = False

    @property
    def wrong(self) -> bool:
        """Misclassified, as `Case.wrong`: a film held back as out of scope got no answer."""
        return self.known and not self.correct and not self.held_back

    @property
    def split_name(self) -> str:
        return SPLIT_NAMES.get(self.split, self.split or "split unknown")

    @classmethod
    def from_case(cls, case: Case, digest: str, model_id: str) -> "TeachingCase":
        return cls(digest, Path(case.path).name, case.label, case.source or "unknown", case.split, model_id,
                   case.predicted, float(case.confidence), bool(case.known), bool(case.correct),
                   None if case.lung_share is None else float(case.lung_share), bool(case.held_back))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TeachingCase":
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})


# A case's outcome as its card, the table and Diagnose's teaching case say it (`outcome_word`): the answer held
# against the data's label, in words no reader takes for the model's own triage of the film (`card_triage_mark`):
# "correct" beside "second read advised" on one card read as a contradiction.
OUTCOMES = {"correct": "output matches the label", "wrong": "misclassified", "unknown": "label not among its classes"}
# The table's outcome of a film held back as out of scope (`Case.held_back`): no answer, so not an outcome word.
HELD_BACK = "held back, out of scope"
# The table's split words: short enough for a column (a card says `SPLIT_NAMES`, which the column's help gives).
TABLE_SPLITS = {"train": "training", "validation": "validation", "test": "test", OUTSIDE: "never seen"}
TABLE_SPLITS_HELP = ("Which part of the model's split the film is in: test, validation or training, that part of its "
                     "own split; never seen, a source not in its training data.")
# The gallery's table's columns (`cases_table`), what a reader compares first on the left under short headers:
# these, then one `P(<label>)` column per class, then `TABLE_FILE_COLUMNS`; every column fits at 1920 px, and at
# 1366 px all but the file's.
TABLE_COLUMNS = ["true", "said", "confidence", "outcome", "on the lungs", "source", "split"]
TABLE_FILE_COLUMNS = ["file", "patient"]


def outcome_word(case) -> str:
    """The outcome of a `Case` or `TeachingCase` in the cards', the table's and Diagnose's words (`OUTCOMES`): a
    label outside the model's classes is neither correct nor misclassified."""
    return OUTCOMES["unknown" if not case.known else "correct" if case.correct else "wrong"]


def card_triage_mark(case: Case) -> str:
    """The card's mark of the model's own triage of the film (`Case.triage`), named as such and in the words of
    every compact view (`text.triage_words`): "Triage: second read advised (unusual anatomy for this model)";
    "" for a plain answer or a case read without it."""
    words = triage_words(case.triage) if case.triage is not None else ""
    return f"{TRIAGE_LABEL}: {words}" if words else ""


def probability_column(label: str) -> str:
    """The gallery table's column of the model's probability for class `label`."""
    return f"P({label})"


def probability_columns(cases: list[Case]) -> dict[str, str]:
    """{column: class} of the `cases_table` of these cases' probability columns, in the table's order."""
    labels = dict.fromkeys(label for c in cases for label in c.probabilities)
    return {probability_column(label): label for label in labels}


def cases_table(cases: list[Case]) -> pd.DataFrame:
    """The gallery's table of the cases read, one row per case in their order (`TABLE_COLUMNS`, one `P(<label>)`
    column per class, `TABLE_FILE_COLUMNS`): percentages as the cards print them (`as_shown`: percent points, 0.1), the
    outcome in the cards' words, the split's short name, and the film by its source and file name, never the
    server's path to it."""
    rows = [{"true": c.label, "said": c.predicted, "confidence": as_shown(c.confidence),
             "outcome": HELD_BACK if c.held_back else outcome_word(c),
             "on the lungs": as_shown(c.lung_share, lung_share), "source": c.source or "unknown",
             "split": TABLE_SPLITS.get(c.split, c.split),
             **{probability_column(label): as_shown(float(p)) for label, p in c.probabilities.items()},
             "file": Path(c.path).name, "patient": c.patient_id} for c in cases]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=TABLE_COLUMNS + TABLE_FILE_COLUMNS)


# What the gallery shows of the cases it read (`shown_cases`), as a person reads the choice.
SHOW = {"all": "All cases", "wrong": "Misclassified only"}


def shown_cases(cases: list[Case], show: str = "all", order: str = "errors") -> list[Case]:
    """The cases to draw: all or only the misclassified ones (`SHOW`), in one of the `ORDERS`."""
    if show not in SHOW:
        raise ValueError(f"show must be one of {tuple(SHOW)}, got {show!r}")
    return sort_cases([c for c in cases if show == "all" or c.wrong], order)


@dataclass(frozen=True)
class GalleryCounts:
    """The figures of the gallery's summary line, all after the source and label filters.

    Attributes:
        pool: images of the chosen split, every source and label.
        matching: those of the chosen source and label.
        read: images the model read (a sample of `matching`, up to the limit per label); unreadable: those it could not.
        known: read images whose label is one of the model's classes; wrong: those it misclassified (answered,
            plainly or with a second read advised, and not their label).
        confident_wrong: misclassified at or above `confident` probability.
        held_back: known-label images held back as out of scope (no answer, so neither right nor misclassified);
            held_back_wrong: those whose output, shown for reference only, is not their label.
        unknown: read images with a label outside its classes, whose labels are `unknown_labels`.
        mapped: read images with a lung share; below_level: those below the model's lung-attention warning level
            (`Case.lung_low`, where `LUNG_WARNING_PAGES` warn); above_even: those whose map puts more on the lungs than a map
            spread evenly over what the model saw would, as Diagnose compares them (`more_than_even`).
        no_lungs: read images without plausible lung fields (no share, out of scope); no_evidence: those whose
            map found no evidence (no share): with `mapped`, every read image when a lung model ran.
        shown: the cases drawn.
        even: `even_level` of the cases read: what a map spread evenly would put on the lungs.
    """

    pool: int
    matching: int
    read: int
    unreadable: int
    known: int
    wrong: int
    confident_wrong: int
    unknown: int
    unknown_labels: tuple[str, ...]
    mapped: int
    below_level: int
    above_even: int
    no_lungs: int
    no_evidence: int
    shown: int
    even: float | None = None  # median share an evenly spread map puts on the lungs (`even_level`)
    held_back: int = 0
    held_back_wrong: int = 0
    plain_answers: int | None = None  # None: the cases were read without a triage
    plain_answers_wrong: int | None = None

    @property
    def with_output(self) -> int:
        """Known-label images given an output (status *Answer* or *second read advised*: every one but those held
        back as out of scope); `plain_answers` of them have the status *Answer*, `plain_answers_wrong` of those
        are misclassified (Performance's "answered films" are these)."""
        return self.known - self.held_back

    @property
    def wrong_share(self) -> float | None:
        """Share of the known-label images given an output that are misclassified (None when none was)."""
        return self.wrong / self.with_output if self.with_output else None


def count_cases(pool: int, matching: int, cases: list[Case], shown: int, unreadable: int = 0,
                confident: float = CONFIDENT) -> GalleryCounts:
    """The `GalleryCounts` of the cases read from `matching` of `pool` images."""
    known = [c for c in cases if c.known]
    wrong = [c for c in known if c.wrong]
    held_back = [c for c in known if c.held_back]
    triaged = all(c.triage is not None for c in known)
    plain = [c for c in known if triaged and c.triage.status == ANSWER]
    mapped = [c for c in cases if c.lung_share is not None]
    return GalleryCounts(pool, matching, len(cases), unreadable, len(known), len(wrong),
                         sum(c.confidence >= confident for c in wrong), len(cases) - len(known),
                         tuple(sorted({c.label for c in cases if not c.known})), len(mapped),
                         sum(c.lung_low for c in mapped), sum(more_than_even(c) for c in mapped),
                         sum(c.lungs_found is False for c in cases), sum(c.map_note == NO_EVIDENCE for c in cases),
                         shown, even_level(cases), len(held_back), sum(not c.correct for c in held_back),
                         len(plain) if triaged else None, sum(c.wrong for c in plain) if triaged else None)


def misclassified_words(counts: GalleryCounts, level_name: str) -> str:
    """The summary line's count of errors, saying which films it covers: "**20 misclassified** (29% of the 69
    given an output; 3 of the 33 marked *Answer*), 12 of them at <level_name> or more; 1 held back as out of scope,
    not counted (no answer; its output would have been wrong)". The share is of the films given an output (an
    answer or a second read advised): a film held back as out of scope got no answer (Diagnose shows none), so it
    is counted apart; the films marked *Answer* alone are Performance's "answered films", named apart so that the
    two pages' shares do not read as contradicting each other. "" without a known-label film."""
    if not counts.known:
        return ""
    marked = ("" if counts.plain_answers is None else "; none marked *Answer*" if not counts.plain_answers
              else f"; {counts.plain_answers_wrong} of the {counts.plain_answers} marked *Answer*")
    words = (f"**{counts.wrong} misclassified** ({counts.wrong_share:.0%} of the {counts.with_output} given an output"
             f"{marked}), {counts.confident_wrong} of them at {level_name} or more" if counts.with_output
             else "none given an output")
    if counts.held_back:
        outputs = (f"its output would have been {'wrong' if counts.held_back_wrong else 'right'}"
                   if counts.held_back == 1 else f"{counts.held_back_wrong} of their outputs would have been wrong")
        words += f"; {counts.held_back} held back as out of scope, not counted (no answer; {outputs})"
    return words


def held_back_words(case, what: str = "") -> str:
    """What a card and Diagnose's teaching line say of a film held back as out of scope (`Case.held_back`, a
    `Case` or a `TeachingCase`): no answer, and its output for reference only, held against the label: "held back
    as out of scope: its output would have been **Pneumonia** 44.0%, which is wrong"; with `what` ("this film"),
    "held this film back as out of scope: ..."."""
    verdict = ("" if not case.known else ", which matches the label" if case.correct else ", which is wrong")
    held = f"held {what} back" if what else "held back"
    return (f"{held} as out of scope: its output would have been **{case.predicted}** {case.confidence:.1%}"
            f"{verdict}")


def dialog_title(case) -> str:
    """The case dialog's title, plain text: the film, its label and the model's answer ("x.png: true Normal,
    model Pneumonia 44.0%"), or for a film held back as out of scope, which got no answer, its output marked for
    reference only (the card's and Diagnose's `held_back_words`)."""
    said = (f"held back as out of scope (output {case.predicted} {case.confidence:.1%}, for reference only)"
            if case.held_back else f"model {case.predicted} {case.confidence:.1%}")
    return f"{Path(case.path).name}: true {case.label}, {said}"


def lung_summary(counts: GalleryCounts, level: float, own: bool) -> str:
    """Where the maps lie, counted by Diagnose's rules and words: below the model's lung-attention warning level
    (`level`, its own when `own`, else the default) and against a map spread evenly; the films without a share
    named in the same sentence. "" when no lung model ran (the page says why)."""
    missing = [f"{n} {what}" for n, what in ((counts.no_lungs, "without plausible lung fields, out of scope"),
                                              (counts.no_evidence, "whose map found no evidence")) if n]
    if not counts.mapped and not missing:
        return ""
    line = f" The share of the map on the lungs is measured on {counts.mapped} of the {counts.read}"
    line += f" ({' and '.join(missing)}: no share)" if missing else ""
    if counts.mapped:
        whose = "this model's own warning level (set from its correct answers)" if own else default_level("warning")
        line += f": {counts.below_level or 'none'} below {level:.1%}, {whose}, where {LUNG_WARNING_PAGES} warn"
        if counts.even is not None:
            line += (f"; {counts.above_even} put more there than a map spread evenly over what the model saw would "
                     f"(about {counts.even:.0%}, the median of these films)")
    return line + "."


def more_than_even(case: Case) -> bool:
    """Whether the case's map puts more on the lungs than a map spread evenly over what the model saw, as
    shown (`compare_as_shown`), the comparison Diagnose words beside the share ("this one puts more")."""
    if case.lung_share is None or case.lung_even is None:
        return False
    return compare_as_shown(case.lung_share, case.lung_even) > 0


def even_level(cases: list[Case]) -> float | None:
    """The median share of the lungs in what the model saw over the cases (a map spread evenly puts that
    much on them): the typical level against which each film's own (`Case.lung_even`) is read, well under half,
    so less than half of a map on the lungs is no proof of a shortcut. None when no case has it."""
    values = [c.lung_even for c in cases if c.lung_even is not None]
    return float(np.median(values)) if values else None


def card_checks_sentence(level_name: str, lungs: bool, anatomy: bool) -> str:
    """What a card's mark rests on (`read_case`: Diagnose's triage of the film), for the Cases view's caption.

    Args:
        level_name: the answer level as `text.answer_level_name` names it.
        lungs: a lung model ran (the input check looked at the lung fields).
        anatomy: the model's anatomy check ran too (it has a scope check, and a lung model ran).
    """
    checks = ["the input check" + (" with its lung fields" if lungs else ""),
              *(["the anatomy check"] if anatomy else []), "the stability of its test-time copies", level_name]
    listed = ", ".join(checks[:-1]) + " and " + checks[-1]
    return (f"Cards are marked as Diagnose marks the film ({listed}): *second read advised* or *out of scope* "
            "with what set it. The case's dialog adds what reading an answer with care rests on (copies just below "
            "the answer level, where its map lies), as Diagnose does.")


def early_cards_sentence(read: int, wrong: int | None, order: str) -> str:
    """The line above the first cases read, drawn while the rest is read: what they are (`read` cases, `wrong` of
    them misclassified when only those are shown, else None), ordered by `order` (`ORDERS`) among themselves. It
    names no count still to read: it is drawn once, while the progress bar above moves on."""
    which = "" if wrong is None else f" ({wrong} of them misclassified)"
    return (f"The first **{read}** cases read{which}, shown while the rest are read (progress above); here "
            f"{ORDERS[order].lower()} among themselves. The counts and the order over every case follow.")
