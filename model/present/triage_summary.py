"""What a model's triage does on its own test split, for the Performance page: the share of films
that get an answer, how accurate those are against all, how often the lung-attention warning fires
on right and on wrong answers, and how the scope check did on held-out sources and synthetic
out-of-scope inputs. Everything comes from the card's `scope` block (written by `training.fit_scope`)."""
from __future__ import annotations

import pandas as pd

from model.policy import LOW_LUNG_ATTENTION, MIN_AGREEMENT
from model.present.text import lung_share

STATUS_NAMES = {"answer": "Answer", "uncertain": "Uncertain (second read)", "out_of_scope": "Out of scope"}
# The rules a status comes from, in plain words (the rule names `training.fit_scope` writes).
RULE_NAMES = {"low_probability": "probability below the model's threshold",
              "copies_disagree": "slightly changed copies disagree",
              "many_copies_below": "too many slightly changed copies below the answer level",
              "anatomy_unusual": "unusual anatomy (second read)", "odd_shape": "unusual image shape (second read)",
              "anatomy_out_of_scope": "anatomy unlike the training films (out of scope)",
              "no_lung_fields": "no plausible lung fields (out of scope)", "colour": "colour image (out of scope)",
              "no_contrast": "no contrast (out of scope)"}


def triage_rows(card_scope: dict | None) -> pd.DataFrame:
    """One row per measure of the test split: the measure and its value (a share or an accuracy);
    empty when the model has no scope check."""
    test = (card_scope or {}).get("test") or {}
    if not test:
        return pd.DataFrame(columns=["measure", "value"])
    shares = test.get("status_share") or {}
    rows = [(f"{STATUS_NAMES[status]}: share of test films", shares.get(status)) for status in STATUS_NAMES]
    rows += [("Accuracy on all test films", test.get("accuracy_all")),
             ("Accuracy on answered films", test.get("accuracy_answered")),
             ("Answered and wrong: share of test films", test.get("answered_wrong")),
             ("Accuracy on uncertain films", test.get("accuracy_uncertain")),
             ("Lung-attention warning: all test films", test.get("lung_warning_share")),
             ("Lung-attention warning: on right answers", test.get("lung_warning_on_correct")),
             ("Lung-attention warning: on wrong answers", test.get("lung_warning_on_wrong"))]
    return pd.DataFrame([{"measure": name, "value": value} for name, value in rows if value is not None],
                        columns=["measure", "value"])


def rule_table(card_scope: dict | None, split: str = "test") -> pd.DataFrame:
    """One row per triage rule: the share of the split's films it fires on and the model's accuracy on
    those films (a rule worth having fires where the model is often wrong); empty without figures."""
    block = (card_scope or {}).get(split) or {}
    rules, total = block.get("rules") or {}, block.get("n")

    def films(share):
        return None if share is None or total is None else int(round(share * total))

    rows = [{"rule": RULE_NAMES.get(rule, rule), "fires on": values.get("fires"), "films": films(values.get("fires")),
             "accuracy when it fires": values.get("accuracy_when_fired")} for rule, values in rules.items()]
    return pd.DataFrame(rows, columns=["rule", "fires on", "films", "accuracy when it fires"])


def unseen_table(card_scope: dict | None) -> pd.DataFrame:
    """Per set of films the model never trained on (each unseen source, and the children's films of the
    data): how many, the share answered, answered and right, answered and wrong."""
    scope = card_scope or {}
    sets = dict(scope.get("unseen_sources") or {})
    if (scope.get("children") or {}).get("n"):
        sets["children's films in the data"] = scope["children"]
    rows = [{"films": name, "images": values.get("n"), "answered": (values.get("status_share") or {}).get("answer"),
             "answered and right": values.get("answered_right"), "answered and wrong": values.get("answered_wrong")}
            for name, values in sets.items()]
    return pd.DataFrame(rows, columns=["films", "images", "answered", "answered and right", "answered and wrong"])


def held_out_scope_table(card_scope: dict | None) -> pd.DataFrame:
    """Per source: the scope check fitted without it, AUROC of flagging it against the other
    sources' test films, and the shares flagged unusual and out of scope."""
    held = (card_scope or {}).get("held_out_sources") or {}
    rows = [{"held-out source": source, "images": values.get("n"), "AUROC": values.get("auroc"),
             "unusual": values.get("flagged_unusual"), "out of scope": values.get("flagged_out_of_scope")}
            for source, values in sorted(held.items())]
    return pd.DataFrame(rows, columns=["held-out source", "images", "AUROC", "unusual", "out of scope"])


def synthetic_table(card_scope: dict | None) -> pd.DataFrame:
    """Per kind of synthetic out-of-scope input: the share the triage held back as out of scope."""
    synthetic = (card_scope or {}).get("synthetic") or {}
    rows = [{"input": kind, "held back as out of scope": share} for kind, share in synthetic.items()]
    return pd.DataFrame(rows, columns=["input", "held back as out of scope"])


def thresholds_sentence(card_scope: dict | None) -> str:
    """The model's own triage thresholds in one sentence ("" without a scope check)."""
    scope = card_scope or {}
    if "min_top_probability" not in scope:
        return ""
    below = scope.get("max_copies_below")
    limit = "" if below is None else ", with the limit of copies below"  # the two are fitted together
    target = (f" (the lowest at which its answered validation films were right {scope['target_accuracy']:.0%} of the "
              f"time{limit}" + ("" if scope.get("target_reached", True) else ": not reached, so almost nothing is "
                                "answered") + ")") if "target_accuracy" in scope else ""
    copies = "" if below is None else f", or when more than {below} of them fall below that probability"
    return (f"Uncertain below a probability of {scope['min_top_probability']:.1%}{target} or when fewer than "
            f"{scope.get('min_agreement', MIN_AGREEMENT):.1%} of slightly moved copies agree{copies}; lung-attention "
            "warning below "
            f"{lung_share(scope.get('lung_attention_threshold', LOW_LUNG_ATTENTION))} of the map inside the lungs; all set "
            "on the validation split.")
