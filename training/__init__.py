"""Training and evaluation of chest X-ray classifiers for the model registry."""
