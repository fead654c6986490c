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


def merge_members(members: list, name: str = "ensemble"):
    """One flat model that averages the class logits of trained members sharing one input.

    Each member is copied into a single functional graph with its layers renamed (`m1_`, `m2_`,
    ...) and its weights kept. The members' last feature maps (what each member's global average
    pooling reads) are brought to the finest member's grid by repetition and concatenated, then
    pooled and fed to one dense softmax layer whose kernel stacks the members' kernels divided by
    their number: the logits are exactly the mean of the members' logits. Grad-CAM at the
    concatenation (the returned explain layer) is therefore the Grad-CAM of the ensemble's own
    score over every member's channels.

    Members must end in `GlobalAveragePooling2D` -> (Dropout) -> `Dense(softmax)`, as the builders
    above do. Returns `(model, explain_layer)` like the builders.
    """
    import keras
    import numpy as np

    if len(members) < 2:
        raise ValueError("an ensemble needs two or more members")
    shapes = {tuple(m.inputs[0].shape[1:]) for m in members}
    if len(shapes) != 1:
        raise ValueError(f"members take different inputs: {sorted(shapes)}")
    inputs = keras.Input(shapes.pop(), name="image")
    features, kernels, biases = [], [], []
    for i, member in enumerate(members, start=1):
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
        prefix = f"m{i}_"

        def rename(layer, prefix=prefix):
            config = layer.get_config()
            config["name"] = prefix + layer.name
            return layer.__class__.from_config(config)

        copy = keras.models.clone_model(member, input_tensors=inputs, clone_function=rename)
        for original, cloned in zip(member.layers, copy.layers):
            cloned.set_weights(original.get_weights())
        features.append(copy.get_layer(prefix + pools[0]).input)
        kernel, bias = head.get_weights()
        kernels.append(kernel)
        biases.append(bias)
    # Bring every feature map to the finest grid by nearest-neighbour repetition, which leaves each
    # channel's spatial mean (what the head sees) unchanged and keeps the finer members' detail.
    grid = max(int(f.shape[1]) for f in features)
    for i, f in enumerate(features):
        factor = grid // int(f.shape[1])
        if factor * int(f.shape[1]) != grid or factor * int(f.shape[2]) != max(int(g.shape[2]) for g in features):
            raise ValueError(f"member feature maps {[tuple(g.shape[1:3]) for g in features]} do not nest")
        if factor > 1:
            features[i] = layers.UpSampling2D(factor, interpolation="nearest", name=f"m{i + 1}_to_grid")(f)
    merged = layers.Concatenate(name="ensemble_features")(features)
    pooled = layers.GlobalAveragePooling2D(name="gap")(merged)
    dense = layers.Dense(kernels[0].shape[1], activation="softmax", name="probabilities")
    outputs = dense(pooled)
    # GAP of the concatenation is the concatenation of the members' GAPs: stacking the kernels
    # (each divided by the number of members) gives the mean of the members' logits.
    dense.set_weights([np.concatenate(kernels) / len(members), np.mean(biases, axis=0)])
    return keras.Model(inputs, outputs, name=name), "ensemble_features"
