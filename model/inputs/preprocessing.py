"""The one preprocessing path: training, evaluation, the CLI and the dashboard all call `preprocess`.

A model card carries a `preprocessing` dict; `Preprocessing.from_dict` reads it, so the pixels a
model sees at serving time are made exactly as they were at training time.

Per-image intensity standardisation is *not* done here: every model starts with a
`LayerNormalization` over height, width and channels, so the standardisation travels with the
weights and augmentation in training can work on the same [0, 1] images that serving feeds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

RESIZE_MODES = ("stretch", "letterbox")
EQUALIZE_MODES = ("none", "clahe")


@dataclass(frozen=True)
class Preprocessing:
    """How a grayscale radiograph becomes a model input.

    Attributes:
        image_size: side of the square model input, in pixels.
        channels: 1 for grayscale models, 3 to repeat the gray channel, 2 only with `mask_channel`
            (the film, then its lung-field mask).
        resize: "stretch" resizes the (cropped) image to the square; "letterbox" keeps the aspect
            ratio and pads with black.
        border_crop: fraction of width and height removed from each side before resizing; it takes
            away the image margin where text markers and collimation edges sit.
        equalize: "clahe" applies contrast-limited adaptive histogram equalisation after resizing,
            which evens out exposure and processing differences between hospitals.
        clahe_clip: CLAHE clip limit.
        clahe_tiles: CLAHE tile grid size (per side).
        lung_crop: crop to the bounding box of the lung fields found by the registry's lung
            segmentation model `lung_model` (plus `lung_margin`), instead of the fixed border crop.
            The caller finds that region (`model.inputs.lungs.lung_region`) and passes it in.
            Everything outside the box (text markers, collimation edges, much of the body outline
            and of the devices) never reaches the classifier.
        lung_model: registry id of the lung segmentation entry used by `lung_crop`.
        lung_margin: margin added around the lung box, as a fraction of the image side.
        lung_mask: zero every pixel outside the (dilated) lung fields after cropping, resizing and
            equalising (needs `lung_crop`); the classifier then sees only the lungs and a rim.
        lung_mask_dilation: growth of the lung mask before masking, as a fraction of image_size.
        lung_equalize: after masking, replace the grey levels inside the lung field by their ranks
            (histogram equalisation inside the lungs, `equalize_lung_field`), so that exposure and
            processing curves of a hospital no longer reach the classifier (needs `lung_mask`).
        mask_channel: the input has two channels: channel 0 is the lung-cropped, equalised film, NOT
            masked; channel 1 (`MASK_CHANNEL`) is its dilated lung-field mask (`lung_field_mask`, 0/1;
            all ones when the segmentation failed). The network masks the film itself where it
            wants to, so one branch can see only the lung fields and another the whole lung box.
            Channel 1 is data about the film, never pixels: explanations and perturbations change
            channel 0 only (`split_input`, `join_input`). Needs `lung_crop` and `channels` 2;
            refuses `lung_mask` and `lung_equalize`.
    """

    image_size: int = 224
    channels: int = 1
    resize: str = "stretch"
    border_crop: float = 0.0
    equalize: str = "clahe"
    clahe_clip: float = 2.0
    clahe_tiles: int = 8
    lung_crop: bool = False
    lung_model: str = ""
    lung_margin: float = 0.05
    lung_mask: bool = False
    lung_mask_dilation: float = 0.04
    lung_equalize: bool = False
    mask_channel: bool = False

    def __post_init__(self):
        if not 16 <= int(self.image_size) <= 1024:
            raise ValueError(f"image_size must be between 16 and 1024, got {self.image_size!r}")
        if self.mask_channel:
            if self.channels != 2:
                raise ValueError(f"mask_channel needs channels 2 (the film and its lung-field mask), "
                                 f"got {self.channels!r}")
            if not self.lung_crop:
                raise ValueError("mask_channel needs lung_crop (the mask comes from the same segmentation)")
            if self.lung_mask:
                raise ValueError("mask_channel refuses lung_mask: the film channel must stay unmasked")
            if self.lung_equalize:
                raise ValueError("mask_channel refuses lung_equalize: the film channel must stay unmasked")
        elif self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3 (2 only with mask_channel), got {self.channels!r}")
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {self.resize!r}")
        if not 0.0 <= float(self.border_crop) < 0.4:
            raise ValueError(f"border_crop must be in [0, 0.4), got {self.border_crop!r}")
        if self.equalize not in EQUALIZE_MODES:
            raise ValueError(f"equalize must be one of {EQUALIZE_MODES}, got {self.equalize!r}")
        if self.lung_crop and not self.lung_model:
            raise ValueError("lung_crop needs lung_model, the registry id of a lung segmentation entry")
        if not 0.0 <= float(self.lung_margin) < 0.3:
            raise ValueError(f"lung_margin must be in [0, 0.3), got {self.lung_margin!r}")
        if self.lung_mask and not self.lung_crop:
            raise ValueError("lung_mask needs lung_crop (the mask comes from the same segmentation)")
        if self.lung_equalize and not self.lung_mask:
            raise ValueError("lung_equalize needs lung_mask (it equalises inside the lung field)")
        if not 0.0 <= float(self.lung_mask_dilation) < 0.3:
            raise ValueError(f"lung_mask_dilation must be in [0, 0.3), got {self.lung_mask_dilation!r}")

    @classmethod
    def from_dict(cls, values: dict) -> "Preprocessing":
        """Build from a card's `preprocessing` dict; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown preprocessing keys: {sorted(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict:
        values = asdict(self)
        if not values["lung_equalize"]:  # added after v2: cards (and cache keys) without it stay as they were
            del values["lung_equalize"]
        if not values["mask_channel"]:  # likewise
            del values["mask_channel"]
        return values


def crop_box(shape: tuple[int, int], prep: Preprocessing) -> tuple[int, int, int, int]:
    """The fixed border crop: the (top, bottom, left, right) region of an image of `shape`."""
    height, width = shape[:2]
    dy = int(round(height * prep.border_crop))
    dx = int(round(width * prep.border_crop))
    return dy, height - dy, dx, width - dx


Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class ModelInput:
    """What one image becomes for one model, and where it came from.

    Attributes:
        array: float32 (S, S, C) model input in [0, 1].
        region: (top, bottom, left, right) of the original image that the model saw (the lung box
            of lung-cropped models, the border crop otherwise); maps go back through it.
        image_shape: (height, width) of the original image.
    """

    array: np.ndarray
    region: Region
    image_shape: tuple[int, int]


# With `Preprocessing.mask_channel`, the model input's last channel is the lung-field mask.
MASK_CHANNEL = 1


def split_input(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(film, mask) of model inputs (..., S, S, C): with C == 2 the film (..., S, S, 1) and the
    lung-field mask (..., S, S, 1); otherwise the input itself and None. Works on one input and on
    batches; the parts are views, not copies."""
    x = np.asarray(x)
    if x.ndim >= 3 and x.shape[-1] == 2:
        return x[..., :MASK_CHANNEL], x[..., MASK_CHANNEL:]
    return x, None


def join_input(film: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The inverse of `split_input`: film (..., S, S, 1) and mask (..., S, S, 1) as one float32 input
    (..., S, S, 2), the mask broadcast over a batch of films; with mask None the film unchanged."""
    if mask is None:
        return film
    film = np.asarray(film, np.float32)
    mask = np.broadcast_to(np.asarray(mask, np.float32), film.shape)
    return np.concatenate([film, mask], axis=-1)


# Below this share of the square, the segmentation is taken as failed and nothing is masked
# (the lung box has then fallen back to the border crop as well).
MIN_MASK_FRACTION = 0.05


def lung_field_mask(mask: np.ndarray, box: tuple[int, int, int, int], prep) -> np.ndarray:
    """Dilated lung mask on the (image_size, image_size) input grid, float32 0/1.

    Args:
        mask: boolean lung mask on the original image's grid (`LungSegmenter.mask`).
        box: (top, bottom, left, right) region of the image that the model sees (as given to `preprocess`).
        prep: the `Preprocessing` (image_size, resize, lung_mask_dilation).
    """
    top, bottom, left, right = box
    size = int(prep.image_size)
    region = np.asarray(mask, dtype=np.uint8)[top:bottom, left:right]
    if region.size == 0:
        return np.ones((size, size), np.float32)
    if prep.resize == "stretch":
        grid = cv2.resize(region, (size, size), interpolation=cv2.INTER_NEAREST)
    else:
        new_h, new_w, y0, x0 = _letterbox_geometry(*region.shape, size)
        grid = np.zeros((size, size), np.uint8)
        grid[y0:y0 + new_h, x0:x0 + new_w] = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    if grid.mean() < MIN_MASK_FRACTION:
        return np.ones((size, size), np.float32)
    radius = int(round(float(prep.lung_mask_dilation) * size))
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        grid = cv2.dilate(grid, kernel)
    return grid.astype(np.float32)


# Lowest grey level inside an equalised lung field: above zero, so the field stays apart from the
# zeroed outside.
EQUALIZED_FLOOR = 0.02


def equalize_lung_field(square: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Histogram equalisation inside the lung field: each pixel inside becomes the share of inside
    pixels darker than it (ties share their mid-rank), mapped to [EQUALIZED_FLOOR, 1]; outside is 0.

    Any monotone change of the grey levels (exposure, a hospital's processing curve, gamma) leaves
    the result unchanged; only the order of grey levels inside the lungs, their texture and shape,
    reach the classifier.
    """
    square = np.asarray(square, np.float32)
    inside = np.asarray(field) > 0
    out = np.zeros(square.shape, np.float32)
    n = int(inside.sum())
    if n == 0:
        return out
    _, inverse, counts = np.unique(square[inside], return_inverse=True, return_counts=True)
    mid_ranks = (np.cumsum(counts) - 0.5 * counts) / n
    out[inside] = EQUALIZED_FLOOR + (1.0 - EQUALIZED_FLOOR) * mid_ranks[inverse.ravel()]
    return out


def apply_lung_field(square: np.ndarray, field: np.ndarray, equalize: bool = False) -> np.ndarray:
    """The last step of lung-masked preprocessing, shared by serving (`preprocess`) and training
    (`training.pool.lung_inputs` on cached arrays): zero outside the field, optionally equalise inside."""
    if equalize:
        return equalize_lung_field(square, field)
    return np.asarray(square, np.float32) * np.asarray(field, np.float32)


def _letterbox_geometry(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """Inner (new_h, new_w, top, left) of an image placed, aspect kept, in a size x size square."""
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    return new_h, new_w, (size - new_h) // 2, (size - new_w) // 2


def _equalize(square: np.ndarray, prep: Preprocessing) -> np.ndarray:
    if prep.equalize == "none":
        return square
    # CLAHE runs on 16-bit so that 16-bit sources keep their depth through equalisation.
    as_u16 = np.round(np.clip(square, 0.0, 1.0) * 65535.0).astype(np.uint16)
    clahe = cv2.createCLAHE(clipLimit=prep.clahe_clip, tileGridSize=(prep.clahe_tiles,) * 2)
    return clahe.apply(as_u16).astype(np.float32) / 65535.0


def _region(shape: tuple[int, int], prep: Preprocessing, region: Region | None) -> Region:
    if region is None:
        if prep.lung_crop:
            raise ValueError("a lung-cropped preprocessing needs the lung region of the image "
                             "(model.inputs.lungs.lung_region)")
        return crop_box(shape, prep)
    top, bottom, left, right = (int(v) for v in region)
    if not (0 <= top < bottom <= shape[0] and 0 <= left < right <= shape[1]):
        raise ValueError(f"region {region!r} does not lie inside an image of shape {tuple(shape[:2])}")
    return top, bottom, left, right


def preprocess(pixels: np.ndarray, prep: Preprocessing | dict, region: Region | None = None,
               lung_mask: np.ndarray | None = None) -> np.ndarray:
    """Turn one grayscale image (float in [0, 1], HxW) into a model input. Pure: same arguments,
    same pixels; nothing is loaded or remembered.

    Args:
        pixels: 2-D float array in [0, 1], as returned by `model.inputs.intake.load_xray`.
        prep: the model card's preprocessing (a `Preprocessing` or its dict).
        region: (top, bottom, left, right) of the image the model looks at; None means the fixed
            border crop, which lung-cropped preprocessing refuses (it needs the lung region).
        lung_mask: the image's lung mask (on its own grid), needed when `prep.lung_mask` zeroes
            everything outside the dilated lung fields and when `prep.mask_channel` adds it as
            channel 1.

    Returns:
        float32 array of shape (image_size, image_size, channels) in [0, 1]; with `mask_channel`
        the film then its lung-field mask (0/1).
    """
    if isinstance(prep, dict):
        prep = Preprocessing.from_dict(prep)
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise ValueError(f"preprocess expects a 2-D grayscale image, got shape {pixels.shape}")
    top, bottom, left, right = _region(pixels.shape, prep, region)
    region = np.clip(pixels[top:bottom, left:right], 0.0, 1.0)
    size = prep.image_size
    # INTER_AREA averages when shrinking (no aliasing); INTER_LINEAR when enlarging.
    if prep.resize == "stretch":
        interp = cv2.INTER_AREA if region.shape[0] * region.shape[1] > size * size else cv2.INTER_LINEAR
        square = cv2.resize(region, (size, size), interpolation=interp)
    else:
        new_h, new_w, y0, x0 = _letterbox_geometry(*region.shape, size)
        interp = cv2.INTER_AREA if region.shape[0] * region.shape[1] > new_h * new_w else cv2.INTER_LINEAR
        square = np.zeros((size, size), np.float32)
        square[y0:y0 + new_h, x0:x0 + new_w] = cv2.resize(region, (new_w, new_h), interpolation=interp)
    square = _equalize(square, prep)
    if prep.mask_channel:
        if lung_mask is None:
            raise ValueError("a preprocessing with a mask channel needs the lung mask of the image")
        field = lung_field_mask(lung_mask, (top, bottom, left, right), prep)
        return np.stack([square, field], axis=-1).astype(np.float32)
    if prep.lung_mask:
        if lung_mask is None:
            raise ValueError("a lung-masked preprocessing needs the lung mask of the image")
        square = apply_lung_field(square, lung_field_mask(lung_mask, (top, bottom, left, right), prep),
                                  prep.lung_equalize)
    return np.repeat(square[..., None], prep.channels, axis=-1).astype(np.float32)


def preprocess_batch(images, prep: Preprocessing | dict, regions=None) -> np.ndarray:
    """`preprocess` for a sequence of images (and their regions), stacked into (N, S, S, C); for
    preprocessings that need no lung mask (not `lung_mask`, not `mask_channel`)."""
    if isinstance(prep, dict):
        prep = Preprocessing.from_dict(prep)
    regions = [None] * len(images) if regions is None else regions
    return np.stack([preprocess(image, prep, region) for image, region in zip(images, regions)])


def map_to_image(model_map: np.ndarray, image_shape: tuple[int, int], prep: Preprocessing | dict,
                 region: Region | None = None, fill: float = 0.0) -> np.ndarray:
    """Bring a map made at model-input resolution back onto the original image's pixel grid.

    Undoes letterbox padding and cropping, so an overlay keeps the original aspect ratio and a
    heatmap peak lands on the pixels that produced it. Cropped-away margins get `fill`. `region` is
    the image region the model saw (as given to `preprocess`); None means the fixed border crop.
    """
    if isinstance(prep, dict):
        prep = Preprocessing.from_dict(prep)
    model_map = np.asarray(model_map, dtype=np.float32)
    top, bottom, left, right = _region(image_shape[:2], prep, region)
    region_h, region_w = bottom - top, right - left
    if prep.resize == "letterbox":
        new_h, new_w, y0, x0 = _letterbox_geometry(region_h, region_w, prep.image_size)
        model_map = model_map[y0:y0 + new_h, x0:x0 + new_w]
    out = np.full(image_shape[:2], fill, np.float32)
    out[top:bottom, left:right] = cv2.resize(model_map, (region_w, region_h), interpolation=cv2.INTER_LINEAR)
    return out
