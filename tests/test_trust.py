"""Trust checks against ground truth that only synthetic data has: where the evidence really is.

Two tiny models are trained here on synthetic radiographs that carry both a bright corner marker
(outside the lungs) and, at random, a bright lesion inside a lung; only the labelling rule differs.
The model labelled by the marker must look outside the lungs, the one labelled by the lesion
inside. A fixed-weights model whose score depends on one known region tests deletion/insertion.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from types import SimpleNamespace

import numpy as np
import pytest

from model.inputs.intake import colourfulness
from model.inputs.lungs import lung_attention_fraction
from model.registry import ModelCard
from model.trust.agreement import method_agreement
from model.trust.attention import lung_attention
from model.trust.faithfulness import RandomOrders, deletion_insertion, faithfulness
from model.trust.input_check import input_check
from model.trust.sanity import randomization_sanity_check, randomization_similarity, randomized_classifier
from model.trust.uncertainty import tta_uncertainty
from tests.support import LABELS, png_bytes, synthetic_radiograph

SIZE = 64            # side of the trained models' input
TRAIN_IMAGES = 192
EPOCHS = 8
BATCH = 16
LEARNING_RATE = 0.003
MARKER = 0.18        # length of the corner marker bar, as a fraction of the image
PATCH_SIZE = 32      # input side of the fixed-weights model
PATCH = (8, 16, 16, 24)  # rows 8:16, cols 16:24: the only region the fixed model reads


def lung_mask(size: int) -> np.ndarray:
    """The two synthetic lung fields of `synthetic_radiograph` (centres x=0.32/0.68, y=0.5)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    return ((((xx - 0.32) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2) < 1) | \
        ((((xx - 0.68) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2) < 1)


def card(model_id: str, size: int, layer: str) -> ModelCard:
    return ModelCard(id=model_id, display_name=model_id, version="1.0",
                     created=datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(), architecture="test",
                     labels=list(LABELS), preprocessing={"image_size": size, "channels": 1, "equalize": "none"},
                     explain_layer=layer)


# --------------------------------------------------------------------------- models with known evidence


def shortcut_data(rule: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic radiographs where one known feature decides the class.

    Both classes carry the same amount of bright pixels in the same place, so neither the image's
    overall brightness (which the models standardise away) nor the absence of something elsewhere
    gives the class away: the evidence for either class lies where the deciding feature is.

    rule "marker": a bright bar in the top-left corner, outside the body, like a laterality
    marker: horizontal for class 0, vertical (same area) for class 1. A round lesion inside a
    lung appears at random in either class.
    rule "lesion": inside a lung, a round lesion for class 0 and a thin vertical streak of the
    same area for class 1. No marker.
    """
    rng = np.random.default_rng(seed)
    long, short = int(round(MARKER * SIZE)), max(2, int(round(MARKER * SIZE / 3)))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    images, labels = [], []
    for i in range(count):
        label = int(rng.random() < 0.5)
        row, col = rng.uniform(0.38, 0.62), rng.choice([0.32, 0.68]) + rng.uniform(-0.03, 0.03)
        if rule == "marker":
            lesion = (row, col) if rng.random() < 0.5 else None
            image = synthetic_radiograph(SIZE, seed=seed * 10_000 + i, lesion=lesion)
            rows, cols = (short, long) if label == 0 else (long, short)
            image[2:2 + rows, 2:2 + cols] = 0.95
        elif label == 0:
            image = synthetic_radiograph(SIZE, seed=seed * 10_000 + i, lesion=(row, col))
        else:
            image = synthetic_radiograph(SIZE, seed=seed * 10_000 + i)
            streak = ((xx - col) / 0.03) ** 2 + ((yy - row) / 0.12) ** 2 < 1  # area of the r=0.06 lesion
            image[streak] = 0.95
        images.append(image[..., None])
        labels.append(label)
    return np.stack(images).astype(np.float32), np.array(labels)


def train_tiny(rule: str):
    """A narrow compact CNN (the project's architecture) trained in a few seconds; returns
    (classifier, held-out images, held-out labels)."""
    import keras

    from model.classifier import Classifier
    from training.architectures import compact_cnn

    x, y = shortcut_data(rule, TRAIN_IMAGES, seed=1 if rule == "marker" else 2)
    keras.utils.set_random_seed(0)
    model, _ = compact_cnn(SIZE, 1, len(LABELS), widths=(8, 16), dropout=0.1)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    # A hundred steps leave the batch-norm moving averages behind the weights: re-estimate them.
    for _ in range(10):
        for start in range(0, len(x), 64):
            model(x[start:start + 64], training=True)
    x_test, y_test = shortcut_data(rule, 24, seed=9)
    # Grad-CAM on the last block's rectified output, the feature map the pooling head reads.
    return Classifier(card(f"{rule}-model", SIZE, "block2b_relu"), model), x_test, y_test


@pytest.fixture(scope="module")
def marker_model():
    return train_tiny("marker")


@pytest.fixture(scope="module")
def lesion_model():
    return train_tiny("lesion")


def fixed_classifier(kind: str = "patch"):
    """A Classifier with set weights. "patch": class 0 when the mean of rows 8:16, cols 16:24 is
    above 0.8 (logit 20 * (mean - 0.8); the blurred baseline brings a 0.95 patch to about 0.66),
    class 1 below; "flat": 1/3 for every class whatever the
    input; "confident": class 0 at 0.999 whatever the input."""
    import keras

    from model.classifier import Classifier
    top, bottom, left, right = PATCH
    inputs = keras.Input((PATCH_SIZE, PATCH_SIZE, 1), name="image")
    x = keras.layers.Cropping2D(((top, PATCH_SIZE - bottom), (left, PATCH_SIZE - right)), name="patch")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="mean")(x)
    dense = keras.layers.Dense(3, activation="softmax", name="probabilities")
    model = keras.Model(inputs, dense(x))
    weights = {"patch": ([[20.0, -20.0, 0.0]], [-16.0, 16.0, -20.0]),
               "flat": ([[0.0, 0.0, 0.0]], [0.0, 0.0, 0.0]),
               "confident": ([[0.0, 0.0, 0.0]], [8.0, 0.0, 0.0])}[kind]
    dense.set_weights([np.array(w, np.float32) for w in weights])
    return Classifier(card(kind, PATCH_SIZE, "patch"), model)


def patch_image(brightness: float = 0.95, seed: int = 0) -> np.ndarray:
    """A model input (32, 32, 1): mid-gray texture with the read region at `brightness`."""
    image = 0.3 + 0.05 * np.random.default_rng(seed).standard_normal((PATCH_SIZE, PATCH_SIZE))
    top, bottom, left, right = PATCH
    image[top:bottom, left:right] = brightness
    return np.clip(image, 0, 1).astype(np.float32)[..., None]


def patch_map() -> np.ndarray:
    heat = np.zeros((PATCH_SIZE, PATCH_SIZE), np.float32)
    top, bottom, left, right = PATCH
    heat[top:bottom, left:right] = 1.0
    return heat


@pytest.fixture(scope="module")
def patch_model():
    return fixed_classifier("patch")


# --------------------------------------------------------------------------- (1) lung attention


def _evidence(classifier, images, labels, count: int = 8):
    """Accuracy on held-out images, then for the class-0 images: `lung_attention` of Grad-CAM and
    the lung fraction of occlusion sensitivity (the model-agnostic ground truth of where hiding
    pixels lowers the score)."""
    from model.explain.occlusion import occlusion_sensitivity

    accuracy = float(np.mean(np.argmax(classifier.predict_inputs(images), axis=1) == labels))
    mask = lung_mask(SIZE)
    positives = images[labels == 0][:count]
    gradcam = [lung_attention(classifier.explain_input(x, "gradcam", 0).heatmap, mask) for x in positives]
    occlusion = [lung_attention_fraction(occlusion_sensitivity(classifier.predict_inputs, x, 0), mask) for x in positives[:3]]
    return accuracy, gradcam, float(np.mean(occlusion))


def test_marker_model_looks_outside_the_lungs(marker_model):
    accuracy, gradcam, occlusion = _evidence(*marker_model)
    assert accuracy >= 0.9, f"the marker model did not learn its rule (accuracy {accuracy:.2f})"
    assert occlusion < 0.2, f"occlusion puts {occlusion:.2f} of the marker model's evidence in the lungs"
    mean = np.mean([r.fraction for r in gradcam])
    assert mean < 0.25, f"Grad-CAM of the marker model has {mean:.2f} of its mass inside the lungs"
    assert all(r.low and r.elsewhere in r.warning and r.elsewhere != "lungs" for r in gradcam)


def test_lesion_model_looks_inside_the_lungs(lesion_model, marker_model):
    accuracy, gradcam, occlusion = _evidence(*lesion_model)
    assert accuracy >= 0.9, f"the lesion model did not learn its rule (accuracy {accuracy:.2f})"
    assert occlusion > 0.7, f"occlusion puts only {occlusion:.2f} of the lesion model's evidence in the lungs"
    lesion = np.mean([r.fraction for r in gradcam])
    marker = np.mean([r.fraction for r in _evidence(*marker_model)[1]])
    # The lungs are 26 % of the image, so a uniform map would score 0.26; Grad-CAM's 16 x 16 grid
    # spreads even a lesion well inside a lung over its surroundings.
    assert lesion > 0.45, f"Grad-CAM of the lesion model has only {lesion:.2f} of its mass inside the lungs"
    assert lesion - marker > 0.3


def test_lung_attention_on_known_maps():
    mask = lung_mask(32)
    inside = lung_attention(mask.astype(np.float32), mask)
    outside = lung_attention((~mask).astype(np.float32), mask)
    assert inside.fraction == pytest.approx(1.0) and not inside.low and inside.warning == ""
    assert outside.fraction == pytest.approx(0.0) and outside.low
    # Spread over every zone outside the lungs, the largest (above the lungs, 30%) is not "most" of the rest.
    assert outside.zones[outside.elsewhere] < 0.5 and not outside.elsewhere_holds_most
    even = f"{mask.mean():.1%}"  # a map spread evenly over the whole film (no region given)
    assert outside.even_share == inside.even_share == pytest.approx(mask.mean())
    assert outside.warning.startswith(f"Only 0.0% of this map lies on the lung fields (which fill {even} of what "
                                      "the model saw), below the warning level of 50.0% (the default: this model "
                                      "has no level of its own); the largest part of the rest is ")
    assert "counting its faint part, which the picture may leave uncoloured" in outside.warning
    assert outside.elsewhere in outside.warning and "on the above" not in outside.warning
    top = np.zeros_like(mask, np.float32)
    top[:2] = 1.0
    top[mask] = 0.05
    above = lung_attention(top, mask)
    assert above.low and above.elsewhere == "above the lungs" and above.elsewhere_holds_most
    assert "; most of the rest is above the lungs, counting its faint part" in above.warning
    assert inside.zones["lungs"] == pytest.approx(1.0) and inside.elsewhere is None
    with pytest.raises(ValueError, match="threshold"):
        lung_attention(mask.astype(np.float32), mask, threshold=1.5)


def test_an_evenly_spread_map_scores_the_lungs_share_of_what_the_model_saw():
    from model.trust.attention import LungAttention, even_share

    mask = np.zeros((100, 100), bool)
    mask[20:70, 10:40] = mask[20:70, 60:90] = True  # 3,000 of 10,000 pixels; 3,000 of the 50 x 80 box's 4,000
    assert even_share(mask) == pytest.approx(0.30) and even_share(mask, (20, 70, 10, 90)) == pytest.approx(0.75)
    region = (20, 70, 10, 90)
    flat = np.zeros((100, 100), np.float32)
    flat[20:70, 10:90] = 1.0  # the model saw only the box: its map is flat there and zero outside
    attention = lung_attention(flat, mask, 0.5, region)
    assert attention.fraction == pytest.approx(attention.even_share) == pytest.approx(0.75)
    assert LungAttention.from_dict(attention.to_dict()) == attention
    # A map above that level but under the model's own: said as such, never "only" (the review's case:
    # "Only 42.9% ... (which fill 22.1% ...)").
    tilted = np.where(mask, 0.4 / 3000, 0.6 / 7000).astype(np.float64)  # 40% on lungs that fill 30% of the film
    own = lung_attention(tilted, mask, 0.45)
    assert own.low and own.warning.startswith(
        "40.0% of this map lies on the lung fields, below this model's warning level of 45.0% (less than on 90% of "
        "its correct answers), though more than a map spread evenly would put there (30.0%, the lungs' share of "
        "what the model saw); ")
    assert "Only" not in own.warning
    general = lung_attention(tilted, mask)  # no level of its own: the default line, said as the warning level
    assert general.warning.startswith("40.0% of this map lies on the lung fields, below the warning level of 50.0% "
                                      "(the default: this model has no level of its own), though more than")
    # A share just under the level is never printed equal to it ("42.0% ... below ... 42.0%"): two decimals.
    close = lung_attention(np.where(mask, 0.4198 / 3000, 0.5802 / 7000), mask, 0.4203)
    assert close.warning.startswith("41.98% of this map lies on the lung fields, below this model's warning level of "
                                    "42.03%")
    below = lung_attention(np.where(mask, 0.2 / 3000, 0.8 / 7000), mask, 0.45)
    # Below the even share too: "only", and the warning level named (it was left out, the reader left to guess it).
    assert below.warning.startswith("Only 20.0% of this map lies on the lung fields (which fill 30.0% of what the model "
                                    "saw), below this model's warning level of 45.0% (less than on 90% of its correct "
                                    "answers); ")
    assert LungAttention.from_dict({k: v for k, v in attention.to_dict().items() if k != "even_share"}).even_share is None
    # Whose level it is, when the caller knows: a fitted level of 0.5 is the model's own, a default one is not.
    assert "this model's warning level of 50.0% (less than on 90% of its correct answers)" in lung_attention(
        tilted, mask, 0.5, own=True).warning
    assert "correct answers" not in lung_attention(tilted, mask, 0.45, own=False).warning


def test_every_view_compares_a_lung_share_as_it_is_printed():
    """`compare_as_shown` is the one rule of "more", "as much" and "less" beside two printed shares. At the
    rounding boundary its answer follows the printed figures (`lung_share`), not the value times 1000 rounded:
    an even spread of 2,105 of 10,000 pixels prints 21.1% like a map's 21.08%, yet 0.2105 * 1000 rounds to 210."""
    from types import SimpleNamespace as Case

    from model.present.cheating_view import favours_outside
    from model.present.gallery_cases import more_than_even
    from model.present.text import lung_share, lung_share_sentence
    from model.trust.attention import compare_as_shown

    for share, level, expected in [(0.49949, 0.5, -1), (0.49951, 0.5, 0), (0.50049, 0.5, 0), (0.50051, 0.5, 1),
                                   (0.2108, 2105 / 10000, 0), (0.2114, 2105 / 10000, 0), (0.2094, 0.2105, -1)]:
        assert compare_as_shown(share, level) == expected, (share, level)
        assert compare_as_shown(level, share) == -expected
    assert round(0.2108 * 1000) > round(2105 / 10000 * 1000)  # the rounding every view used before: "more"
    rng = np.random.default_rng(0)
    for share, level in rng.integers(0, 10_001, (2000, 2)) / 10_000:  # on and around the printed grid's halves
        printed = float(lung_share(share)[:-1]), float(lung_share(level)[:-1])
        assert compare_as_shown(share, level) == (printed[0] > printed[1]) - (printed[0] < printed[1])
    # Each view words the boundary case alike: as much as an even spread, neither more nor less.
    assert "this one puts as much." in lung_share_sentence(0.2108, 0.2, "Grad-CAM", 2105 / 10000)
    tie = Case(lung_share=0.2108, lung_even=2105 / 10000)
    assert not more_than_even(tie) and not favours_outside(tie)
    assert favours_outside(Case(lung_share=0.2094, lung_even=0.2105))
    mask = np.zeros((100, 100), bool)
    mask.flat[:2105] = True  # lungs 21.05% of the film, printed 21.1%
    attention = lung_attention(np.where(mask, 0.2108 / 2105, 0.7892 / 7895), mask, 0.45)
    assert attention.warning.startswith("Only 21.1% of this map lies on the lung fields (which fill 21.1% of what the "
                                        "model saw)")


def test_no_share_of_a_map_on_lungs_that_were_not_found():
    from model.trust.attention import NO_LUNG_FIELDS, attention_if_lungs

    mask = lung_mask(32)
    heat = mask.astype(np.float32)
    found, why = attention_if_lungs(heat, mask, 0.3)
    assert why == "" and found == lung_attention(heat, mask, 0.3)
    for implausible in (np.ones_like(mask), np.zeros_like(mask)):  # one blob over the film; nothing
        assert attention_if_lungs(heat, implausible, 0.3) == (None, NO_LUNG_FIELDS)



def test_a_blank_map_has_no_share_on_the_lungs_and_raises_no_lung_warning():
    """The review's case: a blank Normal map read "This map is blank" beside "Only 0.0% of this map lies on the lung
    fields ...; most of the rest is outside the lungs", and the status warned of it."""
    from model.present.text import unavailable_checks
    from model.trust.attention import BLANK_MAP, attention_if_lungs
    from model.trust.map_checks import MapChecks, map_findings

    mask = lung_mask(32)
    blank = np.zeros(mask.shape, np.float32)
    assert attention_if_lungs(blank, mask, 0.3) == (None, BLANK_MAP)
    from model.trust.attention import blank_map
    assert blank_map(blank) and blank_map(-np.ones(mask.shape)) and not blank_map(mask.astype(np.float32))
    assert lung_attention(blank, mask, 0.3).low  # what every view showed before, from the bare measure
    checks = MapChecks(attention=None)
    assert map_findings(checks, "Grad-CAM") == [] and unavailable_checks(checks) == ("attention",)


def test_attention_zones_name_where_the_map_goes():
    from model.trust.attention import attention_zones

    mask = np.zeros((100, 100), bool)
    mask[20:70, 10:40] = True   # right lung (image left)
    mask[20:70, 60:90] = True   # left lung
    heart = np.zeros((100, 100), np.float32)
    heart[40:70, 45:55] = 1.0
    below = np.zeros((100, 100), np.float32)
    below[80:95, 30:70] = 1.0
    assert attention_zones(heart, mask)["between the lungs (mediastinum)"] == pytest.approx(1.0)
    # Under a shorter lung's base (inside the lungs' box): the diaphragm, not the mediastinum nor the edges.
    short = mask.copy()
    short[55:70, 10:40] = False  # the right lung ends higher
    corner = np.zeros((100, 100), np.float32)
    corner[60:70, 10:30] = 1.0
    assert attention_zones(corner, short)["diaphragm and below"] == pytest.approx(1.0)
    # Beside a rounded apex (inside the box, above the lung in its columns): around the lungs' edges.
    rounded = mask.copy()
    rounded[20:30, 10:20] = False
    apex = np.zeros((100, 100), np.float32)
    apex[21:29, 11:19] = 1.0
    assert attention_zones(apex, rounded)["around the lungs' edges"] == pytest.approx(1.0)
    assert attention_zones(heart, short)["between the lungs (mediastinum)"] == pytest.approx(0.5)  # rows 40-55
    # Unequal lungs (a wide and a narrow one): split between them, not inside the wider one.
    unequal = np.zeros((100, 100), bool)
    unequal[20:70, 5:45] = True
    unequal[20:70, 60:75] = True
    gap = np.zeros((100, 100), np.float32)
    gap[30:60, 47:58] = 1.0
    assert attention_zones(gap, unequal)["between the lungs (mediastinum)"] == pytest.approx(1.0)
    # A domed lower edge: the last rows of a lung are its lateral corner; under the dome is not the mediastinum.
    domed = mask.copy()
    domed[62:70, 14:40] = False  # the right lung's last rows keep only their outer corner (columns 10-13)
    dome = np.zeros((100, 100), np.float32)
    dome[63:70, 16:38] = 1.0
    assert attention_zones(dome, domed)["between the lungs (mediastinum)"] == 0.0
    assert attention_zones(dome, domed)["diaphragm and below"] == pytest.approx(1.0)
    # One lung (with a hole) and an empty mask: no mediastinum.
    one = np.zeros((100, 100), bool)
    one[20:70, 10:60] = True
    one[30:60, 33:37] = False
    hole = np.zeros((100, 100), np.float32)
    hole[30:60, 33:37] = 1.0
    assert attention_zones(hole, one)["between the lungs (mediastinum)"] == 0.0
    assert attention_zones(hole, np.zeros((100, 100), bool))["between the lungs (mediastinum)"] == 0.0
    assert attention_zones(below, mask)["diaphragm and below"] == pytest.approx(1.0)
    edge = np.zeros((100, 100), np.float32)
    edge[30:60, 0:5] = 1.0
    assert attention_zones(edge, mask)["chest wall"] == pytest.approx(1.0)
    assert attention_zones(edge, mask, region=(10, 90, 8, 92))["outside the region the model saw"] == pytest.approx(1.0)
    result = lung_attention(heart + 0.01 * mask, mask, threshold=0.3)
    assert result.low and result.elsewhere == "between the lungs (mediastinum)"
    assert "the rest is between the lungs (mediastinum), counting" in result.warning  # a place: not "on the ..."
    assert "10% of this model's correct answers" not in result.warning  # 0.3 is not the default: model's own
    assert "below this model's warning level of 30.0% (less than on 90% of its correct answers)" in result.warning


# --------------------------------------------------------------------------- (2) deletion / insertion


def test_deletion_and_insertion_follow_the_true_evidence(patch_model):
    x = patch_image()
    true = deletion_insertion(patch_model, x, patch_map(), class_index=0, steps=16)
    random = deletion_insertion(patch_model, x, np.random.default_rng(3).random((32, 32)), 0, steps=16)
    assert len(true["fractions"]) == len(true["deletion"]) == len(true["insertion"]) == 17
    assert true["fractions"][0] == 0.0 and true["fractions"][-1] == 1.0
    # Both curves run between the same two images: the input and the blurred baseline.
    assert true["deletion"][0] == pytest.approx(true["insertion"][-1], abs=1e-5)
    assert true["deletion"][-1] == pytest.approx(true["insertion"][0], abs=1e-5)
    assert true["deletion"][0] > 0.95 and true["deletion"][-1] < 0.5
    assert true["deletion_auc"] < random["deletion_auc"] - 0.2
    assert true["insertion_auc"] > random["insertion_auc"] + 0.2
    assert 0.0 <= true["deletion_auc"] <= 1.0 and 0.0 <= true["insertion_auc"] <= 1.0


def test_the_chance_level_has_the_grain_of_the_map(patch_model):
    from model.trust.faithfulness import RANDOM_BLOCKS, chance_grid, random_baseline, random_block_order

    # A random order on a 4 x 4 grid removes whole 8 x 8 cells: each cell's pixels are ranked together.
    rank = np.empty(32 * 32, np.int64)
    rank[random_block_order((32, 32), np.random.default_rng(0), 4)] = np.arange(32 * 32)
    cells = rank.reshape(4, 8, 4, 8).transpose(0, 2, 1, 3).reshape(16, 64) // 64
    assert all(len(set(cell)) == 1 for cell in cells) and sorted(cells[:, 0]) == list(range(16))
    assert chance_grid(None) == RANDOM_BLOCKS and chance_grid(5) == 5
    with pytest.raises(ValueError, match="grid"):
        chance_grid(0)
    x = patch_image()
    coarse, fine = (random_baseline(patch_model, x, 0, steps=8, random_orders=RandomOrders(2), grid=g) for g in (4, None))
    assert (coarse["grid"], fine["grid"]) == (4, RANDOM_BLOCKS)
    assert (coarse["deletion_auc"], coarse["insertion_auc"]) != (fine["deletion_auc"], fine["insertion_auc"])
    # faithfulness() judges a map against random maps of the grain it is given.
    judged = faithfulness(patch_model, x, patch_map(), 0, steps=8, random_orders=RandomOrders(2), grid=4)
    assert (judged.random_deletion_auc, judged.random_insertion_auc) == (coarse["deletion_auc"], coarse["insertion_auc"])


def _merged(resample: str, after: str | None = None):
    """A 24-px model whose 4x4 and 6x6 feature maps meet on a 12x12 grid (`resample`: "upsampling" repeats
    their cells, "resizing" interpolates them), optionally followed by one more layer (`after`)."""
    import keras

    inputs = keras.Input((24, 24, 1))
    maps = [keras.layers.Conv2D(2, 3, strides=stride, padding="same")(inputs) for stride in (6, 4)]
    if resample == "upsampling":
        grids = [keras.layers.UpSampling2D(size)(m) for size, m in zip((3, 2), maps)]
    else:
        grids = [keras.layers.Resizing(12, 12)(m) for m in maps]
    merged = keras.layers.Concatenate(name="merged")(grids)
    if after == "activation":
        merged = keras.layers.Activation("relu", name="after")(merged)
    elif after == "conv":
        merged = keras.layers.Conv2D(4, 3, padding="same", name="after")(merged)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(merged))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("resample, after, layer, grid", [
    ("upsampling", None, "merged", 6),          # the finest network's grain, not the common 12x12 grid
    ("resizing", None, "merged", 6),            # interpolated, not repeated: no more cells (was guessed 12)
    ("upsampling", "activation", "after", 6),   # a pointwise layer keeps the grain (was guessed 12)
    ("upsampling", "conv", "after", "unknown"),  # a convolution mixing repeated cells: said, not guessed (was 12)
])
def test_a_maps_grid_is_exact_or_said_to_be_unknown(resample, after, layer, grid):
    from model.explain.map_grid import UNKNOWN_GRID, layer_grid

    assert layer_grid(_merged(resample, after), layer) == (UNKNOWN_GRID if grid == "unknown" else grid)


def test_a_map_of_unknown_grid_is_judged_against_the_default_grain_and_says_so(patch_model):
    from model.explain.map_grid import UNKNOWN_GRID
    from model.trust.faithfulness import RANDOM_BLOCKS, chance_grid, unknown_grid_sentence

    assert chance_grid(UNKNOWN_GRID) == RANDOM_BLOCKS
    x, orders = patch_image(), RandomOrders(2)
    known = faithfulness(patch_model, x, patch_map(), 0, steps=8, random_orders=orders, grid=None)
    unknown = faithfulness(patch_model, x, patch_map(), 0, steps=8, random_orders=orders, grid=UNKNOWN_GRID)
    assert unknown.random_deletion_auc == known.random_deletion_auc
    assert unknown.summary == known.summary + unknown_grid_sentence(RANDOM_BLOCKS)
    assert "could not be told" in unknown.summary and "could not be told" not in known.summary


def test_a_map_knows_the_grid_it_was_made_on(test_registry):
    from model.classifier import Classifier

    clf = Classifier.load(root=test_registry)
    explanation = clf.explain_input(np.zeros((32, 32, 1), np.float32), "gradcam", 0)
    height, width = clf.model.get_layer(explanation.layer).output.shape[1:3]
    assert clf.map_grid(explanation) == max(height, width) < 32
    assert clf.map_grid(clf.explain_input(np.zeros((32, 32, 1), np.float32), "smoothgrad", 0)) is None


def test_faithfulness_separates_a_true_map_from_a_reversed_one(patch_model):
    x = patch_image()
    good = faithfulness(patch_model, x, patch_map(), 0, steps=10, random_orders=RandomOrders(2))
    reversed_ = faithfulness(patch_model, x, 1.0 - patch_map(), 0, steps=10, random_orders=RandomOrders(2))
    assert good.better_than_random and not reversed_.better_than_random
    assert good.deletion_auc < good.random_deletion_auc < reversed_.deletion_auc
    # Same seed: the same random orders.
    assert (good.random_deletion_auc, good.random_insertion_auc) == \
        (reversed_.random_deletion_auc, reversed_.random_insertion_auc)
    assert set(good.curves) >= {"fractions", "deletion", "insertion"}
    assert good.summary.startswith("The map ranks the evidence better than random")
    # Reversed, the map is worse than chance on both curves, and the sentence says so (not "mixed" or "level").
    assert reversed_.verdict == "not better than random"
    assert reversed_.summary.startswith("The map ranks the evidence worse than random region orders on hiding and "
                                        "revealing")
    assert good.measurable and reversed_.measurable
    # A blank map ranks no region: its seeded random order must not be judged ("mixed" or "faithful" on noise).
    blank = faithfulness(patch_model, x, np.zeros_like(patch_map()), 0, steps=10, random_orders=RandomOrders(2))
    assert not blank.measurable and not blank.better_than_random and blank.verdict == "not measurable"
    assert blank.summary.startswith("Not measurable: the map is blank")


def test_a_class_the_blurred_film_scores_as_high_is_not_measurable(patch_model):
    """Explaining the other class of a film whose blurred copy scores it higher: hiding regions can only raise
    it, so deletion and insertion say nothing about the map. 'Not measurable', never 'faithful', and no caution."""
    from model.trust.faithfulness import NOT_MEASURABLE, Faithfulness
    from model.trust.map_checks import MapChecks, map_findings

    x = patch_image()
    other = faithfulness(patch_model, x, patch_map(), 1, steps=10, random_orders=RandomOrders(2))
    assert other.curves["deletion"][-1] > other.curves["deletion"][0]
    assert not other.measurable and other.verdict == NOT_MEASURABLE and not other.better_than_random
    assert other.summary.startswith(f"Not measurable for {patch_model.labels[1]}: the blurred film scores")
    assert map_findings(MapChecks(faithfulness=other), "Grad-CAM") == []
    assert Faithfulness.from_dict(other.to_dict()) == other
    old = {k: v for k, v in other.to_dict().items() if k != "measurable"}  # stored before the field existed
    assert Faithfulness.from_dict(old).measurable


def test_each_curve_is_better_level_or_worse_and_close_figures_show_three_decimals():
    from model.trust.faithfulness import _faithfulness_summary, auc_pair, curve_state

    assert [curve_state(m, 0.40, "deletion") for m in (0.35, 0.395, 0.45)] == ["better", "level", "worse"]
    assert [curve_state(m, 0.40, "insertion") for m in (0.45, 0.405, 0.35)] == ["better", "level", "worse"]
    assert auc_pair(0.36, 0.372) == ("0.360", "0.372") and auc_pair(0.30, 0.40) == ("0.30", "0.40")
    chance = {"deletion_auc": 0.5, "insertion_auc": 0.5}
    worse = _faithfulness_summary({"deletion_auc": 0.3, "insertion_auc": 0.40}, chance)
    assert "revealing them brings it less high than revealing random regions does" in worse
    assert "hiding the regions the map ranks first keeps the probability lower than hiding random regions" in worse
    level = _faithfulness_summary({"deletion_auc": 0.3, "insertion_auc": 0.505}, chance)
    assert "revealing them brings it about as high as revealing random regions does (within 0.01)" in level
    assert "while revealing 0.505 against 0.500" in level
    # One format for the four figures of a check: the review saw "0.43" beside "0.430" and "0.431".
    assert "while hiding 0.300 against 0.500" in level
    from model.trust.faithfulness import Faithfulness, auc_figures
    assert auc_figures(0.43, 0.61, 0.430, 0.431) == ("0.430", "0.610", "0.430", "0.431")
    assert auc_figures(0.43, 0.61, 0.70, 0.50) == ("0.43", "0.61", "0.70", "0.50")
    assert Faithfulness(0.43, 0.43, 0.61, 0.431, {}, False, "").figures == ("0.430", "0.610", "0.430", "0.431")


def test_deletion_insertion_rejects_bad_values(patch_model):
    x = patch_image()
    with pytest.raises(ValueError, match="steps"):
        deletion_insertion(patch_model, x, patch_map(), 0, steps=0)
    with pytest.raises(ValueError, match="class_index"):
        deletion_insertion(patch_model, x, patch_map(), 3)
    with pytest.raises(ValueError, match="baseline"):
        deletion_insertion(patch_model, x, patch_map(), 0, baseline="noise")
    with pytest.raises(ValueError, match="heatmap"):
        deletion_insertion(patch_model, x, np.full((32, 32), np.nan), 0)


# --------------------------------------------------------------------------- (3) randomisation check


def edge_map(model_input: np.ndarray) -> np.ndarray:
    """A 'saliency map' that is only an edge detector of the input: it ignores the weights."""
    import cv2

    image = np.asarray(model_input, np.float32)[..., 0]
    return np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1))


def test_sanity_check_flags_a_map_that_ignores_the_weights(lesion_model):
    classifier, images, labels = lesion_model
    randomised = randomized_classifier(classifier, seed=0)
    trained_w, random_w = classifier.model.get_weights(), randomised.model.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(trained_w, random_w) if a.size > 1)
    edges = randomization_similarity(edge_map, edge_map, images[:4])
    assert edges["flagged"] and edges["spearman"] == pytest.approx(1.0)

    gradcam = randomization_sanity_check(classifier, images[labels == 0][:4], methods=("gradcam",))
    result = gradcam["methods"]["gradcam"]
    assert gradcam["n"] == 4 and result["n"] == 4
    assert not result["flagged"], f"Grad-CAM similarity to a random model is {result['spearman']:.2f}"
    assert result["spearman"] < edges["spearman"] - 0.5
    # Scrambled, not re-drawn: each tensor keeps its values (and so its scale), in another order.
    changed = [(a, b) for a, b in zip(trained_w, random_w) if a.size > 1 and not np.array_equal(a, b)]
    assert changed and all(np.array_equal(np.sort(a, axis=None), np.sort(b, axis=None)) for a, b in changed)


def test_sanity_check_with_blank_random_maps_is_inconclusive_not_passed(lesion_model):
    _, images, _ = lesion_model
    blank = randomization_similarity(edge_map, lambda x: np.zeros(x.shape[:2]), images[:4])
    assert blank["blank"] == 4 and blank["spearman"] is None
    assert blank["inconclusive"] and not blank["flagged"]
    half = iter([np.zeros((8, 8)), np.zeros((8, 8)), edge_map(images[2]), edge_map(images[3])])
    mixed = randomization_similarity(edge_map, lambda x: next(half), images[:4])
    assert mixed["blank"] == 2 and not mixed["inconclusive"]  # only more than half blank is inconclusive


# --------------------------------------------------------------------------- (4) input check


def test_input_check_flags_a_photograph():
    data = pytest.importorskip("skimage.data")
    for rgb in (data.astronaut(), data.coffee()):
        gray = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0
        assert colourfulness(rgb) > 30
        check = input_check(gray, {"mode": "RGB"}, rgb=rgb)
        assert not check.ok
        assert any("colour" in w and "photograph" in w for w in check.warnings)


def test_input_check_passes_a_synthetic_radiograph():
    pixels = synthetic_radiograph(128, seed=4)
    rgb = np.round(np.repeat(pixels[..., None], 3, axis=-1) * 255).astype(np.uint8)  # gray saved as RGB
    assert colourfulness(rgb) == pytest.approx(0.0, abs=1e-9)
    check = input_check(pixels, {"mode": "RGB"}, lung_mask=lung_mask(128), rgb=rgb)
    assert check.ok and check.warnings == []


def test_input_check_names_each_problem():
    pixels = synthetic_radiograph(128, seed=5)
    one_lung = lung_mask(128)
    one_lung[:, 64:] = False
    checks = {
        "shape": input_check(synthetic_radiograph(64, width=256)),
        "contrast": input_check(np.full((100, 100), 0.5, np.float32)),
        "lungs": input_check(pixels, lung_mask=one_lung),
        "lateral": input_check(pixels, {"view_position": "LL", "modality": "DX", "body_part_examined": "CHEST"}),
        "ct": input_check(pixels, {"modality": "CT"}),
    }
    expected = {"shape": "unusual shape", "contrast": "nearly uniform", "lungs": "marked 1 region the size of a lung",
                "lateral": "lateral", "ct": "modality CT"}
    for name, check in checks.items():
        assert not check.ok and len(check.warnings) == 1, (name, check.warnings)
        assert expected[name] in check.warnings[0], (name, check.warnings)
    with pytest.raises(ValueError, match="rgb"):
        colourfulness(np.zeros((4, 4)))


# --------------------------------------------------------------------------- (5) test-time augmentation


def test_tta_marks_a_flat_model_uncertain_and_a_confident_one_certain(patch_model):
    flat = tta_uncertainty(fixed_classifier("flat"), patch_image(), n=6)
    assert flat.uncertain and flat.message == "Second read advised."
    assert flat.entropy == pytest.approx(1.0, abs=1e-4) and flat.top_probability == pytest.approx(1 / 3)
    confident = tta_uncertainty(fixed_classifier("confident"), patch_image(), n=6)
    assert not confident.uncertain and confident.message == "" and confident.agreement == 1.0
    assert confident.top_label == LABELS[0] and confident.entropy < 0.1


def test_tta_perturbs_the_input(patch_model):
    clear = tta_uncertainty(patch_model, patch_image(0.95), n=8)
    assert not clear.uncertain and clear.top_label == LABELS[0]
    # Near the decision boundary the unchanged image still looks confident, but small shifts,
    # rotations and gamma changes flip the answer: only the augmentation reveals it.
    near = patch_image(0.88)
    assert patch_model.predict_inputs(near[None])[0, 0] > 0.9
    borderline = tta_uncertainty(patch_model, near, n=8)
    assert borderline.uncertain and borderline.reasons and borderline.agreement < 0.75
    assert max(borderline.spread.values()) > 0.01
    # The answer is the film's own calibrated pass, never the copies' mean.
    assert borderline.top_probability == pytest.approx(patch_model.predict_inputs(near[None])[0, 0], abs=1e-6)
    assert [f.kind for f in borderline.findings] == ["copies_disagree"]
    # The clear film's own pass is near 100%, yet some of its copies fall below the default answer level: an
    # answer still (no rule fired), with the caution that says how many.
    assert [f.kind for f in clear.findings] == ["copies_below_level"] and clear.findings[0].values["below"] >= 1
    assert clear.findings[0].values["below"] == sum(p < 0.6 for p in clear.copies) and len(clear.copies) == 7
    with pytest.raises(ValueError, match="n must"):
        tta_uncertainty(patch_model, patch_image(), n=1)
    with pytest.raises(ValueError, match="shape"):
        tta_uncertainty(patch_model, np.zeros((16, 16, 1), np.float32))


def test_method_agreement():
    heat = patch_map() + np.linspace(0, 0.1, 32)[None, :]
    result = method_agreement({"a": heat, "b": heat * 2, "c": 1.0 - heat})
    assert result.pairs["a vs b"] == pytest.approx(1.0) and result.pairs["a vs c"] == pytest.approx(-1.0)
    assert result.mean == pytest.approx(-1 / 3)
    with pytest.raises(ValueError, match="two maps"):
        method_agreement({"a": heat})


# --------------------------------------------------------------------------- (6) the per-model report


@pytest.fixture()
def report_setup(tmp_path):
    from tests.support import write_tiny_entry

    registry = tmp_path / "registry"
    write_tiny_entry(registry, "tiny-r", seed=0, default=True)
    data = tmp_path / "data"
    for k, folder in enumerate(("covid", "normal", "pneumonia")):
        (data / folder).mkdir(parents=True)
        for i in range(5):
            lesion = (0.5, 0.3) if folder != "normal" else None
            image = synthetic_radiograph(64, seed=100 * k + i, lesion=lesion)
            (data / folder / f"{i}.png").write_bytes(png_bytes(image))
    return registry, data


def test_explanation_report_cli_writes_json(report_setup, capsys, monkeypatch):
    from model.trust import faithfulness as faithfulness_module
    from training import explanation_report

    registry, data = report_setup
    # The entry is untrained: hiding its films hardly moves its output, so by the real rule none of them
    # could be judged (checked at the end); with no minimum every film counts and the curves are summarised.
    monkeypatch.setattr(faithfulness_module, "MIN_EVIDENCE", -1.0)
    code = explanation_report.main(["--model", "tiny-r", "--data", str(data), "--limit", "3", "--methods",
                                    "gradcam", "--steps", "5", "--sanity-images", "2",
                                    "--registry", str(registry)])
    assert code == 0
    report = json.loads((registry / "tiny-r" / "explanations.json").read_text())
    assert report["model"] == "tiny-r" and report["split"] == "test" and report["methods"] == ["gradcam"]
    assert report["n"] == 3 and len(report["per_image"]) == 3
    assert {row["label"] for row in report["per_image"]} == set(LABELS)  # one test image per class
    assert report["lung_attention"]["overall"] is None and "lung segmentation" in report["lung_attention"]["note"]
    faith = report["faithfulness"]["methods"]["gradcam"]
    assert 0.0 <= faith["deletion_auc"] <= 1.0 and 0.0 <= faith["insertion_auc"] <= 1.0
    # Grad-CAM is judged against random maps on its layer's own grid, the headline chance level too.
    from model.classifier import Classifier
    clf = Classifier.load("tiny-r", registry)
    assert faith["grid"] == max(clf.model.get_layer(clf.card.explain_layer).output.shape[1:3])
    assert report["faithfulness"]["random"] == {"deletion_auc": faith["random_deletion_auc"],
                                                "insertion_auc": faith["random_insertion_auc"]}
    sanity = report["sanity_check"]["methods"]["gradcam"]
    # The entry is an untrained model: its scrambled copy must still give different maps.
    assert set(sanity) >= {"spearman", "flagged"} and sanity["spearman"] < 0.99
    assert report["timing"]["total_s"] > 0 and report["date"]
    assert "layer" not in report  # without --layer: the card layer's report, as before the option existed
    out = capsys.readouterr().out
    assert "Explanation report for tiny-r" in out and "explanations.json" in out and " at layer " not in out

    # --sanity-only redoes the sanity check alone, on the same images: the rest of the report stays.
    code = explanation_report.main(["--model", "tiny-r", "--data", str(data), "--limit", "3", "--methods",
                                    "gradcam", "--sanity-images", "2", "--registry", str(registry), "--sanity-only"])
    assert code == 0
    again = json.loads((registry / "tiny-r" / "explanations.json").read_text())
    assert again["sanity_date"] and again["sanity_check"]["n"] == 2
    assert again["sanity_check"]["methods"]["gradcam"]["spearman"] == pytest.approx(sanity["spearman"], abs=1e-6)
    assert {k: v for k, v in again.items() if k not in ("sanity_check", "timing", "sanity_date", "date")} == \
        {k: v for k, v in report.items() if k not in ("sanity_check", "timing", "date")}
    # --faithfulness-only recomputes the summary from the stored per-image figures, without a model run:
    # the same figures give the same summary; a changed judging rule changes only the verdicts.
    path = registry / "tiny-r" / "explanations.json"
    assert again["faithfulness"]["margin"] == 0.01
    path.write_text(json.dumps({**again, "faithfulness": {**again["faithfulness"], "methods": {
        "gradcam": {**again["faithfulness"]["methods"]["gradcam"], "better_than_random_share": -1.0}}}}))
    assert explanation_report.main(["--model", "tiny-r", "--data", "unused", "--registry", str(registry),
                                    "--faithfulness-only"]) == 0
    refreshed = json.loads(path.read_text())
    assert refreshed["faithfulness"] == again["faithfulness"]
    assert {k: v for k, v in refreshed.items() if k != "faithfulness"} == {k: v for k, v in again.items() if k != "faithfulness"}
    # Each film's evidence: its answer's probability on the film (the card's figure) and on its hidden copy.
    for row in report["per_image"]:
        assert row["evidence"]["film"] == pytest.approx(row["confidence"], abs=1e-5)
    faith_all = report["faithfulness"]
    assert faith_all["measured"] + faith_all["not_measurable"] == 3
    # A report made before evidence was stored: --faithfulness-only scores the same films again (two passes
    # each) and finds the same evidence; without readable data it says so in one line.
    old_rows = [{k: v for k, v in row.items() if k != "evidence"} for row in refreshed["per_image"]]
    path.write_text(json.dumps({**refreshed, "per_image": old_rows}))
    assert explanation_report.main(["--model", "tiny-r", "--data", "unused", "--registry", str(registry),
                                    "--faithfulness-only"]) == 2
    assert "error:" in capsys.readouterr().err
    assert explanation_report.main(["--model", "tiny-r", "--data", str(data), "--limit", "3", "--registry",
                                    str(registry), "--faithfulness-only"]) == 0
    rescored = json.loads(path.read_text())
    for row, before in zip(rescored["per_image"], refreshed["per_image"]):
        assert row["evidence"] == pytest.approx(before["evidence"], abs=1e-5)
    assert rescored["faithfulness"]["measured"] == refreshed["faithfulness"]["measured"] == 3
    monkeypatch.undo()
    assert explanation_report.main(["--model", "tiny-r", "--data", "unused", "--registry", str(registry),
                                    "--faithfulness-only"]) == 0
    strict = json.loads(path.read_text())["faithfulness"]
    assert strict["measured"] == 0 and strict["not_measurable"] == 3 and strict["min_evidence"] == 0.05
    assert strict["methods"]["gradcam"]["deletion_auc"] is None
    # Without a report to update it says so, in one line.
    path.unlink()
    capsys.readouterr()
    for flag in ("--sanity-only", "--faithfulness-only"):
        assert explanation_report.main(["--model", "tiny-r", "--data", str(data), "--registry", str(registry),
                                        flag]) == 2
        assert "has no explanation report to update" in capsys.readouterr().err


def test_explanation_report_of_one_ensemble_network_goes_to_its_own_file(report_setup, capsys, monkeypatch, tmp_path):
    """--layer explains another layer the dashboard offers (here one network of a two-channel ensemble);
    such a report needs --out, records its layer and leaves the registry's report alone."""
    from model.classifier import Classifier
    from model.trust import faithfulness as faithfulness_module
    from tests.support import write_two_channel_entry
    from training import explanation_report

    registry, data = report_setup
    write_two_channel_entry(registry, "two-r")
    monkeypatch.setattr(faithfulness_module, "MIN_EVIDENCE", -1.0)  # untrained: judge every film's curves
    common = ["--model", "two-r", "--data", str(data), "--limit", "3", "--methods", "gradcam", "--steps", "4",
              "--sanity-images", "2", "--registry", str(registry)]
    registry_file = registry / "two-r" / "explanations.json"
    out = tmp_path / "studies" / "two-r-m1.json"
    assert explanation_report.main([*common, "--layer", "m1_conv2", "--out", str(out)]) == 0
    assert not registry_file.exists()
    report = json.loads(out.read_text())
    assert report["layer"] == "m1_conv2" and report["layer_label"].startswith("network 1")
    assert report["n"] == 3 and report["lung_attention"]["segmenter"] == "fixed-lungs"
    assert 0.0 <= report["lung_attention"]["overall"] <= 1.0
    # The maps, their chance level and the sanity check are the chosen layer's: its own grid (S/4 = 8).
    clf = Classifier.load("two-r", registry)
    assert report["faithfulness"]["methods"]["gradcam"]["grid"] == 8
    assert report["sanity_check"]["n"] == 2
    printed = capsys.readouterr().out
    assert "at layer m1_conv2 (network 1" in printed and str(out) in printed
    # The same films explained at the other network's layer give other maps, so other lung shares.
    other = tmp_path / "studies" / "two-r-m2.json"
    assert explanation_report.main([*common, "--layer", "m2_conv2", "--out", str(other)]) == 0
    second = json.loads(other.read_text())
    assert [r["label"] for r in second["per_image"]] == [r["label"] for r in report["per_image"]]
    assert [r["lung_fraction"] for r in second["per_image"]] != [r["lung_fraction"] for r in report["per_image"]]

    def refused(argv, words):
        capsys.readouterr()
        assert explanation_report.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and words in err, err
        assert not registry_file.exists()

    # Another layer than the card's without --out, or with --out naming the registry's file: refused.
    refused([*common, "--layer", "m1_conv2"], "needs --out")
    refused([*common, "--layer", "m1_conv2", "--out", str(registry_file)], "needs --out")
    # A layer the dashboard does not offer (a pooled layer, a made-up name): named as such.
    for name in ("gap", "m9_nothing"):
        refused([*common, "--layer", name, "--out", str(out)], "is not one the dashboard offers for model 'two-r'")
    # The partial updates work on the registry's card-layer report only.
    refused([*common, "--layer", "m1_conv2", "--out", str(out), "--sanity-only"], "--sanity-only")
    refused([*common, "--out", str(out), "--faithfulness-only"], "--faithfulness-only")
    # The card's own layer, named: the registry's report, as without --layer, recording the layer.
    assert clf.card.explain_layer == "ensemble_features"
    assert explanation_report.main([*common, "--layer", "ensemble_features"]) == 0
    assert json.loads(registry_file.read_text())["layer"] == "ensemble_features"


def test_explanation_report_measures_lung_attention(report_setup):
    from model.classifier import Classifier
    from model.labelled_data import read_dataset
    from training.explanation_report import ReportSettings, build_explanation_report, format_summary

    registry, data = report_setup

    class KnownLungs:
        """Stands in for a LungSegmenter: the synthetic lung fields, on the image's own grid."""

        card = type("Card", (), {"id": "known-lungs"})()

        def mask(self, pixels):
            return lung_mask(pixels.shape[0])

    clf = Classifier.load("tiny-r", registry)
    settings = ReportSettings(methods=("gradcam", "gradcam++"), limit=2, steps=4, sanity_images=0)
    report = build_explanation_report(clf, read_dataset(data), KnownLungs(), settings)
    lungs = report["lung_attention"]
    assert report["n"] == 2 and lungs["segmenter"] == "known-lungs"
    assert 0.0 <= lungs["overall"] <= 1.0 and lungs["implausible_masks"] == 0
    assert sum(v["n"] for v in lungs["per_class"].values()) == 2
    assert set(report["method_agreement"]["pairs"]) == {"gradcam vs gradcam++"}
    assert report["sanity_check"] is None
    assert "Lung attention (gradcam" in format_summary(report)


def test_faithfulness_summary_leaves_out_films_no_map_can_be_judged():
    """A film whose hidden copy scores its answer about as high (Diagnose: "not measurable") does not count,
    whatever its curves say; the summary says how many films were judged."""
    from model.trust.explanations import FaithfulnessSummary
    from training.explanation_report import _faithfulness_summary

    def row(film, hidden, deletion):
        return {"evidence": {"film": film, "hidden": hidden}, "random": {"deletion_auc": 0.5, "insertion_auc": 0.5},
                "methods": {"gradcam": {"deletion_auc": deletion, "insertion_auc": 0.8, "random_deletion_auc": 0.5,
                                        "random_insertion_auc": 0.5, "grid": 5}}}

    rows = [row(0.9, 0.2, 0.6), row(0.7, 0.95, 0.2), row(0.6, 0.58, 0.2)]  # judged but worse; two unjudged
    summary = _faithfulness_summary(rows, ["gradcam"], 10)
    assert summary["measured"] == 1 and summary["not_measurable"] == 2
    assert summary["methods"]["gradcam"]["better_than_random_share"] == 0.0
    assert summary["methods"]["gradcam"]["deletion_auc"] == pytest.approx(0.6)
    typed = FaithfulnessSummary.from_dict(summary)
    assert typed.judged_sentence().startswith("Judged on 1 of 3 films: on the other 2,")
    assert summary["min_evidence"] == 0.05 and "by less than 5 points" in typed.judged_sentence()
    # The sentence names the rule the report was judged by, not today's constant.
    stricter = FaithfulnessSummary.from_dict({**summary, "min_evidence": 0.1})
    assert stricter.min_evidence == 0.1 and "by less than 10 points" in stricter.judged_sentence()
    assert FaithfulnessSummary.from_dict({**summary, "not_measurable": 0}).judged_sentence() is None
    none = FaithfulnessSummary.from_dict(_faithfulness_summary(rows[1:], ["gradcam"], 10))
    assert none.measured == 0 and none.verdict("gradcam") == "not measurable"
    # Rows of older reports (no evidence) count as judged, as they were.
    legacy = [{k: v for k, v in r.items() if k != "evidence"} for r in rows]
    assert _faithfulness_summary(legacy, ["gradcam"], 10)["measured"] == 3


def test_select_records_takes_classes_in_turn():
    from model.labelled_data import LabelledImage
    from training.explanation_report import select_records

    records = [LabelledImage(f"{label}{i}.png", label, f"{label}{i}") for label, count in
               (("Normal", 20), ("COVID-19", 2), ("Pneumonia", 5), ("Lung_Opacity", 5)) for i in range(count)]
    chosen = select_records(records, LABELS, limit=7, seed=1)
    counts = {label: sum(r.label == label for r in chosen) for label in LABELS + ["Lung_Opacity"]}
    assert counts == {"COVID-19": 2, "Normal": 3, "Pneumonia": 2, "Lung_Opacity": 0}
    assert select_records(records, LABELS, limit=7, seed=1) == chosen
    with pytest.raises(ValueError, match="limit"):
        select_records(records, LABELS, limit=0)


def test_input_check_reads_colourfulness_recorded_by_the_intake():
    import io

    from PIL import Image

    from model.inputs.intake import load_xray

    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(buffer, format="PNG")
    xray = load_xray(buffer.getvalue())
    check = input_check(xray.pixels, xray.metadata)
    assert not check.ok and any("colour" in w for w in check.warnings)


# --------------------------------------------------------------------------- typed results


def test_typed_results_round_trip_through_their_dicts(patch_model):
    from model.trust.agreement import Agreement
    from model.trust.attention import LungAttention
    from model.trust.faithfulness import Faithfulness
    from model.trust.input_check import InputCheck
    from model.trust.uncertainty import Uncertainty

    x = patch_image()
    results = [faithfulness(patch_model, x, patch_map(), 0, steps=4, random_orders=RandomOrders(1)),
               tta_uncertainty(patch_model, x, n=4),
               method_agreement({"gradcam": patch_map(), "scorecam": 1.0 - patch_map()}),
               lung_attention(patch_map(), patch_map() > 0.5),
               input_check(synthetic_radiograph(64))]
    for result, kind in zip(results, (Faithfulness, Uncertainty, Agreement, LungAttention, InputCheck)):
        assert isinstance(result, kind)
        assert kind.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert results[2].methods == ["gradcam", "scorecam"]


def test_shipped_explanation_reports_read_as_typed_data():
    from model.registry import EXPLANATIONS_FILE, PACKAGE_REGISTRY, list_cards, read_report
    from model.trust.explanations import ExplanationReport

    ids = [card.id for card in list_cards(root=PACKAGE_REGISTRY)
           if (PACKAGE_REGISTRY / card.id / EXPLANATIONS_FILE).is_file()]
    assert ids, "the shipped classifiers carry explanation reports"
    for model_id in ids:
        values = read_report(model_id, EXPLANATIONS_FILE, PACKAGE_REGISTRY)
        report = ExplanationReport.from_dict(values)
        assert report.model == model_id and report.n > 0
        assert set(report.faithfulness.methods) == set(values["methods"]) == set(report.methods)
        assert report.lung_attention.overall == values["lung_attention"]["overall"]
        again = ExplanationReport.from_dict(report.to_dict())
        assert again == report


def test_triage_holds_back_blocking_findings_and_flags_soft_ones():
    from model.trust.findings import Finding
    from model.trust.input_check import InputCheck
    from model.trust.triage import Triage, triage
    from model.trust.uncertainty import Uncertainty

    sure = Uncertainty({"a": 0.9}, {"a": 0.01}, "a", 0.9, 1.0, 8)
    disagree = Finding("copies_disagree", "uncertain", "model", "Only 50% of copies agree.", {"agreement": 0.5})
    shaky = Uncertainty({"a": 0.5}, {"a": 0.2}, "a", 0.5, 0.5, 8, [disagree])
    photo = input_check(synthetic_radiograph(64), {"colourfulness": 40.0})
    wide = input_check(synthetic_radiograph(64, width=256))
    assert photo.blocking == photo.warnings and wide.blocking == [] and wide.warnings
    flat = input_check(np.full((100, 100), 0.5, np.float32))
    assert flat.blocking == flat.warnings  # no contrast blocks; an unusual shape only calls for care
    assert triage(photo, sure).status == "out_of_scope" and triage(photo, sure).reasons == photo.warnings
    assert triage(wide, sure).status == "uncertain"
    assert triage(InputCheck(), shaky) == Triage("uncertain", [disagree])
    assert triage(InputCheck(), shaky).reasons == ["Only 50% of copies agree."]
    assert triage(InputCheck(), sure) == Triage("answer")
    assert not triage(photo).shows_answer and triage(photo).headline.startswith("Out of scope")
    with pytest.raises(ValueError, match="status"):
        Triage("maybe")
    with pytest.raises(ValueError, match="kind"):
        Finding("looks odd", "uncertain", "image", "?")


def test_an_unstated_plain_film_is_answered_as_an_adults_frontal_film_and_says_so():
    from model.present.text import status_line
    from model.trust.triage import triage
    from model.trust.uncertainty import Uncertainty

    sure = Uncertainty({"a": 0.9}, {"a": 0.01}, "a", 0.9, 1.0, 8)
    plain = triage(input_check(synthetic_radiograph(64)), sure)
    assert plain.status == "answer" and [f.kind for f in plain.assumptions] == ["age_not_known", "view_not_known"]
    assert status_line(plain) == "Answer. Read as an adult's frontal film (age and view not stated)."
    dicom = triage(input_check(synthetic_radiograph(64), {"modality": "DX", "view_position": "PA",
                                                          "patient_age_years": 45}), sure)
    assert dicom.findings == [] and status_line(dicom) == "Answer. No check found a reason to doubt it."
    assert dicom.undoubted and not plain.undoubted
    # A compact view (Compare's column) names what the status line names, but the map's checks.
    from model.present.text import status_notes
    assert status_notes(plain) == ["Read as an adult's frontal film (age and view not stated)."]
    assert status_notes(dicom) == []
    # With an assumption too, the line says the map checked is another class's (its checks are that map's).
    assert status_line(plain, map_class="b", not_run=("occlusion",)) == (
        status_line(plain) + " The map checked explains b, a class the model did not answer. Not made yet: the "
        "occlusion cross-check.")
    # Checks of another class's map (the reader chose to explain it) earn the answer nothing.
    other = status_line(dicom, map_class="b")
    assert other.startswith("Answer. The map checked explains b, a class the model did not answer") and \
        "no reason to doubt" not in other
    # "No reason to doubt" is earned: checks not made yet are named, not passed over.
    from model.present.text import not_run_checks, unavailable_checks
    from model.trust.map_checks import MapChecks
    pending = not_run_checks(MapChecks(attention=object()))
    assert pending == ("faithfulness", "occlusion", "every_method")
    assert unavailable_checks(MapChecks(attention=object())) == ()
    assert status_line(dicom, not_run=pending) == ("Answer. The checks made so far found no reason to doubt it; not "
                                                   "made yet: the map's faithfulness, the occlusion cross-check and "
                                                   "the comparison of every method.")
    # The comparison of every method is a check of its own: the methods looked at so far are not all of them.
    assert not_run_checks(MapChecks(object(), object(), None, 0.3)) == ("every_method",)
    assert not_run_checks(MapChecks(object(), object(), None, 0.3, every_method=True)) == ()
    # Where they cannot be made on the view that shows the line, it says where they can.
    assert status_line(dicom, not_run=("occlusion",), made_where="on Diagnose") == (
        "Answer. The checks made so far found no reason to doubt it; not made yet (on Diagnose): the occlusion "
        "cross-check.")
    assert status_line(plain, not_run=("occlusion",), made_where="on Diagnose").endswith(
        " Not made yet (on Diagnose): the occlusion cross-check.")
    # A check that cannot be made on this film (no lung fields) is named as such, never as one still to make.
    blind = MapChecks(None, object(), None, 0.3, every_method=True)
    assert status_line(dicom, not_run=not_run_checks(blind), unavailable=unavailable_checks(blind)) == (
        "Answer. The checks made found no reason to doubt it; not measurable on this film: where the map lies (no "
        "lung fields to measure it against, or a blank map).")
    # Faithfulness measured but "not measurable" on this film says nothing for the map: not a check passed.
    from types import SimpleNamespace

    unmeasurable = MapChecks(object(), SimpleNamespace(verdict="not measurable"), None, 0.3, every_method=True)
    assert unavailable_checks(unmeasurable) == ("faithfulness",) and not_run_checks(unmeasurable) == ()
    assert "not measurable on this film: the faithfulness of the map of the class explained (hiding regions" in status_line(
        dicom, unavailable=unavailable_checks(unmeasurable))
    # An assumption already stops "no reason to doubt"; the checks not made are still named (an unmeasured
    # map is not a measured one, whatever else the line says).
    assert status_line(plain, not_run=pending) == (status_line(plain) + " Not made yet: the map's faithfulness, "
                                                   "the occlusion cross-check and the comparison of every method.")
    # Before the map's own checks are made (Diagnose draws the status first), nothing is said to be free of
    # doubt; what the triage settled (an assumption, an uncertain or out-of-scope film) is said as it will be.
    from model.present.text import interim_status_line
    assert interim_status_line(dicom) == ("Answer. Its map is being checked; this line says what the checks find "
                                          "when they are made.")
    assert "doubt" not in interim_status_line(dicom)
    assert interim_status_line(plain) == status_line(plain, not_run=pending)


def dicom_plain_undoubted(uncertainty) -> bool:
    """Whether an adult PA DICOM film with this reading is an answer with nothing said against it."""
    from model.trust.triage import triage
    return triage(input_check(synthetic_radiograph(64), {"modality": "DX", "view_position": "PA",
                                                          "patient_age_years": 45}), uncertainty).undoubted


def test_an_answer_whose_copies_fall_below_its_level_is_not_called_free_of_doubt():
    """The review's case: "Answer" led the page beside "Varies: moves ±7.9" for a film whose copies fell below
    the level where the model answers. The status stays an answer (the card's validated rules decide which films
    get one) but names the caution, on Diagnose, in the gallery's dialog and in the report alike."""
    from model.present.text import status_line
    from model.trust.findings import ANSWER_CAUTION
    from model.trust.triage import triage
    from model.trust.uncertainty import uncertainty_of

    near = uncertainty_of(("a", "b"), np.array([[0.81, 0.19]] + [[0.9, 0.1]] * 4 + [[0.7, 0.3], [0.74, 0.26],
                                                                                   [0.66, 0.34]]), 0.783, 0.5)
    dicom = input_check(synthetic_radiograph(64), {"modality": "DX", "view_position": "PA", "patient_age_years": 45})
    result = triage(dicom, near)
    assert result.status == "answer" and result.deciding == [] and result.reasons == []
    assert [f.severity for f in result.answer_cautions] == [ANSWER_CAUTION] and result.map_cautions == []
    caution = "Read the answer with care: 3 of 7 changed copies below the answer level 78.3%."
    assert status_line(result) == f"Answer. {caution}"
    pending = ("faithfulness", "occlusion", "every_method")
    line = status_line(result, not_run=pending)
    assert line.startswith(f"Answer. {caution} Not made yet: the map's faithfulness") and "no reason to doubt" not in line
    from model.present.text import status_notes
    assert status_notes(result) == [caution]
    # Drawn before the map is checked, the line still names the caution (it is the triage's, not the map's).
    from model.present.text import interim_status_line
    assert interim_status_line(result) == line
    # With the assumptions of a plain film: the caution first, then what the answer assumes.
    plain = triage(input_check(synthetic_radiograph(64)), near)
    assert status_line(plain) == f"Answer. {caution} Read as an adult's frontal film (age and view not stated)."
    # Under a status a rule set, the line is that status's, as before.
    odd = triage(input_check(synthetic_radiograph(64, width=256)), near)
    assert odd.status == "uncertain" and "copies below" not in status_line(odd)
    # An uncertain or out-of-scope film has no answer to caution: the caution (which names the class a held-back
    # answer would have given) stays among the findings but is no answer caution (the CLI's "cautions" read these).
    lateral = triage(input_check(synthetic_radiograph(64), {"modality": "DX", "view_position": "LL",
                                                            "patient_age_years": 45}), near)
    for held in (odd, lateral):
        assert "copies_below_level" in [f.kind for f in held.findings] and held.answer_cautions == []
        assert not held.undoubted
    assert lateral.status == "out_of_scope" and result.undoubted is False and dicom_plain_undoubted(near) is False
    # A map caution and an answer caution are each named, each once.
    from model.trust.findings import Finding
    lung = Finding("lung_attention_low", "map_caution", "map", "Little of the map on the lungs.")
    both = status_line(result.with_findings([lung]))
    assert both == f"Answer. {caution} Read the map with care: less of the map on the lungs than the warning level."


@pytest.mark.parametrize("metadata, stated, kind, source", [
    ({"modality": "DX", "view_position": "PA", "patient_age_years": 6}, None, "child", "header"),
    ({"modality": "DX", "view_position": "LL", "patient_age_years": 40}, None, "lateral_view", "header"),
    ({"modality": "DX", "view_position": "LATERAL"}, None, "lateral_view", "header"),
    ({"modality": "CT"}, None, "not_radiograph", "header"),
    ({"modality": "DX", "body_part_examined": "SKULL"}, None, "not_chest", "header"),
    ({}, {"age_years": 8}, "child", "reader"),
    ({}, {"view": "lateral"}, "lateral_view", "reader"),
    ({"patient_age_years": 6}, {"age_years": 40}, "child", "header"),  # the header wins where it speaks
])
def test_scope_facts_put_children_lateral_views_and_other_films_out_of_scope(metadata, stated, kind, source):
    from model.present.text import status_line
    from model.trust.facts import Stated
    from model.trust.triage import triage
    from model.trust.uncertainty import Uncertainty

    sure = Uncertainty({"a": 0.9}, {"a": 0.01}, "a", 0.9, 1.0, 8)
    result = triage(input_check(synthetic_radiograph(64), metadata, stated=Stated(**(stated or {}))), sure)
    assert result.status == "out_of_scope" and not result.shows_answer
    deciding = result.deciding
    assert [(f.kind, f.source) for f in deciding] == [(kind, source)]
    if kind == "lateral_view":  # said as the source said it: a header's code, a reader's plain word
        assert deciding[0].sentence.startswith("The reader gives the view as lateral; the model reads frontal"
                                               if source == "reader" else "The DICOM header gives the view L")
    assert status_line(result).startswith("Out of scope: no answer shown (")
    assert status_line(result, shown_anyway=True).startswith("Out of scope: the output is shown for reference only")


def test_a_film_without_lung_fields_gets_no_anatomy_finding_about_its_lung_fields():
    """"No lung fields were found" was followed by "(shape of the lung fields ... are atypical)": the anatomy
    check measures the lung fields, so without any it says nothing."""
    from model.trust.novelty import Novelty
    from model.trust.triage import triage

    odd = Novelty(12.0, 5.0, 8.0, True, True, "The film looks unlike ... (shape of the lung fields are atypical)",
                  ("shape of the lung fields",))
    no_lungs = input_check(synthetic_radiograph(128), lung_mask=np.zeros((128, 128), bool))
    assert "no_lung_fields" in [f.kind for f in no_lungs.findings]
    assert [f.kind for f in triage(no_lungs, None, odd).findings] == [f.kind for f in no_lungs.findings]
    with_lungs = input_check(synthetic_radiograph(128))
    assert "anatomy_out_of_scope" in [f.kind for f in triage(with_lungs, None, odd).findings]


def test_an_infants_age_and_an_unreadable_age_are_said_as_such():
    from model.trust.facts import Stated, age_words, fact_findings, scope_facts

    assert (age_words(0), age_words(1), age_words(45)) == ("under 1 year", "1 year", "45 years")
    infant = fact_findings(scope_facts({"patient_age_years": 0}))  # a header's "006M"
    assert infant[0].kind == "child" and "the patient's age as under 1 year:" in infant[0].sentence
    unread = fact_findings(scope_facts({"patient_age_years": None, "patient_age_problem": "age_not_in_form"}))
    assert unread[0].kind == "age_not_known" and "not in DICOM's form, such as 045Y, so it could not be read" in (
        unread[0].sentence)
    assert unread[0].values == {"problem": "age_not_in_form"} and unread[0].source == "header"
    later = fact_findings(scope_facts({"patient_age_years": None, "patient_age_problem": "birth_after_study"}))
    assert "a birth date after the study's date" in later[0].sentence
    plain = fact_findings(scope_facts({}))[0]
    assert "DICOM header" not in plain.sentence and plain.values == {} and plain.source == "reader"
    # The reader's statement lifts the header's unusable age: no problem left to tell.
    stated = scope_facts({"patient_age_problem": "age_not_in_form"}, Stated(45))
    assert stated.age_years == 45 and stated.age_problem is None


def test_stated_facts_are_checked():
    from model.trust.facts import Stated, view_of

    assert view_of("PA") == view_of("ap") == view_of("frontal") == "frontal"
    assert view_of("LL") == view_of("lateral") == "lateral" and view_of("") is None
    for bad in ({"age_years": -1}, {"age_years": 200}, {"view": "oblique"}):
        with pytest.raises(ValueError):
            Stated(**bad)
    assert Stated(17).age_years == 17


def test_map_checks_reach_the_status_line_without_changing_whether_the_answer_is_shown():
    from model.present.text import status_line
    from model.trust.agreement import Agreement
    from model.trust.findings import MAP_CAUTION
    from model.trust.map_checks import MapChecks, compare_shown_map, comparison_sentence, map_findings
    from model.trust.triage import triage
    from model.trust.uncertainty import Uncertainty

    sure = Uncertainty({"a": 0.9}, {"a": 0.01}, "a", 0.9, 1.0, 8)
    result = triage(input_check(synthetic_radiograph(64), {"modality": "DX", "view_position": "PA",
                                                            "patient_age_years": 50}), sure)
    checks = MapChecks(attention=lung_attention(patch_map(), np.zeros_like(patch_map(), bool) | (patch_map() < 0.1),
                                                0.5),
                       agreement=Agreement({"gradcam vs occlusion": 0.05}, 0.05), occlusion_similarity=0.1,
                       randomised_similarity=0.8)
    found = map_findings(checks, "Grad-CAM")
    # Grad-CAM against occlusion alone is the occlusion check's own pair: one caution, not two.
    assert [f.kind for f in found] == ["lung_attention_low", "occlusion_disagrees", "randomisation_flagged"]
    assert all(f.severity == MAP_CAUTION and f.group == "map" for f in found)
    final = result.with_findings(found)
    assert final.status == "answer" and final.shows_answer and final.map_cautions == found
    line = status_line(final)
    assert "No check found a reason to doubt it" not in line and "occlusion" in line
    assert " Read the map with care: less of the map on the lungs than the warning level" in line
    # A map of a class the model did not answer: the cautions say which map they are about.
    other = status_line(final, map_class="COVID-19")
    assert " Read the COVID-19 map (a class the model did not answer) with care: less of the map" in other
    assert final.with_findings(found) == final  # each finding once
    assert map_findings(MapChecks()) == []
    # Three methods that disagree: said of the map read, naming the others with their figures.
    three = Agreement({"gradcam vs gradcam++": 0.1, "gradcam vs occlusion": 0.05, "gradcam++ vs occlusion": 0.0},
                      0.05)
    kinds = [f.kind for f in map_findings(MapChecks(agreement=three, occlusion_similarity=0.05, shown="gradcam"))]
    assert kinds == ["methods_disagree", "occlusion_disagrees"]
    disagree = map_findings(MapChecks(agreement=three, shown="gradcam"))[0]
    assert disagree.sentence == ("Grad-CAM agrees little with most of the other methods' maps: Grad-CAM++ (+0.10) "
                                 "draws other regions. Occlusion, the stronger, gradient-free check, draws other "
                                 "regions (+0.05). Trust none of these maps on its own.")
    assert map_findings(MapChecks(agreement=three)) == []  # no map named as read: nothing to judge
    # Most methods agree but occlusion draws other regions: the comparison keeps the cross-check's advice, which
    # the report prints only there (it gives occlusion's figure once).
    mostly = Agreement({"gradcam++ vs gradcam": 0.6, "gradcam++ vs scorecam": 0.5, "gradcam++ vs occlusion": -0.11},
                       0.3)
    comparison = compare_shown_map(mostly, "gradcam++")
    assert not comparison.disagrees
    assert comparison_sentence(comparison).endswith("Occlusion, the stronger, gradient-free check, draws other regions "
                                                    "(-0.11). Trust neither Grad-CAM++'s map nor occlusion's on its own.")
    # Occlusion's map shown after Score-CAM only (Grad-CAM never looked at): the comparison has not Grad-CAM's
    # figure, so the cross-check of Grad-CAM by occlusion still cautions (it was silently lost).
    lost = MapChecks(agreement=Agreement({"scorecam vs occlusion": 0.6}, 0.6), occlusion_similarity=0.05,
                     shown="occlusion", occlusion_against="gradcam")
    assert [f.kind for f in map_findings(lost)] == ["occlusion_disagrees"]
    # One other map: said of that map, not of "most of the other methods' maps".
    single = map_findings(MapChecks(agreement=Agreement({"gradcam vs scorecam": 0.1}, 0.1), shown="gradcam"))
    assert single[0].sentence.startswith("Grad-CAM agrees little with the other map compared: Score-CAM (+0.10) draws")
    # ... and when the comparison has it but most maps agree with occlusion's, the cross-check cautions too.
    agreeing = Agreement({"gradcam vs occlusion": 0.05, "scorecam vs occlusion": 0.6, "smoothgrad vs occlusion": 0.5,
                          "gradcam vs scorecam": 0.1, "gradcam vs smoothgrad": 0.1, "scorecam vs smoothgrad": 0.4}, 0.3)
    assert [f.kind for f in map_findings(MapChecks(agreement=agreeing, occlusion_similarity=0.05, shown="occlusion",
                                                   occlusion_against="gradcam"))] == ["occlusion_disagrees"]
    # Occlusion's own map shown beside Grad-CAM alone: the same pair as the occlusion cross-check, said once by it.
    pair = MapChecks(agreement=Agreement({"gradcam vs occlusion": 0.05}, 0.05), occlusion_similarity=0.05,
                     shown="occlusion", occlusion_against="gradcam")
    assert [f.kind for f in map_findings(pair)] == ["occlusion_disagrees"]
    # With a third map the comparison judges occlusion's map, Grad-CAM's figure among the others: one caution.
    both = map_findings(MapChecks(agreement=three, occlusion_similarity=0.05, shown="occlusion",
                                  occlusion_against="gradcam"))
    assert [f.kind for f in both] == ["methods_disagree"] and "Grad-CAM (+0.05)" in both[0].sentence



def test_identical_maps_are_grouped_by_one_rule_for_the_summary_and_the_comparison():
    """`Agreement.distinct` is the one rule: the all-methods summary groups in the order compared, the comparison of
    the map read puts that map first. Near the SAME_MAP line similarity is not transitive (Grad-CAM++ is a copy of
    both others, they are not copies of each other): which map anchors a group then decides the groups."""
    from model.policy import SAME_MAP
    from model.present.method_grid import summarise_agreement
    from model.trust.agreement import Agreement
    from model.trust.map_checks import compare_shown_map

    chain = Agreement({"gradcam vs gradcam++": 0.997, "gradcam vs layercam": 0.9, "gradcam++ vs layercam": 0.996,
                       "gradcam vs occlusion": 0.2, "gradcam++ vs occlusion": 0.2, "layercam vs occlusion": 0.999},
                      0.7)
    assert chain.distinct(SAME_MAP) == (("gradcam", "gradcam++"), ("layercam", "occlusion"))
    assert chain.distinct(SAME_MAP, ["layercam", "gradcam", "gradcam++"]) == (("layercam", "gradcam++"), ("gradcam",))
    assert summarise_agreement(chain).maps == 2
    # LayerCAM read: its copy is Grad-CAM++ (counted once, with its figure), Grad-CAM is another map; occlusion is
    # judged apart, never folded into a group, however alike.
    read = compare_shown_map(chain, "layercam")
    assert (read.same, read.agree, read.differ, read.occlusion) == ((("gradcam++", 0.996),), ((("gradcam",), 0.9),),
                                                                    (), 0.999)
    # Grad-CAM read: Grad-CAM++ is its copy, LayerCAM another map, as the summary groups them.
    first = compare_shown_map(chain, "gradcam")
    assert first.same == (("gradcam++", 0.997),) and first.agree == ((("layercam",), 0.9),)


def test_the_comparison_of_methods_takes_the_maps_of_one_layer_and_the_report_names_it():
    """A map of another layer is never compared; a method without a layer draws one map at every layer. The report
    names the layer of the maps compared, also beside a map without a layer (occlusion's own)."""
    from model.explain.base import Explanation
    from model.present.check_lines import map_note
    from model.trust.agreement import Agreement
    from model.trust.map_checks import MapChecks, maps_at_layer

    heat = {name: np.full((4, 4), i, np.float32) for i, name in enumerate("abcde")}
    seen = {("gradcam", "conv"): heat["a"], ("occlusion", None): heat["b"], ("gradcam++", "stem"): heat["c"],
            ("gradcam++", "conv"): heat["d"], ("smoothgrad", None): heat["e"]}
    at_conv = maps_at_layer(seen, "conv")
    assert list(at_conv) == ["gradcam", "occlusion", "gradcam++", "smoothgrad"] and at_conv["gradcam++"] is heat["d"]
    assert list(maps_at_layer(seen, "stem")) == ["occlusion", "gradcam++", "smoothgrad"]
    assert maps_at_layer(seen, "stem")["gradcam++"] is heat["c"]
    assert list(maps_at_layer({}, "conv")) == []

    occlusion = Explanation(heat["b"], "occlusion", 0, "COVID-19", None)
    with_gradcam = MapChecks(agreement=Agreement({"occlusion vs gradcam": 0.2}, 0.2), shown="occlusion")
    assert map_note(occlusion, "block 4", with_gradcam) == ("The map explains the class COVID-19; the maps it was "
                                                           "compared with were taken at the layer block 4, where "
                                                           "their method uses one.")
    cross_checked = MapChecks(occlusion_similarity=0.1, shown="occlusion", occlusion_against="gradcam")
    assert cross_checked.layer_maps_compared and not MapChecks(shown="occlusion").layer_maps_compared
    assert not MapChecks(agreement=Agreement({"occlusion vs smoothgrad": 0.2}, 0.2)).layer_maps_compared
    assert map_note(occlusion, "block 4", MapChecks()) == "The map explains the class COVID-19."
    gradcam = Explanation(heat["a"], "gradcam", 0, "COVID-19", "conv")
    assert map_note(gradcam, "block 4", with_gradcam) == "The map explains the class COVID-19 at the layer block 4."
    # A layer of one network of an ensemble: the report says what the page's caption says (it did not).
    assert map_note(gradcam, "network 1, block 4", with_gradcam, member=1) == (
        "The map explains the class COVID-19 at the layer network 1, block 4. This layer belongs to network 1 only: "
        "the map explains that network's part of the ensemble, not the ensemble's answer as a whole.")

def test_faithfulness_judges_deletion_and_insertion_each_against_chance():
    from model.trust.faithfulness import _faithfulness_summary, faithfulness_verdict

    chance = {"deletion_auc": 0.5, "insertion_auc": 0.5}
    assert faithfulness_verdict(True, True) == "faithful"
    assert faithfulness_verdict(True, False) == faithfulness_verdict(False, True) == "mixed"
    assert faithfulness_verdict(False, False) == "not better than random"
    mixed = _faithfulness_summary({"deletion_auc": 0.3, "insertion_auc": 0.45}, chance)
    assert mixed.startswith("Mixed: one of the two tests passed. Passed: hiding the regions")
    assert ". Not passed: revealing them brings it less high than revealing" in mixed
    other = _faithfulness_summary({"deletion_auc": 0.6, "insertion_auc": 0.6}, chance)
    assert other.startswith("Mixed: one of the two tests passed. Passed: revealing the regions the map ranks first "
                            "brings the probability higher")
    assert "Not passed: hiding them keeps it higher than hiding random regions does" in other
    assert "worse than random region orders on hiding and revealing" in _faithfulness_summary(
        {"deletion_auc": 0.6, "insertion_auc": 0.4}, chance)
    assert "does not rank" in _faithfulness_summary({"deletion_auc": 0.495, "insertion_auc": 0.505}, chance)


def test_the_status_name_of_a_poor_map_follows_the_sign_of_its_detail():
    """The review's status read "the map is no better than random" while the detail below said it "ranks the
    evidence worse than random": the short name is worse than random exactly when the detail is."""
    from model.present.text import names_of
    from model.trust.faithfulness import Faithfulness, _faithfulness_summary
    from model.trust.map_checks import MapChecks, map_findings

    def named(deletion, insertion):
        mapped, chance = {"deletion_auc": deletion, "insertion_auc": insertion}, {"deletion_auc": 0.54,
                                                                                   "insertion_auc": 0.56}
        summary = _faithfulness_summary(mapped, chance)
        faith = Faithfulness(deletion, insertion, 0.54, 0.56, {}, False, summary)
        return names_of(map_findings(MapChecks(faithfulness=faith))), summary

    name, detail = named(0.58, 0.36)  # the review's film: worse on hiding and revealing
    assert name == "the map is worse than random" and "ranks the evidence worse than random" in detail
    name, detail = named(0.545, 0.555)  # within the margin on both: level with chance, not worse
    assert name == "the map is no better than random" and "worse" not in detail
    name, detail = named(0.60, 0.565)  # worse on hiding, level on revealing
    assert name == "the map is worse than random" and "worse than random region orders on hiding (" in detail


def test_a_map_beats_chance_only_by_more_than_the_noise_of_random_orders():
    """0.401 against 0.400 is not evidence: each curve must beat chance by more than CHANCE_MARGIN, in the
    single-film check, in a report's per-method verdict and in the report's per-film wins alike."""
    from model.trust.explanations import FaithfulnessSummary
    from model.trust.faithfulness import CHANCE_MARGIN, Faithfulness, beats_chance, is_better_than_random

    assert CHANCE_MARGIN == 0.01
    assert beats_chance(0.38, 0.40, "deletion") and not beats_chance(0.395, 0.40, "deletion")
    assert not beats_chance(0.41, 0.40, "deletion")
    assert beats_chance(0.42, 0.40, "insertion") and not beats_chance(0.405, 0.40, "insertion")
    with pytest.raises(ValueError):
        beats_chance(0.1, 0.2, "both")
    level = {"deletion_auc": 0.40, "insertion_auc": 0.40}
    assert not is_better_than_random({"deletion_auc": 0.399, "insertion_auc": 0.50}, level)
    assert is_better_than_random({"deletion_auc": 0.35, "insertion_auc": 0.45}, level)
    film = Faithfulness(0.395, 0.45, 0.40, 0.40, {}, False, "")
    assert (film.deletion_better, film.insertion_better, film.verdict) == (False, True, "mixed")
    report = FaithfulnessSummary.from_dict({"random": {"deletion_auc": 0.40, "insertion_auc": 0.40}, "methods": {
        "near": {"deletion_auc": 0.396, "insertion_auc": 0.404}, "clear": {"deletion_auc": 0.36, "insertion_auc": 0.47}}})
    assert report.verdict("near") == "not better than random" and report.verdict("clear") == "faithful"


# --------------------------------------------------------------------------- scope (novelty) check


def _varied_film(rng, size=96, lung_scale=1.0, centre_y=0.5):
    """A synthetic adult-like film and its lung mask, with anatomy varying a little between films."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.where(((xx - 0.5) / 0.45) ** 2 + ((yy - 0.55) / 0.5) ** 2 < 1, 0.75 + rng.normal(0, 0.03), 0.1)
    mask = np.zeros((size, size), bool)
    spread, rx, ry = rng.uniform(0.17, 0.19), rng.uniform(0.12, 0.15) * lung_scale, rng.uniform(0.27, 0.32) * lung_scale
    for cx in (0.5 - spread, 0.5 + spread):
        lung = ((xx - cx) / rx) ** 2 + ((yy - centre_y) / ry) ** 2 < 1
        mask |= lung
        image = np.where(lung, 0.25 + rng.normal(0, 0.03), image)
    return np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1).astype(np.float32), mask


def _novelty_model():
    from model.trust.novelty import NoveltyModel, anatomy_features

    rng = np.random.default_rng(0)
    train = [anatomy_features(*_varied_film(rng)) for _ in range(80)]
    validation = [anatomy_features(*_varied_film(rng)) for _ in range(40)]
    return NoveltyModel.fit(np.array(train), np.array(validation), {"data": "synthetic"}), rng


def test_the_novelty_check_flags_films_unlike_its_training_films():
    from model.trust.novelty import NoveltyModel, anatomy_features

    model, rng = _novelty_model()
    typical = [model.assess(anatomy_features(*_varied_film(rng))) for _ in range(40)]
    assert np.mean([n.out_of_scope for n in typical]) <= 0.05 and np.mean([n.unusual for n in typical]) <= 0.2
    film, mask = _varied_film(rng)
    inverted = model.assess(anatomy_features(1.0 - film, mask))
    small_high = model.assess(anatomy_features(*_varied_film(rng, lung_scale=0.6, centre_y=0.35)))
    blank = model.assess(anatomy_features(np.linspace(0, 1, 96 * 96, dtype=np.float32).reshape(96, 96),
                                          np.zeros((96, 96), bool)))
    for result in (inverted, small_high, blank):
        assert result.out_of_scope and result.unusual and result.score > model.out_of_scope_threshold
        assert result.reason.startswith("The film looks unlike the adult frontal chest X-rays")
    assert typical[0].reason == "" or typical[0].unusual
    again = NoveltyModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(again.scores(anatomy_features(film, mask)), model.scores(anatomy_features(film, mask)))
    with pytest.raises(ValueError, match="features"):
        NoveltyModel.fit(np.zeros((5, 3)), np.zeros((5, 3)))


def test_assess_gives_one_triage_per_image_with_the_scope_check(tmp_path):
    from model.classifier import Classifier
    from model.inputs.intake import Xray
    from model.trust.scope import Scope, read_scope
    from model.trust.triage import assess
    from tests.support import tiny_classifier, write_tiny_entry

    model, layer = tiny_classifier(image_size=32)
    clf = Classifier(card("tiny-scope", 32, layer), model)
    novelty, rng = _novelty_model()
    scope = Scope(novelty, 0.3, 0.5, {"note": "synthetic"})
    film, mask = _varied_film(rng)
    typical = assess(clf, Xray(film, {}), mask, scope)
    inverted = assess(clf, Xray(1.0 - film, {}), mask, scope)
    assert typical.triage.status in ("answer", "uncertain") and typical.novelty is not None
    assert inverted.triage.status == "out_of_scope" and inverted.triage.reasons
    assert inverted.prediction.probabilities.shape == (3,)  # the output is kept, only held back
    assert assess(clf, Xray(film, {}), mask, None).novelty is None
    write_tiny_entry(tmp_path, "tiny-scope")
    assert read_scope("tiny-scope", tmp_path) is None
    (tmp_path / "tiny-scope" / "scope.json").write_text(json.dumps(scope.to_dict()))
    assert read_scope("tiny-scope", tmp_path).lung_attention_threshold == 0.3


def _six_maps(changed: dict | None = None):
    """Six methods' agreement as the review measured it with v3 on normal-34d74cde24d3 (Grad-CAM shown):
    Grad-CAM++ and LayerCAM the same map, Score-CAM and SmoothGrad drawing other regions, every pair's mean
    below LOW_AGREEMENT; `changed` ({"gradcam vs occlusion": 0.2}) replaces pairs."""
    from itertools import combinations

    from model.trust.agreement import Agreement

    pairs = {f"{a} vs {b}": 0.0 for a, b in combinations(
        ("gradcam", "gradcam++", "layercam", "scorecam", "smoothgrad", "occlusion"), 2)}
    pairs.update({"gradcam vs gradcam++": 0.72, "gradcam vs layercam": 0.72, "gradcam vs scorecam": 0.05,
                  "gradcam vs smoothgrad": 0.10, "gradcam vs occlusion": 0.65, "gradcam++ vs layercam": 1.0,
                  "gradcam++ vs occlusion": 0.42, "layercam vs occlusion": 0.42, "scorecam vs smoothgrad": -0.28,
                  "gradcam++ vs scorecam": 0.31, "layercam vs scorecam": 0.31})
    pairs.update(changed or {})
    return Agreement(pairs, float(np.mean(list(pairs.values()))))


FAITHFUL = SimpleNamespace(verdict="faithful", summary="The map ranks the evidence better than random region orders "
                                                       "(average probability while hiding 0.40 against 0.55 for random "
                                                       "regions, while revealing 0.58 against 0.45).")


def check_sentences(checks, findings=()) -> dict[str, str]:
    """{title: sentence} of the report's lines on the map checks made."""
    from model.present.check_lines import report_check_lines

    return {title: sentence for title, sentence, _ in report_check_lines(checks, findings)}


def test_the_comparison_of_methods_judges_the_map_read_not_the_mean_of_every_pair():
    """The review's case: faithful, occlusion +0.65 with Grad-CAM, Score-CAM and SmoothGrad low, Grad-CAM++ =
    LayerCAM. The mean of every pair is below the line, yet the map read agrees with occlusion and with the one
    Grad-CAM++/LayerCAM map: no caution, and the comparison says who agrees and who does not, with figures."""
    from model.policy import LOW_AGREEMENT
    from model.present.text import status_line
    from model.trust.map_checks import MapChecks, map_findings
    from model.trust.triage import triage
    from model.trust.uncertainty import Uncertainty

    agreement = _six_maps()
    assert agreement.mean < LOW_AGREEMENT  # the old rule cautioned here: "trust none of the maps"
    checks = MapChecks(faithfulness=FAITHFUL, agreement=agreement, occlusion_similarity=0.65, every_method=True,
                       shown="gradcam")
    assert map_findings(checks, "Grad-CAM") == []
    sure = Uncertainty({"a": 0.9}, {"a": 0.01}, "a", 0.9, 1.0, 8)
    result = triage(input_check(synthetic_radiograph(64), {"modality": "DX", "view_position": "PA",
                                                            "patient_age_years": 50}), sure)
    assert "with care" not in status_line(result.with_findings(map_findings(checks, "Grad-CAM")))
    lines = check_sentences(checks)
    assert lines["Every method compared"] == (
        "Grad-CAM agrees with Grad-CAM++ and LayerCAM (one map, +0.72); Score-CAM (+0.05) and SmoothGrad (+0.10) "
        "draw other regions. Occlusion, the stronger, gradient-free check, agrees (+0.65).")
    assert lines["Faithfulness"] == FAITHFUL.summary and "Occlusion cross-check" not in lines  # its figure said once
    alone = check_sentences(MapChecks(faithfulness=FAITHFUL, occlusion_similarity=0.65, shown="gradcam"))
    assert alone["Occlusion cross-check"] == "Similarity to Grad-CAM: +0.65 (moderate agreement)."
    # Grad-CAM++ read: LayerCAM is its own map, counted once; occlusion is named against Grad-CAM++.
    plus = MapChecks(faithfulness=FAITHFUL, agreement=agreement, occlusion_similarity=0.42, every_method=True,
                     shown="gradcam++", occlusion_against="gradcam++")
    assert map_findings(plus, "Grad-CAM++") == []
    assert check_sentences(plus)["Every method compared"] == (
        "Grad-CAM++ agrees with Grad-CAM (+0.72) and weakly with Score-CAM (+0.31); SmoothGrad (0.00) draws other "
        "regions; LayerCAM draws the same map (+1.00), counted once. Occlusion, the stronger, gradient-free check, "
        "agrees (+0.42).")
    assert check_sentences(replace(plus, agreement=None))["Occlusion cross-check"] == (
        "Similarity to Grad-CAM++: +0.42 (moderate agreement).")


@pytest.mark.parametrize("shown, figure, words, cautioned", [
    ("gradcam", "2 of 4", "half agree", False),     # Grad-CAM++/LayerCAM and occlusion agree; two others do not
    ("gradcam++", "3 of 4", "most agree", False),   # LayerCAM is its own map, counted nowhere
    ("scorecam", "1 of 4", "most draw other regions", True),
    ("smoothgrad", "0 of 4", "none agree", True),
])
def test_the_headline_badge_caution_and_sentence_of_the_comparison_agree(shown, figure, words, cautioned):
    """The trust tab's headline counts what the caution counts and words it by the caution's rule: on the
    review's film the mean of every pair is low (it read "+0.28, little agreement" over a sentence and a
    status without caution); Grad-CAM's and Grad-CAM++'s maps agree with half or more of the other distinct
    maps (no caution), Score-CAM's and SmoothGrad's with fewer (cautioned), and every view says the same."""
    from model.explain import method_label as label_of
    from model.policy import LOW_AGREEMENT
    from model.present.method_grid import summarise_agreement
    from model.present.text import names_of
    from model.trust.map_checks import MapChecks, comparison_headline, comparison_sentence, map_findings, shown_comparison

    agreement = _six_maps()
    assert agreement.mean < LOW_AGREEMENT and summarise_agreement(agreement).mean < LOW_AGREEMENT
    checks = MapChecks(faithfulness=FAITHFUL, agreement=agreement, every_method=True, shown=shown,
                       occlusion_similarity=agreement.similarity(shown, "occlusion"), occlusion_against=shown)
    comparison = shown_comparison(checks)
    label, shown_figure, shown_words = comparison_headline(comparison)
    assert (shown_figure, shown_words) == (figure, words)
    assert label.startswith("Other maps agreeing with ") and label.endswith(label_of(shown))
    findings = map_findings(checks, label_of(shown))
    assert ("methods_disagree" in [f.kind for f in findings]) == cautioned == comparison.disagrees
    assert ("most other methods draw other regions" in names_of(findings)) == cautioned
    sentence = comparison_sentence(comparison, faithful=True)
    assert ("agrees little with most of the other methods' maps" in sentence) == cautioned
    assert (shown_words in ("agrees", "all agree", "most agree", "half agree")) == (not cautioned)


def test_the_headline_of_one_other_map_follows_the_check_that_judges_that_pair():
    """Occlusion the only other map: its own cross-check cautions below LOW_AGREEMENT, and the headline's
    words turn there too; a map identical to the one shown is named, not counted."""
    from model.policy import LOW_AGREEMENT
    from model.trust.agreement import Agreement
    from model.trust.map_checks import MapChecks, comparison_headline, map_findings, shown_comparison

    for similarity in (LOW_AGREEMENT - 0.01, LOW_AGREEMENT):
        checks = MapChecks(agreement=Agreement({"gradcam vs occlusion": similarity}, similarity),
                           occlusion_similarity=similarity, shown="gradcam")
        _, figure, words = comparison_headline(shown_comparison(checks))
        cautioned = [f.kind for f in map_findings(checks)] == ["occlusion_disagrees"]
        assert (figure, words) == (("0 of 1", "draws other regions") if cautioned else ("1 of 1", "agrees"))
        assert cautioned == (similarity < LOW_AGREEMENT)
    same = shown_comparison(MapChecks(agreement=Agreement({"gradcam++ vs layercam": 1.0}, 1.0), shown="gradcam++"))
    assert comparison_headline(same)[1:] == ("none to compare", "LayerCAM draws the same map")


def test_the_comparison_cautions_when_most_other_maps_draw_other_regions_and_words_it_for_what_was_found():
    from model.present.check_lines import report_check_lines
    from model.present.text import names_of
    from model.trust.map_checks import MapChecks, map_findings

    # Grad-CAM++/LayerCAM, Score-CAM and SmoothGrad all low: three of the four other distinct maps.
    low = {"gradcam vs gradcam++": 0.05, "gradcam vs layercam": 0.05}
    lonely = _six_maps(low)
    backed = MapChecks(faithfulness=FAITHFUL, agreement=lonely, occlusion_similarity=0.65, every_method=True,
                       shown="gradcam")
    [finding] = map_findings(backed, "Grad-CAM")
    assert finding.kind == "methods_disagree" and finding.severity == "map_caution"
    assert finding.sentence == (
        "Grad-CAM agrees little with most of the other methods' maps: Grad-CAM++ and LayerCAM (one map, +0.05), "
        "Score-CAM (+0.05) and SmoothGrad (+0.10) draw other regions. Occlusion, the stronger, gradient-free check, "
        "agrees (+0.65) and the map passed its faithfulness test: those two checks back the regions it marks, though "
        "other methods mark others.")
    assert "trust none" not in finding.sentence.lower()
    assert names_of([finding]) == "most other methods draw other regions"
    # The report's line for the check is that caution's own sentence (printed once).
    assert report_check_lines(backed, [finding])[-1] == ("Every method compared", finding.sentence,
                                                         (finding.sentence,))
    # Occlusion drawing other regions too: two cautions, and this time "trust none".
    alone = MapChecks(agreement=_six_maps({**low, "gradcam vs occlusion": 0.2}),
                      occlusion_similarity=0.2, every_method=True, shown="gradcam")
    found = map_findings(alone, "Grad-CAM")
    assert [f.kind for f in found] == ["methods_disagree", "occlusion_disagrees"]
    assert found[0].sentence.endswith("draws other regions (+0.20). Trust none of these maps on its own.")
    assert names_of(found) == "most other methods draw other regions and occlusion agrees little with Grad-CAM"
    # Occlusion agreeing but the faithfulness test not passed: a caution without the backing clause.
    mixed = MapChecks(faithfulness=SimpleNamespace(verdict="mixed", summary="Mixed.", deletion_auc=0.4,
                                                   random_deletion_auc=0.5, insertion_auc=0.4, random_insertion_auc=0.4),
                      agreement=lonely,
                      occlusion_similarity=0.65, shown="gradcam")
    sentence = next(f.sentence for f in map_findings(mixed) if f.kind == "methods_disagree")
    assert sentence.endswith("agrees (+0.65).") and "trust none" not in sentence.lower()


def test_occlusion_is_named_against_the_map_it_was_compared_with():
    from model.present.text import names_of
    from model.trust.map_checks import MapChecks, map_findings

    [finding] = map_findings(MapChecks(occlusion_similarity=0.1, occlusion_against="gradcam++"), "Grad-CAM++")
    assert "points elsewhere than Grad-CAM++ (similarity +0.10" in finding.sentence
    assert names_of([finding]) == "occlusion agrees little with Grad-CAM++"


def test_the_lung_groups_count_images_below_the_models_own_level_not_a_fixed_line():
    """Performance showed each mean against 50% in red; it now shows the share of images below the model's own
    warning level, counted from the stored per-image shares. At the report's own line those counts are the
    stored low shares; at the model's own level (cxr-compact-masked-v2: 39.4%) far fewer images fall below."""
    from model.registry import EXPLANATIONS_FILE, PACKAGE_REGISTRY, read_report
    from model.trust.explanations import ExplanationReport, lung_groups
    from model.trust.scope import read_scope

    report = ExplanationReport.from_dict(read_report("cxr-compact-masked-v2", EXPLANATIONS_FILE, PACKAGE_REGISTRY))
    lungs = report.lung_attention
    at_line = lung_groups(lungs, report.per_image, lungs.threshold)
    assert [g.name for g in at_line] == ["All images", "Predicted COVID-19", "Predicted Normal", "Predicted Pneumonia"]
    assert at_line[0].below == pytest.approx(lungs.low_share) and at_line[0].n == report.n
    assert [g.below for g in at_line[1:]] == pytest.approx([v.low_share for v in lungs.per_class.values()])
    assert [g.mean for g in at_line[1:]] == [v.mean for v in lungs.per_class.values()]
    level = read_scope("cxr-compact-masked-v2", PACKAGE_REGISTRY).lung_attention_threshold
    own = lung_groups(lungs, report.per_image, level)
    assert own[0].below == pytest.approx(7 / 40) and own[0].below < at_line[0].below  # 17.5% against 75%
    assert lung_groups(lungs, [], level)[0].below is None  # a report without per-image shares claims no count


def test_a_similarity_that_rounds_to_zero_prints_without_a_sign():
    """The review saw "Score-CAM (-0.00)": a sign the figure shown does not have."""
    from model.present.check_lines import occlusion_line
    from model.trust.map_checks import _named, similarity_text

    assert [similarity_text(v) for v in (-0.004, 0.004, 0.0, -0.005001, 0.3, -0.25)] == [
        "0.00", "0.00", "0.00", "-0.01", "+0.30", "-0.25"]
    assert _named([(("scorecam",), -0.001)]) == "Score-CAM (0.00)"
    assert occlusion_line(-0.001, "gradcam") == "Similarity to Grad-CAM: 0.00 (unrelated)."
