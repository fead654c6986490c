"""Out-of-scope (novelty) check: is this film like the ones the model was made for?

A classifier's own features collapse onto its classes, so films from elsewhere land in the middle
of them (measured: Mahalanobis distance on the default model's pooled features separated unseen
teaching-set normals from the test set at AUROC 0.19). This check looks at what the classifier
does not: the anatomy the lung segmenter finds and the film's grey levels around it (lung-field
size, shape and position on the film, the gap between the lungs, how dark the lungs are against
the body). Children's films, lateral views, CT slices, inverted films and non-chest pictures
differ there. A Gaussian density (mean and shrunk covariance of those features on the training
split) gives a Mahalanobis score; its thresholds come from the validation split.

    model = NoveltyModel.fit(train_features, validation_features)
    result = model.assess(anatomy_features(pixels, lung_mask))   # Novelty(score, unusual, out_of_scope, ...)
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.trust.findings import IMAGE, OUT_OF_SCOPE, UNCERTAIN, Finding

FEATURE_NAMES = (
    "lung_area", "lung_balance", "lung_top", "lung_bottom", "lung_left", "lung_right", "lung_box_aspect",
    "lung_centroid_y", "mediastinum_gap", "lung_darkness", "lung_mean", "body_mean", "lung_spread",
    "film_aspect", "outside_lungs_dark", "lung_convexity", "heart_share",
)
# Validation quantiles that set the two thresholds (a film beyond the first is "unusual" and gets
# a second read; beyond the second it is outside what the model was made for).
UNUSUAL_QUANTILE = 0.95
OUT_OF_SCOPE_QUANTILE = 0.995
SHRINKAGE = 0.1
# Features are computed on a copy of this size: enough for lung-field geometry, cheap.
WORK_SIDE = 256


def anatomy_features(pixels: np.ndarray, lung_mask: np.ndarray) -> np.ndarray:
    """Lung-field geometry and grey levels of one film, as a float vector (`FEATURE_NAMES` order).

    Args:
        pixels: 2-D grayscale image in [0, 1] (`Xray.pixels`).
        lung_mask: boolean lung mask on the same grid (`LungSegmenter.mask`).

    Returns:
        float64 vector; all geometry is relative to the film, so the image size does not matter.
    """
    pixels = np.asarray(pixels, np.float32)
    mask = np.asarray(lung_mask).astype(np.uint8)
    if pixels.ndim != 2 or mask.shape != pixels.shape:
        raise ValueError(f"pixels and lung_mask must be 2-D of one shape, got {pixels.shape} and {mask.shape}")
    height, width = pixels.shape
    scale = WORK_SIDE / max(height, width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    image = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST).astype(bool)
    h, w = image.shape
    area = float(mask.mean())
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1 if count > 1 else np.array([], int)
    areas = stats[order, cv2.CC_STAT_AREA].astype(float)
    balance = float(areas[1] / areas[0]) if len(areas) >= 2 and areas[0] > 0 else 0.0
    if mask.any():
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        top, bottom, left, right = rows[0] / h, (rows[-1] + 1) / h, cols[0] / w, (cols[-1] + 1) / w
        centroid_y = float(np.argwhere(mask)[:, 0].mean() / h)
        lung_values = image[mask]
        lung_mean, lung_spread = float(lung_values.mean()), float(lung_values.std())
    else:
        top, bottom, left, right, centroid_y, lung_mean, lung_spread = 0.0, 1.0, 0.0, 1.0, 0.5, 0.5, 0.0
    box_aspect = (right - left) / max(bottom - top, 1e-3)
    gap = _mediastinum_gap(labels, order, centroids, w)
    body = _body_region(mask, top, bottom, left, right)
    body_mean = float(image[body].mean()) if body.any() else lung_mean
    outside = ~_box_mask(mask.shape, top, bottom, left, right)
    outside_dark = float((image[outside] < 0.15).mean()) if outside.any() else 0.0
    convexity = _convexity(mask)
    # The gap between the lungs against the chest's width, a cardiothoracic-like ratio: larger in
    # infants and small children (a large heart and thymus) than in adults.
    heart_share = gap / max(right - left, 1e-3)
    return np.array([area, balance, top, bottom, left, right, box_aspect, centroid_y, gap,
                     body_mean - lung_mean, lung_mean, body_mean, lung_spread, width / height, outside_dark,
                     convexity, heart_share], dtype=np.float64)


def _mediastinum_gap(labels, order, centroids, width: int) -> float:
    """Horizontal gap between the two largest lung fields at their common mid-height, / film width."""
    if len(order) < 2:
        return 0.0
    a, b = sorted(order[:2], key=lambda k: centroids[k][0])
    row = int(round((centroids[a][1] + centroids[b][1]) / 2))
    right_edge = np.flatnonzero(labels[row] == a)
    left_edge = np.flatnonzero(labels[row] == b)
    if right_edge.size == 0 or left_edge.size == 0:
        return float(max(0.0, centroids[b][0] - centroids[a][0]) / width)
    return float(max(0, left_edge[0] - right_edge[-1]) / width)


def _box_mask(shape, top, bottom, left, right) -> np.ndarray:
    h, w = shape
    box = np.zeros(shape, bool)
    box[int(top * h):max(int(top * h) + 1, int(bottom * h)), int(left * w):max(int(left * w) + 1, int(right * w))] = True
    return box


def _body_region(mask: np.ndarray, top, bottom, left, right) -> np.ndarray:
    """Inside the lung box but outside the lungs: mediastinum, heart, diaphragm and ribs' shadows."""
    return _box_mask(mask.shape, top, bottom, left, right) & ~mask


def _convexity(mask: np.ndarray) -> float:
    """Area of the lung fields over the area of their convex hulls (lungs are not convex)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull_area = sum(cv2.contourArea(cv2.convexHull(c)) for c in contours)
    return float(mask.sum() / hull_area) if hull_area > 0 else 0.0


@dataclass(frozen=True)
class Novelty:
    """How unlike the training films one film is.

    Attributes:
        score: Mahalanobis distance to the training films' anatomy features.
        unusual_threshold, out_of_scope_threshold: from the validation split.
        unusual: score above the first threshold (a second read is advised).
        out_of_scope: score above the second (the model was not made for this film).
        reason: one sentence naming the most atypical findings ("" when typical).
        atypical: those findings in plain words (empty when typical).
    """

    score: float
    unusual_threshold: float
    out_of_scope_threshold: float
    unusual: bool
    out_of_scope: bool
    reason: str = ""
    atypical: tuple = ()

    @property
    def finding(self) -> Finding | None:
        """The anatomy check's `Finding` ("anatomy_out_of_scope" or "anatomy_unusual"), or None when typical."""
        if not self.unusual:
            return None
        kind, severity = (("anatomy_out_of_scope", OUT_OF_SCOPE) if self.out_of_scope
                          else ("anatomy_unusual", UNCERTAIN))
        return Finding(kind, severity, IMAGE, self.reason,
                       {"score": self.score, "threshold": self.out_of_scope_threshold if self.out_of_scope
                        else self.unusual_threshold, "atypical": list(self.atypical)})

    def to_dict(self) -> dict:
        return {"score": self.score, "unusual_threshold": self.unusual_threshold,
                "out_of_scope_threshold": self.out_of_scope_threshold, "unusual": self.unusual,
                "out_of_scope": self.out_of_scope, "reason": self.reason, "atypical": list(self.atypical)}

    @classmethod
    def from_dict(cls, values: dict) -> "Novelty":
        return cls(**{**values, "atypical": tuple(values.get("atypical") or ())})


_PLAIN = {
    "lung_area": "size of the lung fields", "lung_balance": "balance of the two lungs",
    "lung_top": "position of the lung apices", "lung_bottom": "position of the lung bases",
    "lung_left": "position of the lung fields", "lung_right": "position of the lung fields",
    "lung_box_aspect": "proportions of the chest", "lung_centroid_y": "height of the lungs on the film",
    "mediastinum_gap": "width of the heart and mediastinum", "lung_darkness": "lungs' darkness against the body",
    "lung_mean": "grey level of the lungs", "body_mean": "grey level of the body", "lung_spread": "lung texture",
    "film_aspect": "shape of the film", "outside_lungs_dark": "film around the chest",
    "lung_convexity": "shape of the lung fields", "heart_share": "width of the heart against the chest",
}


@dataclass(frozen=True)
class NoveltyModel:
    """A Gaussian density of anatomy features with thresholds, stored in a registry entry.

    Attributes:
        mean: feature means on the training split.
        scale: feature standard deviations (features are standardised with them).
        precision: inverse of the shrunk correlation matrix.
        unusual_threshold, out_of_scope_threshold: Mahalanobis distances at `UNUSUAL_QUANTILE` and
            `OUT_OF_SCOPE_QUANTILE` of the validation split.
        feature_names: the features, in order.
        provenance: where it was fitted (model id, data, counts), for the card.
    """

    mean: np.ndarray
    scale: np.ndarray
    precision: np.ndarray
    unusual_threshold: float
    out_of_scope_threshold: float
    feature_names: tuple = FEATURE_NAMES
    provenance: dict | None = None

    @classmethod
    def fit(cls, train: np.ndarray, validation: np.ndarray, provenance: dict | None = None) -> "NoveltyModel":
        """Fit on training features, set the thresholds on validation features."""
        train = np.asarray(train, np.float64)
        if train.ndim != 2 or train.shape[1] != len(FEATURE_NAMES) or len(train) < 10:
            raise ValueError(f"train must be (N >= 10, {len(FEATURE_NAMES)}) features, got {train.shape}")
        mean, scale = train.mean(axis=0), train.std(axis=0) + 1e-6
        z = (train - mean) / scale
        corr = np.cov(z, rowvar=False)
        shrunk = (1 - SHRINKAGE) * corr + SHRINKAGE * np.eye(len(mean))
        partial = cls(mean, scale, np.linalg.inv(shrunk), np.inf, np.inf, FEATURE_NAMES, provenance)
        scores = partial.scores(validation)
        return cls(mean, scale, partial.precision, float(np.quantile(scores, UNUSUAL_QUANTILE)),
                   float(np.quantile(scores, OUT_OF_SCOPE_QUANTILE)), FEATURE_NAMES, provenance)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distances of (N, F) features (or one F vector: a 1-element array)."""
        z = (np.atleast_2d(np.asarray(features, np.float64)) - self.mean) / self.scale
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.precision, z), 0.0))

    def assess(self, features: np.ndarray) -> Novelty:
        """The `Novelty` of one film's features."""
        score = float(self.scores(features)[0])
        unusual, out = score > self.unusual_threshold, score > self.out_of_scope_threshold
        reason = ""
        if unusual:
            z = np.abs((np.asarray(features, np.float64) - self.mean) / self.scale)
            named = []
            for i in np.argsort(-z):
                plain = _PLAIN[self.feature_names[i]]
                if plain not in named:
                    named.append(plain)
                if len(named) == 2:
                    break
            what = "the model was not made for" if out else "the model rarely saw"
            reason = (f"The film looks unlike the adult frontal chest X-rays the model was trained on "
                      f"({' and '.join(named)} are atypical): a kind of image {what}, such as a child's film, "
                      "a lateral view, a film cropped or framed very differently, or not a chest X-ray at all.")
        else:
            named = []
        return Novelty(score, self.unusual_threshold, self.out_of_scope_threshold, unusual, out, reason,
                       tuple(named))

    def to_dict(self) -> dict:
        return {"kind": "anatomy-gaussian", "feature_names": list(self.feature_names), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "precision": self.precision.tolist(),
                "unusual_threshold": self.unusual_threshold, "out_of_scope_threshold": self.out_of_scope_threshold,
                "unusual_quantile": UNUSUAL_QUANTILE, "out_of_scope_quantile": OUT_OF_SCOPE_QUANTILE,
                "provenance": self.provenance or {}}

    @classmethod
    def from_dict(cls, values: dict) -> "NoveltyModel":
        names = tuple(values["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError("this novelty check was fitted on other features; refit it with "
                             "`python -m training.fit_scope`")
        return cls(np.asarray(values["mean"]), np.asarray(values["scale"]), np.asarray(values["precision"]),
                   float(values["unusual_threshold"]), float(values["out_of_scope_threshold"]), names,
                   values.get("provenance"))
