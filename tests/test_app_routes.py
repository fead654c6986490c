"""dashboard/app.py as the server `streamlit run` starts: a route for every page's url path that serves
Streamlit's page told its server is at the root (no 404s on a direct link), and a page icon that is a
local file (no request to an icon server). The browser check is tests/test_browser_pages.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Imported as `streamlit run` imports it, in a process of its own: outside a script run it builds the st.App.
PROBE = """
import json, sys
sys.path.insert(0, "dashboard")
import app
html = app.page_html()
print(json.dumps({"app": type(app.app).__name__, "routes": [r.path for r in app.page_routes()],
                  "paths": [p for *_, p in app.NAVIGATION], "icon": str(app.ICON),
                  "script": html.index(app.ROOT_IS_THE_SERVER), "module": html.index('<script type="module"'),
                  "head": html.index(app.COMPACT_HEAD), "body": html.index("<body")}))
"""


def test_every_page_has_a_route_and_the_page_icon_is_local():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["app"] == "App"
    # "/" too: Streamlit's own index.html lacks the compact head, and every page, the default one included,
    # draws its title compact from the first frame (tests/test_browser_pages.py).
    assert found["routes"] == [f"/{path}" for path in found["paths"]]
    assert set(found["paths"]) == {"", "performance", "compare", "gallery", "evaluate", "about"}
    # The root is named before Streamlit's own script runs, so it never looks for its server under a page.
    assert found["script"] < found["module"]
    assert found["head"] < found["body"]
    icon = Path(found["icon"])
    assert icon.is_file() and icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    source = (ROOT / "dashboard" / "app.py").read_text()
    assert "page_icon=str(ICON)" in source and 'page_icon=":' not in source
