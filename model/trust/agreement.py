"""Agreement between explanation methods, and the similarity of two maps it rests on.

A blank (constant) map ranks no region against another, so its similarity to any map is not measured (None),
never 0.00 ("unrelated"), which read as a finding: "draws other regions", or a map that changed when the
model's weights were randomised. `ranks_nothing` is that one rule; every similarity of two maps is
`map_similarity`'s, and every caller says None as `NOT_MEASURED`.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import cv2
import numpy as np

PAIR_SEPARATOR = " vs "  # an `Agreement.pairs` key joins two method names: "gradcam vs occlusion", as stored


def pair_key(first: str, second: str) -> str:
    """The `Agreement.pairs` key of two methods' maps, in that order."""
    return f"{first}{PAIR_SEPARATOR}{second}"


def pair_methods(pair: str) -> tuple[str, str]:
    """The two method names of an `Agreement.pairs` key (or of a stored report's `not_measured`), in order: the
    one place that reads the key, so a caller never splits it."""
    first, second = pair.split(PAIR_SEPARATOR)
    return first, second


@dataclass(frozen=True)
class Agreement:
    """Pairwise Spearman similarity of several methods' maps for one image.

    Attributes:
        pairs: {"a vs b": rho} for every pair, in the given order (method names); rho None: not measured, a
            blank map among the two (`map_similarity`).
        mean: the mean rho over the pairs measured; None when none was.
        blank: the methods whose maps are blank (`ranks_nothing`), in order: compared with nothing.
    """

    pairs: dict
    mean: float | None
    blank: tuple[str, ...] = ()

    @property
    def methods(self) -> list[str]:
        """The methods compared, in order."""
        names = []
        for methods, _ in self.method_pairs:
            for name in methods:
                if name not in names:
                    names.append(name)
        return names

    @property
    def method_pairs(self) -> tuple[tuple[tuple[str, str], float | None], ...]:
        """((first, second), rho) for every pair, in order: the pairs by their method names."""
        return tuple((pair_methods(pair), rho) for pair, rho in self.pairs.items())

    def compared(self, first: str, second: str) -> bool:
        """Whether two methods' maps were compared (in either order), their similarity measured or not."""
        return pair_key(first, second) in self.pairs or pair_key(second, first) in self.pairs

    def similarity(self, first: str, second: str) -> float | None:
        """The similarity of two methods' maps, in either order; None when that pair was not compared, or not
        measured (a blank map among the two: `blank`)."""
        pair = self.pairs.get(pair_key(first, second))
        return self.pairs.get(pair_key(second, first)) if pair is None else pair

    def distinct(self, same: float, methods: Sequence[str] | None = None) -> tuple[tuple[str, ...], ...]:
        """The methods grouped by the map they drew: each method, in order, joins the first group whose first
        method's map is at least `same` similar to its own (`model.policy.SAME_MAP`), else starts a group, so
        identical maps count once.

        The one grouping rule of identical maps: the all-methods summary (`summarise_agreement`) groups every
        method in the order compared; the comparison of the map read (`model.trust.map_checks.compare_shown_map`)
        puts that map first in `methods`, so that its group holds exactly the maps identical to it.

        Args:
            same: the similarity from which two maps are one.
            methods: the methods to group, in that order (default: every method compared, in order).
        """
        groups: list[tuple[str, ...]] = []
        for method in self.methods if methods is None else methods:  # a blank map joins no group: rho None
            i = next((i for i, g in enumerate(groups) if (self.similarity(g[0], method) or 0.0) >= same), None)
            if i is None:
                groups.append((method,))
            else:
                groups[i] = (*groups[i], method)
        return tuple(groups)

    def to_dict(self) -> dict:
        return {"pairs": dict(self.pairs), "mean": self.mean, "blank": list(self.blank)}

    @classmethod
    def from_dict(cls, values: dict) -> "Agreement":
        pairs = {pair: None if rho is None else float(rho) for pair, rho in dict(values["pairs"]).items()}
        mean = values.get("mean")
        return cls(pairs, None if mean is None else float(mean), tuple(values.get("blank") or ()))


BLANK_REASON = "a blank map"  # why a similarity is None (`map_similarity`)
NOT_MEASURED = f"not measured: {BLANK_REASON}"  # a similarity of None, as every view words it
BLANK_CELL = "blank map"  # the same in a table's narrow cell, beside a sentence that says it in full


def ranks_nothing(heatmap: np.ndarray) -> bool:
    """Whether a map is blank: constant (all zero, the usual case, or all one value), so that it ranks no region
    above another and has no similarity to any map."""
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float64))
    return values.size < 2 or float(np.ptp(values)) == 0.0


def mean_measured(values) -> float | None:
    """The mean of the similarities measured (None left out: a blank map); None when none was."""
    measured = [float(v) for v in values if v is not None]
    return float(np.mean(measured)) if measured else None


def map_similarity(a: np.ndarray, b: np.ndarray, support_only: bool = False) -> float | None:
    """Spearman rank correlation of two explanation maps (1: same ranking of regions, -1: reversed); None when
    either map ranks nothing on the pixels compared (`ranks_nothing`: a blank map), as it has no ranking to
    correlate (it read 0.00, "unrelated", which cautioned and passed checks that nothing measured).

    `b` is resized to `a`'s shape when they differ. With `support_only`, only pixels where at least one map is
    above zero are ranked: maps of different models on the whole film are both zero outside the
    regions the models saw, and that shared blank surround (a quarter of the film for lung-cropped
    models) otherwise counts as agreement (measured on one film: +0.77 on the whole film, +0.46 on
    the maps' support).
    """
    a = np.nan_to_num(np.asarray(a, dtype=np.float64).squeeze())
    b = np.nan_to_num(np.asarray(b, dtype=np.float64).squeeze())
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"maps must be 2-D, got shapes {a.shape} and {b.shape}")
    if b.shape != a.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
    if support_only:
        support = (a > 0) | (b > 0)
        a, b = a[support], b[support]
    if ranks_nothing(a) or ranks_nothing(b):
        return None
    from scipy.stats import spearmanr  # Lazy: importing scipy.stats takes seconds off every page's first draw.

    rho = spearmanr(a.ravel(), b.ravel()).statistic
    return float(rho) if np.isfinite(rho) else None


def method_agreement(maps: dict[str, np.ndarray]) -> Agreement:
    """Pairwise Spearman similarity of the maps of several methods for one image.

    Args:
        maps: {method name: 2-D map}, at least two.

    Returns:
        `Agreement`; similarity is `map_similarity` (None for a pair with a blank map, left out of the mean).
    """
    if not isinstance(maps, dict):
        raise ValueError(f"maps must be a dict of method name to map, got {type(maps).__name__}")
    if len(maps) < 2:
        raise ValueError(f"method_agreement needs at least two maps, got {len(maps)}")
    pairs = {pair_key(a, b): map_similarity(maps[a], maps[b]) for a, b in combinations(maps, 2)}
    return Agreement(pairs, mean_measured(pairs.values()), tuple(name for name in maps if ranks_nothing(maps[name])))
