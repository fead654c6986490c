"""Anti-shortcut training pieces: sampling, photometric augmentation, lung-field masking, the hash
split and the gradient-reversal wrapper (synthetic data, tiny models)."""
import dataclasses

import numpy as np
import pytest

from model.inputs.preprocessing import Preprocessing, lung_field_mask, preprocess
from model.labelled_data import LabelledImage
from model.splits import hash_split, split_of
from tests.support import synthetic_radiograph
from training.recipes import (
    BatchMaker,
    Network,
    Recipe,
    Schedule,
    amplitude_mix,
    fit_classifier,
    gradient_reversal_layer,
    image_quantiles,
    match_histogram,
    mixup_batch,
    photometric,
    sampling_weights,
    within_source_score,
)


def _fit(arch, train, val, recipe, log=lambda line: None, watch=None, **schedule):
    """The one fit loop on 32-px films: (model, history, explain layer)."""
    fitted = fit_classifier(Network(arch, 32, 3), train, val, recipe, Schedule(**schedule), log=log, watch=watch)
    return fitted.model, fitted.history, fitted.explain_layer


def _tiny_data(seed: int, n: int = 24, masks: bool = False) -> dict:
    """Random 32-px films, the three classes in turn, two sources alternating (tiny training runs)."""
    rng = np.random.default_rng(seed)
    return {"images": rng.random((n, 32, 32, 1)).astype(np.float16),
            "masks": np.ones((n, 32, 32), np.uint8) if masks else None,
            "labels": np.array([0, 1, 2] * (n // 3)), "sources": np.array(["a", "b"] * (n // 2))}


def test_label_balance_gives_each_class_a_third():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    sources = np.array(["a"] * 100)
    p = sampling_weights(labels, sources, "label")
    assert np.allclose([p[labels == k].sum() for k in range(3)], 1 / 3)


def test_source_label_balance_shares_a_class_by_square_root_of_source_size():
    labels = np.array([1] * 100 + [1] * 25 + [0] * 50)
    sources = np.array(["nih"] * 100 + ["teach"] * 25 + ["x"] * 50)
    p = sampling_weights(labels, sources, "source_label")
    assert np.isclose(p[labels == 0].sum(), 0.5) and np.isclose(p[labels == 1].sum(), 0.5)
    assert np.isclose(p[sources == "nih"].sum() / p[sources == "teach"].sum(), 2.0)  # sqrt(100) / sqrt(25)
    assert np.allclose(p[sources == "nih"], p[sources == "nih"][0])  # uniform within a cell


def test_photometric_disguise_is_seeded_in_range_and_matches_histograms():
    image = synthetic_radiograph(64, seed=1).astype(np.float32)
    ref = synthetic_radiograph(64, seed=2).astype(np.float32) ** 2
    q = image_quantiles(np.stack([image, ref])[..., None])
    a = photometric(image, np.random.default_rng(0), q[1], q[0])
    b = photometric(image, np.random.default_rng(0), q[1], q[0])
    assert a.shape == image.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    matched = match_histogram(image, q[0], q[1])
    assert abs(np.median(matched) - np.median(ref)) < 0.05


def test_amplitude_mixing_takes_the_look_of_another_source_and_keeps_the_anatomy():
    image = synthetic_radiograph(64, seed=1, lesion=(0.5, 0.3)).astype(np.float32)
    # Another source's film (on its side, so its anatomy differs from the image's) with another look:
    # low contrast and bright (a different exposure and processing curve).
    reference = (0.5 + 0.3 * np.rot90(synthetic_radiograph(64, seed=2))).astype(np.float32)
    np.testing.assert_allclose(amplitude_mix(image, reference, 0.0), np.clip(image, 0, 1), atol=1e-5)
    mixed = amplitude_mix(image, reference, 1.0)
    assert mixed.shape == image.shape and mixed.dtype == np.float32 and 0 <= mixed.min() and mixed.max() <= 1
    # Its look is the reference's: overall brightness (the zero frequency) and a lower contrast ...
    assert abs(mixed.mean() - reference.mean()) < abs(image.mean() - reference.mean()) / 4
    assert mixed.std() < image.std() / 2
    # ... while its structure is still the image's: it correlates with the image, not the reference.
    def corr(a, b):
        return np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert corr(mixed, image) > 0.6 and corr(mixed, image) > corr(mixed, reference) + 0.3
    # Batches of the recipe draw references from other sources only and stay in range.
    images = np.stack([image, reference] * 4)[..., None].astype(np.float16)
    recipe = Recipe("source_label", amplitude_mix=1.0)
    assert recipe.name() == "balanced+amp1" and recipe.to_dict()["amplitude_mix"] == 1.0
    assert "amplitude_mix" not in Recipe().to_dict()  # recipes of earlier runs compare equal
    maker = BatchMaker(images, None, np.array([0, 1] * 4), np.array(["a", "b"] * 4), recipe, 6, seed=0)
    x, idx = maker.batch()
    assert x.shape == (6, 64, 64, 1) and 0 <= x.min() and x.max() <= 1
    assert not np.allclose(x[..., 0], images[idx, ..., 0].astype(np.float32), atol=1e-3)


def test_batches_mask_outside_the_lungs_and_mix_only_within_a_class():
    rng = np.random.default_rng(0)
    images = rng.random((12, 16, 16, 1)).astype(np.float16)
    masks = np.zeros((12, 16, 16), np.uint8)
    masks[:, 4:12, 2:14] = 1
    labels = np.array([0, 1, 2] * 4)
    sources = np.array(["a"] * 6 + ["b"] * 6)
    maker = BatchMaker(images, masks, labels, sources, Recipe("source_label", True, True, 0.5), 8, seed=0)
    x, idx = maker.batch()
    assert x.shape == (8, 16, 16, 1) and np.all(x[:, :4] == 0) and np.all(x[:, :, :2] == 0)
    assert len(idx) == 8


def test_lung_mask_preprocessing_equals_cached_array_times_mask():
    from model.inputs.lungs import lung_region

    pixels = synthetic_radiograph(90, seed=3)
    lungs = np.zeros(pixels.shape, bool)
    lungs[20:70, 15:40] = lungs[20:70, 50:78] = True
    plain = Preprocessing(image_size=32, border_crop=0.06, lung_crop=True, lung_model="x")
    masked = dataclasses.replace(plain, lung_mask=True)
    region = lung_region(lungs, plain)
    grid = lung_field_mask(lungs, region, masked)
    np.testing.assert_array_equal(preprocess(pixels, masked, region, lungs), preprocess(pixels, plain, region) * grid[..., None])
    with pytest.raises(ValueError, match="lung mask"):
        preprocess(pixels, masked, region)
    assert 0.2 < grid.mean() < 1.0 and set(np.unique(grid)) == {0.0, 1.0}
    # A failed segmentation masks nothing.
    assert lung_field_mask(np.zeros_like(lungs), (0, 90, 0, 90), masked).min() == 1.0


def test_lung_equalisation_ignores_exposure_and_is_the_same_in_training_and_serving():
    from model.inputs.lungs import lung_region
    from model.inputs.preprocessing import EQUALIZED_FLOOR, equalize_lung_field
    from training.pool import lung_inputs

    field = np.zeros((16, 16), np.float32)
    field[3:13, 2:14] = 1
    square = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    out = equalize_lung_field(square, field)
    inside = field > 0
    assert np.all(out[~inside] == 0) and out[inside].min() >= EQUALIZED_FLOOR and out[inside].max() <= 1
    # Ranks are kept, and any monotone grey-level change (exposure, gamma, a processing curve) vanishes.
    order = np.argsort(square[inside])
    assert np.all(np.diff(out[inside][order]) > 0)
    np.testing.assert_allclose(equalize_lung_field(0.2 + 0.5 * square ** 2.2, field), out, atol=1e-6)
    assert abs(out[inside].mean() - (1 + EQUALIZED_FLOOR) / 2) < 0.01
    # Ties share their mid-rank: a flat lung field becomes one grey level.
    flat = equalize_lung_field(np.full((16, 16), 0.3, np.float32), field)
    assert len(np.unique(flat[inside])) == 1
    # One path: serving (`preprocess`) and training (cached arrays through `lung_inputs`) agree.
    pixels = synthetic_radiograph(90, seed=3)
    lungs = np.zeros(pixels.shape, bool)
    lungs[20:70, 15:40] = lungs[20:70, 50:78] = True
    plain = Preprocessing(image_size=32, border_crop=0.06, lung_crop=True, lung_model="x")
    equalized = dataclasses.replace(plain, lung_mask=True, lung_equalize=True)
    region = lung_region(lungs, plain)
    grid = lung_field_mask(lungs, region, equalized)
    served = preprocess(pixels, equalized, region, lungs)
    trained = lung_inputs(preprocess(pixels, plain, region)[None], grid[None], True, True)[0]
    np.testing.assert_allclose(served, trained, atol=1e-6)
    # Batches of an equalising recipe are equalised too (before the geometric augmentation).
    images = np.stack([preprocess(synthetic_radiograph(90, seed=k), plain, region) for k in range(4)]).astype(np.float16)
    masks = np.repeat(grid[None].astype(np.uint8), 4, axis=0)
    maker = BatchMaker(images, masks, np.array([0, 1, 2, 0]), np.array(["a", "a", "b", "b"]),
                       Recipe("source_label", False, True, lung_equalize=True), 4, seed=0)
    x, _ = maker.batch()
    assert np.all(x[..., 0][:, grid == 0] == 0) and np.all(x[..., 0][:, grid > 0] >= EQUALIZED_FLOOR)
    with pytest.raises(ValueError, match="lung_mask"):
        dataclasses.replace(plain, lung_equalize=True)
    # Cards and cache keys without the option stay as they were.
    assert "lung_equalize" not in plain.to_dict() and equalized.to_dict()["lung_equalize"] is True
    assert Preprocessing.from_dict(equalized.to_dict()) == equalized
    assert "lung_equalize" not in Recipe().to_dict()


def test_lung_mask_option_is_validated_and_old_cards_stay_valid():
    with pytest.raises(ValueError, match="lung_crop"):
        Preprocessing(lung_mask=True)
    old = {"image_size": 224, "channels": 1, "resize": "stretch", "border_crop": 0.06, "equalize": "clahe",
           "clahe_clip": 2.0, "clahe_tiles": 8, "lung_crop": True, "lung_model": "lungs-unet-v1", "lung_margin": 0.05}
    assert Preprocessing.from_dict(old).lung_mask is False


def _records(n, offset=0):
    return [LabelledImage(f"{i}.png", "Normal", f"p{i // 2}", "s") for i in range(offset, offset + n)]


def test_hash_split_is_stable_when_data_are_added_and_keeps_patients_together():
    first = hash_split(_records(400), seed=42)
    grown = hash_split(_records(400) + _records(300, offset=400), seed=42)
    for name in first:
        assert set(r.path for r in first[name]) <= set(r.path for r in grown[name])
    where = {r.patient_id: name for name, items in grown.items() for r in items}
    assert all(where[r.patient_id] == name for name, items in grown.items() for r in items)
    sizes = [len(grown[n]) / 700 for n in ("train", "validation", "test")]
    assert abs(sizes[0] - 0.7) < 0.08 and abs(sizes[2] - 0.15) < 0.06
    assert split_of("p1", 42) == split_of("p1", 42)
    assert hash_split(_records(400), seed=1) != first


def test_gradient_reversal_negates_the_gradient():
    import tensorflow as tf

    layer = gradient_reversal_layer()
    layer.strength.assign(0.5)
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(layer(x) * 3.0)
    np.testing.assert_allclose(layer(x).numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [[-1.5, -1.5]])


def test_dann_training_ships_a_plain_classifier(tmp_path):
    import keras

    data = _tiny_data(0, masks=True)
    model, history, explain = _fit("compact_cnn", data, data, Recipe("source_label", True, True, 0.2, 0.5),
                                           epochs=2, batch_size=8, steps_per_epoch=2, log=lambda line: None)
    assert len(history) == 2 and "source_loss" in history[0] and explain == "block4b_conv"
    assert all("reversal" not in layer.name and "dann" not in layer.name for layer in model.layers)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False, safe_mode=True)
    assert loaded.output_shape == (None, 3)


def test_within_source_score_ignores_what_only_the_source_gives_away():
    # Source "a": Normal (1) vs Pneumonia (2); source "b": COVID-19 (0) only; source "c": 2 images.
    labels = np.array([1] * 6 + [2] * 6 + [0] * 6 + [1, 0])
    sources = np.array(["a"] * 12 + ["b"] * 6 + ["c"] * 2)
    probs = np.full((len(labels), 3), 1 / 3)
    # A pure source detector: sure of COVID-19 on every "b" film, undecided inside "a".
    probs[12:18] = [0.98, 0.01, 0.01]
    assert within_source_score(labels, probs, sources, 3) == 0.5
    # Telling Normal from Pneumonia inside "a" is what counts (one pair: one AUC, not the mean of two).
    probs[:6] = [0.1, 0.6, 0.3]
    probs[6:12] = [0.1, 0.3, 0.6]
    assert within_source_score(labels, probs, sources, 3) == 1.0
    assert within_source_score(labels[12:18], probs[12:18], sources[12:18], 3) is None


def test_checkpoints_can_be_chosen_by_the_within_source_score():
    data = _tiny_data(0, n=36)  # 6 films of each class in each of the two sources
    recipe = Recipe("source_label", select="within_source")
    assert recipe.name() == "balanced+select-within" and recipe.to_dict()["select"] == "within_source"
    assert "select" not in Recipe().to_dict()
    _, history, _ = _fit("compact_cnn", data, data, recipe, epochs=2, batch_size=8, steps_per_epoch=2,
                                 log=lambda line: None)
    assert len(history) == 2 and all(0.0 <= row["val_within_auc"] <= 1.0 for row in history)


def test_a_burn_in_keeps_no_early_checkpoint_and_delays_patience(monkeypatch):
    import training.recipes as shortcut

    data = _tiny_data(0, n=36)
    # A score that is best on the first epoch and worse ever after: without a burn-in, patience 2
    # stops after epoch 3 and the weights of epoch 1 are kept.
    scores, seen = iter([0.9, 0.5, 0.4, 0.6, 0.55, 0.5, 0.45, 0.4]), []

    def fake_score(labels, probabilities, sources, k):
        seen.append(probabilities.copy())  # what the model said on validation after each epoch
        return next(scores)

    monkeypatch.setattr(shortcut, "within_source_score", fake_score)
    recipe = Recipe("source_label", select="within_source", select_after=4)
    assert recipe.name() == "balanced+select-within+after4" and recipe.to_dict()["select_after"] == 4
    assert "select_after" not in Recipe(select="within_source").to_dict()  # earlier runs' recipes compare equal
    model, history, _ = _fit("compact_cnn", data, data, recipe, epochs=8, batch_size=8,
                                     steps_per_epoch=1, patience=2, log=lambda line: None)
    # Epochs 1-3 are burn-in; epoch 4 (0.6) is the first candidate, 5 and 6 fail, patience 2 stops at 6.
    assert [row["val_within_auc"] for row in history] == [0.9, 0.5, 0.4, 0.6, 0.55, 0.5]
    assert [row["learning_rate"] for row in history] == [1e-3] * 6  # no halving inside the burn-in
    final = model.predict(data["images"].astype(np.float32), verbose=0)
    assert np.allclose(final, seen[3], atol=1e-5) and not np.allclose(final, seen[0], atol=1e-5)


def test_within_source_contrasts_compare_films_only_with_their_own_source():
    import keras

    from training.recipes import contrast_masks, within_source_loss

    # nih: Normal/Pneumonia; ieee: COVID-19/Pneumonia/Normal; cxnet: COVID-19 only.
    labels = np.array([1] * 6 + [2] * 6 + [0] * 6 + [2] * 6 + [1] * 5 + [0] * 6)
    sources = np.array(["nih"] * 12 + ["ieee"] * 17 + ["cxnet"] * 6)
    masks = contrast_masks(labels, sources)
    assert masks[:12].tolist() == [[1.0, 0.0]] * 12                     # normal vs abnormal only
    assert masks[12:24].tolist() == [[1.0, 1.0]] * 12                   # ieee abnormal: both contrasts
    assert masks[24:29].tolist() == [[1.0, 0.0]] * 5                    # ieee normals: the first only
    assert not masks[29:].any()                                         # a one-class source teaches nothing

    def loss(label, probabilities, mask):
        y = np.concatenate([np.eye(3)[[label]], [mask]], axis=1).astype(np.float32)
        return float(keras.ops.convert_to_numpy(within_source_loss(y, np.array([probabilities], np.float32)))[0])

    sure_covid = [0.98, 0.01, 0.01]
    assert loss(0, sure_covid, [0, 0]) == 0.0  # a cxnet film: no loss, however the model calls it
    # Normal vs abnormal: -log p(Normal) for a normal film; the split of the abnormal share does not matter.
    assert np.isclose(loss(1, [0.3, 0.5, 0.2], [1, 0]), -np.log(0.5), atol=1e-5)
    assert np.isclose(loss(2, [0.3, 0.5, 0.2], [1, 0]), -np.log(0.5), atol=1e-5)
    # COVID-19 vs Pneumonia among abnormal films: on p(COVID-19) / (p(COVID-19) + p(Pneumonia)).
    assert np.isclose(loss(0, [0.3, 0.5, 0.2], [0, 1]), -np.log(0.6), atol=1e-5)
    assert np.isclose(loss(0, [0.3, 0.5, 0.2], [1, 1]), -np.log(0.5) - np.log(0.6), atol=1e-5)

    # Training draws only films that teach a contrast, and the shipped model is a plain softmax.
    recipe = Recipe("source_label", contrasts="within_source")
    assert recipe.name() == "balanced+within-source-contrasts" and "contrasts" not in Recipe().to_dict()
    images = np.random.default_rng(0).random((len(labels), 32, 32, 1)).astype(np.float16)
    maker = BatchMaker(images, None, labels, sources, recipe, 64, seed=0)
    _, idx = maker.batch()
    assert not np.isin(idx, np.arange(29, 35)).any()
    data = {"images": images, "masks": None, "labels": labels, "sources": sources}
    model, history, _ = _fit("compact_cnn", data, data, recipe, epochs=1, batch_size=8, steps_per_epoch=2,
                                     log=lambda line: None)
    assert len(history) == 1 and np.isfinite(history[0]["loss"]) and model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="normal and abnormal"):
        BatchMaker(images[29:], None, labels[29:], sources[29:], recipe, 8, seed=0)


def test_style_mixing_swaps_feature_statistics_only_while_training():
    import tensorflow as tf

    from training.recipes import style_mix_layer

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(8, 6, 6, 4)) * rng.uniform(0.5, 3, size=(8, 1, 1, 4))
                    + rng.uniform(-2, 2, size=(8, 1, 1, 4)), tf.float32)
    layer = style_mix_layer(1.0)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    tf.random.set_seed(1)
    y = layer(x, training=True).numpy()

    def pattern(a):
        return (a - a.mean(axis=(1, 2), keepdims=True)) / a.std(axis=(1, 2), keepdims=True)

    assert not np.allclose(y.mean(axis=(1, 2)), x.numpy().mean(axis=(1, 2)), atol=1e-3)  # statistics changed
    np.testing.assert_allclose(pattern(y), pattern(x.numpy()), atol=1e-3)                 # the content did not
    np.testing.assert_array_equal(style_mix_layer(0.0)(x, training=True).numpy(), x.numpy())


def test_style_mixing_trains_the_plain_model_through_shared_layers():
    import keras

    from training.architectures import build_model
    from training.recipes import with_style_mix

    model, _ = build_model("compact_cnn", 32, 1, 3)
    trainer = with_style_mix(model, 0.5)
    assert [layer.name for layer in trainer.layers if "style_mix" in layer.name] == [
        "style_mix_block1_drop", "style_mix_block2_drop"]
    assert {id(w) for w in trainer.trainable_weights} == {id(w) for w in model.trainable_weights}
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(trainer.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    resnet, _ = build_model("small_resnet", 32, 1, 3)
    with pytest.raises(ValueError, match="layers"):
        with_style_mix(resnet, 0.5)
    assert isinstance(model, keras.Model) and not any("style_mix" in layer.name for layer in model.layers)


def test_random_convolutions_change_texture_not_shape_and_are_reproducible():
    import tensorflow as tf

    from training.recipes import random_convolution

    images = tf.constant(np.random.default_rng(0).random((3, 24, 24, 1)), tf.float32)
    seed = tf.constant([5, 36], tf.int64)
    out = random_convolution(images, seed, 1.0).numpy()
    assert out.shape == (3, 24, 24, 1) and out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(out, random_convolution(images, seed, 1.0).numpy())
    changed = [not np.allclose(random_convolution(images, tf.constant([s, 7 * s + 1], tf.int64), 1.0).numpy(),
                               images.numpy(), atol=1e-3) for s in range(1, 9)]
    assert sum(changed) >= 5  # a 1x1 filter with a positive weight only rescales: at most that draw is unchanged
    np.testing.assert_array_equal(random_convolution(images, seed, 0.0).numpy(), images.numpy())


def test_a_recipe_with_style_mixing_and_random_convolutions_ships_a_plain_model(tmp_path):
    import keras

    data = _tiny_data(0)
    recipe = Recipe("source_label", style_mix=0.5, rand_conv=0.5)
    assert recipe.name() == "balanced+stylemix0.5+randconv0.5"
    assert {"style_mix", "rand_conv"} <= set(recipe.to_dict()) and "style_mix" not in Recipe().to_dict()
    model, history, _ = _fit("compact_cnn", data, data, recipe, epochs=2, batch_size=8,
                                     steps_per_epoch=2, log=lambda line: None)
    assert len(history) == 2 and not any("style_mix" in layer.name for layer in model.layers)
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras", compile=False, safe_mode=True).output_shape == (None, 3)
    with pytest.raises(ValueError, match="choose one"):
        _fit("compact_cnn", data, data, Recipe(style_mix=0.5, dann=0.3), epochs=1, batch_size=8,
                     steps_per_epoch=1, log=lambda line: None)


def test_weight_averaging_ships_the_mean_of_the_epochs_from_the_named_one_on():
    data = _tiny_data(0)
    snapshots = []

    def watch(model):  # what the weights were at the end of each epoch
        snapshots.append([w.copy() for w in model.get_weights()])
        return {}

    recipe = Recipe("source_label", average_from=2)
    assert recipe.name() == "balanced+average-from2" and "average_from" not in Recipe().to_dict()
    model, history, _ = _fit("compact_cnn", data, data, recipe, epochs=4, batch_size=8, steps_per_epoch=2,
                                     patience=10, log=lambda line: None, watch=watch)
    assert len(snapshots) == 4 and [row.get("averaged_epochs") for row in history] == [None, 1, 2, 3]
    for kept, *epochs in zip(model.get_weights(), *snapshots[1:]):  # epochs 2, 3 and 4
        np.testing.assert_allclose(kept, np.mean(epochs, axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.get_weights()[0], snapshots[-1][0])  # not simply the last epoch


def test_a_constant_learning_rate_keeps_the_rate_a_stalled_run_would_halve():
    train = _tiny_data(1)
    # One class in validation: its score never improves, so the run stalls from its second epoch on.
    val = {**train, "labels": np.zeros(len(train["labels"]), int)}

    def rates(recipe):
        _, history, _ = _fit("compact_cnn", train, val, recipe, epochs=5, batch_size=8,
                                     steps_per_epoch=1, patience=10, log=lambda line: None)
        return [row["learning_rate"] for row in history]

    assert rates(Recipe("source_label", average_from=2)) == [1e-3] * 4 + [5e-4]
    constant = Recipe("source_label", average_from=2, constant_lr=True)
    assert constant.name() == "balanced+average-from2+constant-lr" and "constant_lr" not in Recipe().to_dict()
    assert rates(constant) == [1e-3] * 5
    with pytest.raises(ValueError, match="weight averaging"):
        _fit("compact_cnn", train, val, Recipe(constant_lr=True), epochs=1, batch_size=8,
                     steps_per_epoch=1, log=lambda line: None)


def test_mixup_blends_films_and_targets_with_one_share_per_film():
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(16) % 3]
    x0, y0 = x.copy(), y.copy()
    mx, my = mixup_batch(x, y, np.random.default_rng(5), alpha=0.4)
    np.testing.assert_array_equal(x, x0)  # inputs untouched
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_allclose(my.sum(axis=1), 1.0, rtol=1e-6)
    # Replay the draws: each film is lam * itself + (1 - lam) * its partner, its target likewise.
    replay = np.random.default_rng(5)
    partner, lam = replay.permutation(16), replay.beta(0.4, 0.4, 16).astype(np.float32)
    for i in range(16):
        np.testing.assert_allclose(mx[i], lam[i] * x[i] + (1 - lam[i]) * x[partner[i]], rtol=1e-6)
        np.testing.assert_allclose(my[i], lam[i] * y[i] + (1 - lam[i]) * y[partner[i]], rtol=1e-6)
    # Across classes: some targets hold two classes, and shares are not all near 0 or 1 at alpha 0.4.
    assert np.sum(np.count_nonzero(my > 1e-3, axis=1) == 2) >= 4


def test_mixup_and_label_smoothing_train_and_are_named(monkeypatch):
    import keras

    data = _tiny_data(2)
    seen = {}
    compile_ = keras.Model.compile

    def spy(self, *args, **kwargs):  # the loss the trainer is compiled with
        seen["loss"] = kwargs.get("loss")
        return compile_(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "compile", spy)
    recipe = Recipe("source_label", mixup=0.3, label_smoothing=0.1)
    assert recipe.name() == "balanced+mixup0.3+smooth0.1"
    assert "mixup" not in Recipe().to_dict() and "label_smoothing" not in Recipe().to_dict()
    model, history, _ = _fit("compact_cnn", data, data, recipe, epochs=1, batch_size=8,
                                     steps_per_epoch=2, log=lambda line: None)
    assert seen["loss"].get_config()["label_smoothing"] == pytest.approx(0.1)
    assert np.isfinite(history[0]["loss"]) and model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="plain class targets"):
        _fit("compact_cnn", data, data, Recipe(mixup=0.2, dann=0.3), epochs=1, batch_size=8,
                     steps_per_epoch=1, log=lambda line: None)


def test_the_lung_encoder_classifier_starts_from_the_segmentation_network(tmp_path):
    from training.architectures import build_model, transfer_weights
    from training.train_lungs import lung_unet

    unet, _ = lung_unet(32, widths=(16, 32, 64, 128))
    for layer in unet.layers:  # weights no fresh initialisation would give
        layer.set_weights([np.full_like(w, 0.5 + i) for i, w in enumerate(layer.get_weights())])
    path = tmp_path / "lungs-x" / "model.keras"
    path.parent.mkdir()
    unet.save(path)

    fresh, _ = build_model("lung_encoder_cnn", 32, 1, 3)
    copied = transfer_weights(fresh, unet)
    encoder = {f"enc{i}{ab}_{k}" for i in (1, 2, 3) for ab in "ab" for k in ("conv", "bn")}
    assert set(copied) == encoder | {f"bridge_{ab}_{k}" for ab in "ab" for k in ("conv", "bn")}
    for name in copied:
        for mine, theirs in zip(fresh.get_layer(name).get_weights(), unet.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    assert not np.allclose(fresh.get_layer("top_a_conv").get_weights()[0], 0.5)  # the new block stays fresh

    data = _tiny_data(3)
    lines = []
    recipe = Recipe("source_label", init_from=str(path))
    assert recipe.name() == "balanced+init-lungs-x" and "init_from" not in Recipe().to_dict()
    model, history, explain = _fit("lung_encoder_cnn", data, data, recipe, epochs=1, batch_size=8,
                                           steps_per_epoch=1, log=lines.append)
    assert explain == "top_b_conv" and lines[0].startswith(f"initialised {len(copied)} layers from")
    assert not np.allclose(model.get_layer("enc1a_conv").get_weights()[0], 0.5)  # fine-tuned

    frozen = Recipe("source_label", init_from=str(path), freeze_init=True)
    assert frozen.name() == "balanced+init-lungs-x+frozen" and "freeze_init" not in Recipe().to_dict()
    model, _, _ = _fit("lung_encoder_cnn", data, data, frozen, epochs=1, batch_size=8,
                               steps_per_epoch=2, log=lambda line: None)
    for name in copied:  # the encoder, its batch-norm statistics included, is the segmentation network's
        for mine, theirs in zip(model.get_layer(name).get_weights(), unet.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    assert all(not model.get_layer(name).trainable for name in copied)
    assert model.get_layer("top_a_conv").trainable and model.get_layer("probabilities").trainable
    with pytest.raises(ValueError, match="set init_from"):
        _fit("lung_encoder_cnn", data, data, Recipe(freeze_init=True), epochs=1, batch_size=8,
                     steps_per_epoch=1, log=lambda line: None)
    with pytest.raises(ValueError, match="no layer"):
        _fit("compact_cnn", data, data, Recipe(init_from=str(path)), epochs=1, batch_size=8,
                     steps_per_epoch=1, log=lambda line: None)


def test_class_weights_weigh_each_film_by_its_class_and_balance_none_draws_uniformly():
    from training.recipes import _batches

    data = _tiny_data(4, n=30)
    data["labels"] = np.array([0] * 20 + [1] * 5 + [2] * 5)
    assert np.allclose(sampling_weights(data["labels"], data["sources"], "none"), 1 / 30)
    recipe = Recipe("none", class_weights=True)
    assert recipe.name() == "unbalanced+class-weighted" and recipe.to_dict()["class_weights"] is True
    maker = BatchMaker(data["images"], None, data["labels"], data["sources"], recipe, 8, 0)
    x, y, w = next(iter(_batches(maker, data, recipe, 32, 3, 0)))
    expected = {0: 30 / (3 * 20), 1: 30 / (3 * 5), 2: 30 / (3 * 5)}  # inverse frequency, mean weight 1
    np.testing.assert_allclose(w.numpy(), [expected[int(k)] for k in np.argmax(y.numpy(), axis=1)], rtol=1e-6)
    with pytest.raises(ValueError, match="class-weights"):
        Recipe(class_weights=True, dann=0.3).check()


def test_ema_ships_the_slow_average_of_the_weights():
    """Keras's average starts at the weights after the first step and then moves at 1% a step: after
    ten steps it is still near the first step's weights, while plain training has moved on."""
    import keras

    from training.architectures import compact_cnn

    data = _tiny_data(5)
    keras.utils.set_random_seed(42)  # the fit loop seeds the same way before it builds
    built = compact_cnn(32, 1, 3)[0]
    start = {v.path: v.numpy() for v in built.trainable_variables}  # batch-norm statistics are not averaged

    def moved(recipe):
        model, _, _ = _fit("compact_cnn", data, data, recipe, epochs=1, batch_size=8, steps_per_epoch=10)
        return sum(float(np.abs(v.numpy() - start[v.path]).sum()) for v in model.trainable_variables)

    assert moved(Recipe(ema=True)) < 0.5 * moved(Recipe())
    with pytest.raises(ValueError, match="choose one"):
        Recipe(ema=True, average_from=3).check()
