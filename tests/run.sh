#!/usr/bin/env bash
# Installs what the tests need into the project's virtual environment (.venv) and runs them all:
#   bash tests/run.sh        (README, Quick start; CI runs exactly this through .ci/run)
# Debian's chromium is installed for the browser test when it is missing and we may use apt-get;
# Playwright drives it through /usr/bin/chromium and never downloads a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
# The DejaVu fonts lay out the report, whose PDF then carries real text (tested).
if { [[ ! -x /usr/bin/chromium ]] || [[ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; } \
    && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null) \
    || echo "warning: could not install chromium or the DejaVu fonts; the tests that need them will be skipped" >&2
fi
bash dashboard/start.sh --install-only requirements-dev.txt
# One test process per core plus one (pytest-xdist), at most four: the browser tests spend much of their
# time waiting for a dashboard server in a process of its own, and the extra process uses that time
# (measured on 2 cores: 7 min 1 s with two processes, 6 min 4 s with three, 6 min 26 s with four).
# A file's tests stay in one process, so its module fixtures (a trained run, the dashboard server)
# are built once. CXR_TEST_WORKERS overrides.
cores=$(nproc 2>/dev/null || echo 2)
workers="${CXR_TEST_WORKERS:-$(( cores + 1 < 4 ? cores + 1 : 4 ))}"
# pytest-xdist hands out the files with the most tests first, which mixes the few long browser and
# training files with many short ones; handing the longest files out first was tried and was slower
# (6 min 12 s against 5 min 37 s on a clean clone: the long files then compete for the cores together).
exec "${CXR_VENV:-.venv}/bin/python" -m pytest -n "$workers" --dist loadfile "$@"
