"""Core of the CXR explainability dashboard: intake, preprocessing, registry, prediction, explanations.

Nothing in this package imports Streamlit: the dashboard, the CLI and training all call it.
"""
