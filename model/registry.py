"""The model registry: one folder per trained model, described by data.

An entry `<root>/<model_id>/` holds `model.keras` (Keras 3 format), `card.json` (a `ModelCard`),
`history.csv` (one row per epoch), `metrics.json` (internal test-split report) and, once made,
`explanations.json` (`training.explanation_report`) and `scope.json` (`training.fit_scope`). The
root is `model/versions/` unless the environment variable `CXR_REGISTRY` names another folder.

This module owns that vocabulary: the file names, the entry kinds and every write into an entry.
Other modules name a file by its constant here and write through `save_entry`, `write_card` or
`write_report` (`tests/test_architecture.py` keeps it so).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from model.calibration import check_temperature
from model.inputs.preprocessing import Preprocessing

if TYPE_CHECKING:  # pandas is imported when a history is read: the CLI refuses bad files before paying for it.
    import pandas as pd

PACKAGE_REGISTRY = Path(__file__).resolve().parent / "versions"

# The files of an entry.
MODEL_FILE = "model.keras"
CARD_FILE = "card.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
EXPLANATIONS_FILE = "explanations.json"  # Written by `python -m training.explanation_report`.
SCOPE_FILE = "scope.json"  # Written by `python -m training.fit_scope`.
REPORT_FILES = (METRICS_FILE, EXPLANATIONS_FILE, SCOPE_FILE)  # The JSON reports `read_report` and `write_report` know.
ENTRY_FILES = (MODEL_FILE, CARD_FILE, HISTORY_FILE, *REPORT_FILES)

# The kinds of entry.
CLASSIFIER = "classifier"
LUNG_SEGMENTATION = "lung_segmentation"
ENTRY_KINDS = (CLASSIFIER, LUNG_SEGMENTATION)
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RegistryError(Exception):
    """A registry entry is missing, malformed or cannot be loaded; the message is for a person."""


@dataclass
class ModelCard:
    """What a caller needs to use a model without hard-coding anything about it.

    Attributes:
        id: folder name in the registry.
        display_name: human name shown in the dashboard.
        version: version string of this model line (e.g. "1.0").
        created: ISO-8601 creation time.
        architecture: builder name from `training.architectures`.
        labels: class labels in model output order.
        preprocessing: `model.inputs.preprocessing.Preprocessing` as a dict.
        explain_layer: the convolutional layer explained by default.
        training: data provenance: sources, counts, split, seed, wall time, epochs.
        metrics: headline figures on the internal test split (accuracy, macro AUC, ...).
        default: whether this is the registry's default entry.
        kind: one of `ENTRY_KINDS`: `CLASSIFIER` or `LUNG_SEGMENTATION`.
        notes: free text: what was done against shortcuts, known limitations.
        scope: who the model is for and how out-of-scope films are caught: intended population,
            the novelty check's thresholds and validation figures (`python -m training.fit_scope`).
        calibration: the temperature its probabilities are divided by (`model.calibration`), with
            where it was fitted and the calibration error before and after; empty: uncalibrated (T = 1).
    """

    id: str
    display_name: str
    version: str
    created: str
    architecture: str
    labels: list[str]
    preprocessing: dict
    explain_layer: str
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    default: bool = False
    kind: str = CLASSIFIER
    notes: str = ""
    scope: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)

    def __post_init__(self):
        self.preprocessing = Preprocessing.from_dict(self.preprocessing).to_dict()
        validate_model_id(self.id)
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be a non-empty list of distinct class names")
        if self.kind not in ENTRY_KINDS:
            raise ValueError(f"kind must be one of {ENTRY_KINDS}, got {self.kind!r}")
        for name in ("display_name", "version", "architecture", "explain_layer"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        if self.calibration:
            check_temperature(self.calibration.get("temperature"))

    @property
    def temperature(self) -> float:
        """The calibration temperature applied to every probability of this model (1: none)."""
        return float(self.calibration.get("temperature", 1.0)) if self.calibration else 1.0

    @property
    def prep(self) -> Preprocessing:
        return Preprocessing.from_dict(self.preprocessing)

    @property
    def input_size(self) -> int:
        return self.prep.image_size

    @classmethod
    def from_dict(cls, values: dict) -> "ModelCard":
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown card fields: {sorted(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EntryStatus:
    """One folder of the registry as listed: its card, or why it cannot be used."""

    id: str
    card: ModelCard | None
    error: str | None


def registry_root() -> Path:
    """The registry folder in force: `CXR_REGISTRY` if set, else the package's own."""
    return Path(os.environ.get("CXR_REGISTRY") or PACKAGE_REGISTRY)


def validate_model_id(model_id: str) -> str:
    """Refuse ids that could leave the registry folder (separators, '..') or are empty."""
    if not isinstance(model_id, str) or not _ID_PATTERN.match(model_id) or ".." in model_id:
        raise RegistryError(f"{model_id!r} is not a valid model id: use letters, digits, '.', '_' or '-' only.")
    return model_id


def entry_dir(model_id: str, root: Path | None = None) -> Path:
    return (root or registry_root()) / validate_model_id(model_id)


def model_file(model_id: str, root: Path | None = None) -> Path:
    """Where an entry's `model.keras` is (whether or not it exists yet)."""
    return entry_dir(model_id, root) / MODEL_FILE


def entry_version(model_id: str, root: Path | None = None) -> str:
    """The modification times of the entry's files in one string: it changes whenever any of them is
    rewritten (a retrained model, a refitted scope check), so callers can key caches by it."""
    folder = entry_dir(model_id, root)
    times = []
    for name in ENTRY_FILES:
        try:
            times.append(str(os.stat(folder / name).st_mtime_ns))
        except OSError:
            times.append("-")
    return "/".join(times)


def read_card(model_id: str, root: Path | None = None) -> ModelCard:
    """Read and validate `card.json` of one entry."""
    path = entry_dir(model_id, root) / CARD_FILE
    if not path.is_file():
        raise RegistryError(f"Model {model_id!r} is not in the registry (no {CARD_FILE}).")
    try:
        card = ModelCard.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, RegistryError) as exc:
        raise RegistryError(f"The card of model {model_id!r} is invalid: {exc}.") from None
    if card.id != model_id:
        raise RegistryError(f"The card of model {model_id!r} names another id ({card.id!r}).")
    return card


def list_entries(root: Path | None = None) -> list[EntryStatus]:
    """Every folder of the registry, sorted by id, each with its card or the reason it is unusable."""
    root = root or registry_root()
    if not root.is_dir():
        return []
    statuses = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        try:
            card = read_card(folder.name, root)
            if not (folder / MODEL_FILE).is_file():
                raise RegistryError(f"Model {folder.name!r} has no {MODEL_FILE} file.")
            statuses.append(EntryStatus(folder.name, card, None))
        except RegistryError as exc:
            statuses.append(EntryStatus(folder.name, None, str(exc)))
    return statuses


def require_classifier(card: ModelCard, root: Path | None = None) -> ModelCard:
    """`card` if it is a classifier; else RegistryError with one sentence naming the classifiers to choose."""
    if card.kind != CLASSIFIER:
        names = ", ".join(c.id for c in list_cards(CLASSIFIER, root)) or "none in this registry"
        raise RegistryError(f"{card.id} is a lung-segmentation model, not a classifier; choose one of: {names}.")
    return card


def list_cards(kind: str = CLASSIFIER, root: Path | None = None) -> list[ModelCard]:
    """The usable entries of one kind, default first."""
    cards = [s.card for s in list_entries(root) if s.card is not None and s.card.kind == kind]
    return sorted(cards, key=lambda c: (not c.default, c.id))


def default_model_id(root: Path | None = None) -> str:
    """The classifier marked default, else the first usable classifier."""
    cards = list_cards(CLASSIFIER, root)
    if not cards:
        raise RegistryError(f"No usable classifier in the model registry at {root or registry_root()}.")
    return cards[0].id


def read_history(model_id: str, root: Path | None = None) -> pd.DataFrame:
    """Per-epoch training history (`epoch`, `loss`, `val_loss`, ...); empty if none was saved."""
    import pandas as pd

    path = entry_dir(model_id, root) / HISTORY_FILE
    if not path.is_file():
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise RegistryError(f"The training history of model {model_id!r} cannot be read: {exc}.") from None


def read_metrics(model_id: str, root: Path | None = None) -> dict:
    """The entry's internal test-split report (`metrics.json`); empty dict if absent."""
    return read_report(model_id, METRICS_FILE, root)


def read_report(model_id: str, name: str, root: Path | None = None) -> dict:
    """One of the entry's JSON reports (`REPORT_FILES`); empty dict if absent."""
    path = entry_dir(model_id, root) / _report_name(name)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise RegistryError(f"The file {name} of model {model_id!r} is not valid JSON.") from None


def _report_name(name: str) -> str:
    if name not in REPORT_FILES:
        raise ValueError(f"{name!r} is not a report of a registry entry; known: {', '.join(REPORT_FILES)}")
    return name


def load_model(model_id: str, root: Path | None = None):
    """Load `model.keras` with `safe_mode=True` (no arbitrary code from the file is run).

    A model with a Lambda layer (Python code stored in the file) is refused before Keras reads it.
    """
    import keras  # Lazy: listing the registry must not pay for importing TensorFlow.

    path = model_file(model_id, root)
    if not path.is_file():
        raise RegistryError(f"Model {model_id!r} has no {MODEL_FILE} file.")
    if _has_lambda_layer(path):
        raise RegistryError(_lambda_message(model_id))
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a damaged archive.
        if "lambda" in str(exc).lower() and "safe_mode" in str(exc):  # Code hidden where the scan did not look.
            raise RegistryError(_lambda_message(model_id)) from None
        raise RegistryError(f"Model {model_id!r} could not be loaded: the {MODEL_FILE} file is damaged "
                            f"or was saved by an incompatible Keras ({type(exc).__name__}).") from None


def _lambda_message(model_id: str) -> str:
    return (f"Model {model_id!r} was refused: it contains a Lambda layer, whose Python code could run anything, "
            "so it is never loaded from a file; rebuild the model without Lambda layers.")


def _has_lambda_layer(path: Path) -> bool:
    """Whether the architecture in a .keras archive's config.json names a Lambda layer anywhere.

    A file that cannot be read this way is left to Keras, whose error says it is damaged.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError):
        return False
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") == "Lambda":
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def save_entry(model, card: ModelCard, *, history: pd.DataFrame | None = None, metrics: dict | None = None,
               root: Path | None = None, reports: dict[str, dict] | None = None) -> Path:
    """Write a complete entry; marking it default unmarks every other entry's card.

    Args:
        model: the Keras model (None keeps the entry's `model.keras` as it is).
        card: the entry's card; its id names the folder.
        history: per-epoch training history, if any.
        metrics: the internal test-split report, if any.
        root: the registry folder (default: the one in force).
        reports: further JSON reports by file name (`EXPLANATIONS_FILE`, `SCOPE_FILE`).
    """
    folder = entry_dir(card.id, root)
    folder.mkdir(parents=True, exist_ok=True)
    if model is not None:
        model.save(folder / MODEL_FILE)
    _write_json(folder / CARD_FILE, card.to_dict())
    if history is not None:
        history.to_csv(folder / HISTORY_FILE, index=False)
    if metrics is not None:
        write_report(card.id, METRICS_FILE, metrics, root)
    for name, payload in (reports or {}).items():
        write_report(card.id, name, payload, root)
    if card.default:
        set_default(card.id, root)
    return folder


def write_card(card: ModelCard, root: Path | None = None) -> Path:
    """Rewrite the card of an existing entry (atomically); the card is validated as it was built."""
    folder = entry_dir(card.id, root)
    if not folder.is_dir():
        raise RegistryError(f"Model {card.id!r} is not in the registry at {root or registry_root()}.")
    path = folder / CARD_FILE
    _write_json(path, card.to_dict())
    return path


def write_report(model_id: str, name: str, payload: dict, root: Path | None = None) -> Path:
    """Write one of the entry's JSON reports (`REPORT_FILES`) atomically; returns its path."""
    folder = entry_dir(model_id, root)
    if not folder.is_dir():
        raise RegistryError(f"Model {model_id!r} is not in the registry at {root or registry_root()}.")
    path = folder / _report_name(name)
    _write_json(path, payload)
    return path


def set_default(model_id: str, root: Path | None = None) -> None:
    """Make `model_id` the only entry whose card says `default: true`."""
    for status in list_entries(root):
        if status.card is not None and status.card.kind == CLASSIFIER:
            status.card.default = status.id == model_id
            write_card(status.card, root)


def remove_entry(model_id: str, root: Path | None = None) -> None:
    shutil.rmtree(entry_dir(model_id, root), ignore_errors=True)


def _write_json(path: Path, payload: dict) -> None:
    """Write through a temporary file and a rename, so a reader never sees half a file."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
