#!/usr/bin/env bash
# Installs what the tests need and runs them all: `bash tests/run.sh` (README, Quick start).
# Debian's chromium is installed for the browser test when it is missing and we may use apt-get;
# Playwright drives it through /usr/bin/chromium and never downloads a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x /usr/bin/chromium ]] && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the browser test will be skipped" >&2
fi
python -m pip install -q -r requirements-dev.txt
python -m pytest "$@"
