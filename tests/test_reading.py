"""What a reader at a workstation sees, in the core (issue 14): maps that fade out at the edge of the
region the model saw, the colour bar, layers named for people, the film's click-to-hide grid mapped
into the model input, one confidence figure in words and the report's case identifier and notes."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model.explain.film_grid import (
    GridEffects,
    HiddenCells,
    cell_at,
    cell_bounds,
    change_points,
    grid_effects,
    hidden_effect,
    input_box,
    signed_points,
)
from model.inputs.preprocessing import ModelInput, Preprocessing, preprocess
from model.present.layers import layer_choices, layer_label, visible_choices
from model.present.overlay import (
    colour_bar,
    colour_bar_caption,
    draw_grid,
    fade_outside,
    faint_map_note,
    region_caption,
    render_overlay,
    tinted_share,
    visibility,
    window,
)

# --------------------------------------------------------------------------- maps


def test_the_map_fades_out_beyond_the_region_instead_of_stopping_in_a_box():
    heat = np.zeros((100, 100), np.float32)
    heat[20:80, 30:70] = 1.0  # the model saw rows 20-80, columns 30-70 (a lung box)
    faded = fade_outside(heat, (20, 80, 30, 70))
    np.testing.assert_array_equal(faded[20:80, 30:70], heat[20:80, 30:70])  # inside: unchanged
    # Just outside the box the colour goes on, and falls smoothly to nothing further out.
    row = faded[50, 70:100]
    assert row[0] > 0.8 and row[-1] == 0.0 and np.all(np.diff(row) <= 1e-6)
    assert faded[0, 0] == 0.0 and faded.max() <= 1.0
    # On a display copy half the size, the region is scaled with it.
    half = fade_outside(heat[::2, ::2], (20, 80, 30, 70), image_shape=(100, 100))
    assert half.shape == (50, 50) and half[25, 25] == 1.0 and half[0, 0] == 0.0


def test_the_threshold_hides_the_weak_part_with_a_soft_edge():
    ramp = np.linspace(0, 1, 101, dtype=np.float32)
    shown = visibility(ramp, 0.5)
    assert shown[:41].max() == 0.0 and shown[50:].min() == 1.0  # faded in over the 0.1 below it
    assert np.all(np.diff(shown) >= 0)
    assert tinted_share(ramp, 0.5) == pytest.approx(0.55, abs=0.02)  # more than half visible from 0.45
    assert tinted_share(ramp, 0.0) == 1.0


def test_default_colour_map_is_perceptually_uniform_and_the_threshold_hides_half():
    from model.policy import DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD

    assert DEFAULT_COLORMAP in ("viridis", "inferno", "magma", "cividis")
    assert DEFAULT_MAP_THRESHOLD >= 0.4
    image = np.full((20, 20), 0.5, np.float32)
    heat = np.tile(np.linspace(0, 1, 20, dtype=np.float32), (20, 1))
    rgb = render_overlay(image, heat, 0.6, DEFAULT_COLORMAP, DEFAULT_MAP_THRESHOLD)
    assert tuple(rgb[0, 0]) == (128, 128, 128) and tuple(rgb[0, -1]) != (128, 128, 128)


def test_colour_bar_and_its_words():
    bar = colour_bar("inferno", 64, 8, threshold=0.5)
    assert bar.shape == (8, 64, 3) and bar.dtype == np.uint8
    assert tuple(bar[0, 0]) == (128, 128, 128)  # below the threshold: gray, as on the overlay
    assert bar[0, -1].astype(int).sum() > 500  # inferno's top is pale yellow
    words = colour_bar_caption("COVID-19", 0.5)
    assert "weak → strong evidence for COVID-19" in words and "this image's maximum" in words and "50%" in words
    assert "lung" in region_caption((10, 60, 10, 90), (100, 100), lung_crop=True)
    assert "whole film" in region_caption((6, 94, 6, 94), (100, 100), lung_crop=False)
    assert region_caption((0, 100, 0, 100), (100, 100), lung_crop=True, lungs_found=False).startswith(
        "No plausible lung fields were found, so the box this model saw (100% of the image) is not")
    # A lung-masked model saw the lung fields only: its map's colour over the neck is not something it saw.
    masked = region_caption((10, 60, 10, 90), (100, 100), lung_crop=True, lung_mask=True)
    assert masked.startswith("The model saw only the lung fields (slightly widened), everything else in the box "
                             "around them (40% of the film) blanked") and "not tissue the model saw there" in masked
    assert "saw only the box" not in masked
    with pytest.raises(ValueError, match="colormap"):
        colour_bar("rainbow")


def test_a_pixel_level_map_the_threshold_leaves_as_specks_gets_a_line_with_a_threshold_that_shows_it():
    from model.explain import METHODS

    rng = np.random.default_rng(0)
    speckle = rng.random((100, 100)) ** 10  # a pixel-level map: a few strong pixels, the rest weak
    share_at_half = tinted_share(speckle, 0.5)
    assert share_at_half < 0.1
    note = faint_map_note(speckle, 0.5, METHODS["smoothgrad"])
    assert note.startswith(f"SmoothGrad marks single pixels: at Hide below 0.50 only {share_at_half:.1%} of the map")
    better = float(note.split("specks; at ")[1].split(",")[0])
    # The suggested threshold is the highest step of 0.05 that colours at least a quarter of the map.
    assert better < 0.5 and tinted_share(speckle, better) >= 0.25 > tinted_share(speckle, better + 0.05)
    assert note.endswith(f"{tinted_share(speckle, better):.0%} is.")
    # Region maps read as patches even when small: no line; nor with nothing hidden or nothing to gain.
    assert faint_map_note(speckle, 0.5, METHODS["gradcam"]) is None
    assert faint_map_note(speckle, 0.0, METHODS["smoothgrad"]) is None
    assert faint_map_note(np.zeros((10, 10)), 0.5, METHODS["smoothgrad"]) is None
    assert [m.name for m in METHODS.values() if m.pixel_level] == ["smoothgrad"]
    # A pixel-level map already coloured on a tenth or more: no line. A threshold off the 0.05 steps still
    # gets a suggestion on them, below it.
    ramp = np.tile(np.linspace(0.0, 1.0, 100), (100, 1))
    assert tinted_share(ramp, 0.5) >= 0.1 and faint_map_note(ramp, 0.5, METHODS["smoothgrad"]) is None
    odd = faint_map_note(speckle, 0.47, METHODS["smoothgrad"])
    suggested = float(odd.split("specks; at ")[1].split(",")[0])
    assert suggested < 0.47 and round(suggested / 0.05, 6) == round(suggested / 0.05)


def test_window_level_and_grid_are_display_only():
    pixels = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    np.testing.assert_allclose(window(pixels, 0.5, 1.0), pixels, atol=1e-6)
    narrow = window(pixels, 0.5, 0.2)
    assert narrow.min() == 0.0 and narrow.max() == 1.0 and narrow[5, 0] == pytest.approx(0.5, abs=0.06)
    gridded = draw_grid(np.zeros((60, 60), np.float32), 3, hidden=(4, 8))
    assert gridded.shape == (60, 60, 3) and gridded[20, 5].max() > 0 and gridded[5, 5].max() == 0
    assert tuple(gridded[20, 30]) == (255, 176, 0)  # the hidden cell's outline, amber
    assert tuple(gridded[30, 30]) == (96, 96, 96) and tuple(gridded[50, 50]) == (96, 96, 96)  # both greyed
    assert gridded[30, 10].max() == 0  # a cell not hidden keeps the film


# --------------------------------------------------------------------------- layers


ENSEMBLE = ["m1_stem_conv", "m1_stem_relu", "m1_stage1_block1_1_conv", "m1_stage4_block2_add", "m1_stage4_block2_out",
            "m2_stem_conv", "m2_block1a_relu", "m2_block4b_conv", "m2_block4b_relu", "ensemble_features"]


def test_layers_are_named_for_people_and_grouped_by_network():
    choices = layer_choices(ENSEMBLE, "ensemble_features", ["cxr-resnet-lungs-v1", "cxr-compact-lungs-v1"])
    assert choices[0].name == "ensemble_features" and choices[0].default
    # The reader's name and the default mark apart: the box marks the default, a caption or report names the layer.
    assert choices[0].option == "both networks, last block (default)" and choices[0].label == "both networks, last block"
    assert {c.name for c in choices} == set(ENSEMBLE)
    first = [c for c in choices if c.name.startswith("m1_")]
    assert first[0].name == "m1_stage4_block2_out"
    assert first[0].label == "network 1, stage 4, block 2 (last), output"
    assert all(c.group == "Network 1: cxr-resnet-lungs-v1" and c.member == 1 for c in first)
    assert choices[0].member is None
    assert next(c for c in choices if c.name == "m1_stem_conv").advanced
    shown = visible_choices(choices, advanced=False)
    assert "m1_stem_conv" not in [c.name for c in shown] and "m2_block4b_relu" in [c.name for c in shown]
    assert len(visible_choices(choices, advanced=True)) == len(ENSEMBLE)
    assert layer_label("ensemble_features", choices) == "both networks, last block"
    assert not any("_" in c.label for c in choices)


def test_a_single_network_lists_its_default_first():
    layers = ["stem_conv", "stem_relu", "block1a_conv", "block1a_relu", "block2b_conv", "block2b_relu"]
    choices = layer_choices(layers, "block2b_conv")
    assert [c.name for c in choices][:2] == ["block2b_conv", "block2b_relu"]
    assert choices[0].option == "block 2 (last), second convolution (default)" and choices[0].group == ""
    assert choices[0].label == "block 2 (last), second convolution"
    assert choices[1].label == choices[1].option == "block 2 (last), second layer (activated)"
    assert next(c.label for c in choices if c.name == "block1a_conv") == "block 1, first convolution"


@pytest.mark.parametrize("name, words", [
    ("conv_pw_13_relu", ("block 13", "pointwise convolution (activated)")),  # MobileNet's last layer
    ("conv_dw_13", ("block 13", "depthwise convolution")),
    ("conv1", ("block 1", "convolution")),
    ("stage4_block2_1_conv", ("stage 4, block 2", "convolution 1")),
    ("stage4_block2_1_relu", ("stage 4, block 2", "convolution 1 (activated)")),  # read "..., 1 (activated)"
    ("stage2_block1_proj_conv", ("stage 2, block 1", "shortcut convolution")),
    ("stem_relu", ("first layers", "activation")),
    ("bridge_conv", ("", "bridge convolution")),
])
def test_layer_names_are_read_from_the_name_whatever_the_architecture(name, words):
    from model.present.layers import layer_parts

    assert layer_parts(name) == words


def test_every_layer_name_of_the_shipped_ensembles_fits_the_layer_box():
    """The layer box at 1366 px holds about 375 px of text, some 65 characters: "network 1, last block (block
    13), pointwise convolution (activated)" (67) was cut in the review; "block 13 (last)" keeps it whole."""
    mobilenet = [f"m{m}_conv_{kind}_{block}{act}" for m in (1, 2) for block in range(9, 14) for kind in ("dw", "pw")
                 for act in ("", "_relu")] + ["m3_standardize_features", "ensemble_features"]
    resnet = [f"m1_stage{s}_block{b}_{part}" for s in (3, 4) for b in (1, 2) for part in ("1_conv", "1_relu", "2_conv",
                                                                                          "add", "out")]
    for names in (mobilenet, resnet + ["m2_block4b_relu", "ensemble_features"]):
        labels = [c.option for c in layer_choices(names, "ensemble_features", ["a", "b", "c"])]
        assert max(map(len, labels)) <= 61, max(labels, key=len)
        assert len(set(labels)) == len(labels)  # shorter, still one name per layer


def test_the_new_default_architecture_names_its_last_block():
    mobilenet = ["conv1", "conv1_relu", "conv_dw_12", "conv_pw_12_relu", "conv_dw_13", "conv_dw_13_relu", "conv_pw_13",
                 "conv_pw_13_relu"]
    choices = layer_choices(mobilenet, "conv_pw_13_relu")
    assert choices[0].option == "block 13 (last), pointwise convolution (activated) (default)"
    assert not any("_" in c.label for c in choices)


# --------------------------------------------------------------------------- the film's grid


def test_a_click_finds_its_cell_and_the_cell_its_box_on_the_model_input():
    assert cell_at(0, 0, (600, 400), 6) == 0
    assert cell_at(599, 399, (600, 400), 6) == 35
    assert cell_at(150, 100, (600, 400), 4) == 5 and cell_at(-1, 10, (600, 400), 4) is None
    assert cell_bounds(5, 4, (400, 600)) == (100, 200, 150, 300)
    prep = Preprocessing(image_size=40, channels=1, resize="stretch", border_crop=0.0, equalize="none")
    # The model saw rows 100-300 and columns 0-600 of a 400 x 600 film (a lung box).
    model_input = ModelInput(np.zeros((40, 40, 1), np.float32), (100, 300, 0, 600), (400, 600))
    assert input_box(0, 4, model_input, prep) is None  # the top row: never seen by the model
    top, left, height, width = input_box(5, 4, model_input, prep)
    assert (top, left, height, width) == pytest.approx((0.0, 0.25, 0.5, 0.25))
    # Letterbox: the 200 x 600 region sits in the middle third of the square input.
    letterbox = Preprocessing(image_size=60, channels=1, resize="letterbox", border_crop=0.0, equalize="none")
    top, left, height, width = input_box(5, 4, model_input, letterbox)
    assert (top, height) == pytest.approx((20 / 60, 10 / 60)) and left == pytest.approx(0.25)


def test_hiding_each_cell_maps_the_fall_on_the_film_grid():
    prep = Preprocessing(image_size=16, channels=1, resize="stretch", border_crop=0.0, equalize="none")
    pixels = np.zeros((32, 32), np.float32)
    pixels[16:, 16:] = 1.0
    model_input = ModelInput(preprocess(pixels, prep, (0, 32, 0, 32)), (0, 32, 0, 32), (32, 32))

    def predict(batch):  # "class 0" is the brightness of the bottom-right quarter
        bright = batch[:, 8:, 8:, 0].mean(axis=(1, 2))
        return np.stack([bright, 1 - bright], axis=1)

    effects = grid_effects(predict, model_input, prep, 2, class_index=0, fill="black")
    assert isinstance(effects, GridEffects) and effects.before == pytest.approx(1.0)
    np.testing.assert_allclose(effects.drop, [[0, 0], [0, 1]], atol=1e-6)
    film = effects.film_map((32, 32))
    assert film[24, 24] == 1.0 and film[4, 4] == 0.0 and effects.scale == pytest.approx(1.0)
    # A largest fall of 0.1 point is drawn faint: the colours span at least SCALE_FLOOR (5 points).
    from model.explain.film_grid import SCALE_FLOOR
    small = GridEffects(2, 0.5, np.array([[0.5, 0.499], [np.nan, 0.6]]), 0)
    assert small.scale == SCALE_FLOOR == 0.05
    assert small.film_map((32, 32))[4, 24] == pytest.approx(0.001 / 0.05) and small.film_map((32, 32)).max() < 0.05
    from model.present.text import grid_legend_sentence
    assert grid_legend_sentence("COVID-19", 0.001, small.scale).startswith(
        "no fall → a fall of 5.0 points (the largest, 0.1 points, is small and drawn faint) of COVID-19")
    # A fall is said as a fall, unsigned: "fall (−19.0 points)" read as a double negative.
    assert grid_legend_sentence("Normal", 0.19, 0.19).startswith("no fall → the largest fall (19.0 points) of Normal")
    assert "−" not in grid_legend_sentence("Normal", 0.001, 0.05)
    assert grid_legend_sentence("Normal", 0.0, 0.05).startswith("No cell lowers the probability of Normal")


def test_changes_are_said_in_percentage_points():
    assert signed_points(-12.34) == "−12.3 points"
    assert signed_points(5.0) == "+5.0 points"
    assert signed_points(0.0) == "±0.0 points"
    # From one shown figure to another: 76.34% → 75.36% is shown as 76.3% → 75.4%, so −0.9 points (not −1.0).
    assert change_points(0.7634, 0.7536) == -0.9 and signed_points(change_points(0.7634, 0.7536)) == "−0.9 points"
    assert change_points(0.5, 0.5004) == 0.0 and signed_points(change_points(0.5, 0.5004)) == "±0.0 points"
    # st.metric reads its arrow from a leading hyphen; the text elsewhere has a real minus sign.
    assert signed_points(-0.9, minus="-") == "-0.9 points" and signed_points(-0.9) == "−0.9 points"


def _hidden(before, probabilities, label="Normal", level=0.783, cells=(14, 15)):
    """`hidden_effect` of hiding `cells` of the 6 x 6 grid on `label` (classes `LABELS`), the film's `before`."""
    inside = () if probabilities is None else tuple(cells)
    return hidden_effect(HiddenCells(tuple(cells), inside, None if probabilities is None else np.array(probabilities)),
                         ["COVID-19", "Normal", "Pneumonia"], label, before, level, "blur", 6)


def test_the_hidden_cells_change_is_a_number_in_points_as_the_two_figures_print():
    """The page and the report format one typed effect: the change a number of points from the card's figure,
    "unchanged" exactly when the two figures print alike (to 0.1%), whatever the raw difference."""
    moved = _hidden(0.7634, (0.1, 0.7536, 0.1464))  # 76.3% → 75.4%: −0.9 points, not the raw −0.98
    assert moved.change == -0.9 and not moved.unchanged and moved.after == 0.7536 and moved.before == 0.7634
    assert change_points(0.7634, 0.7536) == moved.change and signed_points(moved.change) == "−0.9 points"
    # Nearly equal, on either side of a printed digit: 76.349% and 76.351% print 76.3% and 76.4%, so +0.1 points
    # (a raw tolerance of 0.05 points called this "unchanged" beside two different figures) ...
    tiny = _hidden(0.76349, (0.1, 0.76351, 0.13649))
    assert tiny.change == 0.1 and not tiny.unchanged
    # ... while 76.34% and 76.26% both print 76.3%: ±0.0, with no direction (the raw change is −0.08 points).
    same = _hidden(0.7634, (0.1, 0.7626, 0.1374))
    assert same.unchanged and same.change == 0.0 and str(same.change) == "0.0" and signed_points(same.change) == (
        "±0.0 points")
    assert same.probabilities == (0.1, 0.7626, 0.1374) and same.labels == ("COVID-19", "Normal", "Pneumonia")
    assert same.output_after == "Normal" and not same.output_changes and same.cells == (14, 15) and same.seen


def test_the_hidden_cells_effect_says_when_the_answer_crosses_its_level_or_changes():
    fall = _hidden(0.854, (0.1, 0.7828, 0.1172))  # prints 78.3%, the level's figure, yet under it
    assert fall.falls_under and not fall.reaches_level and not fall.output_changes
    rise = _hidden(0.70, (0.1, 0.80, 0.1))
    assert rise.reaches_level and not rise.falls_under
    assert not _hidden(0.854, (0.1, 0.80, 0.1)).falls_under and not _hidden(0.70, (0.2, 0.6, 0.2)).falls_under
    other = _hidden(0.854, (0.55, 0.30, 0.15))
    assert other.output_changes and other.output_after == "COVID-19" and other.after_top == 0.55
    assert other.after_top_under and not other.falls_under  # a new class, not the same answer falling
    assert not _hidden(0.854, (0.90, 0.05, 0.05)).after_top_under
    # Without an answer level nothing crosses it.
    unknown = _hidden(0.854, (0.1, 0.70, 0.2), level=None)
    assert not (unknown.falls_under or unknown.reaches_level or unknown.after_top_under)
    # Cells outside the region the model saw: no output of their own.
    outside = _hidden(0.854, None, cells=(0,))
    assert not outside.seen and outside.after is None and outside.change is None and not outside.unchanged
    with pytest.raises(ValueError, match="label must be one of"):
        _hidden(0.854, (0.1, 0.8, 0.1), label="Effusion")
    with pytest.raises(ValueError, match="one per class"):
        _hidden(0.854, (0.2, 0.8))


# --------------------------------------------------------------------------- words and the report


def test_one_confidence_figure_in_plain_words():
    from model.present.text import case_id, confidence_words
    from model.trust.uncertainty import Uncertainty, uncertainty_of

    steady = Uncertainty({"A": 0.9, "B": 0.1}, {"A": 0.02, "B": 0.02}, "A", 0.9, 1.0, 8)
    figure, word, sentence = confidence_words(steady)
    assert (figure, word) == ("90.0%", "Stable")
    assert sentence.startswith("over 7 slightly shifted, rotated or re-exposed copies of the film it typically moves "
                               "by 2.0 points (standard deviation)")
    shaky = uncertainty_of(("A", "B"), np.array([[0.9, 0.1]] + [[0.3, 0.7]] * 3 + [[0.8, 0.2]] * 4), 0.6, 0.75)
    figure, word, sentence = confidence_words(shaky)
    assert word == "Unstable" and "only 5 of 8 readings" in sentence and "entropy" not in sentence
    assert figure == "90.0%" and "fewer than the 6 this model needs, so unstable" in sentence
    varies = Uncertainty({"A": 0.7, "B": 0.3}, {"A": 0.12, "B": 0.12}, "A", 0.7, 1.0, 8)
    figure, word, sentence = confidence_words(varies)  # wide spread, but no uncertainty rule fired
    assert word == "Varies" and "typically moves by 12.0 points" in sentence
    # A spread of 8.8 points is not called stable (the review's case: a 60% answer, ±8.8).
    wide = Uncertainty({"A": 0.6, "B": 0.4}, {"A": 0.088, "B": 0.088}, "A", 0.6, 1.0, 8)
    assert confidence_words(wide)[1] == "Varies"
    low = uncertainty_of(("A", "B"), np.array([[0.55, 0.45]] * 8), 0.6, 0.75)
    assert low.uncertain and confidence_words(low)[1] == "Stable"  # a low probability is not instability
    assert case_id("0123456789abcdef" * 4) == "01234567"
    from model.present.text import stability_brief
    assert stability_brief(varies) == "moves ±12.0 points (one standard deviation) on 7 changed copies"
    # Varies, but the answer and every copy reach the answer level: said, so "Varies" beside a status with no
    # reason to doubt the answer does not read as a doubt left unsaid (review).
    above = Uncertainty({"A": 0.9, "B": 0.1}, {"A": 0.06, "B": 0.06}, "A", 0.9, 1.0, 8, answer_level=0.66,
                        copies=(0.8, 0.85, 0.95, 0.97, 0.7, 0.9, 0.99))
    assert stability_brief(above).endswith("; every copy stays at or above the answer level 66.0%")
    dipping = Uncertainty({"A": 0.9, "B": 0.1}, {"A": 0.06, "B": 0.06}, "A", 0.9, 1.0, 8, answer_level=0.66,
                          copies=(0.8, 0.85, 0.95, 0.97, 0.6, 0.9, 0.99))
    assert "every copy" not in stability_brief(dipping)
    assert stability_brief(shaky).endswith("; 5 of 8 readings give A (fewer than 6: unstable)")  # a fact here, not a "would"
    assert "±" in stability_brief(shaky)


def test_stability_word_follows_the_glossary_rule_on_the_shown_figure():
    """The review's cases: "Stable: moves ±5.0 points" (4.96 called under 5) and "Varies ... 7 of 8 readings
    give Normal" beside a glossary saying unstable means the answer changes."""
    from model.present.glossary import explain
    from model.present.text import confidence_words, stability_brief
    from model.trust.uncertainty import Uncertainty, uncertainty_of

    rule = explain("Stable / varies / unstable")
    assert "under 5.0 points" in rule and "varies, 5.0 or more" in rule and "the answer changes" not in rule
    shown_five = Uncertainty({"A": 0.7, "B": 0.3}, {"A": 0.0496, "B": 0.0496}, "A", 0.7, 1.0, 8)
    assert stability_brief(shown_five).startswith("moves ±5.0 points") and confidence_words(shown_five)[1] == "Varies"
    under = Uncertainty({"A": 0.7, "B": 0.3}, {"A": 0.0494, "B": 0.0494}, "A", 0.7, 1.0, 8)
    assert stability_brief(under).startswith("moves ±4.9 points") and confidence_words(under)[1] == "Stable"
    # One copy of eight gives another class: not unstable for a model that needs 6, and the line says so.
    one_off = uncertainty_of(("A", "B"), np.array([[0.8, 0.2]] * 4 + [[0.7, 0.3]] * 3 + [[0.4, 0.6]]), 0.6, 0.75)
    word, sentence = confidence_words(one_off)[1:]
    assert word == "Varies" and "7 of 8 readings (the film and its copies) give A, and this model needs 6" in sentence
    assert stability_brief(one_off).endswith("; 7 of 8 readings give A (fewer than 6 would be unstable); 1 of the 7 copies below "
                                             "the answer level 60.0%")
    from model.present.text import stability_line
    assert stability_line(one_off) == f"Varies: {stability_brief(one_off)}"  # the report's line, the page's words
    # The model's own level: 5 of 8 are enough for a model whose level is 62.5%.
    looser = uncertainty_of(("A", "B"), np.array([[0.9, 0.1]] * 5 + [[0.3, 0.7]] * 3), 0.6, 0.625)
    assert looser.needed == 5 and confidence_words(looser)[1] != "Unstable"
    assert stability_brief(looser).endswith("(fewer than 5 would be unstable); 3 of the 7 copies below the answer level 60.0%")
    assert Uncertainty.from_dict(looser.to_dict()) == looser


def under(tta) -> int:
    """How many of the copies fall under the answer level, counted here independently of the caution."""
    return sum(p < tta.answer_level for p in tta.copies)


def test_copies_below_the_answer_level_are_counted_beside_the_stability():
    """The review's case: "Answer" beside "Varies: moves ±7.9 points" for a film at 81% with a model that answers
    from 78.3%: some of its copies fell below the level where the model answers, and nothing said so."""
    from model.present.text import confidence_words, copies_below_values, stability_brief, stability_line
    from model.trust.uncertainty import Uncertainty, uncertainty_of

    near = np.array([[0.81, 0.12, 0.07]] + [[0.9, 0.06, 0.04]] * 4 + [[0.70, 0.2, 0.1], [0.74, 0.2, 0.06],
                                                                       [0.66, 0.3, 0.04]])
    tta = uncertainty_of(("A", "B", "C"), near, 0.783, 0.5)
    assert tta.copies == pytest.approx((0.9, 0.9, 0.9, 0.9, 0.7, 0.74, 0.66)) and under(tta) == 3
    assert not tta.uncertain and tta.reasons == [] and tta.message == ""  # the validated rules did not fire
    [caution] = tta.findings
    assert (caution.kind, caution.severity) == ("copies_below_level", "answer_caution")
    assert caution.values == {"label": "A", "below": 3, "copies": 7, "level": 0.783, "lowest": 0.66}
    assert caution.sentence.startswith("A falls under the 78.3% this model needs to answer on its own on 3 of the 7 ")
    assert "(the lowest 66.0%)" in caution.sentence and copies_below_values(tta) == caution.values
    assert caution.sentence.endswith("(the lowest 66.0%): the answer holds on some readings of the film and not on "
                                     "others.")
    # Every copy below: said as such, never "near the level" (the review's film: 7 of 7, the lowest 22 points under).
    alone = uncertainty_of(("A", "B"), np.array([[0.82, 0.18]] + [[0.6, 0.4]] * 6 + [[0.564, 0.436]]), 0.783, 0.5)
    assert alone.findings[0].sentence.endswith("(the lowest 56.4%): the film as given reaches that level but none of "
                                               "its copies does: the answer rests on this one reading.")
    assert stability_line(tta) == ("Varies: moves ±9.5 points (one standard deviation) on 7 changed copies; 3 of the 7 "
                                   "copies below the answer level 78.3%")
    from model.present.text import copies_below_brief  # the part Diagnose colours apart from the word
    assert copies_below_brief(tta) == "3 of the 7 copies below the answer level 78.3%"
    assert stability_brief(tta, with_below=False) == "moves ±9.5 points (one standard deviation) on 7 changed copies"
    word, sentence = confidence_words(tta)[1:]
    assert word == "Varies" and "A is under the 78.3% this model needs to answer on its own on 3 of the 7 copies" in sentence
    # Copies that all stay at or above the level: no caution, whatever the spread; a spread that "varies" says
    # they stay above it (the status finds no reason to doubt the answer beside it).
    above = uncertainty_of(("A", "B", "C"), np.array([[0.81, 0.12, 0.07]] + [[0.95, 0.03, 0.02], [0.783, 0.2, 0.017]] * 3
                                                     + [[0.9, 0.05, 0.05]]), 0.783, 0.5)
    assert under(above) == 0 and above.findings == [] and copies_below_values(above) is None
    assert copies_below_brief(above) == ""
    assert stability_brief(above).endswith("changed copies; every copy stays at or above the answer level 78.3%")
    assert "answer on its own" not in confidence_words(above)[2]
    # Once a rule fired the status says the doubt already: a low probability, or copies giving other classes.
    low = uncertainty_of(("A", "B", "C"), np.vstack([[0.75, 0.18, 0.07], near[1:]]), 0.783, 0.5)
    assert [f.kind for f in low.findings] == ["low_probability"] and under(low) == 3
    assert "answer level" not in stability_brief(low)
    flipping = uncertainty_of(("A", "B"), np.array([[0.9, 0.1]] + [[0.3, 0.7]] * 5 + [[0.8, 0.2]] * 2), 0.783, 0.5)
    assert [f.kind for f in flipping.findings] == ["copies_disagree"] and "answer level" not in stability_brief(flipping)
    # The lowest copy is never shown equal to the level it is under.
    edge = uncertainty_of(("A", "B"), np.array([[0.9, 0.1]] * 7 + [[0.7826, 0.2174]]), 0.783, 0.5)
    assert under(edge) == 1 and "(the lowest just under it)" in edge.findings[0].sentence
    # Kept through the cache's dict and back; an Uncertainty stored before the copies were has none to count.
    assert Uncertainty.from_dict(tta.to_dict()) == tta
    old = {key: value for key, value in tta.to_dict().items() if key not in ("copies", "answer_level")}
    assert under(Uncertainty.from_dict({**old, "findings": []})) == 0


def test_more_copies_below_the_answer_level_than_the_model_allows_advise_a_second_read():
    """The review's film (COVID-19, answered Normal 85.4%, 6 of its 7 copies below the level): with a model whose
    scope check allows at most 2 copies below, the rule fires and the answer is uncertain, named in the status's
    words; up to the limit the copies below only caution; without a limit (a scope without one) never a rule."""
    from model.present.text import copies_below_values, names_of
    from model.trust.uncertainty import uncertainty_of

    film = np.array([[0.854, 0.1, 0.046]] + [[p, 0.9 - p, 0.1] for p in (0.52, 0.65, 0.66, 0.67, 0.70, 0.71, 0.79)])
    ruled = uncertainty_of(("Normal", "COVID-19", "Pneumonia"), film, 0.783, 0.5, 2)
    [rule] = ruled.findings
    assert (rule.kind, rule.severity) == ("many_copies_below", "uncertain") and ruled.uncertain
    assert rule.values == {"label": "Normal", "below": 6, "copies": 7, "level": 0.783, "allowed": 2}
    assert ruled.reasons == ["Normal falls under the 78.3% this model needs to answer on its own on 6 of the 7 slightly "
                             "shifted, rotated or re-exposed copies of the film: more than the 2 this model allows in "
                             "an answer."]
    assert names_of(ruled.findings) == "6 of 7 changed copies below the answer level 78.3%, more than the 2 allowed"
    assert copies_below_values(ruled) is None  # the caution is not said beside a rule that fired
    loose = uncertainty_of(("Normal", "COVID-19", "Pneumonia"), film, 0.783, 0.5, 6)
    assert not loose.uncertain and [f.kind for f in loose.findings] == ["copies_below_level"]
    assert [f.kind for f in uncertainty_of(("Normal", "COVID-19", "Pneumonia"), film, 0.783, 0.5).findings] == [
        "copies_below_level"]
    # Under the level the film itself is the low-probability rule's, never this one's.
    low = uncertainty_of(("Normal", "COVID-19", "Pneumonia"), np.vstack([[0.7, 0.2, 0.1], film[1:]]), 0.783, 0.5, 0)
    assert [f.kind for f in low.findings] == ["low_probability"]


def test_report_carries_case_status_colour_bar_what_if_and_coloured_notes():
    from model.prediction import Prediction
    from model.present.report import (
        BLOCKED,
        INFO,
        WARNING,
        ReportContent,
        Status,
        build_report,
        note_style,
        render_report,
    )
    from model.trust.findings import Finding

    odd = Finding("odd_shape", "uncertain", "image", "Odd shape.")
    disagree = Finding("copies_disagree", "uncertain", "model", "Only 62% of copies agree.")
    caution = Finding("methods_disagree", "map_caution", "map", "The methods disagree.")
    assumed = Finding("age_not_known", "assumption", "reader", "Age not known.")
    assert note_style(odd)[:2] == (WARNING, "!") and note_style(assumed)[:2] == (INFO, "-")
    assert note_style("82% of the Grad-CAM map lies inside the lung fields.")[0] == INFO  # a plain sentence: information
    assert note_style(Finding("child", "out_of_scope", "header", "A child."))[0] == BLOCKED
    pixels = np.full((64, 64), 0.5, np.float32)
    overlay = np.zeros((64, 64, 3), np.uint8)
    prediction = Prediction(("COVID-19", "Normal", "Pneumonia"), np.array([0.7, 0.2, 0.1]))
    content = ReportContent(
        method="gradcam", model_id="m", model_version="1", model_name="M", case_id="01234567", colormap="inferno",
        threshold=0.5, status=Status("Uncertain: second read advised.", "uncertain", (odd, disagree, caution, assumed)),
        compared=["Grad-CAM", "Occlusion"],
        what_if=hidden_effect(HiddenCells((13, 19), (13, 19), np.array([0.516, 0.43, 0.054])), prediction.labels,
                              "COVID-19", 0.958, None, "blur", 6),
        notes=["82% of the Grad-CAM map lies inside the lung fields."])
    page = np.asarray(render_report(pixels, overlay, prediction, content))
    colours = {tuple(c) for c in page.reshape(-1, 3)[::7]}
    assert WARNING in colours and INFO in colours  # notes coloured by severity
    png = build_report(pixels, overlay, prediction, content)
    assert Image.open(io.BytesIO(png)).size == (1240, 1754)


# --------------------------------------------------------------------------- the Diagnose page's figures


def test_probability_bars_put_the_output_with_hidden_cells_beside_the_films():
    from model.prediction import Prediction
    from model.present.diagnose_figures import probability_bars

    film = Prediction(("COVID-19", "Normal", "Pneumonia"), np.array([0.245, 0.285, 0.47]))
    alone = probability_bars(film)
    assert [t.name for t in alone.data] == ["the film"] and list(alone.data[0].text) == ["24.5%", "28.5%", "47.0%"]
    both = probability_bars(film, np.array([0.5, 0.2, 0.3]))
    assert [t.name for t in both.data] == ["the film", "cells hidden"] and list(both.data[1].text) == [
        "50.0%", "20.0%", "30.0%"]
    assert both.layout.height > alone.layout.height and both.layout.showlegend
    # Alone the answer stands out; in pairs each series has one colour, as its legend swatch shows.
    assert len(set(alone.data[0].marker.color)) == 2
    assert isinstance(both.data[0].marker.color, str) and both.data[0].marker.color != both.data[1].marker.color


def test_an_image_on_its_way_keeps_its_box_and_says_what_is_coming():
    """The review saw an empty strip under the film's caption for a second after an upload, the page jumping
    when the images came: the placeholder takes the film's shape and says what it is waiting for."""
    from model.present.diagnose_figures import drawing_style

    style = drawing_style(512 / 461, {"film_click": "Drawing the film…", "map_box": 'Drawing the "map"'})
    assert style.startswith("<style>") and style.endswith("</style>")
    for key in ("film_click", "map_box"):
        assert f'.st-key-{key} [data-testid="stSkeleton"] {{aspect-ratio: 1.1106; height: auto;' in style
    assert 'content: "Drawing the film…"' in style
    assert "content: \"Drawing the 'map'\"" in style  # a quote cannot end the rule early


def test_the_zoom_view_drags_a_zoom_box_and_has_no_empty_band():
    from model.present.diagnose_figures import (
        ZOOM_MAX_HEIGHT,
        ZOOM_SPACING,
        ZOOM_TOOLBAR,
        zoom_aspect,
        zoom_box_style,
        zoom_figure,
    )

    film = np.zeros((200, 100), np.uint8)
    figure = zoom_figure(film, np.zeros((200, 100, 3), np.uint8))
    assert figure.layout.dragmode == "zoom" and figure.layout.autosize and figure.layout.height is None
    assert figure.layout.xaxis2.matches == "x" and figure.layout.yaxis2.matches == "y"
    assert not figure.layout.annotations  # no titles inside the figure for the toolbar to cover
    assert figure.layout.margin.r == ZOOM_TOOLBAR >= 30  # the toolbar has a margin of its own
    # In a box of the film's aspect, each panel holds the film's shape exactly: no band on any side.
    for shape in ((200, 100), (100, 200), (512, 512), (2000, 1700)):
        box_height = 400.0
        box_width = zoom_aspect(shape, panel=int(box_height * shape[1] / shape[0])) * box_height
        panel_width = (box_width - ZOOM_TOOLBAR) * (1 - ZOOM_SPACING) / 2
        assert panel_width / box_height == pytest.approx(shape[1] / shape[0], rel=1e-6)
    # The page's box: that ratio, its column's width, at most ZOOM_MAX_HEIGHT of the window high.
    style = zoom_box_style("zoom_box", 2.5)
    assert ".st-key-zoom_box {aspect-ratio: 2.5000;" in style
    assert f"calc({100 * ZOOM_MAX_HEIGHT:.0f}vh * 2.5000)" in style and "min(100%" in style
    # A box under it (the colour bar) spans the panels: the box's width less the toolbar's margin.
    legend = zoom_box_style("zoom_box", 2.5, under=("legend",))
    box = f"min(100%, calc({100 * ZOOM_MAX_HEIGHT:.0f}vh * 2.5000))"
    assert f".st-key-legend {{width: calc({box} - {ZOOM_TOOLBAR}px);}}" in legend and legend.count("aspect-ratio") == 1


def test_every_glossary_term_is_one_plain_line():
    from model.explain import METHODS
    from model.present.glossary import GLOSSARY, explain

    assert all(method.label in GLOSSARY for method in METHODS.values())
    assert all(line.endswith(".") and "\n" not in line and len(line) < 200 for line in GLOSSARY.values())
    with pytest.raises(KeyError):
        explain("Kendall")  # a term no page may use unexplained
    # Terms the review found on the page without a line.
    for term in ("Two-channel", "Lung-masked network", "(activated)", "No gradients",
                 "Random regions cut like this map's cells", "Area under the curve"):
        assert len(explain(term)) > 40


def test_a_map_of_a_class_the_model_did_not_answer_says_its_probability_and_what_it_shows():
    from model.present.text import other_class_note

    probabilities = {"COVID-19": 0.017, "Normal": 0.95, "Pneumonia": 0.033}
    assert other_class_note("Normal", probabilities, "Normal") is None  # the answer's own map needs no note
    note = other_class_note("COVID-19", probabilities, "Normal")
    assert note.startswith("The model gives COVID-19 a probability of 1.7%: not its answer.")
    assert "pushes toward COVID-19, not that COVID-19 is present" in note and "its own maximum" in note
    assert other_class_note("COVID-19", probabilities, "Normal", peak=0.4) == note  # a map with evidence: the same
    blank = other_class_note("COVID-19", probabilities, "Normal", peak=0.0)  # an all-zero map: no "strong colours"
    assert blank.endswith("This map is blank: nothing in the film pushes the model toward COVID-19 at this layer.")
    assert "strong colours" not in blank
