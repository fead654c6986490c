"""Faithfulness of a map: deletion and insertion against random region orders (Petsiuk et al. 2018).

Remove (or reveal) the pixels a map ranks highest first and follow the class probability. A
faithful map makes the probability fall fast when deleting (low area under the curve) and rise
fast when inserting (high area), faster than random region orders do. Removed pixels are replaced
by a heavy blur of the image (the default), so the model sees a missing detail rather than an
artificial black patch. Only `predict_inputs` and `labels` of the classifier are used.

The chance level is a random map with the grain of the map under test: a Grad-CAM map of a layer
with a 5 x 5 grid is compared with random 5 x 5 maps (`grid`), so the two differ only in where they
put the evidence, not in how finely they cut the film. Random cells finer than the map scatter the
removed pixels over the whole film and wipe out its overall look sooner than any region-shaped map
can (the shipped MobileNet ensemble's report, `training.explanation_report`: its 5 x 5 Grad-CAM was
only level with random 16 x 16 cells on deletion, 0.358 against 0.363, and beats random 5 x 5 maps,
0.36 against 0.40). Maps without a grid of their own (SmoothGrad, pixel by pixel) keep `RANDOM_BLOCKS`.

A map beats chance only by more than `CHANCE_MARGIN`: the chance level is a mean of a few random
orders, and 0.401 against 0.400 is the noise of those orders, not evidence that the map ranks well.
Each curve is better than, level with or worse than chance (`curve_state`), and the sentence says which.

Deletion and insertion measure how fast the class's probability moves between the film and its
blurred copy. When the blurred copy scores the class as high as the film or higher (a normal film's
map for COVID-19, which this pool's models give a blurred film), hiding regions can only raise the
probability and the two curves say nothing about the map: such a map is "not measurable"
(`MIN_EVIDENCE`), never "faithful".
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.explain.map_grid import UNKNOWN_GRID
from model.explain.occlusion import FILLS, occlude
from model.trust.agreement import ranks_nothing

DEFAULT_STEPS = 20
RANDOM_BLOCKS = 16          # cells per side of the random maps for maps without a grid of their own
CHANCE_MARGIN = 0.01        # AUC units a map must beat chance by (smaller differences are noise)
MIN_EVIDENCE = 0.05         # the film must score the class this much above its fully blurred copy to be measured


@dataclass(frozen=True)
class RandomOrders:
    """The random region orders whose mean deletion and insertion AUC set a map's chance level:
    `repeats` of them (1 to 100), drawn from `seed`."""

    repeats: int = 3
    seed: int = 0


def _as_input(model_input) -> np.ndarray:
    """An (S, S, C) float32 model input; ValueError naming the shape otherwise."""
    x = np.asarray(model_input, dtype=np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or min(x.shape[:2]) < 2:
        raise ValueError(f"model_input must be an (S, S, C) image, got shape {np.shape(model_input)}")
    return x


def _as_map(heatmap, shape: tuple[int, int]) -> np.ndarray:
    """A finite 2-D float map on the input's grid (resized when it is on another grid)."""
    heat = np.asarray(heatmap, dtype=np.float32).squeeze()
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be 2-D, got shape {np.shape(heatmap)}")
    if not np.all(np.isfinite(heat)):
        raise ValueError("heatmap contains NaN or infinite values")
    if heat.shape != tuple(shape):
        heat = cv2.resize(heat, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return heat


def _check_count(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def _check_class(classifier, class_index) -> int:
    count = len(classifier.labels)
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
            or not 0 <= class_index < count:
        raise ValueError(f"class_index must be an integer in [0, {count}), got {class_index!r}")
    return int(class_index)


def pixel_order(heatmap: np.ndarray, seed: int = 0) -> np.ndarray:
    """Flat pixel indices from the most to the least salient; ties are broken at random (seeded),
    so the flat zero regions of a map are not removed in scan-line order."""
    heat = np.asarray(heatmap, dtype=np.float64).ravel()
    tiebreak = np.random.default_rng(seed).random(heat.size)
    return np.lexsort((tiebreak, -heat))


def baseline_image(model_input: np.ndarray, baseline: str = "blur") -> np.ndarray:
    """What a removed pixel becomes: the heavy blur, the mean or black of `model.explain.occlusion`."""
    if baseline not in FILLS:
        raise ValueError(f"baseline must be one of {FILLS}, got {baseline!r}")
    return occlude(model_input, (0.0, 0.0, 1.0, 1.0), fill=baseline)


def evidence(classifier, model_input: np.ndarray, class_index: int, baseline: str = "blur") -> tuple[float, float]:
    """(probability of `class_index` on the film, on its fully hidden copy): the two ends of every
    deletion curve of the film, whatever the map. `measurable` judges them."""
    x = _as_input(model_input)
    class_index = _check_class(classifier, class_index)
    p = classifier.predict_inputs(np.stack([x, baseline_image(x, baseline)]).astype(np.float32), batch_size=2)
    return float(p[0, class_index]), float(p[1, class_index])


def measurable(film: float, hidden: float) -> bool:
    """Whether hiding regions can show what a map's regions add: the film must score the class at
    least `MIN_EVIDENCE` above its fully hidden copy (else the curves say nothing about any map)."""
    return film - hidden >= MIN_EVIDENCE


def _curve_inputs(x: np.ndarray, base: np.ndarray, order: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Deletion inputs for every fraction, then insertion inputs for every fraction: (2F, S, S, C)."""
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    rank = rank.reshape(x.shape[:2])[..., None]
    counts = np.round(fractions * order.size).astype(np.int64)
    deleted = [np.where(rank < k, base, x) for k in counts]
    inserted = [np.where(rank < k, x, base) for k in counts]
    return np.stack(deleted + inserted).astype(np.float32)


def area_under_curve(values, fractions) -> float:
    """Trapezoid area of a curve over fractions spanning [0, 1]."""
    return float(np.trapezoid(np.asarray(values, dtype=np.float64), np.asarray(fractions, dtype=np.float64)))


def deletion_insertion(classifier, model_input: np.ndarray, heatmap: np.ndarray, class_index: int,
                       steps: int = DEFAULT_STEPS, baseline: str = "blur") -> dict:
    """Deletion and insertion curves of one map (Petsiuk et al. 2018).

    Deletion replaces the most salient pixels first by the baseline image and follows the
    probability of `class_index`; insertion starts from the baseline and reveals the most salient
    pixels first. All 2 x (steps + 1) images go through the model in one batch.

    Args:
        classifier: a `model.classifier.Classifier` (only `predict_inputs` and `labels` are used).
        model_input: the preprocessed image (S, S, C).
        heatmap: 2-D map; on another grid than the input it is resized to it.
        class_index: the class whose probability is followed.
        steps: number of equal steps from 0 to all pixels (1 to 100).
        baseline: "blur" (heavy Gaussian blur of the input), "mean" or "black".

    Returns:
        dict with `fractions` (steps + 1 values from 0 to 1), `deletion` and `insertion` (the
        class probability at each fraction) and `deletion_auc`, `insertion_auc` (trapezoid areas,
        in [0, 1]; lower deletion and higher insertion mean a more faithful map).

    Raises:
        ValueError: naming a bad input shape, map, class index, step count or baseline.
    """
    x = _as_input(model_input)
    heat = _as_map(heatmap, x.shape[:2])
    class_index = _check_class(classifier, class_index)
    steps = _check_count("steps", steps, 1, 100)
    return _curves(classifier, x, pixel_order(heat), class_index, steps, baseline)


def _curves(classifier, x: np.ndarray, order: np.ndarray, class_index: int, steps: int, baseline: str) -> dict:
    fractions = np.linspace(0.0, 1.0, steps + 1)
    batch = _curve_inputs(x, baseline_image(x, baseline), order, fractions)
    probabilities = classifier.predict_inputs(batch, batch_size=len(batch))[:, class_index]
    deletion, insertion = probabilities[:steps + 1], probabilities[steps + 1:]
    return {"fractions": [float(f) for f in fractions], "deletion": [float(p) for p in deletion],
            "insertion": [float(p) for p in insertion], "deletion_auc": area_under_curve(deletion, fractions),
            "insertion_auc": area_under_curve(insertion, fractions)}


def random_block_order(shape: tuple[int, int], rng: np.random.Generator, blocks: int = RANDOM_BLOCKS) -> np.ndarray:
    """Pixel indices in the order of a random map made of `blocks` x `blocks` cells.

    Scattered random pixels are an unfair chance level for insertion: revealing 30% of them
    already restores the image's overall look, so any region-shaped map seems worse than chance.
    A random map as coarse as the map under test removes or reveals whole regions, as that map does
    (`chance_grid`).
    """
    height, width = shape
    cells = cv2.resize(rng.random((blocks, blocks)), (width, height), interpolation=cv2.INTER_NEAREST)
    return np.argsort(-(cells + rng.random((height, width)) * 1e-6).ravel(), kind="stable")


def chance_grid(map_grid: int | str | None) -> int:
    """Cells per side of the random maps that set the chance level of a map whose own grid has
    `map_grid` cells per side (the explained layer's; None for maps made pixel by pixel). A grid that
    could not be told (`UNKNOWN_GRID`) gets `RANDOM_BLOCKS` too, and `faithfulness` says so."""
    if map_grid is None or map_grid == UNKNOWN_GRID:
        return RANDOM_BLOCKS
    return _check_count("grid", map_grid, 1, 4096)


def random_baseline(classifier, model_input: np.ndarray, class_index: int, steps: int = DEFAULT_STEPS,
                    random_orders: RandomOrders = RandomOrders(), baseline: str = "blur",
                    grid: int | str | None = None) -> dict:
    """Mean deletion and insertion AUC of random block orders (the chance level of a map).

    Args:
        random_orders: how many random orders, from which seed.
        grid: cells per side of the map under test (see `chance_grid`); the random maps have as many.

    Returns:
        dict with `deletion_auc`, `insertion_auc` (means), `repeats` and `grid` (cells per side).
    """
    x = _as_input(model_input)
    class_index = _check_class(classifier, class_index)
    steps = _check_count("steps", steps, 1, 100)
    repeats = _check_count("random_repeats", random_orders.repeats, 1, 100)
    blocks = chance_grid(grid)
    rng = np.random.default_rng(random_orders.seed)
    runs = [_curves(classifier, x, random_block_order(x.shape[:2], rng, blocks), class_index, steps, baseline)
            for _ in range(repeats)]
    return {"deletion_auc": float(np.mean([r["deletion_auc"] for r in runs])),
            "insertion_auc": float(np.mean([r["insertion_auc"] for r in runs])), "repeats": repeats, "grid": blocks}


def beats_chance(mine: float, chance: float, curve: str) -> bool:
    """Whether a `curve` ("deletion": lower is better, "insertion": higher) AUC beats the chance
    level by more than `CHANCE_MARGIN`."""
    if curve not in ("deletion", "insertion"):
        raise ValueError(f"curve must be 'deletion' or 'insertion', got {curve!r}")
    return bool(mine < chance - CHANCE_MARGIN if curve == "deletion" else mine > chance + CHANCE_MARGIN)


def curve_state(mine: float, chance: float, curve: str) -> str:
    """"better", "level" (within `CHANCE_MARGIN`) or "worse" than chance on one curve."""
    if beats_chance(mine, chance, curve):
        return "better"
    flipped = "insertion" if curve == "deletion" else "deletion"
    return "worse" if beats_chance(mine, chance, flipped) else "level"


def is_better_than_random(map_aucs: dict, random_aucs: dict) -> bool:
    """True when the map's deletion AUC is lower AND its insertion AUC higher than random's, each by
    more than `CHANCE_MARGIN`."""
    return (beats_chance(map_aucs["deletion_auc"], random_aucs["deletion_auc"], "deletion")
            and beats_chance(map_aucs["insertion_auc"], random_aucs["insertion_auc"], "insertion"))


@dataclass(frozen=True)
class Faithfulness:
    """Deletion and insertion of one map against the chance level of random region orders.

    Attributes:
        deletion_auc, insertion_auc: the map's areas (lower deletion, higher insertion: better).
        random_deletion_auc, random_insertion_auc: means over random block orders.
        curves: the map's curves as from `deletion_insertion`.
        better_than_random: deletion lower AND insertion higher than random (by more than `CHANCE_MARGIN`).
        summary: one plain sentence.
        measurable: False when the blurred film scores the class nearly as high as the film or higher
            (see `MIN_EVIDENCE`): the curves then say nothing about the map.
    """

    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    random_insertion_auc: float
    curves: dict
    better_than_random: bool
    summary: str
    measurable: bool = True

    @property
    def deletion_better(self) -> bool:
        return beats_chance(self.deletion_auc, self.random_deletion_auc, "deletion")

    @property
    def insertion_better(self) -> bool:
        return beats_chance(self.insertion_auc, self.random_insertion_auc, "insertion")

    @property
    def worse_than_random(self) -> bool:
        """Whether either curve is worse than chance (by more than `CHANCE_MARGIN`): the sign the summary's
        "ranks the evidence worse than random" and the status's short name both follow."""
        return any(curve_state(mine, chance, curve) == "worse" for mine, chance, curve in
                   ((self.deletion_auc, self.random_deletion_auc, "deletion"),
                    (self.insertion_auc, self.random_insertion_auc, "insertion")))

    @property
    def figures(self) -> tuple[str, str, str, str]:
        """(hiding, its chance level, revealing, its chance level) as shown, in one format (`auc_figures`)."""
        return auc_figures(self.deletion_auc, self.random_deletion_auc, self.insertion_auc, self.random_insertion_auc)

    @property
    def verdict(self) -> str:
        """"faithful" (both beat chance), "mixed" (one does), "not better than random", or "not measurable"."""
        if not self.measurable:
            return NOT_MEASURABLE
        return faithfulness_verdict(self.deletion_better, self.insertion_better)

    def to_dict(self) -> dict:
        return {"map": {"deletion_auc": self.deletion_auc, "insertion_auc": self.insertion_auc, "curves": self.curves},
                "random": {"deletion_auc": self.random_deletion_auc, "insertion_auc": self.random_insertion_auc},
                "better_than_random": self.better_than_random, "summary": self.summary, "measurable": self.measurable}

    @classmethod
    def from_dict(cls, values: dict) -> "Faithfulness":
        return cls(values["map"]["deletion_auc"], values["map"]["insertion_auc"], values["random"]["deletion_auc"],
                   values["random"]["insertion_auc"], values["map"].get("curves", {}),
                   bool(values["better_than_random"]), values["summary"], bool(values.get("measurable", True)))


NOT_MEASURABLE = "not measurable"
NOT_JUDGED = "not judged"  # beside the figures of a check that was not measurable: shown, but they do not count


def faithfulness(classifier, model_input: np.ndarray, heatmap: np.ndarray, class_index: int,
                 steps: int = DEFAULT_STEPS, random_orders: RandomOrders = RandomOrders(),
                 grid: int | str | None = None) -> Faithfulness:
    """Whether deleting/inserting pixels in the map's order moves the prediction more than chance.

    Args:
        classifier: a `model.classifier.Classifier`.
        model_input: the preprocessed image (S, S, C).
        heatmap: the explanation map (2-D).
        class_index: the explained class.
        steps: steps of each curve, see `deletion_insertion`.
        random_orders: the random region orders averaged for the chance level (how many, which seed).
        grid: cells per side of the map's own grid (the explained layer's, `Classifier.map_grid`);
            None for maps made pixel by pixel. The random maps of the chance level have as many.
            `UNKNOWN_GRID`: the layer's grain could not be told; the summary then says which grain
            the chance level used instead.

    Returns:
        `Faithfulness` (`to_dict` gives the `map` / `random` / `better_than_random` / `summary`
        layout stored in reports).
    """
    curves = deletion_insertion(classifier, model_input, heatmap, class_index, steps)
    chance = random_baseline(classifier, model_input, class_index, steps, random_orders, grid=grid)
    mapped = {"deletion_auc": curves["deletion_auc"], "insertion_auc": curves["insertion_auc"], "curves": curves}
    film, blurred = curves["deletion"][0], curves["deletion"][-1]
    blank = ranks_nothing(heatmap)  # a blank map orders no region: its "order" would be a seeded random one
    judged = measurable(film, blurred) and not blank
    if judged:
        better, summary = is_better_than_random(mapped, chance), _faithfulness_summary(mapped, chance)
    elif blank:
        better, summary = False, ("Not measurable: the map is blank, so it ranks no region to hide or reveal first. "
                                  "This says nothing for or against the model.")
    else:
        label = classifier.labels[class_index]
        better = False
        summary = (f"Not measurable for {label}: the blurred film scores {label} {blurred:.1%}, the film itself "
                   f"{film:.1%}, so hiding regions cannot show what the map's regions add. This says nothing for "
                   "or against the map.")
    if grid == UNKNOWN_GRID:
        summary += unknown_grid_sentence(chance["grid"])
    return Faithfulness(mapped["deletion_auc"], mapped["insertion_auc"], chance["deletion_auc"],
                        chance["insertion_auc"], curves, better, summary, measurable=judged)


def unknown_grid_sentence(blocks: int) -> str:
    """What the faithfulness sentence adds when the map's own grid could not be told (`UNKNOWN_GRID`)."""
    return (f" This map's own grid could not be told from the model's layers, so its chance level uses random "
            f"maps of {blocks} x {blocks} cells, which may be finer or coarser than the map: read the comparison "
            "with care.")


def faithfulness_verdict(deletion_better: bool, insertion_better: bool) -> str:
    if deletion_better and insertion_better:
        return "faithful"
    return "mixed" if deletion_better or insertion_better else "not better than random"


def auc_digits(*pairs: tuple[float, float]) -> int:
    """Decimals for AUCs shown together with their chance levels: two (the project's rule for AUCs), or
    three when any (map, chance) pair is within two margins of each other (so "0.36 against 0.37" never
    stands for a gap the margin ignores)."""
    return 3 if any(abs(mine - chance) < 2 * CHANCE_MARGIN for mine, chance in pairs) else 2


def auc_pair(mine: float, chance: float, digits: int | None = None) -> tuple[str, str]:
    """A map's AUC and its chance level as shown, to `digits` decimals (default: `auc_digits` of this pair)."""
    digits = auc_digits((mine, chance)) if digits is None else digits
    return f"{mine:.{digits}f}", f"{chance:.{digits}f}"


def auc_figures(deletion: float, random_deletion: float, insertion: float,
                random_insertion: float) -> tuple[str, str, str, str]:
    """The four figures of one faithfulness check (hiding, its chance level, revealing, its chance level)
    in one format, as its panel and its sentence give them: three decimals for all four when either pair
    needs them, never "0.43" beside "0.430"."""
    digits = auc_digits((deletion, random_deletion), (insertion, random_insertion))
    return (*auc_pair(deletion, random_deletion, digits), *auc_pair(insertion, random_insertion, digits))


_VERBS = {"deletion": "hiding", "insertion": "revealing"}
# What each curve's state says, in the terms of its average (the AUC): the probability is kept lower while
# hiding, higher while revealing; never "moves the prediction", which reads as if it only ever fell.
_MOVES = {("deletion", "better"): "keeps the probability lower than hiding random regions does",
          ("deletion", "level"): f"keeps it about as low as hiding random regions does (within {CHANCE_MARGIN})",
          ("deletion", "worse"): "keeps it higher than hiding random regions does",
          ("insertion", "better"): "brings the probability higher than revealing random regions does",
          ("insertion", "level"): f"brings it about as high as revealing random regions does (within {CHANCE_MARGIN})",
          ("insertion", "worse"): "brings it less high than revealing random regions does"}


def _faithfulness_summary(mapped: dict, chance: dict) -> str:
    """One sentence judging deletion and insertion each against chance (better, level or worse)."""
    states = {curve: curve_state(mapped[f"{curve}_auc"], chance[f"{curve}_auc"], curve)
              for curve in ("deletion", "insertion")}
    hide, hide_chance, reveal, reveal_chance = auc_figures(mapped["deletion_auc"], chance["deletion_auc"],
                                                           mapped["insertion_auc"], chance["insertion_auc"])
    figures = (f"average probability while hiding {hide} against {hide_chance} for random regions, while "
               f"revealing {reveal} against {reveal_chance}")
    verdict = faithfulness_verdict(states["deletion"] == "better", states["insertion"] == "better")
    if verdict == "faithful":
        return f"The map ranks the evidence better than random region orders ({figures})."
    if verdict == "mixed":
        good, bad = ("deletion", "insertion") if states["deletion"] == "better" else ("insertion", "deletion")
        # Which test passed and which did not, each said on its own (one sentence with both read as one verdict).
        return (f"Mixed: one of the two tests passed. Passed: {_VERBS[good]} the regions the map ranks first "
                f"{_MOVES[good, 'better']}. Not passed: {_VERBS[bad]} them {_MOVES[bad, states[bad]]} ({figures}).")
    worse = [_VERBS[curve] for curve, state in states.items() if state == "worse"]
    if worse:
        return (f"The map ranks the evidence worse than random region orders on {' and '.join(worse)} ({figures}): "
                "it may point away from what the model uses.")
    return f"The map does not rank the evidence better than random region orders ({figures}), so read it with care."
