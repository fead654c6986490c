"""The compact head every page shares, as CSS in the page's own `<head>` (`dashboard.app.page_html`).

Streamlit's own title and the space above it took ~140 px of a 1366 x 768 screen, so Compare's first screen held
only its version picker and half a curve. Drawn by the script (`st.markdown` or `st.html` before `st.title`), the
style arrived 0.1-1.7 s after the title, in a component Streamlit loads on demand: each page first showed the
large title 136 px down, then jumped. In the page's head it applies from the first paint. This module imports
nothing of the dashboard's: the server reads it before any session runs.
"""
from __future__ import annotations

# `html body` outranks Streamlit's own rules, which its styling library adds to the head after this one.
COMPACT_HEAD = """<style>
html body [data-testid="stMainBlockContainer"] {padding-top: 1.5rem; padding-bottom: 1rem;}
html body [data-testid="stMainBlockContainer"] h1 {padding-top: 0; padding-bottom: 0.1rem; font-size: 1.8rem;}
</style>"""
