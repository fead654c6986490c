"""The grid a layer's map is made on: how many independent cells per side its feature map holds.

Faithfulness compares a map with random maps of the same grain (`model.trust.faithfulness.chance_grid`), so
the grain must be the map's own, or said to be unknown: a guess would move the chance level unseen.

    layer_grid(model, "ensemble_features")   # 7: 5x5 and 7x7 maps repeated onto 35x35 hold 7x7 cells at most
    layer_grid(model, "conv_after_upsampling")  # UNKNOWN_GRID: a layer mixing repeated cells has no exact grain

The grain is followed through the model's graph (its layers and ops, `model.operations`) from its inputs:
a feature map made from inputs without repeated cells (at its size or larger, or padded) holds its own side;
resampling (UpSampling2D, Resizing, the `resize` op) repeats or interpolates its input's cells and adds none;
a merge (Concatenate, Add, ...) or a pointwise layer of maps on one grid keeps the finest of their grains.
Anything else fed repeated cells (a convolution over them, an op that enlarges a map by other means, a tensor
of unknown shape or maker) has no grain that can be told: `UNKNOWN_GRID`.
"""
from __future__ import annotations

UNKNOWN_GRID = "unknown"  # the caller says so; never a guessed number
RESAMPLING = {"UpSampling2D", "Resizing", "Resize"}
MERGES = {"Concatenate", "Add", "Average", "Maximum", "Minimum", "Multiply", "Subtract"}
BORDERS = {"ZeroPadding2D", "Cropping2D"}  # add or cut a border of cells: no cell repeated
POINTWISE = {"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "BatchNormalization",
             "LayerNormalization", "Dropout", "SpatialDropout2D", "Rescaling", "Identity"}


def _side(tensor) -> int | None:
    """Cells per side of a 4-D feature map (the larger of its height and width); None when not one or unknown."""
    shape = getattr(tensor, "shape", None)
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    return int(max(shape[1], shape[2]))


def _listed(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def layer_grid(model, layer_name: str) -> int | str:
    """Independent cells per side of the map of `layer_name` (see the module), or `UNKNOWN_GRID`."""
    producers = {}
    for operation in model.operations:
        try:
            outputs = _listed(operation.output)
        except (AttributeError, ValueError):  # a layer used twice has no single output: its tensors stay unknown
            continue
        producers.update({id(tensor): operation for tensor in outputs})
    inputs = {id(tensor) for tensor in _listed(model.inputs)}
    known: dict[int, int | str] = {}

    def grain(tensor) -> int | str:
        if id(tensor) not in known:
            known[id(tensor)] = _grain(tensor, producers.get(id(tensor)), id(tensor) in inputs, grain)
        return known[id(tensor)]

    return grain(model.get_layer(layer_name).output)


def _grain(tensor, producer, is_input: bool, grain) -> int | str:
    """The grain of one tensor from its producer's inputs' grains (`grain`, memoised by the caller)."""
    side = _side(tensor)
    if side is None or (producer is None and not is_input):
        return UNKNOWN_GRID
    if producer is None:
        return side  # the film itself, pixel by pixel
    # Maps of one cell (a squeeze-and-excitation scale) are broadcast over the grid: no detail of their own.
    spatial = [t for t in _listed(producer.input) if _side(t) is not None and _side(t) > 1]
    grains = [grain(t) for t in spatial]
    if UNKNOWN_GRID in grains:
        return UNKNOWN_GRID
    kind = type(producer).__name__
    if kind in RESAMPLING and len(grains) == 1:
        return min(grains[0], side)  # resampling adds no cells (and a smaller map holds fewer)
    if all(g == _side(t) and (_side(t) >= side or kind in BORDERS) for g, t in zip(grains, spatial)):
        return side  # made from maps with no repeated cells, at its own size or smaller (or padded)
    if kind in MERGES | POINTWISE and all(_side(t) == side for t in spatial):
        return max(grains)  # the finest of the maps it joins cell by cell
    return UNKNOWN_GRID
