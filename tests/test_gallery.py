"""The case gallery: labelled images scored by a model, hardest (misclassified, least sure) first."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.labelled_data import LabelledImage
from model.present.gallery_cases import Case, cases_frame, data_location, sample_records, score_cases
from tests.support import png_bytes
from tests.test_occlusion import corner_classifier, corner_image


@pytest.fixture(scope="module")
def corner():
    return corner_classifier()


def _write(folder: Path, name: str, brightness: float) -> str:
    path = folder / name
    path.write_bytes(png_bytes(corner_image(brightness)))
    return str(path)


@pytest.fixture()
def records(tmp_path) -> list[LabelledImage]:
    """Bright corners are predicted COVID-19 and dark ones Normal; two images carry the other label."""
    specs = [("covid_sure.png", 0.95, "COVID-19"), ("covid_unsure.png", 0.6, "COVID-19"),
             ("normal_sure.png", 0.05, "Normal"), ("normal_unsure.png", 0.42, "Normal"),
             ("wrong_sure.png", 0.95, "Normal"), ("wrong_unsure.png", 0.4, "COVID-19")]
    items = [LabelledImage(_write(tmp_path, name, b), label, f"patient-{i}", "synthetic")
             for i, (name, b, label) in enumerate(specs)]
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    items.append(LabelledImage(str(corrupt), "Normal", "patient-x", "synthetic"))
    items.append(LabelledImage(str(tmp_path / "missing.png"), "Normal", "patient-y", "synthetic"))
    return items


def test_score_cases_misclassified_first_then_least_confident(corner, records):
    cases = score_cases(corner, records, limit_per_label=None)
    names = [Path(c.path).name for c in cases]
    assert "corrupt.png" not in names and "missing.png" not in names and len(cases) == 6
    assert set(names[:2]) == {"wrong_sure.png", "wrong_unsure.png"}
    assert names[0] == "wrong_unsure.png", "the least confident error comes first"
    assert [c.correct for c in cases] == [False, False, True, True, True, True]
    confidences = [c.confidence for c in cases[2:]]
    assert confidences == sorted(confidences)
    first = cases[0]
    assert isinstance(first, Case) and first.label == "COVID-19" and first.predicted == "Normal"
    assert first.patient_id == "patient-5" and first.source == "synthetic"
    assert set(first.probabilities) == {"COVID-19", "Normal", "Pneumonia"}
    assert first.confidence == pytest.approx(max(first.probabilities.values()))


def test_score_cases_limits_each_label_deterministically(corner, records):
    first = score_cases(corner, records, limit_per_label=2, seed=3)
    again = score_cases(corner, list(reversed(records)), limit_per_label=2, seed=3)
    assert [c.path for c in first] == [c.path for c in again]
    counts = {label: sum(c.label == label for c in first) for label in ("COVID-19", "Normal")}
    assert counts["COVID-19"] == 2 and 1 <= counts["Normal"] <= 2  # a sampled corrupt file is skipped


def test_score_cases_reports_progress_and_skips_unknown_labels(corner, records, tmp_path):
    extra = LabelledImage(_write(tmp_path, "opacity.png", 0.5), "Lung opacity", "patient-z", "synthetic")
    seen = []
    cases = score_cases(corner, records + [extra], limit_per_label=None, batch_size=3,
                        progress=lambda done, total: seen.append((done, total)))
    assert all(c.label != "Lung opacity" for c in cases)
    assert seen[-1] == (8, 8) and len(seen) == 3


def test_sample_records_picks_up_to_the_limit_per_label():
    items = [LabelledImage(f"/x/{label}{i}.png", label, str(i)) for label in "AB" for i in range(10)]
    picked = sample_records(items, limit_per_label=4, seed=1)
    assert len(picked) == 8 and {r.label for r in picked} == {"A", "B"}
    assert picked != sample_records(items, limit_per_label=4, seed=2)
    with pytest.raises(ValueError):
        sample_records(items, limit_per_label=0)


def test_cases_frame(corner, records):
    frame = cases_frame(score_cases(corner, records, limit_per_label=None))
    assert list(frame.columns[:7]) == ["path", "label", "source", "patient_id", "predicted", "confidence", "correct"]
    assert {"P(COVID-19)", "P(Normal)", "P(Pneumonia)"} <= set(frame.columns)
    assert len(frame) == 6 and not frame["correct"].iloc[0]
    np.testing.assert_allclose(frame[["P(COVID-19)", "P(Normal)", "P(Pneumonia)"]].sum(axis=1), 1.0, atol=1e-5)
    assert cases_frame([]).empty


def test_data_location(monkeypatch, tmp_path):
    monkeypatch.delenv("CXR_DATA", raising=False)
    assert data_location() is None
    monkeypatch.setenv("CXR_DATA", str(tmp_path / "nowhere"))
    assert data_location() is None
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,label\n", encoding="utf-8")
    monkeypatch.setenv("CXR_DATA", str(manifest))
    assert data_location() == manifest
    monkeypatch.setenv("CXR_DATA", str(tmp_path))
    assert data_location() == tmp_path
