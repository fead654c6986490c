"""The dashboard driven through Streamlit's AppTest: every page, against the tiny test registry.

Each test starts the real entry point (dashboard/app.py with st.navigation), switches to a page and
interacts with its widgets as a user would; the models are the tiny untrained ones from
`tests.support`, so the assertions compare with what the core computes for the same image.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.support import LABELS, png_bytes, synthetic_radiograph, write_tiny_entry

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.apptest_support import in_order  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 120  # The first run imports TensorFlow and loads a model.
IMAGE = png_bytes(synthetic_radiograph(128, seed=3, lesion=(0.45, 0.3)))


@pytest.fixture()
def app(registry_env, monkeypatch):
    """A fresh app session on the test registry; cached maps and predictions start empty."""
    monkeypatch.delenv("CXR_DATA", raising=False)
    st.cache_data.clear()
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)


def open_page(at: AppTest, name: str) -> AppTest:
    at.run()
    if name != "diagnose":
        at.switch_page(f"views/{name}_page.py").run()
    return at


def upload(at: AppTest, data: bytes, name: str = "chest.png", index: int = 0) -> AppTest:
    at.file_uploader[index].set_value((name, data, "image/png"))
    return at.run()


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)


def expected_prediction(registry: Path, model_id: str, data: bytes):
    """What every page shows as the model's output: the film's own calibrated pass (one probability)."""
    from model.classifier import Classifier
    from model.inputs.intake import load_xray

    clf = Classifier.load(model_id, registry)
    return clf.predict_input(clf.prepare(load_xray(data).pixels))


def overlay(at: AppTest):
    """The explanation overlay (the film beside it is the clickable grid component, not an st.image)."""
    return at.main.image[0]


# --------------------------------------------------------------------------- Diagnose & explain


def test_diagnose_without_upload_asks_for_an_image(app):
    at = open_page(app, "diagnose")
    no_failure(at)
    assert at.title[0].value == "Diagnose & explain"
    assert any("Upload a frontal chest radiograph" in text for text in texts(at.info))
    assert not at.main.image
    # The default model is preselected, the broken entry is listed with its reason, not fatal.
    assert at.selectbox(key="diagnose_model").value == "tiny-a"
    assert [e.label for e in at.expander] == ["1 registry entry could not be used"]
    assert "broken" in " ".join(texts(at.expander[0].markdown))
    assert any("not a diagnosis" in text for text in texts(at.caption))
    from model.policy import INTENDED_POPULATION
    assert sum(INTENDED_POPULATION in text for text in texts(at.caption)) == 1  # in the main column only


def test_diagnose_shows_probabilities_overlay_and_reports(app, registry_env):
    at = upload(open_page(app, "diagnose"), IMAGE)
    no_failure(at)
    expected = expected_prediction(registry_env, "tiny-a", IMAGE)
    output = at.main.metric[0]
    assert (output.label, output.value) == ("Model output", expected.label)
    bars = next(spec for spec in plotly_specs(at) if spec["data"][0].get("type") == "bar"
                or spec["data"][0].get("orientation") == "h")
    assert bars["data"][0]["y"] == list(LABELS)
    assert bars["data"][0]["text"] == [f"{p * 100:.1f}%" for p in expected.probabilities]
    assert any(text.startswith("Original (PNG, 128 x 128") for text in texts(at.main.caption))
    # The layer is named for what it is; the widget's value stays the Keras name.
    assert at.selectbox(key="layer-tiny-a").value == "block2b_conv"  # the card's layer, listed first
    assert overlay(at).captions[0] == f"Grad-CAM for {expected.label}, block 2 (last), second convolution"
    assert [b.proto.label for b in at.get("download_button")] == ["Report (PNG)", "Report (PDF)"]
    assert any("Tiny test model tiny-a, version 0.0" in text for text in texts(at.main.caption))
    # The triage status and the intended population are on the page; the colour bar says what colours mean.
    assert any(text.startswith("**Answer.") for text in texts(at.info)) or at.warning
    # Once, where the doctor reads the answer: the side panel repeated it ("For: ..."), word for word.
    from model.policy import INTENDED_POPULATION
    assert sum(INTENDED_POPULATION in text for text in texts(at.caption)) == 1
    assert any(text.startswith("**Made for:**") for text in texts(at.main.caption))
    assert any("scaled to this image's maximum" in text for text in texts(at.main.caption))
    # While the browser fetches the film and the map, their boxes keep the film's shape (a square film).
    from model.present.diagnose_figures import drawing_style
    assert drawing_style(1.0, {"film_click": "Drawing the film…", "map_box": "Drawing the map…"}) in [
        h.proto.body for h in at.get("html")]


BAD_UPLOADS = {
    "corrupt": b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50,
    "empty": b"",
    "text": b"patient notes, not an image\n" * 20,
    "too large": b"\x89PNG\r\n\x1a\n" + bytes(30 * 1024 * 1024),
}


@pytest.mark.parametrize("kind", list(BAD_UPLOADS))
def test_bad_upload_shows_one_error_and_the_app_keeps_working(app, kind):
    from model.inputs.intake import XrayInputError, load_xray

    with pytest.raises(XrayInputError) as raised:
        load_xray(BAD_UPLOADS[kind])
    at = upload(open_page(app, "diagnose"), BAD_UPLOADS[kind], name="scan.png")
    assert not at.exception
    assert texts(at.error) == [str(raised.value)]
    assert not at.main.image
    # A good image afterwards is analysed normally.
    at = upload(at, IMAGE)
    no_failure(at)
    assert len(at.main.image) == 1 and overlay(at).captions[0].startswith("Grad-CAM for ")


def test_display_controls_reuse_the_cached_map(app, monkeypatch):
    from model.classifier import Classifier
    calls = []
    original = Classifier.analyse

    def counting(self, *args, **kwargs):
        calls.append(args[1:])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Classifier, "analyse", counting)
    at = upload(open_page(app, "diagnose"), IMAGE)
    no_failure(at)
    assert len(calls) == 1
    first_overlay = overlay(at).value
    at.slider(key="opacity").set_value(0.9).run()
    at.selectbox(key="colormap").set_value("inferno").run()
    at.slider(key="threshold").set_value(0.3).run()
    no_failure(at)
    assert len(calls) == 1, "moving opacity, colour map or threshold recomputed the map"
    assert overlay(at).value != first_overlay, "the overlay was not re-rendered"
    # Choosing another method or class does compute a new map, once.
    at.selectbox(key="method").set_value("gradcam++").run()
    assert not any("a probability of" in c.value for c in at.caption)  # the answer's own map: no note
    other = next(label for label in LABELS if label != at.main.metric[0].value)
    at.selectbox(key=next(s.key for s in at.selectbox if s.key.startswith("target-"))).set_value(other).run()
    at.slider(key="opacity").set_value(0.2).run()
    no_failure(at)
    assert [c[0] for c in calls] == ["gradcam", "gradcam++", "gradcam++"]
    assert calls[-1][1] == other
    assert overlay(at).captions[0].startswith(f"Grad-CAM++ for {other}")
    # A class the model did not answer: its probability and what its bright map does (not) mean, by the map.
    note = [c.value for c in at.caption if f"The model gives {other} a probability of " in c.value]
    assert len(note) == 1 and f"not that {other} is present" in note[0]


@pytest.mark.parametrize("method", ["scorecam", "smoothgrad"])
def test_slow_methods_render(app, method):
    at = upload(open_page(app, "diagnose"), IMAGE)
    at.selectbox(key="method").set_value(method).run()
    no_failure(at)
    label = {"scorecam": "Score-CAM", "smoothgrad": "SmoothGrad"}[method]
    assert overlay(at).captions[0].startswith(f"{label} for ")
    assert at.selectbox(key="layer-tiny-a").disabled == (method == "smoothgrad")


def test_click_to_hide_several_cells_and_occlusion_cross_check(app, registry_env):
    """Clicks on the film's grid (the component's callback toggles the cell) hide those regions of the
    film together, mapped into the model input; the change is said in percentage points from the
    card's own probability, and the film is redrawn with the hidden cells greyed."""
    from model.classifier import Classifier
    from model.explain.film_grid import change_points, hide_cells, signed_points
    from model.inputs.intake import load_xray

    at = upload(open_page(app, "diagnose"), IMAGE)
    assert not [m for m in at.main.metric if " hidden" in m.label]  # nothing hidden before a click
    at.session_state["hidden_cells"] = [14, 15]  # row 3, columns 3 and 4: what two clicks store
    at.run()
    no_failure(at)
    clf = Classifier.load("tiny-a", registry_env)
    prepared = clf.prepare(load_xray(IMAGE).pixels)
    card = clf.predict_input(prepared)
    top = card.label
    expected = hide_cells(clf.predict_inputs, prepared, clf.card.prep, (14, 15), 6)
    assert expected.inside == (14, 15)
    after = dict(zip(clf.labels, expected.probabilities))[top]
    shown = next(m for m in at.main.metric if m.label == "With 2 cells hidden")
    assert shown.help.startswith(f"The probability of {top} with the cells hidden.")
    assert shown.value == f"{after:.1%}"
    # The change is the difference of the two figures as shown (to 0.1%).
    change = change_points(card.confidence, after)
    # Named: beside "the output becomes X" an unnamed figure read as the new output's (review).
    assert shown.proto.delta == f"{signed_points(change, minus='-')} for {top}" and " points for " in shown.proto.delta
    # Grey, not green or red: a class's probability going up or down is neither good nor bad news.
    from streamlit.proto.Metric_pb2 import Metric
    assert shown.proto.color == Metric.MetricColor.GRAY
    # The card's probability and the one the change is measured from agree to 0.1 point.
    assert metric_value(at, "Probability") == f"{card.confidence:.1%}"
    before = float(metric_value(at, "Probability").rstrip("%"))
    assert abs((before - float(shown.value.rstrip("%"))) - (100 * (card.confidence - after))) < 0.1 + 1e-9
    bars = next(spec for spec in plotly_specs(at) if spec["data"][0].get("orientation") == "h")
    assert [trace["name"] for trace in bars["data"]] == ["the film", "cells hidden"]
    assert bars["data"][1]["text"] == [f"{100 * p:.1f}%" for p in expected.probabilities]
    assert "The model saw the cells blurred (*Hide with*" in shown.help
    # The new output sits in the output box, right under the film's own probability (on the first screen).
    order = [getattr(e, "label", None) for e in in_order(at)]
    assert order.index("Probability") + 1 == order.index(shown.label)
    # Zoom mode keeps them hidden: it says so and can undo them.
    at.toggle(key="zoom").set_value(True).run()
    no_failure(at)
    assert any("Cells are hidden (their output is beside the film); the zoom view shows the film as it is" in c.value
               for c in at.caption)
    assert [m for m in at.main.metric if m.label == "With 2 cells hidden"]
    at.toggle(key="zoom").set_value(False).run()
    # "Show the film as it is" clears them all.
    at.button(key="unhide").click().run()
    assert not [m for m in at.main.metric if " hidden" in m.label]

    assert not [m for m in at.main.metric if m.label.startswith("Similarity to Grad-CAM")]
    at.button(key="occlusion").click().run()
    no_failure(at)
    agreement = next(m for m in at.main.metric if m.label == "Similarity to Grad-CAM")
    assert -1.0 <= float(agreement.value) <= 1.0
    assert any(image.captions[0].startswith("Occlusion sensitivity for ") for image in at.main.image)


def test_hidden_cells_follow_the_hide_with_shown_at_once(app, registry_env):
    """Choosing another *Hide with* re-measures the hidden cells in the same run: the review saw the blur
    figure kept under "black" until an unrelated rerun (the figure was computed from the remembered choice,
    before the selectbox stored the new one)."""
    from model.classifier import Classifier
    from model.explain.film_grid import hide_cells
    from model.inputs.intake import load_xray

    cells = tuple(range(7, 29))  # most of the film: blur and black must give different figures
    at = upload(open_page(app, "diagnose"), IMAGE)
    at.session_state["hidden_cells"] = list(cells)
    at.run()
    clf = Classifier.load("tiny-a", registry_env)
    prepared = clf.prepare(load_xray(IMAGE).pixels)
    top = clf.predict_input(prepared).label
    figures = {fill: dict(zip(clf.labels, hide_cells(clf.predict_inputs, prepared, clf.card.prep, cells, 6,
                                                     fill).probabilities))[top] for fill in ("blur", "black")}
    assert f"{figures['blur']:.1%}" != f"{figures['black']:.1%}"  # else the test could not tell them apart
    shown = next(m for m in at.main.metric if m.label == f"With {len(cells)} cells hidden")
    assert shown.value == f"{figures['blur']:.1%}" and "The model saw the cells blurred" in shown.help
    at.selectbox(key="fill").set_value("black").run()
    no_failure(at)
    shown = next(m for m in at.main.metric if m.label == f"With {len(cells)} cells hidden")
    assert shown.value == f"{figures['black']:.1%}" and "The model saw the cells blacked out" in shown.help


def test_a_click_toggles_its_cell():
    from model.explain.film_grid import toggle_cell

    assert toggle_cell([5], 14) == [5, 14] and toggle_cell([5, 14], 5) == [14] and toggle_cell([], None) == []


def metric_value(at: AppTest, label: str) -> str:
    return next(m.value for m in at.main.metric if m.label == label)


def test_the_case_and_settings_survive_a_visit_to_another_page(app):
    at = upload(open_page(app, "diagnose"), IMAGE)
    at.selectbox(key="method").set_value("gradcam++").run()
    at.slider(key="opacity").set_value(0.8).run()
    first = overlay(at).value
    at.switch_page("views/performance_page.py").run()
    no_failure(at)
    at.switch_page("views/diagnose_page.py").run()
    no_failure(at)
    assert not any("Upload a frontal chest radiograph" in text for text in texts(at.info))
    assert any("uploaded earlier in this session" in text for text in texts(at.main.caption))
    assert at.selectbox(key="method").value == "gradcam++" and at.slider(key="opacity").value == 0.8
    assert overlay(at).value == first
    # "Clear" forgets the kept image.
    at.button(key="forget_upload").click().run()
    assert any("Upload a frontal chest radiograph" in text for text in texts(at.info))


def test_model_choice_changes_the_prediction_and_side_panel(app, registry_env):
    at = upload(open_page(app, "diagnose"), IMAGE)
    at.selectbox(key="diagnose_model").set_value("tiny-b").run()
    no_failure(at)
    expected = expected_prediction(registry_env, "tiny-b", IMAGE)
    assert at.main.metric[0].value == expected.label
    assert "**Tiny test model tiny-b**" in " ".join(texts(at.sidebar.markdown))
    assert [link.proto.label for link in at.sidebar.get("page_link")] == ["Full performance"]
    assert at.sidebar.get("plotly_chart"), "no training-curve chart in the side panel"


def test_class_chosen_to_explain_survives_a_model_switch(app, registry_env):
    """A reader who chose a class to explain keeps it when switching model and back (the box is per film and
    model, so Streamlit forgot it); without a choice the class follows each model's own answer."""
    at = upload(open_page(app, "diagnose"), IMAGE)

    def target_box():
        return next(box for box in at.selectbox if box.label == "Class to explain")

    answers = {m: expected_prediction(registry_env, m, IMAGE).label for m in ("tiny-a", "tiny-b")}
    assert target_box().value == answers["tiny-a"]
    at.selectbox(key="diagnose_model").set_value("tiny-b").run()
    assert target_box().value == answers["tiny-b"], "without a choice the class is the new model's answer"
    at.selectbox(key="diagnose_model").set_value("tiny-a").run()
    chosen = next(label for label in LABELS if label != answers["tiny-a"] and label != answers["tiny-b"])
    target_box().set_value(chosen).run()
    for model in ("tiny-b", "tiny-a"):
        at.selectbox(key="diagnose_model").set_value(model).run()
        no_failure(at)
        assert target_box().value == chosen, f"the chosen class was lost on switching to {model}"
        assert overlay(at).captions[0].split(" for ")[1].startswith(chosen)


# --------------------------------------------------------------------------- other pages


def test_performance_page_draws_the_report(app, registry_env):
    at = open_page(app, "performance")
    no_failure(at)
    titles = [spec["layout"].get("title", {}).get("text", "") for spec in plotly_specs(at)]
    assert any(t.startswith("Confusion matrix") for t in titles)
    assert any(t.startswith("ROC curves") for t in titles)
    assert any(t.startswith("Reliability diagram (ECE ") for t in titles)
    metrics = json.loads((registry_env / "tiny-a" / "metrics.json").read_text())
    ece = next(m for m in at.metric if m.label.startswith("Calibration error"))
    assert ece.value == f"{metrics['calibration']['ece']:.2f}"  # a score to two decimals, as on every page
    per_class = at.dataframe[0].value
    assert list(per_class["class"]) == LABELS
    assert "Untrained test model." in texts(at.markdown)
    assert "By data source" not in texts(at.subheader)
    assert any("created 2026-01-01 00:00 UTC" in t for t in texts(at.caption))
    # tiny-a's validation AUC rises in a straight line to its last epoch: the page says so, with the rise.
    history = pd.read_csv(registry_env / "tiny-a" / "history.csv")
    last = history["val_auc"].to_numpy()[-8:]
    trend = next(t for t in texts(at.caption) if t.startswith("Validation AUC was still rising"))
    assert f"{last[-1] - last[0]:+.3f} over the last {len(last)} epochs" in trend


def test_performance_page_shows_per_source_figures(tmp_path, monkeypatch):
    write_tiny_entry(tmp_path, "tiny-src", seed=2, default=True)
    metrics_file = tmp_path / "tiny-src" / "metrics.json"
    report = json.loads(metrics_file.read_text())
    report["per_source"] = {source: {"n": 30, "accuracy": accuracy, "per_class": report["per_class"],
                                     "confusion_matrix": report["confusion_matrix"]}
                            for source, accuracy in (("nih-chestxray14", 0.9), ("covid-cxnet", 0.4))}
    report["intervals"] = {"accuracy": [0.31, 0.52], "macro_auc": [0.41, 0.62], "ece": [0.05, 0.2], "n": report["n"],
                           "resamples": 1000, "per_class_auc": {label: [0.4, 0.6] for label in report["labels"]}}
    metrics_file.write_text(json.dumps(report))
    monkeypatch.setenv("CXR_REGISTRY", str(tmp_path))
    st.cache_data.clear()
    at = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "performance")
    no_failure(at)
    assert "By data source" in texts(at.subheader)
    titles = [spec["layout"].get("title", {}).get("text", "") for spec in plotly_specs(at)]
    assert "nih-chestxray14 (30 images)" in titles and "covid-cxnet (30 images)" in titles
    # The card's stored intervals: under the headline, and each class's AUC range in the per-class table.
    assert any(c.startswith(f"95% intervals (1000 bootstrap resamples of the {report['n']} test films): accuracy "
                            "31.0%–52.0%, macro AUC 0.41–0.62, calibration error 0.05–0.20.") for c in texts(at.caption))
    ranges = ", ".join(f"{label} 0.40–0.60" for label in report["labels"])
    assert f"AUC 95% intervals: {ranges}." in texts(at.caption)
    # Each source's accuracy to 0.1% as the headline's ("84.82%" stood beside "77.6%"), still a number that sorts.
    report["per_source"]["nih-chestxray14"]["accuracy"] = 0.84816
    metrics_file.write_text(json.dumps(report))
    st.cache_data.clear()
    at = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "performance")
    by_source = next(d.value for d in at.dataframe if "accuracy" in d.value.columns and "images" in d.value.columns)
    assert by_source["accuracy"].tolist() == [84.8, 40.0]
    spec = next(d.proto.columns for d in at.dataframe if "accuracy" in d.value.columns and "images" in d.value.columns)
    assert '"%.1f%%"' in spec


def test_compare_page_with_two_versions(app, registry_env):
    at = open_page(app, "compare")
    no_failure(at)
    assert at.multiselect(key="compare_models").value == ["tiny-a", "tiny-b"]
    # Named as the side panel names them (the card's display name), not by id: the ids are in the tooltips.
    names = ["Tiny test model tiny-a", "Tiny test model tiny-b"]
    assert "`tiny-a`" in at.multiselect(key="compare_models").help
    curves = [spec for spec in plotly_specs(at) if spec["layout"].get("title", {}).get("text") == "Validation AUC"]
    assert [trace["name"] for trace in curves[0]["data"]] == names
    table = next(t.value for t in at.table if "accuracy" in t.value.index)  # a wrapping table, as the others
    assert list(table.columns) == [*names, "spread"]  # the best is green, not a column of names
    assert table.loc["accuracy", "spread"] >= 0

    at = upload(at, IMAGE)
    no_failure(at)
    predictions = {m: expected_prediction(registry_env, m, IMAGE) for m in ("tiny-a", "tiny-b")}
    assert [m.value for m in at.metric if m.label == "Model output"] == [p.label for p in predictions.values()]
    assert len(at.image) == 2 and all(i.captions[0].startswith("Grad-CAM for ") for i in at.image)
    assert not at.success, "agreement is not correctness: the box is neutral"
    agree = predictions["tiny-a"].label == predictions["tiny-b"].label
    assert any(text.startswith("All 2 versions output" if agree else "The versions disagree") for text in texts(at.markdown))
    assert any(f"- {names[0]}: {predictions['tiny-a'].label} (" in text for text in texts(at.markdown))
    pairs = at.dataframe[-1].value
    assert list(pairs[["model A", "model B"]].iloc[0]) == names
    assert -1.0 <= float(pairs["map similarity (Spearman)"].iloc[0]) <= 1.0  # printed, as the sentences print it
    # Each version's triage status is shown with its answer.
    badges = [text for text in texts(at.markdown) if "-badge[" in text]
    assert len(badges) == 2 and all("Answer]" in b or "Second read advised]" in b for b in badges)


def test_compare_holds_back_every_version_for_an_out_of_scope_film(app, registry_env):
    rgb = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    at = upload(open_page(app, "compare"), buffer.getvalue())
    no_failure(at)
    assert [m for m in at.metric if m.label.startswith("Model output")] == []
    assert not at.image
    assert sum("colour" in text for text in texts(at.caption)) == 2  # each version says why
    at.toggle(key=next(t.key for t in at.toggle if t.key.startswith("compare-anyway-"))).set_value(True).run()
    no_failure(at)
    assert [m.label for m in at.metric if m.label.startswith("Model output")] == ["Model output (for reference only)"] * 2
    # the agreement box says so with what set it, in the words of every compact view (`text.triage_words`)
    assert any(", out of scope (a colour image): output for reference only" in text for text in texts(at.markdown))


def test_compare_needs_two_versions(app):
    at = open_page(app, "compare")
    at.multiselect(key="compare_models").set_value(["tiny-a"]).run()
    no_failure(at)
    assert "Choose two or more versions." in texts(at.info)
    assert not at.get("plotly_chart")


def test_gallery_without_data_says_how_to_configure_it(app):
    at = open_page(app, "gallery")
    no_failure(at)
    assert any("CXR_DATA=../shared/data/cxr" in text for text in texts(at.info))
    assert not at.image


def write_class_folders(root: Path, per_class: int = 3) -> Path:
    for k, folder in enumerate(("COVID", "Normal", "Viral Pneumonia")):
        (root / folder).mkdir(parents=True)
        for i in range(per_class):
            pixels = synthetic_radiograph(96, seed=10 * k + i, lesion=(0.4, 0.3) if k != 1 else None)
            (root / folder / f"case{i}.png").write_bytes(png_bytes(pixels))
    return root


def explain_buttons(at) -> list:
    """The gallery's cards, one "Explain" button each."""
    return [b for b in at.button if b.key and b.key.startswith("explain_")]


def test_gallery_scores_labelled_folders(app, tmp_path, monkeypatch):
    data = write_class_folders(tmp_path / "cxr")
    monkeypatch.setenv("CXR_DATA", str(data))
    at = open_page(app, "gallery")
    no_failure(at)
    assert len(explain_buttons(at)) == 9 and len(at.image) == 10  # nine thumbnails and their one colour bar
    assert any(text.startswith("**9** of 9 images; the model read **9**") for text in texts(at.markdown))
    first = explain_buttons(at)[0]
    first.click().run()
    no_failure(at)
    assert any(c.startswith("Grad-CAM for ") for image in at.image for c in image.captions)
    at.selectbox(key="gallery_label").set_value("Normal").run()
    assert len(explain_buttons(at)) == 3


def test_gallery_reads_only_configured_roots_and_refuses_other_paths(app, tmp_path, monkeypatch):
    data = write_class_folders(tmp_path / "root" / "typed", per_class=2)
    monkeypatch.setenv("CXR_DATA", str(tmp_path / "root"))
    at = open_page(app, "gallery")
    no_failure(at)
    assert not at.text_input, "no free path box: only what the configured roots hold"
    assert at.selectbox(key="gallery_data").value == data.resolve()
    assert len(explain_buttons(at)) == 6
    at.query_params["data"] = str(tmp_path)
    at.run()
    assert not at.exception and not at.image
    assert texts(at.error) == ["That path is outside the data folders this server is configured to read."]


def test_about_page_lists_models_sources_and_licences(app):
    at = open_page(app, "about")
    no_failure(at)
    models = at.table[0].value.reset_index()  # a static table: a long architecture wraps rather than is cut
    assert list(models["id"]) == ["tiny-a", "tiny-b"]
    assert list(models.columns[:6]) == ["model", "default", "version", "accuracy", "macro AUC", "tested on"]
    assert list(models["tested on"]) == ["1 source", "1 source"]  # tiny entries record no test split
    assert "sources" not in models.columns  # the sources table below says which model used which source
    assert any("rows tested on different films do not compare" in t for t in texts(at.caption))
    sources = at.table[1].value.reset_index()  # a static table: its long origins and licences wrap
    assert dict(zip(sources["source"], sources["licence"]))["covid-cxnet"] == "CC BY 4.0"
    assert "synthetic" in list(sources["source"])
    # the models by their display names, one a line (ids broke at their hyphens at 1366 px)
    assert dict(zip(sources["source"], sources["used by"]))["synthetic"] == ("Tiny test model tiny-a  \n"
                                                                              "Tiny test model tiny-b")
    assert any("not a diagnosis" in text for text in texts(at.markdown))


def drawn_elements(block):
    """Every element under a block of the page (nested blocks walked), for checks on all it draws."""
    for child in getattr(block, "children", {}).values():
        yield child
        yield from drawn_elements(child)


def test_about_page_draws_no_invisible_characters(tmp_path, monkeypatch):
    """A long architecture wraps by the table's style, not by zero-width spaces in its text: copied from the page,
    "two_channel(​ensemble(​mobilenet" carried invisible characters into a reader's notes."""
    from model.registry import read_card, write_card

    write_tiny_entry(tmp_path, "tiny-long", default=True)
    card = read_card("tiny-long", tmp_path)
    card.architecture = "two_channel(ensemble(mobilenet, mobilenet) on the lung fields, frozen mobilenet on the lung box)"
    write_card(card, tmp_path)
    monkeypatch.setenv("CXR_REGISTRY", str(tmp_path))
    at = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "about")
    no_failure(at)
    drawn = [element.proto.SerializeToString() for element in drawn_elements(at.main) if hasattr(element, "proto")]
    assert any(card.architecture.encode() in data for data in drawn)  # the walk reaches the table's cells
    assert not any("\u200b".encode() in data for data in drawn)


@pytest.mark.parametrize("page", ["diagnose", "performance", "compare", "gallery", "about", "evaluate"])
def test_every_page_explains_an_empty_registry(tmp_path, monkeypatch, page):
    monkeypatch.setenv("CXR_REGISTRY", str(tmp_path))
    st.cache_data.clear()
    at = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), page)
    assert not at.exception
    assert not at.error
    assert any("No usable classifier" in text for text in texts(at.warning))


def test_a_damaged_model_file_is_one_clear_error(test_registry, tmp_path, monkeypatch):
    import shutil

    from model.registry import model_file, read_card, write_card

    shutil.copytree(test_registry / "tiny-a", tmp_path / "damaged")
    card = read_card("tiny-a", test_registry)
    card.id, card.display_name = "damaged", "Damaged model"
    write_card(card, tmp_path)
    model_file("damaged", tmp_path).write_bytes(b"PK\x03\x04 not really a keras archive")
    monkeypatch.setenv("CXR_REGISTRY", str(tmp_path))
    st.cache_data.clear()
    at = upload(open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT), "diagnose"), IMAGE)
    assert not at.exception
    assert len(at.error) == 1 and "could not be loaded" in at.error[0].value
    assert not at.main.image


def test_streamlits_end_of_run_clear_session_keeps_tensorflow_caches(monkeypatch):
    """Streamlit calls keras.backend.clear_session() after every run, which would re-instantiate
    every traced model function on the next upload; only Streamlit's own call is skipped."""
    import keras

    from dashboard import caching

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    caching.keep_tensorflow_caches_between_runs()
    caching.keep_tensorflow_caches_between_runs()  # idempotent: wrapped once
    exec("import keras\nkeras.backend.clear_session()", {"__name__": "streamlit.runtime.scriptrunner.script_runner"})
    assert calls == []
    keras.backend.clear_session()  # anyone else still clears
    assert calls == [1]


def test_loading_a_model_installs_the_guard(app, monkeypatch):
    import keras

    from dashboard import caching

    # Start from the real clear_session and no cached model, whatever earlier tests did.
    real = getattr(keras.backend.clear_session, "__wrapped__", keras.backend.clear_session)
    monkeypatch.setattr(keras.backend, "clear_session", real)
    caching.cached_classifier.clear()
    upload(open_page(app, "diagnose"), IMAGE)
    assert getattr(keras.backend.clear_session, "keeps_caches", False)


def test_all_methods_side_by_side_and_the_grid_occlusion_on_demand(app):
    from model.explain import METHODS

    at = upload(open_page(app, "diagnose"), IMAGE)
    assert len(at.main.image) == 1
    at.toggle(key="all_methods").set_value(True).run()
    no_failure(at)
    # The overlay, every method's map, and the occlusion cross-check its occlusion map made (trust tab).
    assert len(at.main.image) == 1 + len(METHODS) + 1
    assert sum(c.startswith("Occlusion sensitivity for ") for i in at.main.image for c in i.captions) == 1
    names = [m.value.split("**")[1] for m in at.main.markdown if m.value.startswith("**") and
             m.value.split("**")[1] in {method.label for method in METHODS.values()}]
    assert names == [method.label for method in METHODS.values()]  # LayerCAM and occlusion included
    at.toggle(key="grid_occlusion").set_value(True).run()
    no_failure(at)
    assert any(image.captions[0].startswith("Fall of ") for image in at.main.image)
    largest = next(m for m in at.main.metric if m.label == "Largest fall")
    assert largest.value.endswith(" points")


def test_layers_for_people_and_the_zoom_view(app):
    at = upload(open_page(app, "diagnose"), IMAGE)
    layer = at.selectbox(key="layer-tiny-a")
    assert layer.options[0] == "block 2 (last), second convolution (default)"
    assert "first layers, convolution" not in layer.options and not any("_" in o for o in layer.options)
    at.toggle(key="advanced_layers").set_value(True).run()
    assert "first layers, convolution" in at.selectbox(key="layer-tiny-a").options
    at.selectbox(key="layer-tiny-a").set_value("stem_conv").run()
    no_failure(at)
    assert any("edges" in text for text in texts(at.caption))
    at.toggle(key="zoom").set_value(True).run()
    no_failure(at)
    zoom = next(spec for spec in plotly_specs(at) if [t.get("type") for t in spec["data"]] == ["image", "image"])
    assert zoom["layout"]["xaxis2"]["matches"] == "x" and zoom["layout"]["yaxis2"]["matches"] == "y"
    assert zoom["layout"]["dragmode"] == "zoom"  # drag to zoom, not to pan
    # The figure fills a box kept at the film's shape (a square film: two square panels and the toolbar).
    from model.present.diagnose_figures import zoom_aspect, zoom_box_style

    assert zoom["layout"]["autosize"] and "height" not in zoom["layout"]
    chart = next(c for c in at.get("plotly_chart") if json.loads(c.proto.spec) == zoom)
    assert json.loads(chart.proto.config)["showTips"] is False  # no tip over the sliders after a zoom
    styles = [h.proto.body for h in at.get("html")]
    # the colour bar under it spans the panels, not the toolbar margin
    assert zoom_box_style("zoom_box", zoom_aspect((128, 128)), under=("zoom_legend",)) in styles
    assert any("scaled to this image's maximum" in text for text in texts(at.main.caption))  # the colour bar


# --------------------------------------------------------------------------- scope facts on Diagnose


def dicom_film(**elements) -> bytes:
    from tests.support import dicom_bytes

    stored = np.round(synthetic_radiograph(128, seed=3, lesion=(0.45, 0.3)) * 4095).astype(np.uint16)
    return dicom_bytes(stored, **elements)


@pytest.mark.parametrize("elements, reason", [
    ({"PatientAge": "006Y"}, "patient's age as 6 years"),
    ({"ViewPosition": "LL"}, "the view LL, a lateral film"),
])
def test_a_child_or_a_lateral_view_from_the_dicom_header_is_out_of_scope(app, elements, reason):
    at = upload(open_page(app, "diagnose"), dicom_film(**elements), name="scan.dcm")
    no_failure(at)
    status = [t for t in texts(at.markdown) if t.startswith(":red[:material/block: **Out of scope: no answer shown (")]
    assert len(status) == 1 and reason in status[0], texts(at.markdown)
    assert not [m for m in at.main.metric if m.label == "Model output"]
    assert any("(DICOM header)" in t for t in texts(at.sidebar.caption))


def test_a_plain_film_with_a_reader_stated_age_of_8_is_out_of_scope(app):
    at = upload(open_page(app, "diagnose"), IMAGE)
    assert [m for m in at.main.metric if m.label == "Model output"]
    banner = [t for t in texts(at.info) + texts(at.warning) if "(age and view not stated)" in t]
    assert len(banner) == 1 and "Read as an adult's frontal film (age and view not stated)" in banner[0]
    assert "State the age and view in the side panel, under *About this film*." in banner[0]
    # The controls sit right under the upload, before the model picker and the model's figures.
    assert [n for n in at.sidebar.number_input if n.key.startswith("age-")]
    age = next(n for n in at.number_input if n.key.startswith("age-"))
    age.set_value(8).run()
    no_failure(at)
    status = [t for t in texts(at.markdown) if "Out of scope: no answer shown (a child's film)" in t]
    assert len(status) == 1 and "The reader gives the patient's age as 8 years" in status[0]
    assert not [m for m in at.main.metric if m.label == "Model output"]
    # An adult's age and a frontal view: no assumption left to state.
    next(n for n in at.number_input if n.key.startswith("age-")).set_value(45).run()
    next(s for s in at.selectbox if s.key.startswith("view-")).set_value("PA (frontal)").run()
    no_failure(at)
    assert not any("not stated" in t or "State the" in t for t in texts(at.info) + texts(at.warning))


def age_box(at: AppTest, prefix: str = ""):
    return next(n for n in at.number_input if n.key.startswith(f"{prefix}age-"))


def child_status(at: AppTest) -> list[str]:
    return [t for t in texts(at.markdown) if "Out of scope: no answer shown (a child's film)" in t]


def test_a_stated_age_stays_with_the_film_after_a_visit_to_another_page(app):
    """Streamlit drops the state of widgets a run does not draw: the kept film came back read as an adult's,
    with an answer and a map, while the reader had said 8 years."""
    at = upload(open_page(app, "diagnose"), IMAGE)
    age_box(at).set_value(8).run()
    assert len(child_status(at)) == 1
    for page in ("about", "gallery"):
        at.switch_page(f"views/{page}_page.py").run()
        at.switch_page("views/diagnose_page.py").run()
        no_failure(at)
        assert any("uploaded earlier in this session" in text for text in texts(at.main.caption))
        assert age_box(at).value == 8, f"the stated age was lost after a visit to {page}"
        status = child_status(at)
        assert len(status) == 1 and "The reader gives the patient's age as 8 years" in status[0]
        assert not [m for m in at.main.metric if m.label == "Model output"]
        assert all("No answer and no map are shown" in i.captions[0] for i in at.main.image)  # the film alone
    # The view too; and another film starts unstated.
    next(s for s in at.selectbox if s.key.startswith("view-")).set_value("lateral").run()
    at.switch_page("views/about_page.py").run()
    at.switch_page("views/diagnose_page.py").run()
    assert next(s for s in at.selectbox if s.key.startswith("view-")).value == "lateral"
    at = upload(at, png_bytes(synthetic_radiograph(128, seed=11)))
    assert age_box(at).value is None and not child_status(at)
    assert next(s for s in at.selectbox if s.key.startswith("view-")).value == "not stated"


def compare_badges(at: AppTest) -> list[str]:
    return [text for text in texts(at.markdown) if "-badge[" in text]


def test_compare_reads_a_film_under_what_the_reader_stated_on_either_page(app):
    """Diagnose said "out of scope, a child" and Compare "Answer" for the same film: Compare had no statement."""
    at = upload(open_page(app, "diagnose"), IMAGE)
    age_box(at).set_value(8).run()
    at.switch_page("views/compare_page.py").run()
    at = upload(at, IMAGE)
    no_failure(at)
    badges = compare_badges(at)
    assert len(badges) == 2 and all("Out of scope]" in b for b in badges), badges
    assert sum("The reader gives the patient's age as 8 years" in t for t in texts(at.caption)) == 2
    assert not [m for m in at.metric if m.label.startswith("Model output")] and not at.image
    assert age_box(at, "compare-").value == 8  # the statement shown where it applies
    # Compare's own control, for another film, holds on Diagnose too.
    other = png_bytes(synthetic_radiograph(128, seed=11))
    at = upload(at, other)
    assert all("Out of scope]" not in b for b in compare_badges(at))
    age_box(at, "compare-").set_value(8).run()
    no_failure(at)
    assert all("Out of scope]" in b for b in compare_badges(at))
    next(s for s in at.selectbox if s.key.startswith("compare-view-")).set_value("lateral").run()
    assert sum("The reader gives the view as lateral" in t for t in texts(at.caption)) == 2
    at.switch_page("views/diagnose_page.py").run()
    at = upload(at, other)
    no_failure(at)
    assert age_box(at).value == 8
    assert next(s for s in at.selectbox if s.key.startswith("view-")).value == "lateral"
    assert any("Out of scope: no answer shown (a lateral view and a child's film)" in t for t in texts(at.markdown))


@pytest.mark.filterwarnings("ignore:Invalid value for VR AS:UserWarning")
@pytest.mark.parametrize("elements, reason", [
    ({"PatientAge": "ABC"}, "the DICOM header gives an age that is not in DICOM's form, such as 045Y"),
    ({"PatientBirthDate": "20300101", "StudyDate": "20250101"}, "the DICOM header gives a birth date after the study"),
])
def test_a_dicom_age_that_cannot_be_used_is_explained_as_the_cli_explains_it(app, elements, reason):
    from model.inputs.intake import load_xray
    from model.trust.facts import fact_findings, scope_facts

    film = dicom_film(**elements)
    cli = next(f.sentence for f in fact_findings(scope_facts(load_xray(film).metadata)) if f.kind == "age_not_known")
    at = upload(open_page(app, "diagnose"), film, name="scan.dcm")
    no_failure(at)
    banner = [t for t in texts(at.info) + texts(at.warning) if "Read as an adult's film" in t]
    assert len(banner) == 1 and "(the DICOM header's age could not be used)" in banner[0], banner
    assert "not stated" not in banner[0]  # the header stated one: it could not be read
    assert reason in cli and cli in banner[0]  # the CLI's own sentence (`model.predict` prints the finding's)
    assert any("age could not be used" in t for t in texts(at.sidebar.caption))
    at.switch_page("views/compare_page.py").run()
    at = upload(at, film, name="scan.dcm")
    assert sum(cli in t for t in texts(at.caption)) == 2


def test_every_term_has_a_plain_line_and_the_page_takes_no_sentence_apart(app):
    import ast

    from model.present.glossary import GLOSSARY

    at = upload(open_page(app, "diagnose"), IMAGE)
    listed = "\n".join(m.value for m in at.main.markdown)
    for term, meaning in GLOSSARY.items():  # each term with its line, as wrapped text (a table cut the lines)
        assert f"- **{term}**: {meaning}" in listed and len(meaning) > 20
    page = (APP.parent / "views" / "diagnose_page.py").read_text()
    for pattern in ('split(": ", 1)', "removesuffix(\" The image", 'startswith("Network', ".split(':')",
                    "input_check_panel"):
        assert pattern not in page, pattern
    for path in (APP.parent / "views" / "diagnose_page.py", APP.parent / "case.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = len(node.args.args) + len(node.args.kwonlyargs) + len(node.args.posonlyargs)
                assert count <= 7, f"{path.name}: {node.name} has {count} parameters"


def frame_with(at: AppTest, column: str):
    return next(d.value for d in at.main.dataframe if column in d.value.columns)
