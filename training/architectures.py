"""Named model builders. Every model is a flat functional graph (Grad-CAM needs the conv layers
reachable from the model's own inputs), trained from scratch, and starts with a per-image
standardisation so it does not depend on a source's exposure or processing.

A builder returns `(model, explain_layer)`: the last convolutional layer with spatial extent,
which the card records as the default layer for explanations.
"""
from __future__ import annotations

from typing import Callable

import keras
from keras import layers

# Batch-norm momentum 0.9 rather than Keras' 0.99: with ~40 steps an epoch the moving statistics
# otherwise lag the weights for several epochs and validation sticks on one class.
BN_MOMENTUM = 0.9


def _inputs(image_size: int, channels: int):
    inputs = keras.Input((image_size, image_size, channels), name="image")
    # Per-image z-score (mean and variance over height, width and channels), with no learned
    # shift or scale: the model sees each radiograph's contrast pattern, not its absolute levels.
    x = layers.LayerNormalization(axis=(1, 2, 3), center=False, scale=False, name="standardize")(inputs)
    return inputs, x


def _conv_bn_relu(x, filters: int, name: str, kernel: int = 3, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _head(x, num_classes: int, dropout: float):
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


def compact_cnn(image_size: int = 224, channels: int = 1, num_classes: int = 3,
                widths: tuple[int, ...] = (32, 64, 128, 192), dropout: float = 0.4):
    """A strided stem, stacked conv blocks (two 3x3 convs, batch norm, max-pool, spatial dropout)
    and a global-average-pooling head.

    After the seed projects' compact COVID-19 CNNs, narrowed to train on two CPU cores: the stride-2
    stem makes it about six times cheaper than full-resolution first blocks.
    """
    inputs, x = _inputs(image_size, channels)
    x = _conv_bn_relu(x, 16, "stem", kernel=5, strides=2)
    for i, width in enumerate(widths, start=1):
        x = _conv_bn_relu(x, width, f"block{i}a")
        x = _conv_bn_relu(x, width, f"block{i}b")
        if i < len(widths):
            x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
            x = layers.SpatialDropout2D(0.1, name=f"block{i}_drop")(x)
    model = keras.Model(inputs, _head(x, num_classes, dropout), name="compact_cnn")
    return model, f"block{len(widths)}b_conv"


def _residual_block(x, filters: int, strides: int, name: str):
    shortcut = x
    y = _conv_bn_relu(x, filters, f"{name}_1", strides=strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_2_bn")(y)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj_conv")(shortcut)
        shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def small_resnet(image_size: int = 224, channels: int = 1, num_classes: int = 3,
                 widths: tuple[int, ...] = (32, 64, 128, 192), dropout: float = 0.3):
    """ResNet-style network: a strided stem, then two basic residual blocks per stage.

    After the ResNet backbones of the seed projects, at a depth (18 conv layers) that trains here.
    """
    inputs, x = _inputs(image_size, channels)
    x = _conv_bn_relu(x, widths[0], "stem", kernel=5, strides=2)
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    for stage, width in enumerate(widths, start=1):
        x = _residual_block(x, width, 1 if stage == 1 else 2, f"stage{stage}_block1")
        x = _residual_block(x, width, 1, f"stage{stage}_block2")
    model = keras.Model(inputs, _head(x, num_classes, dropout), name="small_resnet")
    # The block's output activation follows the Add, so it sees both branches of the last block.
    return model, f"stage{len(widths)}_block2_out"


def lung_encoder_cnn(image_size: int = 128, channels: int = 1, num_classes: int = 3,
                     widths: tuple[int, ...] = (16, 32, 64, 128), top: int = 192, dropout: float = 0.4):
    """The encoder of the lung-field U-Net (`training.train_lungs.lung_unet`, same layer names), one
    more conv block and a global-average-pooling head.

    Built so the encoder can start from our own lung-segmentation checkpoint (`transfer_weights`;
    `training.crossval --init-from`): the only pretrained weights this project has, since ImageNet
    weights cannot be downloaded here. At 128 px it costs about what compact_cnn does.
    """
    inputs, x = _inputs(image_size, channels)
    for level, width in enumerate(widths[:-1], start=1):
        x = _conv_bn_relu(x, width, f"enc{level}a")
        x = _conv_bn_relu(x, width, f"enc{level}b")
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = _conv_bn_relu(x, widths[-1], "bridge_a")
    x = layers.SpatialDropout2D(0.1, name="bridge_drop")(x)
    x = _conv_bn_relu(x, widths[-1], "bridge_b")
    x = layers.MaxPooling2D(2, name="bridge_pool")(x)
    x = _conv_bn_relu(x, top, "top_a")
    x = _conv_bn_relu(x, top, "top_b")
    model = keras.Model(inputs, _head(x, num_classes, dropout), name="lung_encoder_cnn")
    return model, "top_b_conv"


def transfer_weights(model, source) -> list[str]:
    """Copy into `model` the weights of every layer of `source` with the same name and weight shapes;
    returns the names of the layers copied (the others keep their fresh initialisation)."""
    copied = []
    for layer in model.layers:
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        mine, theirs = layer.get_weights(), other.get_weights()
        if mine and len(mine) == len(theirs) and all(a.shape == b.shape for a, b in zip(mine, theirs)):
            layer.set_weights(theirs)
            copied.append(layer.name)
    return copied


ARCHITECTURES: dict[str, Callable] = {
    "compact_cnn": compact_cnn,
    "small_resnet": small_resnet,
    "lung_encoder_cnn": lung_encoder_cnn,
}


def build_model(arch: str, image_size: int, channels: int, num_classes: int):
    """Build a registered architecture by name; returns `(model, explain_layer)`."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](image_size=image_size, channels=channels, num_classes=num_classes)


def _member_head(member, i: int) -> tuple[str, object]:
    """(name of the member's global average pooling, its dense softmax head); raises ValueError
    when the member does not end in GlobalAveragePooling2D -> (Dropout) -> Dense(softmax)."""
    head = member.layers[-1]
    if not isinstance(head, layers.Dense) or getattr(head.activation, "__name__", "") != "softmax":
        raise ValueError(f"member {i} does not end in a dense softmax layer")
    pools = [layer.name for layer in member.layers if isinstance(layer, layers.GlobalAveragePooling2D)]
    if len(pools) != 1:
        raise ValueError(f"member {i} needs exactly one global average pooling before its head")
    # Only dropout (an identity at inference) may sit between the pooling and the head, or the
    # stacked kernel would not reproduce the member's logits.
    node = head
    while not isinstance(node, layers.GlobalAveragePooling2D):
        inbound = node._inbound_nodes[0].parent_nodes if node._inbound_nodes else []
        if node is not head and not isinstance(node, layers.Dropout) or len(inbound) != 1:
            raise ValueError(f"member {i}: only dropout may lie between its global pooling and its head")
        node = inbound[0].operation
    return pools[0], head


def _clone_member(member, tensor, i: int):
    """Copy member `i` onto `tensor` with its layers renamed `m{i}_...` and its weights kept; returns
    (its last feature map in the copy, head kernel, head bias)."""
    pool, head = _member_head(member, i)
    prefix = f"m{i}_"

    def rename(layer):
        config = layer.get_config()
        config["name"] = prefix + layer.name
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(member, input_tensors=tensor, clone_function=rename)
    for original in member.layers:
        if original.weights:  # by name: a copy on an inner tensor also lists the layers before it
            copy.get_layer(prefix + original.name).set_weights(original.get_weights())
    kernel, bias = head.get_weights()
    return copy.get_layer(prefix + pool).input, kernel, bias


def _pooled_head(inputs, features: list, kernels: list, biases: list, scales: list[float], name: str):
    """One model from the members' copied feature maps: every map brought to a common grid by
    nearest-neighbour repetition (the least common multiple of their sides, which leaves each
    channel's spatial mean, what a head sees, unchanged), concatenated as "ensemble_features",
    pooled, and one dense softmax layer whose logits are the sum of member i's logits times
    `scales[i]` (the kernels stacked, each scaled)."""
    import math

    import numpy as np

    sides = [(int(f.shape[1]), int(f.shape[2])) for f in features]
    if any(h != w for h, w in sides):
        raise ValueError(f"member feature maps {sides} are not square")
    grid = math.lcm(*(h for h, _ in sides))
    if grid > 64:
        raise ValueError(f"member feature maps {sides} do not nest on a small common grid")
    for i, f in enumerate(features):
        factor = grid // int(f.shape[1])
        if factor > 1:
            features[i] = layers.UpSampling2D(factor, interpolation="nearest", name=f"m{i + 1}_to_grid")(f)
    merged = layers.Concatenate(name="ensemble_features")(features) if len(features) > 1 else features[0]
    pooled = layers.GlobalAveragePooling2D(name="gap")(merged)
    dense = layers.Dense(kernels[0].shape[1], activation="softmax", name="probabilities")
    outputs = dense(pooled)
    # GAP of the concatenation is the concatenation of the members' GAPs, so the stacked, scaled
    # kernels give the scaled sum of the members' logits.
    dense.set_weights([np.concatenate([k * s for k, s in zip(kernels, scales)]).astype(np.float32),
                       np.sum([b * s for b, s in zip(biases, scales)], axis=0).astype(np.float32)])
    return keras.Model(inputs, outputs, name=name)


def merge_members(members: list, name: str = "ensemble"):
    """One flat model that averages the class logits of trained members sharing one input.

    Each member is copied into a single functional graph with its layers renamed (`m1_`, `m2_`,
    ...) and its weights kept. The members' last feature maps (what each member's global average
    pooling reads) are brought to one grid by repetition and concatenated, then pooled and fed to
    one dense softmax layer whose kernel stacks the members' kernels divided by their number: the
    logits are exactly the mean of the members' logits. Grad-CAM at the concatenation (the
    returned explain layer) is therefore the Grad-CAM of the ensemble's own score over every
    member's channels.

    Members must end in `GlobalAveragePooling2D` -> (Dropout) -> `Dense(softmax)`, as the builders
    above do. Returns `(model, explain_layer)` like the builders.
    """
    if len(members) < 2:
        raise ValueError("an ensemble needs two or more members")
    shapes = {tuple(m.inputs[0].shape[1:]) for m in members}
    if len(shapes) != 1:
        raise ValueError(f"members take different inputs: {sorted(shapes)}")
    inputs = keras.Input(shapes.pop(), name="image")
    parts = [_clone_member(member, inputs, i) for i, member in enumerate(members, start=1)]
    features, kernels, biases = (list(x) for x in zip(*parts))
    scales = [1.0 / len(members)] * len(members)
    return _pooled_head(inputs, features, kernels, biases, scales, name), "ensemble_features"


def two_channel_model(masked: list, unmasked, masked_temperature: float = 1.0, unmasked_temperature: float = 1.0,
                      name: str = "two_channel"):
    """One flat model on a two-channel input (the lung-cropped film, the dilated lung-field mask)
    that combines lung-masked networks with a network that sees the whole lung box.

    `masked`: one-channel classifiers trained on film x mask at their own size (e.g. 160 px); they
    get the product, resized inside the graph to their size. `unmasked`: a one-channel classifier
    on the film at the input's size (`training.unmasked_branch.probe_classifier`). The logits are
    (mean of the masked networks' logits) / masked_temperature weighted by their share of the
    networks, plus the unmasked network's logits / unmasked_temperature weighted by its share:
    every network counts alike, each part first calibrated by its own temperature. Returns
    `(model, "ensemble_features")`; Grad-CAM there covers every network's last feature maps.
    """
    size = int(unmasked.inputs[0].shape[1])
    if tuple(unmasked.inputs[0].shape[1:]) != (size, size, 1):
        raise ValueError("the unmasked network must take one-channel square films")
    sides = {tuple(m.inputs[0].shape[1:]) for m in masked}
    if len(sides) != 1 or next(iter(sides))[2] != 1:
        raise ValueError(f"the masked networks must share one one-channel input, got {sorted(sides)}")
    small = next(iter(sides))[0]
    inputs = keras.Input((size, size, 2), name="image")
    film, mask = inputs[..., 0:1], inputs[..., 1:2]
    lungs = layers.Multiply(name="lung_masked")([film, mask])
    if small != size:
        # An operation, not the `Resizing` layer: that preprocessing layer records training=True in
        # the graph, and Keras then runs the batch normalisation after it in training mode.
        lungs = keras.ops.image.resize(lungs, (small, small), interpolation="bilinear")
    parts = [_clone_member(member, lungs, i) for i, member in enumerate(masked, start=1)]
    parts.append(_clone_member(unmasked, film, len(masked) + 1))
    features, kernels, biases = (list(x) for x in zip(*parts))
    n = len(masked) + 1
    scales = [1.0 / (n * masked_temperature)] * len(masked) + [1.0 / (n * unmasked_temperature)]
    return _pooled_head(inputs, features, kernels, biases, scales, name), "ensemble_features"
