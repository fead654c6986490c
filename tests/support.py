"""Synthetic radiographs, image and DICOM file builders, and tiny registry models for the tests (never
../shared data)."""
from __future__ import annotations

import io
import shutil
import struct
import tempfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

from model.inputs.intake import Xray

LABELS = ["COVID-19", "Normal", "Pneumonia"]
# Written tiny entries by (seed, image_size, epochs), copied for every further entry of the same kind:
# building and saving a Keras model costs about a second, a copy a few milliseconds. They live in the
# test run's temporary folder, which conftest.py removes at the end.
_TINY_ENTRIES: dict[tuple[int, int, int], Path] = {}


def synthetic_radiograph(size: int = 128, seed: int = 0, lesion: tuple[float, float] | None = None,
                         width: int | None = None) -> np.ndarray:
    """A float [0, 1] image shaped like a frontal chest film: bright body and mediastinum, two dark
    lung fields, a little noise; optionally a bright round lesion at (row, col) fractions."""
    rng = np.random.default_rng(seed)
    height, width = size, width or size
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    image = 0.55 + 0.1 * rng.standard_normal((height, width)) * 0.2
    body = ((xx - 0.5) / 0.45) ** 2 + ((yy - 0.55) / 0.5) ** 2 < 1
    image = np.where(body, 0.75, 0.1)
    for cx in (0.32, 0.68):
        lung = ((xx - cx) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1
        image = np.where(lung, 0.25, image)
    if lesion is not None:
        blob = ((xx - lesion[1]) ** 2 + (yy - lesion[0]) ** 2) < 0.06 ** 2
        image = np.where(blob, 0.95, image)
    image = image + rng.normal(0, 0.03, image.shape)
    return np.clip(image, 0, 1).astype(np.float32)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_manifest(folder: Path, rows: list[tuple[str, str, str]], size: int = 72, extra: str = "",
                   lesions: dict | None = None) -> Path:
    """A manifest of synthetic films: one (label, patient_id, source) per image, written as PNGs
    under folder/images; `extra` names further (empty) columns, `lesions` a lesion per label."""
    lines = ["file,label,patient_id,source" + (f",{extra}" if extra else "")]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i, (label, patient, source) in enumerate(rows):
        film = synthetic_radiograph(size, seed=i, lesion=(lesions or {}).get(label))
        (folder / "images" / f"{i}.png").write_bytes(png_bytes(film))
        lines.append(f"images/{i}.png,{label},{patient},{source}" + ("," * len(extra.split(",")) if extra else ""))
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder / "manifest.csv"


def tiny_classifier(image_size: int = 32, seed: int = 0):
    """A real architecture from the registry of builders, shrunk to a few thousand weights."""
    import keras

    from training.architectures import compact_cnn

    keras.utils.set_random_seed(seed)
    return compact_cnn(image_size=image_size, channels=1, num_classes=len(LABELS), widths=(4, 8))


def write_tiny_entry(root: Path, model_id: str, seed: int = 0, default: bool = False, image_size: int = 32,
                     epochs: int = 3) -> Path:
    """A complete registry entry (model, card, history, metrics) for a tiny untrained model; the same
    seed and sizes give the same weights and figures (a copy of the first such entry written)."""
    from model.registry import read_card, set_default, write_card

    key = (seed, image_size, epochs)
    template = _TINY_ENTRIES.get(key)
    if template is None or not template.is_dir():
        template = _TINY_ENTRIES[key] = _build_tiny_entry(Path(tempfile.mkdtemp(prefix="tiny-entry-")), "template",
                                                          seed, image_size, epochs)
    folder = Path(root) / model_id
    shutil.copytree(template, folder)
    card = read_card("template", template.parent)
    card.id, card.display_name, card.default = model_id, f"Tiny test model {model_id}", default
    write_card(card, Path(root))
    if default:
        set_default(model_id, Path(root))
    return folder


def _build_tiny_entry(root: Path, model_id: str, seed: int, image_size: int, epochs: int) -> Path:
    import pandas as pd

    from model.metrics import classification_report
    from model.registry import ModelCard, save_entry

    model, layer = tiny_classifier(image_size, seed)
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, len(LABELS), 60)
    probabilities = rng.dirichlet(np.ones(len(LABELS)), 60)
    probabilities[np.arange(60), y_true] += 0.5 + 0.1 * seed
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    report = classification_report(y_true, probabilities, LABELS)
    history = pd.DataFrame({"epoch": range(epochs), "loss": np.linspace(1.1, 0.6, epochs) + 0.05 * seed,
                            "val_loss": np.linspace(1.2, 0.8, epochs), "accuracy": np.linspace(0.4, 0.8, epochs),
                            "val_accuracy": np.linspace(0.35, 0.7, epochs), "auc": np.linspace(0.6, 0.9, epochs),
                            "val_auc": np.linspace(0.55, 0.85, epochs)})
    card = ModelCard(
        id=model_id, display_name=f"Tiny test model {model_id}", version=f"0.{seed}",
        created=datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(), architecture="compact_cnn",
        labels=LABELS, preprocessing={"image_size": image_size, "channels": 1, "border_crop": 0.0},
        explain_layer=layer, default=False,
        training={"seed": seed, "unit": "patient_id", "sources": ["synthetic"], "wall_time_s": 1.0,
                  "splits": {"train": {"images": 10, "patients": 10, "by_label": {"Normal": 10},
                                       "by_source_label": {"synthetic / Normal": 10}}}},
        metrics={"accuracy": report["accuracy"], "macro_auc": report["macro"]["auc"]},
        notes="Untrained test model.")
    return save_entry(model, card, history=history, metrics=report, root=root)


TWO_CHANNEL_LAYER = "ensemble_features"


def tiny_two_channel_classifier(image_size: int = 32, seed: int = 0):
    """(Keras model, explained layer): the shape of the two-channel default in a few hundred weights.

    Input (S, S, 2) "image": channel 0 the film, channel 1 its lung-field mask. One conv path sees
    film x mask ("lung_masked", a `Multiply`), a second sees the unmasked film; both are brought to
    the same S/4 grid, concatenated ("ensemble_features"), pooled ("gap") and classified
    ("probabilities", softmax). The channel slices are GetItem ops, not Lambda layers, so the model
    saves and loads with safe_mode.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 2), name="image")
    film, mask = inputs[..., 0:1], inputs[..., 1:2]
    masked = layers.Multiply(name="lung_masked")([film, mask])
    a = layers.Conv2D(4, 3, padding="same", activation="relu", name="m1_conv1")(masked)
    a = layers.Conv2D(6, 3, strides=4, padding="same", activation="relu", name="m1_conv2")(a)  # S/4
    b = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="m2_conv1")(film)
    b = layers.Conv2D(6, 3, padding="same", activation="relu", name="m2_conv2")(b)  # S/2
    b = layers.AveragePooling2D(2, name="m2_regrid")(b)  # S/4
    features = layers.Concatenate(name=TWO_CHANNEL_LAYER)([a, b])
    pooled = layers.GlobalAveragePooling2D(name="gap")(features)
    outputs = layers.Dense(len(LABELS), activation="softmax", name="probabilities")(pooled)
    return keras.Model(inputs, outputs, name="tiny_two_channel"), TWO_CHANNEL_LAYER


def two_channel_card(model_id: str, default: bool = False, image_size: int = 32):
    """The card of `tiny_two_channel_classifier`: lung-cropped with the fixed lung fields of
    `tests.gallery_support`, the film and its lung-field mask as two channels."""
    from model.registry import ModelCard
    from tests.gallery_support import LUNGS_ID

    return ModelCard(
        id=model_id, display_name=f"Tiny two-channel model {model_id}", version="0.1",
        created=datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(), architecture="two_channel(test)",
        labels=LABELS, preprocessing={"image_size": image_size, "channels": 2, "mask_channel": True,
                                      "lung_crop": True, "lung_model": LUNGS_ID, "equalize": "none"},
        explain_layer=TWO_CHANNEL_LAYER, default=default,
        training={"seed": 0, "unit": "patient_id", "sources": ["synthetic"]},
        notes="Untrained two-channel test model.")


def write_two_channel_entry(root: Path, model_id: str, default: bool = False, seed: int = 0) -> Path:
    """A two-channel registry entry (`tiny_two_channel_classifier`) and, when `root` lacks it, the
    fixed lung-fields entry its card names."""
    from model.registry import save_entry
    from tests.gallery_support import LUNGS_ID, write_fixed_lungs_entry

    if not (Path(root) / LUNGS_ID).is_dir():
        write_fixed_lungs_entry(Path(root))
    model, _ = tiny_two_channel_classifier(32, seed)
    return save_entry(model, two_channel_card(model_id, default), root=Path(root))


def write_lambda_entry(root, model_id: str, marker) -> None:
    """An entry whose model has a Lambda layer that creates `marker` whenever its code runs."""
    import shutil

    import keras

    from model.registry import read_card, save_entry

    write_tiny_entry(root, "template", seed=0)
    card = read_card("template", root)
    canary = eval(f"lambda t: (__import__('pathlib').Path({str(marker)!r}).touch(), t)[1]")
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Lambda(canary, name="canary")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    card.id, card.explain_layer, card.default = model_id, "conv", False
    save_entry(keras.Model(inputs, outputs), card, root=root)
    shutil.rmtree(root / "template")
    marker.unlink()  # building the model ran the lambda once; only a later run may leave the marker


# --------------------------------------------------------------------------- image and DICOM files


IDENTIFIERS = {
    "PatientName": "Doe^Jane^Q",
    "PatientID": "MRN-7731-XQ",
    "PatientBirthDate": "19480317",
    "AccessionNumber": "ACC-99812",
    "InstitutionName": "St Example Hospital",
    "ReferringPhysicianName": "House^Gregory",
    "StudyID": "STUDY-4471",
}


def gradient(height: int = 96, width: int = 128) -> np.ndarray:
    """A deterministic 8-bit horizontal ramp."""
    return np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but which holds no pixel data at all."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def dicom_dataset(pixels: np.ndarray, *, ts=ExplicitVRLittleEndian, photometric: str = "MONOCHROME2",
                  bits_stored: int = 12, **elements) -> FileDataset:
    """A DX dataset with identifiers set; `pixels` is (rows, cols) or (frames, rows, cols) uint16."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ts
    ds = FileDataset(None, Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    for keyword, value in IDENTIFIERS.items():
        setattr(ds, keyword, value)
    ds.Modality, ds.ViewPosition, ds.BodyPartExamined = "DX", "PA", "CHEST"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    if ts.is_compressed:
        # A JPEG 2000 codestream marker followed by garbage: recognisable but not decodable.
        ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(200)])
        ds["PixelData"].VR = "OB"
    else:
        ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def dicom_bytes(pixels: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    dicom_dataset(pixels, **kwargs).save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def three_bands(low: int = 400, mid: int = 500, high: int = 600, height: int = 64) -> np.ndarray:
    """Three vertical bands of stored values, 32 columns each."""
    band = np.array([low] * 32 + [mid] * 32 + [high] * 32, dtype=np.uint16)
    return np.tile(band, (height, 1))


def band_means(pixels: np.ndarray) -> list[float]:
    return [round(float(pixels[:, i * 32:(i + 1) * 32].mean()), 3) for i in range(3)]


def assert_valid_xray(xray: Xray) -> None:
    assert isinstance(xray, Xray)
    assert xray.pixels.dtype == np.float32 and xray.pixels.ndim == 2
    assert xray.pixels.flags.c_contiguous
    assert np.isfinite(xray.pixels).all()
    assert xray.pixels.min() >= 0.0 and xray.pixels.max() <= 1.0
    assert (xray.metadata["height"], xray.metadata["width"]) == xray.pixels.shape


def assert_one_sentence(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message
    assert "Traceback" not in message and message.endswith(".")
    assert message[0].isupper()


def truncated_png() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (128, 128), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "PNG")
    return data[: len(data) // 2]


def no_pixel_dicom() -> bytes:
    """A non-image object (e.g. a report): no pixel data and no image geometry."""
    ds = dicom_dataset(three_bands())
    for keyword in ("PixelData", "Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation",
                    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation"):
        delattr(ds, keyword)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
