"""A model whose input carries the lung-field mask as channel 1 (`Preprocessing.mask_channel`): the
mask is data about the film, never pixels. Every perturbation the explanations, the film grid, the
faithfulness curves and the test-time copies send to the model changes channel 0 only; channel 1
stays the film's mask exactly (or, for the geometric copies, a 0/1 moved copy of it)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model.classifier import Classifier
from model.inputs.preprocessing import ModelInput, lung_field_mask
from tests.support import (
    assert_one_sentence,
    synthetic_radiograph,
    tiny_classifier,
    tiny_two_channel_classifier,
    write_two_channel_entry,
)

MODEL_ID = "two-channel"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-channel-registry")
    write_two_channel_entry(root, MODEL_ID, default=True)
    return root


@pytest.fixture(scope="module")
def clf(registry):
    return Classifier.load(MODEL_ID, registry)


@pytest.fixture(scope="module")
def film():
    return synthetic_radiograph(96, seed=5, lesion=(0.45, 0.3))


@pytest.fixture(scope="module")
def prepared(clf, film) -> ModelInput:
    return clf.prepare(film)


def test_prepare_gives_the_film_and_its_lung_field_mask(clf, film, prepared):
    x = prepared.array
    assert x.shape == (32, 32, 2) and x.dtype == np.float32
    mask = clf.segmenter.mask(film)
    np.testing.assert_array_equal(x[..., 1], lung_field_mask(mask, prepared.region, clf.card.prep))
    assert set(np.unique(x[..., 1])) == {0.0, 1.0}  # the fixed lung fields: a real mask, not all ones
    plain = dataclasses.replace(clf.card.prep, channels=1, mask_channel=False)
    from model.inputs.preprocessing import preprocess

    np.testing.assert_array_equal(x[..., 0], preprocess(film, plain, prepared.region)[..., 0])


def test_a_card_that_does_not_fit_the_model_is_refused_in_one_sentence(clf):
    one_channel, _ = tiny_classifier(32)
    with pytest.raises(ValueError) as error:
        Classifier(clf.card, one_channel, clf.segmenter)
    assert "(32, 32, 1)" in str(error.value) and "(32, 32, 2)" in str(error.value)
    assert_one_sentence(str(error.value))
    wider = dataclasses.replace(clf.card, preprocessing={**clf.card.preprocessing, "image_size": 48})
    with pytest.raises(ValueError, match="takes inputs of shape"):
        Classifier(wider, clf.model, clf.segmenter)


def test_the_model_saves_without_lambda_and_loads_in_safe_mode(registry, tmp_path):
    import keras

    from model.registry import _has_lambda_layer, entry_dir

    path = entry_dir(MODEL_ID, registry) / "model.keras"
    assert not _has_lambda_layer(path)
    model = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).random((2, 32, 32, 2)).astype(np.float32)
    built, _ = tiny_two_channel_classifier(32, seed=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), built.predict(x, verbose=0), atol=1e-6)
    assert {"lung_masked", "ensemble_features", "gap", "probabilities"} <= {layer.name for layer in model.layers}


def test_the_mask_channel_reaches_the_network(clf, prepared):
    # Not an inert channel: another mask changes the output (so keeping it exact matters).
    x = prepared.array
    other = x.copy()
    other[..., 1] = 1.0
    probabilities = clf.predict_inputs(np.stack([x, other]))
    assert np.abs(probabilities[0] - probabilities[1]).max() > 1e-6
