"""Entry point of the chest X-ray explainability dashboard: `streamlit run dashboard/app.py`.

Run it from the repository root so that `.streamlit/config.toml` (dark theme, 30 MB uploads, no
usage statistics, no error details in the browser) applies. The pages live in `dashboard/views/`
(not `pages/`, which Streamlit would also pick up on its own) and are registered with
`st.navigation`.
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

from dashboard.widgets import PAGES  # noqa: E402

log = logging.getLogger("dashboard")

st.set_page_config(page_title="CXR explainability", page_icon=":material/radiology:", layout="wide",
                   initial_sidebar_state="expanded")

page = st.navigation([
    st.Page(PAGES["diagnose"], title="Diagnose & explain", icon=":material/radiology:", default=True),
    st.Page(PAGES["performance"], title="Model performance", icon=":material/monitoring:", url_path="performance"),
    st.Page(PAGES["compare"], title="Compare versions", icon=":material/compare:", url_path="compare"),
    st.Page(PAGES["gallery"], title="Case gallery", icon=":material/grid_view:", url_path="gallery"),
    st.Page(PAGES["evaluate"], title="Evaluate on your data", icon=":material/fact_check:", url_path="evaluate"),
    st.Page(PAGES["about"], title="About", icon=":material/info:", url_path="about"),
])
try:
    page.run()
except Exception:  # The last safety net: a person sees one sentence, the server log gets the traceback.
    log.exception("page %s failed", page.title)
    st.error("Something went wrong while drawing this page; the details were written to the server log. "
             "Please try another image or model, or reload the page.", icon=":material/error:")
