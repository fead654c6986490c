"""Caching for the pages: the registry in force, loaded models and every computed result.

Caching belongs here, in the UI layer (the `model` core never imports Streamlit and keeps nothing
between calls):

* `st.cache_resource` holds loaded `Classifier`s (with their built, cloned explainers and their own
  lung model) and the registry's `LungSegmenter`. The key is a `ModelKey`: model id, registry folder
  and the entry's file times, so a retrained entry reloads.
* `st.cache_data` holds decoded uploads, lung masks, model inputs (with the lung region found once
  per image), predictions, maps and trust checks, keyed by the upload's SHA-256 digest, the
  `ModelKey`, method, class and layer. Pixels are passed as an underscore argument, which Streamlit
  does not hash: the digest stands for them.

Display-only controls (opacity, colour map, threshold) are never arguments of a cached function, so
moving them re-renders the overlay from the cached map and never recomputes it.

Uploaded files are never written to disk: their bytes go straight to `model.inputs.intake.load_xray`.
"""
from __future__ import annotations

import hashlib
import logging
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from model.explain import method as find_method
from model.inputs.intake import Xray, load_xray
from model.present.text import NO_LUNG_MODEL
from model.registry import (
    CLASSIFIER,
    EXPLANATIONS_FILE,
    LUNG_SEGMENTATION,
    EntryStatus,
    ModelCard,
    RegistryError,
    entry_version,
    list_cards,
    list_entries,
    read_history,
    read_metrics,
    read_report,
    registry_root,
)
from model.trust.explanations import ExplanationReport


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
    return list_cards(CLASSIFIER, registry_folder())


def model_key(model_id: str) -> ModelKey:
    """The cache key of an entry; changes when any of its files is rewritten."""
    root = registry_folder()
    return ModelKey(model_id, str(root), entry_version(model_id, root))


# --------------------------------------------------------------------------- loaded models


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
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()  # TensorFlow's start-up notices on the server console are not for users.
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
        except Exception:  # a warm-up must never take the app down
            logging.getLogger(__name__).warning("warm-up of %s failed", type(model).__name__, exc_info=True)

    threading.Thread(target=run, name="cxr-warm-up", daemon=True).start()


def load_warm(kind, key: ModelKey):
    """`kind.load` of the entry a key names (a `Classifier` or `LungSegmenter`), warmed up in the
    background; the callers below cache it."""
    keep_tensorflow_caches_between_runs()
    loaded = kind.load(key.model_id, Path(key.root))
    warm_up_in_background(loaded)
    return loaded


@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def cached_classifier(key: ModelKey):
    from model.classifier import Classifier  # Imports TensorFlow: only when a model is really needed.
    from model.registry import read_card

    keep_tensorflow_caches_between_runs()
    segmenter = None
    prep = read_card(key.model_id, Path(key.root)).prep
    if prep.lung_crop:  # one U-Net for the classifier's crop and the pages' lung masks (it loaded a second)
        lungs = lung_key(prep.lung_model)
        if lungs is not None and lungs.model_id == prep.lung_model and lungs.root == key.root:
            segmenter = cached_lung_segmenter(lungs)
    loaded = Classifier.load(key.model_id, Path(key.root), segmenter=segmenter)
    warm_up_in_background(loaded)
    return loaded


def classifier(key: ModelKey):
    """The loaded classifier, or None after showing one error when it cannot be loaded."""
    try:
        return cached_classifier(key)
    except (RegistryError, ValueError) as exc:
        st.error(str(exc))
        return None


@st.cache_resource(show_spinner=False)
def load_in_background(key: ModelKey) -> threading.Thread:
    """Load a classifier and its lung model into the caches above in a daemon thread, once per entry
    version, and return at once: the Diagnose page draws its uploader and prompt immediately and the
    models load while the reader picks a film. A page that needs the model meanwhile waits for the
    same load (Streamlit computes one cache entry once); a failure is left for that page to report."""
    def run():
        try:
            _models_loaded(key)
        except Exception:  # the page's own call shows the error to the reader
            logging.getLogger(__name__).info("background load of %s failed", key.model_id, exc_info=True)

    thread = threading.Thread(target=run, name=f"cxr-load-{key.model_id}", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def _models_loaded(key: ModelKey) -> bool:
    """Fill the model caches for `key`. Calls made inside a cached function draw no spinner, which a
    thread without a page could not draw (Streamlit would log "missing ScriptRunContext")."""
    clf = cached_classifier(key)
    lungs = lung_key(clf.card.prep.lung_model)
    if lungs is not None:
        cached_lung_segmenter(lungs)
    return True


def lung_key(preferred: str = "") -> ModelKey | None:
    """The cache key of the registry's lung segmenter, or None when the registry holds none.

    A lung-cropped classifier names its segmenter (`preferred`); otherwise the first usable entry is
    taken, as `LungSegmenter.load()` does.
    """
    cards = list_cards(LUNG_SEGMENTATION, registry_folder())
    if not cards:
        return None
    ids = [card.id for card in cards]
    return model_key(preferred if preferred in ids else ids[0])


@st.cache_resource(max_entries=2, show_spinner="Loading the lung segmentation model…")
def cached_lung_segmenter(key: ModelKey):
    from model.inputs.lungs import LungSegmenter

    return load_warm(LungSegmenter, key)


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


# --------------------------------------------------------------------------- one image


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=8, show_spinner=False)
def decode(image_digest: str, _data: bytes) -> Xray:
    return load_xray(_data)


@st.cache_data(max_entries=16, show_spinner=False)
def lung_mask(image_digest: str, lungs: ModelKey, _pixels: np.ndarray) -> np.ndarray:
    """Boolean lung mask on the original pixel grid (one segmentation per image and lung model)."""
    return cached_lung_segmenter(lungs).mask(_pixels)


@st.cache_data(max_entries=32, show_spinner=False)
def model_input(image_digest: str, key: ModelKey, _pixels: np.ndarray):
    """The model's `ModelInput` for one image; a lung-cropped model's region comes from the cached
    mask of its own lung model (same registry), so the image is segmented once for everything."""
    clf = cached_classifier(key)
    mask = None
    if clf.card.prep.lung_crop:
        lungs = lung_key(clf.card.prep.lung_model)
        if lungs is not None and lungs.model_id == clf.card.prep.lung_model:
            mask = lung_mask(image_digest, lungs, _pixels)
    return clf.prepare(_pixels, mask)


@st.cache_data(max_entries=32, show_spinner=False)
def _explanation(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                 _pixels: np.ndarray):
    _, explained, on_image = cached_classifier(key).analyse(model_input(image_digest, key, _pixels), method,
                                                            target, layer, predict=False)
    return explained, on_image


def explanation(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                pixels: np.ndarray):
    """(`Explanation`, map on the original pixel grid); methods without a layer are not keyed by it."""
    return _explanation(image_digest, key, method, target, layer if find_method(method).uses_layer else None, pixels)


@st.cache_data(max_entries=64, show_spinner=False)
def uncertainty(image_digest: str, key: ModelKey, _pixels: np.ndarray):
    """`model.trust.uncertainty.tta_uncertainty` of one image by one model (8 predictions in one batch)."""
    from model.trust.triage import answer_levels
    from model.trust.uncertainty import tta_uncertainty

    return tta_uncertainty(cached_classifier(key), model_input(image_digest, key, _pixels),
                           **answer_levels(scope(key)))


@st.cache_data(max_entries=32, show_spinner=False)
def _faithfulness(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                  _pixels: np.ndarray):
    from model.trust.faithfulness import faithfulness as measure

    explained, _ = explanation(image_digest, key, method, target, layer, _pixels)
    clf = cached_classifier(key)
    return measure(clf, model_input(image_digest, key, _pixels).array, explained.heatmap, explained.class_index,
                   grid=clf.map_grid(explained))


def faithfulness(image_digest: str, key: ModelKey, method: str, target: str, layer: str | None,
                 pixels: np.ndarray):
    """Deletion/insertion of the map at model-input resolution against random maps of its own grain."""
    return _faithfulness(image_digest, key, method, target, layer if find_method(method).uses_layer else None,
                         pixels)


# --------------------------------------------------------------------------- registry files


@st.cache_data(max_entries=32, show_spinner=False)
def history(key: ModelKey) -> pd.DataFrame:
    return read_history(key.model_id, Path(key.root))


@st.cache_data(max_entries=32, show_spinner=False)
def metrics(key: ModelKey) -> dict:
    return read_metrics(key.model_id, Path(key.root))


@st.cache_data(max_entries=32, show_spinner=False)
def explanation_report(key: ModelKey) -> dict:
    """The entry's explanations.json (`training.explanation_report`); {} when it was never generated."""
    return read_report(key.model_id, EXPLANATIONS_FILE, Path(key.root))


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


def explanation_report_or_none(key: ModelKey) -> ExplanationReport | None:
    """The entry's explanation report as typed data, or None when there is none (or it is damaged)."""
    values = _or_empty(explanation_report, key, {})
    return ExplanationReport.from_dict(values) if values else None


# --------------------------------------------------------------------------- triage and the film grid


@st.cache_data(max_entries=32, show_spinner=False)
def scope(key: ModelKey):
    """The entry's scope check (`scope.json`, `training.fit_scope`), or None when it has none or it is damaged."""
    from model.trust.scope import read_scope

    try:
        return read_scope(key.model_id, Path(key.root))
    except (RegistryError, ValueError, KeyError):
        return None


def own_levels(key: ModelKey) -> bool:
    """Whether the answer and warning levels are the model's own (it has a scope check), not the policy's."""
    return scope(key) is not None


def answer_level(key: ModelKey) -> float:
    """The model's own answer level (the top probability it needs to answer alone), else the policy's."""
    from model.policy import MIN_TOP_PROBABILITY

    return _scope_value(key, "min_top_probability", MIN_TOP_PROBABILITY)


def lung_attention_threshold(key: ModelKey) -> float:
    """The model's own lung-attention threshold (its scope check), else the policy default."""
    from model.policy import LOW_LUNG_ATTENTION

    return _scope_value(key, "lung_attention_threshold", LOW_LUNG_ATTENTION)


def _scope_value(key: ModelKey, name: str, default: float) -> float:
    """One threshold of the model's scope check, or `default` when the model has none."""
    check = scope(key)
    return getattr(check, name) if check else default


@st.cache_data(max_entries=64, show_spinner=False)
def triage(image_digest: str, key: ModelKey, lungs: ModelKey | None, _pixels: np.ndarray, _metadata: dict,
           stated=None):
    """`model.trust.triage.Triage` of one image by one model, as `film_triage` makes it (the input check with
    what the reader stated, the anatomy check when the model has a scope check and a lung model, the answer's
    own figures), from the cached lung mask, test-time copies and scope check. The input and anatomy checks take
    milliseconds: they are cached only inside this result."""
    from model.trust.triage import film_triage

    mask = lung_mask(image_digest, lungs, _pixels) if lungs is not None else None
    return film_triage(Xray(_pixels, dict(_metadata or {})), mask, uncertainty(image_digest, key, _pixels),
                       scope(key), stated)[2]


@st.cache_data(max_entries=64, show_spinner=False)
def hidden_cells(image_digest: str, key: ModelKey, cells: tuple, grid: int, fill: str, _pixels: np.ndarray):
    """`HiddenCells`: the model's output with several film-grid cells hidden at once (one pass)."""
    from model.explain.film_grid import hide_cells

    clf = cached_classifier(key)
    return hide_cells(clf.predict_inputs, model_input(image_digest, key, _pixels), clf.card.prep, cells, grid, fill)


@st.cache_data(max_entries=16, show_spinner=False)
def grid_effects(image_digest: str, key: ModelKey, grid: int, class_index: int, fill: str, _pixels: np.ndarray):
    """`GridEffects`: the probability of one class with each film-grid cell hidden (one batch)."""
    from model.explain.film_grid import grid_effects as run

    clf = cached_classifier(key)
    return run(clf.predict_inputs, model_input(image_digest, key, _pixels), clf.card.prep, grid, class_index, fill)


def scoring(classifiers, batch_size: int = 16):
    """`model.evaluation.Scoring` for Evaluate and Compare: each version's triage of every film with the lung model
    and scope check Diagnose gives it (`lung_status` of the card's lung model, `scope`), so a film Diagnose holds
    back as out of scope is named as such there too."""
    from model.evaluation import Scoring

    lungs, scopes = {}, {}
    for clf in classifiers:
        key = model_key(clf.card.id)
        lung = lung_status(clf.card.prep.lung_model)[0]
        lungs[clf.card.id] = None if lung is None else cached_lung_segmenter(lung)
        scopes[clf.card.id] = scope(key)
    return Scoring(batch_size, True, lungs, scopes)
