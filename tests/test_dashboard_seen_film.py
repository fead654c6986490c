"""Diagnose and Compare say when an uploaded film is one of the labelled films a model learnt from."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from model.labelled_data import read_manifest
from model.registry import read_card
from model.splits import assign_splits
from tests.support import png_bytes, synthetic_radiograph

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 180
FILMS = 14  # single-film patients of the tiny models' one source: 10 of them in tiny-a's training split, as its card records


@pytest.fixture()
def data_root(tmp_path) -> Path:
    return write_data_root(tmp_path)


def write_data_root(tmp_path: Path) -> Path:
    """A data root of FILMS labelled films (one manifest, one source, one film per patient)."""
    root = tmp_path / "cxr"
    (root / "images").mkdir(parents=True)
    lines = ["file,label,source,patient_id"]
    for i in range(FILMS):
        (root / "images" / f"film-{i}.png").write_bytes(png_bytes(synthetic_radiograph(128, seed=200 + i)))
        lines.append(f"images/film-{i}.png,Normal,synthetic,secret-patient-{i}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def splits(registry: Path, root: Path, model_id: str) -> dict[str, str]:
    """{file name: split} of the films for one tiny model, by the gallery's rule."""
    assignment, note = assign_splits(read_manifest(root / "manifest.csv"), read_card(model_id, registry))
    assert not note
    return {Path(path).name: split for path, split in assignment.items()}


def start(registry_env, monkeypatch, root: Path | None, page: str) -> AppTest:
    if root is None:
        monkeypatch.delenv("CXR_DATA", raising=False)
    else:
        monkeypatch.setenv("CXR_DATA", str(root))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    if page != "diagnose":
        at.switch_page(f"views/{page}_page.py").run()
    return at


def upload(at: AppTest, data: bytes) -> AppTest:
    at.file_uploader[0].set_value(("upload.png", data, "image/png"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]  # the app's safety net turns a failure into one error
    return at


LEARNT, HELD = ":orange[:material/model_training: ", ":blue[:material/fact_check:] "  # a warning's line, an information's


def notes(at: AppTest) -> list[str]:
    """The film notes drawn on Diagnose (lines under the status: a warning's in orange, else information)."""
    lines = [c.value for c in at.main.caption]
    found = [v[len(LEARNT):-1] for v in lines if v.startswith(LEARNT) and v.endswith("]")]
    found += [v[len(HELD):] for v in lines if v.startswith(HELD)]
    return [sentence for sentence in found if sentence.startswith("This film is")]


def shown_text(at: AppTest) -> str:
    return "\n".join(str(node.proto) for node in [*at.main, *at.sidebar] if getattr(node, "proto", None) is not None)


def test_diagnose_says_the_model_trained_on_an_uploaded_labelled_film(registry_env, monkeypatch, data_root):
    name = next(n for n, s in splits(registry_env, data_root, "tiny-a").items() if s == "train")
    at = upload(start(registry_env, monkeypatch, data_root, "diagnose"), (data_root / "images" / name).read_bytes())
    assert notes(at) == ["This film is in the pool this model learnt from (source synthetic, label Normal; its patient "
                      "is in the training split): its output here is not a fair test of the model."]
    assert "secret-patient" not in shown_text(at) and name not in shown_text(at)


def test_diagnose_gives_the_true_label_of_a_test_film_and_nothing_for_other_films(registry_env, monkeypatch, data_root):
    name = next(n for n, s in splits(registry_env, data_root, "tiny-a").items() if s == "test")
    at = upload(start(registry_env, monkeypatch, data_root, "diagnose"), (data_root / "images" / name).read_bytes())
    assert any("test split): a fair test; true label Normal." in note for note in notes(at))
    upload(at, png_bytes(synthetic_radiograph(128, seed=999)))  # a film of no manifest
    assert notes(at) == []


def test_a_manifest_added_while_the_server_runs_is_seen_without_a_restart(registry_env, monkeypatch, data_root):
    data = png_bytes(synthetic_radiograph(128, seed=998))
    at = upload(start(registry_env, monkeypatch, data_root, "diagnose"), data)
    assert notes(at) == []  # the films are indexed: this one is in no manifest yet
    (data_root / "late").mkdir()
    (data_root / "late" / "new.png").write_bytes(data)
    (data_root / "late" / "added.csv").write_text("file,label,source,patient_id\nnew.png,Pneumonia,synthetic,p-late\n",
                                                 encoding="utf-8")
    at.run()
    [note] = notes(at)
    assert "label Pneumonia" in note


def test_without_data_roots_no_film_is_looked_up(registry_env, monkeypatch, data_root):
    def no_hashing(roots):
        raise AssertionError(f"the labelled films were indexed without data roots: {roots}")

    import dashboard.seen_film

    monkeypatch.setattr(dashboard.seen_film, "index_films", no_hashing)
    name = next(n for n, s in splits(registry_env, data_root, "tiny-a").items() if s == "train")
    at = upload(start(registry_env, monkeypatch, None, "diagnose"), (data_root / "images" / name).read_bytes())
    assert notes(at) == []


def test_compare_says_it_for_each_version_by_its_own_split(registry_env, monkeypatch, data_root):
    a, b = splits(registry_env, data_root, "tiny-a"), splits(registry_env, data_root, "tiny-b")
    name = next(n for n in a if a[n] == "train" and b[n] != "train")
    at = upload(start(registry_env, monkeypatch, data_root, "compare"), (data_root / "images" / name).read_bytes())
    words = {"train": "Learnt from this film (source synthetic, label Normal; training split)",
             "validation": "Tuned on this film (source synthetic, label Normal; validation split",
             "test": "Held out (source synthetic; test split): a fair test; true label Normal."}
    found = [c.value for c in at.caption if any(w in c.value for w in words.values())]
    assert len(found) == 2  # one in each version's column, left to right
    assert words[a[name]] in found[0] and words[b[name]] in found[1]


def open_teaching_case(monkeypatch, seed: int, label: str, split: str, model_id: str, answer: tuple):
    """Diagnose opened on a synthetic film handed over as a gallery teaching case (`TeachingCase` with `label`,
    source alpha, `split`, `model_id` and the fields from `answer` on: predicted, confidence, known, correct, ...):
    (the app run, the teaching case's box)."""
    from dashboard.widgets import HANDED_UPLOAD
    from model.present.gallery_cases import TeachingCase

    data = png_bytes(synthetic_radiograph(128, seed=seed))
    case = TeachingCase(hashlib.sha256(data).hexdigest(), "x.png", label, "alpha", split, model_id, *answer)
    monkeypatch.delenv("CXR_DATA", raising=False)
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[HANDED_UPLOAD] = {"name": "x.png", "data": data, "case": case.to_dict()}
    at.run()
    assert not at.exception and not at.error
    [box] = [m.value for m in at.markdown if m.value.startswith(":material/school: **Teaching case**")]
    return at, box


@pytest.mark.parametrize(("model_id", "split", "note"), [
    ("tiny-a", "train", "This film is in the pool this model learnt from (source alpha, label Pneumonia; its patient "
                        "is in the training split): its output here is not a fair test of the model."),
    ("tiny-a", "test", None),   # the teaching case's own box gives its true label, source and split
    ("tiny-b", "train", None),  # another model's split says nothing of tiny-a's (and no data roots to look in)
])
def test_a_teaching_case_brings_its_own_split(registry_env, monkeypatch, model_id, split, note):
    at, box = open_teaching_case(monkeypatch, 300, "Pneumonia", split, model_id, ("Normal", 0.8, True, False))
    assert "x.png" not in box and "true label **Pneumonia** (from the data) · source `alpha`" in box
    assert notes(at) == ([note] if note else [])


@pytest.mark.parametrize("held_back", [False, True])
def test_a_teaching_case_held_back_as_out_of_scope_is_not_said_to_be_answered(registry_env, monkeypatch, held_back):
    """The review's film: the gallery held it back as out of scope (no plausible lung fields), and the teaching line
    said "answered Pneumonia (44.0%): misclassified" above Diagnose's "Out of scope: no answer shown"."""
    _, box = open_teaching_case(monkeypatch, 301, "Normal", "test", "tiny-a",
                                ("Pneumonia", 0.44, True, False, None, held_back))
    if held_back:
        assert "answered" not in box and "misclassified" not in box
        assert ("held this film back as out of scope: its output would have been **Pneumonia** 44.0%, which is "
                "wrong.") in box
    else:
        assert "answered **Pneumonia** (44.0%): :red[misclassified]." in box


def test_the_report_carries_the_pages_film_note_and_none_for_an_unknown_film(registry_env, monkeypatch, data_root):
    from tests.test_dashboard_trust import capture_reports

    details = capture_reports(monkeypatch)
    name = next(n for n, s in splits(registry_env, data_root, "tiny-a").items() if s == "train")
    at = upload(start(registry_env, monkeypatch, data_root, "diagnose"), (data_root / "images" / name).read_bytes())
    [shown] = notes(at)
    assert details[-1].film_note == shown and details[-1].film_note_warns  # the very sentence, as a warning
    upload(at, png_bytes(synthetic_radiograph(128, seed=999)))  # a film of no manifest
    assert notes(at) == [] and details[-1].film_note is None and not details[-1].film_note_warns
