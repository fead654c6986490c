"""A gallery that knows train from test: by default no training image of the selected model, each
case labelled with its split, labels outside the model's classes explained, the Diagnose threshold
and legend, "open in Diagnose" with the case loaded."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.labelled_data import LabelledImage, read_dataset
from model.policy import DEFAULT_MAP_THRESHOLD
from model.present.gallery_cases import gallery_records, read_cases, shown_cases
from model.present.overlay import colour_bar
from model.splits import assign_splits
from tests.support import png_bytes, synthetic_radiograph

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def write_pool(root: Path, n: int = 24) -> Path:
    """A manifest of n images from the tiny models' own training source, plus two tuberculosis films."""
    (root / "images").mkdir(parents=True)
    lines = ["file,label,source,patient_id"]
    labels = ["COVID-19", "Normal", "Pneumonia"]
    for i in range(n):
        name = f"images/{i}.png"
        (root / name).write_bytes(png_bytes(synthetic_radiograph(64, seed=i)))
        lines.append(f"{name},{labels[i % 3]},synthetic,p{i}")
    for i in range(2):
        name = f"images/tb{i}.png"
        (root / name).write_bytes(png_bytes(synthetic_radiograph(64, seed=100 + i)))
        lines.append(f"{name},Tuberculosis,elsewhere,tb{i}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "manifest.csv"


def test_gallery_records_default_never_holds_a_training_image(test_registry, tmp_path):
    from model.registry import read_card

    records = read_dataset(write_pool(tmp_path / "pool"))
    card = read_card("tiny-a", test_registry)
    assignment, _ = assign_splits(records, card)
    assert "train" in assignment.values()
    chosen, splits, _ = gallery_records(records, card)
    assert chosen and all(splits[r.path] in ("test", "outside") for r in chosen)
    assert {r.label for r in chosen if splits[r.path] == "outside"} == {"Tuberculosis"}
    everything, _, _ = gallery_records(records, card, "all")
    assert len(everything) == len(records)
    with pytest.raises(ValueError):
        gallery_records(records, card, "mine")


def test_unknown_labels_are_cases_but_never_errors(test_registry, tmp_path):
    from model.classifier import Classifier

    clf = Classifier.load("tiny-a", test_registry)
    records = read_dataset(write_pool(tmp_path / "pool", n=6))
    cases, failed = read_cases(clf, records, splits={r.path: "test" for r in records})
    cases = shown_cases(cases, "all", "errors")
    unknown = [c for c in cases if not c.known]
    assert not failed and len(cases) == 8 and all(c.split == "test" for c in cases)
    assert len(unknown) == 2 and cases[-2:] == unknown
    assert all(c.label == "Tuberculosis" and c.predicted in clf.labels for c in unknown)
    assert not any(c.label == "Tuberculosis" for c in shown_cases(cases, "wrong"))


def test_colour_bar_greys_what_the_overlay_leaves_uncoloured():
    bar = colour_bar("inferno", threshold=DEFAULT_MAP_THRESHOLD)
    assert bar.shape == (14, 256, 3) and bar.dtype == np.uint8
    edge = int(DEFAULT_MAP_THRESHOLD * 256)
    assert (bar[:, : edge - 40] == 128).all() and not (bar[:, edge + 60] == 128).all()


@pytest.fixture()
def gallery(registry_env, monkeypatch, tmp_path):
    manifest = write_pool(tmp_path / "pool")
    monkeypatch.setenv("CXR_DATA", str(tmp_path / "pool"))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    at.switch_page("views/gallery_page.py").run()
    return at, manifest


def test_gallery_page_shows_no_training_image_by_default_and_explains_unknown_labels(gallery, test_registry):
    from model.registry import read_card

    at, manifest = gallery
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="gallery_split").value == "test"
    assignment, _ = assign_splits(read_dataset(manifest), read_card("tiny-a", test_registry))
    table = at.expander[-1].dataframe[0].value
    assert len(table) and not set(table["file"]) & {Path(p).name for p, s in assignment.items() if s == "train"}
    assert set(table["split"]) <= {"test", "never seen"}  # the short names of the test split and unseen sources
    markdown = " ".join(m.value for m in at.markdown)
    assert "label not among its classes" in markdown and "not counted as errors" in markdown
    assert any("test split" in c.value for c in at.caption)
    at.selectbox(key="gallery_split").set_value("train").run()
    assert any("trained on" in w.value for w in at.warning)


def test_open_in_diagnose_loads_the_case(gallery):
    at, _ = gallery
    explain = next(b for b in at.button if b.key and b.key.startswith("explain_"))
    explain.click().run()
    assert not at.exception
    assert any(c.startswith("weak → strong evidence") for i in at.image for c in i.captions)
    triage_line = next(m.value for m in at.markdown if m.value.startswith("**Triage:**")).removeprefix("**Triage:** ")
    # The checks the dialog cannot make are said to be made on Diagnose.
    assert "ot made yet (on Diagnose): " in triage_line or "not made yet" not in triage_line.lower()
    triage_line = triage_line.replace(" (on Diagnose)", "")
    # The dialog shows the stability of the film's copies, the check the page says it runs.
    assert any(c.value.startswith(("Stable: ", "Varies: ", "Unstable: ")) and " on 7 changed copies" in c.value
               for c in at.caption)
    path = at.session_state["gallery_case"]
    at.button(key="open_in_diagnose").click().run()
    assert not at.exception
    assert any(t.value == "Diagnose & explain" for t in at.title)
    # Diagnose took the hand-off: the case's bytes are its kept upload, shown without a new upload.
    from dashboard.widgets import KEPT_UPLOAD

    assert at.session_state[KEPT_UPLOAD][1] == Path(path).read_bytes()
    assert any("A teaching case opened from the gallery" in c.value for c in at.caption)
    assert any(m.value.startswith(":material/school: **Teaching case**") for m in at.markdown)
    # The dialog's status is the one Diagnose leads with for this film (assumptions and map cautions included).
    banner = [a.value for a in [*at.info, *at.warning] if a.value.startswith(("**Answer", "**Uncertain"))]
    banner += [m.value.split("**")[1] for m in at.markdown if ":material/block: **Out of scope" in m.value]
    assert len(banner) == 1 and banner[0].startswith((f"**{triage_line}**", triage_line)), (banner, triage_line)


def test_records_named_outside_the_roots_are_left_out(tmp_path):
    from model.labelled_data import data_roots, records_within

    inside = tmp_path / "root" / "a.png"
    inside.parent.mkdir()
    inside.write_bytes(b"x")
    records = [LabelledImage(str(inside), "Normal", "1"), LabelledImage(str(tmp_path / "root" / ".." / "b.png"),
                                                                       "Normal", "2")]
    kept, dropped = records_within(records, data_roots(str(tmp_path / "root")))
    assert [r.patient_id for r in kept] == ["1"] and dropped == 1


def test_a_case_handed_to_diagnose_is_shown_there(registry_env, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.support import png_bytes, synthetic_radiograph

    st.cache_data.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"), default_timeout=120)
    at.session_state["diagnose_upload"] = {"name": "case.png", "data": png_bytes(synthetic_radiograph(96, seed=5))}
    at.run()
    assert not at.exception
    assert any("uploaded earlier in this session" in c.value for c in at.caption)
    assert "diagnose_upload" not in at.session_state
