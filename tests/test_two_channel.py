"""The two-channel construction: the folded probe, the common grid of merged members, and the
assembled model's logits against its parts computed apart (tiny networks, synthetic arrays)."""
import numpy as np
import pytest

from training.unmasked_branch import fit_probe


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _logits(model, x):
    import keras

    features = keras.Model(model.input, model.layers[-1].input)(x)
    kernel, bias = model.layers[-1].get_weights()
    return np.asarray(features, np.float64) @ kernel + bias


def test_a_barely_varying_feature_is_scaled_by_a_floor():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 6)) * [1, 10, 100, 0.1, 5, 1] + 40
    features[:, 5] = 3.0
    probe = fit_probe(features, np.repeat([0, 1, 2], 20), np.array(["s"] * 60))
    assert probe.scale[5] == pytest.approx(1e-3 * np.median(features.std(axis=0)))
    assert np.isfinite(probe.logits(features + 0.01)).all()


def test_the_probe_as_a_keras_member_gives_the_probes_logits(tmp_path):
    from tests.test_backbones import _small_pretrained_file
    from training.unmasked_branch import frozen_features, probe_classifier

    weights = _small_pretrained_file(tmp_path / "small.weights.h5")
    films = np.random.default_rng(5).random((30, 64, 64, 1), dtype=np.float32)
    features = frozen_features(weights, 64, films)
    assert features.shape == (30, 128 + 256)
    probe = fit_probe(features, np.tile([0, 1, 2], 10), np.array(["a", "b", "c"] * 10))
    member = probe_classifier(weights, 64, probe)
    np.testing.assert_allclose(np.asarray(member(films[:6])), probe.probabilities(features[:6]), atol=1e-4)


def _member(size: int, grid: int, seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(4, size // grid, strides=size // grid, activation="relu")(inputs)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x)))


def test_members_on_grids_that_nest_only_together_meet_on_their_common_multiple():
    from training.architectures import merge_members

    a, b = _member(60, 4, 0), _member(60, 6, 1)  # 4x4 and 6x6 last maps: one 12x12 grid
    merged, layer = merge_members([a, b])
    assert merged.get_layer(layer).output.shape[1:] == (12, 12, 8)
    x = np.random.default_rng(1).random((2, 60, 60, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(merged(x)), _softmax((_logits(a, x) + _logits(b, x)) / 2), atol=1e-5)


@pytest.fixture(scope="module")
def parts():
    from training.architectures import compact_cnn

    masked = [compact_cnn(32, widths=(4, 8), dropout=0.0)[0] for _ in range(2)]
    unmasked, _ = compact_cnn(48, widths=(4, 4), dropout=0.0)  # a grid that is not the masked ones' multiple
    return masked, unmasked


def _pool(model):
    from keras import layers

    return next(layer.name for layer in model.layers if isinstance(layer, layers.GlobalAveragePooling2D))


def _two_channel_batch(n=3, size=48, seed=2):
    rng = np.random.default_rng(seed)
    film = rng.random((n, size, size, 1), dtype=np.float32)
    mask = np.zeros((n, size, size, 1), np.float32)
    mask[:, 8:40, 6:42] = 1
    return np.concatenate([film, mask], -1)


def test_the_two_channel_model_sums_its_calibrated_networks_alike(parts):
    import tensorflow as tf

    from training.architectures import two_channel_model

    masked, unmasked = parts
    model, layer = two_channel_model(masked, unmasked, masked_temperature=1.5, unmasked_temperature=0.8)
    assert not any(hasattr(sub, "layers") for sub in model.layers), "nested models break Grad-CAM"
    import math

    grids = [int(m.get_layer(_pool(m)).input.shape[1])
             for m in (*masked, unmasked)]
    assert model.get_layer(layer).output.shape[1:] == (math.lcm(*grids), math.lcm(*grids), 8 + 8 + 4)
    x = _two_channel_batch()
    lungs = tf.image.resize(x[..., :1] * x[..., 1:], (32, 32), method="bilinear").numpy()
    z_masked = (_logits(masked[0], lungs) + _logits(masked[1], lungs)) / 2
    expected = _softmax(z_masked * 2 / (3 * 1.5) + _logits(unmasked, x[..., :1]) / (3 * 0.8))
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-5)
    # The mask is data, not pixels: outside it the masked networks see nothing.
    outside = x.copy()
    outside[..., 0] = np.where(x[..., 1] > 0, x[..., 0], 0.9)
    z_same = (_logits(masked[0], lungs) + _logits(masked[1], lungs)) / 2
    expected_outside = _softmax(z_same * 2 / (3 * 1.5) + _logits(unmasked, outside[..., :1]) / (3 * 0.8))
    np.testing.assert_allclose(np.asarray(model(outside)), expected_outside, atol=1e-5)


def test_the_two_channel_model_loads_in_safe_mode_with_the_same_outputs(parts, tmp_path):
    import keras

    from model.registry import _has_lambda_layer
    from training.architectures import two_channel_model

    model, _ = two_channel_model(*parts)
    model.save(tmp_path / "m.keras", include_optimizer=False)
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    assert not _has_lambda_layer(tmp_path / "m.keras")
    x = _two_channel_batch(seed=3)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_two_channel_parts_must_fit_together(parts):
    from training.architectures import compact_cnn, two_channel_model

    masked, unmasked = parts
    with pytest.raises(ValueError, match="share one one-channel input"):
        two_channel_model([masked[0], compact_cnn(40, widths=(4,))[0]], unmasked)
    with pytest.raises(ValueError, match="one-channel square films"):
        two_channel_model(masked, compact_cnn(48, channels=3, widths=(4,))[0])


def test_attaching_the_unmasked_branch_fits_it_on_train_and_checks_the_assembly(parts, tmp_path):
    """A small saved MobileNet (no download): the plumbing, not the figures."""
    from tests.test_backbones import _small_pretrained_file
    from training.pool import two_channel_inputs
    from training.two_channel import SplitPool, attach_unmasked_branch

    weights = _small_pretrained_file(tmp_path / "small.weights.h5")
    masked, _ = parts
    rng = np.random.default_rng(4)
    n = 36
    images = rng.random((n, 64, 64, 1), dtype=np.float32)
    masks = np.zeros((n, 64, 64), np.uint8)
    masks[:, 10:54, 8:56] = 1
    labels = np.tile([0, 1, 2], n // 3)
    images[labels == 1, 20:40, 20:40] += 0.5  # something for the regression to find
    sources = np.array(["a", "b"] * (n // 2))
    idx = {"train": np.arange(0, 24), "validation": np.arange(24, 30), "test": np.arange(30, 36)}
    pool = SplitPool(two_channel_inputs(images, masks), labels, sources, idx)
    model, layer, facts = attach_unmasked_branch(masked, weights, pool)
    assert tuple(model.inputs[0].shape[1:]) == (64, 64, 2)
    assert layer == "ensemble_features"
    assert facts["parts_check_max_difference"] < 2e-3
    assert facts["unmasked_branch"]["features"] == 128 + 256
    assert facts["masked_size"] == 32


def test_a_merged_layers_map_grain_is_its_finest_networks_not_the_common_grid():
    """Faithfulness compares a map with random maps of the same grain: a 4x4 and a 6x6 map repeated
    onto 12x12 have the 6x6 map's grain (repeated cells carry nothing of their own)."""
    from model.classifier import Classifier
    from model.explain.base import Explanation
    from model.registry import ModelCard
    from training.architectures import merge_members

    merged, layer = merge_members([_member(60, 4, 0), _member(60, 6, 1)])
    card = ModelCard(id="e", display_name="e", version="0", created="2026-01-01", architecture="ensemble",
                     labels=["COVID-19", "Normal", "Pneumonia"], preprocessing={"image_size": 60, "equalize": "none"},
                     explain_layer=layer)
    clf = Classifier(card, merged)
    grid = clf.map_grid(Explanation(np.zeros((60, 60), np.float32), "gradcam", 0, "COVID-19", layer))
    assert grid == 6
    single = _member(60, 4, 2)
    conv = next(x.name for x in single.layers if "conv" in x.name)
    assert Classifier(card, single).map_grid(Explanation(np.zeros((60, 60), np.float32), "gradcam", 0, "COVID-19",
                                                         conv)) == 4
