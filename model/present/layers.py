"""Layers for people: the explainable layers of a model, named for what they are, grouped by
ensemble member, the card's default first and the early (edge-detecting) layers marked advanced.

    choices = layer_choices(clf.layers(), card.explain_layer, card.training.get("members", ()))
    [c.label for c in choices if not c.advanced]   # what the page lists by default

Streamlit-free and pure: the page only draws these records.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ENSEMBLE_LAYER = "ensemble_features"
DEEP_SHARE = 1 / 3  # The last third of each network's layers is listed by default; the rest is "advanced".
EDGE_NOTE = ("Early layers respond to edges and textures, not to findings: their maps outline anatomy and say "
             "little about why the model chose a class.")
_MEMBER = re.compile(r"^m(\d+)_(.+)$")
_PARTS = [
    (re.compile(r"^stem_conv$"), "first convolution"),
    (re.compile(r"^stem_relu$"), "first activation"),
    (re.compile(r"^stage(\d+)_block(\d+)_(\d+)_conv$"), "stage {0}, block {1}, convolution {2}"),
    (re.compile(r"^stage(\d+)_block(\d+)_(\d+)_relu$"), "stage {0}, block {1}, activation {2}"),
    (re.compile(r"^stage(\d+)_block(\d+)_proj_conv$"), "stage {0}, block {1}, shortcut"),
    (re.compile(r"^stage(\d+)_block(\d+)_add$"), "stage {0}, block {1}, sum"),
    (re.compile(r"^stage(\d+)_block(\d+)_out$"), "stage {0}, block {1}, output"),
    (re.compile(r"^block(\d+)([a-z])_conv$"), "block {0}{1}, convolution"),
    (re.compile(r"^block(\d+)([a-z])_relu$"), "block {0}{1}, output"),
]


@dataclass(frozen=True)
class LayerChoice:
    """One explainable layer as a reader sees it.

    Attributes:
        name: the Keras layer name (what the explainers take).
        label: what it is, in words ("last feature map, both networks").
        group: the network it belongs to ("Network 1: cxr-resnet-lungs-v1"; "" for a single model or
            the ensemble's combined layer).
        default: whether it is the card's explained layer.
        advanced: an early layer (edge maps), listed only when asked for.
    """

    name: str
    label: str
    group: str = ""
    default: bool = False
    advanced: bool = False


def describe_part(name: str) -> str:
    """A layer name without its member prefix in words; unknown names come back unchanged."""
    for pattern, template in _PARTS:
        match = pattern.match(name)
        if match:
            return template.format(*match.groups())
    return name.replace("_", " ")


def _member(name: str) -> tuple[int | None, str]:
    match = _MEMBER.match(name)
    return (int(match.group(1)), match.group(2)) if match else (None, name)


def layer_choices(layers, default: str, members=()) -> list[LayerChoice]:
    """Every explainable layer (input side first in `layers`) as a `LayerChoice`, in display order:
    the default layer first, then each network's layers from the deepest, grouped by network.

    Args:
        layers: explainable layer names, input side first (`Classifier.layers()`).
        default: the card's `explain_layer`.
        members: the ensemble's member ids in order (`card.training["members"]`); layer `m1_...`
            belongs to the first. Empty for a single network.
    """
    layers = list(layers)
    members = list(members or ())
    by_group: dict[int | None, list[str]] = {}
    for name in layers:
        if name == ENSEMBLE_LAYER:
            continue
        by_group.setdefault(_member(name)[0], []).append(name)
    ensemble = any(index is not None for index in by_group)
    choices = []
    for index, names in by_group.items():
        if index is None:
            group = "Ensemble, other layers" if ensemble else ""
        else:
            member = members[index - 1] if 0 < index <= len(members) else ""
            group = f"Network {index}" + (f": {member}" if member else "")
        deep_from = len(names) - max(1, round(len(names) * DEEP_SHARE))
        for position, name in enumerate(names):
            part = describe_part(_member(name)[1])
            if position == len(names) - 1:
                part = f"last feature map ({part})" if part != "last feature map" else part
            label = f"{group.split(':')[0].lower()}, {part}" if group and index is not None else part
            choices.append(LayerChoice(name, label, group, name == default, position < deep_from and name != default))
    if ENSEMBLE_LAYER in layers:
        choices.append(LayerChoice(ENSEMBLE_LAYER, "last feature map, both networks", "",
                                   ENSEMBLE_LAYER == default, False))
    ordered = [c for c in choices if c.default]
    ordered[:0] = []
    rest = [c for c in choices if not c.default]
    # Deepest first within each group, groups in network order, the combined layer right after the default.
    combined = [c for c in rest if c.name == ENSEMBLE_LAYER]
    grouped: dict[str, list[LayerChoice]] = {}
    for choice in rest:
        if choice.name != ENSEMBLE_LAYER:
            grouped.setdefault(choice.group, []).append(choice)
    ordered += combined
    for group in grouped.values():
        ordered += list(reversed(group))
    if ordered and not any(c.default for c in ordered):  # a default that is not explainable: deepest first
        ordered.sort(key=lambda c: c.advanced)
    return [_labelled_default(c) for c in ordered]


def _labelled_default(choice: LayerChoice) -> LayerChoice:
    if not choice.default:
        return choice
    return LayerChoice(choice.name, f"{choice.label} (default)", choice.group, True, False)


def visible_choices(choices: list[LayerChoice], advanced: bool) -> list[LayerChoice]:
    """The choices a reader sees: all of them with `advanced`, else the default and the deeper layers."""
    return list(choices) if advanced else [c for c in choices if not c.advanced]


def layer_label(name: str | None, choices: list[LayerChoice]) -> str:
    """The reader's name of a layer (for captions and reports); the raw name when unknown."""
    for choice in choices:
        if choice.name == name:
            return choice.label.removesuffix(" (default)")
    return name or ""
