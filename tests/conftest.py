"""Shared fixtures (a small test registry of tiny models, pointed to by CXR_REGISTRY) and the run's
temporary folder.

Everything a test run writes to the system's temporary folder (pytest's `tmp_path` folders, the
files TensorFlow's autograph generates, what the CLI and Streamlit subprocesses write) goes into one
folder of its own, removed when the run ends: a run leaves nothing behind in /tmp. Set
`CXR_KEEP_TEST_TMP=1` to keep it for a look after a failure (its path is printed in the header).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
_RUN_TEMP = pytest.StashKey[tuple[Path, str | None, str | None]]()


def pytest_configure(config):
    """Point the temporary folder of this process and its subprocesses at a folder of the run's own."""
    folder = Path(tempfile.mkdtemp(prefix="cxr-tests-"))
    config.stash[_RUN_TEMP] = (folder, tempfile.tempdir, os.environ.get("TMPDIR"))
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)


def pytest_report_header(config):
    return f"temporary files: {config.stash[_RUN_TEMP][0]} (removed at the end unless CXR_KEEP_TEST_TMP=1)"


def pytest_sessionfinish(session, exitstatus):
    """Wait for the dashboard's background model loads (`dashboard.caching.load_in_background`, daemon
    threads) that pages opened in tests started: one still inside TensorFlow when the interpreter
    shuts down aborts the process ("terminate called ... exception not rethrown") after every test
    has passed."""
    for thread in threading.enumerate():
        if thread.name.startswith("cxr-load-"):
            thread.join(timeout=120)


def pytest_unconfigure(config):
    folder, previous_tempdir, previous_env = config.stash[_RUN_TEMP]
    tempfile.tempdir = previous_tempdir
    if previous_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous_env
    if os.environ.get("CXR_KEEP_TEST_TMP") != "1":
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def test_registry(tmp_path_factory) -> Path:
    """Two tiny classifier entries, `tiny-a` (default) and `tiny-b`, and one broken entry."""
    from tests.support import write_tiny_entry

    root = tmp_path_factory.mktemp("registry")
    write_tiny_entry(root, "tiny-a", seed=0, default=True)
    write_tiny_entry(root, "tiny-b", seed=1)
    broken = root / "broken"
    broken.mkdir()
    (broken / "card.json").write_text("{not json", encoding="utf-8")
    return root


@pytest.fixture()
def registry_env(test_registry, monkeypatch) -> Path:
    """Point the whole project (CLI, dashboard) at the test registry."""
    monkeypatch.setenv("CXR_REGISTRY", str(test_registry))
    return test_registry


@pytest.fixture(scope="session")
def shared_cxr() -> Path:
    """The real data pool; tests that need it are skipped cleanly when it is absent."""
    manifest = SHARED_DATA / "cxr" / "manifest.csv"
    if not manifest.is_file():
        pytest.skip("real data ../shared/data/cxr is not available")
    return manifest.parent
