"""The Performance page's triage figures come from the card's scope block, as written by training.fit_scope."""
import pytest

from model.present import triage_summary

SCOPE = {
    "min_top_probability": 0.45, "min_agreement": 0.625, "lung_attention_threshold": 0.39,
    "test": {"n": 10, "status_share": {"answer": 0.8, "uncertain": 0.1, "out_of_scope": 0.1},
             "accuracy_all": 0.7, "accuracy_answered": 0.75, "accuracy_uncertain": None,
             "lung_warning_share": 0.2, "lung_warning_on_correct": 0.1, "lung_warning_on_wrong": 0.4},
    "held_out_sources": {"b-source": {"n": 5, "auroc": 0.6, "flagged_unusual": 0.2, "flagged_out_of_scope": 0.0},
                         "a-source": {"n": 7, "auroc": 0.55, "flagged_unusual": 0.1, "flagged_out_of_scope": 0.0}},
    "synthetic": {"colour photograph": 1.0, "inverted chest film": 0.95},
    "target_accuracy": 0.9, "target_reached": True,
    "unseen_sources": {"new-site": {"n": 300, "status_share": {"answer": 0.4, "uncertain": 0.6, "out_of_scope": 0.0},
                                    "answered_right": 0.3, "answered_wrong": 0.1}},
    "children": {"n": 1, "status_share": {"answer": 0.0, "uncertain": 1.0, "out_of_scope": 0.0},
                 "answered_right": 0.0, "answered_wrong": 0.0},
}
SCOPE["test"]["rules"] = {"low_probability": {"fires": 0.3, "accuracy_when_fired": 0.5},
                          "anatomy_unusual": {"fires": 0.05, "accuracy_when_fired": 0.8},
                          "many_copies_below": {"fires": 0.1, "accuracy_when_fired": 0.6}}


def test_triage_rows_follow_the_scope_block_and_skip_what_was_not_measured():
    rows = triage_summary.triage_rows(SCOPE)
    values = dict(zip(rows["measure"], rows["value"]))
    assert values["Answer: share of test films"] == 0.8
    assert values["Out of scope: share of test films"] == 0.1
    assert values["Accuracy on answered films"] == 0.75
    assert values["Lung-attention warning: on wrong answers"] == 0.4
    assert "Accuracy on uncertain films" not in values  # None: not measured, not shown as 0
    assert triage_summary.triage_rows(None).empty and triage_summary.triage_rows({"check": "x"}).empty


def test_held_out_and_synthetic_tables():
    held = triage_summary.held_out_scope_table(SCOPE)
    assert list(held["held-out source"]) == ["a-source", "b-source"]
    assert held.loc[1, "AUROC"] == pytest.approx(0.6)
    synthetic = triage_summary.synthetic_table(SCOPE)
    assert dict(zip(synthetic["input"], synthetic["held back as out of scope"]))["inverted chest film"] == 0.95
    assert triage_summary.held_out_scope_table({}).empty and triage_summary.synthetic_table(None).empty


def test_rates_per_rule_and_films_the_model_never_trained_on():
    rules = triage_summary.rule_table(SCOPE)
    assert list(rules["rule"]) == ["probability below the model's threshold", "unusual anatomy (second read)",
                                   "too many slightly changed copies below the answer level"]
    assert list(rules["fires on"]) == [0.3, 0.05, 0.1] and list(rules["accuracy when it fires"]) == [0.5, 0.8, 0.6]
    assert list(rules["films"]) == [3, 0, 1]  # of the 10 test films: how little a rule's accuracy may rest on
    unseen = triage_summary.unseen_table(SCOPE)
    assert list(unseen["films"]) == ["new-site", "children's films in the data"]
    assert unseen.loc[0, "answered and wrong"] == 0.1 and unseen.loc[0, "answered"] == 0.4
    assert triage_summary.rule_table({}).empty and triage_summary.unseen_table(None).empty


def test_thresholds_sentence():
    sentence = triage_summary.thresholds_sentence(SCOPE)
    # The thresholds to 0.1%, as Diagnose and the Gallery give them (84.5% was shown as 84% here).
    assert "below a probability of 45.0%" in sentence and "62.5%" in sentence and "below 39.0% of the map" in sentence
    assert "right 90% of the time" in sentence
    assert "84.5%" in triage_summary.thresholds_sentence({**SCOPE, "min_top_probability": 0.845})
    assert triage_summary.thresholds_sentence({}) == ""
    assert "fall below" not in sentence  # a scope check without the copies-below limit has no such rule
    limited = triage_summary.thresholds_sentence({**SCOPE, "max_copies_below": 2})
    assert "copies agree, or when more than 2 of them fall below that probability;" in limited
    # the level is the lowest that reaches the target together with the limit, and says so
    assert "right 90% of the time, with the limit of copies below)" in limited
    assert "right 90% of the time)" in sentence and "with the limit" not in sentence
