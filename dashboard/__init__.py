"""Streamlit dashboard over the `model` core: `streamlit run dashboard/app.py`."""
