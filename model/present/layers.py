"""Layers for people: the explainable layers of a model, named for what they are, grouped by
ensemble member, the card's default first and the early (edge-detecting) layers marked advanced.

    choices = layer_choices(clf.layers(), card.explain_layer, network_names(card.training))
    [c.option for c in choices if not c.advanced]  # the layer box's texts, the default marked "(default)"

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
# A network ending in this layer (a two-channel model's frozen whole-box network) is a linear read-out of
# standardised features: only there is a Grad-CAM map centred on the training films' average. At its earlier
# layers the map carries the large per-class offset that the standardisation removes, so they are not offered.
STANDARDISED = "standardize_features"
# Words of Keras layer names as a person says them; the block a layer belongs to comes from its numbers.
_WORDS = {"conv": "convolution", "out": "output", "add": "sum", "proj": "shortcut", "bn": "normalisation",
          "pool": "pooling", "features": "features"}
_ADJECTIVES = {"dw": "depthwise", "pw": "pointwise"}
_ACTIVATED = {"relu", "act", "activation"}
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
_NUMBERED = re.compile(r"^([a-z]*?)(\d+)([a-z]?)$")


def _ordinal(k: int) -> str:
    return _ORDINALS[k - 1] if 1 <= k <= len(_ORDINALS) else f"number {k}"


def layer_parts(name: str) -> tuple[str, str]:
    """(block, detail) of a layer name in words, from the name alone, whatever the architecture:
    "block4b_conv" -> ("block 4", "second convolution"); "conv_pw_13_relu" -> ("block 13", "pointwise
    convolution (activated)"); "stage4_block2_out" -> ("stage 4, block 2", "output"); "stem_conv" ->
    ("first layers", "convolution"). A name without a number has no block ("")."""
    block, words, adjective, activated, sub = [], [], "", False, None
    for token in name.lower().split("_"):
        match = _NUMBERED.match(token)
        if token == "stem":
            block.append("first layers")
        elif token in _ADJECTIVES:
            adjective = _ADJECTIVES[token]
        elif token in _ACTIVATED:
            activated = True
        elif match and match.group(1) in _WORDS:  # "conv1": the first convolution of its own block
            block.append(f"block {match.group(2)}")
            words.append(_WORDS[match.group(1)])
        elif match and (match.group(1) in ("block", "stage", "stack", "layer") or not block):
            prefix, number, letter = match.groups()
            block.append(f"{prefix or 'block'} {number}")
            if letter:
                words.append(_ordinal(ord(letter) - ord("a") + 1))
        elif match:
            sub = int(match.group(2))  # a numbered part inside a block: "convolution 2"
        else:
            words.append(_WORDS.get(token, token))
    detail = " ".join(words).replace("convolution", f"{adjective} convolution".strip())
    if sub is not None:
        # A numbered part with no word of its own ("stage4_block2_1_relu") is the block's numbered convolution
        # and what follows it (Keras' ResNet names the activation of "_1_conv" "_1_relu"): never a bare number.
        detail = f"{detail or 'convolution'} {sub}"
    if detail in _ORDINALS:
        detail += " layer"
    if activated:
        detail = f"{detail} (activated)".strip() if detail else "activation"
    return ", ".join(block), detail or name.replace("_", " ")


@dataclass(frozen=True)
class LayerChoice:
    """One explainable layer as a reader sees it.

    Attributes:
        name: the Keras layer name (what the explainers take).
        label: what it is, in words ("last feature map, both networks"): the reader's name of the layer,
            in captions and reports.
        group: the network it belongs to ("Network 1: cxr-resnet-lungs-v1"; "" for a single model or
            the ensemble's combined layer).
        default: whether it is the card's explained layer.
        advanced: an early layer (edge maps), listed only when asked for.
        member: the ensemble member (1, 2, ...) whose part alone the layer explains; None for a single
            network or the ensemble's combined layer.
    """

    name: str
    label: str
    group: str = ""
    default: bool = False
    advanced: bool = False
    member: int | None = None

    @property
    def option(self) -> str:
        """The layer box's text for it: its `label`, marked "(default)" for the card's explained layer."""
        return f"{self.label} (default)" if self.default else self.label


def describe_part(name: str) -> str:
    """A layer name without its member prefix in words ("block 4, second convolution")."""
    block, detail = layer_parts(name)
    return f"{block}, {detail}" if block else detail


def _member(name: str) -> tuple[int | None, str]:
    match = _MEMBER.match(name)
    return (int(match.group(1)), match.group(2)) if match else (None, name)


def network_names(training: dict | None) -> list[str]:
    """The names of a card's networks in layer-prefix order (`m1_`, `m2_`, ...): its `networks` when
    it lists them (a two-channel model names its frozen unmasked network there), else its members."""
    training = training or {}
    return list(training.get("networks") or training.get("members") or ())


def network_legend(names) -> str:
    """Which network is which, for the layer box's help: "Network 1: a; network 2: b." ("" for one network)."""
    names = list(names or ())
    if len(names) < 2:
        return ""
    return "; ".join(f"{'N' if i == 1 else 'n'}etwork {i}: {name}" for i, name in enumerate(names, start=1)) + "."


def layer_choices(layers, default: str, members=()) -> list[LayerChoice]:
    """Every explainable layer (input side first in `layers`) as a `LayerChoice`, in display order:
    the default layer first, then each network's layers from the deepest, grouped by network.

    Args:
        layers: explainable layer names, input side first (`Classifier.layers()`).
        default: the card's `explain_layer`.
        members: the names of the ensemble's networks in order (`network_names`); layer `m1_...`
            belongs to the first. Empty for a single network.
    """
    layers = list(layers)
    members = list(members or ())
    by_group: dict[int | None, list[str]] = {}
    for name in layers:
        if name == ENSEMBLE_LAYER:
            continue
        by_group.setdefault(_member(name)[0], []).append(name)
    by_group = {index: ([n for n in names if _member(n)[1] == STANDARDISED]
                        if any(_member(n)[1] == STANDARDISED for n in names) else names)
                for index, names in by_group.items()}
    ensemble = any(index is not None for index in by_group)
    choices = []
    # Networks in their own order (Keras lists an ensemble's layers interleaved, so a later network's
    # first layer can come first).
    for index, names in sorted(by_group.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        if index is None:
            group = "Ensemble, other layers" if ensemble else ""
        else:
            member = members[index - 1] if 0 < index <= len(members) else ""
            group = f"Network {index}" + (f": {member}" if member else "")
        deep_from = len(names) - max(1, round(len(names) * DEEP_SHARE))
        numbered = [name for name in names if layer_parts(_member(name)[1])[0]]
        last_block = layer_parts(_member(numbered[-1])[1])[0] if numbered else ""
        for position, name in enumerate(names):
            block, detail = layer_parts(_member(name)[1])
            if block and block == last_block:  # "block 13 (last)": short enough for the layer box at 1366 px
                part = f"{block} (last), {detail}"
            elif _member(name)[1] == STANDARDISED:
                part = "last feature maps (standardised)"
            elif not block and name == names[-1] and numbered:  # e.g. several blocks' maps joined at the end
                part = f"last feature maps ({detail})"
            else:
                part = describe_part(_member(name)[1])
            label = f"network {index}, {part}" if index is not None else part
            choices.append(LayerChoice(name, label, group, name == default, position < deep_from and name != default,
                                       index))
    if ENSEMBLE_LAYER in layers:
        networks = sum(1 for index in by_group if index is not None)
        together = "both networks" if networks <= 2 else f"all {networks} networks"
        choices.append(LayerChoice(ENSEMBLE_LAYER, f"{together}, last block", "",
                                   ENSEMBLE_LAYER == default, False))
    ordered = [c for c in choices if c.default]
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
    return ordered


def visible_choices(choices: list[LayerChoice], advanced: bool) -> list[LayerChoice]:
    """The choices a reader sees: all of them with `advanced`, else the default and the deeper layers."""
    return list(choices) if advanced else [c for c in choices if not c.advanced]


def member_layer_note(member: int) -> str:
    """What a map at a layer of one network of an ensemble explains (the page's caption and the report's note)."""
    return (f"This layer belongs to network {member} only: the map explains that network's part of the ensemble, "
            "not the ensemble's answer as a whole.")


def layer_label(name: str | None, choices: list[LayerChoice]) -> str:
    """The reader's name of a layer (for captions and reports); the raw name when unknown."""
    for choice in choices:
        if choice.name == name:
            return choice.label
    return name or ""
