"""Several people at once: 8 dashboard sessions in threads, each uploading and explaining its own image.

AppTest was written for one session at a time: each run installs a mock Streamlit runtime as a process-wide
singleton and removes it afterwards, and patches `config.get_option` around the run. Here one runtime is
shared by all sessions, as in a real server process, and `global.appTest` stays on for the whole test.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from unittest.mock import MagicMock

import numpy as np
import pytest

from tests.support import png_bytes, synthetic_radiograph

st = pytest.importorskip("streamlit")
from streamlit import config  # noqa: E402
from streamlit.components.v2.component_manager import BidiComponentManager  # noqa: E402
from streamlit.runtime import Runtime  # noqa: E402
from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager  # noqa: E402
from streamlit.runtime.dataframe_source_manager import DataframeSourceManager  # noqa: E402
from streamlit.runtime.media_file_manager import MediaFileManager  # noqa: E402
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
SESSIONS = int(os.environ.get("CXR_TEST_SESSIONS", 8))


@pytest.fixture()
def one_runtime(monkeypatch):
    """One Streamlit runtime for every AppTest session of the test, whatever each run installs or removes."""
    runtime = MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.dataframe_source_mgr = DataframeSourceManager()
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    runtime.bidi_component_registry = BidiComponentManager()
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: runtime))
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(Runtime, "_instance", runtime)
    real_get_option = config.get_option
    monkeypatch.setattr(config, "get_option",
                        lambda name: True if name == "global.appTest" else real_get_option(name))
    return runtime


@pytest.fixture()
def model_loads(monkeypatch) -> list[str]:
    """The id of every model file loaded from now on (the cached models of earlier tests are dropped)."""
    import model.classifier as classifier

    loads, original = [], classifier.load_model

    def counting(model_id, root=None):
        loads.append(model_id)
        return original(model_id, root)

    monkeypatch.setattr(classifier, "load_model", counting)
    st.cache_resource.clear()
    st.cache_data.clear()
    return loads


@pytest.fixture()
def explained(monkeypatch) -> list:
    """(model input, heatmap at model resolution, (method, target, layer)) of every explanation the
    sessions compute."""
    from model.classifier import Classifier
    calls, original, lock = [], Classifier.analyse, threading.Lock()

    def recording(self, model_input, *args, **kwargs):
        result = original(self, model_input, *args, **kwargs)
        with lock:
            calls.append((np.array(model_input.array), result[1].heatmap.copy(), args))
        return result

    monkeypatch.setattr(Classifier, "analyse", recording)
    return calls


def session_image(i: int) -> bytes:
    """A different image per session: its own size, noise and lesion position."""
    return png_bytes(synthetic_radiograph(96 + 8 * i, seed=100 + i, lesion=(0.3 + 0.05 * i, 0.25 + 0.06 * i)))


def run_session(i: int, results: dict, barrier: threading.Barrier) -> None:
    try:
        at = AppTest.from_file(str(APP), default_timeout=600)
        at.run()
        barrier.wait(timeout=600)  # every session uploads at the same moment
        at.file_uploader[0].set_value((f"scan{i}.png", session_image(i), "image/png"))
        at.run()
        at.selectbox(key="method").set_value("gradcam++").run()  # explain with a second method
        # The probability bars carry the unrounded figures (percent) the page shows.
        import base64
        import json

        bars = next(spec for spec in (json.loads(chart.proto.spec) for chart in at.main.get("plotly_chart"))
                    if spec["data"][0].get("orientation") == "h")
        x = bars["data"][0]["x"]  # plotly sends arrays as {"dtype", "bdata"} (base64)
        x = np.frombuffer(base64.b64decode(x["bdata"]), x["dtype"]) if isinstance(x, dict) else np.asarray(x)
        results[i] = {
            "exceptions": [e.value for e in at.exception], "errors": [e.value for e in at.error],
            "captions": [c.value for c in at.main.caption if c.value.startswith("Original (")]
                        + [image.captions[0] for image in at.main.image],
            "output": at.main.metric[0].value if at.main.metric else None,
            "probabilities": x.astype(float) / 100.0,
        }
    except Exception as exc:  # noqa: BLE001 - reported by the test, with the session it came from
        results[i] = {"crash": repr(exc)}


def test_eight_sessions_at_once_get_their_own_correct_results(registry_env, one_runtime, model_loads, explained):
    from model.classifier import Classifier
    from model.inputs.intake import load_xray

    results, barrier = {}, threading.Barrier(SESSIONS)
    threads = [threading.Thread(target=run_session, args=(i, results, barrier)) for i in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    assert not any(thread.is_alive() for thread in threads), "a session hung"

    assert model_loads == ["tiny-a"], "the model was not loaded exactly once for all sessions"
    reference = Classifier.load("tiny-a", registry_env)
    for i in range(SESSIONS):
        result = results[i]
        assert "crash" not in result, (i, result)
        assert result["exceptions"] == [] and result["errors"] == [], (i, result)
        xray = load_xray(session_image(i))
        # The page's output and bars are the film's own calibrated pass (one probability).
        expected = reference.predict_input(reference.prepare(xray.pixels))
        size = 96 + 8 * i
        assert result["captions"][0].startswith(f"Original (PNG, {size} x {size} px)"), (i, result["captions"])
        assert result["captions"][1].startswith(f"Grad-CAM++ for {expected.label}"), (i, result["captions"])
        assert result["output"] == expected.label
        np.testing.assert_allclose(result["probabilities"], expected.probabilities, atol=1e-5)
    # The sessions' probabilities differ from one another, so a swapped result could not pass the above.
    assert len({tuple(np.round(results[i]["probabilities"], 5)) for i in range(SESSIONS)}) == SESSIONS

    # Every map computed under load equals the same map computed alone.
    under_load = list(explained)
    assert len(under_load) >= 2 * SESSIONS
    for array, heatmap, args in under_load:
        alone = reference.explain_input(array, *args[:3])
        np.testing.assert_allclose(heatmap, alone.heatmap, atol=1e-4)
