"""Lung-field segmentation: the U-Net trained on synthetic films, the segmenter through a registry,
and the mask checks (attention inside the lungs, lung box, plausibility). Synthetic images only,
except the one `realdata` test, which is skipped when ../shared/data is absent."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.inputs.lungs import LungSegmenter, clean_mask, lung_attention_fraction, lung_box, mask_plausibility
from model.inputs.preprocessing import Preprocessing, preprocess
from model.registry import PACKAGE_REGISTRY, ModelCard, RegistryError, read_card, read_metrics, save_entry
from tests.support import png_bytes, synthetic_radiograph, write_tiny_entry
from training import train_lungs
from training.recipes import Schedule
from training.train_lungs import (
    augment_pair,
    case_key,
    case_split,
    dice_score,
    export_copy,
    fit_unet,
    lung_unet,
    mask_to_model,
    read_pairs,
)

LUNG_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lung-masks"
SIZE = 48
WIDTHS = (4, 8, 16)
PREP = Preprocessing(image_size=SIZE, channels=1, equalize="clahe")


def synthetic_lung_mask(height: int, width: int | None = None) -> np.ndarray:
    """The two elliptical lung fields of `tests.support.synthetic_radiograph`, as a bool mask."""
    width = width or height
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    return np.any([((xx - cx) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1 for cx in (0.32, 0.68)], axis=0)


def _varied_films(count: int, seed: int):
    """Preprocessed synthetic films and masks, each moved by its own random rotation, shift and zoom."""
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for i in range(count):
        image = preprocess(synthetic_radiograph(64, seed=seed * 1000 + i), PREP)
        mask = mask_to_model(synthetic_lung_mask(64), PREP)[..., None]
        image, mask = augment_pair(image, mask, rng, rotation=12, shift=0.1, zoom=(0.85, 1.1))
        images.append(image)
        masks.append(mask)
    return np.stack(images), np.stack(masks)


@pytest.fixture(scope="module")
def tiny_unet():
    """A few-thousand-weight U-Net trained for seconds on synthetic films; returns (model, layer, test set)."""
    import keras

    keras.utils.set_random_seed(0)
    model, layer = lung_unet(SIZE, 1, WIDTHS, dropout=0.0)
    schedule = Schedule(epochs=20, batch_size=8, learning_rate=5e-3, patience=8, seed=0)
    history = fit_unet(model, _varied_films(32, 1), _varied_films(8, 2), schedule)
    assert {"loss", "val_loss", "dice", "val_dice"} <= set(history.columns)
    return export_copy(model, SIZE, 1, WIDTHS), layer, _varied_films(12, 3)


def _card(model_id: str, layer: str) -> ModelCard:
    return ModelCard(id=model_id, display_name="Tiny lungs", version="0.1", created="2026-01-01T00:00:00+00:00",
                     architecture="lung_unet", labels=["lung"], preprocessing=PREP.to_dict(), explain_layer=layer,
                     kind="lung_segmentation")


# --------------------------------------------------------------------------- training pieces


def test_unet_is_flat_small_and_keeps_the_input_grid():
    model, layer = lung_unet(128)
    assert model.output_shape == (None, 128, 128, 1)
    assert model.get_layer(layer).output.shape[1:3] == (128, 128)
    assert model.layers[1].name == "standardize"
    assert 300_000 < model.count_params() < 600_000  # < 2.5 MB of float32 weights
    with pytest.raises(ValueError, match="divisible"):
        lung_unet(100)


def test_fit_unet_refuses_a_schedule_it_cannot_follow():
    model, _ = lung_unet(SIZE, 1, WIDTHS, dropout=0.0)
    films = _varied_films(2, 1)
    for schedule in (Schedule(steps_per_epoch=4), Schedule(strategy="mirrored")):
        with pytest.raises(ValueError, match="one pass over its pairs per epoch on one device"):
            fit_unet(model, films, films, schedule)


def test_augmentation_moves_image_and_mask_identically():
    mask = mask_to_model(synthetic_lung_mask(64), PREP)[..., None]
    rng = np.random.default_rng(0)
    for _ in range(5):
        image_out, mask_out = augment_pair(mask.copy(), mask, rng, exposure=False)
        assert set(np.unique(mask_out)) <= {0.0, 1.0}
        assert dice_score(image_out[..., 0] >= 0.5, mask_out[..., 0] > 0) > 0.98
        assert dice_score(mask_out[..., 0] > 0, mask[..., 0] > 0) < 0.999  # it did move


def test_mask_follows_the_image_geometry_on_a_non_square_film():
    prep = Preprocessing(image_size=32, resize="letterbox", border_crop=0.05)
    mask = mask_to_model(synthetic_lung_mask(60, 90), prep)
    assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0.0, 1.0}
    image = preprocess(synthetic_radiograph(60, width=90), replace(prep, equalize="none"))[..., 0]
    lung_grey = (image > 0.17) & (image < 0.4)  # lungs 0.25; padding 0, air 0.1, body 0.75
    assert dice_score(mask > 0, lung_grey) > 0.85


def test_case_keys_keep_a_patient_or_figure_together():
    same = [("covid-19-pneumonia-58-day-10.png", "covid-19-pneumonia-58-prior.png"),
            ("16654_1_1.png", "16654_4_1.png"), ("ciaa199.pdf-001-a.png", "ciaa199.pdf-001-c.png"),
            ("88de9d8c39e946abd495b37cd07d89e5-0666-0.png", "88de9d8c39e946abd495b37cd07d89e5-2ee6-0.png"),
            ("covid-19-caso-70-1-PA.png", "covid-19-caso-70-2-APS.png"), ("lancet-case2a.png", "lancet-case2b.png")]
    for a, b in same:
        assert case_key(a) == case_key(b), (a, b)
    assert case_key("covid-19-pneumonia-58-day-3.png") != case_key("covid-19-pneumonia-53.png")
    assert case_key("16654_1_1.png") != case_key("16660_1_1.png")


def test_case_split_is_reproducible_and_never_splits_a_case():
    pairs = [train_lungs.MaskPair(f"{c}_{i}_1.png", "", "", case_key(f"{c}_{i}_1.png"))
             for c in range(60) for i in range(1 + c % 3)]
    splits = case_split(pairs, seed=3)
    assert splits == case_split(pairs, seed=3)
    cases = {name: {p.case for p in items} for name, items in splits.items()}
    assert not cases["train"] & cases["test"] and not cases["train"] & cases["validation"]
    assert not cases["validation"] & cases["test"]
    assert sum(len(v) for v in splits.values()) == len(pairs)
    assert 0.15 < len(splits["test"]) / len(pairs) < 0.25


def test_tiny_unet_segments_held_out_synthetic_films(tiny_unet):
    model, _, (images, masks) = tiny_unet
    predicted = model.predict(images, verbose=0)[..., 0] >= 0.5
    dice = [dice_score(p, m[..., 0] > 0) for p, m in zip(predicted, masks)]
    assert np.mean(dice) > 0.8, dice


# --------------------------------------------------------------------------- segmenter and registry


def test_segmenter_round_trips_through_a_registry_and_answers_on_the_original_grid(tiny_unet, tmp_path):
    model, layer, _ = tiny_unet
    write_tiny_entry(tmp_path, "classifier-a")  # a classifier in the same registry is not picked
    save_entry(model, _card("lungs-tiny", layer), root=tmp_path)
    segmenter = LungSegmenter.load(root=tmp_path)
    assert segmenter.card.id == "lungs-tiny" and segmenter.card.labels == ["lung"]
    assert read_card("lungs-tiny", tmp_path).kind == "lung_segmentation"

    film = synthetic_radiograph(80, seed=7, width=112)
    probability = segmenter.segment(film)
    assert probability.shape == film.shape and probability.dtype == np.float32
    assert 0.0 <= probability.min() and probability.max() <= 1.0
    mask = segmenter.mask(film)
    assert mask.shape == film.shape and mask.dtype == bool
    assert dice_score(mask, synthetic_lung_mask(80, 112)) > 0.8
    assert mask_plausibility(mask)["plausible"]
    with pytest.raises(ValueError, match="threshold"):
        segmenter.mask(film, threshold=1.0)
    with pytest.raises(ValueError, match="2-D"):
        segmenter.segment(np.zeros((8, 8, 3)))


def test_segmenting_remembers_nothing_and_copies_agree(tiny_unet, tmp_path):
    # Caching belongs to the caller (the dashboard caches masks by image digest): the segmenter
    # runs its model on every call and two loaded copies give the same mask.
    model, layer, _ = tiny_unet
    save_entry(model, _card("lungs-tiny", layer), root=tmp_path)
    first, second = LungSegmenter.load(root=tmp_path), LungSegmenter.load(root=tmp_path)
    calls = []
    for segmenter in (first, second):
        forward = segmenter._forward
        segmenter._forward = lambda batch, forward=forward: calls.append(1) or forward(batch)
    film = synthetic_radiograph(80, seed=7)
    np.testing.assert_array_equal(first.segment(film), second.segment(film))
    first.segment(film)
    assert len(calls) == 3


def test_loading_without_a_lung_model_says_so(tmp_path):
    write_tiny_entry(tmp_path, "classifier-a")
    with pytest.raises(RegistryError, match="No lung segmentation model"):
        LungSegmenter.load(root=tmp_path)
    with pytest.raises(RegistryError, match="not a lung segmentation model"):
        LungSegmenter.load("classifier-a", root=tmp_path)
    with pytest.raises(RegistryError, match="not in the registry"):
        LungSegmenter.load("absent", root=tmp_path)


def test_training_command_writes_a_complete_entry(tmp_path):
    data = tmp_path / "pairs"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    for i in range(10):
        name = f"{100 + i // 2}_{i % 2 + 1}_1.png"
        (data / "images" / name).write_bytes(png_bytes(synthetic_radiograph(64, seed=i)))
        (data / "masks" / name).write_bytes(png_bytes(synthetic_lung_mask(64).astype(np.float32)))
    (data / "images" / "no-mask.png").write_bytes(png_bytes(synthetic_radiograph(64)))
    assert len(read_pairs(data)) == 10

    root = tmp_path / "registry"
    assert train_lungs.main(["--data", str(data), "--model-id", "lungs-smoke", "--epochs", "2", "--image-size", "32",
                             "--widths", "4,8", "--registry", str(root), "--seed", "1"]) == 0
    card = read_card("lungs-smoke", root)
    assert card.kind == "lung_segmentation" and card.labels == ["lung"] and card.explain_layer == "dec1b_conv"
    assert card.preprocessing["image_size"] == 32 and card.preprocessing["equalize"] == "clahe"
    assert card.training["seed"] == 1 and sum(s["images"] for s in card.training["splits"].values()) == 10
    assert card.training["wall_time_s"] > 0 and "licence" in card.training["data_note"]
    metrics = read_metrics("lungs-smoke", root)
    assert metrics["n"] == card.training["splits"]["test"]["images"] == len(metrics["per_image"])
    assert {"mean", "median", "min"} <= set(metrics["dice"]) and "mean" in metrics["iou"]
    assert (root / "lungs-smoke" / "history.csv").is_file()
    LungSegmenter.load("lungs-smoke", root=root)


# --------------------------------------------------------------------------- mask checks


def _blob(shape, centre, radius=6.0):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * radius ** 2))


def test_attention_fraction_inside_outside_and_empty():
    lungs = synthetic_lung_mask(100)
    assert lung_attention_fraction(_blob((100, 100), (50, 32)), lungs) > 0.95
    assert lung_attention_fraction(_blob((100, 100), (4, 4), 3.0), lungs) < 0.02
    assert lung_attention_fraction(np.zeros((100, 100)), lungs) == 0.0
    # A mask on another grid of the same region is resized (nearest) to the heatmap's grid.
    assert lung_attention_fraction(_blob((100, 100), (50, 68)), synthetic_lung_mask(50)) > 0.9
    assert lung_attention_fraction(np.ones((100, 100)), lungs.astype(np.uint8)) == pytest.approx(lungs.mean())


def test_attention_fraction_rejects_bad_input():
    lungs = synthetic_lung_mask(40)
    with pytest.raises(ValueError, match="2-D"):
        lung_attention_fraction(np.ones((40, 40, 3)), lungs)
    with pytest.raises(ValueError, match="2-D"):
        lung_attention_fraction(np.ones((40, 40)), lungs[0])
    with pytest.raises(ValueError, match="non-negative.*-0.5"):
        lung_attention_fraction(np.full((40, 40), -0.5), lungs)
    with pytest.raises(ValueError, match="NaN"):
        lung_attention_fraction(np.full((40, 40), np.nan), lungs)
    with pytest.raises(ValueError, match="0.3"):
        lung_attention_fraction(np.ones((40, 40)), lungs * 0.3)


def test_lung_box_contains_the_lungs_with_a_margin():
    lungs = synthetic_lung_mask(100, 120)
    top, bottom, left, right = lung_box(lungs, margin=0.05)
    rows, cols = np.flatnonzero(lungs.any(1)), np.flatnonzero(lungs.any(0))
    assert top == rows[0] - 5 and bottom == rows[-1] + 1 + 5
    assert left == cols[0] - 6 and right == cols[-1] + 1 + 6
    assert lungs[top:bottom, left:right].sum() == lungs.sum()
    assert lung_box(np.zeros((30, 40), bool)) == (0, 30, 0, 40)
    assert lung_box(np.ones((30, 40), bool), margin=0.2) == (0, 30, 0, 40)  # clipped to the image
    with pytest.raises(ValueError, match="margin"):
        lung_box(lungs, margin=0.6)


def test_plausibility_passes_two_lungs_and_fails_the_rest():
    good = mask_plausibility(synthetic_lung_mask(128, 100))
    assert good["plausible"] and good["components"] == 2 and good["reason"] == ""
    assert 0.12 < good["area_fraction"] < 0.65 and good["left_right_balance"] > 0.95

    empty = mask_plausibility(np.zeros((64, 64), bool))
    assert not empty["plausible"] and empty["components"] == 0 and "No lung" in empty["reason"]
    full = mask_plausibility(np.ones((64, 64), bool))
    assert not full["plausible"] and full["components"] == 1 and full["reason"].endswith(".")
    one = synthetic_lung_mask(100)
    one[:, 50:] = False
    single = mask_plausibility(one)
    assert not single["plausible"] and single["left_right_balance"] == 0.0
    stacked = np.zeros((100, 100), bool)
    stacked[10:40, 30:70] = stacked[60:90, 30:70] = True
    assert "side by side" in mask_plausibility(stacked)["reason"]
    lopsided = synthetic_lung_mask(100)
    lopsided[:, 60:] = synthetic_lung_mask(100)[:, 60:] & (np.arange(100)[:, None] > 72)
    report = mask_plausibility(lopsided)
    assert not report["plausible"] and report["left_right_balance"] <= 0.3 and "size" in report["reason"]
    assert [mask_plausibility(m)["problem"] for m in (synthetic_lung_mask(64), np.zeros((64, 64), bool), one,
                                                      stacked, lopsided)] == ["", "no_lungs", "one_field", "stacked",
                                                                              "unbalanced"]


def test_a_film_with_one_lung_field_is_held_back_without_blaming_the_kind_of_image():
    """A frontal film whose right lung is whited out gives the lung finder one field: the reason names the
    whited-out lung first (review: "The image may not be a frontal chest X-ray" under a plain chest film)."""
    from model.trust.input_check import input_check

    pixels = synthetic_radiograph(128)
    one = synthetic_lung_mask(128)
    one[:, 64:] = False
    finding = next(f for f in input_check(pixels, lung_mask=one).findings if f.kind == "no_lung_fields")
    assert "whited out" in finding.sentence and "may not be a frontal chest X-ray" in finding.sentence
    stacked = np.zeros((128, 128), bool)
    stacked[10:50, 30:90] = stacked[70:110, 30:90] = True  # no film lies like this: the kind of image is the doubt
    finding = next(f for f in input_check(pixels, lung_mask=stacked).findings if f.kind == "no_lung_fields")
    assert "whited out" not in finding.sentence and finding.sentence.endswith("may not be a frontal chest X-ray.")


def test_clean_mask_keeps_two_largest_and_fills_holes():
    lungs = synthetic_lung_mask(100)
    noisy = lungs.copy()
    noisy[45:50, 30:34] = False  # a hole
    noisy[2:8, 2:8] = True  # a third, smaller component
    noisy[95, 95] = True  # a speck
    cleaned = clean_mask(noisy)
    assert np.array_equal(cleaned, lungs)
    assert not clean_mask(np.zeros((20, 20), bool)).any()


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_shipped_lung_model_on_held_out_real_films():
    if not (LUNG_DATA / "images").is_dir():
        pytest.skip("real data ../shared/data/lung-masks is not available")
    from model.inputs.intake import load_xray

    segmenter = LungSegmenter.load("lungs-unet-v1", root=PACKAGE_REGISTRY)
    held_out = [row["name"] for row in read_metrics("lungs-unet-v1", PACKAGE_REGISTRY)["per_image"]][:6]
    assert held_out
    dice = []
    for name in held_out:
        pixels = load_xray(LUNG_DATA / "images" / name).pixels
        truth = load_xray(LUNG_DATA / "masks" / name).pixels >= 0.5
        mask = segmenter.mask(pixels)
        assert mask.shape == pixels.shape
        dice.append(dice_score(mask, truth))
    assert np.mean(dice) > 0.8, dict(zip(held_out, dice))
