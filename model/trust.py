"""How far to trust one prediction and its explanation: checks built on the classifier's own API.

    faith = faithfulness(clf, x, heat, class_index)         # deletion/insertion vs random orders
    tta = tta_uncertainty(clf, xray.pixels)                  # "Uncertain: refer to a radiologist."
    check = input_check(xray.pixels, xray.metadata, lung_mask, rgb=original_rgb)
    attention = lung_attention(heat_on_image, lung_mask)     # shortcut warning when mostly outside
    sanity = randomization_sanity_check(clf, inputs)         # Adebayo et al. 2018

Background:

* Deletion and insertion (Petsiuk et al. 2018, RISE): remove (or reveal) the pixels a map ranks
  highest first and follow the class probability. A faithful map makes the probability fall fast
  when deleting (low area under the curve) and rise fast when inserting (high area), faster
  than random region orders do. Removed pixels are replaced by a heavy blur of the image (the
  default), so the model sees a missing detail rather than an artificial black patch.
* Model-parameter randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"): a map
  that hardly changes when the trained weights are replaced by random ones describes the image
  (edges, bright structures), not the model.
* Shortcuts (DeGrave et al. 2021): COVID-19 classifiers learned text markers, borders and
  devices instead of lung findings; a map with little mass inside the lungs is the warning sign.

Pure Python on numpy, OpenCV and scipy; Keras is only imported for the randomisation check, and
the checks only call `Classifier.predict_inputs`, `explain_input` and `prepare`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable, Iterable

import cv2
import numpy as np

from model.compare import map_similarity
from model.intake import colourfulness  # noqa: F401  (re-exported: part of the trust API)
from model.lungs import lung_attention_fraction, mask_plausibility
from model.occlusion import FILLS, occlude

# Deletion/insertion.
DEFAULT_STEPS = 20
RANDOM_BLOCKS = 16          # cells per side of the random maps that set the chance level
# Test-time augmentation: mild changes a radiograph plausibly shows between two acquisitions.
TTA_MAX_SHIFT = 0.04        # fraction of the side
TTA_MAX_ROTATION = 5.0      # degrees
TTA_ZOOM = (0.95, 1.05)
TTA_MAX_LOG_GAMMA = 0.2     # gamma in exp([-0.2, 0.2]), about 0.82 to 1.22
# The uncertainty rule of `tta_uncertainty`.
MIN_TOP_PROBABILITY = 0.6
MIN_AGREEMENT = 0.75
MAX_NORMALISED_ENTROPY = 0.6
UNCERTAIN_MESSAGE = "Uncertain: refer to a radiologist."
# Input checks.
MAX_COLOURFULNESS = 15.0    # Hasler & Suesstrunk: 15 is where "slightly colourful" begins.
ASPECT_RANGE = (0.6, 1.7)   # width / height
MIN_CONTRAST = 0.05         # 1st-99th percentile spread of the [0, 1] pixels
RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR", "RG"})
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"})
CHEST_PARTS = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS"})
# Lung attention.
SHORTCUT_WARNING = ("The model is mostly looking outside the lungs: possible shortcut such as text markers, "
                    "borders or devices.")
DEFAULT_METHODS = ("gradcam", "gradcam++", "scorecam", "smoothgrad")


# --------------------------------------------------------------------------- deletion / insertion


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
    """What a removed pixel becomes: the heavy blur, the mean or black of `model.occlusion`."""
    if baseline not in FILLS:
        raise ValueError(f"baseline must be one of {FILLS}, got {baseline!r}")
    return occlude(model_input, (0.0, 0.0, 1.0, 1.0), fill=baseline)


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
    A random map as coarse as a Grad-CAM map removes or reveals whole regions, as a real map does.
    """
    height, width = shape
    cells = cv2.resize(rng.random((blocks, blocks)), (width, height), interpolation=cv2.INTER_NEAREST)
    return np.argsort(-(cells + rng.random((height, width)) * 1e-6).ravel(), kind="stable")


def random_baseline(classifier, model_input: np.ndarray, class_index: int, steps: int = DEFAULT_STEPS,
                    repeats: int = 3, seed: int = 0, baseline: str = "blur") -> dict:
    """Mean deletion and insertion AUC of `repeats` random block orders (the chance level of a map).

    Returns:
        dict with `deletion_auc`, `insertion_auc` (means) and `repeats`.
    """
    x = _as_input(model_input)
    class_index = _check_class(classifier, class_index)
    steps = _check_count("steps", steps, 1, 100)
    repeats = _check_count("random_repeats", repeats, 1, 100)
    rng = np.random.default_rng(seed)
    runs = [_curves(classifier, x, random_block_order(x.shape[:2], rng), class_index, steps, baseline)
            for _ in range(repeats)]
    return {"deletion_auc": float(np.mean([r["deletion_auc"] for r in runs])),
            "insertion_auc": float(np.mean([r["insertion_auc"] for r in runs])), "repeats": repeats}


def is_better_than_random(map_aucs: dict, random_aucs: dict) -> bool:
    """True when the map's deletion AUC is lower AND its insertion AUC higher than random's."""
    return bool(map_aucs["deletion_auc"] < random_aucs["deletion_auc"]
                and map_aucs["insertion_auc"] > random_aucs["insertion_auc"])


def faithfulness(classifier, model_input: np.ndarray, heatmap: np.ndarray, class_index: int,
                 steps: int = DEFAULT_STEPS, random_repeats: int = 3, seed: int = 0) -> dict:
    """Whether deleting/inserting pixels in the map's order moves the prediction more than chance.

    Args:
        classifier: a `model.classifier.Classifier`.
        model_input: the preprocessed image (S, S, C).
        heatmap: the explanation map (2-D).
        class_index: the explained class.
        steps: steps of each curve, see `deletion_insertion`.
        random_repeats: random region orders averaged for the chance level.
        seed: seed of the random orders.

    Returns:
        dict with `map` ({deletion_auc, insertion_auc, curves}: curves as from
        `deletion_insertion`), `random` ({deletion_auc, insertion_auc}: means over the random
        orders), `better_than_random` (deletion lower AND insertion higher than random) and
        `summary`, one plain sentence.
    """
    curves = deletion_insertion(classifier, model_input, heatmap, class_index, steps)
    chance = random_baseline(classifier, model_input, class_index, steps, random_repeats, seed)
    mapped = {"deletion_auc": curves["deletion_auc"], "insertion_auc": curves["insertion_auc"], "curves": curves}
    better = is_better_than_random(mapped, chance)
    return {"map": mapped, "random": {k: chance[k] for k in ("deletion_auc", "insertion_auc")},
            "better_than_random": better, "summary": _faithfulness_summary(mapped, chance, better)}


def _faithfulness_summary(mapped: dict, chance: dict, better: bool) -> str:
    figures = (f"deletion AUC {mapped['deletion_auc']:.2f} vs {chance['deletion_auc']:.2f} for random orders, "
               f"insertion AUC {mapped['insertion_auc']:.2f} vs {chance['insertion_auc']:.2f}")
    if better:
        return f"The map ranks the evidence better than random region orders ({figures})."
    return f"The map does not rank the evidence better than random region orders ({figures}), so read it with care."


# --------------------------------------------------------------------------- test-time augmentation


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mild, plausible perturbation of a model input: shift, rotation, zoom and gamma."""
    rows, cols = x.shape[:2]
    angle = rng.uniform(-TTA_MAX_ROTATION, TTA_MAX_ROTATION)
    matrix = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), angle, rng.uniform(*TTA_ZOOM))
    matrix[:, 2] += rng.uniform(-TTA_MAX_SHIFT, TTA_MAX_SHIFT, 2) * (cols, rows)
    moved = cv2.warpAffine(x, matrix, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    moved = moved.reshape(x.shape)
    gamma = np.exp(rng.uniform(-TTA_MAX_LOG_GAMMA, TTA_MAX_LOG_GAMMA))
    return np.power(np.clip(moved, 0.0, 1.0), gamma).astype(np.float32)


def _tta_input(classifier, pixels_or_input) -> np.ndarray:
    """A 2-D array is a grayscale image (prepared here); a 3-D one must already be a model input."""
    array = np.asarray(pixels_or_input, dtype=np.float32)
    if array.ndim == 2:
        return classifier.prepare(array)
    expected = tuple(classifier.model.input_shape[1:])
    if array.ndim != 3 or (None not in expected and array.shape != expected):
        raise ValueError(f"expected a 2-D grayscale image or a model input of shape {expected}, "
                         f"got shape {array.shape}")
    return array


def tta_uncertainty(classifier, pixels_or_input, n: int = 8, seed: int = 0) -> dict:
    """Predictive uncertainty from test-time augmentation.

    The model sees the input itself and n - 1 mildly perturbed copies (shift up to 4 % of the
    side, rotation up to 5 degrees, zoom 0.95-1.05, gamma 0.82-1.22, applied to the preprocessed
    input), in one batch.

    The prediction is `uncertain` when ANY of these holds:
        * the top class's mean probability is below 0.6 (`MIN_TOP_PROBABILITY`);
        * fewer than 75 % of the copies predict the top class (`MIN_AGREEMENT`);
        * the entropy of the mean probabilities, divided by log K, exceeds 0.6
          (`MAX_NORMALISED_ENTROPY`).

    Args:
        classifier: a `model.classifier.Classifier`.
        pixels_or_input: a 2-D grayscale image in [0, 1] (prepared with `classifier.prepare`) or
            an already preprocessed (S, S, C) input.
        n: number of predictions, the unchanged input included (2 to 64).
        seed: seed of the perturbations.

    Returns:
        dict with `mean` and `std` ({label: value}), `top_label`, `top_probability`, `entropy`
        (normalised to [0, 1]), `agreement` (share of the n predictions whose class is the top
        class), `n`, `uncertain` (bool), `reasons` (which rules fired, plain sentences) and
        `message` ("Uncertain: refer to a radiologist." when uncertain, else "").
    """
    n = _check_count("n", n, 2, 64)
    x = _tta_input(classifier, pixels_or_input)
    rng = np.random.default_rng(seed)
    batch = np.stack([x] + [_augment(x, rng) for _ in range(n - 1)])
    probabilities = classifier.predict_inputs(batch, batch_size=n)
    return _uncertainty(tuple(classifier.labels), probabilities)


def normalised_entropy(probabilities) -> float:
    """Shannon entropy of a probability vector divided by log K: 0 for one certain class, 1 for uniform."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, None)
    p = p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size)
    if p.size < 2:
        return 0.0
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return float(np.clip(-terms.sum() / np.log(p.size), 0.0, 1.0))


def _uncertainty(labels: tuple[str, ...], probabilities: np.ndarray) -> dict:
    mean, std = probabilities.mean(axis=0), probabilities.std(axis=0)
    top = int(np.argmax(mean))
    agreement = float(np.mean(np.argmax(probabilities, axis=1) == top))
    entropy = normalised_entropy(mean)
    reasons = []
    if mean[top] < MIN_TOP_PROBABILITY:
        reasons.append(f"The most likely class has a mean probability of only {mean[top]:.2f}.")
    if agreement < MIN_AGREEMENT:
        reasons.append(f"Only {agreement:.0%} of slightly shifted or re-exposed copies give the same class.")
    if entropy > MAX_NORMALISED_ENTROPY:
        reasons.append(f"The probabilities are spread over the classes (normalised entropy {entropy:.2f}).")
    return {"mean": {label: float(p) for label, p in zip(labels, mean)},
            "std": {label: float(s) for label, s in zip(labels, std)},
            "top_label": labels[top], "top_probability": float(mean[top]), "entropy": entropy,
            "agreement": agreement, "n": int(len(probabilities)), "uncertain": bool(reasons),
            "reasons": reasons, "message": UNCERTAIN_MESSAGE if reasons else ""}


# --------------------------------------------------------------------------- agreement between methods


def method_agreement(maps: dict[str, np.ndarray]) -> dict:
    """Pairwise Spearman similarity of the maps of several methods for one image.

    Args:
        maps: {method name: 2-D map}, at least two.

    Returns:
        dict with `pairs` ({"a vs b": rho} for every pair, in the given order) and `mean` (the
        mean rho over the pairs). Similarity is `model.compare.map_similarity`.
    """
    if not isinstance(maps, dict):
        raise ValueError(f"maps must be a dict of method name to map, got {type(maps).__name__}")
    if len(maps) < 2:
        raise ValueError(f"method_agreement needs at least two maps, got {len(maps)}")
    pairs = {f"{a} vs {b}": map_similarity(maps[a], maps[b]) for a, b in combinations(maps, 2)}
    return {"pairs": pairs, "mean": float(np.mean(list(pairs.values())))}


# --------------------------------------------------------------------------- input checks


@dataclass(frozen=True)
class InputCheck:
    """Whether an image looks like a frontal chest X-ray.

    Attributes:
        ok: True when no warning was raised.
        warnings: plain sentences, one per problem found.
    """

    ok: bool
    warnings: list[str] = field(default_factory=list)


def _colour_warning(rgb, metadata: dict | None) -> list[str]:
    score = colourfulness(rgb) if rgb is not None else (metadata or {}).get("colourfulness")
    if score is None:
        return []
    if score > MAX_COLOURFULNESS:
        return [f"The image is in colour (colourfulness {score:.0f}), while a radiograph is gray: "
                f"it may be a photograph rather than a chest X-ray."]
    return []


def _shape_warnings(pixels: np.ndarray) -> list[str]:
    height, width = pixels.shape
    aspect = width / height
    warnings = []
    if not ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1]:
        warnings.append(f"The image is {width} x {height} pixels (width/height {aspect:.2f}), an unusual shape "
                        f"for a chest X-ray, which is expected between {ASPECT_RANGE[0]} and {ASPECT_RANGE[1]}.")
    low, high = np.percentile(pixels, [1, 99])
    if high - low < MIN_CONTRAST:
        warnings.append("The image is nearly uniform, with almost no contrast, so it cannot be read as a "
                        "chest X-ray.")
    return warnings


def _metadata_warnings(metadata: dict | None) -> list[str]:
    """Warnings from DICOM header codes, when the intake found them."""
    metadata = metadata or {}
    modality, view = metadata.get("modality"), metadata.get("view_position")
    part = metadata.get("body_part_examined")
    warnings = []
    if modality and str(modality).upper() not in RADIOGRAPH_MODALITIES:
        warnings.append(f"The DICOM header gives the modality {modality}, not a plain radiograph (CR or DX).")
    if view and str(view).upper() in LATERAL_VIEWS:
        warnings.append(f"The DICOM header gives the view {view}, a lateral film; the model reads frontal "
                        f"(PA or AP) chest X-rays.")
    if part and str(part).upper() not in CHEST_PARTS:
        warnings.append(f"The DICOM header gives the body part {part}, not the chest.")
    return warnings


def _mask_warning(lung_mask) -> list[str]:
    if lung_mask is None:
        return []
    verdict = mask_plausibility(lung_mask)
    if verdict["plausible"]:
        return []
    return [f"{verdict['reason']} The image may not be a frontal chest X-ray."]


def input_check(pixels: np.ndarray, metadata: dict | None = None, lung_mask: np.ndarray | None = None,
                rgb: np.ndarray | None = None) -> InputCheck:
    """Warn when an image does not look like a frontal chest X-ray.

    Checks, each adding one plain sentence when it fails:
        * colour: colourfulness above 15 (a photo is colourful; a radiograph is gray even when
          saved as RGB), from `rgb` when given, else from `metadata["colourfulness"]`, which
          `model.intake.load_xray` records before reducing the image to luminance.
          `metadata["mode"]` alone ("RGB") says nothing about the content and is not judged.
        * shape: width/height outside 0.6-1.7.
        * contrast: the 1st-99th percentile spread of the pixels below 0.05.
        * DICOM header (when `metadata` has them): a modality other than CR/DX/DR, a lateral
          view position, a body part other than the chest.
        * lungs (when `lung_mask` is given): `model.lungs.mask_plausibility` finds the mask
          implausible; its reason is quoted.

    Args:
        pixels: 2-D grayscale image in [0, 1] (`Xray.pixels`).
        metadata: `Xray.metadata`, optional.
        lung_mask: boolean lung mask of the image (e.g. `LungSegmenter.mask`), optional.
        rgb: the original colour image (H x W x 3), optional.

    Returns:
        `InputCheck(ok, warnings)`.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise ValueError(f"pixels must be a 2-D grayscale image, got shape {pixels.shape}")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}")
    warnings = (_colour_warning(rgb, metadata) + _shape_warnings(pixels) + _metadata_warnings(metadata)
                + _mask_warning(lung_mask))
    return InputCheck(ok=not warnings, warnings=warnings)


def lung_attention(heatmap: np.ndarray, lung_mask: np.ndarray, threshold: float = 0.5) -> dict:
    """How much of a map lies inside the lungs, with the shortcut warning when little does.

    Args:
        heatmap: non-negative 2-D map on the mask's grid (e.g. brought back with `map_to_image`).
        lung_mask: boolean lung mask.
        threshold: fractions below it are `low` (in (0, 1)).

    Returns:
        dict with `fraction` (`model.lungs.lung_attention_fraction`), `threshold`, `low` and
        `warning` (`SHORTCUT_WARNING` when low, else "").
    """
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {threshold!r}")
    fraction = lung_attention_fraction(heatmap, lung_mask)
    low = fraction < threshold
    return {"fraction": fraction, "threshold": threshold, "low": low, "warning": SHORTCUT_WARNING if low else ""}


# --------------------------------------------------------------------------- randomisation sanity check


def _ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """Structural similarity of two [0, 1] maps when scikit-image is installed, else None."""
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        return None
    a, b = np.asarray(a, np.float64).squeeze(), np.asarray(b, np.float64).squeeze()
    if b.shape != a.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
    if min(a.shape) < 7:
        return None
    return float(structural_similarity(a, b, data_range=1.0))


def randomization_similarity(map_fn_trained: Callable[[np.ndarray], np.ndarray],
                             map_fn_random: Callable[[np.ndarray], np.ndarray], inputs: Iterable[np.ndarray],
                             threshold: float = 0.5) -> dict:
    """Similarity of the maps of a trained model and of its randomised copy, over several inputs.

    The generic form of the check: any two map functions can be compared, e.g. one that ignores
    the weights altogether (and so must be flagged).

    Args:
        map_fn_trained: input (S, S, C) -> 2-D map from the trained model.
        map_fn_random: the same for the randomised model.
        inputs: the model inputs.
        threshold: mean Spearman similarity above which the method is `flagged`, in (-1, 1).

    Returns:
        dict with `spearman` (mean rank correlation, `model.compare.map_similarity`),
        `spearman_per_input`, `ssim` (mean structural similarity, or None without scikit-image),
        `n` and `flagged` (spearman > threshold: the maps barely depend on the weights).
    """
    threshold = _check_threshold(threshold)
    rhos, ssims = [], []
    for x in inputs:
        trained, randomised = map_fn_trained(x), map_fn_random(x)
        rhos.append(map_similarity(trained, randomised))
        ssims.append(_ssim(trained, randomised))
    if not rhos:
        raise ValueError("randomization_similarity needs at least one input")
    ssim = None if any(s is None for s in ssims) else float(np.mean(ssims))
    spearman = float(np.mean(rhos))
    return {"spearman": spearman, "spearman_per_input": [float(r) for r in rhos], "ssim": ssim, "n": len(rhos),
            "flagged": spearman > threshold}


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) \
            or not -1.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be a number in (-1, 1), got {threshold!r}")
    return float(threshold)


def randomized_classifier(classifier, seed: int = 0):
    """The same architecture and card with freshly initialised weights (`keras.models.clone_model`).

    Sets Keras' global random seed (`keras.utils.set_random_seed`). An untrained model built
    with the same seed would get the very same weights back, so the next seeds are tried until
    the weights differ.
    """
    import keras

    from model.classifier import Classifier

    original = classifier.model.get_weights()
    for attempt in range(3):
        keras.utils.set_random_seed(int(seed) + attempt)
        clone = keras.models.clone_model(classifier.model)
        if any(w.size > 1 and not np.allclose(w, o) for w, o in zip(clone.get_weights(), original)):
            return Classifier(classifier.card, clone)
    raise ValueError(f"re-initialising model {classifier.card.id!r} gave back its own weights; "
                     f"it may have no trainable weights")


def randomization_sanity_check(classifier, inputs: np.ndarray, methods: Iterable[str] = DEFAULT_METHODS,
                               seed: int = 0, threshold: float = 0.5) -> dict:
    """Model-parameter randomisation test of Adebayo et al. (2018) for several methods.

    Every input is explained by the trained model and by the same architecture with random
    weights, for the class the trained model predicts. A method whose maps stay similar
    (mean Spearman above `threshold`) is `flagged`: its maps may reflect the image, not the model.

    Args:
        classifier: a `model.classifier.Classifier`.
        inputs: preprocessed images (N, S, S, C), N >= 1.
        methods: names from `model.explain.METHODS`.
        seed: seed of the random weights.
        threshold: similarity above which a method is flagged, in (-1, 1).

    Returns:
        dict with `methods` ({method: `randomization_similarity` result, with `flagged`}),
        `threshold`, `seed` and `n`.
    """
    from model.explain import check_method

    methods = [check_method(m) for m in methods]
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim != 4 or len(inputs) == 0:
        raise ValueError(f"inputs must be a non-empty (N, S, S, C) batch, got shape {inputs.shape}")
    threshold = _check_threshold(threshold)
    targets = [int(t) for t in np.argmax(classifier.predict_inputs(inputs), axis=1)]
    randomised = randomized_classifier(classifier, seed)
    results = {}
    for method in methods:
        # The map functions take an input's index, so each map is made for that input's target.
        results[method] = randomization_similarity(
            lambda i: classifier.explain_input(inputs[i], method, targets[i]).heatmap,
            lambda i: randomised.explain_input(inputs[i], method, targets[i]).heatmap,
            range(len(inputs)), threshold)
    return {"methods": results, "threshold": threshold, "seed": int(seed), "n": int(len(inputs))}
