"""Agreement between explanation methods, and the similarity of two maps it rests on."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class Agreement:
    """Pairwise Spearman similarity of several methods' maps for one image.

    Attributes:
        pairs: {"a vs b": rho} for every pair, in the given order (method names).
        mean: the mean rho over the pairs.
    """

    pairs: dict
    mean: float

    @property
    def methods(self) -> list[str]:
        """The methods compared, in order."""
        names = []
        for pair in self.pairs:
            for name in pair.split(" vs "):
                if name not in names:
                    names.append(name)
        return names

    def similarity(self, first: str, second: str) -> float | None:
        """The similarity of two methods' maps, in either order; None when that pair was not compared."""
        pair = self.pairs.get(f"{first} vs {second}")
        return self.pairs.get(f"{second} vs {first}") if pair is None else pair

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
        for method in self.methods if methods is None else methods:
            i = next((i for i, g in enumerate(groups) if (self.similarity(g[0], method) or 0.0) >= same), None)
            if i is None:
                groups.append((method,))
            else:
                groups[i] = (*groups[i], method)
        return tuple(groups)

    def to_dict(self) -> dict:
        return {"pairs": dict(self.pairs), "mean": self.mean}

    @classmethod
    def from_dict(cls, values: dict) -> "Agreement":
        return cls(dict(values["pairs"]), float(values["mean"]))


def map_similarity(a: np.ndarray, b: np.ndarray, support_only: bool = False) -> float:
    """Spearman rank correlation of two explanation maps (1: same ranking of regions, -1: reversed).

    `b` is resized to `a`'s shape when they differ. A constant map ranks nothing, so the
    similarity is 0.0 rather than NaN. With `support_only`, only pixels where at least one map is
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
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    from scipy.stats import spearmanr  # Lazy: importing scipy.stats takes seconds off every page's first draw.

    rho = spearmanr(a.ravel(), b.ravel()).statistic
    return float(rho) if np.isfinite(rho) else 0.0


def method_agreement(maps: dict[str, np.ndarray]) -> Agreement:
    """Pairwise Spearman similarity of the maps of several methods for one image.

    Args:
        maps: {method name: 2-D map}, at least two.

    Returns:
        `Agreement`; similarity is `map_similarity`.
    """
    if not isinstance(maps, dict):
        raise ValueError(f"maps must be a dict of method name to map, got {type(maps).__name__}")
    if len(maps) < 2:
        raise ValueError(f"method_agreement needs at least two maps, got {len(maps)}")
    pairs = {f"{a} vs {b}": map_similarity(maps[a], maps[b]) for a, b in combinations(maps, 2)}
    return Agreement(pairs, float(np.mean(list(pairs.values()))))
