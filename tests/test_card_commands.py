"""Every card in the shipped registry records the command that rebuilds it, and that command, read by
the real parser of `training.train` (or `training.ensemble` / `training.train_lungs`), asks for what the
card says was built: the same data, architecture, input, preprocessing, recipe and registry id."""
from __future__ import annotations

import shlex

import pytest

from model.registry import LUNG_SEGMENTATION, PACKAGE_REGISTRY, list_entries, read_card
from training import ensemble, train, train_lungs

ENTRIES = [status.id for status in list_entries(PACKAGE_REGISTRY)]


def _commands(card) -> list[list[str]]:
    """The card's command split into its `python -m MODULE ARGS` parts (members first for an ensemble)."""
    command = card.training.get("command")
    assert command, f"{card.id}'s card records no command"
    parts = []
    for part in command.split(" && "):
        words = shlex.split(part)
        assert words[:2] == ["python", "-m"], part
        parts.append(words[2:])
    return parts


def _check_train(card, argv: list[str], prep: dict | None = None) -> None:
    args = train.build_parser().parse_args(argv)
    train.check_arguments(args)
    prep = prep or card.preprocessing
    assert args.image_size == prep["image_size"]
    assert bool(args.lung_crop or args.lung_mask) == bool(prep.get("lung_crop"))
    assert args.lung_mask == bool(prep.get("lung_mask"))
    assert args.border_crop == pytest.approx(prep["border_crop"])
    assert args.equalize == prep["equalize"]
    assert args.data.rstrip("/") == card.training["data"].rstrip("/")
    if "recipe" in card.training:
        assert train.recipe_of(args).to_dict() == {**train.recipe_of(args).to_dict(), **card.training["recipe"]}
    if card.training.get("split_method"):
        assert args.split == card.training["split_method"]
    assert args.seed == card.training.get("init_seed", card.training["seed"])


@pytest.mark.parametrize("model_id", ENTRIES)
def test_each_card_records_a_command_that_rebuilds_it(model_id):
    card = read_card(model_id, PACKAGE_REGISTRY)
    parts = _commands(card)
    if card.kind == LUNG_SEGMENTATION:
        [(module, *argv)] = parts
        assert module == "training.train_lungs"
        args = train_lungs.build_parser().parse_args(argv)
        assert args.model_id == card.id and args.image_size == card.preprocessing["image_size"]
        assert args.epochs == card.training["epochs_max"] and args.seed == card.training["seed"]
        return
    *members, (module, *argv) = parts
    if members:  # an ensemble: its members are trained by training.train, then merged
        assert module == "training.ensemble"
        args = ensemble.build_parser().parse_args(argv)
        assert args.model_id == card.id and args.members == card.training["members"]
        two_channel = bool(card.preprocessing.get("mask_channel"))
        assert (args.unmasked_branch is not None) == two_channel
        # A two-channel card's members were trained lung-masked at their own size (the card's input is
        # the unmasked film and the mask at the unmasked network's size).
        member_prep = ({**card.preprocessing, "image_size": card.training["masked_size"], "lung_mask": True,
                        "channels": 1} if two_channel else card.preprocessing)
        built = []
        for member_module, *member_argv in members:
            assert member_module == "training.train"
            member_args = train.build_parser().parse_args(member_argv)
            _check_train(card, member_argv, member_prep)
            built.append(member_args.register)
        assert built == card.training["members"]
        return
    assert module == "training.train"
    args = train.build_parser().parse_args(argv)
    assert args.register == card.id
    assert args.arch == card.architecture
    _check_train(card, argv)
    assert args.epochs >= card.training["epochs_run"]


def test_a_command_that_asks_for_another_recipe_is_caught():
    card = read_card("cxr-compact-averaged-v2", PACKAGE_REGISTRY)
    argv = _commands(card)[0][1:]
    with pytest.raises(AssertionError):
        _check_train(card, [a for a in argv if a != "--photometric"])
    with pytest.raises(AssertionError):
        _check_train(card, [*argv, "--image-size", "224"])


def test_the_defaults_card_fine_tunes_the_shared_mobilenet_through_backbone():
    """Issue 24: the default's card records `training.train --backbone mobilenet --weights <the shared file>`;
    `--backbone` is the same option as `--arch`."""
    from model.registry import default_model_id

    card = read_card(default_model_id(PACKAGE_REGISTRY), PACKAGE_REGISTRY)
    trainings = [argv for module, *argv in _commands(card) if module == "training.train"]
    assert trainings
    for argv in trainings:
        assert argv[argv.index("--backbone") + 1] == "mobilenet"
        assert argv[argv.index("--weights") + 1] == "../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5"
        assert train.build_parser().parse_args(argv).arch == "mobilenet"
    assert train.build_parser().parse_args(["--data", "d", "--arch", "resnet50"]).arch == \
        train.build_parser().parse_args(["--data", "d", "--backbone", "resnet50"]).arch
