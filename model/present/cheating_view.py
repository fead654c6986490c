"""Where the model cheats: confident answers whose map lies mostly outside the lung fields, by source.

A model that answers confidently while its map points at the collar, a text marker or the border
has most likely learnt something about the collection the film came from rather than the lungs
(the known shortcut). Counting such answers per source shows an educator, and an ML team, which
collections the model recognises instead of reading:

    groups = cheating_by_source(cases)            # cases of `model.present.gallery_cases.read_case`
    table = cheating_frame(groups)                # one row per source, the worst first
    groups[0].cases                               # its cases, the lowest lung share first
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from model.trust.scope import default_level

CONFIDENT = 0.8  # An answer at or above this probability is confident.
MOSTLY_OUTSIDE = 0.5  # A map with less than this share on the lung fields lies mostly outside them.
FRAME_COLUMNS = ["source", "confident answers", "map mostly outside the lungs", "share", "of them misclassified"]


@dataclass(frozen=True)
class SourceCheats:
    """One source's confident answers and those whose map lies mostly outside the lungs.

    Attributes:
        source: the source's name ("unknown" when the data name none).
        confident: how many confident answers with a measured lung share it has.
        cases: those whose map lies mostly outside the lungs, the lowest share first.
    """

    source: str
    confident: int
    cases: tuple

    @property
    def outside(self) -> int:
        return len(self.cases)

    @property
    def share(self) -> float:
        """Share of its confident answers whose map lies mostly outside the lungs (0 without any)."""
        return self.outside / self.confident if self.confident else 0.0

    @property
    def wrong(self) -> int:
        return sum(c.wrong for c in self.cases)


def check_thresholds(min_confidence: float, max_lung_share: float) -> None:
    for name, value in (("min_confidence", min_confidence), ("max_lung_share", max_lung_share)):
        if not 0.0 < float(value) <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")


def cheating_by_source(cases: list, min_confidence: float = CONFIDENT,
                       max_lung_share: float = MOSTLY_OUTSIDE) -> list[SourceCheats]:
    """Per source, the confident answers (probability >= `min_confidence`) with a measured lung share
    and those of them whose share is below `max_lung_share`.

    Cases without a lung share (no lung model, an empty map) are left out: nothing is known about
    where their map lies. Correct and wrong answers count alike: a right answer for the wrong reason
    is the shortcut. Sources come worst first (highest share, then most such cases, then by name).
    """
    check_thresholds(min_confidence, max_lung_share)
    confident: dict[str, list] = {}
    for case in cases:
        if case.lung_share is not None and case.confidence >= min_confidence:
            confident.setdefault(case.source or "unknown", []).append(case)
    groups = []
    for source, items in confident.items():
        outside = sorted((c for c in items if c.lung_share < max_lung_share),
                         key=lambda c: (c.lung_share, -c.confidence, c.path))
        groups.append(SourceCheats(source, len(items), tuple(outside)))
    return sorted(groups, key=lambda g: (-g.share, -g.outside, g.source))


def cheating_frame(groups: list[SourceCheats]) -> pd.DataFrame:
    """One row per source: its confident answers, how many lie mostly outside the lungs, their share
    (0-1) and how many of those were misclassified."""
    rows = [[g.source, g.confident, g.outside, g.share, g.wrong] for g in groups]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def cheating_total(groups: list[SourceCheats]) -> tuple[int, int]:
    """(confident answers, of which the map lies mostly outside the lungs) over every source."""
    return sum(g.confident for g in groups), sum(g.outside for g in groups)


def cheats_headline(counts: tuple[int, int, int], confident: float, model_name: str, lung_mask: bool,
                    unusual: int | None = None) -> str:
    """The cheats view's headline (markdown), worded for what the model sees: a lung-masked model cannot
    read a marker, so its map's weight outside the lungs is said to spill, not to read something there.
    `counts`: (confident answers whose map lies mostly outside, confident answers, answers read).
    `unusual`: how many of the flagged lie below the model's lung-attention warning level too
    (`below_own_level`; None when that level is not under the view's line): said in the headline itself,
    so a projected "79% mostly outside" does not read as 79% cheating when most are how the model reads
    every film (the next line gives the level)."""
    cheats, total, read = counts  # flagged, confident, answers read
    if not total:
        return f"None of the {read} answers read is confident ({confident:.1%} or more)."
    where = ("spills mostly outside the lung fields, the only part of the film it sees" if lung_mask
             else "lies mostly outside the lungs")
    line = f"On **{cheats} of {total}** confident answers ({cheats / total:.0%}), the map of {model_name} {where}"
    if unusual is not None and cheats:
        line += ("; **none** of them unusually so for this model" if not unusual
                 else f"; **{unusual}** of them unusually so for this model" if unusual < cheats
                 else "; all of them unusually so for this model")
    return line


def even_words(even: float | None) -> str:
    """The clause that sets "mostly outside the lungs" beside chance (`gallery_cases.even_level`): ""
    when not known."""
    if even is None:
        return ""
    return f"; a map spread evenly over what the model saw would put about {even:.0%} there"


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


def below_own_level(groups: list[SourceCheats], level: float) -> int:
    """How many of the flagged answers also lie below the model's own lung-attention warning level
    (`level`, set from its correct answers; the level at which Diagnose and Performance warn): the
    maps every page treats as unusual for this model, not only as mostly outside the lungs."""
    return sum(1 for g in groups for case in g.cases if case.lung_share < level)


def own_level_sentence(groups: list[SourceCheats], level: float, outside: float = MOSTLY_OUTSIDE,
                       own: bool = True) -> str:
    """The cheating view's second line: how many flagged maps Diagnose would warn about too. `level` is
    the model's lung-attention warning level, its own (`own`, set from its correct answers by its scope
    check) or the policy's default; `outside` the view's "mostly outside" line. "" when nothing is
    flagged, or when the level is not under that line (every flagged map lies below it by definition)."""
    flagged = sum(g.outside for g in groups)
    if not flagged or level >= outside:
        return ""
    where = ("this model's own warning level (set from its correct answers), where Diagnose and Performance warn"
             if own else f"{default_level('warning')}, where Diagnose warns")
    below = below_own_level(groups, level)
    if not below:
        return (f"None of these {flagged} lies below {level:.1%} on the lungs, {where}: for this model they are "
                "mostly outside the lungs but not unusually so, which is how it reads every film.")
    if below < flagged:
        return (f"{below} of these {flagged} lie below {level:.1%} on the lungs, {where}; the others are mostly "
                "outside the lungs but not unusually so for this model.")
    return f"All {flagged} lie below {level:.1%} on the lungs, {where} too."


def group_heading(group: SourceCheats, outside: float, level: float, own: bool = True) -> str:
    """One source's heading in the cheating view, standing alone: what its flagged answers are (confident
    answers with less than `outside` of the map on the lungs), how many of them also lie below the model's
    lung-attention warning level `level` (where Diagnose warns; its own, `own`, or the default; said only when
    that level is under `outside`, else every flagged map lies below it) and how many are misclassified."""
    verb = "has" if group.outside == 1 else "have"
    line = (f"{group.source}: {group.outside} of its {group.confident} confident answers ({group.share:.0%}) {verb} "
            f"less than {outside:.1%} of the map on the lungs")
    if level < outside:
        whose = "this model's own warning level" if own else "the default warning level"
        line += f" ({_of_these(below_own_level([group], level), group.outside)} below {whose}, {level:.1%})"
    return line + f"; {_of_these(group.wrong, group.outside)} misclassified"


def _of_these(count: int, total: int) -> str:
    """"none", "1" (of one) or "3 of the 5": a part of a source's flagged answers in its heading."""
    return "none" if not count else str(count) if total == 1 else f"{count} of the {total}"
