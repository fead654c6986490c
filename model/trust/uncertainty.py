"""Predictive uncertainty from test-time augmentation: the model sees the input and mildly
perturbed copies (shift, rotation, zoom, gamma a radiograph plausibly shows between two
acquisitions); spread and disagreement between them mean the answer is fragile."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from model.inputs.preprocessing import ModelInput
from model.policy import MIN_AGREEMENT, MIN_TOP_PROBABILITY, UNCERTAIN_MESSAGE
from model.prediction import Prediction

TTA_MAX_SHIFT = 0.04        # fraction of the side
TTA_MAX_ROTATION = 5.0      # degrees
TTA_ZOOM = (0.95, 1.05)
TTA_MAX_LOG_GAMMA = 0.2     # gamma in exp([-0.2, 0.2]), about 0.82 to 1.22


@dataclass(frozen=True)
class Uncertainty:
    """Test-time-augmentation figures of one image.

    Attributes:
        mean, std: {label: value} over the n predictions.
        top_label, top_probability: the class with the highest mean and that mean.
        entropy: normalised entropy of the mean probabilities, in [0, 1].
        agreement: share of the n predictions whose class is the top class.
        n: number of predictions, the unchanged input included.
        uncertain: whether any rule fired; reasons: the rules that fired, as plain sentences.
        message: `UNCERTAIN_MESSAGE` ("Second read advised.") when uncertain, else "".
    """

    mean: dict
    std: dict
    top_label: str
    top_probability: float
    entropy: float
    agreement: float
    n: int
    uncertain: bool
    reasons: list = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict:
        return {"mean": dict(self.mean), "std": dict(self.std), "top_label": self.top_label,
                "top_probability": self.top_probability, "entropy": self.entropy, "agreement": self.agreement,
                "n": self.n, "uncertain": self.uncertain, "reasons": list(self.reasons), "message": self.message}

    @classmethod
    def from_dict(cls, values: dict) -> "Uncertainty":
        return cls(**values)

    def prediction(self, labels) -> Prediction:
        """The mean over the copies as a `Prediction` in `labels` order: the answer the Diagnose
        page, the Compare page and `python -m model.predict` give."""
        return Prediction(tuple(labels), np.array([self.mean[label] for label in labels], dtype=np.float64))


def _check_count(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


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
    """A 2-D array is a grayscale image (prepared here); a 3-D one or a `ModelInput` must already
    be a model input."""
    if isinstance(pixels_or_input, ModelInput):
        return pixels_or_input.array
    array = np.asarray(pixels_or_input, dtype=np.float32)
    if array.ndim == 2:
        return classifier.prepare(array).array
    expected = tuple(classifier.model.input_shape[1:])
    if array.ndim != 3 or (None not in expected and array.shape != expected):
        raise ValueError(f"expected a 2-D grayscale image or a model input of shape {expected}, "
                         f"got shape {array.shape}")
    return array


def test_time_copies(x: np.ndarray, n: int = 8, seed: int = 0) -> np.ndarray:
    """A preprocessed (S, S, C) model input followed by n - 1 mildly perturbed copies, (n, S, S, C):
    the batch `tta_uncertainty` scores, and whose mean is the answer the pages and the CLI give."""
    rng = np.random.default_rng(seed)
    return np.stack([x] + [_augment(x, rng) for _ in range(n - 1)])


def tta_uncertainty(classifier, pixels_or_input, n: int = 8, seed: int = 0,
                    min_top_probability: float = MIN_TOP_PROBABILITY,
                    min_agreement: float = MIN_AGREEMENT) -> Uncertainty:
    """Predictive uncertainty from test-time augmentation.

    The model sees the input itself and n - 1 mildly perturbed copies (shift up to 4 % of the
    side, rotation up to 5 degrees, zoom 0.95-1.05, gamma 0.82-1.22, applied to the preprocessed
    input), in one batch.

    The prediction is `uncertain` when ANY of these holds:
        * the top class's mean probability is below `min_top_probability` (the model's own
          threshold from its scope check; 0.6, `MIN_TOP_PROBABILITY`, by default);
        * fewer than `min_agreement` of the copies predict the top class (the model's own level
          from its scope check; 75 %, `MIN_AGREEMENT`, by default).
    The normalised entropy is reported, not judged: with three classes it follows the top probability.

    Args:
        classifier: a `model.classifier.Classifier`.
        pixels_or_input: a 2-D grayscale image in [0, 1] (prepared with `classifier.prepare`), a
            `ModelInput` or an already preprocessed (S, S, C) input.
        n: number of predictions, the unchanged input included (2 to 64).
        seed: seed of the perturbations.
        min_top_probability: the top-probability rule's threshold.

    Returns:
        `Uncertainty`.
    """
    n = _check_count("n", n, 2, 64)
    batch = test_time_copies(_tta_input(classifier, pixels_or_input), n, seed)
    probabilities = classifier.predict_inputs(batch, batch_size=n)
    return _uncertainty(tuple(classifier.labels), probabilities, float(min_top_probability), float(min_agreement))


def normalised_entropy(probabilities) -> float:
    """Shannon entropy of a probability vector divided by log K: 0 for one certain class, 1 for uniform."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, None)
    p = p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size)
    if p.size < 2:
        return 0.0
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return float(np.clip(-terms.sum() / np.log(p.size), 0.0, 1.0))


def _uncertainty(labels: tuple[str, ...], probabilities: np.ndarray,
                 min_top_probability: float = MIN_TOP_PROBABILITY,
                 min_agreement: float = MIN_AGREEMENT) -> Uncertainty:
    mean, std = probabilities.mean(axis=0), probabilities.std(axis=0)
    top = int(np.argmax(mean))
    agreement = float(np.mean(np.argmax(probabilities, axis=1) == top))
    entropy = normalised_entropy(mean)
    reasons = []
    if mean[top] < min_top_probability:
        reasons.append(f"The most likely class, {labels[top]}, has a probability of only {mean[top]:.0%} "
                       f"(below {min_top_probability:.0%}, where this model is unsure).")
    if agreement < min_agreement:
        reasons.append(f"Only {agreement:.0%} of slightly shifted or re-exposed copies give the same class.")
    return Uncertainty(mean={label: float(p) for label, p in zip(labels, mean)},
                       std={label: float(s) for label, s in zip(labels, std)},
                       top_label=labels[top], top_probability=float(mean[top]), entropy=entropy,
                       agreement=agreement, n=int(len(probabilities)), uncertain=bool(reasons),
                       reasons=reasons, message=UNCERTAIN_MESSAGE if reasons else "")
