"""`python -m training.fit_scope`: fits the scope check of a tiny model on synthetic films and writes it
into the entry (scope.json and the card's scope), with held-out-source and synthetic figures."""
import json

import numpy as np
import pytest

from model.inputs.preprocessing import Preprocessing
from model.registry import ModelCard, read_card, save_entry
from model.trust.scope import read_scope
from tests.support import write_manifest, write_tiny_entry


@pytest.fixture()
def registry(tmp_path):
    import keras

    from training.train_lungs import export_copy, lung_unet

    root = tmp_path / "registry"
    write_tiny_entry(root, "tiny-s", default=True)
    keras.utils.set_random_seed(0)
    unet, layer = lung_unet(48, 1, (4, 8), dropout=0.0)
    save_entry(export_copy(unet, 48, 1, (4, 8)),
               ModelCard(id="lungs-tiny", display_name="lungs", version="0", created="2026-01-01", architecture="lung_unet",
                         labels=["lung"], explain_layer=layer, kind="lung_segmentation",
                         preprocessing=Preprocessing(image_size=48, equalize="none").to_dict()), root=root)
    return root


@pytest.fixture()
def manifest(tmp_path):
    kinds = [("COVID-19", "site-a"), ("Normal", "site-b"), ("Pneumonia", "site-c")]
    return write_manifest(tmp_path, [(kinds[i % 3][0], f"p{i}", kinds[i % 3][1]) for i in range(60)])


def test_scope_command_fits_validates_and_stores_the_check(registry, manifest, capsys):
    from training import fit_scope

    assert fit_scope.main(["--model", "tiny-s", "--data", str(manifest), "--registry", str(registry)]) == 0
    check = read_scope("tiny-s", registry)
    assert check is not None and check.novelty.out_of_scope_threshold >= check.novelty.unusual_threshold
    assert 0.6 <= check.min_top_probability <= 0.99 and 0.0 < check.lung_attention_threshold < 1.0
    figures = check.figures
    assert sum(figures["test"]["status_share"].values()) == pytest.approx(1.0)
    assert figures["target_accuracy"] == 0.9 and isinstance(figures["target_reached"], bool)
    if figures["target_reached"]:  # the answered validation films reach the stated accuracy
        assert figures["validation"]["accuracy_answered"] >= 0.9
    assert set(figures["test"]["rules"]) <= set(fit_scope.RULES)
    # The tiny model's card names only "synthetic" as its source: every site of the data is one it never saw.
    assert set(figures["unseen_sources"]) == {"site-a", "site-b", "site-c"}
    unseen = figures["unseen_sources"]["site-a"]
    assert unseen["n"] == 20 and unseen["answered_right"] + unseen["answered_wrong"] == pytest.approx(
        unseen["status_share"]["answer"])
    assert figures["children"]["n"] == 0  # the manifest has no age column
    assert set(figures["held_out_sources"]) <= {"site-a", "site-b", "site-c"}
    assert figures["synthetic"]["CT slice (DICOM)"]["out_of_scope"] == 1.0  # its DICOM modality is CT
    card = read_card("tiny-s", registry)
    assert card.scope["intended_population"].startswith("Adult frontal") and "test" in card.scope
    assert card.scope["min_top_probability"] == round(check.min_top_probability, 3) and "rules" in card.scope["test"]
    # The copies-below limit is fitted with the threshold, stored in both, and applied by every reading of a film.
    from model.trust.scope import Scope
    from model.trust.triage import answer_levels

    assert isinstance(check.max_copies_below, int) and card.scope["max_copies_below"] == check.max_copies_below
    assert answer_levels(check)["max_copies_below"] == check.max_copies_below
    older = {k: v for k, v in check.to_dict().items() if k != "max_copies_below"}
    assert Scope.from_dict(older).max_copies_below is None  # a scope check without it: today's rule, no limit
    out = capsys.readouterr().out
    assert "scope check of tiny-s" in out and "synthetic out-of-scope inputs" in out
    json.dumps(check.to_dict())  # JSON-ready
    assert np.isfinite(check.novelty.precision).all()
    # The breakdown command triages the same test films under the stored scope as fit_scope counted them.
    from training import triage_breakdown

    assert triage_breakdown.main(["--model", "tiny-s", "--data", str(manifest), "--registry", str(registry)]) == 0
    out = capsys.readouterr().out
    by_label = [line for line in out.splitlines() if line.startswith("  ")][:3]
    answered = sum(int(line.split(" / ")[1].split(" ")[0]) for line in by_label)
    assert answered == round(figures["test"]["status_share"]["answer"] * figures["test"]["n"])


def test_the_breakdown_counts_answers_by_group_and_the_cautioned_ones_apart():
    from training.triage_breakdown import answered_by, cautioned, format_breakdown

    # Rows as fit_scope makes them, an array among their values (a membership test on them raised).
    rows = [{"label": "A", "source": "s", "status": "answer", "correct": True, "copies": [0.9, 0.8],
             "features": np.zeros(3)},
            {"label": "A", "source": "t", "status": "answer", "correct": False, "copies": [0.9, 0.5],
             "features": np.ones(3)},
            {"label": "B", "source": "t", "status": "uncertain", "correct": True, "copies": [0.4, 0.3],
             "features": np.ones(3)}]
    assert answered_by(rows, "label") == {"A": {"films": 2, "answered": 2, "right": 1, "wrong": 1},
                                          "B": {"films": 1, "answered": 0, "right": 0, "wrong": 0}}
    assert answered_by(rows, "source")["t"] == {"films": 2, "answered": 1, "right": 0, "wrong": 1}
    below, others = cautioned(rows, 0.6)
    # The uncertain film is no answer, cautioned or not.
    assert [r is rows[1] for r in below] == [True] and [r is rows[0] for r in others] == [True]
    text = format_breakdown(rows, 0.6)
    assert "  A: 2 / 2 (100%) / 1 (50%) / 1 (50%)" in text
    assert "under the answer level 60.0%: 1 of 2, 0 of 1 (0.0%) right; the other answers 1 of 1 (100.0%) right" in text


def test_the_agreement_level_is_the_strictest_that_flags_few_validation_images():
    from training.fit_scope import agreement_level

    assert agreement_level([1.0] * 97 + [0.5] * 3) == 0.75          # 3% below 0.75: keep the strict level
    assert agreement_level([1.0] * 80 + [0.625] * 17 + [0.5] * 3) == 0.625
    assert agreement_level([0.375] * 50 + [1.0] * 50) == 0.5         # nothing passes: the loosest level
    assert agreement_level([]) == 0.75


def _row(top, correct=True, agreement=1.0, other=False, blocked=False, copies=None):
    return {"top_probability": top, "agreement": agreement, "other_soft": other, "blocked": blocked,
            "correct": correct, "kinds": [], "copies": [top] * 7 if copies is None else copies}


def test_the_probability_threshold_is_the_lowest_that_reaches_the_target_accuracy():
    from training.fit_scope import MIN_TOP_CEILING, MIN_TOP_FLOOR, answer_figures, probability_threshold

    # Right above 0.8, half right below: the accuracy of the answered films reaches 90% only near 0.8.
    rows = [_row(t, correct=t >= 0.8 or i % 2 == 0) for i, t in enumerate(np.linspace(0.4, 0.99, 120))]
    threshold, reached = probability_threshold(rows, 0.75, target=0.9)
    answered = [r for r in rows if r["top_probability"] >= threshold]
    assert reached and 0.7 < threshold <= 0.8 and np.mean([r["correct"] for r in answered]) >= 0.9
    lower = max(r["top_probability"] for r in rows if r["top_probability"] < threshold)
    assert np.mean([r["correct"] for r in rows if r["top_probability"] >= lower]) < 0.9  # the lowest that does
    # Every answer right: the floor, never below it (47% among three classes is never a plain answer).
    assert probability_threshold([_row(t) for t in np.linspace(0.3, 0.99, 50)], 0.75) == (MIN_TOP_FLOOR, True)
    # Films held back by other findings do not count; a target never reached answers (almost) nothing.
    assert probability_threshold([_row(0.95, correct=False)] * 10 + [_row(0.95, other=True)] * 90, 0.75) == (
        MIN_TOP_CEILING, False)
    figures = answer_figures(rows, threshold, 0.75)
    assert figures["answered_right"] + figures["answered_wrong"] == pytest.approx(figures["status_share"]["answer"])
    assert figures["rules"]["low_probability"]["fires"] == pytest.approx(np.mean([r["top_probability"] < threshold
                                                                                  for r in rows]))


def test_the_uncertainty_thresholds_fit_the_agreement_level_first():
    from training.fit_scope import uncertainty_thresholds

    rows = [_row(0.95, agreement=1.0)] * 96 + [_row(0.95, correct=False, agreement=0.5)] * 4
    top, level, max_below, reached = uncertainty_thresholds(rows, target=0.99)
    assert level == 0.75 and reached and top == 0.6  # the disagreeing (wrong) films go to the agreement rule
    assert max_below == 7  # copies that never fall below: no limit is needed, and the loosest is kept


def test_the_copies_below_limit_is_fitted_with_the_threshold_to_answer_the_most_validation_films():
    """Wrong answers whose copies mostly fall below the answer level: without a limit on the copies below, only a
    high threshold keeps the answered films right 90% of the time; at most 2 copies below answers more."""
    from training.fit_scope import answer_figures, film_status, probability_threshold, uncertainty_thresholds

    steady = [_row(t, copies=[t] * 7) for t in np.linspace(0.65, 0.99, 60)]
    fragile = [_row(0.9, correct=False, copies=[0.5] * 6 + [0.9]) for _ in range(12)]
    low = [_row(t, correct=i % 2 == 0, copies=[t] * 7) for i, t in enumerate(np.linspace(0.6, 0.649, 10))]
    rows = steady + fragile + low
    unlimited, reached = probability_threshold(rows, 0.75, 0.9, max_below=None)
    assert reached and unlimited > 0.9  # the fragile wrong answers at 0.9 are held back only by the threshold
    top, level, max_below, reached = uncertainty_thresholds(rows, target=0.9)
    assert reached and top < unlimited and max_below < 6
    answered = answer_figures(rows, top, level, max_below)
    assert answered["status_share"]["answer"] > answer_figures(rows, unlimited, level, 7)["status_share"]["answer"]
    assert answered["accuracy_answered"] >= 0.9 and answered["rules"]["many_copies_below"]["fires"] == pytest.approx(
        12 / len(rows))
    assert film_status(fragile[0], top, level, max_below) == "uncertain"
    assert film_status(fragile[0], top, level) == "answer"  # no limit: today's rule for a scope without one


def test_a_stand_in_for_a_small_childs_framing_is_a_smaller_chest_on_a_larger_film():
    from tests.support import synthetic_radiograph
    from training.fit_scope import framed_like_a_small_child

    film = synthetic_radiograph(128, seed=1)
    framed = framed_like_a_small_child(film)
    assert framed.shape == film.shape and 0.0 <= framed.min() and framed.max() <= 1.0
    assert not np.allclose(framed, film)
