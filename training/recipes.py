"""Training against the source shortcut: source x label balanced sampling, photometric augmentation
that makes sources look alike, Fourier amplitude mixing (another source's look, the image's own
anatomy), masking outside the lung fields, mixing images across sources and a domain-adversarial
(gradient reversal) head on the source.

Everything here is training-time only, except lung masking, which the shipped card reproduces at
serving time through `Preprocessing(lung_mask=True)` (see `model.inputs.preprocessing.lung_field_mask`). The
adversarial head lives in a training wrapper; the shipped model is the plain flat classifier.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from model.inputs.preprocessing import apply_lung_field
from training.pool import lung_inputs


@dataclass(frozen=True)
class Recipe:
    """Which counter-measures a training run uses."""

    balance: str = "label"        # "label": classes equally likely; "source_label": then sources within a class;
                                  # "none": every film equally likely (the data's own class shares)
    photometric: bool = False     # histogram matching to other sources, blur/sharpen, noise, JPEG, down-up sampling
    lung_mask: bool = False       # zero outside the dilated lung fields (also at serving)
    mix: float = 0.0              # probability of blending an image with a same-class image of another source
    dann: float = 0.0             # weight of the gradient-reversed source head (0: off)
    lung_equalize: bool = False   # histogram equalisation inside the lung field (also at serving; needs lung_mask)
    amplitude_mix: float = 0.0    # probability of giving an image the low-frequency amplitude of another source's
    select: str = "macro_auc"     # checkpoint choice: validation macro AUC, or "within_source" (mean per-source AUC)
    contrasts: str = "all"        # "within_source": learn normal/abnormal and COVID-19/Pneumonia only inside sources
    select_after: int = 0         # burn-in: epochs before this one are never kept, nor count towards patience
    style_mix: float = 0.0        # probability a batch mixes early feature statistics across films (MixStyle)
    rand_conv: float = 0.0        # probability a batch passes through a random convolution (RandConv)
    average_from: int = 0         # ship the mean of the weights of every epoch from this one on (SWA/SWAD), not the best
    constant_lr: bool = False     # with average_from: never halve the learning rate (SWA's constant rate)
    mixup: float = 0.0            # Beta(a, a) parameter of cross-class mixup of the films of a batch (0: off)
    label_smoothing: float = 0.0  # share of each target spread evenly over the classes (0: off)
    init_from: str = ""           # a saved .keras model whose same-named layers initialise the network
    freeze_init: bool = False     # with init_from: keep the copied layers fixed (batch norm in inference mode)
    class_weights: bool = False   # weigh each film's loss by the inverse frequency of its class (the v1 models' way)
    ema: bool = False             # validate, keep and ship an exponential moving average of the weights (momentum 0.99)

    def name(self) -> str:
        parts = [{"source_label": "balanced", "label": "label-balanced", "none": "unbalanced"}[self.balance]]
        parts += ["class-weighted"] if self.class_weights else []
        parts += ["ema"] if self.ema else []
        parts += ["photometric"] if self.photometric else []
        parts += ["lung-mask"] if self.lung_mask else []
        parts += ["lung-equalize"] if self.lung_equalize else []
        parts += [f"mix{self.mix:g}"] if self.mix else []
        parts += [f"dann{self.dann:g}"] if self.dann else []
        parts += [f"amp{self.amplitude_mix:g}"] if self.amplitude_mix else []
        parts += ["select-within"] if self.select == "within_source" else []
        parts += ["within-source-contrasts"] if self.contrasts == "within_source" else []
        parts += [f"after{self.select_after}"] if self.select_after else []
        parts += [f"stylemix{self.style_mix:g}"] if self.style_mix else []
        parts += [f"randconv{self.rand_conv:g}"] if self.rand_conv else []
        parts += [f"average-from{self.average_from}"] if self.average_from else []
        parts += ["constant-lr"] if self.constant_lr else []
        parts += [f"mixup{self.mixup:g}"] if self.mixup else []
        parts += [f"smooth{self.label_smoothing:g}"] if self.label_smoothing else []
        parts += ["init-" + Path(self.init_from).parent.name] if self.init_from else []
        parts += ["frozen"] if self.freeze_init else []
        return "+".join(parts)

    def check(self) -> None:
        """Raise ValueError, in one line naming the command-line options, for combinations that cannot
        train; `train_recipe` calls it, and `training.crossval` before it loads any data."""
        if self.dann and self.style_mix:
            raise ValueError("style mixing and the adversarial head are separate training graphs: choose one")
        if self.constant_lr and not self.average_from:
            raise ValueError("--constant-lr needs --average-from: a constant learning rate is meant for weight averaging")
        if (self.mixup or self.label_smoothing) and (self.dann or self.contrasts == "within_source"):
            raise ValueError("--mixup and --label-smoothing act on the plain class targets: not with --dann or "
                             "--contrasts within_source")
        if not 0 <= self.label_smoothing < 1 or self.mixup < 0:
            raise ValueError("--label-smoothing must be in [0, 1) and --mixup at least 0")
        if self.balance not in ("label", "source_label", "none"):
            raise ValueError(f"--balance must be label, source_label or none, got {self.balance!r}")
        if self.class_weights and (self.dann or self.contrasts == "within_source"):
            raise ValueError("--class-weights weighs the plain class loss: not with --dann or --contrasts within_source")
        if self.ema and self.average_from:
            raise ValueError("--ema and --average-from are two ways of averaging weights: choose one")
        if self.freeze_init and not self.init_from:
            raise ValueError("--freeze-init needs --init-from: set init_from, whose copied layers it keeps fixed")

    def to_dict(self) -> dict:
        values = asdict(self)
        # Options added later are left out when off, so earlier runs' recipes compare equal.
        for added_later in ("lung_equalize", "amplitude_mix", "select_after", "style_mix", "rand_conv",
                            "average_from", "constant_lr", "mixup", "label_smoothing",
                            "init_from", "freeze_init", "class_weights", "ema"):
            if not values[added_later]:
                del values[added_later]
        if values["select"] == "macro_auc":
            del values["select"]
        if values["contrasts"] == "all":
            del values["contrasts"]
        return values


# ---------------------------------------------------------------- sampling

def sampling_weights(labels: np.ndarray, sources: np.ndarray, balance: str = "source_label",
                     source_power: float = 0.5) -> np.ndarray:
    """Per-image probabilities for drawing a training batch.

    "none": every image equally likely. "label": every class equally likely, images uniform within
    a class (like inverse-frequency class weights). "source_label": every class equally likely, then within a class each source
    with probability proportional to (its image count) ** source_power (0.5: a large source no longer
    dominates its class, while a handful of images of a tiny source is not repeated endlessly).
    """
    labels, sources = np.asarray(labels), np.asarray(sources)
    w = np.zeros(len(labels), float)
    classes = np.unique(labels)
    if balance == "none":
        return np.full(len(labels), 1.0 / max(1, len(labels)))
    for c in classes:
        in_c = labels == c
        if balance == "label":
            w[in_c] = 1.0 / in_c.sum()
            continue
        names, counts = np.unique(sources[in_c], return_counts=True)
        shares = counts.astype(float) ** source_power
        shares /= shares.sum()
        for name, count, share in zip(names, counts, shares):
            w[in_c & (sources == name)] = share / count
    return w / w.sum()


# ---------------------------------------------------------------- photometric augmentation

QUANTILES = np.linspace(0.0, 1.0, 64)


def image_quantiles(images: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
    """(N, 64) intensity quantiles per image (inside its lung mask when given), for histogram matching."""
    out = np.zeros((len(images), len(QUANTILES)), np.float32)
    for i, img in enumerate(images):
        values = img[..., 0].astype(np.float32)
        if masks is not None and masks[i].any():
            values = values[masks[i] > 0]
        out[i] = np.quantile(values, QUANTILES)
    return out


def match_histogram(image: np.ndarray, own_q: np.ndarray, ref_q: np.ndarray) -> np.ndarray:
    """Monotone intensity map taking the image's quantiles to the reference's."""
    own = np.maximum.accumulate(own_q + np.arange(len(own_q)) * 1e-6)
    return np.interp(image, own, ref_q).astype(np.float32)


def photometric(image: np.ndarray, rng: np.random.Generator, ref_q: np.ndarray | None = None,
                own_q: np.ndarray | None = None) -> np.ndarray:
    """One random photometric disguise of a (S, S) image in [0, 1]: each step with probability 1/2."""
    size = image.shape[0]
    out = image.astype(np.float32)
    if ref_q is not None and own_q is not None and rng.random() < 0.5:
        alpha = rng.uniform(0.5, 1.0)
        out = (1 - alpha) * out + alpha * match_histogram(out, own_q, ref_q)
    if rng.random() < 0.5:  # down-and-up sampling (a source published at 224 px, other scanners' resolution)
        small = max(16, int(round(size * rng.uniform(0.4, 0.9))))
        out = cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                         interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:  # blur or sharpen
        sigma = rng.uniform(0.4, 1.5)
        blurred = cv2.GaussianBlur(out, (0, 0), sigma)
        out = blurred if rng.random() < 0.5 else out + rng.uniform(0.3, 1.0) * (out - blurred)
    if rng.random() < 0.5:  # JPEG re-compression
        quality = int(rng.integers(25, 90))
        ok, buf = cv2.imencode(".jpg", np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    if rng.random() < 0.5:
        out = out + rng.normal(0.0, rng.uniform(0.005, 0.04), out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0)


def amplitude_mix(image: np.ndarray, reference: np.ndarray, strength: float, window: float = 0.15) -> np.ndarray:
    """`image` with the low-frequency part of its Fourier amplitude moved `strength` (0..1) of the
    way to `reference`'s, its phase kept (Fourier domain adaptation, Yang & Soatto 2020; amplitude
    interpolation across domains, Liu et al. 2021, FedDG). The amplitude's low frequencies carry a
    film's overall look (exposure, contrast, processing, softness), the phase its anatomy and
    findings, so the image keeps what it shows and takes another source's look. `window`: half-side
    of the centred low-frequency square, as a share of the image side."""
    image = image.astype(np.float32)
    spectrum = np.fft.fftshift(np.fft.fft2(image))
    ref = np.abs(np.fft.fftshift(np.fft.fft2(reference.astype(np.float32))))
    amplitude, phase = np.abs(spectrum), np.angle(spectrum)
    h, w = image.shape
    bh, bw = max(1, int(round(h * window))), max(1, int(round(w * window)))
    ch, cw = h // 2, w // 2
    low = (slice(ch - bh, ch + bh + 1), slice(cw - bw, cw + bw + 1))
    amplitude[low] = (1.0 - strength) * amplitude[low] + strength * ref[low]
    out = np.real(np.fft.ifft2(np.fft.ifftshift(amplitude * np.exp(1j * phase))))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------- contrasts inside sources only

COVID, NORMAL, PNEUMONIA = 0, 1, 2  # model.labelled_data.CLASS_LABELS order


def contrast_masks(labels: np.ndarray, sources: np.ndarray, min_per_side: int = 5) -> np.ndarray:
    """(N, 2) float masks of the two contrasts each training image may teach when a model learns
    only inside sources (`Recipe.contrasts = "within_source"`): column 0, normal against abnormal
    (COVID-19 or Pneumonia), for images of a source that holds at least `min_per_side` of each side;
    column 1, COVID-19 against Pneumonia, for such images of a source that holds both. A source of
    one class (all its films COVID-19, say) teaches nothing: there, the look of the source would be
    the easiest way to its label."""
    labels, sources = np.asarray(labels), np.asarray(sources)
    out = np.zeros((len(labels), 2), np.float32)
    for source in set(sources.tolist()):
        here = sources == source
        count = {c: int(np.sum(labels[here] == c)) for c in (COVID, NORMAL, PNEUMONIA)}
        if count[NORMAL] >= min_per_side and count[COVID] + count[PNEUMONIA] >= min_per_side:
            out[here, 0] = 1.0
        if count[COVID] >= min_per_side and count[PNEUMONIA] >= min_per_side:
            out[here & (labels != NORMAL), 1] = 1.0
    return out


def within_source_loss(y_true, y_pred):
    """Loss of `Recipe.contrasts = "within_source"` on the plain three-class softmax: `y_true` is the
    one-hot label followed by the two `contrast_masks` columns. Normal against abnormal is scored as
    a binary cross-entropy on p(Normal) against p(COVID-19) + p(Pneumonia), COVID-19 against
    Pneumonia on p(COVID-19) / (p(COVID-19) + p(Pneumonia)), each only where its mask allows, so a
    film is only ever compared with films of its own source. The model stays a standard softmax
    classifier (nothing changes at serving)."""
    from keras import ops

    eps = 1e-7
    y_pred = ops.clip(y_pred, eps, 1.0)
    normal, covid = y_true[:, NORMAL], y_true[:, COVID]
    abnormal = ops.clip(y_pred[:, COVID] + y_pred[:, PNEUMONIA], eps, 1.0 - eps)
    first = -(normal * ops.log(1.0 - abnormal) + (1.0 - normal) * ops.log(abnormal))
    share = ops.clip(y_pred[:, COVID] / abnormal, eps, 1.0 - eps)
    second = -(covid * ops.log(share) + (1.0 - covid) * ops.log(1.0 - share)) * (1.0 - normal)
    return y_true[:, 3] * first + y_true[:, 4] * second


# ---------------------------------------------------------------- batches

class BatchMaker:
    """Draws training batches (numpy) for a recipe from cached arrays."""

    def __init__(self, images, masks, labels, sources, recipe: Recipe, batch_size: int, seed: int):
        self.images, self.masks = images, masks
        self.labels, self.sources = np.asarray(labels), np.asarray(sources)
        self.recipe, self.batch_size = recipe, batch_size
        self.rng = np.random.default_rng(seed)
        self.p = sampling_weights(self.labels, self.sources, recipe.balance)
        self.contrast = contrast_masks(self.labels, self.sources) if recipe.contrasts == "within_source" else None
        if self.contrast is not None:  # draw only films that teach a contrast
            teaches = self.contrast.max(axis=1) > 0
            if not teaches.any():
                raise ValueError("within-source contrasts need a source holding normal and abnormal films")
            self.p = self.p * teaches
            self.p /= self.p.sum()
        self.source_names = sorted(set(self.sources.tolist()))
        self.source_index = np.array([self.source_names.index(s) for s in self.sources])
        self.q = image_quantiles(images, masks) if recipe.photometric else None
        if recipe.lung_mask and masks is None:
            raise ValueError("lung_mask needs the lung-field masks")

    def batch(self):
        idx = self.rng.choice(len(self.labels), self.batch_size, p=self.p)
        out = np.empty((len(idx),) + self.images.shape[1:], np.float32)
        for j, i in enumerate(idx):
            img = self.images[i, ..., 0].astype(np.float32)
            if self.recipe.mix and self.rng.random() < self.recipe.mix:
                others = np.flatnonzero((self.labels == self.labels[i]) & (self.sources != self.sources[i]))
                if len(others):
                    k = self.rng.choice(others)
                    lam = self.rng.uniform(0.5, 0.8)
                    img = lam * img + (1 - lam) * self.images[k, ..., 0].astype(np.float32)
            if self.recipe.amplitude_mix and self.rng.random() < self.recipe.amplitude_mix:
                others = np.flatnonzero(self.sources != self.sources[i])
                if len(others):
                    reference = self.images[self.rng.choice(others), ..., 0]
                    img = amplitude_mix(img, reference, self.rng.uniform(0.3, 1.0))
            if self.recipe.photometric:
                others = np.flatnonzero(self.sources != self.sources[i])
                ref = self.q[self.rng.choice(others)] if len(others) else None
                img = photometric(img, self.rng, ref, self.q[i])
            if self.recipe.lung_mask:
                img = apply_lung_field(img, self.masks[i], self.recipe.lung_equalize)
            out[j, ..., 0] = img
        return out, idx


def mixup_batch(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, alpha: float):
    """Cross-class mixup (Zhang et al., 2018): each film is blended with another film of the batch,
    `lam * a + (1 - lam) * b` with one lam ~ Beta(alpha, alpha) per film, and its target likewise.

    Unlike the same-class `mix`, the partner may be of any class and source, so the target says how
    much of each class the blend holds. Returns new arrays; the inputs are left unchanged.
    """
    n = len(x)
    partner = rng.permutation(n)
    lam = rng.beta(alpha, alpha, n).astype(np.float32)
    lx = lam.reshape((n,) + (1,) * (x.ndim - 1))
    return lx * x + (1 - lx) * x[partner], lam[:, None] * y + (1 - lam[:, None]) * y[partner]


# ---------------------------------------------------------------- gradient reversal (training only)

def gradient_reversal_layer():
    import keras
    import tensorflow as tf

    class GradientReversal(keras.layers.Layer):
        """Identity forward; multiplies the gradient by -strength backward (training wrapper only)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.strength = tf.Variable(0.0, trainable=False, dtype=tf.float32)

        def call(self, x):
            strength = self.strength

            @tf.custom_gradient
            def reverse(y):
                return tf.identity(y), lambda dy: -strength * dy

            return reverse(x)

    return GradientReversal(name="gradient_reversal")


# ---------------------------------------------------------------- feature-style mixing and random convolutions

STYLE_MIX_AFTER = ("block1_drop", "block2_drop")  # compact_cnn: after the first two stages, as MixStyle advises


def style_mix_layer(probability: float, alpha: float = 0.1, name: str = "style_mix"):
    """MixStyle (Zhou et al., ICLR 2021), training only: with `probability` per batch, each film's
    channel-wise feature mean and standard deviation are replaced by a Beta(alpha, alpha) mix of its
    own and another film's (source-balanced batches make that mostly a film of another source), so
    the layers after it cannot rely on a source's contrast and texture statistics. Identity at inference."""
    import keras
    import tensorflow as tf

    class StyleMix(keras.layers.Layer):
        def call(self, x, training=None):
            if not training:
                return x
            batch = tf.shape(x)[0]
            mean = tf.stop_gradient(tf.reduce_mean(x, axis=[1, 2], keepdims=True))
            sd = tf.stop_gradient(tf.sqrt(tf.math.reduce_variance(x, axis=[1, 2], keepdims=True) + 1e-6))
            a, b = tf.random.gamma([batch, 1, 1, 1], alpha), tf.random.gamma([batch, 1, 1, 1], alpha)
            lam = a / (a + b + 1e-12)
            other = tf.random.shuffle(tf.range(batch))
            mixed_mean = lam * mean + (1.0 - lam) * tf.gather(mean, other)
            mixed_sd = lam * sd + (1.0 - lam) * tf.gather(sd, other)
            mixed = (x - mean) / sd * mixed_sd + mixed_mean
            use = tf.cast(tf.random.uniform([]) < probability, x.dtype)
            return use * mixed + (1.0 - use) * x

    return StyleMix(name=name)


def with_style_mix(model, probability: float, after: tuple[str, ...] = STYLE_MIX_AFTER):
    """A training graph over the model's own layers (shared weights) with style mixing inserted after
    the named layers; the model itself stays plain. Needs a chain of single-input layers (compact_cnn)."""
    import keras

    names = [layer.name for layer in model.layers]
    if any(name not in names for name in after):
        raise ValueError(f"style mixing needs the layers {after}; this architecture has no such chain")
    x = model.inputs[0]
    for layer in model.layers[1:]:
        if isinstance(layer.input, list):
            raise ValueError("style mixing needs a plain chain of layers (compact_cnn), not a branching network")
        x = layer(x)
        if layer.name in after:
            x = style_mix_layer(probability, name=f"style_mix_{layer.name}")(x)
    return keras.Model(model.inputs[0], x, name=f"{model.name}_style_mix")


def random_convolution(images, seed, probability: float):
    """RandConv (Xu et al., ICLR 2021), training only: with `probability` per batch, the films pass
    through one random k x k filter (k in 1, 3, 5, 7; weights N(0, 1/k^2)) blended with the original
    by a random share, then rescaled to [0, 1] per film: new textures and local contrasts, same shapes,
    so sharpening, smoothing and grain of a source stop being a cue. images: (B, S, S, 1) in [0, 1]."""
    import tensorflow as tf

    k = tf.gather(tf.constant([1, 3, 5, 7]), tf.random.stateless_uniform([], seed, 0, 4, dtype=tf.int32))
    grid = tf.abs(tf.range(7) - 3)
    window = tf.cast(grid[:, None] <= (k - 1) // 2, tf.float32) * tf.cast(grid[None, :] <= (k - 1) // 2, tf.float32)
    kf = tf.cast(k, tf.float32)
    kernel = tf.random.stateless_normal([7, 7], seed + 1, stddev=1.0 / kf) * window
    filtered = tf.nn.conv2d(images, kernel[:, :, None, None], strides=1, padding="SAME")
    share = tf.random.stateless_uniform([], seed + 2, 0.0, 1.0)
    out = share * images + (1.0 - share) * filtered
    low = tf.reduce_min(out, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(out, axis=[1, 2, 3], keepdims=True)
    out = (out - low) / tf.maximum(high - low, 1e-6)
    use = tf.random.stateless_uniform([], seed + 3) < probability
    return tf.where(use, out, images)


# ---------------------------------------------------------------- training

def _macro_auc(labels, probabilities, k):
    from model.metrics import roc_auc

    values = [roc_auc(labels == c, probabilities[:, c]) for c in range(k)]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else 0.0


def within_source_score(labels: np.ndarray, probabilities: np.ndarray, sources: np.ndarray, k: int,
                        min_per_class: int = 5) -> float | None:
    """Mean over sources of the macro one-vs-rest AUC among that source's own images, counting only
    sources with at least two classes of `min_per_class` images. Inside one source the look cannot
    give the class away, so this rewards what tells the findings apart, not the sources; None when
    no source qualifies. Used to choose the checkpoint (`Recipe.select = "within_source"`) in the
    spirit of domain-generalisation model selection (Gulrajani & Lopez-Paz, 2021)."""
    from model.metrics import roc_auc

    labels, sources = np.asarray(labels), np.asarray(sources)
    scores = []
    for source in sorted(set(sources.tolist())):
        here = sources == source
        classes = [c for c in range(k) if (labels[here] == c).sum() >= min_per_class]
        if len(classes) < 2:
            continue
        keep = here & np.isin(labels, classes)
        values = [roc_auc(labels[keep] == c, probabilities[keep, c]) for c in classes]
        values = [v for v in values if v is not None]
        if len(classes) == 2:  # one pair: both one-vs-rest AUCs are the same comparison
            values = values[:1]
        scores.append(float(np.mean(values)))
    return float(np.mean(scores)) if scores else None


@dataclass(frozen=True)
class FineTuning:
    """How a pretrained backbone (`training.backbones`) is fine-tuned, in two stages as Keras's
    transfer-learning guide does: first only the new head learns, the backbone fixed; then the
    backbone's top `top_blocks` blocks (None: all of it) learn too, at `rate_factor` times the rate.
    Batch normalisation stays fixed throughout (`training.backbones.set_trainable`)."""

    weights: str = "none"           # "imagenet" (Keras's download), a weights file, or "none"
    head_epochs: int = 3            # epochs of the first stage
    top_blocks: int | None = None   # blocks unfrozen in the second stage (None: the whole backbone)
    rate_factor: float = 0.1        # second-stage learning rate as a share of the first's

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Network:
    """What is trained: an architecture of `training.architectures` (from scratch) or a backbone of
    `training.backbones` (pretrained, fine-tuned as `fine_tuning` says), at one input size."""

    arch: str = "compact_cnn"
    image_size: int = 128
    num_classes: int = 3
    fine_tuning: FineTuning = FineTuning()

    @property
    def pretrained(self) -> bool:
        from training.backbones import BACKBONES

        return self.arch in BACKBONES

    def build(self):
        """(model, explain layer, the backbone's own layer names or None for a from-scratch network)."""
        from training.architectures import build_model
        from training.backbones import backbone_classifier

        if self.pretrained:
            return backbone_classifier(self.arch, self.image_size, self.num_classes, self.fine_tuning.weights)
        return (*build_model(self.arch, self.image_size, 1, self.num_classes), None)

    def stages(self, schedule: "Schedule") -> list[tuple[int, int, float, int | None]]:
        """(first epoch, end epoch, learning rate, backbone blocks that train) per stage: one stage
        for a from-scratch network; head first, then the backbone, for a pretrained one (blocks 0:
        none, N: the top N, None: all)."""
        if not self.pretrained:
            return [(0, schedule.epochs, schedule.learning_rate, None)]
        head = min(self.fine_tuning.head_epochs, schedule.epochs)
        rate = schedule.learning_rate
        return [(0, head, rate, 0), (head, schedule.epochs, rate * self.fine_tuning.rate_factor, self.fine_tuning.top_blocks)]


@dataclass(frozen=True)
class Schedule:
    """How long and how fast: epochs, batch size, first learning rate, patience (epochs without a
    better validation score before stopping; the rate halves every third such epoch), seed, steps
    per epoch (None: one pass over the training films) and the `tf.distribute` strategy."""

    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 6
    seed: int = 42
    steps_per_epoch: int | None = None
    strategy: str = "default"


def make_strategy(name: str):
    """`tf.distribute` strategy: one device, all local devices, or workers described by TF_CONFIG."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name != "default":
        raise ValueError(f"unknown strategy {name!r}; choose default, mirrored or multiworker")
    return tf.distribute.get_strategy()


@dataclass
class Fitted:
    """A fitted classifier: the shipped weights (best on validation, or the average of the late
    epochs), one history row per epoch, and the layer explained by default."""

    model: object
    history: list[dict]
    explain_layer: str


def _initialise_from(model, recipe: Recipe, log) -> None:
    """Copy same-named layers of `recipe.init_from` into `model` (and keep them fixed if asked)."""
    import keras

    from training.architectures import transfer_weights

    copied = transfer_weights(model, keras.saving.load_model(recipe.init_from, compile=False, safe_mode=True))
    if not copied:
        raise ValueError(f"no layer of {recipe.init_from} matches the {model.name} network by name and shape")
    log(f"initialised {len(copied)} layers from {recipe.init_from}: {', '.join(copied)}")
    for name in copied if recipe.freeze_init else ():
        model.get_layer(name).trainable = False


def _trainer(model, recipe: Recipe, n_sources: int):
    """(graph that is fitted, its loss arguments for `compile`, the gradient-reversal layer or None).
    The shipped model is always the plain `model`; an adversarial source head or style mixing lives
    in a training graph over the same layers."""
    import keras

    classification_loss = (within_source_loss if recipe.contrasts == "within_source"
                           else keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing))
    if not recipe.dann:
        trainer = with_style_mix(model, recipe.style_mix) if recipe.style_mix else model
        return trainer, dict(loss=classification_loss), None
    features = model.get_layer("gap").output
    label_in = keras.Input((model.outputs[0].shape[-1],), name="label_onehot")
    grl = gradient_reversal_layer()
    h = keras.layers.Concatenate(name="dann_concat")([grl(features), label_in])
    h = keras.layers.Dense(64, activation="relu", name="dann_hidden")(h)
    src = keras.layers.Dense(n_sources, name="dann_source")(h)
    trainer = keras.Model([model.inputs[0], label_in], [model.outputs[0], src])
    losses = dict(loss=[classification_loss, keras.losses.SparseCategoricalCrossentropy(from_logits=True)],
                  loss_weights=[1.0, recipe.dann])
    return trainer, losses, grl


def _batches(maker: "BatchMaker", train: dict, recipe: Recipe, image_size: int, num_classes: int, seed: int):
    """The endless `tf.data` stream of augmented training batches the recipe asks for: drawn by
    `maker` (sampling, photometric and source mixing in numpy), then geometric augmentation,
    random convolutions and exposure jitter in TensorFlow; (x, y[, sample weight]) or, with the
    adversarial head, ((x, one-hot), (y, source))."""
    import tensorflow as tf

    from training.input_pipeline import _exposure_jitter, augmenter, class_weights

    eye = np.eye(num_classes, dtype=np.float32)
    width = num_classes + (2 if maker.contrast is not None else 0)
    weights = class_weights(train["labels"], num_classes) if recipe.class_weights else None
    table = np.array([weights[k] for k in range(num_classes)], np.float32) if weights else np.ones(num_classes, np.float32)
    mix_rng = np.random.default_rng(seed + 7919)

    def draw():
        while True:
            x, idx = maker.batch()
            y = eye[train["labels"][idx]]
            if recipe.mixup:
                x, y = mixup_batch(x, y, mix_rng, recipe.mixup)
            if maker.contrast is not None:  # the loss reads which contrasts each film may teach
                y = np.concatenate([y, maker.contrast[idx]], axis=1)
            yield x, y, maker.source_index[idx].astype(np.int32), table[train["labels"][idx]]

    sig = (tf.TensorSpec((None, image_size, image_size, 1), tf.float32), tf.TensorSpec((None, width), tf.float32),
           tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.float32))
    ds = tf.data.Dataset.from_generator(draw, output_signature=sig)
    counter = tf.data.Dataset.counter(seed * 100003).map(lambda c: tf.stack([c, c * 7 + 1]))
    augment = augmenter(seed)

    def finish(batch, s):
        x, y, src, w = batch
        x = augment(x, training=True)
        inside = tf.cast(x > 0, tf.float32)  # masked images: geometric augmentation moved the mask along
        if recipe.rand_conv:
            x = random_convolution(x, s + 11, recipe.rand_conv)
        x = _exposure_jitter(x, s)
        if recipe.lung_mask:  # keep the outside exactly zero, as at serving
            x = x * inside
        if recipe.dann:
            return (x, y[:, :num_classes]), (y, src)
        return (x, y, w) if recipe.class_weights else (x, y)

    return tf.data.Dataset.zip((ds, counter)).map(finish, num_parallel_calls=2).prefetch(4)


class _Progress:
    """The fit loop's bookkeeping across epochs and stages: validation score per epoch, the best
    weights, the sum of the averaged epochs, the learning rate and the epochs waited."""

    def __init__(self, model, val: dict, recipe: Recipe, schedule: Schedule, watch=None, log=print):
        self.model, self.val, self.recipe, self.schedule, self.watch, self.log = model, val, recipe, schedule, watch, log
        self.x_val = lung_inputs(val["images"], val.get("masks"), recipe.lung_mask, recipe.lung_equalize)
        self.best, self.best_score, self.waited, self.lr = None, -1.0, 0, schedule.learning_rate
        self.sum, self.averaged, self.history = None, 0, []

    def score(self, epoch: int, loss: float, seconds: float, extra: dict) -> tuple[dict, float]:
        """This epoch's history row and the score that chooses the checkpoint."""
        k = self.model.outputs[0].shape[-1]
        probs = self.model.predict(self.x_val, batch_size=64, verbose=0)
        score = _macro_auc(self.val["labels"], probs, k)
        row = {"epoch": epoch + 1, "loss": loss, "val_auc": score,
               "val_accuracy": float(np.mean(np.argmax(probs, 1) == self.val["labels"])),
               "learning_rate": self.lr, "seconds": round(seconds, 1), **extra}
        if self.recipe.select == "within_source":
            within = within_source_score(self.val["labels"], probs, self.val["sources"], k)
            row["val_within_auc"] = within
            score = score if within is None else within
        if self.watch is not None:
            row.update(self.watch(self.model))
        return row, score

    def accumulate(self, epoch: int, row: dict) -> None:
        """Add this epoch's weights to the average (stochastic weight averaging) once it has begun."""
        if not self.recipe.average_from or epoch + 1 < self.recipe.average_from:
            return
        weights = self.model.get_weights()
        self.sum = ([w.astype(np.float64) for w in weights] if self.sum is None
                    else [a + w for a, w in zip(self.sum, weights)])
        self.averaged += 1
        row["averaged_epochs"] = self.averaged

    def judge(self, epoch: int, score: float) -> str:
        """"keep" (a new best), "halve" (the rate), "stop" or "wait" after this epoch."""
        if epoch + 1 < self.recipe.select_after:  # burn-in: a lucky early score must not freeze training
            return "wait"
        if score > self.best_score + 1e-4:
            self.best, self.best_score, self.waited = [w.copy() for w in self.model.get_weights()], score, 0
            return "keep"
        self.waited += 1
        if self.waited >= self.schedule.patience:
            return "stop"
        return "halve" if self.waited % 3 == 0 and not self.recipe.constant_lr else "wait"

    def shipped_weights(self) -> list | None:
        """The mean of the averaged epochs, else the best epoch's (None: keep the last weights,
        which happens only when training ended inside the burn-in)."""
        if self.averaged:
            return [(total / self.averaged).astype(w.dtype) for total, w in zip(self.sum, self.model.get_weights())]
        return self.best


def _monitor(progress: _Progress, trainer, grl, epochs: int):
    """The Keras callback that runs `progress` after every epoch (and ramps the adversarial head)."""
    import keras

    class Monitor(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()
            if grl is not None:  # DANN schedule: strength ramps from 0 to 1
                grl.strength.assign(2.0 / (1.0 + math.exp(-10 * epoch / max(1, epochs - 1))) - 1.0)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            extra = {"source_loss": float(logs.get("dann_source_loss", np.nan))} if grl is not None else {}
            row, score = progress.score(epoch, float(logs.get("loss", np.nan)), time.time() - self.started, extra)
            progress.accumulate(epoch, row)
            progress.history.append(row)
            progress.log(f"epoch {epoch + 1}/{epochs} " + " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "epoch"))
            verdict = progress.judge(epoch, score)
            if verdict == "halve":
                progress.lr *= 0.5
                trainer.optimizer.learning_rate.assign(progress.lr)
            trainer.stop_training = verdict == "stop"

    return Monitor()


def fit_classifier(network: Network, train: dict, val: dict, recipe: Recipe, schedule: Schedule = Schedule(),
                   log=print, watch=None) -> Fitted:
    """The one fit loop for classifiers: every recipe, from scratch or from a pretrained backbone.

    Args:
        network: the architecture or backbone, input size and fine-tuning stages.
        train, val: dicts with "images" (N,S,S,1) in [0,1], "masks" (N,S,S) or None, "labels" (N,)
            ints, "sources" (N,) strings. Validation films are masked like serving films when the
            recipe masks.
        recipe: the counter-measures against the source shortcut (and the loss options).
        schedule: epochs, batch size, rate, patience, seed, strategy.
        log: where progress lines go.
        watch: optional diagnostic called with the model after every epoch; its figures join that
            epoch's history row and never influence the checkpoint choice or early stopping.

    Returns:
        `Fitted`: best-on-validation weights (or the average from `recipe.average_from` on), history.
    """
    import keras

    from training.backbones import backbone, set_trainable

    recipe.check()
    if recipe.style_mix and network.pretrained:
        raise ValueError("style mixing needs a plain chain of layers (compact_cnn), not a pretrained backbone")
    keras.utils.set_random_seed(schedule.seed)
    strategy = make_strategy(schedule.strategy)
    with strategy.scope():
        model, explain, backbone_layers = network.build()
        if recipe.init_from:
            _initialise_from(model, recipe, log)
        maker = BatchMaker(train["images"], train.get("masks"), train["labels"], train["sources"], recipe,
                           schedule.batch_size, schedule.seed)
        trainer, losses, grl = _trainer(model, recipe, len(maker.source_names))
    ds = _batches(maker, train, recipe, network.image_size, network.num_classes, schedule.seed)
    steps = schedule.steps_per_epoch or math.ceil(len(train["labels"]) / schedule.batch_size)
    progress = _Progress(model, val, recipe, schedule, watch, log)
    for number, (first, end, rate, blocks) in enumerate(network.stages(schedule), start=1):
        if end <= first:
            continue
        if backbone_layers is not None:  # a backbone stage: which of its layers learn, then a fresh optimizer
            count = set_trainable(model, backbone_layers, backbone(network.arch), blocks)
            log(f"stage {number}: {count} backbone layers train, learning rate {rate:g}")
        progress.lr, progress.waited = rate, 0
        with strategy.scope():
            trainer.compile(optimizer=keras.optimizers.Adam(rate, use_ema=recipe.ema, ema_momentum=0.99), **losses)
        # With --ema the averaged weights are swapped in before the monitor scores (and keeps) them.
        swap = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if recipe.ema else []
        trainer.fit(ds, steps_per_epoch=steps, epochs=end, initial_epoch=first, verbose=0,
                    callbacks=[*swap, _monitor(progress, trainer, grl, schedule.epochs)])
    weights = progress.shipped_weights()
    if weights is not None:
        model.set_weights(weights)
    return Fitted(model, progress.history, explain)
