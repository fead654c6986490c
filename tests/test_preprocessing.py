"""The one preprocessing path: shapes, ranges, geometry and card validation."""
import numpy as np
import pytest

from model.inputs.preprocessing import Preprocessing, map_to_image, preprocess, preprocess_batch
from tests.support import synthetic_radiograph


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
def test_output_shape_and_range(channels, resize):
    prep = Preprocessing(image_size=64, channels=channels, resize=resize, border_crop=0.05)
    out = preprocess(synthetic_radiograph(100, width=160), prep)
    assert out.shape == (64, 64, channels)
    assert out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_dict_and_dataclass_give_identical_pixels():
    image = synthetic_radiograph(90)
    prep = Preprocessing(image_size=48, border_crop=0.1)
    np.testing.assert_array_equal(preprocess(image, prep), preprocess(image, prep.to_dict()))


def test_clahe_evens_out_exposure_differences():
    # The same film exposed darker must come out closer to the original with CLAHE than without.
    image = synthetic_radiograph(128)
    dark = image ** 2.0
    with_clahe = Preprocessing(image_size=64, equalize="clahe")
    without = Preprocessing(image_size=64, equalize="none")
    gap_clahe = np.abs(preprocess(image, with_clahe) - preprocess(dark, with_clahe)).mean()
    gap_plain = np.abs(preprocess(image, without) - preprocess(dark, without)).mean()
    assert gap_clahe < gap_plain


def test_letterbox_pads_and_stretch_does_not():
    wide = np.ones((50, 100), np.float32)
    boxed = preprocess(wide, Preprocessing(image_size=40, resize="letterbox", equalize="none"))
    stretched = preprocess(wide, Preprocessing(image_size=40, resize="stretch", equalize="none"))
    assert boxed[0, 20, 0] == 0.0 and boxed[20, 20, 0] == 1.0
    assert stretched.min() == 1.0


@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
@pytest.mark.parametrize("border_crop", [0.0, 0.1])
def test_map_to_image_puts_a_peak_back_where_it_came_from(resize, border_crop):
    # A bright spot in the image must be where the model-resolution map of that spot lands.
    image = np.zeros((120, 200), np.float32)
    image[30:40, 140:150] = 1.0
    prep = Preprocessing(image_size=64, resize=resize, border_crop=border_crop, equalize="none")
    model_map = preprocess(image, prep)[..., 0]
    back = map_to_image(model_map, image.shape, prep)
    assert back.shape == image.shape
    row, col = np.unravel_index(np.argmax(back), back.shape)
    assert 26 <= row <= 44 and 136 <= col <= 154


def test_batch_stacks_images_of_different_sizes():
    batch = preprocess_batch([synthetic_radiograph(80), synthetic_radiograph(100, width=70)], {"image_size": 32})
    assert batch.shape == (2, 32, 32, 1)


@pytest.mark.parametrize("values, message", [
    ({"image_size": 8}, "image_size"),
    ({"channels": 2}, "channels"),
    ({"resize": "crop"}, "resize"),
    ({"border_crop": 0.5}, "border_crop"),
    ({"equalize": "hist"}, "equalize"),
    ({"mystery": 1}, "unknown preprocessing keys"),
])
def test_bad_card_preprocessing_is_named(values, message):
    with pytest.raises(ValueError, match=message):
        Preprocessing.from_dict(values)


def test_rejects_non_2d_input():
    with pytest.raises(ValueError, match="2-D"):
        preprocess(np.zeros((10, 10, 3)), Preprocessing(image_size=32))


def _fake_lung_mask(shape) -> np.ndarray:
    """The lungs are a known rectangle."""
    mask = np.zeros(shape, bool)
    mask[20:60, 30:110] = True
    return mask


@pytest.fixture()
def fake_lungs():
    return Preprocessing(image_size=32, lung_crop=True, lung_model="fake-lungs", lung_margin=0.0, equalize="none")


def test_lung_crop_keeps_only_the_lung_box_and_maps_back_into_it(fake_lungs):
    from model.inputs.lungs import lung_region

    image = np.zeros((100, 160), np.float32)
    image[:, :10] = 1.0  # a bright marker at the edge, outside the lungs
    image[35:45, 60:70] = 0.8  # a finding inside the lungs
    region = lung_region(_fake_lung_mask(image.shape), fake_lungs)
    assert region == (20, 60, 30, 110)
    model_input = preprocess(image, fake_lungs, region)[..., 0]
    assert model_input.max() == pytest.approx(0.8, abs=0.05)  # the marker never reaches the model
    back = map_to_image(model_input, image.shape, fake_lungs, region)
    row, col = np.unravel_index(np.argmax(back), back.shape)
    assert 33 <= row <= 47 and 58 <= col <= 72
    assert back[:20].max() == 0.0 and back[:, :30].max() == 0.0
    # Pure: the same arguments give the same pixels, and nothing is looked up or remembered.
    np.testing.assert_array_equal(preprocess(image, fake_lungs, region)[..., 0], model_input)


def test_lung_crop_falls_back_to_the_border_crop_without_plausible_lungs(fake_lungs):
    from model.inputs.lungs import lung_region

    assert lung_region(np.zeros((100, 100), bool), fake_lungs) == (0, 100, 0, 100)


def test_lung_cropped_preprocessing_needs_the_region_and_refuses_one_outside_the_image(fake_lungs):
    image = np.zeros((100, 160), np.float32)
    with pytest.raises(ValueError, match="lung region"):
        preprocess(image, fake_lungs)
    with pytest.raises(ValueError, match="does not lie inside"):
        preprocess(image, fake_lungs, (0, 120, 0, 50))
    with pytest.raises(ValueError, match="lung region"):
        map_to_image(np.zeros((32, 32), np.float32), image.shape, fake_lungs)


def test_the_input_path_has_no_module_level_cache():
    import model.inputs.lungs as lungs
    import model.inputs.preprocessing as preprocessing

    for module in (preprocessing, lungs):
        caches = [name for name, value in vars(module).items()
                  if isinstance(value, (dict, list, set)) and not name.isupper() and not name.startswith("__")]
        assert caches == [], f"{module.__name__} keeps state between calls: {caches}"


def test_lung_crop_needs_a_segmentation_model():
    with pytest.raises(ValueError, match="lung_model"):
        Preprocessing(lung_crop=True)


# --------------------------------------------------------------------------- the lung-field mask as channel 1


def _two_channel_prep(**changes) -> Preprocessing:
    values = dict(image_size=32, channels=2, mask_channel=True, lung_crop=True, lung_model="fake-lungs",
                  lung_margin=0.0)
    return Preprocessing(**{**values, **changes})


def test_mask_channel_gives_the_unmasked_film_then_its_lung_field_mask():
    import dataclasses

    from model.inputs.lungs import lung_region
    from model.inputs.preprocessing import MASK_CHANNEL, lung_field_mask

    image = synthetic_radiograph(100, width=160)
    lungs = _fake_lung_mask(image.shape)
    prep = _two_channel_prep()
    region = lung_region(lungs, prep)
    x = preprocess(image, prep, region, lungs)
    assert x.shape == (32, 32, 2) and x.dtype == np.float32 and MASK_CHANNEL == 1
    plain = dataclasses.replace(prep, channels=1, mask_channel=False)
    masked = dataclasses.replace(plain, lung_mask=True)
    # Channel 0 is exactly the unmasked film; film x mask is exactly the lung-masked input.
    np.testing.assert_array_equal(x[..., 0], preprocess(image, plain, region)[..., 0])
    np.testing.assert_array_equal(x[..., 1], lung_field_mask(lungs, region, prep))
    np.testing.assert_array_equal(x[..., 0] * x[..., 1], preprocess(image, masked, region, lungs)[..., 0])
    assert set(np.unique(x[..., 1])) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="mask channel needs the lung mask"):
        preprocess(image, prep, region)


def test_a_failed_segmentation_gives_a_mask_channel_of_ones():
    prep = _two_channel_prep()
    image = synthetic_radiograph(64)
    x = preprocess(image, prep, (0, 64, 0, 64), np.zeros((64, 64), bool))
    assert (x[..., 1] == 1.0).all()


@pytest.mark.parametrize("changes, message", [
    ({"channels": 1}, "mask_channel needs channels 2"),
    ({"lung_crop": False, "lung_model": ""}, "mask_channel needs lung_crop"),
    ({"lung_mask": True}, "mask_channel refuses lung_mask"),
    ({"lung_mask": True, "lung_equalize": True}, "mask_channel refuses lung_mask"),
    ({"mask_channel": False}, "2 only with mask_channel"),
])
def test_mask_channel_combinations_refused_in_one_sentence(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        _two_channel_prep(**changes)
    assert "\n" not in str(error.value)


def test_mask_channel_refuses_lung_equalize():
    # lung_equalize alone already needs lung_mask; the mask-channel sentence comes first.
    with pytest.raises(ValueError, match="mask_channel refuses lung_equalize"):
        _two_channel_prep(lung_equalize=True)


def test_to_dict_names_mask_channel_only_when_set():
    plain = Preprocessing(image_size=32)
    assert "mask_channel" not in plain.to_dict() and "lung_equalize" not in plain.to_dict()
    assert Preprocessing.from_dict(plain.to_dict()) == plain
    two = _two_channel_prep()
    assert two.to_dict()["mask_channel"] is True and two.to_dict()["channels"] == 2
    assert Preprocessing.from_dict(two.to_dict()) == two


def test_split_and_join_decide_by_two_channels():
    from model.inputs.preprocessing import join_input, split_input

    rng = np.random.default_rng(0)
    for shape in ((8, 8, 2), (3, 8, 8, 2)):
        x = rng.random(shape).astype(np.float32)
        film, mask = split_input(x)
        assert film.shape == (*shape[:-1], 1) and mask.shape == (*shape[:-1], 1)
        np.testing.assert_array_equal(join_input(film, mask), x)
    # A batch of films joined with one input's mask: the mask is broadcast.
    films = rng.random((4, 8, 8, 1)).astype(np.float32)
    joined = join_input(films, x[0, ..., 1:])
    assert joined.shape == (4, 8, 8, 2) and (joined[..., 1] == x[0, ..., 1]).all()
    for shape in ((8, 8, 1), (8, 8, 3), (5, 8, 8, 1), (8, 8)):
        y = rng.random(shape).astype(np.float32)
        film, mask = split_input(y)
        assert film is y or np.shares_memory(film, y)
        assert mask is None and join_input(film, None) is film
