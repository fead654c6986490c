"""The one training command: train a classifier with a recipe, score it held out, register it.

    # a pretrained MobileNet, fine-tuned, lung-masked and source-balanced, registered as the default
    python -m training.train --data ../shared/data/cxr/manifest-v2.csv --backbone mobilenet \\
        --weights ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5 --image-size 224 --lung-mask \\
        --balance source_label --photometric --average-from 8 --register NEW-ID --default
    # the same recipe with two sources held out: figures on films of hospitals it never saw
    python -m training.train ... --hold-out-source openist-normal covid-radiography-db --out runs/NAME

Steps: read the labelled films, decode and cache them once through the one preprocessing path
(`training.pool`), split by patient (hash of seed and patient id; `--split legacy` for the v1
models' stratified dealing) after removing the held-out sources, fit with the one fit loop
(`training.recipes.fit_classifier`), fit a calibration temperature on the validation split, score
the run on films it never trained on (`training.held_out`: each held-out source alone, the internal
test split, within one source) and measure how much its features know the source
(`training.source_probe`). Everything goes to OUT/results.json (with model.keras); with
`--register ID` (no held-out source) the run also becomes a registry entry whose card records this
command.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from model.inputs.preprocessing import Preprocessing
from model.labelled_data import CLASS_LABELS
from model.runtime import doc_summary
from training.pool import DEFAULT_CACHE
from training.recipes import FineTuning, Network, Recipe, Schedule


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train", description=doc_summary(__doc__))
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, help="manifest CSV, folder with manifest.csv, or folder-per-class layout")
    data.add_argument("--label-map", type=Path, help="JSON mapping folder names to labels (folder layouts)")
    data.add_argument("--hold-out-source", nargs="*", default=[], metavar="SOURCE",
                      help="source(s) removed from training and reported on alone")
    data.add_argument("--split", choices=("hash", "legacy"), default="hash",
                      help="patient split: hash of (seed, patient id), stable when data are added (default); "
                           "legacy: the stratified dealing the v1 models were trained with")
    data.add_argument("--limit", type=int, default=None, help="use at most N images (smoke runs)")
    net = p.add_argument_group("network and input")
    net.add_argument("--arch", "--backbone", dest="arch", default="compact_cnn",
                     help="from scratch: compact_cnn, small_resnet, lung_encoder_cnn; pretrained backbones: mobilenet, "
                          "mobilenet_v2, densenet121, efficientnet_b0, resnet50 (--backbone is the same option)")
    net.add_argument("--weights", default="none",
                     help="backbones: imagenet (Keras's download, needs internet), a weights file, or none")
    net.add_argument("--head-epochs", type=int, default=3, help="backbones: epochs with the backbone fixed (stage 1)")
    net.add_argument("--top-blocks", type=int, default=None,
                     help="backbones: blocks fine-tuned in stage 2 (default: the whole backbone)")
    net.add_argument("--fine-tune-rate", type=float, default=0.1, help="backbones: stage-2 rate as a share of the first")
    net.add_argument("--image-size", type=int, default=128)
    net.add_argument("--border-crop", type=float, default=0.06)
    net.add_argument("--equalize", choices=("clahe", "none"), default="clahe")
    net.add_argument("--lung-crop", action="store_true", help="crop every film to its lung fields (also at serving)")
    net.add_argument("--lung-mask", action="store_true",
                     help="zero outside the dilated lung fields (implies --lung-crop; also at serving)")
    net.add_argument("--lung-equalize", action="store_true",
                     help="with --lung-mask: histogram equalisation inside the lung field (also at serving)")
    net.add_argument("--lung-model", default="lungs-unet-v1", help="registry id of the lung segmentation entry")
    _recipe_arguments(p.add_argument_group("recipe against the source shortcut"))
    fit = p.add_argument_group("schedule")
    fit.add_argument("--epochs", type=int, default=15)
    fit.add_argument("--patience", type=int, default=6)
    fit.add_argument("--batch-size", type=int, default=32)
    fit.add_argument("--learning-rate", type=float, default=1e-3)
    fit.add_argument("--seed", type=int, default=42, help="initialisation and sampling seed")
    fit.add_argument("--split-seed", type=int, default=None,
                     help="seed of the patient split (default: --seed); runs that differ only in --seed then share "
                          "their test patients and can be averaged (training.crossval_average, training.ensemble)")
    fit.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                     help="tf.distribute strategy: one device, all local GPUs, or workers named by TF_CONFIG")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, default=None, help="run folder for results.json, history and model.keras "
                                                            "(default: runs/<registered id or run name>)")
    out.add_argument("--register", "--model-id", dest="register", default=None, metavar="MODEL_ID",
                     help="write a registry entry (trains on every source: no --hold-out-source)")
    out.add_argument("--default", action="store_true", help="with --register: make it the registry default")
    out.add_argument("--display-name", default=None)
    out.add_argument("--version", default="2.0")
    out.add_argument("--held-out-results", type=Path, nargs="*", default=[],
                     help="results.json files of held-out runs of the same recipe, copied into the card")
    out.add_argument("--watch-held-out", action="store_true",
                     help="diagnostic: score the held-out sources after every epoch and write the figures into the "
                          "run's history (watch_*); they never choose the checkpoint or stop training")
    out.add_argument("--probe-per-source", type=int, default=200)
    out.add_argument("--registry", type=Path, default=None, help="registry folder (default: CXR_REGISTRY or model/versions)")
    out.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="decoded-array cache")
    return p


def _recipe_arguments(g) -> None:
    g.add_argument("--balance", choices=("label", "source_label", "none"), default="label",
                   help="label: classes equally likely; source_label: then sources within a class; none: every film")
    g.add_argument("--class-weights", action="store_true", help="weigh each film's loss by 1 / its class's share")
    g.add_argument("--ema", action="store_true",
                   help="validate, keep and ship an exponential moving average of the weights (momentum 0.99)")
    g.add_argument("--photometric", action="store_true", help="photometric augmentation that makes sources alike")
    g.add_argument("--mix", type=float, default=0.0, help="probability of blending with a same-class image of another source")
    g.add_argument("--contrasts", choices=["all", "within_source"], default="all",
                   help="within_source: learn normal vs abnormal and COVID-19 vs Pneumonia only among films of "
                        "one source (sources of one class teach nothing)")
    g.add_argument("--select", choices=["macro_auc", "within_source"], default="macro_auc",
                   help="checkpoint choice on validation: macro AUC, or the mean AUC inside each source")
    g.add_argument("--select-after", type=int, default=0, metavar="EPOCH",
                   help="burn-in: keep no checkpoint from before this epoch and start patience and learning-rate "
                        "halving only then")
    g.add_argument("--amplitude-mix", type=float, default=0.0,
                   help="probability of giving an image the low-frequency Fourier amplitude of another source's image")
    g.add_argument("--style-mix", type=float, default=0.0, metavar="P",
                   help="probability a batch mixes early feature statistics across films (MixStyle; compact_cnn)")
    g.add_argument("--rand-conv", type=float, default=0.0, metavar="P",
                   help="probability a batch passes through a random convolution (RandConv)")
    g.add_argument("--average-from", type=int, default=0, metavar="EPOCH",
                   help="ship the mean of the weights of every epoch from EPOCH to the end of training (stochastic "
                        "weight averaging, as SWAD does for domain generalisation) instead of the best checkpoint")
    g.add_argument("--constant-lr", action="store_true", help="with --average-from: never halve the learning rate")
    g.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="cross-class mixup: blend each film and its target with another film of the batch, the "
                        "share drawn from Beta(ALPHA, ALPHA) (0: off; 0.2-0.4 usual)")
    g.add_argument("--label-smoothing", type=float, default=0.0,
                   help="share of each target spread evenly over the classes (0: off)")
    g.add_argument("--init-from", default="", metavar="MODEL_KERAS",
                   help="start from the weights of a saved model's same-named layers, e.g. the lung-field U-Net's "
                        "encoder (model/versions/lungs-unet-v1/model.keras with --arch lung_encoder_cnn)")
    g.add_argument("--freeze-init", action="store_true", help="with --init-from: keep the copied layers fixed")
    g.add_argument("--dann", type=float, default=0.0, help="weight of a gradient-reversed source head (0: off)")


def recipe_of(args) -> Recipe:
    """The `Recipe` the command line asks for."""
    return Recipe(balance=args.balance, photometric=args.photometric, lung_mask=args.lung_mask, mix=args.mix,
                  dann=args.dann, lung_equalize=args.lung_equalize, amplitude_mix=args.amplitude_mix,
                  select=args.select, contrasts=args.contrasts, select_after=args.select_after,
                  style_mix=args.style_mix, rand_conv=args.rand_conv, average_from=args.average_from,
                  constant_lr=args.constant_lr, mixup=args.mixup, label_smoothing=args.label_smoothing,
                  init_from=args.init_from, freeze_init=args.freeze_init, class_weights=args.class_weights,
                  ema=args.ema)


def network_of(args) -> Network:
    return Network(args.arch, args.image_size, len(CLASS_LABELS),
                   FineTuning(args.weights, args.head_epochs, args.top_blocks, args.fine_tune_rate))


def schedule_of(args) -> Schedule:
    return Schedule(args.epochs, args.batch_size, args.learning_rate, args.patience, args.seed, None, args.strategy)


def preprocessing_of(args) -> Preprocessing:
    """The card's preprocessing: what serving will do to every film, as in training."""
    crop = args.lung_crop or args.lung_mask
    return Preprocessing(image_size=args.image_size, channels=1, resize="stretch", border_crop=args.border_crop,
                         equalize=args.equalize, lung_crop=crop, lung_model=args.lung_model if crop else "",
                         lung_mask=args.lung_mask, lung_equalize=args.lung_equalize)


def check_arguments(args) -> None:
    """Refuse contradictory options in one line, before any data are read (SystemExit)."""
    from training.backbones import BACKBONES, WeightsUnavailable, weights_argument

    if args.register and args.hold_out_source:
        raise SystemExit("--register trains on every source: drop --hold-out-source")
    if args.lung_equalize and not args.lung_mask:
        raise SystemExit("--lung-equalize needs --lung-mask")
    if args.init_from and not Path(args.init_from).is_file():
        raise SystemExit(f"--init-from: no such model file {args.init_from}")
    if args.arch in BACKBONES:
        try:
            weights_argument(args.weights)
        except WeightsUnavailable as error:
            raise SystemExit(str(error)) from None
    elif args.weights != "none":
        raise SystemExit(f"--weights is for pretrained backbones ({', '.join(sorted(BACKBONES))}), not {args.arch}")
    try:
        recipe_of(args).check()
        preprocessing_of(args)
    except ValueError as error:
        raise SystemExit(str(error)) from None


def command_line(argv) -> str:
    """The command as a person would type it again (arguments quoted where needed)."""
    return "python -m training.train " + shlex.join(sys.argv[1:] if argv is None else list(argv))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    check_arguments(args)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from training.training_run import TrainingRun

    run = TrainingRun(args, command_line(argv), recipe_of(args), network_of(args), schedule_of(args),
                      preprocessing_of(args))
    run.prepare()
    run.fit()
    run.score()
    if args.register:
        run.register()
    return 0


if __name__ == "__main__":
    sys.exit(main())

