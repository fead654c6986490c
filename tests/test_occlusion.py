"""Occlusion: hiding the region a model relies on must move its prediction, hiding elsewhere must not."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from model.explain.occlusion import WhatIf, grid_boxes, occlude, occlusion_sensitivity, what_if
from tests.support import LABELS

SIZE = 32
CORNER = 8  # The model looks only at the top-left 8x8 pixels of its 32x32 input.


def corner_classifier():
    """A deterministic Classifier whose output depends only on the top-left corner's brightness:
    a bright corner means class 0 (COVID-19), a dark one class 1 (Normal); class 2 stays unlikely."""
    import keras

    from model.classifier import Classifier
    from model.registry import ModelCard

    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = keras.layers.Cropping2D(((0, SIZE - CORNER), (0, SIZE - CORNER)), name="corner")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="mean")(x)
    dense = keras.layers.Dense(3, activation="softmax", name="probabilities")
    model = keras.Model(inputs, dense(x))
    dense.set_weights([np.array([[10.0, -10.0, 0.0]], np.float32), np.array([-5.0, 5.0, -3.0], np.float32)])
    card = ModelCard(id="corner", display_name="Corner test model", version="1.0",
                     created=datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(), architecture="test",
                     labels=list(LABELS), preprocessing={"image_size": SIZE, "channels": 1, "equalize": "none"},
                     explain_layer="corner")
    return Classifier(card, model)


def corner_image(brightness: float = 0.95, size: int = 64) -> np.ndarray:
    """A dark image whose top-left quarter-of-a-quarter (the model's corner) has `brightness`."""
    image = np.full((size, size), 0.1, np.float32)
    image[: size // 4, : size // 4] = brightness
    return image


@pytest.fixture(scope="module")
def corner():
    return corner_classifier()


def test_occlude_hides_only_the_box():
    image = np.random.default_rng(0).random((SIZE, SIZE, 1)).astype(np.float32) + 0.01
    original = image.copy()
    hidden = occlude(image, (0.25, 0.5, 0.25, 0.5), fill="black")
    assert hidden.shape == image.shape and hidden.dtype == np.float32
    assert np.all(hidden[8:16, 16:32] == 0)
    outside = np.ones((SIZE, SIZE), bool)
    outside[8:16, 16:32] = False
    np.testing.assert_array_equal(hidden[outside], image[outside])
    np.testing.assert_array_equal(image, original)  # The caller's input is left untouched.


def test_occlude_fills():
    image = np.zeros((SIZE, SIZE, 1), np.float32)
    image[:, SIZE // 2:] = 1.0
    mean = occlude(image, (0, 0, 1, 1), fill="mean")
    np.testing.assert_allclose(mean, 0.5, atol=1e-6)
    blurred = occlude(image, (0, 0, 1, 1), fill="blur")
    # A heavy blur of a sharp edge leaves no pure black or white next to it.
    assert 0.2 < blurred[SIZE // 2, SIZE // 2 - 1, 0] < 0.8
    assert blurred.shape == image.shape


@pytest.mark.parametrize("box, word", [((0.5, 0.5, 0.6, 0.1), "height"), ((0, 0, 0, 0.5), "height"),
                                       ((-0.1, 0, 0.5, 0.5), "top"), ((0, 1.2, 0.5, 0.5), "left"),
                                       ((0, 0, 0.5), "four"), ((0, 0, 0.5, float("nan")), "width"),
                                       ("abcd", "four")])
def test_occlude_rejects_bad_boxes(box, word):
    with pytest.raises(ValueError, match=word):
        occlude(np.zeros((SIZE, SIZE, 1), np.float32), box)


def test_occlude_rejects_unknown_fill():
    with pytest.raises(ValueError, match="'noise'"):
        occlude(np.zeros((SIZE, SIZE, 1), np.float32), (0, 0, 0.5, 0.5), fill="noise")


def test_grid_boxes_tile_the_image_row_major():
    boxes = grid_boxes(2, 3)
    assert len(boxes) == 6
    assert boxes[0] == (0.0, 0.0, 0.5, 1 / 3) and boxes[1][1] == pytest.approx(1 / 3) and boxes[3][0] == 0.5
    assert sum(h * w for _, _, h, w in boxes) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rows"):
        grid_boxes(0, 3)


def test_hiding_the_evidence_changes_the_prediction_more_than_hiding_elsewhere(corner):
    image = corner_image()
    on_evidence = what_if(corner, corner.prepare(image).array, (0, 0, 0.25, 0.25), fill="black")
    elsewhere = what_if(corner, corner.prepare(image).array, (0.75, 0.75, 0.25, 0.25), fill="black")
    assert isinstance(on_evidence, WhatIf)
    assert on_evidence.before.label == "COVID-19" and on_evidence.after.label == "Normal"
    assert on_evidence.delta["COVID-19"] < -0.9
    assert abs(elsewhere.delta["COVID-19"]) < 1e-6 and elsewhere.after.label == "COVID-19"
    assert on_evidence.occluded_input.shape == (SIZE, SIZE, 1)
    assert on_evidence.occluded_input[:CORNER, :CORNER].max() == 0
    expected = on_evidence.after.probabilities - on_evidence.before.probabilities
    np.testing.assert_allclose([on_evidence.delta[label] for label in LABELS], expected, atol=1e-9)


def test_sensitivity_map_peaks_on_the_evidence(corner):
    model_input = corner.prepare(corner_image()).array
    heat = occlusion_sensitivity(corner.predict_inputs, model_input, class_index=0, fill="black")
    assert heat.shape == (SIZE, SIZE) and heat.dtype == np.float32
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    assert peak[0] < CORNER and peak[1] < CORNER
    # The model never looks beyond its corner plus one patch: hiding there changes nothing.
    assert np.all(heat[CORNER + 4:, :] == 0) and np.all(heat[:, CORNER + 4:] == 0)


def test_sensitivity_map_is_zero_for_a_class_hiding_only_raises(corner):
    # Hiding the bright corner only raises "Normal": no region is evidence for it.
    heat = occlusion_sensitivity(corner.predict_inputs, corner.prepare(corner_image()).array, class_index=1, fill="black")
    assert np.all(heat == 0)


def test_sensitivity_validates_arguments(corner):
    model_input = corner.prepare(corner_image()).array
    with pytest.raises(ValueError, match="class_index"):
        occlusion_sensitivity(corner.predict_inputs, model_input, class_index=3)
    with pytest.raises(ValueError, match="patch"):
        occlusion_sensitivity(corner.predict_inputs, model_input, class_index=0, patch=0)
    with pytest.raises(ValueError, match="stride"):
        occlusion_sensitivity(corner.predict_inputs, model_input, class_index=0, stride=1.5)


def test_sensitivity_batches_give_the_same_map(corner):
    model_input = corner.prepare(corner_image(0.7)).array
    one = occlusion_sensitivity(corner.predict_inputs, model_input, 0, batch_size=7)
    all_at_once = occlusion_sensitivity(corner.predict_inputs, model_input, 0, batch_size=256)
    np.testing.assert_allclose(one, all_at_once, atol=1e-5)


class CountingClassifier:
    """A numpy stand-in for a Classifier: class 0 is the mean brightness of rows 100-139, cols 60-99."""

    labels = ("a", "b")

    def __init__(self):
        self.calls, self.rows = 0, 0

    def predict_inputs(self, inputs, batch_size=32):
        self.calls += 1
        self.rows += len(inputs)
        p = np.asarray(inputs)[:, 100:140, 60:100, 0].mean(axis=(1, 2))
        return np.stack([p, 1 - p], axis=1)


def test_sensitivity_at_224_batches_about_225_patches():
    fake = CountingClassifier()
    model_input = np.full((224, 224, 1), 0.8, np.float32)
    heat = occlusion_sensitivity(fake.predict_inputs, model_input, class_index=0, fill="black", batch_size=64)
    assert 200 <= fake.rows - 1 <= 260 and fake.calls <= 6  # one call for the original, then batches
    assert heat.shape == (224, 224)
    rows, cols = np.nonzero(heat > 0.5)
    assert 85 <= rows.mean() <= 155 and 45 <= cols.mean() <= 115
    assert heat[:60].max() == 0 and heat[:, 150:].max() == 0


def test_registry_model_what_if_and_map(test_registry):
    from model.classifier import Classifier
    from tests.support import synthetic_radiograph

    clf = Classifier.load("tiny-a", root=test_registry)
    pixels = synthetic_radiograph(96, lesion=(0.4, 0.3))
    result = what_if(clf, clf.prepare(pixels).array, grid_boxes(3, 3)[4])
    assert result.before.labels == tuple(LABELS)
    assert sum(result.delta.values()) == pytest.approx(0.0, abs=1e-5)
    heat = occlusion_sensitivity(clf.predict_inputs, clf.prepare(pixels).array, result.before.index)
    assert heat.shape == (32, 32) and np.isfinite(heat).all() and 0 <= heat.min() <= heat.max() <= 1
