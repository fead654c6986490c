"""Registry entries and a labelled pool whose ground truth is known, for the gallery's tests.

* `write_shortcut_entry`: a classifier with set weights (no training) that reads two things only:
  very bright pixels for COVID-19 and the dark surround outside the body for Normal. On a film with
  a bright marker bar in the corner it answers COVID-19 confidently and its Grad-CAM map lies on the
  marker, outside the lungs: the shortcut the "where the model cheats" view must find. On a film
  with a bright lesion inside a lung it answers COVID-19 as confidently, its map on the lesion.
* `write_fixed_lungs_entry`: a lung "segmenter" whose output ignores the film and is always the two
  lung fields of `tests.support.synthetic_radiograph`, so every share of a map on the lungs is exact.
* `write_shortcut_pool`: films of two sources: "alpha" carries markers, "beta" lesions, both with
  plain films and films labelled against what the model reads (its confident errors), and two
  films of a label outside the model's classes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support import LABELS, png_bytes, synthetic_radiograph

SHORTCUT_ID = "shortcut-model"
LUNGS_ID = "fixed-lungs"
SIZE = 64  # the films' and the classifier's side
LUNG_SIZE = 32
LESION = (0.5, 0.32)  # (row, col) fractions: inside the left lung field of `synthetic_radiograph`


def lung_fields(size: int) -> np.ndarray:
    """The two lung fields of `synthetic_radiograph` on a size x size grid."""
    from tests.test_trust import lung_mask

    return lung_mask(size)


def write_fixed_lungs_entry(root: Path) -> None:
    """A lung segmentation entry whose mask is always the synthetic lung fields (a constant output)."""
    import keras

    from model.registry import ModelCard, save_entry

    size = LUNG_SIZE
    inputs = keras.Input((size, size, 1))
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(size * size, activation="sigmoid", name="fields")
    outputs = keras.layers.Reshape((size, size, 1))(dense(flat))
    model = keras.Model(inputs, outputs)
    dense.set_weights([np.zeros((size * size, size * size), np.float32),
                       np.where(lung_fields(size).ravel(), 20.0, -20.0).astype(np.float32)])
    card = ModelCard(id=LUNGS_ID, display_name="Fixed lung fields", version="0.1",
                     created="2026-01-01T00:00:00+00:00", architecture="constant", labels=["lung"],
                     preprocessing={"image_size": size, "channels": 1, "equalize": "none"},
                     explain_layer="fields", kind="lung_segmentation")
    save_entry(model, card, root=root)


def shortcut_classifier():
    """(Keras model, explained layer): bright pixels (over 0.85) raise COVID-19, the dark surround
    (under 0.2) raises Normal; Pneumonia stays unlikely."""
    import keras

    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="evidence")
    pooled = keras.layers.GlobalAveragePooling2D(name="mean")(conv(inputs))
    dense = keras.layers.Dense(3, activation="softmax", name="probabilities")
    model = keras.Model(inputs, dense(pooled))
    conv.set_weights([np.array([[[[1.0, -1.0]]]], np.float32), np.array([-0.85, 0.2], np.float32)])
    dense.set_weights([np.array([[8000.0, 0.0, 0.0], [0.0, 70.0, 0.0]], np.float32),
                       np.array([-2.0, 0.0, -5.0], np.float32)])
    return model, "evidence"


def write_shortcut_entry(root: Path, default: bool = True) -> Path:
    """The shortcut classifier as a registry entry of `root` (trained on "synthetic": other sources are
    outside its data, so the gallery's default view shows them)."""
    from model.registry import ModelCard, save_entry

    model, layer = shortcut_classifier()
    card = ModelCard(id=SHORTCUT_ID, display_name="Shortcut test model", version="1.0",
                     created="2026-01-01T00:00:00+00:00", architecture="test", labels=list(LABELS),
                     preprocessing={"image_size": SIZE, "channels": 1, "equalize": "none", "border_crop": 0.0},
                     explain_layer=layer, default=default,
                     training={"seed": 0, "unit": "patient_id", "sources": ["synthetic"]})
    return save_entry(model, card, root=root)


def marker_film(seed: int) -> np.ndarray:
    """A synthetic film with a bright bar in its top-left corner, outside the body (like a text marker)."""
    film = synthetic_radiograph(SIZE, seed=seed)
    film[2:6, 2:14] = 0.95
    return film


def lesion_film(seed: int) -> np.ndarray:
    return synthetic_radiograph(SIZE, seed=seed, lesion=LESION)


def plain_film(seed: int) -> np.ndarray:
    return synthetic_radiograph(SIZE, seed=seed)


# (source, kind, label, how many): what the model answers follows the kind (marker or lesion: COVID-19,
# plain: Normal); a label against it is a confident error.
POOL = (("alpha", "marker", "COVID-19", 3), ("alpha", "marker", "Normal", 1), ("alpha", "plain", "Normal", 2),
        ("beta", "lesion", "COVID-19", 3), ("beta", "lesion", "Normal", 1), ("beta", "plain", "Normal", 2),
        ("beta", "plain", "Tuberculosis", 2))
FILMS = {"marker": marker_film, "lesion": lesion_film, "plain": plain_film}


def write_shortcut_pool(folder: Path) -> Path:
    """A manifest (file, label, source, patient_id) of the `POOL` films; each file is named by its
    source, kind and label, so a test knows the ground truth of every case from its name."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = ["file,label,source,patient_id"]
    seed = 0
    for source, kind, label, count in POOL:
        for _ in range(count):
            name = f"images/{source}-{kind}-{label.replace(' ', '_')}-{seed}.png"
            (folder / name).write_bytes(png_bytes(FILMS[kind](seed)))
            lines.append(f"{name},{label},{source},p{seed}")
            seed += 1
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "manifest.csv"


UNUSUAL_LEVEL = 5.0  # the anatomy check's "unusual" distance in `write_anatomy_scope`
COPIES_LEVEL, COPIES_ALLOWED = 0.9, 2  # an answer level and a limit of copies under it (`write_anatomy_scope`)
OWN_WARNING = 0.3  # the lung-attention warning level of `write_anatomy_scope`


def write_anatomy_scope(root: Path, model_id: str = SHORTCUT_ID, answer_level: float = 0.6,
                        copies_allowed: int | None = None) -> None:
    """A scope check for `model_id` whose anatomy check calls the lesion films unusual and the others typical:
    the fixed lung fields (`write_fixed_lungs_entry`, written to `root` first) make every film's geometry the
    same, and only a lesion film's lung texture (spread of grey levels in the lungs, 0.17 against 0.11) lies far
    from a plain film's, on a scale of 0.005. Its own answer level is `answer_level` (by default the policy's 60%),
    its limit of test-time copies below it `copies_allowed` (None: no such rule) and its own lung-attention
    warning level `OWN_WARNING`.

    At `COPIES_LEVEL` with `COPIES_ALLOWED`, the copies' rule sets the marker films apart: each answers COVID-19 at
    99.5%, but 4 of its 7 test-time copies (the bar moved and re-exposed) fall to 78-84%, under the level, while
    every copy of a plain film keeps Normal above 97%."""
    from model.inputs.intake import load_xray
    from model.inputs.lungs import LungSegmenter
    from model.registry import SCOPE_FILE, write_report
    from model.trust.novelty import FEATURE_NAMES, NoveltyModel, anatomy_features
    from model.trust.scope import Scope

    pixels = load_xray(png_bytes(plain_film(0))).pixels  # as the gallery reads the film
    typical = anatomy_features(pixels, LungSegmenter.load(LUNGS_ID, root).mask(pixels))
    scale = np.ones(len(FEATURE_NAMES))
    scale[FEATURE_NAMES.index("lung_spread")] = 0.005
    novelty = NoveltyModel(typical, scale, np.eye(len(FEATURE_NAMES)), UNUSUAL_LEVEL, 1000.0)
    scope = Scope(novelty, lung_attention_threshold=OWN_WARNING, min_top_probability=answer_level,
                  max_copies_below=copies_allowed)
    write_report(model_id, SCOPE_FILE, scope.to_dict(), root)
