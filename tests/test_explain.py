"""Explanation contract for every method, localisation on a model with known evidence, and overlays."""
import numpy as np
import pytest

from model.classifier import Classifier
from model.explain import METHODS
from model.explain.base import normalize_map
from model.present.overlay import render_overlay
from model.registry import ModelCard
from tests.support import synthetic_radiograph, tiny_classifier


def _card(layer: str, labels=("COVID-19", "Normal", "Pneumonia"), size: int = 32) -> ModelCard:
    return ModelCard(id="t", display_name="t", version="0", created="2026-01-01", architecture="compact_cnn",
                     labels=list(labels), preprocessing={"image_size": size, "equalize": "none"},
                     explain_layer=layer)


@pytest.fixture(scope="module")
def tiny():
    model, layer = tiny_classifier(seed=1)
    return Classifier(_card(layer), model)


def _zero_evidence_classifier():
    """A model whose conv features are identically zero: every method must give an all-zero map."""
    import keras
    from keras import layers

    inputs = keras.Input((32, 32, 1))
    x = layers.Conv2D(4, 3, padding="same", kernel_initializer="zeros", name="dead_conv")(inputs)
    x = layers.GlobalAveragePooling2D()(layers.Activation("relu")(x))
    outputs = layers.Dense(3, activation="softmax")(x)
    return Classifier(_card("dead_conv"), keras.Model(inputs, outputs))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_meets_the_map_contract(tiny, method):
    explanation, on_image = tiny.explain_xray(synthetic_radiograph(50, width=70), method)
    heat = explanation.heatmap
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert np.isfinite(heat).all() and heat.min() >= 0.0 and heat.max() <= 1.0
    assert on_image.shape == (50, 70)
    assert explanation.label == tiny.predict_xray(synthetic_radiograph(50, width=70)).label


@pytest.mark.parametrize("method", sorted(METHODS))
def test_all_zero_gradient_gives_a_finite_zero_map(method):
    explanation = _zero_evidence_classifier().explain_input(np.full((32, 32, 1), 0.5, np.float32), method)
    assert np.isfinite(explanation.heatmap).all()
    assert explanation.heatmap.max() == 0.0


@pytest.mark.parametrize("method", sorted(METHODS))
def test_maps_survive_a_keras_save_and_reload(tiny, method, tmp_path):
    import keras

    path = tmp_path / "m.keras"
    tiny.model.save(path)
    reloaded = Classifier(tiny.card, keras.saving.load_model(path, safe_mode=True))
    x = tiny.prepare(synthetic_radiograph(40, seed=2)).array
    np.testing.assert_allclose(reloaded.explain_input(x, method, target=1).heatmap,
                               tiny.explain_input(x, method, target=1).heatmap, atol=1e-4)


def test_building_explainers_leaves_the_served_model_intact(tiny):
    # ReplaceToLinear on an un-cloned model would turn the softmax off: probabilities would not sum to 1.
    x = tiny.prepare(synthetic_radiograph(40)).array
    for method in METHODS:
        tiny.explain_input(x, method)
    assert tiny.predict_inputs(x[None]).sum() == pytest.approx(1.0, abs=1e-5)
    assert tiny.model.layers[-1].activation.__name__ == "softmax"


def test_class_and_layer_are_chosen_and_validated(tiny):
    x = tiny.prepare(synthetic_radiograph(40)).array
    assert tiny.explain_input(x, target="Pneumonia").class_index == 2
    assert tiny.explain_input(x, target=0, layer="block1b_conv").layer == "block1b_conv"
    with pytest.raises(ValueError, match="unknown class"):
        tiny.explain_input(x, target="Fracture")
    with pytest.raises(ValueError, match="not an explainable layer"):
        tiny.explain_input(x, layer="probabilities")
    with pytest.raises(ValueError, match="unknown explanation method"):
        tiny.explain_input(x, method="lime")
    assert tiny.card.explain_layer in tiny.layers()


def test_normalize_map_handles_nan_and_channels():
    assert normalize_map(np.full((4, 4), np.nan)).max() == 0.0
    heat = normalize_map(np.stack([np.eye(4), 2 * np.eye(4)], axis=-1))
    assert heat.shape == (4, 4) and heat.max() == 1.0 and heat[0, 1] == 0.0


# --- Localisation: a model whose evidence is known --------------------------------------------------

SIZE = 48


def _blob_images(n: int, rng: np.random.Generator):
    """Class 0 ('blob'): a bright blob somewhere in the image; class 1 ('clear'): none."""
    images, labels = [], []
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(n):
        image = rng.uniform(0.3, 0.5) + rng.normal(0, 0.05, (SIZE, SIZE))
        if i % 2 == 0:
            cy, cx = rng.integers(8, SIZE - 8, 2)
            image[(yy - cy) ** 2 + (xx - cx) ** 2 < 16] = 1.0
        images.append(np.clip(image, 0, 1)[..., None].astype(np.float32))
        labels.append(i % 2)
    return np.stack(images), np.array(labels)


@pytest.fixture(scope="module")
def blob_classifier():
    import keras

    from training.architectures import compact_cnn

    keras.utils.set_random_seed(0)
    model, layer = compact_cnn(image_size=SIZE, channels=1, num_classes=2, widths=(8, 16), dropout=0.0)
    x, y = _blob_images(400, np.random.default_rng(0))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    x_test, y_test = _blob_images(60, np.random.default_rng(1))
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy > 0.9, f"the blob model did not learn its task (accuracy {accuracy:.2f})"
    return Classifier(_card(layer, labels=("blob", "clear"), size=SIZE), model)


def _image_with_blob(cy: int, cx: int) -> np.ndarray:
    image = np.full((SIZE, SIZE), 0.4, np.float32) + np.random.default_rng(3).normal(0, 0.05, (SIZE, SIZE))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    image[(yy - cy) ** 2 + (xx - cx) ** 2 < 16] = 1.0
    return np.clip(image, 0, 1).astype(np.float32)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_heatmap_peak_lies_on_the_blob_and_moves_with_it(blob_classifier, method):
    peaks = []
    for centre in [(12, 12), (34, 36)]:
        image = _image_with_blob(*centre)
        explanation = blob_classifier.explain_input(image[..., None], method, target="blob")
        peak = np.unravel_index(np.argmax(explanation.heatmap), explanation.heatmap.shape)
        assert np.hypot(peak[0] - centre[0], peak[1] - centre[1]) <= 8, f"{method} peak {peak} not at {centre}"
        peaks.append(peak)
    assert np.hypot(peaks[0][0] - peaks[1][0], peaks[0][1] - peaks[1][1]) > 15


@pytest.mark.parametrize("method, ratio", [("scorecam", 1.3), ("smoothgrad", 2.0)])
def test_perturbation_and_gradient_maps_are_hotter_on_the_blob(blob_classifier, method, ratio):
    # Score-CAM and SmoothGrad maps are coarser or noisier than Grad-CAM's: ask that the blob is hotter,
    # per pixel, than the rest of the image. Score-CAM is diffuse on this model (masking the input
    # changes the per-image standardisation), hence its lower bar.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for centre in [(12, 12), (34, 36)]:
        heat = blob_classifier.explain_input(_image_with_blob(*centre)[..., None], method, target="blob").heatmap
        near = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < 36
        assert heat[near].mean() > ratio * heat[~near].mean(), f"{method} not concentrated on the blob at {centre}"


def _reference_gradcam(model, x, class_index, layer_name):
    """Grad-CAM as published (Selvaraju et al.), written independently of tf-keras-vis, on logits."""
    import cv2
    import keras
    import tensorflow as tf

    logits_layer = model.layers[-1]
    features_model = keras.Model(model.input, [model.get_layer(layer_name).output, logits_layer.input])
    with tf.GradientTape() as tape:
        features, penultimate = features_model(x[None])
        tape.watch(features)
        features, penultimate = features_model(x[None])
        logits = tf.matmul(penultimate, logits_layer.kernel) + logits_layer.bias
        score = logits[0, class_index]
    grads = tape.gradient(score, features)[0].numpy()
    weights = grads.mean(axis=(0, 1))
    cam = np.maximum((features[0].numpy() * weights).sum(axis=-1), 0)
    cam = cv2.resize(cam, x.shape[:2][::-1], interpolation=cv2.INTER_LINEAR)
    return cam / cam.max()


def test_gradcam_agrees_with_an_independent_implementation(blob_classifier):
    x = _image_with_blob(20, 30)[..., None]
    ours = blob_classifier.explain_input(x, "gradcam", target="blob").heatmap
    reference = _reference_gradcam(blob_classifier.model, x, 0, blob_classifier.card.explain_layer)
    assert np.corrcoef(ours.ravel(), reference.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam", "scorecam", "smoothgrad"])
@pytest.mark.parametrize("layer", [None, "block1b_conv"], ids=["card-layer", "early-layer"])
def test_compiled_path_gives_the_maps_of_tf_keras_vis_itself(tiny, method, layer):
    x = tiny.prepare(synthetic_radiograph(40, seed=3)).array
    for target in range(len(tiny.labels)):
        compiled = tiny.explain_input(x, method, target=target, layer=layer).heatmap
        library = tiny.explain_input(x, method, target=target, layer=layer, reference=True).heatmap
        assert library.max() > 0.0, "the comparison needs a map with evidence"
        np.testing.assert_allclose(compiled, library, atol=1e-4)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_one_pass_prediction_equals_the_model_output(tiny, method):
    x = tiny.prepare(synthetic_radiograph(40, seed=4)).array
    prediction, explanation = tiny.analyse_input(x, method)
    np.testing.assert_allclose(prediction.probabilities, tiny.predict_inputs(x[None])[0], atol=1e-5)
    assert explanation.class_index == prediction.index  # no target: the predicted class is explained


def test_every_method_is_one_complete_record():
    from model.explain import method
    from model.explain.base import Method

    assert {"gradcam", "gradcam++", "layercam", "scorecam", "smoothgrad", "occlusion"} <= set(METHODS)
    for name, record in METHODS.items():
        assert isinstance(record, Method) and record.name == name and callable(record.run)
        assert record.label and record.summary
    assert [m.name for m in METHODS.values() if not m.uses_layer] == ["smoothgrad", "occlusion"]
    assert {m.name for m in METHODS.values() if m.slow} == {"scorecam", "smoothgrad", "occlusion"}
    with pytest.raises(ValueError, match="unknown explanation method 'lime'"):
        method("lime")


def test_a_new_method_is_one_record(tiny):
    # A method plugged into the registry is explained through the same path as the shipped ones.
    from model.explain.base import Method

    def centre(explainers, batch, class_index, layer, reference):
        heat = np.zeros(batch.shape[1:3])
        heat[12:20, 12:20] = 1.0
        return heat, None, class_index

    record = Method("centre", "Centre", uses_layer=False, slow=False, run=centre, summary="a test method")
    METHODS[record.name] = record
    try:
        explanation = tiny.explain_input(tiny.prepare(synthetic_radiograph(40)).array, "centre", target=1)
    finally:
        del METHODS[record.name]
    assert explanation.layer is None and explanation.class_index == 1
    assert explanation.heatmap[16, 16] == 1.0 and explanation.heatmap[0, 0] == 0.0


def test_layercam_keeps_more_detail_than_gradcam_at_an_early_layer(tiny):
    # Grad-CAM averages each channel's gradients over the map; LayerCAM weights every position, so
    # at an early layer its map is not a blur of whole channels.
    x = tiny.prepare(synthetic_radiograph(40, seed=9)).array
    gradcam = tiny.explain_input(x, "gradcam", target=0, layer="block1b_conv").heatmap
    layercam = tiny.explain_input(x, "layercam", target=0, layer="block1b_conv").heatmap
    assert layercam.shape == gradcam.shape and layercam.max() > 0.0
    assert not np.allclose(layercam, gradcam, atol=1e-3)


def test_smoothgrad_is_reproducible(tiny):
    x = tiny.prepare(synthetic_radiograph(40, seed=5)).array
    np.testing.assert_array_equal(tiny.explain_input(x, "smoothgrad").heatmap,
                                  tiny.explain_input(x, "smoothgrad").heatmap)


def test_batch_prediction_matches_single_images_across_batch_boundaries(tiny):
    inputs = np.stack([tiny.prepare(synthetic_radiograph(40, seed=s)).array for s in range(7)])
    singles = np.concatenate([tiny.predict_inputs(x[None]) for x in inputs])
    np.testing.assert_allclose(tiny.predict_inputs(inputs, batch_size=3), singles, atol=1e-5)
    assert tiny.predict_inputs(inputs[:0]).shape == (0, len(tiny.labels))


# --- Overlays ----------------------------------------------------------------------------------------

def test_overlay_keeps_the_original_size_and_colours_only_the_hot_region():
    image = np.full((60, 90), 0.5, np.float32)
    heat = np.zeros((60, 90), np.float32)
    heat[10:20, 10:20] = 1.0
    rgb = render_overlay(image, heat, opacity=0.6, colormap="jet", threshold=0.5)
    assert rgb.shape == (60, 90, 3) and rgb.dtype == np.uint8
    assert rgb[15, 15, 0] > rgb[15, 15, 1] + 60 and rgb[15, 15, 0] > rgb[15, 15, 2] + 60  # jet's top is red
    assert tuple(rgb[50, 80]) == (128, 128, 128)  # below the threshold: plain gray


def test_overlay_opacity_zero_is_the_plain_image():
    image = synthetic_radiograph(40)
    rgb = render_overlay(image, np.ones_like(image), opacity=0.0)
    np.testing.assert_array_equal(rgb[..., 0], np.round(image * 255).astype(np.uint8))


@pytest.mark.parametrize("kwargs, message", [
    ({"colormap": "rainbow"}, "colormap"), ({"opacity": 1.5}, "opacity")])
def test_overlay_rejects_bad_controls(kwargs, message):
    with pytest.raises(ValueError, match=message):
        render_overlay(np.zeros((8, 8)), np.zeros((8, 8)), **kwargs)


def test_display_copy_is_bounded_and_keeps_the_aspect_ratio():
    from model.present.overlay import DISPLAY_MAX_SIDE, fit_within
    tall = np.linspace(0, 1, 3000 * 2400, dtype=np.float32).reshape(3000, 2400)
    shown = fit_within(tall)
    assert shown.shape == (DISPLAY_MAX_SIDE, 1024)
    assert abs(shown.mean() - tall.mean()) < 1e-3  # area averaging, not subsampling
    small = np.zeros((300, 200, 3), np.uint8)
    assert fit_within(small) is small
    assert fit_within(np.zeros((20, 4000, 3), np.uint8)).shape == (6, DISPLAY_MAX_SIDE, 3)


@pytest.mark.parametrize("shape", [(40, 60), (40, 60, 3)])
def test_png_encoding_is_lossless_and_keeps_rgb_order(shape):
    import io

    from PIL import Image

    from model.present.overlay import encode_png
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(image))))
    np.testing.assert_array_equal(decoded, image)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(image.astype(np.float32))


def test_warm_up_prepares_the_grad_cam_path_without_changing_results(tiny):

    fresh = Classifier(tiny.card, tiny.model)
    fresh.warm_up()
    assert "gradcam" in fresh.explainers._built and ("cam", tiny.card.explain_layer) in fresh.explainers._steps
    x = tiny.prepare(synthetic_radiograph(40, seed=6)).array
    np.testing.assert_allclose(fresh.explain_input(x, target=1).heatmap, tiny.explain_input(x, target=1).heatmap,
                               atol=1e-6)
    assert fresh.predict_inputs(x[None]).sum() == pytest.approx(1.0, abs=1e-5)


def test_concurrent_first_requests_build_one_explainer(tiny, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import model.explain.explainers as explainers

    builds = []
    real_build = explainers.linear_gradcam
    monkeypatch.setattr(explainers, "linear_gradcam", lambda m: builds.append("gradcam") or real_build(m))
    fresh = Classifier(tiny.card, tiny.model)
    x = tiny.prepare(synthetic_radiograph(40, seed=7)).array
    with ThreadPoolExecutor(4) as pool:
        maps = list(pool.map(lambda _: fresh.explain_input(x, target=0).heatmap, range(8)))
    assert builds == ["gradcam"]
    for heat in maps[1:]:
        np.testing.assert_allclose(heat, maps[0], atol=1e-6)
