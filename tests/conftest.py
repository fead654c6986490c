"""Shared fixtures: a small test registry of tiny models, pointed to by CXR_REGISTRY."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
