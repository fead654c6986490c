"""What every page shares: the registry in force, cached models and maps, and a few small widgets.

Caching belongs here, in the UI layer (the `model` core never imports Streamlit):

* `st.cache_resource` holds loaded `Classifier`s, which carry their built (cloned) explainers, and the
  registry's `LungSegmenter`. The key is a `ModelKey`: model id, registry folder and the entry's file
  times, so a retrained entry reloads.
* `st.cache_data` holds decoded uploads, predictions, maps, lung masks and the trust checks of
  `model.trust`, keyed by the upload's SHA-256 digest, the `ModelKey`, method, class and layer. The
  pixels are passed as an underscore argument, which Streamlit does not hash: the digest stands for them.

Display-only controls (opacity, colour map, threshold) are never arguments of a cached function, so
moving them re-renders the overlay from the cached map and never recomputes it.

Uploaded files are never written to disk: their bytes go straight to `model.intake.load_xray`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from model.intake import DEFAULT_MAX_BYTES, Xray, XrayInputError, load_xray
from model.predict import DISCLAIMER
from model.registry import EntryStatus, ModelCard, RegistryError, entry_dir, list_cards, list_entries, \
    read_history, read_metrics, registry_root

# Page files, relative to dashboard/app.py (st.Page, st.page_link and AppTest.switch_page use these).
PAGES = {
    "diagnose": "views/diagnose.py",
    "performance": "views/performance.py",
    "compare": "views/compare.py",
    "gallery": "views/gallery.py",
    "about": "views/about.py",
}
EXPLANATIONS_FILE = "explanations.json"  # Written by `python -m training.explanation_report`.
LUNG_KIND = "lung_segmentation"
NO_LUNG_MODEL = "Lung attention unavailable: no lung segmentation model in the registry."
UPLOAD_LIMIT_MB = DEFAULT_MAX_BYTES // (1024 * 1024)
UPLOAD_HELP = (f"PNG, JPEG or DICOM (with or without the .dcm extension), up to {UPLOAD_LIMIT_MB} MB. The image is "
               "analysed in memory and "
               "never stored; remove names or other identifiers burnt into the image before uploading.")


class ModelKey(NamedTuple):
    """What a cached model result depends on: the entry and the version of its files."""

    model_id: str
    root: str
    stamp: str


# --------------------------------------------------------------------------- registry


def registry_folder() -> Path:
    """The registry in force (`CXR_REGISTRY` or the package's own), read on every run."""
    return registry_root()


def entries() -> list[EntryStatus]:
    return list_entries(registry_folder())


def usable_cards() -> list[ModelCard]:
    """Usable classifiers, default first."""
    return list_cards("classifier", registry_folder())


def model_key(model_id: str) -> ModelKey:
    """The cache key of an entry; changes when its model or card file is rewritten."""
    root = registry_folder()
    folder = entry_dir(model_id, root)
    times = []
    for name in ("model.keras", "card.json", "metrics.json", "history.csv", EXPLANATIONS_FILE):
        try:
            times.append(str(os.stat(folder / name).st_mtime_ns))
        except OSError:
            times.append("-")
    return ModelKey(model_id, str(root), "/".join(times))


def card_label(card: ModelCard) -> str:
    return f"{card.display_name} · v{card.version}"


# --------------------------------------------------------------------------- cached resources and data


def keep_tensorflow_caches_between_runs() -> None:
    """Stop Streamlit's end-of-run `keras.backend.clear_session()` from emptying TensorFlow's caches.

    After every script run Streamlit calls `keras.backend.clear_session()`
    (`streamlit/runtime/scriptrunner/script_runner.py`, `_clean_problem_modules`), which also clears
    TensorFlow's kernel cache. Every traced function of the cached models (forward pass, Grad-CAM
    step, lung U-Net) is then optimised and instantiated again on the next run (see the benchmark's
    row "prediction right after keras clear_session()": about 0.4 s for the forward pass alone on
    two cores), over a second per upload. This app builds no Keras models in its scripts (they
    are loaded once and cached), so calls coming from Streamlit's own modules are skipped; any
    other caller still gets the real `clear_session`. Idempotent.
    """
    import keras

    original = keras.backend.clear_session
    if getattr(original, "keeps_caches", False):
        return

    def clear_session(*args, **kwargs):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == "streamlit" or caller.startswith("streamlit."):
            return None
        return original(*args, **kwargs)

    clear_session.keeps_caches = True
    clear_session.__wrapped__ = original
    keras.backend.clear_session = clear_session


def warm_up_in_background(model) -> None:
    """Trace a freshly loaded model's functions (and build its Grad-CAM explainer) in a daemon
    thread, so the page renders at once and the first upload, usually seconds later, finds them
    ready instead of paying several seconds. A failure only costs that head start."""
    def run():
        try:
            model.warm_up()
        except Exception:  # noqa: BLE001 - a warm-up must never take the app down
            logging.getLogger(__name__).warning("warm-up of %s failed", type(model).__name__, exc_info=True)

    threading.Thread(target=run, name="cxr-warm-up", daemon=True).start()


@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def cached_classifier(key: ModelKey):
    from model.classifier import Classifier  # Imports TensorFlow: only when a model is really needed.

    keep_tensorflow_caches_between_runs()
    loaded = Classifier.load(key.model_id, Path(key.root))
    warm_up_in_background(loaded)
    return loaded


def classifier(key: ModelKey):
    """The loaded classifier, or None after showing one error when it cannot be loaded."""
    try:
        return cached_classifier(key)
    except (RegistryError, ValueError) as exc:
        st.error(str(exc))
        return None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=8, show_spinner=False)
def _decode(image_digest: str, _data: bytes) -> Xray:
    return load_xray(_data)


def read_upload(uploaded, prompt: str | None = None) -> tuple[str, Xray] | None:
    """Decode an uploaded file in memory; on a bad file show its one-sentence error and return None.

    With nothing uploaded yet, `prompt` (if given) is shown as an invitation to upload.
    """
    if uploaded is None:
        if prompt:
            st.info(prompt, icon=":material/upload_file:")
        return None
    data = uploaded.getvalue()
    image_digest = digest(data)
    try:
        return image_digest, _decode(image_digest, data)
    except XrayInputError as exc:
        st.error(str(exc), icon=":material/broken_image:")
        return None


@st.cache_data(max_entries=64, show_spinner=False)
def predict(image_digest: str, key: ModelKey, _pixels: np.ndarray):
    """`Prediction` of one image by one model."""
    return cached_classifier(key).predict_xray(_pixels)


@st.cache_data(max_entries=32, show_spinner=False)
def _explanation(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                 _pixels: np.ndarray):
    return cached_classifier(key).explain_xray(_pixels, method, target, layer)


def explanation(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                pixels: np.ndarray):
    """(`Explanation`, map on the original pixel grid); SmoothGrad ignores the layer, so it is not keyed by it."""
    return _explanation(image_digest, key, method, target, None if method == "smoothgrad" else layer, pixels)


@st.cache_data(max_entries=64, show_spinner=False)
def what_if(image_digest: str, key: ModelKey, box: tuple[float, float, float, float], fill: str,
            _pixels: np.ndarray):
    from model.occlusion import what_if as run_what_if

    return run_what_if(cached_classifier(key), _pixels, box, fill)


@st.cache_data(max_entries=16, show_spinner=False)
def occlusion_map(image_digest: str, key: ModelKey, class_index: int, _pixels: np.ndarray):
    """(map at model-input resolution, map on the original pixel grid) of occlusion sensitivity."""
    from model.occlusion import occlusion_sensitivity

    clf = cached_classifier(key)
    heat = occlusion_sensitivity(clf, clf.prepare(_pixels), class_index)
    return heat, clf.to_image(heat, _pixels)


@st.cache_data(max_entries=32, show_spinner=False)
def history(key: ModelKey) -> pd.DataFrame:
    return read_history(key.model_id, Path(key.root))


@st.cache_data(max_entries=32, show_spinner=False)
def metrics(key: ModelKey) -> dict:
    return read_metrics(key.model_id, Path(key.root))


def _or_empty(read, key: ModelKey, empty):
    """A registry file through its cached reader; a damaged file becomes a warning and `empty`."""
    try:
        return read(key)
    except RegistryError as exc:
        st.warning(str(exc))
        return empty


def history_or_empty(key: ModelKey) -> pd.DataFrame:
    return _or_empty(history, key, pd.DataFrame())


def metrics_or_empty(key: ModelKey) -> dict:
    return _or_empty(metrics, key, {})


# --------------------------------------------------------------------------- trust: lungs, checks, reports


def lung_key(preferred: str = "") -> ModelKey | None:
    """The cache key of the registry's lung segmenter, or None when the registry holds none.

    A lung-cropped classifier names its segmenter (`preferred`); otherwise the first usable entry is
    taken, as `LungSegmenter.load()` does.
    """
    cards = list_cards(LUNG_KIND, registry_folder())
    if not cards:
        return None
    ids = [card.id for card in cards]
    return model_key(preferred if preferred in ids else ids[0])


@st.cache_resource(max_entries=2, show_spinner="Loading the lung segmentation model…")
def cached_lung_segmenter(key: ModelKey):
    from model.preprocessing import shared_segmenter

    keep_tensorflow_caches_between_runs()
    # The same copy the lung crop of a classifier's preprocessing uses: one load, one trace.
    loaded = shared_segmenter(key.model_id, Path(key.root))
    warm_up_in_background(loaded)
    return loaded


def lung_status(preferred: str = "") -> tuple[ModelKey | None, str]:
    """(key of a loadable lung segmenter, "") or (None, one sentence saying why lung attention is unavailable)."""
    key = lung_key(preferred)
    if key is None:
        return None, NO_LUNG_MODEL
    try:
        cached_lung_segmenter(key)
    except (RegistryError, ValueError) as exc:
        return None, f"Lung attention unavailable: {exc}"
    return key, ""


@st.cache_data(max_entries=16, show_spinner=False)
def lung_mask(image_digest: str, lungs: ModelKey, _pixels: np.ndarray) -> np.ndarray:
    """Boolean lung mask on the original pixel grid."""
    return cached_lung_segmenter(lungs).mask(_pixels)


@st.cache_data(max_entries=32, show_spinner=False)
def input_warnings(image_digest: str, lungs: ModelKey | None, _pixels: np.ndarray, _metadata: dict) -> list[str]:
    """`model.trust.input_check` warnings, with the lung mask when a segmenter exists and the intake's metadata
    (DICOM codes, colourfulness)."""
    from model.trust import input_check

    mask = lung_mask(image_digest, lungs, _pixels) if lungs is not None else None
    return list(input_check(_pixels, dict(_metadata or {}), mask).warnings)


@st.cache_data(max_entries=64, show_spinner=False)
def uncertainty(image_digest: str, key: ModelKey, _pixels: np.ndarray) -> dict:
    """`model.trust.tta_uncertainty` of one image by one model (8 predictions in one batch)."""
    from model.trust import tta_uncertainty

    return tta_uncertainty(cached_classifier(key), _pixels)


@st.cache_data(max_entries=32, show_spinner=False)
def _faithfulness(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                  _pixels: np.ndarray) -> dict:
    from model.trust import faithfulness as measure

    explained, _ = explanation(image_digest, key, method, target, layer, _pixels)
    clf = cached_classifier(key)
    return measure(clf, clf.prepare(_pixels), explained.heatmap, explained.class_index)


def faithfulness(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                 pixels: np.ndarray) -> dict:
    """Deletion/insertion of the map at model-input resolution against random pixel orders."""
    return _faithfulness(image_digest, key, method, target, None if method == "smoothgrad" else layer, pixels)


def lung_attention(on_image: np.ndarray, mask: np.ndarray) -> dict:
    """Share of a map on the original grid that lies inside the lung mask (`model.trust.lung_attention`)."""
    from model.trust import lung_attention as measure

    return measure(on_image, mask)


def outline_lungs(overlay: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of an RGB overlay with the lung fields' outline drawn on it (display only)."""
    import cv2

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


@st.cache_data(max_entries=32, show_spinner=False)
def explanation_report(key: ModelKey) -> dict:
    """The entry's explanations.json (`training.explanation_report`); {} when it was never generated."""
    return read_metrics(key.model_id, Path(key.root), name=EXPLANATIONS_FILE)


def explanation_report_or_empty(key: ModelKey) -> dict:
    return _or_empty(explanation_report, key, {})


def explanation_report_command(model_id: str) -> str:
    return f"python -m training.explanation_report --model {model_id} --data ../shared/data/cxr"


def trust_notes(warnings=(), tta: dict | None = None, attention: dict | None = None, lungs_reason: str = "",
                faith: dict | None = None, agreement: dict | None = None, method_label: str = "map") -> list[str]:
    """The trust findings as plain sentences for the PNG/PDF report's notes."""
    notes = [f"Input check: {warning}" for warning in warnings]
    if tta:
        spread = tta["std"][tta["top_label"]]
        line = (f"Test-time augmentation ({tta['n']} slightly shifted, rotated or re-exposed copies): "
                f"{tta['top_label']} {tta['top_probability']:.1%} ± {spread:.1%}; "
                f"{tta['agreement']:.0%} of the copies give that class.")
        notes.append(f"{line} {tta['message']}" if tta.get("uncertain") else line)
    if attention:
        line = f"{attention['fraction']:.0%} of the {method_label} map lies inside the lung fields."
        notes.append(f"{line} {attention['warning']}" if attention.get("low") else line)
    elif lungs_reason:
        notes.append(lungs_reason)
    if faith:
        notes.append(f"Faithfulness: {faith['summary']}")
    if agreement:
        notes.append(f"Agreement between methods (mean Spearman of the maps): {agreement['mean']:+.2f}.")
    return notes


def preprocessing_summary(card: ModelCard) -> str:
    """One line on how a card's images are prepared: what a reader asks when versions differ."""
    prep = card.prep
    parts = [f"{prep.image_size} px", prep.resize]
    if prep.lung_crop:
        parts.append(f"cropped to the lung fields ({prep.lung_model}, margin {prep.lung_margin:.0%})")
    elif prep.border_crop:
        parts.append(f"{prep.border_crop:.0%} border crop")
    if prep.equalize != "none":
        parts.append(prep.equalize.upper())
    return ", ".join(parts)


# --------------------------------------------------------------------------- small widgets


def disclaimer() -> None:
    st.caption(f":material/info: **{DISCLAIMER}** It is not a medical device; a qualified reader "
               "interprets every image.")


def broken_entries() -> None:
    """Registry entries that cannot be used, each with its reason, out of the way in an expander."""
    broken = [status for status in entries() if status.error]
    if broken:
        with st.expander(f"{len(broken)} registry entr{'y' if len(broken) == 1 else 'ies'} could not be used"):
            for status in broken:
                st.markdown(f"**{status.id}**: {status.error}")


def require_models() -> list[ModelCard]:
    """The usable classifiers; without any, a clear message and the page stops."""
    cards = usable_cards()
    if not cards:
        st.warning(f"No usable classifier in the model registry at `{registry_folder()}`. Train one with "
                   "`python -m training.train ...`, copy an entry folder into the registry, or point the "
                   "environment variable `CXR_REGISTRY` at another registry; the About page explains how.",
                   icon=":material/warning:")
        broken_entries()
        st.page_link(PAGES["about"], label="How to add a model", icon=":material/help:")
        st.stop()
    return cards


def model_picker(cards: list[ModelCard], *, key: str, label: str = "Model") -> ModelCard:
    """A model selectbox; the choice follows the user from page to page."""
    ids = [card.id for card in cards]
    preferred = st.session_state.get("selected_model")
    by_id = {card.id: card for card in cards}
    choice = st.selectbox(label, ids, index=ids.index(preferred) if preferred in ids else 0, key=key,
                          format_func=lambda model_id: card_label(by_id[model_id]))
    st.session_state["selected_model"] = choice
    return by_id[choice]


def uploader(key: str, label: str = "Chest radiograph"):
    """The upload widget. It accepts any file type: DICOM exports often have no extension ("IM000001"), and
    `model.intake` recognises the format from the content and refuses anything else with one sentence."""
    return st.file_uploader(label, type=None, key=key, help=UPLOAD_HELP, max_upload_size=UPLOAD_LIMIT_MB)


def percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
