"""The one preprocessing path: shapes, ranges, geometry and card validation."""
import numpy as np
import pytest

from model.preprocessing import Preprocessing, map_to_image, preprocess, preprocess_batch
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


class _FakeSegmenter:
    """Stands in for the registry's lung model: the lungs are a known rectangle."""

    calls = 0

    def mask(self, pixels):
        _FakeSegmenter.calls += 1
        mask = np.zeros(pixels.shape, bool)
        mask[20:60, 30:110] = True
        return mask


@pytest.fixture()
def fake_lungs(monkeypatch):
    import model.preprocessing as preprocessing

    monkeypatch.setattr(preprocessing, "shared_segmenter", lambda model_id, root=None: _FakeSegmenter())
    preprocessing._LUNG_BOXES.clear()
    _FakeSegmenter.calls = 0
    return Preprocessing(image_size=32, lung_crop=True, lung_model="fake-lungs", lung_margin=0.0, equalize="none")


def test_lung_crop_keeps_only_the_lung_box_and_maps_back_into_it(fake_lungs):
    from model.preprocessing import region_box

    image = np.zeros((100, 160), np.float32)
    image[:, :10] = 1.0  # a bright marker at the edge, outside the lungs
    image[35:45, 60:70] = 0.8  # a finding inside the lungs
    assert region_box(image, fake_lungs) == (20, 60, 30, 110)
    model_input = preprocess(image, fake_lungs)[..., 0]
    assert model_input.max() == pytest.approx(0.8, abs=0.05)  # the marker never reaches the model
    back = map_to_image(model_input, image.shape, fake_lungs, box=region_box(image, fake_lungs))
    row, col = np.unravel_index(np.argmax(back), back.shape)
    assert 33 <= row <= 47 and 58 <= col <= 72
    assert back[:20].max() == 0.0 and back[:, :30].max() == 0.0
    assert _FakeSegmenter.calls == 1  # the box is remembered for the same image


def test_lung_crop_falls_back_to_the_border_crop_without_plausible_lungs(fake_lungs, monkeypatch):
    import model.preprocessing as preprocessing
    from model.preprocessing import region_box

    class NoLungs:
        def mask(self, pixels):
            return np.zeros(pixels.shape, bool)

    monkeypatch.setattr(preprocessing, "shared_segmenter", lambda model_id, root=None: NoLungs())
    assert region_box(np.zeros((100, 100), np.float32), fake_lungs) == (0, 100, 0, 100)


def test_lung_crop_needs_a_segmentation_model():
    with pytest.raises(ValueError, match="lung_model"):
        Preprocessing(lung_crop=True)
