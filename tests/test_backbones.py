"""Pretrained backbones: built flat on the one-channel input, scaled as each was trained, fine-tuned
in two stages, and never downloaded by a test (random weights or a small saved file)."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from training.backbones import BACKBONES, WeightsUnavailable, backbone, backbone_classifier, set_trainable
from training.recipes import FineTuning, Network, Recipe, Schedule, fit_classifier

SHARED_WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "weights" / \
    "mobilenet_2_5_224_tf_no_top.h5"
SHARED_SHA256 = "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf"
APPLICATION_MODULES = {"mobilenet": "mobilenet", "mobilenet_v2": "mobilenet_v2", "densenet121": "densenet",
                       "efficientnet_b0": "efficientnet", "resnet50": "resnet50"}


@pytest.fixture(scope="module")
def built():
    """Each backbone once, random weights, 64 px: (model, explain layer, backbone layer names)."""
    return {name: backbone_classifier(name, 64, 3, "none") for name in BACKBONES}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_is_flat_explainable_and_fully_assigned_to_blocks(built, name):
    model, layer, own = built[name]
    assert not any(hasattr(sub, "layers") for sub in model.layers), "a nested backbone hides its layers from Grad-CAM"
    assert model.inputs[0].shape[1:] == (64, 64, 1) and model.output_shape == (None, 3)
    assert len(model.get_layer(layer).output.shape) == 4  # spatial: Grad-CAM has a grid to weigh
    unassigned = [n for n in own if not any(re.match(p, n) for p in backbone(name).blocks)]
    assert unassigned == [], f"layers in no fine-tuning block: {unassigned[:5]}"


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_the_gray_film_reaches_the_backbone_scaled_as_keras_scales_an_rgb_image(built, name):
    """Inside the model, a [0, 1] gray film becomes exactly what keras.applications' own
    preprocess_input makes of the same film as 0-255 RGB."""
    import importlib

    import keras

    model = built[name][0]
    scaled = keras.Model(model.input, model.get_layer("backbone_scaling").output)  # called with one tensor
    gray = np.random.default_rng(0).random((2, 64, 64, 1)).astype(np.float32)
    module = importlib.import_module(f"keras.applications.{APPLICATION_MODULES[name]}")
    expected = module.preprocess_input(np.repeat(gray * 255.0, 3, axis=-1).copy())
    np.testing.assert_allclose(np.asarray(scaled(gray)), expected, rtol=1e-4, atol=1e-3)


def test_weights_from_a_saved_file_are_the_files_weights(tmp_path):
    import keras

    source = keras.applications.MobileNet(input_shape=(64, 64, 3), alpha=0.25, include_top=False, weights=None)
    for layer in source.layers:  # recognisable weights, not a fresh initialisation
        layer.set_weights([np.full_like(w, 0.01 * (i + 1)) for i, w in enumerate(layer.get_weights())])
    path = tmp_path / "tiny.weights.h5"
    source.save_weights(path)
    model, _, own = backbone_classifier("mobilenet", 64, 3, path)
    mine = [w for n in own for w in model.get_layer(n).get_weights()]
    assert len(mine) == len(source.get_weights())
    for a, b in zip(mine, source.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_imagenet_without_internet_fails_in_one_line_pointing_to_a_weights_file(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: [Errno 101] Network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.applications.mobilenet.file_utils.get_file", offline)
    with pytest.raises(WeightsUnavailable) as error:
        backbone_classifier("mobilenet", 128, 3, "imagenet")  # a size ImageNet weights exist for: no Keras warning
    assert "--weights PATH" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(WeightsUnavailable, match="no such file"):
        backbone_classifier("mobilenet", 64, 3, "/nowhere/weights.h5")


def test_fine_tuning_stages_train_what_they_say_and_keep_batch_norm_statistics(built):
    model, _, own = backbone_classifier("mobilenet", 64, 3, "none")
    spec = backbone("mobilenet")
    assert set_trainable(model, own, spec, 0) == 0
    assert {w.name for w in model.trainable_weights} == {"kernel", "bias"}  # the new head only
    top = set_trainable(model, own, spec, 1)
    trainable = {layer.name for layer in model.layers if layer.trainable_weights}
    assert top == 2 and trainable == {"conv_dw_13", "conv_pw_13", "probabilities"}
    everything = set_trainable(model, own, spec, None)
    assert everything > top
    assert not any(layer.trainable for layer in model.layers if "bn" in layer.name)


def _films(seed: int, n: int = 24, size: int = 64) -> dict:
    rng = np.random.default_rng(seed)
    return {"images": rng.random((n, size, size, 1)).astype(np.float16), "masks": None,
            "labels": np.arange(n) % 3, "sources": np.array(["a", "b"] * (n // 2))}


def _small_pretrained_file(path: Path) -> Path:
    """A MobileNet weights file whose batch-norm statistics match its weights on random films, as a
    pretrained file's do (with a fresh network's unit statistics, ReLU6 saturates and no gradient flows)."""
    import keras

    base = keras.applications.MobileNet(input_shape=(64, 64, 3), alpha=0.25, include_top=False, weights=None)
    films = np.random.default_rng(1).uniform(-1, 1, (16, 64, 64, 3)).astype(np.float32)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0  # one training-mode pass sets the moving statistics to the batch's
    base(films, training=True)
    base.save_weights(path)
    return path


def test_the_fit_loop_trains_the_head_first_then_only_the_top_block(tmp_path):
    import keras

    weights = _small_pretrained_file(tmp_path / "small.weights.h5")
    data, lines = _films(0), []
    keras.utils.set_random_seed(42)  # fit_classifier seeds the same way before it builds: the same start
    start = backbone_classifier("mobilenet", 64, 3, weights)[0]
    network = Network("mobilenet", 64, 3, FineTuning(str(weights), head_epochs=1, top_blocks=1, rate_factor=0.1))
    # Averaging from epoch 2 ships the second stage's weights (the best checkpoint might be stage 1's).
    fitted = fit_classifier(network, data, data, Recipe("source_label", average_from=2),
                            Schedule(epochs=2, batch_size=8, steps_per_epoch=2, seed=42, patience=5), log=lines.append)
    assert [line.split(":")[0] for line in lines if line.startswith("stage")] == ["stage 1", "stage 2"]
    assert [row["learning_rate"] for row in fitted.history] == pytest.approx([1e-3, 1e-4])
    assert fitted.explain_layer == "conv_pw_13_relu"
    changed = {layer.name for layer in start.layers
               if any(not np.array_equal(a, b) for a, b in
                      zip(layer.get_weights(), fitted.model.get_layer(layer.name).get_weights()))}
    # The head learned in both stages, the top block only in the second; batch-norm statistics and
    # every lower block kept their starting values.
    assert changed == {"conv_dw_13", "conv_pw_13", "probabilities"}


def test_the_shared_imagenet_file_loads_into_the_flat_network():
    """The one genuine pretrained file on these machines (skipped where it is absent)."""
    if not SHARED_WEIGHTS.is_file():
        pytest.skip("../shared/data/weights is not available")
    assert hashlib.sha256(SHARED_WEIGHTS.read_bytes()).hexdigest() == SHARED_SHA256
    model, layer, own = backbone_classifier("mobilenet", 224, 3, SHARED_WEIGHTS)
    assert model.get_layer(layer).output.shape[1:3] == (7, 7)
    first = model.get_layer("conv1").get_weights()[0]
    assert first.shape == (3, 3, 3, 8) and 0.1 < float(np.abs(first).mean()) < 10  # trained, not initialised
