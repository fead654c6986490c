#!/usr/bin/env bash
# Creates the project's virtual environment (.venv), installs what the dashboard needs and starts it:
#   bash dashboard/start.sh                        # then open http://localhost:8501
#   bash dashboard/start.sh --server.port 8601     # other arguments go to `streamlit run` as they are
# With --install-only FILE it only makes the environment and installs FILE (tests/run.sh uses it).
# Works where the system pip refuses installs ("externally-managed-environment", Debian/Ubuntu):
# nothing is installed outside .venv. On a Python without ensurepip (Debian without python3-venv)
# the environment is made without pip and the system pip installs into it (pip >= 22.3: --python).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CXR_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
requirements=requirements.txt
start=1
if [[ "${1:-}" == "--install-only" ]]; then
  requirements="${2:?--install-only needs a requirements file}"
  start=0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    "$PYTHON" -m venv --without-pip "$VENV"
  fi
fi
if "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
else
  "$PYTHON" -m pip --python "$VENV/bin/python" install -q --disable-pip-version-check -r "$requirements"
fi
if (( start )); then
  exec "$VENV/bin/python" -m streamlit run dashboard/app.py "$@"
fi
