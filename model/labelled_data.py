"""Labelled chest X-ray images: reading manifests and folder-per-class layouts.

The core's own data type, so the dashboard (gallery), evaluation and training read labelled data
the same way; training adds the split, the array cache and the input pipeline (`training.input_pipeline`).
"""
from __future__ import annotations

import csv
import logging
import os
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
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error):
        raise ValueError(f"{path} is not a manifest CSV (a text table with the columns 'file' and 'label')") from None
    if not {"file", "label"} <= set(reader.fieldnames or ()):
        raise ValueError(f"{path} is not a manifest CSV: it needs the columns 'file' and 'label'")
    return [LabelledImage(str(path.parent / row["file"]), row["label"],
                          row.get("patient_id") or row["file"], row.get("source") or "",
                          row.get("subtype") or "") for row in rows]


def folder_label(parts, mapping: dict[str, str], keep_unknown: bool = False) -> str | None:
    """The label of an image from the folders above it (split folders ignored): the innermost folder
    whose name maps to a label; with `keep_unknown`, an unmapped innermost folder's own name (so
    that e.g. "Tuberculosis" images can be reported with what the models called them)."""
    parts = [part for part in parts if part.lower() not in SPLIT_FOLDERS]
    label = next((mapping[_folder_key(part)] for part in reversed(parts) if _folder_key(part) in mapping), None)
    if label is None and keep_unknown and parts:
        label = parts[-1]
    return label


def label_mapping(label_map: dict[str, str] | None = None) -> dict[str, str]:
    return {_folder_key(k): v for k, v in (label_map or DEFAULT_FOLDER_LABELS).items()}


def read_folder(root: Path, label_map: dict[str, str] | None = None, keep_unknown: bool = False) -> list[LabelledImage]:
    """Images in a folder-per-class layout, optionally with train/test folders above the classes.

    The source is the top folder's name; each image is its own patient (folder layouts carry no
    patient ids, so a split of such data can only be image-level: prefer a manifest). Folders whose
    name maps to no label are skipped with a warning, unless `keep_unknown` (evaluation), where
    their name becomes the label.
    """
    root, mapping = Path(root), label_mapping(label_map)
    records, skipped = [], set()
    for file in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        label = folder_label(file.relative_to(root).parts[:-1], mapping, keep_unknown)
        if label is None:
            skipped.add(str(file.parent.relative_to(root)))
            continue
        rel = str(file.relative_to(root))
        records.append(LabelledImage(str(file), label, rel, root.name))
    for folder in sorted(skipped):
        log.warning("skipped folder %s: its name maps to no label", folder)
    return records


def read_dataset(path, label_map: dict[str, str] | None = None, keep_unknown: bool = False) -> list[LabelledImage]:
    """A manifest CSV, a folder holding `manifest.csv`, or a folder-per-class layout (`keep_unknown`:
    see `read_folder`)."""
    path = Path(path)
    if path.is_file():
        return read_manifest(path)
    if (path / "manifest.csv").is_file():
        return read_manifest(path / "manifest.csv")
    if path.is_dir():
        return read_folder(path, label_map, keep_unknown)
    raise FileNotFoundError(f"no manifest or image folder at {path}")


# --------------------------------------------------------------------------- configured data roots

DATA_ENV = "CXR_DATA"


class DataPathError(ValueError):
    """A data path outside the configured roots; the message is one sentence for a person."""


def data_roots(value: str | None = None) -> list[Path]:
    """The labelled-data roots set by configuration: `CXR_DATA` (or `value`), one or more paths
    separated by `os.pathsep`, each resolved (symlinks followed); roots that do not exist are left out."""
    value = os.environ.get(DATA_ENV, "") if value is None else value
    roots = []
    for part in value.split(os.pathsep):
        part = part.strip()
        if not part:
            continue
        root = Path(os.path.realpath(Path(part).expanduser()))
        if root.exists() and root not in roots:
            roots.append(root)
    return roots


def _inside(path: Path, root: Path) -> bool:
    base = root if root.is_dir() else root.parent
    return path == root or (root.is_dir() and path.is_relative_to(base))


def resolve_in_roots(path, roots: list[Path]) -> Path:
    """The real path of `path` when it lies inside one of `roots` (a root that is a file allows only
    itself); otherwise `DataPathError`. Symlinks and '..' are resolved before the check, so neither
    can lead out of a root."""
    if not roots:
        raise DataPathError("No data folder is configured; set CXR_DATA before starting the dashboard.")
    real = Path(os.path.realpath(Path(path).expanduser()))
    if not any(_inside(real, Path(os.path.realpath(root))) for root in roots):
        raise DataPathError("That path is outside the data folders this server is configured to read.")
    if not real.exists():
        raise DataPathError("Nothing was found at that path inside the configured data folders.")
    return real


def _looks_like_class_folder(folder: Path, mapping: dict[str, str]) -> bool:
    try:
        children = [child for child in folder.iterdir() if child.is_dir()]
    except OSError:
        return False
    names = {_folder_key(child.name) for child in children}
    if names & set(mapping):
        return True
    return any(child.name.lower() in SPLIT_FOLDERS and _looks_like_class_folder(child, mapping) for child in children)


def find_datasets(roots: list[Path], max_depth: int = 2) -> list[Path]:
    """Labelled data found under the roots: manifest CSVs (`*.csv` whose header has `file` and
    `label`) and folder-per-class layouts, at most `max_depth` folders deep; sorted, real paths. A
    folder-per-class layout is not searched further (its split or class folders are part of it), so a
    manifest inside one of its subfolders is not listed; one beside its class folders is."""
    mapping, found = label_mapping(), []

    def add(path: Path) -> None:
        real = Path(os.path.realpath(path))
        if real not in found and any(_inside(real, root) for root in roots):
            found.append(real)

    def is_manifest(file: Path) -> bool:
        try:
            with file.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
        except (OSError, UnicodeDecodeError):
            return False
        return {"file", "label"} <= set(header)

    def walk(folder: Path, depth: int) -> None:
        # A folder of class folders is one dataset: its `train/` split or a class folder below it is part of
        # it, and listed again it would index the same films twice (the second time with the split as source).
        whole = _looks_like_class_folder(folder, mapping)
        if whole:
            add(folder)
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_file() and entry.suffix.lower() == ".csv" and is_manifest(entry):
                add(entry)
            elif entry.is_dir() and depth < max_depth and not whole:
                walk(entry, depth + 1)

    for root in roots:
        if root.is_file():
            if is_manifest(root):
                add(root)
        elif root.is_dir():
            walk(root, 0)
    return sorted(found)


# How far below the deepest folder `find_datasets` looks a class folder's images usually lie: a class folder,
# a split folder above the classes, the class, and an `images` folder inside it (as the COVID-19 Radiography
# Database ships). A film added deeper inside a class folder is not seen by `datasets_version`.
LAYOUT_DEPTH = 3


def datasets_version(roots: list[Path], max_depth: int = 2) -> str:
    """One string that changes whenever the labelled data `find_datasets` and `read_dataset` would find
    under `roots` change, so a cache of what they read can be keyed by it.

    It holds the number of entries and the modification time of every folder down to `max_depth` +
    `LAYOUT_DEPTH` (a manifest or a film added, removed or renamed changes them) and the size and
    modification time of every CSV in them (a manifest edited in place). Cheap: no file is opened and only
    CSVs are stat'ed (4 ms for the 3,200 films of the shared data). Not seen: an image rewritten in place
    under its own name, or a film added to a class folder deeper than `LAYOUT_DEPTH` below it.
    """
    parts: list[str] = []

    def stamp(path: str, info: os.stat_result) -> None:
        parts.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")

    def scan(folder: str, depth: int) -> None:
        try:
            info = os.stat(folder)
            with os.scandir(folder) as entries:
                entries = sorted(entries, key=lambda entry: entry.name)
        except OSError:
            parts.append(f"{folder}:unreadable")
            return
        # The count too: a film added in the same clock tick as the folder's last change keeps its time.
        parts.append(f"{folder}:{len(entries)}:{info.st_mtime_ns}")
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.name.lower().endswith(".csv") and entry.is_file():
                stamp(entry.path, entry.stat())
            elif entry.is_dir() and depth < max_depth + LAYOUT_DEPTH:
                scan(entry.path, depth + 1)

    for root in roots:
        if root.is_dir():
            scan(str(root), 0)
        else:
            try:
                stamp(str(root), root.stat())
            except OSError:
                parts.append(f"{root}:missing")
    return "\n".join(parts)


def records_within(records: list[LabelledImage], roots: list[Path]) -> tuple[list[LabelledImage], int]:
    """The records whose image file really lies inside one of `roots` (a manifest may name any path,
    `..` or a symlink included), and how many were left out."""
    kept = []
    for record in records:
        real = Path(os.path.realpath(record.path))
        if any(_inside(real, Path(os.path.realpath(root))) for root in roots):
            kept.append(record)
    return kept, len(records) - len(kept)


def short_name(path: Path, roots: list[Path]) -> str:
    """A dataset path as "<root name>/<relative path>", for a select box (no server paths shown)."""
    for root in roots:
        base = root if root.is_dir() else root.parent
        if Path(path).is_relative_to(base):
            rel = Path(path).relative_to(base)
            return base.name if str(rel) == "." else f"{base.name}/{rel}"
    return Path(path).name
