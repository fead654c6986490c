"""Masking outside the lung fields (the `lung_mask` preprocessing option).

`lung_field_mask` brings an image's lung mask onto the model's input grid (same crop and resize as
the image), dilates it and returns it as 0/1 floats; `preprocess` multiplies the equalised square by
it. Training can apply the same function to cached arrays, so what a model sees at training is
exactly what serving feeds it.
"""
from __future__ import annotations

import cv2
import numpy as np

# Below this share of the square, the segmentation is taken as failed and nothing is masked
# (the lung box has then fallen back to the border crop as well).
MIN_MASK_FRACTION = 0.05


def lung_field_mask(mask: np.ndarray, box: tuple[int, int, int, int], prep) -> np.ndarray:
    """Dilated lung mask on the (image_size, image_size) input grid, float32 0/1.

    Args:
        mask: boolean lung mask on the original image's grid (`LungSegmenter.mask`).
        box: (top, bottom, left, right) region of the image that the model sees (`region_box`).
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
        from model.preprocessing import _letterbox_geometry

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
