"""Entry point of the chest X-ray explainability dashboard: `streamlit run dashboard/app.py`.

Run it from the repository root so that `.streamlit/config.toml` (dark theme, 30 MB uploads, no
usage statistics, no error details in the browser) applies. The pages live in `dashboard/views/`
(not `pages/`, which Streamlit would also pick up on its own) and are registered with
`st.navigation`.

This file plays two parts. `streamlit run` finds the `st.App` below and imports this file as the
server (no script is running then): the server adds one route per page, so that a direct link such
as `/performance` loads without the two 404s Streamlit's page otherwise makes (it first looks for
its server under `/performance/_stcore/...`, streamlit/streamlit#7074). Every session then runs
this same file as its script, which draws the navigation. Nothing is fetched from outside the
server: the page icon is `dashboard/icon.png` (a `:material/...:` page icon would be fetched from
fonts.gstatic.com) and Streamlit serves its own fonts.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path.
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter is not for users.

import streamlit as st  # noqa: E402
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: E402

from dashboard.page_head import COMPACT_HEAD  # noqa: E402

log = logging.getLogger("dashboard")

ICON = Path(__file__).resolve().parent / "icon.png"
# (page, title, icon, url path); the first page is the default and lives at "/".
NAVIGATION = (
    ("diagnose", "Diagnose & explain", ":material/radiology:", ""),
    ("performance", "Model performance", ":material/monitoring:", "performance"),
    ("compare", "Compare versions", ":material/compare:", "compare"),
    ("gallery", "Case gallery", ":material/grid_view:", "gallery"),
    ("evaluate", "Evaluate on your data", ":material/fact_check:", "evaluate"),
    ("about", "About", ":material/info:", "about"),
)
# Placed before Streamlit's own script, it tells the page that the server is at the site's root.
ROOT_IS_THE_SERVER = '<script>window.__streamlit = {BACKEND_BASE_URL: window.location.origin + "/"};</script>'


def page_html() -> str:
    """Streamlit's index.html, told that its server lives at the root whatever page it is opened on, with the
    pages' compact head (`dashboard.page_head`) in place before anything is drawn."""
    index = Path(st.__file__).resolve().parent / "static" / "index.html"
    return index.read_text(encoding="utf-8").replace("<head>", "<head>\n    " + ROOT_IS_THE_SERVER + COMPACT_HEAD, 1)


def page_routes() -> list:
    """One GET route per page's url path, the default page's "/" too (before Streamlit's own, which serves its
    page without the compact head)."""
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    html = page_html()

    async def page(request):
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    return [Route(f"/{url_path}", page, methods=["GET", "HEAD"]) for *_, url_path in NAVIGATION]


def draw() -> None:
    """The script every session runs: page settings, navigation and the chosen page."""
    # Imported here, not by the server: the pages' caches must be made once Streamlit's runtime runs.
    from dashboard.widgets import PAGES

    st.set_page_config(page_title="CXR explainability", page_icon=str(ICON), layout="wide",
                       initial_sidebar_state="expanded")
    page = st.navigation([st.Page(PAGES[name], title=title, icon=icon, url_path=url_path or None,
                                  default=not url_path)
                          for name, title, icon, url_path in NAVIGATION])
    try:
        page.run()
    except Exception:  # The last safety net: a person sees one sentence, the server log gets the traceback.
        log.exception("page %s failed", page.title)
        st.error("Something went wrong while drawing this page; the details were written to the server log. "
                 "Please try another image or model, or reload the page.", icon=":material/error:")


if get_script_run_ctx(suppress_warning=True) is None:  # imported by `streamlit run` as the server
    app = st.App(__file__, routes=page_routes())
else:  # a session's run
    draw()
