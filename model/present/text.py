"""Wording shared by the dashboard, the reports and the CLI: plain sentences and number formats.

Streamlit-free, so every sentence a page shows can be tested without a browser.
"""
from __future__ import annotations

import math

from model.policy import LOW_LUNG_ATTENTION
from model.registry import ModelCard
from model.trust.attention import (
    NO_LUNG_FIELDS,  # noqa: F401  (re-exported: the pages' sentence)
    compare_as_shown,
)
from model.trust.scope import DEFAULT_ORIGIN, default_level

DISCLAIMER = "Decision support for research and teaching, not a diagnosis."
# Who reads the film, said once: the pages' notice and the report's disclaimer both carry it.
QUALIFIED_READER = "It is not a medical device; a qualified reader interprets every image."
NO_LUNG_MODEL = "Lung attention unavailable: no lung segmentation model in the registry."
LUNG_SHARE_LABEL = "Map inside the lung fields"  # the figure's name on Diagnose and in its report



def card_label(card: ModelCard) -> str:
    return f"{card.display_name} · v{card.version}"


def percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def as_shown(fraction: float | None, form=percent) -> float | None:
    """A fraction as the percentage a card prints it (`form`: `percent`, or `lung_share` for a map's
    share on the lungs, both to 0.1%), as a number: a table column of these sorts by value and reads the very
    figure of the card (41.9, never 41.86 beside a card's 41.9%). None stays None."""
    return None if fraction is None else float(form(fraction).removesuffix("%"))


# One precision for a score (AUC, precision, recall, F1, calibration error) on every page: Performance printed
# 0.482 / 0.394 / 0.435 for the figures Compare printed 0.48 / 0.39 / 0.43. Two decimals: a test split of a few
# hundred films puts a 95% interval about 0.04 wide around an AUC, so a third decimal is noise.
SCORE_DIGITS = 2
SCORE_FORMAT = f"%.{SCORE_DIGITS}f"  # the same, for a table's number column


def number(value, digits: int = SCORE_DIGITS) -> str:
    """A score to `SCORE_DIGITS` decimals ("0.48"), "n/a" without one (None or NaN)."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def intervals_caption(report: dict) -> str | None:
    """The 95% bootstrap intervals of a card's headline figures (`training.evaluate --card-intervals`
    stores them in metrics.json), in the headline's own formats; None when the card has none."""
    intervals = report.get("intervals") or {}
    parts = [f"{name} {low}–{high}" for name, pair, form in (
        ("accuracy", intervals.get("accuracy"), percent), ("macro AUC", intervals.get("macro_auc"), number),
        ("calibration error", intervals.get("ece"), number)) if pair for low, high in [map(form, pair)]]
    if not parts:
        return None
    return (f"95% intervals ({intervals.get('resamples')} bootstrap resamples of the {intervals.get('n')} test films): "
            f"{', '.join(parts)}. With other films from the same sources the figures would usually fall in these "
            "ranges (the calibration error's corrected for the upward bias of resampling it).")


def per_class_intervals_caption(report: dict) -> str | None:
    """The per-class AUCs' 95% intervals of a card's stored intervals, for under its per-class table (a
    column of them did not fit the table's half of a 1366-px page); None when the card has none."""
    stored = (report.get("intervals") or {}).get("per_class_auc") or {}
    parts = [f"{label} {number(pair[0])}–{number(pair[1])}" for label, pair in stored.items() if pair]
    return f"AUC 95% intervals: {', '.join(parts)}." if parts else None


def explanation_report_command(model_id: str) -> str:
    return f"python -m training.explanation_report --model {model_id} --data ../shared/data/cxr"


def preprocessing_summary(card: ModelCard) -> str:
    """One line on how a card's images are prepared: what a reader asks when versions differ."""
    prep = card.prep
    parts = [f"{prep.image_size} px", prep.resize]
    if prep.lung_crop:
        parts.append(f"cropped to the lung fields ({prep.lung_model}, margin {prep.lung_margin:.0%})")
        if prep.lung_mask:
            parts.append("everything outside the lungs blacked out")
        if prep.mask_channel:
            parts.append("film and lung-field mask as two channels")
    elif prep.border_crop:
        parts.append(f"{prep.border_crop:.0%} border crop")
    if prep.equalize != "none":
        parts.append(prep.equalize.upper())
    return ", ".join(parts)


STABLE_SPREAD = 0.05  # A standard deviation of the top class (over the test-time copies) from which it "varies".


def spread_points(tta) -> float:
    """The top class's standard deviation over the film and its copies in points, rounded to the one
    decimal every view shows: the word (stable under `STABLE_SPREAD`) is decided on this figure, so a
    spread shown as 5.0 is never called under 5."""
    return round(100 * tta.spread[tta.top_label], 1)



def probability_definition(card: ModelCard, short: bool = False) -> str:
    """What the one probability shown for a film is, said once on the page; `short`: the same facts in
    fewer words, for the report (which prints the stability beside it)."""
    if short:
        how = (f"calibrated (temperature {card.temperature:.2f}, fitted on its validation films)" if card.calibration
               else "not calibrated: a score, not a frequency")
        return (f"The probability is the model's output for the film itself, in one pass, {how}; the same figure on "
                "every page, every change in points measured from it.")
    if card.calibration:
        how = (f"calibrated: its outputs are divided by a temperature of {card.temperature:.2f} fitted on its "
               "validation films, so that 80% means right about 8 times in 10 on films like those")
    else:
        how = "not calibrated (this model has no fitted temperature): read it as a score, not a frequency"
    return (f"The probability is the model's output for the film itself, in one pass; {how}. The same figure is "
            "shown on every page, in the report and by the command line, and every change in points is measured "
            "from it. Slightly shifted, rotated and re-exposed copies of the film only say how stable it is.")


def confidence_words(tta) -> tuple[str, str, str]:
    """The film's probability in plain words, from `model.trust.uncertainty.Uncertainty`:
    (the calibrated probability of the top class as "59.0%", "Stable" | "Varies" | "Unstable", one
    sentence on its stability that follows the word).

    The rule, as the glossary states it: "Unstable" when fewer of the film's readings (the film and its
    copies) give the answer than the model's level needs (the triage then says uncertain), whatever the
    spread; otherwise "Stable" when the spread, as shown to one decimal, is under 5.0 points, "Varies"
    from 5.0 up, which is information, not a warning. A low probability is not instability: the status
    says it. When some copies fall below the model's answer level (the answer itself reaching it), the
    sentence says how many, whatever the word."""
    spread = spread_points(tta)
    disagree = any(finding.kind == "copies_disagree" for finding in tta.findings)
    limit = 100 * STABLE_SPREAD
    stable = spread < limit and not disagree
    word = "Stable" if stable else ("Unstable" if disagree else "Varies")
    how = (f"over {tta.n - 1} slightly shifted, rotated or re-exposed copies of the film it typically moves by "
           f"{spread:.1f} points (standard deviation)")
    how += (f", under the {limit:.1f} from which it varies" if spread < limit else
            f", {limit:.1f} or more, so it varies" if not disagree else "")
    agreeing = f"{tta.agreeing} of {tta.n} readings (the film and its copies) give {tta.top_label}"
    if disagree:
        how += f"; only {agreeing}, fewer than the {tta.needed} this model needs, so unstable"
    elif tta.agreement < 1.0:
        how += f"; {agreeing}, and this model needs {tta.needed}"
    below = copies_below_values(tta)
    if below:
        how += (f"; {tta.top_label} is under the {below['level']:.1%} this model needs to answer on its own on "
                f"{below['below']} of the {below['copies']} copies, so read the answer with care")
    return f"{tta.top_probability:.1%}", word, how + "."


def copies_below_values(tta) -> dict | None:
    """The values of the film's "copies_below_level" caution (`model.trust.uncertainty.copies_below_finding`:
    how many of its copies fall below the model's answer level, of how many, the level and the lowest), None
    when it has none: the one source of those numbers for the stability words and the status."""
    return next((f.values for f in tta.findings if f.kind == "copies_below_level"), None)


def stability_help(tta) -> str:
    """`confidence_words`'s full stability sentence, capitalised to stand alone (a help beside the brief)."""
    detail = confidence_words(tta)[2]
    return detail[0].upper() + detail[1:]


def stability_brief(tta, with_below: bool = True) -> str:
    """The stability in a few words for beside the word (`confidence_words` gives the full sentence):
    "moves ±6.9 points (one standard deviation) on 7 changed copies", when a copy gives another
    class, how many of the film's readings (the film and its copies) give the answer and from how few
    it would be unstable ("; 7 of 8 readings give A (fewer than 6 would be unstable)"; "(fewer than 6:
    unstable)" when it is), and, unless
    `with_below` is False, `copies_below_brief` after "; " when copies fall below the answer level."""
    brief = f"moves ±{spread_points(tta):.1f} points (one standard deviation) on {tta.n - 1} changed copies"
    if tta.agreement < 1.0:  # counted over the film and its copies, as the agreement is
        # Said as a fact when it holds: "(fewer than 4 would be unstable)" beside 1 of 8 read as if it were not.
        limit = (f"fewer than {tta.needed}: unstable" if tta.agreeing < tta.needed
                 else f"fewer than {tta.needed} would be unstable")
        brief += f"; {tta.agreeing} of {tta.n} readings give {tta.top_label} ({limit})"
    if _varies_above_level(tta):
        # Beside a status that found no reason to doubt the answer, "Varies" alone read as a doubt left unsaid.
        brief += f"; every copy stays at or above the answer level {tta.answer_level:.1%}"
    below = copies_below_brief(tta)
    return f"{brief}; {below}" if below and with_below else brief


def _varies_above_level(tta) -> bool:
    """The word is "Varies" (`confidence_words`), yet the answer and every copy reach the answer level: the
    spread changes nothing the triage decides."""
    return (confidence_words(tta)[1] == "Varies" and bool(tta.copies)
            and min(tta.copies) >= tta.answer_level <= tta.top_probability)


def copies_below_brief(tta) -> str:
    """How many copies fall below the model's answer level, in a few words ("3 of the 7 copies below the
    answer level 78.3%"); "" when none does. A caution of its own, apart from the stability word: a film
    can be stable and still sit near the level (the page colours this part, not the word)."""
    below = copies_below_values(tta)
    return (f"{below['below']} of the {below['copies']} copies below the answer level {below['level']:.1%}"
            if below else "")


def stability_line(tta) -> str:
    """The stability as Diagnose shows it beside the probability, for the report: "Varies: moves ±6.9
    points (one standard deviation) on 7 changed copies" (`confidence_words`'s word, `stability_brief`)."""
    return f"{confidence_words(tta)[1]}: {stability_brief(tta)}"


# --------------------------------------------------------------------------- the status line

# What each finding is, in a few words, for the status line (the full sentence is the finding's own).
FINDING_NAMES = {
    "child": "a child's film", "lateral_view": "a lateral view", "not_radiograph": "not a plain radiograph",
    "not_chest": "not a chest film", "age_not_known": "age not stated", "view_not_known": "view not stated",
    "colour": "a colour image", "no_contrast": "no contrast", "odd_shape": "an unusual image shape",
    "no_lung_fields": "no plausible lung fields", "anatomy_out_of_scope": "anatomy unlike the training films",
    "anatomy_unusual": "unusual anatomy for this model", "low_probability": "probability too low to stand alone",
    "copies_disagree": "unstable under small image changes",
    "copies_below_level": "{below} of {copies} changed copies below the answer level {level:.1%}",
    "many_copies_below": "{below} of {copies} changed copies below the answer level {level:.1%}, more than the {allowed} "
                         "allowed",
    "lung_attention_low": "less of the map on the lungs than the warning level",
    "faithfulness_mixed": "the map passes only one of its two faithfulness tests",
    "faithfulness_poor": "the map is {ranks}",  # "worse than random" when a curve is, as its detail says
    # Of the map being read (`model.trust.map_checks.compare_shown_map`); occlusion names the map it was compared with.
    "methods_disagree": "{differ} other regions",
    "occlusion_disagrees": "occlusion agrees little with {against}",
    "randomisation_flagged": "the method failed the randomisation check",
}
ASSUMPTIONS = {frozenset({"age_not_known", "view_not_known"}): "Read as an adult's frontal film (age and view not "
                                                                "stated).",
               frozenset({"age_not_known"}): "Read as an adult's film (age not stated).",
               frozenset({"view_not_known"}): "Read as a frontal film (view not stated)."}
# The same, when the DICOM header has an age that could not be used: "not stated" would be untrue (the finding's
# sentence says why, `header_age_problems`).
HEADER_AGE_ASSUMPTIONS = {frozenset({"age_not_known", "view_not_known"}): "Read as an adult's frontal film (the "
                                                                           "DICOM header's age could not be used; "
                                                                           "view not stated).",
                          frozenset({"age_not_known"}): "Read as an adult's film (the DICOM header's age could not be "
                                                        "used)."}


def header_age_problems(findings) -> list:
    """The findings that say why a DICOM header's age could not be used (an `age_not_known` finding with the
    header's problem in its values): the page and the report give their sentences, as the CLI does."""
    return [f for f in findings if f.kind == "age_not_known" and (f.values or {}).get("problem")]


def assumed_line(assumptions) -> str:
    """What the answer assumed, as the status line says it ("Read as an adult's frontal film (age and view not
    stated)."), from the triage's `assumptions` findings; "" when there are none the line names."""
    kinds = frozenset(f.kind for f in assumptions)
    return (HEADER_AGE_ASSUMPTIONS if header_age_problems(assumptions) else ASSUMPTIONS).get(kinds, "")


# What the reader states in the side panel to lift an assumption, by the finding that made it.
STATABLE = {"age_not_known": "age", "view_not_known": "view"}
# Where that is, said on Diagnose itself, and in its report (read on its own, away from the page).
STATE_ON_PAGE = "in the side panel, under *About this film*"
STATE_IN_REPORT = "on Diagnose, in its side panel under “About this film”"


def state_prompt(assumptions, status: str = "answer", where: str = STATE_ON_PAGE) -> str:
    """What to do about what an answer assumed: "State the age and view in the side panel, under *About this
    film*." ("" when none of the `assumptions` findings is lifted there, or the `status` is out of scope: no
    answer rests on them). `where`: `STATE_IN_REPORT` for the report."""
    stated = [STATABLE[f.kind] for f in assumptions if f.kind in STATABLE]
    return f"State the {' and '.join(stated)} {where}." if stated and status != "out_of_scope" else ""


def names_of(findings) -> str:
    """The findings' short names joined for a sentence: "a child's film and a lateral view"."""
    defaults = {"against": "Grad-CAM", "differ": "most other methods draw",  # findings stored before these values
                "ranks": "no better than random"}
    names = list(dict.fromkeys(FINDING_NAMES[f.kind].format_map({**defaults, **(f.values or {})})
                               for f in findings))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""


# The map checks a reader runs on request, by `MapChecks` field, and the one made by itself when it can be
# (lung attention needs a lung model and plausible lung fields), as a sentence names them when they were
# not made: "no reason to doubt it" is said only of checks that were made.
CHECK_NAMES = {"faithfulness": "the map's faithfulness", "occlusion": "the occlusion cross-check",
               "every_method": "the comparison of every method"}
UNAVAILABLE_NAMES = {"attention": "where the map lies (no lung fields to measure it against, or a blank map)",
                     "faithfulness": "the faithfulness of the map of the class explained (hiding regions does not "
                                     "lower that class's probability)",
                     "occlusion": "the occlusion cross-check (a blank map ranks no region)",
                     "methods": "the comparison of methods (a blank map ranks no region)"}


def not_run_checks(checks) -> tuple[str, ...]:
    """The on-request map checks of a `model.trust.map_checks.MapChecks` not made yet, by `CHECK_NAMES` key."""
    made = {"faithfulness": checks.faithfulness is not None, "occlusion": checks.occlusion_made,
            "every_method": checks.every_method}
    return tuple(kind for kind in CHECK_NAMES if not made[kind])


def unavailable_checks(checks) -> tuple[str, ...]:
    """The map checks that could not be made on this film (`UNAVAILABLE_NAMES` keys): lung attention without
    a lung model or plausible lung fields; faithfulness measured but "not measurable" on this film (it says
    nothing for or against the map, so it is no check passed); the occlusion cross-check and the comparison of
    methods made, but with a blank map that measured nothing (`model.trust.agreement.ranks_nothing`)."""
    from model.trust.faithfulness import NOT_MEASURABLE
    from model.trust.map_checks import shown_comparison

    faith = checks.faithfulness
    comparison = shown_comparison(checks)
    return tuple(kind for kind, missing in (("attention", checks.attention is None),
                                            ("faithfulness", getattr(faith, "verdict", None) == NOT_MEASURABLE),
                                            ("occlusion", checks.occlusion_blank),
                                            ("methods", comparison is not None and not comparison.measured))
                 if missing)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def checked_status(result, checks, method_label: str, shown_anyway: bool = False, map_class: str | None = None,
                   made_where: str = ""):
    """(the triage with the map checks' findings added, its status line): the one way every view that
    shows a status (Diagnose, the gallery's dialog, the report) words it for a film.

    Args:
        result: `model.trust.triage.Triage` of the film.
        checks: `model.trust.map_checks.MapChecks`, what has been measured about its map so far.
        method_label: the map's method as people read it ("Grad-CAM").
        shown_anyway, map_class, made_where: as for `status_line`.
    """
    from model.trust.map_checks import map_findings

    final = result.with_findings(map_findings(checks, method_label))
    return final, status_line(final, shown_anyway, map_class, not_run_checks(checks), unavailable_checks(checks),
                              made_where)


def status_line(result, shown_anyway: bool = False, map_class: str | None = None, not_run=(),
                unavailable=(), made_where: str = "") -> str:
    """The one line that leads Diagnose and its report: the status, what set
    it, any caution about an answer (copies below its level), the assumptions it rests on and any caution
    about the map. An answer with a caution is never said to be free of doubt.

    Args:
        result: `model.trust.triage.Triage` (with the map findings added when they were measured).
        shown_anyway: an out-of-scope film whose output the reader asked to see.
        map_class: the class whose map the cautions are about, when it is not the model's answer (the
            reader chose to explain another class); the cautions then say so, as they are not about the answer.
        not_run: `CHECK_NAMES` keys of the map checks not made (`not_run_checks`): an answer nothing doubts
            then says its checks found no reason to doubt it so far and names those still to make.
        unavailable: `UNAVAILABLE_NAMES` keys of the checks that cannot be made on this film, named too.
        made_where: where the checks not made can be made, when not on the view showing the line ("on
            Diagnose" in the gallery's dialog): "not made yet (on Diagnose): ...".
    """
    pending = [CHECK_NAMES[kind] for kind in not_run]
    not_made = "not made yet" + (f" ({made_where})" if made_where else "")
    missing = [UNAVAILABLE_NAMES[kind] for kind in unavailable]
    if result.status == "out_of_scope":
        head = ("Out of scope: the output is shown for reference only" if shown_anyway
                else "Out of scope: no answer shown")
        line = f"{head} ({names_of(result.deciding)})."
    elif result.status == "uncertain":
        line = f"Uncertain: second read advised ({names_of(result.deciding)})."
    else:
        if not result.undoubted:
            line = "Answer."
            if result.answer_cautions:
                line += f" Read the answer with care: {names_of(result.answer_cautions)}."
        elif map_class:  # the checks were of another class's map: they earn the answer nothing
            line = (f"Answer. The map checked explains {map_class}, a class the model did not answer, so its checks "
                    "say nothing for or against the answer; explain the answer's class to check its own map.")
        elif pending or missing:
            line = ("Answer. The checks made " + ("so far " if pending else "") + "found no reason to doubt it"
                    + (f"; {not_made}: {_listed(pending)}" if pending else "")
                    + (f"; not measurable on this film: {_listed(missing)}" if missing else "") + ".")
        else:
            line = "Answer. No check found a reason to doubt it."
    assumed = assumed_line(result.assumptions)
    if assumed and result.status != "out_of_scope":
        line += " " + assumed
    if result.map_cautions:
        which = (f"the {map_class} map (a class the model did not answer)" if map_class else "the map")
        line += f" Read {which} with care: {names_of(result.map_cautions)}."
    if result.status == "answer" and not result.undoubted:
        if map_class and not result.map_cautions:  # the checks named next are of that map, not the answer's
            line += f" The map checked explains {map_class}, a class the model did not answer."
        # The checks not made (or not measurable) are named here too: a caution or an assumption does not
        # make an unmeasured map a measured one.
        line += (f" {not_made[0].upper()}{not_made[1:]}: {_listed(pending)}." if pending else "") + (
            f" Not measurable on this film: {_listed(missing)}." if missing else "")
    return line


def status_notes(result) -> list[str]:
    """What a compact view (Compare's column under each version's badge) says of a film's triage, in the status
    line's words: what set the status, the cautions about an answer and the assumptions it answers under. Compare
    showed the deciding reasons alone, so an answer Diagnose cautions read as a plain "Answer" there."""
    notes = list(result.reasons)
    if result.answer_cautions:
        notes.append(f"Read the answer with care: {names_of(result.answer_cautions)}.")
    assumed = assumed_line(result.assumptions)
    if assumed and result.status != "out_of_scope":
        notes.append(assumed)
        notes.extend(f.sentence for f in header_age_problems(result.assumptions))  # and why, as on Diagnose
    return notes


# A film's triage in a few words beside an output that is shown whatever the status (Compare's list of answers,
# Evaluate's disagreements, the gallery's cards): the status badge's words and what set it. One rule for every
# compact view, so the same film by the same model reads the same on each.
TRIAGE_WORDS = {"answer": "", "uncertain": "second read advised", "out_of_scope": "out of scope"}
# Prefixed to a card's triage beside its label check ("matches the label"): the dialog's and Diagnose's word for
# the model's own verdict on the film, so the two facts are not read as one.
TRIAGE_LABEL = "Triage"


def triage_words(result) -> str:
    """The status of a `model.trust.triage.Triage` in `TRIAGE_WORDS` with what set it, as a compact view says it:
    "second read advised (probability too low to stand alone)", "out of scope (a lateral view): output for
    reference only"; "" for a plain answer."""
    words = TRIAGE_WORDS[result.status]
    if not words:
        return ""
    reasons = names_of(result.deciding)
    words += f" ({reasons})" if reasons else ""
    return words + (": output for reference only" if result.status == "out_of_scope" else "")


def answer_line(name: str, label: str, probability: float, result=None) -> str:
    """One version's output on one film in a compact view: "Compact CNN v1: COVID-19 (41.6%), second read advised
    (probability too low to stand alone)", its probability to 0.1% as every page gives it and its triage
    (`triage_words`; none without `result`)."""
    status = triage_words(result) if result is not None else ""
    return f"{name}: {label} ({percent(probability)})" + (f", {status}" if status else "")


def interim_status_line(result, shown_anyway: bool = False) -> str:
    """The status line drawn while the map's own checks (where it lies on the lungs, how other maps agree
    with it) are still being made: what the triage settled, never "found no reason to doubt it", which
    only the checks can earn (Diagnose drew that for a second or more before a caution replaced it).

    Args:
        result: `model.trust.triage.Triage` of the film, before any map finding.
        shown_anyway: an out-of-scope film whose output the reader asked to see.
    """
    if result.undoubted:
        return "Answer. Its map is being checked; this line says what the checks find when they are made."
    return status_line(result, shown_anyway, not_run=tuple(CHECK_NAMES))


def case_id(image_digest: str) -> str:
    """A case identifier that is not patient data: the first 8 hex digits of the image's SHA-256."""
    return image_digest[:8]


CURVE_NAMES = {"val_auc": "Validation AUC", "val_accuracy": "Validation accuracy", "val_loss": "Validation loss"}


def members_curves_caption(training: dict | None, accuracy: float | None = None) -> str:
    """What the training curves of an assembled version are: its members' validation curves, and,
    for a two-channel model, a word on the network that has none (a regression on frozen features);
    given the version's own internal test `accuracy`, that a member's figures are not the version's
    (members of a two-channel version each read part of the film and score far below it).
    "" for a version trained as one network."""
    training = training or {}
    members = list(training.get("members") or ())
    if not members:
        return ""
    extra = [name for name in training.get("networks") or () if name not in members]
    sentence = (f"This version averages {len(members)} trained members ({', '.join(members)})"
                + (f" with {len(extra)} more network{'s' if len(extra) > 1 else ''} ({', '.join(extra)}; a regression "
                   f"fitted on fixed features, so no training curve)" if extra else ""))
    sentence += "; the members' validation curves are shown."
    if accuracy is not None:
        sentence += (f" Each member's figures are its own, alone, not this version's: the version combines them "
                     f"(its internal test accuracy is {accuracy:.1%}).")
    return sentence


def late_trend_sentence(trends) -> str | None:
    """One sentence when a validation curve was still improving as training ended (`charts.late_trends`),
    with the fitted change of every run; None when no run was still improving."""
    improving = [t for t in trends if t.improving]
    if not improving:
        return None
    first = improving[0]
    name = CURVE_NAMES.get(first.metric, first.metric)
    direction = "falling" if "loss" in first.metric else "rising"
    changes = " and ".join(f"{t.change:+.3f}" + (f" ({t.member})" if t.member else "") for t in improving)
    runs = f" in {len(improving)} of {len(trends)} runs" if len(trends) > 1 else ""
    stopped = "The runs stopped" if len(improving) > 1 else "The run stopped"
    return (f"{name} was still {direction} when training ended{runs}: {changes} over the last "
            f"{first.epochs} epochs (a straight line fitted through them). {stopped} at the epoch budget, "
            "not at a peak. A curve still improving inside the pool does not mean longer training helps on "
            "films from elsewhere: check the held-out figures before training longer.")


def test_set_summary(card: ModelCard) -> str:
    """Which films a card's own test figures come from, e.g. "482 films, 5 sources": rows of cards
    tested on different films do not compare."""
    training = card.training or {}
    images = ((training.get("splits") or {}).get("test") or {}).get("images")
    sources = training.get("sources") or []
    parts = [f"{images} films" if images else "", f"{len(sources)} source{'s' if len(sources) != 1 else ''}"
             if sources else ""]
    return ", ".join(p for p in parts if p) or "not recorded"


def lung_share(fraction: float) -> str:
    """A map's share on the lung fields as every view shows it (card, dialog, Diagnose, warnings): to 0.1%,
    so the same film never reads 49.8% on one view and 50% on another."""
    return f"{fraction:.1%}"


# The pages that mark a single map below the model's lung-attention warning level (Diagnose's warning, Compare
# versions' orange line, the Gallery's orange share on a card and the triage in its case view); Performance counts
# them, it marks no map.
LUNG_WARNING_PAGES = "Diagnose, Compare versions and the Gallery"


def lung_attention_caption(segmenter: str | None, mostly_outside: float, own_level: float | None,
                           lung_mask: bool, mask_channel: bool = False) -> str:
    """What the lung-attention figures of an explanation report mean for this model: the report's line
    (`mostly_outside`: below it more than half of a map lies outside the lungs), the model's own warning level
    (where `LUNG_WARNING_PAGES` warn; None without a scope check, the default level then) and what lies outside
    the lungs for this model's input (`lung_mask`: it sees only the lung fields inside the lung box; `mask_channel`:
    one network sees only the lung fields, another the whole lung box)."""
    what = ("this model's map lies on a coarse grid over the whole lung box, of which the lung fields fill only part"
            if lung_mask else "the lungs fill only part of what a model sees")
    line = (f"Lung masks from {segmenter or 'the lung model'}. Below {lung_share(mostly_outside)} more than half of a "
            f"map lies outside the lungs, which alone proves no shortcut: {what} (the gallery's cheats view sets "
            "each map beside an even spread over its film)")
    whose = (f"this model's own warning level, {lung_share(own_level)} (set from its correct answers)"
             if own_level is not None else default_level("warning", lung_share(LOW_LUNG_ATTENTION)))
    line += f". Under each figure, the share of images below {whose}, where {LUNG_WARNING_PAGES} warn"
    if mask_channel:
        line += (". This model's lung-masked networks see only the lung fields, another network the whole lung box: outside "
                 "the lungs, text markers or devices inside the box are possible shortcuts")
    elif lung_mask:
        line += (". Inside that box this model sees only the lung fields (slightly enlarged, the rest blacked out): "
                 "what its coarse map puts outside them spills onto that margin and the black, not onto text, "
                 "borders or devices")
    else:
        line += ". Outside the lungs lie text markers, borders and devices: possible shortcuts"
    return line + ". Masks can also miss dense consolidation, which lowers the share."


def answer_level_name(level: float, own: bool = True) -> str:
    """The top probability a model needs to answer alone, named as what it is: the model's own (its scope
    check set it on validation) or, for a model without a scope check, the policy's default (`default_level`)."""
    return f"the model's own answer level ({level:.1%})" if own else default_level("answer", f"{level:.1%}")


def lung_share_sentence(fraction: float, threshold: float, method_label: str, even: float | None = None,
                        own: bool = True) -> str:
    """The line beside a map's share on the lung fields when no warning fired (`fraction` at or above
    `threshold`). Worded from the share as shown (`lung_share`), so "most" never sits beside 50.0% or less.
    `even`: the lungs' share of what the model saw (`attention.even_share`), the level of a map with no
    preference for the lungs; the sentence says whether this map is above it, as shown. `own`: the
    threshold is the model's own (its scope check's, set from its correct answers), else the default."""
    half = compare_as_shown(fraction, 0.5)
    amount = "Most" if half > 0 else "Half" if half == 0 else "Less than half"
    where = f"{amount} of the {method_label} map lies on the lungs"
    if half < 0:
        where += ", but not unusually little for this model"
    origin = "set from this model's own correct answers" if own else DEFAULT_ORIGIN
    line = f"{where} (warning below {lung_share(threshold)}, {origin})."
    if even is not None:
        compared = {1: "more", 0: "as much", -1: "less"}[compare_as_shown(fraction, even)]
        line += (f" A map spread evenly would put {lung_share(even)} there (the lungs' share of what the model "
                 f"saw); this one puts {compared}.")
    return line + " This says where the model looked, not that it is right."


def other_class_note(label: str, probabilities: dict, answer: str, peak: float | None = None) -> str | None:
    """One line beside a map of a class the model did not answer (None for the answer's own map): its
    probability, and that the map shows what pushes the model toward it, not that it is present, since
    each map is scaled to its own maximum and so shows strong colours even for a class given 1.7%.
    `peak`: the map's maximum, when one map is meant; a map with none (<= 0) is said to be blank."""
    if label == answer:
        return None
    head = f"The model gives {label} a probability of {probabilities[label]:.1%}: not its answer."
    if peak is not None and peak <= 0:
        return f"{head} This map is blank: nothing in the film pushes the model toward {label} at this layer."
    return (f"{head} This map shows what in the film pushes toward {label}, not that {label} is present: each map "
            "is scaled to its own maximum, so it shows strong colours however weak that push is.")


def grid_legend_sentence(target: str, largest: float, scale: float) -> str:
    """What a grid-occlusion map's colours mean: from no fall to `scale` (`GridEffects.scale`: the largest
    fall, or more when that is small, so a tiny fall is drawn faint), in points."""
    from model.explain.film_grid import fall_points

    if largest <= 0:
        return f"No cell lowers the probability of {target} when hidden: nothing is coloured."
    top = (f"the largest fall ({fall_points(largest)})" if scale <= largest else
           f"a fall of {fall_points(scale)} (the largest, {fall_points(largest)}, is small and drawn faint)")
    return f"no fall → {top} of {target} when a cell is hidden; cells whose hiding raises it are not coloured."
