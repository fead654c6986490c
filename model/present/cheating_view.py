"""Where the model cheats: confident answers whose map favours what lies outside the lung fields, by source.

A model that answers confidently while its map points at the collar, a text marker or the border
has most likely learnt something about the collection the film came from rather than the lungs
(the known shortcut). The lungs cover only part of what the model sees (about a third of the lung
box on a typical film), so "less than half of the map on the lungs" says nothing by itself: a map
spread evenly over what the model saw (an *even spread*) puts on each film's lungs their share of it
(`Case.lung_even`). A map favours what lies outside the lungs when it puts less on them than that,
film by film. Counting such answers per source shows an educator, and an ML team, which collections
the model recognises instead of reading:

    groups = cheating_by_source(cases)            # cases of `model.present.gallery_cases.read_case`
    counts = count_cheats(cases, CONFIDENT, EVEN, level)  # every figure the view says, counted once
    table = cheating_frame(groups)                # one row per source, the worst first
    groups[0].cases                               # its cases, the lowest lung share first
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from model.present.text import LUNG_WARNING_PAGES, lung_share
from model.trust.attention import compare_as_shown
from model.trust.scope import default_level

CONFIDENT = 0.8  # An answer at or above this probability is confident.
EVEN = 1.0  # A map with less on the lungs than this multiple of an even spread's share favours what lies outside.
# "share" alone, beside the flagged column, read as a share of the map on the lungs.
SHARE_COLUMN = "share of its confident answers"
# "Flagged" in both columns that count them: "of them misclassified" read 0 for every source while the Cases view
# counted confident errors, "them" taken for the confident answers; those errors are simply not flagged.
FLAGGED_COLUMN = "flagged (map favours outside the lungs)"
FRAME_COLUMNS = ["source", "confident answers", FLAGGED_COLUMN, SHARE_COLUMN, "flagged and misclassified"]


@dataclass(frozen=True)
class SourceCheats:
    """One source's confident answers and those whose map favours what lies outside the lungs.

    Attributes:
        source: the source's name ("unknown" when the data name none).
        confident: how many confident answers it has with both a lung share and an even spread's share measured.
        cases: those whose map puts less on the lungs than the view's share of an even spread, the lowest share first.
    """

    source: str
    confident: int
    cases: tuple

    @property
    def outside(self) -> int:
        return len(self.cases)

    @property
    def share(self) -> float:
        """Share of its confident answers whose map favours what lies outside the lungs (0 without any)."""
        return self.outside / self.confident if self.confident else 0.0

    @property
    def wrong(self) -> int:
        return sum(c.wrong for c in self.cases)


def check_thresholds(min_confidence: float, even_ratio: float) -> None:
    for name, value in (("min_confidence", min_confidence), ("even_ratio", even_ratio)):
        if not 0.0 < float(value) <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")


def measured(case) -> bool:
    """Whether both the case's lung share and its even spread's share are known (no lung model, no plausible lung
    fields or a map with no evidence leave them unknown)."""
    return case.lung_share is not None and case.lung_even is not None


def favours_outside(case, even_ratio: float = EVEN) -> bool:
    """Whether the case's map puts less on the lungs than `even_ratio` times what an even spread over what the
    model saw puts there (`case.lung_even`), compared as shown (`compare_as_shown`): at 1, exactly the maps
    Diagnose says put "less" than an even spread. False when either share is unknown (`measured`)."""
    if not measured(case):
        return False
    return compare_as_shown(case.lung_share, even_ratio * case.lung_even) < 0


def than_even(even_ratio: float = EVEN, spread: str = "an even spread") -> str:
    """The rule's comparison in words: "than an even spread would", or "than 75% of what an even spread would"."""
    part = spread if round(even_ratio * 100) == 100 else f"{even_ratio:.0%} of what {spread}"
    return f"than {part} would"


def cheating_by_source(cases: list, min_confidence: float = CONFIDENT,
                       even_ratio: float = EVEN) -> list[SourceCheats]:
    """Per source, the confident answers (probability >= `min_confidence`) with their shares measured and those of
    them whose map favours what lies outside the lungs (`favours_outside` at `even_ratio`).

    Cases without a measured share (`measured`) are left out here: nothing is known about where their map lies
    (`left_out` counts them). Correct and wrong answers count alike: a right answer for the wrong reason is the
    shortcut. Sources come worst first (highest share, then most such cases, then by name).
    """
    check_thresholds(min_confidence, even_ratio)
    confident: dict[str, list] = {}
    for case in confident_answers(cases, min_confidence)[0]:
        confident.setdefault(case.source or "unknown", []).append(case)
    groups = []
    for source, items in confident.items():
        outside = sorted((c for c in items if favours_outside(c, even_ratio)),
                         key=lambda c: (c.lung_share, -c.confidence, c.path))
        groups.append(SourceCheats(source, len(items), tuple(outside)))
    return sorted(groups, key=lambda g: (-g.share, -g.outside, g.source))


def confident_answers(cases: list, min_confidence: float = CONFIDENT) -> tuple[list, list]:
    """The confident answers (probability >= `min_confidence`): those with both shares measured (`measured`),
    which `cheating_by_source` reads, and those without, which it leaves out (`left_out`)."""
    confident = [case for case in cases if case.confidence >= min_confidence]
    return [c for c in confident if measured(c)], [c for c in confident if not measured(c)]


def left_out(cases: list, min_confidence: float = CONFIDENT) -> int:
    """How many confident answers `cheating_by_source` leaves out for want of a measured share."""
    return len(confident_answers(cases, min_confidence)[1])


@dataclass(frozen=True)
class CheatsCounts:
    """The cheats view's figures, counted once for its headline, the line under it and each source's heading.

    Attributes:
        groups: `cheating_by_source`'s groups, the worst first.
        read: the answers read.
        confident: the confident answers with their shares measured.
        flagged: of them, those whose map favours what lies outside the lungs.
        left_out: the confident answers left out, their shares unmeasured (`left_out`).
        level: the lung-attention warning level the flagged maps are held to (`below_own_level`).
        below: per group, its flagged answers below `level`.
    """

    groups: tuple[SourceCheats, ...]
    read: int
    confident: int
    flagged: int
    left_out: int
    level: float
    below: tuple[int, ...]

    @property
    def below_level(self) -> int:
        """The flagged answers below the warning level, over every source."""
        return sum(self.below)


def count_cheats(cases: list, min_confidence: float, even_ratio: float, level: float) -> CheatsCounts:
    """The cheats view's figures over `cases` (`CheatsCounts`): confident from `min_confidence`, flagged at
    `even_ratio` of an even spread (`cheating_by_source`), held to the warning level `level`."""
    groups = tuple(cheating_by_source(cases, min_confidence, even_ratio))
    confident, flagged = cheating_total(groups)
    return CheatsCounts(groups, len(cases), confident, flagged, left_out(cases, min_confidence), level,
                        tuple(below_own_level([group], level) for group in groups))


def cheating_frame(groups: Sequence[SourceCheats]) -> pd.DataFrame:
    """One row per source: its confident answers, how many of them are flagged (their maps favour what lies outside
    the lungs, `FLAGGED_COLUMN`), their share of its confident answers (0-1, `SHARE_COLUMN`) and how many of the
    flagged were misclassified (the source's other confident errors are not flagged, so not counted there)."""
    rows = [[g.source, g.confident, g.outside, g.share, g.wrong] for g in groups]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def cheating_total(groups: Sequence[SourceCheats]) -> tuple[int, int]:
    """(confident answers, of which the map favours what lies outside the lungs) over every source."""
    return sum(g.confident for g in groups), sum(g.outside for g in groups)


def cheats_headline(counts: CheatsCounts, confident: float, model_name: str, lung_mask: bool,
                    own: bool = False, even_ratio: float = EVEN) -> str:
    """The cheats view's headline (markdown), saying the rule itself, worded for what the model sees: a lung-masked
    model sees only the lung fields, so what its map puts outside them lies on the margin the mask leaves. With
    confident answers and none flagged, it is the view's one all-clear ("On none of the 33 ...").

    Args:
        counts: the view's figures (`count_cheats`).
        confident: the probability from which an answer is confident.
        model_name: the model's display name.
        lung_mask: the model sees only the lung fields.
        own: the counts' warning level is the model's own: how many of the flagged lie below it too
            (`CheatsCounts.below_level`) is said in the headline itself, so a projected share does not read as
            that much cheating when most of it is how the model reads every film.
        even_ratio: the rule's share of an even spread (`favours_outside`).
    """
    cheats, total, read, missing = counts.flagged, counts.confident, counts.read, counts.left_out
    unusual = counts.below_level if own else None
    if not total:
        if missing:
            return (f"None of the {missing} confident answers ({confident:.1%} or more) of the {read} read has its "
                    "map's share on the lungs measured.")
        return f"None of the {read} answers read is confident ({confident:.1%} or more)."
    lungs = "the lung fields (the only part of the film it sees)" if lung_mask else "the lungs"
    spread = than_even(even_ratio, "a map spread evenly over what it saw")
    if not cheats:  # the view's all-clear, said once (not "On 0 of 33 (0%) ...: it favours what lies outside them")
        return (f"On none of the {total} confident answers ({confident:.1%} or more) does the map of {model_name} put "
                f"less on {lungs} {spread}.")
    line = (f"On **{cheats} of {total}** confident answers ({cheats / total:.0%}), the map of {model_name} puts less "
            f"on {lungs} {spread}: it favours what lies outside them")
    if unusual is not None:
        line += ("; **none** of them unusually so for this model" if not unusual
                 else f"; **{unusual}** of them unusually so for this model" if unusual < cheats
                 else "; all of them unusually so for this model")
    return line


def rule_caption(confident: float, even_ratio: float, even: float | None, missing: int = 0) -> str:
    """The cheats view's definitions: confident, the rule (with `even`, the median even spread's share of the films
    read, `gallery_cases.even_level`) and the confident answers left out unmeasured (`left_out`)."""
    line = (f"Confident: {confident:.1%} or more. Favours outside the lungs: less of the Grad-CAM map of the answer "
            f"on the lung fields {than_even(even_ratio)} put there. An even spread, a map spread evenly over what "
            "the model saw, puts on the lungs their share of that area")
    line += f": about {even:.0%} at the median of these films, each card giving its own film's." if even is not None \
        else "."
    if missing:
        line += (f" {missing} confident answer{' is' if missing == 1 else 's are'} left out: no share on the lungs "
                 "measured (no plausible lung fields, or no evidence in the map).")
    return line


def card_outside_words(case, even_ratio: float = EVEN) -> str:
    """A card's line for a map that favours what lies outside the lungs (`favours_outside` at `even_ratio`, the
    view's rule): its film's even spread share (and the rule's part of it below 100%), and where most (or the
    largest part) of the rest lies; "" for any other map."""
    if not favours_outside(case, even_ratio):
        return ""
    line = f"less than an even spread's {lung_share(case.lung_even)}"
    if round(even_ratio * 100) != 100:  # the line the share is under, as `favours_outside` compares it
        line = f"less than {lung_share(even_ratio * case.lung_even)}, {even_ratio:.0%} of an even spread's " \
               f"{lung_share(case.lung_even)}"
    if case.elsewhere:
        line += f"; {'most' if case.elsewhere_most else 'the largest part'} of the rest: {case.elsewhere}"
    return line


def cheats_seen_sentence(lung_mask: bool, mask_channel: bool = False) -> str:
    """What the model's input lets it read, for the cheats view's caption: a lung-masked model cannot read
    a marker; a mask-channel model has one network on the lung fields and another on the whole lung box."""
    if mask_channel:
        return ("This model's lung-masked networks see only the lung fields, another network the whole lung box: weight "
                "outside the lungs may lie on a marker or device inside the box, or spill from the lungs. "
                "Read the pictures before calling it a shortcut.")
    if lung_mask:
        return ("This model sees only the lung fields (everything else is set to black), so it cannot read a "
                "marker or the border: weight outside the lungs lies on the heart, the mediastinum or the black "
                "surround, where coarse maps spill. Read the pictures before calling it a shortcut.")
    return "Right or wrong alike: a right answer read off a marker, the collar or the border is the shortcut."


def below_own_level(groups: Sequence[SourceCheats], level: float) -> int:
    """How many of the flagged answers also lie below the model's own lung-attention warning level
    (`level`, set from its correct answers; the level at which `LUNG_WARNING_PAGES` warn): the
    maps every page treats as unusual for this model, not only as favouring what lies outside the lungs."""
    return sum(1 for g in groups for case in g.cases if case.lung_share < level)


def own_level_sentence(counts: CheatsCounts, own: bool = True) -> str:
    """The cheating view's second line: how many flagged maps Diagnose would warn about too. The counts' level
    (`count_cheats`) is the model's lung-attention warning level, its own (`own`, set from its correct answers
    by its scope check) or the policy's default. "" when nothing is flagged. The rule is each film's own even
    spread, not one line, so a flagged map may lie on either side of the level whatever it is."""
    flagged, level, below = counts.flagged, counts.level, counts.below_level
    if not flagged:
        return ""
    where = ("this model's own warning level (set from its correct answers)" if own else default_level("warning"))
    where += f", where {LUNG_WARNING_PAGES} warn"
    if below == flagged:
        return (f"It lies below {level:.1%} on the lungs, {where} too." if flagged == 1
                else f"All {flagged} lie below {level:.1%} on the lungs, {where} too.")
    rest = "favours what lies outside the lungs, but not unusually so for this model"
    if not below:
        return (f"It does not lie below {level:.1%} on the lungs, {where}: it {rest}." if flagged == 1
                else f"None of these {flagged} lies below {level:.1%} on the lungs, {where}: each {rest}.")
    return f"{below} of these {flagged} lie below {level:.1%} on the lungs, {where}; each of the others {rest}."


def group_headings(counts: CheatsCounts, even_ratio: float, own: bool = True) -> list[tuple[SourceCheats, str]]:
    """Each source with flagged answers and its heading in the cheating view, standing alone: what its flagged
    answers are (confident answers with less of the map on the lungs than `even_ratio` of an even spread), how
    many of them also lie below the counts' warning level (where `LUNG_WARNING_PAGES` warn; the model's own,
    `own`, or the default) and how many of these are misclassified (`_misclassified`)."""
    whose = "this model's own warning level" if own else "the default warning level"
    return [(group, f"{group.source}: {group.outside} of its {group.confident} confident answers ({group.share:.0%}) "
                    f"{'has' if group.outside == 1 else 'have'} less of the map on the lungs {than_even(even_ratio)} "
                    f"({_of_these(below, group.outside)} below {whose}, {counts.level:.1%}); "
                    f"{_misclassified(group.wrong, group.outside)}")
            for group, below in zip(counts.groups, counts.below) if group.cases]


def _misclassified(count: int, total: int) -> str:
    """How many of a source's `total` flagged answers are misclassified, said of these answers alone ("none of
    these 3 misclassified"): a bare "none misclassified" read as none of the source's answers, beside a Cases view
    counting confident errors."""
    if total == 1:
        return "this one misclassified" if count else "this one not misclassified"
    if not count:
        return f"none of these {total} misclassified"
    return f"all {total} of these misclassified" if count == total else f"{count} of these {total} misclassified"


def _of_these(count: int, total: int) -> str:
    """"none", "1" (of one), "all 5" or "3 of the 5": a part of a source's flagged answers in its heading."""
    return ("none" if not count else str(count) if total == 1 else f"all {total}" if count == total
            else f"{count} of the {total}")
