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


# --------------------------------------------------------------------------- fills and copies


@pytest.mark.parametrize("fill", ["blur", "mean", "black"])
def test_fillers_fill_the_film_and_carry_the_mask(prepared, fill):
    from model.explain.occlusion import filler, occlude

    x = prepared.array
    filled = filler(x, fill)
    assert filled.shape == x.shape and filled.dtype == np.float32
    np.testing.assert_array_equal(filled[..., 1], x[..., 1])
    one_channel = filler(x[..., :1], fill)
    np.testing.assert_array_equal(filled[..., :1], one_channel)  # the fill of the film alone
    if fill == "mean":
        assert np.allclose(filled[..., 0], x[..., 0].mean())
    hidden = occlude(x, (0.25, 0.25, 0.5, 0.5), fill)
    np.testing.assert_array_equal(hidden[..., 1], x[..., 1])
    np.testing.assert_array_equal(hidden[:8, :, 0], x[:8, :, 0])


def test_test_time_copies_move_the_mask_with_the_film_and_keep_it_binary():
    from model.trust.uncertainty import test_time_copies

    # A film equal to its mask: every copy's mask must equal the moved film wherever the film is
    # still exactly 0 or 1 (the same matrix moved both; gamma keeps 0 and 1), and be 0/1 elsewhere.
    mask = np.zeros((32, 32), np.float32)
    mask[6:26, 4:14] = mask[6:26, 18:28] = 1.0
    copies = test_time_copies(np.stack([mask, mask], -1), n=8, seed=3)
    assert copies.shape == (8, 32, 32, 2) and copies.dtype == np.float32
    np.testing.assert_array_equal(copies[0, ..., 1], mask)
    moved = False
    for copy in copies[1:]:
        film, field = copy[..., 0], copy[..., 1]
        assert set(np.unique(field)) <= {0.0, 1.0}
        exact = (film == 0.0) | (film == 1.0)
        assert exact.mean() > 0.5
        np.testing.assert_array_equal(field[exact], film[exact])
        moved |= not np.array_equal(field, mask)
    assert moved
    # Gamma changes the film only: a grey film's copies keep a 0/1 mask.
    grey = np.stack([np.full((32, 32), 0.5, np.float32), mask], -1)
    copies = test_time_copies(grey, n=6, seed=1)
    assert all(set(np.unique(c[..., 1])) <= {0.0, 1.0} for c in copies)
    assert len({round(float(c[16, 16, 0]), 4) for c in copies}) > 2


def test_one_channel_copies_are_unchanged_by_the_mask_support():
    from model.trust.uncertainty import test_time_copies

    x = synthetic_radiograph(32, seed=1)[..., None]
    copies = test_time_copies(x, n=4, seed=0)
    assert copies.shape == (4, 32, 32, 1)
    np.testing.assert_array_equal(copies[0], x)


# --------------------------------------------------------------------------- every batch the model is sent


class Spy:
    """Records every batch `Classifier.predict_inputs` runs (through its compiled forward pass) and
    every batch whose input gradients are taken (SmoothGrad)."""

    def __init__(self, clf):
        self.clf, self.batches = clf, []
        self._forward, self._gradients = clf._forward, clf.explainers.input_gradients

    def __enter__(self):
        def forward(x):
            self.batches.append(np.array(x))
            return self._forward(x)

        def gradients(x, k):
            self.batches.append(np.array(x))
            return self._gradients(x, k)

        self.clf._forward, self.clf.explainers.input_gradients = forward, gradients
        return self

    def __exit__(self, *exc):
        self.clf._forward = self._forward
        del self.clf.explainers.input_gradients

    def assert_mask_kept(self, x: np.ndarray) -> int:
        """Every recorded batch carries x's mask unchanged; returns how many rows had a changed film."""
        assert self.batches, "nothing reached the model"
        changed = 0
        for batch in self.batches:
            assert batch.shape[1:] == x.shape
            np.testing.assert_array_equal(batch[..., 1], np.broadcast_to(x[..., 1], batch.shape[:-1]))
            changed += int(np.sum(np.abs(batch[..., 0] - x[..., 0]).max(axis=(1, 2)) > 1e-6))
        return changed


@pytest.mark.parametrize("method", ["occlusion", "scorecam", "smoothgrad"])
def test_perturbing_methods_send_the_mask_unchanged(clf, prepared, method):
    x = prepared.array
    with Spy(clf) as spy:
        heat = clf.explain_input(x, method, target=0).heatmap
    assert heat.shape == (32, 32) and np.isfinite(heat).all()
    assert spy.assert_mask_kept(x) > 0  # the film was perturbed, the mask never


def test_smoothgrad_maps_the_film_gradient_only(clf, prepared):
    from model.explain.base import normalize_map

    x = prepared.array
    with Spy(clf) as spy:
        heat = clf.explain_input(x, "smoothgrad", target=1).heatmap
    noisy = spy.batches[-1]
    gradients = clf.explainers.input_gradients(noisy, 1)
    np.testing.assert_allclose(heat, normalize_map(gradients[..., 0].mean(axis=0)), atol=1e-6)


def test_film_grid_hiding_and_effects_send_the_mask_unchanged(clf, prepared):
    from model.explain.film_grid import grid_effects, hide_cells

    x = prepared.array
    with Spy(clf) as spy:
        hidden = hide_cells(clf.predict_inputs, prepared, clf.card.prep, cells=(7, 8, 13), grid=6)
        effects = grid_effects(clf.predict_inputs, prepared, clf.card.prep, grid=6, class_index=0)
    assert hidden.inside and hidden.probabilities is not None
    assert np.isfinite(effects.after).any()
    assert spy.assert_mask_kept(x) > 1


def test_what_if_and_faithfulness_send_the_mask_unchanged(clf, prepared):
    from model.explain.occlusion import what_if
    from model.trust.faithfulness import RandomOrders, deletion_insertion, evidence, faithfulness

    x = prepared.array
    heat = clf.explain_input(x, "gradcam", target=0).heatmap
    with Spy(clf) as spy:
        hidden = what_if(clf, x, (0.3, 0.2, 0.3, 0.3))
        curves = deletion_insertion(clf, x, heat, 0, steps=5)
        evidence(clf, x, 0)
        faithfulness(clf, x, heat, 0, steps=5, random_orders=RandomOrders(2),
                     grid=clf.map_grid(clf.explain_input(x)))
    np.testing.assert_array_equal(hidden.occluded_input[..., 1], x[..., 1])
    assert len(curves["deletion"]) == 6
    assert spy.assert_mask_kept(x) > 5


def test_test_time_copies_send_a_moved_binary_mask(clf, prepared):
    from model.trust.uncertainty import test_time_copies, tta_uncertainty

    x = prepared.array
    with Spy(clf) as spy:
        result = tta_uncertainty(clf, prepared, n=6)
    assert result.n == 6
    (batch,) = spy.batches
    np.testing.assert_array_equal(batch, test_time_copies(x, 6))
    np.testing.assert_array_equal(batch[0], x)
    for copy in batch[1:]:
        assert set(np.unique(copy[..., 1])) <= {0.0, 1.0}
        # Moved a little, never lost: most of the lung field stays where it was.
        overlap = (copy[..., 1] * x[..., 1]).sum() / x[..., 1].sum()
        assert overlap > 0.6


# --------------------------------------------------------------------------- tf-keras-vis's own calls


@pytest.mark.parametrize("method", ["scorecam", "smoothgrad"])
def test_library_calls_that_would_perturb_the_mask_are_refused(clf, prepared, method):
    with pytest.raises(ValueError) as error:
        clf.explain_input(prepared.array, method, target=0, reference=True)
    assert "mask" in str(error.value)
    assert_one_sentence(str(error.value))


def test_gradcam_through_the_library_still_matches_on_two_channels(clf, prepared):
    x = prepared.array
    compiled = clf.explain_input(x, "gradcam", target=0).heatmap
    library = clf.explain_input(x, "gradcam", target=0, reference=True).heatmap
    np.testing.assert_allclose(compiled, library, atol=1e-4)


# --------------------------------------------------------------------------- what the pages say about such a model


def test_the_wording_says_one_network_sees_the_lungs_and_another_the_lung_box():
    from model.present.cheating_view import cheats_seen_sentence
    from model.present.layers import layer_choices
    from model.present.overlay import region_caption
    from model.present.shortcut_tables import _measures, shortcut_story
    from model.present.text import lung_attention_caption, preprocessing_summary
    from tests.support import two_channel_card

    card = two_channel_card("two")
    summary = preprocessing_summary(card)
    assert "film and lung-field mask as two channels" in summary and "blacked out" not in summary
    measures = " ".join(_measures(card))
    assert "Its lung-masked networks see only the lung fields" in measures and "markers and devices inside" in measures
    # The training steps are the lung-masked networks', not the regression's.
    assert "none of the training steps below applies to it" in measures
    recipe_card = two_channel_card("two-avg")
    recipe_card.training = {"recipe": {"average_from": 8}}
    assert "The lung-masked networks' weights shipped are the average of the weights from epoch 8 on" in \
        " ".join(_measures(recipe_card))
    assert "set to black" not in measures
    story = "\n".join(shortcut_story(card, {}))
    assert "another network sees the whole lung box" in story and "sees only the lung fields (everything else" not in story
    caption = region_caption((10, 60, 10, 90), (100, 100), lung_crop=True, mask_channel=True)
    assert "its lung-masked networks only the lung fields inside it" in caption
    assert "lung-masked networks" not in region_caption((10, 60, 10, 90), (100, 100), lung_crop=True)
    seen = cheats_seen_sentence(lung_mask=False, mask_channel=True)
    assert "another network the whole lung box" in seen and "cannot read a marker" not in seen
    assert "cannot read a marker" in cheats_seen_sentence(lung_mask=True)
    attention = lung_attention_caption("fixed-lungs", 0.5, None, lung_mask=False, mask_channel=True)
    assert "another network the whole lung box" in attention and "spills onto that margin" not in attention
    # Nowhere is such a model said to see only the lung fields.
    for sentence in (summary, measures, story, caption, seen, attention):
        assert "model sees only the lung fields" not in sentence and "version sees only" not in sentence
    three = layer_choices(["m1_conv", "m2_conv", "m3_conv", "ensemble_features"], "ensemble_features")
    assert three[0].option == "all 3 networks, last block (default)" and three[0].label == "all 3 networks, last block"


def test_the_randomisation_check_runs_on_a_two_channel_model(clf, prepared):
    from model.trust.sanity import randomization_sanity_check

    result = randomization_sanity_check(clf, prepared.array[None], methods=["gradcam", "smoothgrad"])
    assert set(result["methods"]) == {"gradcam", "smoothgrad"} and result["n"] == 1


def test_a_two_channel_cards_networks_are_named_in_the_layer_box_and_the_curves_caption():
    from model.present.layers import layer_choices, network_names
    from model.present.text import members_curves_caption

    training = {"members": ["v2-a", "v2-b"], "networks": ["v2-a", "v2-b", "frozen ImageNet MobileNet (whole lung box)"]}
    assert network_names(training) == training["networks"]
    assert network_names({"members": ["a", "b"]}) == ["a", "b"]
    assert network_names(None) == []
    layers = ["m1_conv_pw_13_relu", "m2_conv_pw_13_relu", "m3_conv_pw_13_relu", "ensemble_features"]
    groups = {c.group for c in layer_choices(layers, "ensemble_features", network_names(training))}
    assert "Network 3: frozen ImageNet MobileNet (whole lung box)" in groups
    caption = members_curves_caption(training)
    assert caption.startswith("This version averages 2 trained members (v2-a, v2-b) with 1 more network "
                              "(frozen ImageNet MobileNet (whole lung box); a regression")
    assert members_curves_caption({"members": ["a", "b"]}) == \
        "This version averages 2 trained members (a, b); the members' validation curves are shown."
    assert members_curves_caption({}) == ""
    # Beside the version's own accuracy: the members' lower figures are theirs, not the version's.
    assert members_curves_caption({"members": ["a", "b"]}, 0.776).endswith(
        "Each member's figures are its own, alone, not this version's: the version combines them (its internal "
        "test accuracy is 77.6%).")


def test_a_two_channel_cards_provenance_names_its_unmasked_network_in_words():
    from model.present.shortcut_tables import provenance_facts

    facts = dict(provenance_facts({
        "masked_temperature": 1.1739302963906515, "masked_size": 160, "parts_check_max_difference": 1e-6,
        "unmasked_branch": {"network": "ImageNet MobileNet v1 (width 0.25), frozen", "image_size": 224,
                            "layers": ["conv_pw_11_relu", "conv_pw_13_relu"], "features": 384,
                            "fitted_on": "train split", "balance": "every (source, label) pair weighs the same",
                            "temperature": 1.1559}}))
    assert facts["temperature of the lung-masked networks before combining"] == "1.17"
    assert facts["network that sees the whole lung box"] == (
        "ImageNet MobileNet v1 (width 0.25), frozen at 224 px; a logistic regression on 384 pooled features "
        "(conv_pw_11_relu, conv_pw_13_relu); fitted on the train split, every (source, label) pair weighs the same; "
        "temperature 1.16 before combining")
    assert not any("parts check" in name for name in facts)


def test_a_comparison_opens_on_the_default_and_the_newest_other_versions():
    from model.present.registry_tables import default_selection
    from tests.support import two_channel_card

    def card(model_id, created, default=False):
        c = two_channel_card(model_id)
        c.created, c.default = created, default
        return c

    cards = [card("v3", "2026-12-04", True), card("a-old", "2026-11-01"), card("v2", "2026-12-03"),
             card("b", "2026-11-20")]
    assert default_selection(cards, 2) == ["v3", "v2"]
    assert default_selection(cards, 3) == ["v3", "v2", "b"]
    assert default_selection(cards[1:], 2) == ["v2", "b"]


def test_the_layer_box_lists_networks_in_order_with_a_legend_and_names_a_joined_last_map():
    from model.present.layers import layer_choices, network_legend

    # Keras interleaves an ensemble's layers: network 3's first layer may come first.
    layers = ["m3_conv_pw_12_relu", "m1_conv_pw_12_relu", "m2_conv_pw_12_relu", "m3_conv_pw_13_relu",
              "m1_conv_pw_13_relu", "m2_conv_pw_13_relu", "m3_unmasked_features", "ensemble_features"]
    choices = layer_choices(layers, "ensemble_features", ["a", "b", "frozen whole-box network"])
    assert [c.member for c in choices][1:] == [1, 1, 2, 2, 3, 3, 3]
    assert next(c for c in choices if c.name == "m3_unmasked_features").label == \
        "network 3, last feature maps (unmasked features)"
    assert next(c for c in choices if c.name == "m3_conv_pw_13_relu").label.startswith("network 3, block 13 (last)")
    assert network_legend(["a", "b", "frozen whole-box network"]) == \
        "Network 1: a; network 2: b; network 3: frozen whole-box network."
    assert network_legend(["a"]) == "" and network_legend(None) == ""


def test_a_whole_box_network_is_offered_only_at_its_standardised_read_out():
    """Grad-CAM before the standardisation carries the per-class offset it removes (blank or flat maps)."""
    from model.present.layers import layer_choices

    layers = ["m1_conv_pw_13_relu", "m3_conv_pw_11_relu", "m3_conv_pw_13_relu", "m3_unmasked_features",
              "m3_standardize_features", "m2_conv_pw_13_relu", "ensemble_features"]
    choices = layer_choices(layers, "ensemble_features", ["a", "b", "whole box"])
    assert [c.name for c in choices if c.member == 3] == ["m3_standardize_features"]
    assert next(c for c in choices if c.member == 3).label == "network 3, last feature maps (standardised)"
    assert [c.member for c in choices] == [None, 1, 2, 3]
