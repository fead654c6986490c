"""Pretrained backbones from `keras.applications`, built flat for explanation.

A backbone classifier takes the same one-channel [0, 1] input as every other model of the
project (`model.inputs.preprocessing` makes it), repeats the gray channel to three, scales it the
way the backbone's ImageNet training did, and ends in the project's usual head (global average
pooling, dropout, dense softmax). The backbone is built on that tensor (`input_tensor=`), so its
layers are the model's own layers: Grad-CAM and every other explainer reach its last
convolutional block directly (a backbone nested as one layer hides them).

`weights` is "imagenet" (Keras downloads the file itself: needs internet), a path to a saved
weights file of the same network (`../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5` on
these machines), or "none" (random initialisation, for tests).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers


@dataclass(frozen=True)
class Backbone:
    """One `keras.applications` network and what the project needs to know about it.

    Attributes:
        name: the name on the command line and on the card.
        builder: the `keras.applications` constructor's name.
        scaling: how [0, 1] gray becomes the backbone's input: "tf" ([-1, 1]), "torch" (ImageNet
            mean and standard deviation per channel), "caffe" (0-255 minus the BGR means) or
            "raw255" (0-255; the network scales itself, as EfficientNet does).
        explain_layer: its last convolutional activation with spatial extent.
        blocks: one regular expression per block, from input to output, matching the names of that
            block's layers; fine-tuning "top N" unfreezes the layers of the last N blocks.
        kwargs: extra constructor arguments (MobileNet's width).
    """

    name: str
    builder: str
    scaling: str
    explain_layer: str
    blocks: tuple[str, ...]
    kwargs: tuple = ()


BACKBONES: dict[str, Backbone] = {b.name: b for b in (
    Backbone("mobilenet", "MobileNet", "tf", "conv_pw_13_relu",
             (r"^conv1", *(rf"^conv_(dw|pw|pad)_{i}(_|$)" for i in range(1, 14))), (("alpha", 0.25),)),
    Backbone("mobilenet_v2", "MobileNetV2", "tf", "out_relu",
             (r"^(Conv1|bn_Conv1)", r"^expanded_conv_", *(rf"^block_{i}_" for i in range(1, 17)), r"^(Conv_1|out_relu)")),
    Backbone("densenet121", "DenseNet121", "torch", "relu",
             (r"^(zero_padding2d|conv1_|pool1$)", r"^(conv2_|pool2_)", r"^(conv3_|pool3_)", r"^(conv4_|pool4_)",
              r"^(conv5_|bn$|relu$)")),
    Backbone("efficientnet_b0", "EfficientNetB0", "raw255", "top_activation",
             (r"^(rescaling|normalization|stem_)", *(rf"^block{i}" for i in range(1, 8)), r"^top_")),
    Backbone("resnet50", "ResNet50", "caffe", "conv5_block3_out",
             (r"^(conv1_|pool1_)", r"^conv2_", r"^conv3_", r"^conv4_", r"^conv5_")),
)}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


class WeightsUnavailable(RuntimeError):
    """The backbone's pretrained weights could not be had (no internet, missing file)."""


def backbone(name: str) -> Backbone:
    """The registered backbone called `name`; ValueError naming the choices otherwise."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name]


def _scaled_rgb(x, scaling: str):
    """Gray [0, 1] (N, S, S, 1) -> the three-channel input the backbone was trained on."""
    x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    if scaling == "tf":
        return layers.Rescaling(2.0, offset=-1.0, name="backbone_scaling")(x)
    if scaling == "torch":
        return layers.Normalization(mean=IMAGENET_MEAN, variance=[s * s for s in IMAGENET_STD],
                                    name="backbone_scaling")(x)
    if scaling == "caffe":  # gray repeated: the BGR reordering changes nothing, the per-channel means do
        x = layers.Rescaling(255.0, name="to_255")(x)
        return layers.Normalization(mean=CAFFE_BGR_MEAN, variance=(1.0, 1.0, 1.0), name="backbone_scaling")(x)
    if scaling == "raw255":
        return layers.Rescaling(255.0, name="backbone_scaling")(x)
    raise ValueError(f"unknown scaling {scaling!r}")


def weights_argument(weights: str | Path | None) -> str | None:
    """What `keras.applications` takes for the command line's --weights: "imagenet", a file, or None."""
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights) == "imagenet":
        return "imagenet"
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailable(f"--weights: no such file {path}")
    return str(path)


def backbone_classifier(name: str, image_size: int = 224, num_classes: int = 3, weights: str | Path | None = None,
                        dropout: float = 0.3):
    """A flat classifier on a pretrained backbone; returns `(model, explain_layer, backbone_layers)`.

    backbone_layers: names of the backbone's own layers (what the first fine-tuning stage keeps fixed).
    Raises WeightsUnavailable with one line when "imagenet" cannot be downloaded.
    """
    spec = backbone(name)
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = _scaled_rgb(inputs, spec.scaling)
    builder = getattr(keras.applications, spec.builder)
    source = weights_argument(weights)
    try:
        # input_shape as well as input_tensor: Keras checks the size it has ImageNet weights for against it.
        base = builder(input_tensor=x, input_shape=(image_size, image_size, 3), include_top=False, weights=source,
                       **dict(spec.kwargs))
    except (OSError, ValueError) as error:  # Keras raises these when the download or the file fails
        if source == "imagenet":
            raise WeightsUnavailable(
                f"could not download the ImageNet weights of {name} ({type(error).__name__}); without internet "
                f"pass a saved weights file instead: --weights PATH") from None
        raise
    own = {layer.name for layer in (keras.Model(inputs, x).layers)}
    backbone_layers = [layer.name for layer in base.layers if layer.name not in own]
    h = layers.GlobalAveragePooling2D(name="gap")(base.output)
    h = layers.Dropout(dropout, name="head_dropout")(h)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(h)
    return keras.Model(inputs, outputs, name=f"{name}_classifier"), spec.explain_layer, backbone_layers


def set_trainable(model, backbone_layers: list[str], spec: Backbone, top_blocks: int | None) -> int:
    """Freeze or unfreeze the backbone for a fine-tuning stage; returns how many backbone layers train.

    top_blocks: 0 keeps the whole backbone fixed (the first stage: only the new head learns); N
    unfreezes the layers of its last N blocks; None unfreezes all of it. Batch normalisation stays
    fixed in every stage, as Keras's transfer-learning guide advises: a frozen BatchNormalization
    layer runs in inference mode with its ImageNet statistics, so the few fine-tuning batches do
    not overwrite them.
    """
    patterns = spec.blocks if top_blocks is None else (spec.blocks[-top_blocks:] if top_blocks else ())
    training = 0
    for name in backbone_layers:
        layer = model.get_layer(name)
        train = any(re.match(p, name) for p in patterns) and not isinstance(layer, layers.BatchNormalization)
        layer.trainable = train
        training += bool(train and layer.weights)
    return training
