"""Diagnose with a two-channel default model (the film and its lung-field mask as one input): the
answer, the map and the film grid render without an exception, and figures match the core's."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import png_bytes, synthetic_radiograph, write_two_channel_entry

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
MODEL_ID = "two-channel"
IMAGE = png_bytes(synthetic_radiograph(96, seed=3, lesion=(0.45, 0.3)))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-channel-dashboard")
    write_two_channel_entry(root, MODEL_ID, default=True)
    return root


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_diagnose_with_a_two_channel_default_shows_answer_map_and_film_grid(registry, monkeypatch):
    from model.classifier import Classifier
    from model.explain.film_grid import hide_cells
    from model.inputs.intake import load_xray

    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    monkeypatch.delenv("CXR_DATA", raising=False)
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=240).run()
    at.file_uploader[0].set_value(("chest.png", IMAGE, "image/png")).run()
    no_failure(at)
    assert at.selectbox(key="diagnose_model").value == MODEL_ID
    clf = Classifier.load(MODEL_ID, registry)
    prepared = clf.prepare(load_xray(IMAGE).pixels)
    assert prepared.array.shape == (32, 32, 2)
    expected = clf.predict_input(prepared)
    output = at.main.metric[0]
    assert (output.label, output.value) == ("Model output", expected.label)
    # The map: one overlay on the film (the mask channel is never shown as an image).
    assert len(at.main.image) == 1 and at.main.image[0].captions[0].startswith(f"Grad-CAM for {expected.label}")
    assert any("its lung-masked networks only the lung fields inside it" in c.value for c in at.main.caption)
    # The film grid: two hidden cells give the core's figure with the mask kept.
    at.session_state["hidden_cells"] = [14, 15]
    at.run()
    no_failure(at)
    hidden = hide_cells(clf.predict_inputs, prepared, clf.card.prep, (14, 15), 6)
    after = dict(zip(clf.labels, hidden.probabilities))[expected.label]
    shown = next(m for m in at.main.metric if m.label == "With 2 cells hidden")
    assert shown.value == f"{after:.1%}"
    # The grid's occlusion map, and a perturbation method, render too.
    at.button(key="unhide").click().run()
    at.toggle(key="all_methods").set_value(True).run()
    at.toggle(key="grid_occlusion").set_value(True).run()
    no_failure(at)
    assert any(image.captions[0].startswith("Fall of ") for image in at.main.image)


def test_a_map_at_one_networks_layer_says_so_on_the_page_and_in_the_report(registry, monkeypatch):
    """The page's caption under a layer of network 1 only ("the map explains that network's part ...") is the
    report's note too (the report named the layer and left the caveat out)."""
    from model.present.layers import member_layer_note
    from tests.test_dashboard_trust import capture_reports

    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    monkeypatch.delenv("CXR_DATA", raising=False)
    details = capture_reports(monkeypatch)
    at = AppTest.from_file(str(APP), default_timeout=240).run()
    at.file_uploader[0].set_value(("chest.png", IMAGE, "image/png")).run()
    layer = at.selectbox(key=f"layer-{MODEL_ID}")
    assert "network 1, block 2 (last), convolution" in layer.options
    layer.set_value("m1_conv2").run()
    no_failure(at)
    note = member_layer_note(1)
    assert any(note in c.value for c in at.main.caption)
    assert any(note in line for line in details[-1].notes), details[-1].notes
    # Back at the whole model's layer: no such note in either.
    from tests.support import TWO_CHANNEL_LAYER

    at.selectbox(key=f"layer-{MODEL_ID}").set_value(TWO_CHANNEL_LAYER).run()
    no_failure(at)
    assert not any("belongs to network" in c.value for c in at.main.caption)
    assert not any("belongs to network" in line for line in details[-1].notes)
