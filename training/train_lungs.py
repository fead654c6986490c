"""Train a small U-Net that segments the lung fields and write a registry entry of kind "lung_segmentation".

    python -m training.train_lungs --data ../shared/data/lung-masks --model-id lungs-unet-v1

The data folder holds `images/NAME.png` with `masks/NAME.png` (0 = background, 255 = lung).
Steps: pair images with masks, split by case (names of one paper figure, case report or
patient go to one split) into train / validation / held-out test, preprocess images through
the one intake and preprocessing path (`load_xray` + `preprocess`, as the classifier), bring
masks to the same grid, train with geometric and exposure augmentation and early stopping on
the validation split, then measure Dice and IoU on the untouched held-out split *through the
serving path* (`model.inputs.lungs.LungSegmenter.mask`, on each image's original pixel grid) and write
model, card, history and metrics into the registry.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from model.inputs.intake import load_xray
from model.inputs.preprocessing import Preprocessing, preprocess
from model.registry import LUNG_SEGMENTATION, ModelCard, registry_root, save_entry
from model.runtime import doc_summary
from training.recipes import Schedule

ARCHITECTURE = "lung_unet"
LABELS = ["lung"]
# Batch-norm momentum as in training.architectures: ~20 steps an epoch, statistics must keep up.
BN_MOMENTUM = 0.9
DATA_NOTE = (
    "Images: the COVID-19 image data collection (Cohen et al., 2020, github.com/ieee8023/covid-chestxray-dataset), "
    "each image under its own licence listed in that collection's metadata. Masks: the collection's lungVAE masks "
    "(Selvan et al., 2020, arXiv:2005.10052), which were produced by a segmentation model, not drawn by hand, so "
    "Dice measures agreement with that model's masks. The images are not distributed with this project; only the "
    "weights and figures derived from them are.")
NOTES = (
    "Lung-field segmentation for attention-inside-lungs checks, lung cropping and the frontal-chest-film input "
    "check; not a diagnostic tool. Trained from scratch on {n} radiographs, mostly adult COVID-19 and pneumonia "
    "films from case reports and papers (some photographed or cropped figures), at {size}x{size}. Expect worse "
    "masks for lateral views, children, heavy consolidation, large effusions and devices. The builder "
    "`lung_unet` lives in training/train_lungs.py.")

# Rules turning a file name into a case key: images of one paper, figure, case report or patient
# share a key and are never split apart. Conservative: unrelated images may share a key, related
# ones should not get different keys. Tried in order on the lower-cased file stem.
_CASE_PATTERNS = (
    re.compile(r"^(.*?)\.pdf"),                  # figures extracted from one PDF
    re.compile(r"^(\d+)_\d+_\d+$"),              # PATIENT_STUDY_IMAGE numbering
    re.compile(r"^([0-9a-f]{32})-"),             # hashed case id with per-image suffixes
    re.compile(r"^(.*?)\.webp"),                 # one figure, several days
    re.compile(r"^(.*?\.fig\d+)"),               # journal figure panels
    re.compile(r"^(\d-s2\.0-[^-]+)-"),           # Elsevier article id
    re.compile(r"^([a-z]+\d+)-fig"),             # article id before figure number
    re.compile(r"^(lancet-case\d+)[a-z]$"),      # case with lettered panels
    re.compile(r"^([a-z]+-\d+-e\d+)-g\d+"),      # Korean journal article id, figure panels
)
_CASE_SUFFIX = re.compile(r"(?:[-_](?:day-?\d+|pa|aps?|prior|admission|pa-on-admission|on-admission|\d+-hours|"
                          r"\d+-days|[a-z]\d?|\d))+$")


def case_key(name: str) -> str:
    """Group key of an image file name: its paper, figure, case report or patient.

    Args:
        name: file name or stem, e.g. "covid-19-pneumonia-58-day-10.png".

    Returns:
        e.g. "covid-19-pneumonia-58"; related images ("-day3", "-PA", panel letters) share it.
    """
    stem = Path(name).stem.lower() if Path(name).suffix.lower() == ".png" else name.lower()
    for pattern in _CASE_PATTERNS:
        match = pattern.match(stem)
        if match:
            return match.group(1)
    stem = re.sub(r"(\.annot)?\.original$", "", stem)
    return _CASE_SUFFIX.sub("", stem) or stem


@dataclass(frozen=True)
class MaskPair:
    """One radiograph with its lung mask; `case` groups images of one patient or publication."""

    name: str
    image: str
    mask: str
    case: str


def read_pairs(folder: Path) -> list[MaskPair]:
    """Pairs `images/NAME.png` with `masks/NAME.png`; images without a mask are skipped."""
    folder = Path(folder)
    images, masks = folder / "images", folder / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise FileNotFoundError(f"{folder} needs the sub-folders images/ and masks/")
    pairs = [MaskPair(p.name, str(p), str(masks / p.name), case_key(p.name))
             for p in sorted(images.iterdir()) if p.suffix.lower() == ".png" and (masks / p.name).is_file()]
    if not pairs:
        raise FileNotFoundError(f"no image/mask pairs found in {folder}")
    return pairs


def case_split(pairs: list[MaskPair], seed: int, test_fraction: float = 0.2,
               validation_fraction: float = 0.15) -> dict[str, list[MaskPair]]:
    """Case-level split into train / validation / test.

    `test_fraction` of the images are held out; `validation_fraction` of the remainder is used for
    early stopping. Cases are shuffled with `seed` and each goes, whole, to the split furthest
    below its target share.
    """
    by_case: dict[str, list[MaskPair]] = defaultdict(list)
    for pair in pairs:
        by_case[pair.case].append(pair)
    cases = sorted(by_case)
    np.random.default_rng(seed).shuffle(cases)
    targets = {"train": (1 - test_fraction) * (1 - validation_fraction),
               "validation": (1 - test_fraction) * validation_fraction, "test": test_fraction}
    splits: dict[str, list[MaskPair]] = {name: [] for name in targets}
    total = len(pairs)
    for case in cases:
        name = min(targets, key=lambda s: len(splits[s]) / total - targets[s])
        splits[name].extend(by_case[case])
    return splits


def mask_to_model(mask: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """A mask on an image's grid brought to the model grid exactly as `preprocess` moves the image.

    The mask goes through `preprocess` itself (same crop, stretch or letterbox, area averaging
    when shrinking) with equalisation off, then is thresholded at 0.5.

    Returns:
        float32 (S, S) array of 0 and 1.
    """
    geometry = replace(prep, equalize="none", channels=1)
    return (preprocess(np.asarray(mask, dtype=np.float32), geometry)[..., 0] >= 0.5).astype(np.float32)


def load_pairs(pairs: list[MaskPair], prep: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    """Decode and preprocess pairs: images (N, S, S, C) float32 and masks (N, S, S, 1) float32 0/1."""
    images, masks = [], []
    for pair in pairs:
        pixels = load_xray(pair.image).pixels
        truth = load_xray(pair.mask).pixels
        if truth.shape != pixels.shape:
            raise ValueError(f"{pair.name}: mask shape {truth.shape} differs from image shape {pixels.shape}")
        images.append(preprocess(pixels, prep))
        masks.append(mask_to_model(truth >= 0.5, prep)[..., None])
    size = prep.image_size
    if not images:
        return np.zeros((0, size, size, prep.channels), np.float32), np.zeros((0, size, size, 1), np.float32)
    return np.stack(images).astype(np.float32), np.stack(masks).astype(np.float32)


# --------------------------------------------------------------------------- model


def _conv_bn_relu(x, filters: int, name: str):
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def lung_unet(image_size: int = 128, channels: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128),
              dropout: float = 0.1):
    """A flat U-Net: per-image standardisation, len(widths) - 1 down- and up-sampling levels.

    Each level has two 3x3 conv + batch norm + ReLU blocks; the encoder max-pools, the decoder
    upsamples bilinearly and concatenates the encoder's output of the same level. The last
    width is the bottleneck. With the default widths the model has about 0.47 M weights.

    Args:
        image_size: side of the square input; divisible by 2 ** (len(widths) - 1).
        channels: input channels.
        widths: filters per level, from full resolution to the bottleneck.
        dropout: spatial dropout rate at the bottleneck.

    Returns:
        (model, explain_layer): the model maps (N, S, S, C) images in [0, 1] to (N, S, S, 1)
        lung probabilities; explain_layer is the last decoder convolution.
    """
    import keras
    from keras import layers

    levels = len(widths) - 1
    if levels < 1 or image_size % (2 ** levels):
        raise ValueError(f"image_size {image_size} must be divisible by {2 ** levels} for widths {widths}")
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = layers.LayerNormalization(axis=(1, 2, 3), center=False, scale=False, name="standardize")(inputs)
    skips = []
    for level, width in enumerate(widths[:-1], start=1):
        x = _conv_bn_relu(x, width, f"enc{level}a")
        x = _conv_bn_relu(x, width, f"enc{level}b")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = _conv_bn_relu(x, widths[-1], "bridge_a")
    if dropout:
        x = layers.SpatialDropout2D(dropout, name="bridge_drop")(x)
    x = _conv_bn_relu(x, widths[-1], "bridge_b")
    for level in range(levels, 0, -1):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level - 1]])
        x = _conv_bn_relu(x, widths[level - 1], f"dec{level}a")
        x = _conv_bn_relu(x, widths[level - 1], f"dec{level}b")
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="lung_probability")(x)
    return keras.Model(inputs, outputs, name=ARCHITECTURE), "dec1b_conv"


def dice_bce_loss(y_true, y_pred):
    """Per-image binary cross-entropy plus (1 - soft Dice), smoothed by 1 pixel."""
    from keras import ops

    y_true = ops.cast(y_true, y_pred.dtype)
    y_pred = ops.clip(y_pred, 1e-6, 1.0 - 1e-6)
    bce = -ops.mean(y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred), axis=(1, 2, 3))
    overlap = ops.sum(y_true * y_pred, axis=(1, 2, 3))
    dice = (2.0 * overlap + 1.0) / (ops.sum(y_true, axis=(1, 2, 3)) + ops.sum(y_pred, axis=(1, 2, 3)) + 1.0)
    return bce + 1.0 - dice


def dice_metric(y_true, y_pred):
    """Per-image Dice of the mask thresholded at 0.5 (1 when both masks are empty)."""
    from keras import ops

    y_true = ops.cast(y_true > 0.5, "float32")
    y_pred = ops.cast(y_pred >= 0.5, "float32")
    overlap = ops.sum(y_true * y_pred, axis=(1, 2, 3))
    total = ops.sum(y_true, axis=(1, 2, 3)) + ops.sum(y_pred, axis=(1, 2, 3))
    return ops.where(total > 0, 2.0 * overlap / ops.maximum(total, 1.0), 1.0)


dice_metric.__name__ = "dice"


# --------------------------------------------------------------------------- augmentation


def augment_pair(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, rotation: float = 10.0,
                 shift: float = 0.06, zoom: tuple[float, float] = (0.9, 1.1), exposure: bool = True):
    """One random geometric transform applied identically to an image and its mask, then exposure
    changes (gamma, contrast, noise) to the image only. No left-right flip: the heart is on the left.

    Args:
        image: (S, S, C) float in [0, 1].
        mask: (S, S, 1) float 0/1.
        rng: random generator.
        rotation: largest rotation in degrees.
        shift: largest shift as a fraction of the side.
        zoom: range of the scale factor.
        exposure: whether to apply the exposure changes.

    Returns:
        (image, mask) with the input shapes; the mask stays 0/1.
    """
    import cv2

    size = image.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), rng.uniform(-rotation, rotation),
                                     rng.uniform(*zoom))
    matrix[:, 2] += rng.uniform(-shift, shift, 2) * size
    # Reflection at the border is the same for image and mask, so they stay aligned.
    warp = dict(dsize=(size, size), borderMode=cv2.BORDER_REFLECT_101)
    out = cv2.warpAffine(np.ascontiguousarray(image[..., 0]), matrix, flags=cv2.INTER_LINEAR, **warp)
    out_mask = cv2.warpAffine(np.ascontiguousarray(mask[..., 0]), matrix, flags=cv2.INTER_LINEAR, **warp) >= 0.5
    if exposure:
        out = np.clip(out, 1e-4, 1.0) ** np.exp(rng.uniform(-0.35, 0.35))
        mean = out.mean()
        out = (out - mean) * rng.uniform(0.75, 1.3) + mean
        out = out + rng.normal(0.0, rng.uniform(0.0, 0.03), out.shape)
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    return np.repeat(out[..., None], image.shape[-1], axis=-1), out_mask[..., None].astype(np.float32)


def _batches(images: np.ndarray, masks: np.ndarray, batch_size: int, seed: int, augment: bool):
    """A `keras.utils.PyDataset` of (image, mask) batches, reshuffled and re-augmented every epoch."""
    import keras

    class PairBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch, self.cached_epoch, self.x, self.y = 0, -1, images, masks

        def __len__(self):
            return int(np.ceil(len(images) / batch_size))

        def _prepare(self):
            # Deterministic per (seed, epoch), whatever order Keras asks for batches in.
            rng = np.random.default_rng([seed, self.epoch])
            order = rng.permutation(len(images))
            pairs = [augment_pair(images[i], masks[i], rng) for i in order] if augment else None
            self.x = np.stack([p[0] for p in pairs]) if augment else images[order]
            self.y = np.stack([p[1] for p in pairs]) if augment else masks[order]
            self.cached_epoch = self.epoch

        def __getitem__(self, index):
            if self.cached_epoch != self.epoch:
                self._prepare()
            part = slice(index * batch_size, (index + 1) * batch_size)
            return self.x[part], self.y[part]

        def on_epoch_end(self):
            self.epoch += 1

    return PairBatches()


def fit_unet(model, train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
             schedule: Schedule, *, augment: bool = True, verbose: int = 0):
    """Compile with Dice + BCE and Adam, train with early stopping on the validation loss (best
    weights restored) and learning-rate halving on plateaus.

    Args:
        schedule: epochs, batch size, first learning rate, patience and seed (the classifiers'
            `training.recipes.Schedule`). Every epoch is one pass over the training pairs on one
            device, so its `steps_per_epoch` must be None and its `strategy` "default".

    Returns:
        pandas DataFrame with one row per epoch (`epoch`, `loss`, `dice`, `val_loss`, `val_dice`, `lr`).
    """
    import keras
    import pandas as pd

    if schedule.steps_per_epoch is not None or schedule.strategy != "default":
        raise ValueError("the U-Net trains one pass over its pairs per epoch on one device: steps_per_epoch must be "
                         f"None and strategy 'default', got {schedule.steps_per_epoch!r} and {schedule.strategy!r}")
    batch_size, patience = schedule.batch_size, schedule.patience
    model.compile(optimizer=keras.optimizers.Adam(schedule.learning_rate), loss=dice_bce_loss, metrics=[dice_metric])
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, patience // 3),
                                          min_lr=1e-5),
    ]
    history = model.fit(_batches(*train, batch_size, schedule.seed, augment), validation_data=validation,
                        validation_batch_size=batch_size, epochs=schedule.epochs, callbacks=callbacks, verbose=verbose)
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", range(len(frame)))
    if "learning_rate" in frame:
        frame = frame.rename(columns={"learning_rate": "lr"})
    return frame


def export_copy(model, image_size: int, channels: int, widths: tuple[int, ...]):
    """An uncompiled copy of the trained model (no optimizer state, no custom loss in the file)."""
    fresh, _ = lung_unet(image_size, channels, widths)
    fresh.set_weights(model.get_weights())
    return fresh


# --------------------------------------------------------------------------- evaluation


def dice_score(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks; 1.0 when both are empty."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    total = int(prediction.sum()) + int(truth.sum())
    return 1.0 if total == 0 else float(2 * np.logical_and(prediction, truth).sum() / total)


def iou_score(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    union = int(np.logical_or(prediction, truth).sum())
    return 1.0 if union == 0 else float(np.logical_and(prediction, truth).sum() / union)


def _summary(values: list[float]) -> dict:
    array = np.asarray(values, dtype=float)
    return {"mean": round(float(array.mean()), 4), "median": round(float(np.median(array)), 4),
            "min": round(float(array.min()), 4), "max": round(float(array.max()), 4),
            "std": round(float(array.std()), 4)}


def evaluate_pairs(segmenter, pairs: list[MaskPair], threshold: float = 0.5) -> dict:
    """Dice and IoU of `segmenter.mask` (thresholded, two largest components, holes filled) against
    each ground-truth mask on the image's original pixel grid, plus the raw thresholded map.

    Returns:
        {"n", "threshold", "dice": {mean, median, min, max, std}, "iou": {...}, "dice_raw": {...},
         "plausible_fraction", "per_image": [{"name", "dice", "iou", "dice_raw", "plausible"}]}.
    """
    from model.inputs.lungs import clean_mask, mask_plausibility

    rows = []
    for pair in pairs:
        pixels = load_xray(pair.image).pixels
        truth = load_xray(pair.mask).pixels >= 0.5
        probability = segmenter.segment(pixels)
        raw = probability >= threshold
        cleaned = clean_mask(raw)
        rows.append({"name": pair.name, "dice": round(dice_score(cleaned, truth), 4),
                     "iou": round(iou_score(cleaned, truth), 4), "dice_raw": round(dice_score(raw, truth), 4),
                     "plausible": bool(mask_plausibility(cleaned)["plausible"])})
    return {"n": len(rows), "threshold": threshold, "grid": "original image pixels",
            "dice": _summary([r["dice"] for r in rows]), "iou": _summary([r["iou"] for r in rows]),
            "dice_raw": _summary([r["dice_raw"] for r in rows]),
            "plausible_fraction": round(float(np.mean([r["plausible"] for r in rows])), 4),
            "per_image": rows}


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train_lungs", description=doc_summary(__doc__))
    p.add_argument("--data", required=True, type=Path, help="folder with images/ and masks/ (same file names)")
    p.add_argument("--model-id", required=True, help="registry folder name for the new entry")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--patience", type=int, default=10, help="epochs without validation improvement before stopping")
    p.add_argument("--widths", default="16,32,64,128", help="filters per U-Net level, comma-separated")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--validation-fraction", type=float, default=0.15, help="share of the non-test part")
    p.add_argument("--display-name", default="Lung fields U-Net")
    p.add_argument("--version", default="1.0")
    p.add_argument("--registry", type=Path, default=None, help="registry folder (default: CXR_REGISTRY or model/versions)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.time()
    import keras

    from model.inputs.lungs import LungSegmenter

    keras.utils.set_random_seed(args.seed)
    widths = tuple(int(w) for w in args.widths.split(","))
    prep = Preprocessing(image_size=args.image_size, channels=1, resize="stretch", border_crop=0.0,
                         equalize="clahe")
    pairs = read_pairs(args.data)
    splits = case_split(pairs, args.seed, args.test_fraction, args.validation_fraction)
    counts = {name: {"images": len(items), "cases": len({p.case for p in items})} for name, items in splits.items()}
    print(f"{len(pairs)} pairs in {len({p.case for p in pairs})} cases; "
          + ", ".join(f"{k}: {v['images']} images / {v['cases']} cases" for k, v in counts.items()), flush=True)
    train, validation = load_pairs(splits["train"], prep), load_pairs(splits["validation"], prep)

    model, explain_layer = lung_unet(args.image_size, 1, widths)
    print(f"{model.count_params():,} weights", flush=True)
    schedule = Schedule(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                        patience=args.patience, seed=args.seed)
    history = fit_unet(model, train, validation, schedule, verbose=2)
    model = export_copy(model, args.image_size, 1, widths)

    card = ModelCard(
        id=args.model_id, display_name=args.display_name, version=args.version,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), architecture=ARCHITECTURE,
        labels=list(LABELS), preprocessing=prep.to_dict(), explain_layer=explain_layer, kind=LUNG_SEGMENTATION,
        notes=NOTES.format(n=len(splits["train"]), size=args.image_size))
    report = evaluate_pairs(LungSegmenter(model, card), splits["test"])
    best = int(history["val_loss"].idxmin())
    card.training = {
        "data": str(args.data), "sources": ["covid-chestxray-dataset / lungVAE masks"], "data_note": DATA_NOTE,
        "seed": args.seed, "unit": "case (patient, case report or paper figure, from file names)",
        "splits": counts, "epochs_run": int(len(history)), "epochs_max": args.epochs, "best_epoch": best,
        "batch_size": args.batch_size, "learning_rate": args.learning_rate, "widths": list(widths),
        "weights": int(model.count_params()), "loss": "binary cross-entropy + (1 - soft Dice)",
        "augmentation": "rotation +-10 deg, shift +-6%, zoom 0.9-1.1 (same transform for image and mask), "
                        "gamma, contrast, noise; no flips",
        "early_stopping": f"validation loss, patience {args.patience}, best weights restored",
        "wall_time_s": round(time.time() - started, 1),
    }
    card.metrics = {"dice_mean": report["dice"]["mean"], "dice_median": report["dice"]["median"],
                    "dice_min": report["dice"]["min"], "iou_mean": report["iou"]["mean"],
                    "n": report["n"], "split": "held-out test (original pixel grid, cleaned mask)"}
    report["split"] = "held-out test"
    report["validation_best"] = {k: round(float(v), 4) for k, v in history.iloc[best].items() if k != "epoch"}
    folder = save_entry(model, card, history=history, metrics=report, root=args.registry or registry_root())
    print(f"held-out Dice mean {report['dice']['mean']:.4f}, median {report['dice']['median']:.4f}, "
          f"min {report['dice']['min']:.4f}; IoU mean {report['iou']['mean']:.4f} (n={report['n']})")
    print(f"wrote {folder} in {card.training['wall_time_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
