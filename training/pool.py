"""Decoded arrays and lung-field masks of a whole manifest, cached once per preprocessing.

One pass decodes every image, preprocesses it through `model.inputs.preprocessing.preprocess` (lung-box
crop) and keeps the image's dilated lung-field mask on the same grid (`model.lung_field_mask`), so
masking outside the lungs is `images * masks` on the cached arrays, identical to preprocessing with
`lung_mask=True` (masking is the last step of `preprocess`). The segmenter runs once per image: its
map is remembered by pixel digest between the crop and the mask.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

from model.inputs.intake import XrayInputError, load_xray
from model.inputs.lungs import lung_region
from model.inputs.preprocessing import Preprocessing, apply_lung_field, join_input, lung_field_mask, preprocess
from training.input_pipeline import cache_key

# Decoded arrays are kept here between runs (one file per data list and preprocessing).
DEFAULT_CACHE = Path(os.environ.get("CXR_CACHE", Path.home() / ".cache" / "cxr-dashboard"))


def load_pool(records, preps: list[Preprocessing], cache_dir: Path | None, progress: bool = False, segmenter=None):
    """For each prep (lung_mask and mask_channel off; masks are returned separately): (images float16 (N,S,S,C),
    masks uint8 (N,S,S) or None, ok bool (N,)). Images that fail to decode are zeros with ok False.
    Lung-cropped preps need `segmenter`, the `LungSegmenter` their cards name (passed by the caller)."""
    if any(p.lung_crop for p in preps) and segmenter is None:
        raise ValueError("lung-cropped preprocessing needs the lung model (segmenter)")
    # A two-channel prep's film is the one-channel unmasked pool; its mask channel is the masks.
    preps = [dataclasses.replace(p, lung_mask=False, lung_equalize=False, mask_channel=False,
                                 channels=1 if p.mask_channel else p.channels) for p in preps]
    files = [Path(cache_dir) / f"pool-{cache_key(records, p, segmenter if p.lung_crop else None)}.npz"
             if cache_dir else None for p in preps]
    results = [None] * len(preps)
    for i, f in enumerate(files):
        if f is not None and f.is_file():
            with np.load(f, allow_pickle=False) as data:
                results[i] = (data["images"], data["masks"] if data["masks"].size else None, data["ok"])
    todo = [i for i, r in enumerate(results) if r is None]
    if todo:
        n = len(records)
        bufs = {i: (np.zeros((n, preps[i].image_size, preps[i].image_size, preps[i].channels), np.float16),
                    np.ones((n, preps[i].image_size, preps[i].image_size), np.uint8) if preps[i].lung_crop else None)
                for i in todo}
        ok = np.zeros(n, bool)
        started = time.time()
        for j, record in enumerate(records):
            try:
                pixels = load_xray(record.path).pixels
            except (XrayInputError, OSError):
                continue
            ok[j] = True
            lungs = segmenter.mask(pixels) if segmenter is not None and any(preps[i].lung_crop for i in todo) else None
            for i in todo:
                prep = preps[i]
                region = lung_region(lungs, prep) if prep.lung_crop else None
                bufs[i][0][j] = preprocess(pixels, prep, region).astype(np.float16)
                if prep.lung_crop:
                    mask_prep = dataclasses.replace(prep, lung_mask=True)
                    bufs[i][1][j] = lung_field_mask(lungs, region, mask_prep).astype(np.uint8)
            if progress and (j + 1) % 200 == 0:
                print(f"pool: {j + 1}/{n} images in {time.time() - started:.0f} s", file=sys.stderr, flush=True)
        for i in todo:
            images, masks = bufs[i]
            results[i] = (images, masks, ok)
            if files[i] is not None:
                files[i].parent.mkdir(parents=True, exist_ok=True)
                np.savez(files[i], images=images, masks=masks if masks is not None else np.zeros(0, np.uint8), ok=ok)
    return results


def split_pool(records, ok: np.ndarray, split: str = "hash", seed: int = 42, held=()) -> dict[str, np.ndarray]:
    """Indices into `records` of the patient split (train/validation/test) of the readable films
    (`ok`) outside the `held` sources: hash of (seed, patient id) or, for the v1 models, "legacy"."""
    from model.splits import hash_split, patient_split

    held = set(held)
    usable = [r for r, good in zip(records, ok) if good and r.source not in held]
    splits = hash_split(usable, seed=seed) if split == "hash" else patient_split(usable, seed=seed)
    index = {id(r): i for i, r in enumerate(records)}
    return {name: np.array([index[id(r)] for r in items], int) for name, items in splits.items()}


def lung_inputs(images: np.ndarray, masks: np.ndarray | None, lung_mask: bool, equalize: bool = False) -> np.ndarray:
    """Model inputs from cached arrays: `images` (N, S, S, C) as cached by `load_pool`, finished like
    `preprocess` finishes a lung-masked input (`apply_lung_field`: zero outside, optionally equalised)."""
    x = np.asarray(images, np.float32)
    if not lung_mask:
        return x
    if masks is None:
        raise ValueError("lung-masked inputs need the lung-field masks")
    if not equalize:
        return x * np.asarray(masks, np.float32)[..., None]
    out = np.empty_like(x)
    for i in range(len(x)):
        for c in range(x.shape[-1]):
            out[i, ..., c] = apply_lung_field(x[i, ..., c], masks[i], True)
    return out


def pool_inputs(images: np.ndarray, masks: np.ndarray | None, prep: Preprocessing) -> np.ndarray:
    """Model inputs from cached arrays, finished as `prep` says: lung-masked (`lung_inputs`), or for a
    two-channel prep the film with its lung-field mask as the second channel."""
    if not prep.mask_channel:
        return lung_inputs(images, masks, prep.lung_mask, prep.lung_equalize)
    return two_channel_inputs(images, masks)


def two_channel_inputs(images: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    """Two-channel model inputs (N, S, S, 2) from a cached unmasked pool: the film and its lung-field mask."""
    if masks is None:
        raise ValueError("two-channel inputs need the lung-field masks")
    return join_input(np.asarray(images, np.float32)[..., :1], np.asarray(masks, np.float32)[..., None])


if __name__ == "__main__":  # warm the cache: python -m training.pool MANIFEST SIZE [SIZE ...]
    from model.labelled_data import CLASS_LABELS, read_dataset

    recs = [r for r in read_dataset(sys.argv[1]) if r.label in CLASS_LABELS]
    sizes = [int(s) for s in sys.argv[2:]] or [128]
    preps = [Preprocessing(image_size=s, channels=1, resize="stretch", border_crop=0.06, equalize="clahe",
                           lung_crop=True, lung_model="lungs-unet-v1") for s in sizes]
    from model.inputs.lungs import LungSegmenter

    lungs = LungSegmenter.load("lungs-unet-v1")
    for (_images, masks, ok), s in zip(load_pool(recs, preps, DEFAULT_CACHE, progress=True, segmenter=lungs), sizes):
        print(f"{s} px: {int(ok.sum())}/{len(ok)} images, mean mask cover {masks.mean():.2f}")
