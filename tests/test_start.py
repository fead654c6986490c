"""`dashboard/start.sh`, the README's first command: it installs into the project's environment, passes
extra arguments to Streamlit, and the Streamlit settings it starts with make no outbound call.

The script runs for real against a stand-in environment whose `python` only records how it was called,
so nothing is installed and no server starts.
"""
from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_start(tmp_path: Path, *args: str) -> list[str]:
    """Run start.sh with a recording stand-in for `.venv/bin/python`; returns the calls it received."""
    calls = tmp_path / "calls.txt"
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n', encoding="utf-8")
    python.chmod(0o755)
    result = subprocess.run(["bash", str(ROOT / "dashboard" / "start.sh"), *args], capture_output=True, text=True,
                            env={**os.environ, "CXR_VENV": str(python.parents[1])}, timeout=60)
    assert result.returncode == 0, result.stderr
    return calls.read_text(encoding="utf-8").splitlines()


def test_start_installs_then_passes_extra_arguments_to_streamlit(tmp_path):
    calls = run_start(tmp_path, "--server.port", "8601")
    assert "-r requirements.txt" in calls[-2]
    assert calls[-1] == "-m streamlit run dashboard/app.py --server.port 8601"


def test_install_only_installs_the_named_requirements_and_starts_nothing(tmp_path):
    calls = run_start(tmp_path, "--install-only", "requirements-dev.txt")
    assert "-r requirements-dev.txt" in calls[-1]
    assert not any("streamlit" in call for call in calls)


def test_the_dashboard_settings_make_no_outbound_call_at_start():
    """Without a named browser address, Streamlit asks an outside service for the public IP at every
    start (and logs "Did not auto detect external IP" offline); naming it skips the look-up."""
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["browser"]["serverAddress"] == "localhost"
    assert settings["browser"]["gatherUsageStats"] is False


def test_the_servers_upload_limit_lets_the_widgets_through():
    """The upload widget lets files up to WIDGET_LIMIT_MB reach the core (which refuses what is over its own
    limit with a sentence on the page); the server's maxUploadSize must not cut them off first."""
    import tomllib

    from dashboard.widgets import UPLOAD_LIMIT_MB, WIDGET_LIMIT_MB

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] >= WIDGET_LIMIT_MB > UPLOAD_LIMIT_MB
