"""Turning maps and radiographs into pictures: overlays, colour maps, display copies and PNG bytes.

Display only: nothing here changes what a model sees or what a map says.
"""
from __future__ import annotations

import cv2
import numpy as np

from model.policy import FAINT_MAP_SHARE, FAINT_MAP_SUGGESTED

# Perceptually uniform maps first (equal steps of the map look like equal steps of colour); jet and hot
# are kept for readers used to them, but their bright bands invent edges that are not in the map.
COLORMAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS, "turbo": cv2.COLORMAP_TURBO,
             "jet": cv2.COLORMAP_JET, "hot": cv2.COLORMAP_HOT}
THRESHOLD_RAMP = 0.1  # Below the threshold the colour fades out over this much of the map's range.
FADE_FRACTION = 0.08  # Outside the region the model saw, the map fades out over this share of the region's size.
SCALE_NOTE = "Each map has its own scale: colours do not compare between images or methods."


DISPLAY_MAX_SIDE = 1280


def fit_within(image: np.ndarray, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """A copy at most `max_side` pixels on its long side, aspect ratio kept (area averaging), for
    display: a 3000-pixel radiograph costs seconds to encode and send, and no screen column shows
    more. Smaller images come back unchanged. Models never see this copy."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 grayscale (HxW) or RGB (HxWx3) image, at zlib level 1: about
    five times faster than the default level for a 1024-pixel radiograph, files about a third larger."""
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"encode_png takes uint8 HxW or HxWx3 images, got {image.dtype} {image.shape}")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("the image could not be encoded as PNG")
    return encoded.tobytes()


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def render_overlay(pixels: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45, colormap: str = "inferno",
                   threshold: float = 0.0) -> np.ndarray:
    """Blend a heatmap over a grayscale image with OpenCV.

    Args:
        pixels: grayscale image, float in [0, 1], HxW (the original, not the model input).
        heatmap: map in [0, 1] on the same HxW grid (see `model.inputs.preprocessing.map_to_image`).
        opacity: weight of the colour layer, 0 (image only) to 1 (map only).
        colormap: one of `COLORMAPS`.
        threshold: map values below it are not coloured, so faint evidence does not hide anatomy; the
            colour fades in over `THRESHOLD_RAMP` below it, so the edge of the tinted part is soft.

    Returns:
        uint8 RGB image HxWx3 at the original size and aspect ratio.
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose one of {sorted(COLORMAPS)}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity!r}")
    if heatmap.shape != pixels.shape[:2]:
        raise ValueError(f"heatmap shape {heatmap.shape} differs from image shape {pixels.shape[:2]}")
    gray = cv2.cvtColor(to_uint8(pixels), cv2.COLOR_GRAY2RGB)
    colour = cv2.cvtColor(cv2.applyColorMap(to_uint8(heatmap), COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)
    weight = opacity * visibility(heatmap, threshold)[..., None] if threshold > 0 else opacity
    return np.round(gray * (1.0 - weight) + colour * weight).astype(np.uint8)


def outline_lungs(overlay: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of an RGB overlay with the lung fields' outline drawn on it (display only)."""
    mask = np.asarray(mask, dtype=np.uint8)
    if mask.shape != overlay.shape[:2]:
        mask = cv2.resize(mask, (overlay.shape[1], overlay.shape[0]), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(min(mask.shape) / 320))
    outlined = np.ascontiguousarray(overlay).copy()
    # A dark halo under a white line keeps the outline visible over both bright bone and the colour map.
    cv2.drawContours(outlined, contours, -1, (0, 0, 0), thickness + 2, lineType=cv2.LINE_AA)
    cv2.drawContours(outlined, contours, -1, (255, 255, 255), thickness, lineType=cv2.LINE_AA)
    return outlined


def visibility(heatmap: np.ndarray, threshold: float) -> np.ndarray:
    """How much of the colour each pixel gets: 1 from `threshold` up, 0 below `threshold -
    THRESHOLD_RAMP`, a smooth step between (no hard contour where the map crosses the threshold)."""
    if threshold <= 0:
        return np.ones_like(heatmap, dtype=np.float32)
    ramp = min(THRESHOLD_RAMP, threshold)
    t = np.clip((np.asarray(heatmap, np.float32) - (threshold - ramp)) / ramp, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def tinted_share(heatmap: np.ndarray, threshold: float, where: np.ndarray | None = None) -> float:
    """Share of the pixels (inside `where`, e.g. the region the model saw) that stay tinted at `threshold`."""
    tinted = visibility(heatmap, threshold) > 0.5
    if where is not None:
        tinted = tinted[where]
    return float(tinted.mean()) if tinted.size else 0.0


def scale_region(region, image_shape: tuple[int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A (top, bottom, left, right) region of an image of `image_shape` on a copy of `shape` (e.g. the display copy)."""
    top, bottom, left, right = region
    sy, sx = shape[0] / image_shape[0], shape[1] / image_shape[1]
    top, left = int(np.floor(top * sy)), int(np.floor(left * sx))
    bottom, right = max(top + 1, int(np.ceil(bottom * sy))), max(left + 1, int(np.ceil(right * sx)))
    return (min(top, shape[0] - 1), min(bottom, shape[0]), min(left, shape[1] - 1), min(right, shape[1]))


def fade_outside(heatmap: np.ndarray, region, image_shape: tuple[int, int] | None = None,
                 fraction: float = FADE_FRACTION) -> np.ndarray:
    """A map that ends softly at the edge of the region the model saw instead of in a hard rectangle.

    Inside `region` the map is unchanged. Outside, each pixel takes the value at the nearest point of
    the region's edge, faded to 0 (smooth step) over `fraction` of the region's mean side: the colour
    no longer stops at a box edge, and nothing far outside the region (which the model never saw) is
    coloured. Display only.

    Args:
        heatmap: map in [0, 1], HxW (the original grid or a display copy of it).
        region: (top, bottom, left, right) the model saw (`ModelInput.region`), on `image_shape`.
        image_shape: the grid `region` is given on; None means the heatmap's own.
    """
    heatmap = np.asarray(heatmap, np.float32)
    shape = heatmap.shape[:2]
    top, bottom, left, right = scale_region(region, image_shape or shape, shape)
    rows, cols = np.arange(shape[0]), np.arange(shape[1])
    spread = heatmap[np.ix_(np.clip(rows, top, bottom - 1), np.clip(cols, left, right - 1))]
    dy = np.maximum(np.maximum(top - rows, rows - (bottom - 1)), 0).astype(np.float32)
    dx = np.maximum(np.maximum(left - cols, cols - (right - 1)), 0).astype(np.float32)
    width = max(1.0, fraction * ((bottom - top) + (right - left)) / 2.0)
    t = np.clip(1.0 - np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2) / width, 0.0, 1.0)
    return (spread * (t * t * (3.0 - 2.0 * t))).astype(np.float32)


def colour_bar(colormap: str, width: int = 256, height: int = 14, threshold: float = 0.0) -> np.ndarray:
    """A horizontal colour bar (uint8 RGB, height x width) from 0 (left) to the map's maximum (right);
    the part below `threshold`, which the overlay leaves uncoloured, is drawn gray."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose one of {sorted(COLORMAPS)}")
    values = np.linspace(0.0, 1.0, width, dtype=np.float32)
    colours = cv2.cvtColor(cv2.applyColorMap(to_uint8(values)[None, :], COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)[0]
    shown = visibility(values, threshold)[:, None]
    colours = np.round(colours * shown + 128.0 * (1.0 - shown)).astype(np.uint8)
    return np.repeat(colours[None], height, axis=0)


def colour_bar_caption(label: str, threshold: float = 0.0) -> str:
    """What the colour bar means, in one line."""
    hidden = f"; below {threshold:.0%} not coloured" if threshold > 0 else ""
    return f"weak → strong evidence for {label}, scaled to this image's maximum{hidden}"


def faint_map_note(heatmap: np.ndarray, threshold: float, method) -> str | None:
    """One line when `method` (a `model.explain.Method`) marks single pixels and the threshold colours
    few of them (SmoothGrad at the default 0.50 shows faint specks), naming the share and the highest
    threshold, in steps of 0.05, that colours at least FAINT_MAP_SUGGESTED of the map (`tinted_share`);
    None for region maps, when enough is coloured, or when no lower threshold would help."""
    if not method.pixel_level or threshold <= 0:
        return None
    share = tinted_share(heatmap, threshold)
    if share >= FAINT_MAP_SHARE:
        return None
    below = int(np.ceil(round(threshold / 0.05, 6))) - 1  # the multiples of 0.05 under the threshold, highest first
    steps = [round(0.05 * k, 2) for k in range(below, 0, -1)]
    better = next(((t, shown) for t in steps if (shown := tinted_share(heatmap, t)) >= FAINT_MAP_SUGGESTED), None)
    if better is None:
        return None
    return (f"{method.label} marks single pixels: at Hide below {threshold:.2f} only {share:.1%} of the map is "
            f"coloured, in scattered specks; at {better[0]:.2f}, {better[1]:.0%} is.")


def region_caption(model_input_region, image_shape: tuple[int, int], lung_crop: bool,
                   lungs_found: bool | None = True, mask_channel: bool = False, lung_mask: bool = False,
                   map_blank: bool = False) -> str:
    """What the model saw, in words: the lung box of lung-cropped models, else (almost) the whole film;
    `lungs_found` False: the lung model found no plausible lung fields, so the box is not a lung box;
    `mask_channel`: one of its networks saw only the lung fields inside the box (`Preprocessing.mask_channel`);
    `lung_mask`: the model saw only the lung fields, everything else in the box blanked
    (`Preprocessing.lung_mask`), so colour off the lungs is the map's coarse grid, not something it saw there;
    `map_blank`: the map has no colour anywhere (`model.trust.attention.blank_map`), so none outside the lungs
    to explain."""
    top, bottom, left, right = model_input_region
    share = (bottom - top) * (right - left) / float(image_shape[0] * image_shape[1])
    if lung_crop and lungs_found is False:
        return (f"No plausible lung fields were found, so the box this model saw ({share:.0%} of the image) is "
                "not a box around the lungs.")
    if lung_crop and lung_mask and map_blank:
        return (f"The model saw only the lung fields (slightly widened), everything else in the box around them "
                f"({share:.0%} of the film) blanked; the map is blank: it marks no region, inside the lungs or out.")
    if lung_crop and lung_mask:
        return (f"The model saw only the lung fields (slightly widened), everything else in the box around them "
                f"({share:.0%} of the film) blanked: colour on the map outside the lungs is most likely its coarse "
                "grid spreading the lungs' evidence (or the lung outline), not tissue the model saw there; the map "
                "fades out beyond the box.")
    if lung_crop and mask_channel:
        return (f"The model saw only the box around the lung fields ({share:.0%} of the film), its lung-masked "
                "networks only the lung fields inside it; the map fades out beyond the box.")
    if lung_crop:
        return (f"The model saw only the box around the lung fields ({share:.0%} of the film); the map fades "
                "out beyond it.")
    if share > 0.995:
        return "The model saw the whole film."
    return f"The model saw the whole film but a thin border ({share:.0%} of it)."


def window(pixels: np.ndarray, level: float = 0.5, width: float = 1.0) -> np.ndarray:
    """Window/level of a [0, 1] grayscale image (display only): values from level - width/2 to
    level + width/2 are stretched over black to white. level 0.5, width 1 is the image unchanged."""
    width = max(float(width), 1e-3)
    low = float(level) - width / 2.0
    return np.clip((np.asarray(pixels, np.float32) - low) / width, 0.0, 1.0)


def draw_grid(image: np.ndarray, grid: int, hidden=(), colour=(255, 255, 255)) -> np.ndarray:
    """A uint8 RGB copy of `image` (gray float [0, 1], uint8 gray or RGB) with a grid x grid grid drawn on
    it and the `hidden` cells (row-major) greyed and outlined in amber: the film-grid of "click to hide",
    drawn as the reader asked the model to see it."""
    rgb = image if image.dtype == np.uint8 else to_uint8(image)
    rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB) if rgb.ndim == 2 else np.ascontiguousarray(rgb).copy()
    height, width = rgb.shape[:2]
    thickness = max(1, round(min(height, width) / 400))
    lines = rgb.copy()
    for k in range(1, grid):
        y, x = round(k * height / grid), round(k * width / grid)
        cv2.line(lines, (0, y), (width - 1, y), colour, thickness)
        cv2.line(lines, (x, 0), (x, height - 1), colour, thickness)
    rgb = cv2.addWeighted(lines, 0.45, rgb, 0.55, 0.0)  # a light grid that does not hide the film
    for cell in sorted({int(c) for c in hidden if 0 <= int(c) < grid * grid}):
        row, col = divmod(cell, grid)
        top, left = round(row * height / grid), round(col * width / grid)
        bottom, right = round((row + 1) * height / grid) - 1, round((col + 1) * width / grid) - 1
        # Grey, with a trace of the film left, so the reader sees what is hidden and where.
        patch = rgb[top:bottom + 1, left:right + 1].astype(np.float32)
        rgb[top:bottom + 1, left:right + 1] = np.round(0.25 * patch + 0.75 * 128).astype(np.uint8)
        cv2.rectangle(rgb, (left, top), (right, bottom), (255, 176, 0), thickness + 2)
    return rgb


def pad_to_square(image: np.ndarray, value: int = 0) -> np.ndarray:
    """A copy of a uint8 image (HxW or HxWx3) centred on a square of `value`, so that films of every
    aspect ratio line up in a grid of thumbnails; nothing is cut off or stretched."""
    image = np.asarray(image)
    height, width = image.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = np.full((side, side, *image.shape[2:]), value, dtype=image.dtype)
    square[top:top + height, left:left + width] = image
    return square
