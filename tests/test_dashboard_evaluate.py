"""The Evaluate page through AppTest: a folder under the configured roots and an uploaded ZIP, two
versions, figures with intervals, unknown labels, downloads; hostile ZIPs refused with one sentence."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_evaluation import IMAGE, write_labelled_folder, zip_bytes

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 180


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)


def open_view(view: str, monkeypatch, data=None) -> AppTest:
    """The app on `view` ("evaluate", "compare") with CXR_DATA set to `data`, or unset for None."""
    if data is None:
        monkeypatch.delenv("CXR_DATA", raising=False)
    else:
        monkeypatch.setenv("CXR_DATA", str(data))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page(f"views/{view}_page.py").run()
    return at


@pytest.fixture()
def evaluate_page(registry_env, monkeypatch, tmp_path):
    data = write_labelled_folder(tmp_path / "roots" / "hospital", per_class=3)
    return open_view("evaluate", monkeypatch, tmp_path / "roots"), data


def test_evaluate_a_configured_folder_with_two_versions(evaluate_page):
    at, data = evaluate_page
    no_failure(at)
    assert at.title[0].value == "Evaluate on your data"
    assert at.multiselect(key="evaluate_models").value == ["tiny-a", "tiny-b"]
    assert at.selectbox(key="evaluate_data").value == data.resolve()
    assert len(at.text_input) == 0  # no free path box: only what the configured roots hold
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run").click().run()
    no_failure(at)
    summary = at.dataframe[0].value
    assert list(summary.columns) == ["tiny-a", "tiny-b"]
    assert summary.loc["images scored", "tiny-a"] == summary.loc["images scored", "tiny-b"] == "12"
    assert "(" in summary.loc["macro AUC (95% interval)", "tiny-a"]
    unknown = next(d.value for d in at.dataframe if "label in the data" in d.value.columns)
    assert set(unknown["label in the data"]) == {"Tuberculosis"} and list(unknown["images"]) == [3, 3]
    assert any("On these 9 images" in t for t in texts(at.markdown))
    roc = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert [t["name"].split(" ")[0] for t in roc[0]["data"]] == ["tiny-a", "tiny-b", "chance"]
    buttons = at.get("download_button")
    assert len(buttons) == 2
    assert any(t == "Where the versions disagree" for t in texts(at.subheader))


def test_evaluate_an_uploaded_zip_and_refuse_a_hostile_one(evaluate_page):
    at, _ = evaluate_page
    at.radio(key="evaluate_source").set_value("A ZIP of labelled images").run()
    no_failure(at)
    uploader = at.get("file_uploader")
    assert len(uploader) == 1
    archive = zip_bytes({"COVID/a.png": IMAGE, "Normal/b.png": IMAGE, "Pneumonia/c.png": IMAGE, "notes.txt": b"x"})
    uploader[0].set_value(("ours.zip", archive, "application/zip"))
    at.run()
    no_failure(at)
    assert any("3 images from **ours.zip**" in t for t in texts(at.markdown))
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run").click().run()
    no_failure(at)
    summary = next(d.value for d in at.dataframe if list(d.value.columns) == ["tiny-a", "tiny-b"])
    assert summary.loc["images scored", "tiny-a"] == "3"
    hostile = zip_bytes({"../../etc/COVID/a.png": IMAGE})
    at.get("file_uploader")[0].set_value(("evil.zip", hostile, "application/zip"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "refused" in at.error[0].value and "\n" not in at.error[0].value


def test_evaluate_without_configured_data_says_so(registry_env, monkeypatch):
    at = open_view("evaluate", monkeypatch)
    no_failure(at)
    assert any("No data folder is configured" in t for t in texts(at.info))


def test_compare_on_common_ground_with_intervals_and_within_source_rows(registry_env, monkeypatch, tmp_path):
    from tests.test_gallery_honest import write_pool

    write_pool(tmp_path / "pool", n=30)
    # A second collection with both COVID-19 and Pneumonia films: a within-source row.
    lines = ["file,label,source,patient_id"]
    for i in range(8):
        name = f"images/ieee{i}.png"
        (tmp_path / "pool" / name).write_bytes(IMAGE)
        lines.append(f"{name},{'COVID-19' if i % 2 else 'Pneumonia'},ieee,ieee{i}")
    (tmp_path / "pool" / "other.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = open_view("compare", monkeypatch, tmp_path / "pool")
    no_failure(at)
    assert at.selectbox(key="compare_scope").value == "unseen"
    at.selectbox(key="compare_resamples").set_value(200).run()
    summary = at.dataframe[0].value
    assert list(summary.columns) == ["tiny-a", "tiny-b"]
    assert summary.loc["images scored", "tiny-a"] == summary.loc["images scored", "tiny-b"]
    assert any(text.startswith("**Where they disagree:**") for text in texts(at.markdown))
    at.selectbox(key="compare_data").set_value((tmp_path / "pool" / "other.csv").resolve()).run()
    no_failure(at)
    summary = at.dataframe[0].value
    assert summary.loc["images scored", "tiny-a"] == "8"  # a source neither trained on: all unseen
    assert "(" in summary.loc["macro AUC (95% interval)", "tiny-a"]
    sources = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert list(sources["source"]) == ["ieee"]
    assert any("COVID-19 vs Pneumonia AUC (n=8)" in column for column in sources.columns)


def test_compare_without_data_falls_back_to_labelled_internal_figures(registry_env, monkeypatch):
    at = open_view("compare", monkeypatch)
    no_failure(at)
    assert any("cannot be scored on common ground" in t for t in texts(at.info))
    assert list(at.dataframe[0].value.columns) == ["tiny-a", "tiny-b", "best", "spread"]
