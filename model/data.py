"""Labelled chest X-ray images: reading manifests and folder-per-class layouts.

The core's own data type, so the dashboard (gallery), evaluation and training read labelled data
the same way; training adds the split, the array cache and the input pipeline (`training.data`).
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CLASS_LABELS = ("COVID-19", "Normal", "Pneumonia")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".tif", ".tiff", ".bmp"}

# Folder names used by published datasets (COVID-19 Radiography Database, COVIDx, Kermany's
# pediatric pneumonia set, ...) mapped to our labels. Keys are compared case-insensitively with
# '_' and '-' read as spaces. Folders not listed (e.g. "Lung_Opacity") are skipped with a warning:
# a lung opacity is not a pneumonia. Override with `--label-map FILE.json`.
DEFAULT_FOLDER_LABELS = {
    "covid": "COVID-19", "covid 19": "COVID-19", "covid19": "COVID-19", "sars cov 2": "COVID-19",
    "normal": "Normal", "no finding": "Normal", "healthy": "Normal",
    "pneumonia": "Pneumonia", "viral pneumonia": "Pneumonia", "bacterial pneumonia": "Pneumonia",
    "non covid pneumonia": "Pneumonia", "non covid": "Pneumonia",
}
SPLIT_FOLDERS = {"train", "training", "val", "valid", "validation", "test", "testing"}


@dataclass(frozen=True)
class LabelledImage:
    """One labelled radiograph; `patient_id` falls back to the file's own path when unknown."""

    path: str
    label: str
    patient_id: str
    source: str = ""
    subtype: str = ""


def _folder_key(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


def read_manifest(path: Path) -> list[LabelledImage]:
    """Rows of a manifest CSV with `file` (relative to the manifest) and `label`, optionally
    `patient_id`, `source` and `subtype`."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"file", "label"} <= set(rows[0]):
        raise ValueError(f"{path} needs the columns 'file' and 'label'")
    return [LabelledImage(str(path.parent / row["file"]), row["label"],
                          row.get("patient_id") or row["file"], row.get("source") or "",
                          row.get("subtype") or "") for row in rows]


def read_folder(root: Path, label_map: dict[str, str] | None = None) -> list[LabelledImage]:
    """Images in a folder-per-class layout, optionally with train/test folders above the classes.

    The source is the top folder's name; each image is its own patient (folder layouts carry no
    patient ids, so a split of such data can only be image-level: prefer a manifest).
    """
    root, mapping = Path(root), {_folder_key(k): v for k, v in (label_map or DEFAULT_FOLDER_LABELS).items()}
    records, skipped = [], set()
    for file in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        parts = [part for part in file.relative_to(root).parts[:-1] if part.lower() not in SPLIT_FOLDERS]
        label = next((mapping[_folder_key(part)] for part in reversed(parts) if _folder_key(part) in mapping), None)
        if label is None:
            skipped.add(str(file.parent.relative_to(root)))
            continue
        rel = str(file.relative_to(root))
        records.append(LabelledImage(str(file), label, rel, root.name))
    for folder in sorted(skipped):
        log.warning("skipped folder %s: its name maps to no label", folder)
    return records


def read_dataset(path, label_map: dict[str, str] | None = None) -> list[LabelledImage]:
    """A manifest CSV, a folder holding `manifest.csv`, or a folder-per-class layout."""
    path = Path(path)
    if path.is_file():
        return read_manifest(path)
    if (path / "manifest.csv").is_file():
        return read_manifest(path / "manifest.csv")
    if path.is_dir():
        return read_folder(path, label_map)
    raise FileNotFoundError(f"no manifest or image folder at {path}")
