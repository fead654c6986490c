"""How sure the model is of one film: its calibrated probability (the one figure every view shows)
and the stability of its answer under mildly perturbed copies (shift, rotation, zoom, gamma a
radiograph plausibly shows between two acquisitions); disagreement between them means the answer is
fragile. The copies measure stability only: they never replace the film's own probability."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from model.inputs.preprocessing import ModelInput, join_input, split_input
from model.policy import MIN_AGREEMENT, MIN_TOP_PROBABILITY, UNCERTAIN_MESSAGE
from model.prediction import Prediction
from model.trust.findings import ANSWER_CAUTION, MODEL, UNCERTAIN, Finding, of_severity

TTA_MAX_SHIFT = 0.04        # fraction of the side
TTA_MAX_ROTATION = 5.0      # degrees
TTA_ZOOM = (0.95, 1.05)
TTA_MAX_LOG_GAMMA = 0.2     # gamma in exp([-0.2, 0.2]), about 0.82 to 1.22


@dataclass(frozen=True)
class Uncertainty:
    """How sure the model is of one film, and how stable that is under small image changes.

    Attributes:
        probabilities: {label: calibrated probability} of the film itself (one pass): the figure
            every view shows for this film and model.
        spread: {label: standard deviation} over the film and its test-time copies.
        top_label, top_probability: the film's most likely class and its probability.
        agreement: share of the n predictions (film and copies) that give `top_label`.
        n: number of predictions, the unchanged film included.
        findings: the rules that fired ("low_probability", "copies_disagree", "many_copies_below"), as
            `Finding`s, and the caution "copies_below_level" (the answer stands, but some copies fall below its
            level, no more than the model allows).
        level: the agreement level the "copies_disagree" rule applied (the model's own; `MIN_AGREEMENT`
            by default), so that the words beside the figure can say how many readings it needs.
        answer_level: the top probability the model needs to answer on its own (the "low_probability"
            rule's threshold: the model's own; `MIN_TOP_PROBABILITY` by default).
        copies: the probability each test-time copy (the film itself left out) gives `top_label`, in
            the order they were made; () when there were none.
    """

    probabilities: dict
    spread: dict
    top_label: str
    top_probability: float
    agreement: float
    n: int
    findings: list = field(default_factory=list)
    level: float = MIN_AGREEMENT
    answer_level: float = MIN_TOP_PROBABILITY
    copies: tuple = ()

    @property
    def agreeing(self) -> int:
        """How many of the n readings (film and copies) give `top_label`."""
        return round(self.agreement * self.n)

    @property
    def needed(self) -> int:
        """How many of the n readings (film and copies) must give the answer for the copies not to disagree."""
        return max(1, math.ceil(self.level * self.n - 1e-9))

    @property
    def uncertain(self) -> bool:
        """Whether a rule fired (a caution, which sets no status, does not make the answer uncertain)."""
        return bool(of_severity(self.findings, UNCERTAIN))

    @property
    def reasons(self) -> list[str]:
        """The sentences of the rules that fired."""
        return [f.sentence for f in of_severity(self.findings, UNCERTAIN)]

    @property
    def message(self) -> str:
        return UNCERTAIN_MESSAGE if self.uncertain else ""

    @property
    def entropy(self) -> float:
        """Normalised entropy of the film's probabilities, in [0, 1]."""
        return normalised_entropy(list(self.probabilities.values()))

    def to_dict(self) -> dict:
        return {"probabilities": dict(self.probabilities), "spread": dict(self.spread), "top_label": self.top_label,
                "top_probability": self.top_probability, "agreement": self.agreement, "n": self.n,
                "findings": [f.to_dict() for f in self.findings], "level": self.level,
                "answer_level": self.answer_level, "copies": list(self.copies)}

    @classmethod
    def from_dict(cls, values: dict) -> "Uncertainty":
        return cls(dict(values["probabilities"]), dict(values["spread"]), values["top_label"],
                   float(values["top_probability"]), float(values["agreement"]), int(values["n"]),
                   [Finding.from_dict(f) for f in values.get("findings", [])],
                   float(values.get("level", MIN_AGREEMENT)),
                   float(values.get("answer_level", MIN_TOP_PROBABILITY)),
                   tuple(float(p) for p in values.get("copies") or ()))

    def prediction(self, labels) -> Prediction:
        """The film's calibrated probabilities as a `Prediction` in `labels` order: the answer every
        page, the report and `python -m model.predict` give."""
        return Prediction(tuple(labels), np.array([self.probabilities[label] for label in labels], dtype=np.float64))


def _check_count(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mild, plausible perturbation of a model input: shift, rotation, zoom and gamma.

    Every channel moves with the same matrix; of a two-channel input (`Preprocessing.mask_channel`)
    the lung-field mask is made 0/1 again after the move and only the film gets the gamma.
    """
    rows, cols = x.shape[:2]
    angle = rng.uniform(-TTA_MAX_ROTATION, TTA_MAX_ROTATION)
    matrix = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), angle, rng.uniform(*TTA_ZOOM))
    matrix[:, 2] += rng.uniform(-TTA_MAX_SHIFT, TTA_MAX_SHIFT, 2) * (cols, rows)
    moved = cv2.warpAffine(x, matrix, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    film, mask = split_input(moved.reshape(x.shape))
    gamma = np.exp(rng.uniform(-TTA_MAX_LOG_GAMMA, TTA_MAX_LOG_GAMMA))
    film = np.power(np.clip(film, 0.0, 1.0), gamma).astype(np.float32)
    return join_input(film, None if mask is None else (mask >= 0.5).astype(np.float32))


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
    the batch `tta_uncertainty` scores (the first row is the film itself, whose probabilities are
    the answer; the copies only measure its stability)."""
    rng = np.random.default_rng(seed)
    return np.stack([x] + [_augment(x, rng) for _ in range(n - 1)])


def tta_uncertainty(classifier, pixels_or_input, n: int = 8, seed: int = 0,
                    min_top_probability: float = MIN_TOP_PROBABILITY,
                    min_agreement: float = MIN_AGREEMENT, max_copies_below: int | None = None) -> Uncertainty:
    """The film's calibrated probabilities and their stability under test-time copies.

    The model sees the input itself and n - 1 mildly perturbed copies (shift up to 4 % of the
    side, rotation up to 5 degrees, zoom 0.95-1.05, gamma 0.82-1.22, applied to the preprocessed
    input), in one batch. The answer is the film's own prediction (the first of the batch, the same
    calibrated figure as `Classifier.predict_input`); the copies never replace it.

    The answer is uncertain when ANY of these holds:
        * its top probability is below `min_top_probability` (the model's own threshold from its
          scope check; `MIN_TOP_PROBABILITY` by default);
        * fewer than `min_agreement` of the n predictions give the same class (the model's own
          level from its scope check; `MIN_AGREEMENT` by default);
        * its top probability reaches `min_top_probability` but more than `max_copies_below` of the
          copies give that class less (the model's own limit from its scope check; None, the default
          and the rule of a model without one: no limit, the copies below only caution the answer).

    Args:
        classifier: a `model.classifier.Classifier`.
        pixels_or_input: a 2-D grayscale image in [0, 1] (prepared with `classifier.prepare`), a
            `ModelInput` or an already preprocessed (S, S, C) input.
        n: number of predictions, the unchanged input included (2 to 64).
        seed: seed of the perturbations.
        min_top_probability: the top-probability rule's threshold.
        min_agreement: the agreement rule's level.
        max_copies_below: the copies-below rule's limit (None: no such rule).

    Returns:
        `Uncertainty`.
    """
    n = _check_count("n", n, 2, 64)
    batch = test_time_copies(_tta_input(classifier, pixels_or_input), n, seed)
    probabilities = classifier.predict_inputs(batch, batch_size=n)
    return uncertainty_of(tuple(classifier.labels), probabilities, float(min_top_probability), float(min_agreement),
                          max_copies_below)


def normalised_entropy(probabilities) -> float:
    """Shannon entropy of a probability vector divided by log K: 0 for one certain class, 1 for uniform."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, None)
    p = p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size)
    if p.size < 2:
        return 0.0
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return float(np.clip(-terms.sum() / np.log(p.size), 0.0, 1.0))


def uncertainty_of(labels: tuple[str, ...], probabilities: np.ndarray,
                   min_top_probability: float = MIN_TOP_PROBABILITY,
                   min_agreement: float = MIN_AGREEMENT, max_copies_below: int | None = None) -> Uncertainty:
    """The `Uncertainty` of (n, K) probabilities whose first row is the film itself (the rules and their levels:
    `tta_uncertainty`)."""
    film, spread = probabilities[0], probabilities.std(axis=0)
    top = int(np.argmax(film))
    agreement = float(np.mean(np.argmax(probabilities, axis=1) == top))
    copies = tuple(float(p) for p in probabilities[1:, top])
    findings = []
    if film[top] < min_top_probability:
        findings.append(Finding("low_probability", UNCERTAIN, MODEL,
                                f"{labels[top]} has a probability of only {film[top]:.1%}: this model needs "
                                f"{min_top_probability:.1%} to answer on its own.",
                                {"label": labels[top], "probability": float(film[top]),
                                 "threshold": float(min_top_probability)}))
    if agreement < min_agreement:
        findings.append(Finding("copies_disagree", UNCERTAIN, MODEL,
                                f"Only {agreement:.0%} of the film and its {len(probabilities) - 1} slightly shifted "
                                f"or re-exposed copies give {labels[top]}.",
                                {"agreement": agreement, "level": float(min_agreement), "n": int(len(probabilities))}))
    too_many = many_copies_below_finding(labels[top], float(film[top]), copies, float(min_top_probability),
                                         max_copies_below)
    findings += [too_many] if too_many else []
    # Of an answer the rules above left standing: once they fired, the status already says the copies' doubt.
    caution = None if findings else copies_below_finding(labels[top], float(film[top]), copies,
                                                         float(min_top_probability))
    return Uncertainty(probabilities={label: float(p) for label, p in zip(labels, film)},
                       spread={label: float(s) for label, s in zip(labels, spread)},
                       top_label=labels[top], top_probability=float(film[top]), agreement=agreement,
                       n=int(len(probabilities)), findings=findings + ([caution] if caution else []),
                       level=float(min_agreement), answer_level=float(min_top_probability), copies=copies)


def prints_as(probability: float, level: float) -> bool:
    """Whether a probability under `level` prints as the level itself (both to 0.1%): then it is said "just
    under", never "under 78.3%" beside a figure shown as 78.3%."""
    return f"{probability:.1%}" == f"{level:.1%}"


def too_many_below(probability: float, copies, level: float, allowed: int | None) -> bool:
    """Whether the rule "many_copies_below" fires: the film's own `probability` reaches the answer `level` and
    more than `allowed` of its `copies` fall under it (never when `allowed` is None). The one statement of the
    rule, for the served reading and for `training.fit_scope`'s fit alike."""
    return allowed is not None and probability >= level and sum(p < level for p in copies) > allowed


def many_copies_below_finding(label: str, probability: float, copies: tuple, level: float,
                              allowed: int | None) -> Finding | None:
    """The rule "many_copies_below": the film's own probability reaches the model's answer `level`, but more than
    `allowed` of its test-time `copies` give `label` less (None when it does not fire, or `allowed` is None). The
    limit is fitted with the level on the model's validation films (`training.fit_scope`): an answer that most of
    its copies would not give was right too rarely to stand alone."""
    if not too_many_below(probability, copies, level, allowed):
        return None
    below = sum(p < level for p in copies)
    return Finding("many_copies_below", UNCERTAIN, MODEL,
                   f"{label} falls under the {level:.1%} this model needs to answer on its own on {below} of the "
                   f"{len(copies)} slightly shifted, rotated or re-exposed copies of the film: more than the {allowed} "
                   "this model allows in an answer.",
                   {"label": label, "below": below, "copies": len(copies), "level": level, "allowed": allowed})


def copies_below_finding(label: str, probability: float, copies: tuple, level: float) -> Finding | None:
    """The caution on an answer whose own probability reaches the model's answer `level` while some of its
    test-time `copies` give `label` less (None when the film is below the level, the "low_probability" rule's
    case, or no copy is). It changes no status: the validated rules decide that; it keeps the status from
    calling such an answer free of doubt. `uncertainty_of` makes it only when neither rule fired."""
    below = [p for p in copies if p < level]
    if probability < level or not below:
        return None
    lowest = min(below)
    shown = "just under it" if prints_as(lowest, level) else f"{lowest:.1%}"
    # What the count means, said from the count ("near that level" was said of 7 copies of 7 below, the lowest
    # 22 points under it).
    meaning = ("the film as given reaches that level but none of its copies does: the answer rests on this one "
               "reading" if len(below) == len(copies) else "the answer holds on some readings of the film and "
               "not on others")
    return Finding("copies_below_level", ANSWER_CAUTION, MODEL,
                   f"{label} falls under the {level:.1%} this model needs to answer on its own on {len(below)} of "
                   f"the {len(copies)} slightly shifted, rotated or re-exposed copies of the film (the lowest "
                   f"{shown}): {meaning}.",
                   {"label": label, "below": len(below), "copies": len(copies), "level": level, "lowest": lowest})
