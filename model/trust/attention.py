"""Lung attention: how much of an explanation map lies inside the segmented lung fields, and where
the rest goes (between the lungs, around their edges, diaphragm, chest wall, above the lungs, outside
the region the model saw). The warning fires relative to the model's own distribution: below a threshold set
on its correctly classified validation images (`training.fit_scope`), so it marks maps that are
unusual for this model, not every map of a model whose Grad-CAM is coarse."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.inputs.lungs import lung_attention_fraction, mask_plausibility
from model.policy import LOW_LUNG_ATTENTION, LUNG_ATTENTION_QUANTILE
from model.trust.scope import default_level

# "between the lungs": on each row with both lungs, what lies between their inner edges, i.e. the mediastinum
# (heart, great vessels, trachea): named by its place, as a hot spot at the trachea is not "on the heart".
# Under a lung's base (under one dome while the other lung reaches lower) is "diaphragm and below"; the rest of
# the lungs' bounding box outside them (the corners by the apices, the chest-wall side) is "around the lungs' edges".
MEDIASTINUM = "between the lungs (mediastinum)"
AROUND = "around the lungs' edges"
ZONES = ("lungs", MEDIASTINUM, AROUND, "diaphragm and below", "chest wall", "above the lungs",
         "outside the region the model saw")
PLACES = {MEDIASTINUM, AROUND, "above the lungs", "outside the region the model saw"}  # named without "on the"
MIN_SIDE_SHARE = 0.15  # each lung of a pair holds at least this share of the mask (a smaller side is no lung)
# Rows where a lung is narrower than this share of its widest row do not bound the gap: drawn on v3's lung masks of
# five pool films, 0.3 left the heart's lower part out of the mediastinum, 0.08 let it run into the diaphragm domes.
MIN_ROW_SHARE = 0.15
MAX_SPLIT_SHARE = 0.25  # two lungs: the split column holds at most this share of the fullest column's lung

# Why a film gets no share of its map on the lungs although a lung model ran (every view says it so).
NO_LUNG_FIELDS = "No plausible lung fields were found in this image, so the share of the map on them is not measured."
BLANK_MAP = ("The map is blank (no evidence for the class it explains), so it lies nowhere: its share on the lung "
             "fields is not measured.")


@dataclass(frozen=True)
class LungAttention:
    """Share of one map inside the lungs, and where the rest of it lies.

    Attributes:
        fraction: `model.inputs.lungs.lung_attention_fraction`.
        threshold: fractions below it are `low`.
        low: whether the warning fires; warning: the sentence, or "".
        zones: {zone: share of the map's weight} over `ZONES` (sums to 1 for a non-zero map).
        even_share: the share a map spread evenly over the part of the film the model saw would put on
            the lung fields (the lungs' share of that part): the level a map with no preference for the
            lungs reaches; None when not known (older stored results).
    """

    fraction: float
    threshold: float
    low: bool
    warning: str
    zones: dict = field(default_factory=dict)
    even_share: float | None = None

    @property
    def elsewhere(self) -> str | None:
        """The zone outside the lungs with the largest share of the map."""
        others = {zone: share for zone, share in self.zones.items() if zone != "lungs" and share > 0}
        return max(others, key=others.get) if others else None

    @property
    def elsewhere_holds_most(self) -> bool:
        """Whether `elsewhere` holds more than half of the map outside the lungs ("most of the rest"),
        not only its largest part (True when there is no such zone)."""
        zone = self.elsewhere
        rest = sum(share for name, share in self.zones.items() if name != "lungs")
        return zone is None or self.zones[zone] > rest / 2

    def to_dict(self) -> dict:
        return {"fraction": self.fraction, "threshold": self.threshold, "low": self.low, "warning": self.warning,
                "zones": dict(self.zones), "even_share": self.even_share}

    @classmethod
    def from_dict(cls, values: dict) -> "LungAttention":
        even = values.get("even_share")
        return cls(float(values["fraction"]), float(values["threshold"]), bool(values["low"]), values["warning"],
                   dict(values.get("zones") or {}), None if even is None else float(even))


def compare_as_shown(share: float, level: float) -> int:
    """-1, 0 or 1 as a share on the lungs is below, at or above `level` as both are printed, to 0.1% (`.1%`,
    `model.present.text.lung_share`): the one rule every view words a comparison by, so "more", "less" or
    "as much" never contradicts the two figures printed beside it (21.08% is "as much" as 21.05%, both 21.1%)."""
    shown, bar = (round(float(f"{value:.1%}"[:-1]) * 10) for value in (share, level))  # tenths of a percent
    return (shown > bar) - (shown < bar)


def even_share(lung_mask: np.ndarray, region=None) -> float:
    """The lung fields' share of the part of the film the model saw (`region`: top, bottom, left, right;
    the whole film when None): what a map spread evenly over that part puts on the lungs."""
    mask = np.asarray(lung_mask).astype(bool)
    if region is not None:
        top, bottom, left, right = region
        mask = mask[top:bottom, left:right]
    return float(mask.mean()) if mask.size else 0.0


def _between_the_lungs(mask: np.ndarray, box: tuple[int, int], cols: np.ndarray) -> np.ndarray:
    """The mediastinum as the mask's geometry gives it: on each row where both lungs are well under way,
    the pixels between their inner edges; nothing when the mask does not hold two lungs.

    The lungs are split at the column with the least lung in the middle half of their box (`box`: its
    left and right columns), so a wide and a narrow lung split between them, not inside the wider one.
    A lung "well under way" on a row is at least MIN_ROW_SHARE of its widest row wide: the last rows of
    a domed lung (its lateral corner) would otherwise stretch the gap over what lies under the dome.
    Each side holds at least MIN_SIDE_SHARE of the mask and the split column at most MAX_SPLIT_SHARE of the
    lung of the fullest column, or there is one lung (a hole in it is no gap).
    """
    left, right = box
    quarter = (right - left) // 4
    counts = mask[:, left + quarter:right - quarter].sum(axis=0)
    if not counts.size or not mask.any():
        return np.zeros_like(mask, dtype=bool)
    split = left + quarter + int(np.argmin(counts))
    if counts.min() > MAX_SPLIT_SHARE * mask[:, left:right].sum(axis=0).max():
        return np.zeros_like(mask, dtype=bool)  # lung runs across the split column: one lung, not two
    left_lung, right_lung = mask.copy(), mask.copy()
    left_lung[:, split:] = False
    right_lung[:, :split] = False
    total = mask.sum()
    if min(left_lung.sum(), right_lung.sum()) < MIN_SIDE_SHARE * total:
        return np.zeros_like(mask, dtype=bool)
    left_rows, right_rows = left_lung.sum(axis=1), right_lung.sum(axis=1)
    both = (left_rows >= MIN_ROW_SHARE * left_rows.max()) & (right_rows >= MIN_ROW_SHARE * right_rows.max())
    width = mask.shape[1]
    inner_left = width - 1 - np.argmax(left_lung[:, ::-1], axis=1)  # the last lung column left of the split
    inner_right = np.argmax(right_lung, axis=1)                     # the first one right of it
    return both[:, None] & (cols > inner_left[:, None]) & (cols < inner_right[:, None])


def attention_zones(heatmap: np.ndarray, lung_mask: np.ndarray, region=None) -> dict[str, float]:
    """Share of a map's weight in each zone of the film, from the lung mask's geometry.

    Args:
        heatmap: non-negative 2-D map on the mask's grid.
        lung_mask: boolean lung mask.
        region: (top, bottom, left, right) the model saw; weight outside it is its own zone.

    Returns:
        {zone: share} over `ZONES`; all zero for an all-zero map.
    """
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, np.float64)), 0.0, None)
    mask = np.asarray(lung_mask).astype(bool)
    if heat.shape != mask.shape:
        raise ValueError(f"heatmap {heat.shape} and lung_mask {mask.shape} must be on one grid")
    total = heat.sum()
    zones = dict.fromkeys(ZONES, 0.0)
    if total <= 0:
        return zones
    height, width = mask.shape
    rows, cols = np.mgrid[0:height, 0:width]
    seen = np.ones_like(mask)
    if region is not None:
        top, bottom, left, right = region
        seen = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    if mask.any():
        lung_rows, lung_cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        top, bottom = lung_rows[0], lung_rows[-1] + 1
        left, right = lung_cols[0], lung_cols[-1] + 1
    else:
        top, bottom, left, right = 0, height, 0, width
    band = (rows >= top) & (rows < bottom)
    inside_box = band & (cols >= left) & (cols < right)
    between = _between_the_lungs(mask, (left, right), cols)
    # Under a lung's own base (below its lowest pixel in that column), e.g. under one dome while the other
    # lung reaches lower: the diaphragm and what lies below it, not the lungs' edges.
    lowest = np.where(mask.any(axis=0), mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0), mask.shape[0])
    under = inside_box & ~between & (rows > lowest[None, :])
    assigned = {
        "lungs": mask & seen,
        MEDIASTINUM: between & ~mask & seen,
        AROUND: inside_box & ~between & ~under & ~mask & seen,
        "diaphragm and below": ((rows >= bottom) | under) & ~mask & seen,
        "chest wall": band & ~inside_box & seen,
        "above the lungs": (rows < top) & seen,
        "outside the region the model saw": ~seen,
    }
    for zone, where in assigned.items():
        zones[zone] = float(heat[where].sum() / total)
    return zones


def lung_attention(heatmap: np.ndarray, lung_mask: np.ndarray, threshold: float = LOW_LUNG_ATTENTION,
                   region=None, own: bool | None = None) -> LungAttention:
    """How much of a map lies inside the lungs, with a warning naming where it goes when little does.

    Args:
        heatmap: non-negative 2-D map on the mask's grid (e.g. brought back with `map_to_image`).
        lung_mask: boolean lung mask.
        threshold: fractions below it are `low` (in (0, 1)); the model's own threshold from its
            scope check when it has one.
        region: the region of the film the model saw, to tell weight outside it apart.
        own: whether `threshold` is the model's own (its scope check's, set from its correct answers);
            None: taken to be its own when it differs from the policy's default.

    Returns:
        `LungAttention`.
    """
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold!r}")
    fraction = lung_attention_fraction(heatmap, lung_mask)
    zones = attention_zones(heatmap, lung_mask, region)
    low = fraction < threshold
    even = even_share(lung_mask, region)
    result = LungAttention(fraction, threshold, bool(low), "", zones, even)
    if low:
        zone = result.elsewhere
        # "on the chest wall", but "above the lungs" (zones named by a place, not a part of the body).
        where = "outside the lungs" if zone is None else zone if zone in PLACES else f"on the {zone}"
        own_level = threshold != LOW_LUNG_ATTENTION if own is None else bool(own)
        # "most of the rest" only when that zone holds more than half of it, else it is only the largest part
        amount = "most" if result.elsewhere_holds_most else "the largest part"
        # Beside the level of an evenly spread map, compared as shown: a map above it is not called "only"
        # anything, but the warning leads (the status calls it below the warning level): it is low for this
        # model (its own level) or below the default line, and only then more than an even spread.
        # Share and level to one decimal, or two where one would print them equal ("42.0% ... below ... 42.0%").
        digits = 2 if not compare_as_shown(fraction, threshold) else 1
        shown, bar = f"{fraction:.{digits}%}", f"{threshold:.{digits}%}"
        # The level is named in both wordings (a warning without its level left the reader to guess it).
        level = (f"this model's warning level of {bar} (less than on {1 - LUNG_ATTENTION_QUANTILE:.0%} "
                 "of its correct answers)" if own_level
                 else default_level("warning", bar))
        if compare_as_shown(fraction, even) > 0:
            share = (f"{shown} of this map lies on the lung fields, below {level}, though more than a map "
                     f"spread evenly would put there ({even:.1%}, the lungs' share of what the model saw)")
        else:
            share = (f"Only {shown} of this map lies on the lung fields (which fill {even:.1%} of what the "
                     f"model saw), below {level}")
        result = LungAttention(fraction, threshold, True,
                               f"{share}; {amount} of the rest is {where}, counting its faint part, which the picture "
                               "may leave uncoloured. Check that what it points at is a finding in the lungs.",
                               zones, even)
    return result


def blank_map(heatmap: np.ndarray) -> bool:
    """A map with no positive weight anywhere: it places no evidence, so it has no share on the lungs (and draws
    no colour). Not the similarity's rule: `model.trust.agreement.ranks_nothing` asks whether a map ranks any
    region above another (constant or not); the two agree on the usual blank map, all zero."""
    return not float(np.max(heatmap)) > 0.0


def attention_if_lungs(heatmap: np.ndarray, lung_mask: np.ndarray, threshold: float = LOW_LUNG_ATTENTION,
                       region=None, own: bool | None = None) -> tuple[LungAttention | None, str]:
    """`lung_attention` when the mask holds plausible lung fields (`mask_plausibility`), else (None,
    `NO_LUNG_FIELDS`): no share of a map on lungs that were not found. The one rule of every view (Diagnose,
    Compare, the gallery's cards and dialog). A blank map (no positive weight) gives (None, `BLANK_MAP`): it has no
    share on the lungs, and "0.0% on the lungs, most of the rest outside them" beside "this map is blank" warned
    of a shortcut that no evidence showed."""
    if not mask_plausibility(lung_mask)["plausible"]:
        return None, NO_LUNG_FIELDS
    if blank_map(heatmap):
        return None, BLANK_MAP
    return lung_attention(heatmap, lung_mask, threshold, region, own), ""
