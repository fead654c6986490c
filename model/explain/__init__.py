"""Explanation methods, one module each, listed once here.

    from model.explain import METHODS, method
    method("gradcam").label          # "Grad-CAM"
    [m.name for m in METHODS.values() if not m.slow]

To add a method: write a module with a `METHOD = Method(...)` record (see `model.explain.base`)
and add it to the tuple below. Every CLI, page, report and benchmark lists this registry.
"""
from __future__ import annotations

from model.explain import gradcam, gradcam_plus_plus, layercam, occlusion, scorecam, smoothgrad
from model.explain.base import Method

METHODS: dict[str, Method] = {m.name: m for m in (
    gradcam.METHOD,
    gradcam_plus_plus.METHOD,
    layercam.METHOD,
    scorecam.METHOD,
    smoothgrad.METHOD,
    occlusion.METHOD,
)}


def method(name: str) -> Method:
    """The record of a method; ValueError naming the known ones for anything else."""
    if name not in METHODS:
        raise ValueError(f"unknown explanation method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name]


def method_label(name: str) -> str:
    """A method's label for people ("Grad-CAM++"); a name the registry does not know (an older report's,
    or "occlusion") is shown as it is."""
    return METHODS[name].label if name in METHODS else name


def check_method(name: str) -> str:
    return method(name).name
