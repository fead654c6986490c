"""Turning maps and radiographs into pictures: overlays, colour maps, display copies and PNG bytes.

Display only: nothing here changes what a model sees or what a map says.
"""
from __future__ import annotations

import cv2
import numpy as np

COLORMAPS = {"jet": cv2.COLORMAP_JET, "turbo": cv2.COLORMAP_TURBO, "inferno": cv2.COLORMAP_INFERNO,
             "viridis": cv2.COLORMAP_VIRIDIS, "hot": cv2.COLORMAP_HOT}


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


def render_overlay(pixels: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45, colormap: str = "jet",
                   threshold: float = 0.0) -> np.ndarray:
    """Blend a heatmap over a grayscale image with OpenCV.

    Args:
        pixels: grayscale image, float in [0, 1], HxW (the original, not the model input).
        heatmap: map in [0, 1] on the same HxW grid (see `model.inputs.preprocessing.map_to_image`).
        opacity: weight of the colour layer, 0 (image only) to 1 (map only).
        colormap: one of `COLORMAPS`.
        threshold: map values below it are not coloured, so faint evidence does not hide anatomy.

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
    weight = np.where(heatmap >= threshold, opacity, 0.0)[..., None] if threshold > 0 else opacity
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
