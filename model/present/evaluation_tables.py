"""Tables and sentences of a multi-model evaluation report (`model.evaluation.evaluate_models`), for the
Evaluate and Compare pages: plain DataFrames and strings, no Streamlit.

One rounding rule for both pages (`ROUNDING_NOTE`): AUC, accuracy, precision, recall, F1, calibration error
and their differences to two decimals, shares of images or of resamples in whole percent, counts whole.

    summary = summary_table(report)        # one row per figure, one column per version, "0.91 (0.88–0.94)"
    pair = paired(report["comparisons"][0])   # PairedComparison, the higher version first
    comparison_sentence(pair)              # "Macro AUC, b − a = +0.07 (95% interval +0.02 to +0.12) ..., favouring b."
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from model.data_overlap import UNKNOWN, VersionOverlap, recognised, trained_on_any
from model.present.text import SCORE_DIGITS, number, percent

DIGITS = SCORE_DIGITS  # every page's precision for a score
# Named figure by figure: accuracy and recall are shares too, so "figures to two decimals, shares in whole
# percent" left a reader wondering why 0.62 was not 62%.
ROUNDING_NOTE = ("Two decimals: AUC, accuracy, precision, recall, F1, calibration error (ECE) and their differences "
                 "(accuracy 0.62: 62% of the images right; a difference near zero gets the decimals that keep its "
                 "interval off 0.00, and the two AUCs of a paired comparison those that make their difference read "
                 "right). Whole percent: shares of images or of resamples. Counts are whole.")
MINUS = "\u2212"  # the minus sign, as in "a − b" and "−0.03"
# What the images of each choice are, as the pages and the exported JSON say it.
SCOPE_WORDS = {"unseen": "images none of these versions trained on",
               "test": "images in every version's test split",
               "all": "all images (training images included: they flatter the versions)"}
# The same choices as short labels for a select box: Compare's box is a quarter of the page wide, and the
# longer ones were cut at 1366 px; SCOPE_WORDS and `selection_sentence` below the box say them in full.
SCOPE_LABELS = {"unseen": "No version trained on them", "test": "Test split of every version",
                "all": "All, training images too"}
# The short labels in full words, for the help of the select box.
SCOPE_HELP = "  \n".join(f"**{SCOPE_LABELS[scope]}**: {words}." for scope, words in SCOPE_WORDS.items())
# Said on the page beside a ZIP's figures when there are no labelled films to match its images against.
ZIP_CAVEAT = ("A version may have trained on some of these images, and that cannot be checked: no labelled data are "
              "configured on this server to match them against. Figures on training images flatter a version.")


def zip_scope(overlaps: list[VersionOverlap] | None, left_out: int, sourced: int = 0) -> str:
    """What a ZIP's scored images are, for the report: every readable image, how many were matched to the
    versions' splits (`model.data_overlap`), whether the ones a version trained on (`left_out`) were left out and
    how many take their source from their matched film (`sourced`). `overlaps` None: no labelled data to match
    them against."""
    if overlaps is None:
        parts = ["whether a version trained on any of them cannot be checked"]
    else:
        total = len(overlaps[0].places) if overlaps else 0
        parts = [f"{recognised(overlaps):,} of {total:,} matched by their bytes to the versions' splits"]
        if left_out:
            parts.append(f"{left_out:,} a version trained on left out")
        elif trained_on_any(overlaps):
            parts.append("images a version trained on kept")
        if sourced:
            parts.append(f"the source of {sourced:,} taken from its matched film's record")
    return f"every readable image in the uploaded ZIP ({'; '.join(parts)})"


def matched_source_sentence(sourced: int) -> str:
    """Said when images that name no source of their own take the source of the labelled film they were matched
    to (`model.data_overlap.with_matched_sources`), so the per-source figures are not read as the ZIP's own."""
    return (f"{_count(sourced, 'image')} to score {'names' if sourced == 1 else 'name'} no source in the ZIP but "
            f"{'was' if sourced == 1 else 'were'} matched by {'its' if sourced == 1 else 'their'} bytes to "
            f"{'a labelled film' if sourced == 1 else 'labelled films'} of this server: the source "
            f"{'its' if sourced == 1 else 'their'} record names is used for the per-source figures and the "
            "downloads.")


# --------------------------------------------------------------------------- the rounding rule


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


figure = number  # a figure to two decimals ("0.83", or `digits`), "n/a" without one: every page's score format


def signed(value, digits: int = DIGITS) -> str:
    """A difference to two decimals with its sign ("+0.07", "−0.03"); "0.00" when it rounds to zero."""
    if _missing(value):
        return "n/a"
    text = f"{value:+.{digits}f}"
    return f"{0:.{digits}f}" if float(text) == 0 else text.replace("-", MINUS)


def interval_digits(*values) -> int:
    """Decimals enough that no non-zero bound of an interval prints as 0.00 (which would contradict a
    verdict of "the interval excludes 0"): two, or up to four."""
    digits = DIGITS
    while digits < 4 and any(not _missing(v) and v != 0 and float(f"{v:.{digits}f}") == 0 for v in values):
        digits += 1
    return digits


def share(value) -> str:
    """A share in whole percent ("97%"); "n/a" without a value."""
    return "n/a" if _missing(value) else f"{value:.0%}"


def with_interval(value, interval=None) -> str:
    """"0.91 (0.88–0.94)", "0.91" without an interval, "n/a" without a value."""
    if _missing(value):
        return "n/a"
    return figure(value) + (f" ({figure(interval[0])}–{figure(interval[1])})" if interval else "")


# --------------------------------------------------------------------------- what was scored


@dataclass(frozen=True)
class Accounting:
    """Where the images of a report went: scored by every version, of those with a label every
    version knows (the figures' images), labels some version does not know, files not read."""

    scored: int
    known: int
    unknown: dict[str, int]
    unreadable: int


def accounting(report: dict) -> Accounting:
    models = report.get("models", {}).values()
    unknown = {label: int(count) for label, count in report.get("labels_in_data", {}).items()
               if any(label not in model["labels"] for model in models)}
    scored = int(report.get("n_images", 0))
    return Accounting(scored, scored - sum(unknown.values()), unknown, len(report.get("skipped", [])))


def _count(n: int, thing: str) -> str:
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def accounting_sentence(report: dict) -> str:
    """Every image counted once: "120 images were scored by every version; 30 of them have a label the
    versions do not know (Tuberculosis: 30), so the figures and comparisons use the other 90. 2 files
    could not be read (listed below)."."""
    counts = accounting(report)
    text = f"{_count(counts.scored, 'image')} {'was' if counts.scored == 1 else 'were'} scored by every version"
    if counts.unknown:
        labels = ", ".join(f"{label}: {n:,}" for label, n in counts.unknown.items())
        unknown = sum(counts.unknown.values())
        text += (f"; {unknown:,} of them {'has' if unknown == 1 else 'have'} a label the versions do not know ({labels}), "
                 f"so the figures and comparisons use the other {counts.known:,}")
    text += "."
    if counts.unreadable:
        verb = "is" if counts.unreadable == 1 else "are"
        text += f" {_count(counts.unreadable, 'file')} could not be read and {verb} listed below."
    return text


def selection_sentence(name: str, total: int, eligible: int, sampled: int, scope: str, per_label,
                       unreadable: int = 0) -> str:
    """How the images to score were chosen from a dataset of `total` images: `eligible` of them in the
    scope (`SCOPE_WORDS` key, or "zip" for an uploaded archive: every readable image), `sampled` of those
    taken (`per_label` per label, or all when None). `unreadable` of the `total` (already found unreadable, as
    an uploaded ZIP's are before scoring; counted in `eligible` and `sampled`) are named as not scored, so the
    sentence does not promise to score them."""
    text = (f"{_count(total, 'image')} in {name}" if not unreadable else
            f"{_count(total, 'image file')} in {name}; {unreadable:,} cannot be read as an image")
    left_out = total - eligible
    if left_out and scope in ("unseen", "zip"):
        text += f"; {left_out:,} left out because at least one version trained on them"
    elif left_out and scope == "test":
        text += f"; {left_out:,} left out because they are not in every version's test split"
    if (per_label is None or sampled == eligible) and (left_out or unreadable):
        text += f"; all {eligible - unreadable:,} {'remaining' if left_out else 'others'} are scored."
    elif per_label is None or sampled == eligible:
        text += "; all are scored."
    else:
        text += f"; {sampled:,} of the {'remaining ' if left_out else ''}{eligible:,} sampled ({per_label} per label)."
    if scope == "unseen":
        text += (" Validation films count as unseen: they chose each version's epochs, temperature and thresholds, "
                 "so figures on them flatter a little (the test-split choice leaves them out).")
    elif scope == "all":
        text += (" Training images are included: a version scores well on the films it learned from, so these "
                 "figures flatter every version and say little about new films.")
    return text


# --------------------------------------------------------------------------- images a version has seen

# How `model.data_overlap` places an image in a version's data, as the columns of `overlap_table` say it.
OVERLAP_COLUMNS = {"train": "trained on", "validation": "validation (tuned on)", "test": "test split (held out)",
                   "outside": "never in its data", "unknown": "not this server's films"}


def overlap_table(overlaps: list[VersionOverlap]) -> pd.DataFrame:
    """One row per version (`model.data_overlap.VersionOverlap`): how many of the images it trained on, tuned
    on (validation split), held out in its test split or never had in its data, and how many are no labelled
    film of this server (for those it cannot be checked)."""
    return pd.DataFrame([{"version": overlap.model_id, **{words: overlap.count(place)
                                                          for place, words in OVERLAP_COLUMNS.items()}}
                         for overlap in overlaps], columns=["version", *OVERLAP_COLUMNS.values()])


def _place_counts(overlaps: list[VersionOverlap], place: str, keys=None) -> tuple[int, str]:
    """How many of the images (of `keys`, or all) are in `place` for at least one version, and per version
    ("cxr-a: 9, cxr-b: 8", the versions with any)."""
    chosen = [{key for key, where in o.places.items() if where == place and (keys is None or key in keys)}
              for o in overlaps]
    words = ", ".join(f"{o.model_id}: {len(found):,}" for o, found in zip(overlaps, chosen) if found)
    return len(set().union(*chosen)) if chosen else 0, words


def overlap_sentence(overlaps: list[VersionOverlap], left_out: bool) -> str:
    """What matching the images by their bytes found: how many are this server's labelled films and how many
    of those a chosen version trained on, and whether they are `left_out` of the figures."""
    total = len(overlaps[0].places) if overlaps else 0
    known = recognised(overlaps)
    if not known:
        return (f"None of these {_count(total, 'image')} is one of this server's labelled films (matched by their "
                "bytes), so whether a version trained on them cannot be checked.")
    text = (f"{'All' if known == total else f'{known:,} of'} {_count(total, 'image')} "
            f"{'is' if known == 1 else 'are'} labelled films of this server, matched by their bytes to each "
            "version's split (table below)")
    trained = trained_on_any(overlaps)
    if not trained:
        return text + "; no chosen version trained on any of them."
    text += (f"; {len(trained):,} {'was' if len(trained) == 1 else 'were'} in a chosen version's training split "
             f"({_place_counts(overlaps, 'train')[1]})")
    return text + (": left out of the figures, which they would flatter." if left_out else
                   ": kept, so the figures flatter the versions that trained on them.")


def zip_caveat(overlaps: list[VersionOverlap] | None, scored: list[str]) -> str:
    """The caveat the figures of an uploaded ZIP rest on, for the images `scored` (their keys): images a version
    trained on that are kept, and images whose place in the versions' data cannot be checked (all of them
    when `overlaps` is None: no labelled films to match against). "" when the figures need neither."""
    if overlaps is None:
        return ZIP_CAVEAT
    parts = []
    trained, by = _place_counts(overlaps, "train", set(scored))
    if trained:
        parts.append(f"{_count(trained, 'scored image')} {'is' if trained == 1 else 'are'} in a version's training "
                     f"split ({by}): figures on them are no fair test of that version.")
    tuned, by = _place_counts(overlaps, "validation", set(scored))
    if tuned:
        parts.append(f"{_count(tuned, 'scored image')} {'is' if tuned == 1 else 'are'} in a version's validation "
                     f"split ({by}): they chose its epochs, temperature and thresholds, so figures on them flatter it "
                     "a little.")
    unknown = sum(overlaps[0].places.get(key) == UNKNOWN for key in scored) if overlaps else len(scored)
    if unknown:
        parts.append(f"{_count(unknown, 'scored image')} {'is' if unknown == 1 else 'are'} not among this server's "
                     f"labelled films: whether a version trained on {'it' if unknown == 1 else 'them'} cannot be "
                     "checked, and figures on training images flatter a version.")
    return " ".join(parts)


# --------------------------------------------------------------------------- figures side by side


def model_too_few(model: dict) -> bool:
    """Whether a version's AUCs on these images rest on too few films to show (`too_few` of its images with a
    label it knows and their classes): the rule of the figures table, the paired comparison and the ROC legend."""
    counts = [values.get("support", 0) for values in model.get("per_class", {}).values()]
    return too_few(model["n"], counts)


def roc_withheld(models: dict[str, dict]) -> dict[str, int]:
    """{version: its images with a label it knows} of the versions whose ROC curve is not drawn: their AUCs rest
    on too few films (`model_too_few`, the figures table's rule), and a curve of a few steps would show what the
    table refuses to sum up."""
    return {name: model["n"] for name, model in models.items() if "n" in model and model_too_few(model)}


def roc_withheld_note(models: dict[str, dict]) -> str:
    """Why the versions of `roc_withheld` have no ROC curve ("" when every curve is drawn)."""
    withheld = roc_withheld(models)
    if not withheld:
        return ""
    names = ", ".join(f"{name} ({too_few_text(n)})" for name, n in withheld.items())
    whose = "its AUC" if len(withheld) == 1 else "their AUCs"
    return (f"No ROC curve is drawn for {names}: the figures above withhold {whose}, and a curve on so few films "
            f"is a few steps that say nothing. {TOO_FEW_NOTE}")


def _model_rows(model: dict) -> dict[str, str]:
    # The by-source table's rule (`too_few`): an AUC on so few films says nothing ("1.00 (1.00–1.00)" on 3).
    few = model_too_few(model)

    def auc(values: dict) -> str:
        return too_few_text(model["n"]) if few else with_interval(values.get("auc"), values.get("auc_ci"))

    rows = {"images scored": f"{model['n_images']:,}", "images with a label it knows": f"{model['n']:,}",
            "accuracy": with_interval(model.get("accuracy")),
            "macro AUC (95% interval)": auc(model["macro"]),
            "macro F1": with_interval(model["macro"].get("f1")),
            "ECE (calibration error)": with_interval((model.get("calibration") or {}).get("ece"))}
    rows.update(_scope_rows(model))
    for label, values in model.get("per_class", {}).items():
        rows[f"{label} AUC (95% interval)"] = auc(values)
        rows[f"{label} precision / recall / F1"] = " / ".join(figure(values[k]) for k in ("precision", "recall", "f1"))
    return rows


# The rows of a triaged report (`model.evaluation.add_scope`): what each version's triage holds back, and the
# figures without those films.
HELD_BACK = "held back as out of scope by its triage"
WITHOUT = "without them"


def _scope_rows(model: dict) -> dict[str, str]:
    if "out_of_scope" not in model:
        return {}
    inside = model["in_scope"]
    few = too_few(inside["n"], inside["class_counts"].values())
    return {HELD_BACK: f"{len(model['out_of_scope']):,}",
            f"accuracy {WITHOUT}": with_interval(inside["accuracy"]),
            f"macro AUC {WITHOUT}": too_few_text(inside["n"]) if few else figure(inside["macro_auc"])}


def scope_sentence(report: dict, named: int = 5) -> str:
    """Which scored images each version's triage holds back as out of scope, as Diagnose would (no answer shown
    there), by file name (the first `named`); "" when none is, or the report was not triaged."""
    parts = []
    for model_id, model in report.get("models", {}).items():
        held = [PurePosixPath(image).name for image in model.get("out_of_scope", [])]
        if held:
            more = f" and {len(held) - named:,} more" if len(held) > named else ""
            parts.append(f"{model_id}: {len(held):,} ({', '.join(held[:named])}{more})")
    if not parts:
        return ""
    return ("Out of scope: a version's triage holds these scored images back, as Diagnose would (no answer shown "
            f"there): {'; '.join(parts)}. The figures above count them; the rows '{WITHOUT}' leave out each "
            "version's own, and the per-image downloads mark them.")


def summary_table(report: dict) -> pd.DataFrame:
    """The figures of every version side by side (strings, intervals in brackets), index "figure"."""
    models = report.get("models", {})
    table = pd.DataFrame({model_id: _model_rows(model) for model_id, model in models.items()}).fillna("–")
    table.index.name = "figure"
    return table


def unknown_labels_table(report: dict) -> pd.DataFrame:
    """One row per (label the versions do not know, version): how many images, and what it called them."""
    rows = []
    for model_id, model in report.get("models", {}).items():
        for label, values in model.get("unknown_labels", {}).items():
            rows.append({"label in the data": label, "version": model_id, "images": values["n"],
                         **{f"called {name}": count for name, count in values["predicted"].items()}})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- paired comparisons


@dataclass(frozen=True)
class PairedComparison:
    """A paired comparison read from the higher version: `difference` is first − second (never
    negative) with its 95% interval, `share_first_higher` the share of resamples where the first
    version's macro AUC was higher; `clear` when the interval lies above zero."""

    first: str
    second: str
    n: int
    auc_first: float | None
    auc_second: float | None
    difference: float | None
    low: float | None
    high: float | None
    share_first_higher: float | None
    few: bool = False

    @property
    def defined(self) -> bool:
        """Whether there is a difference to show: an interval, on enough films for an AUC (`too_few`)."""
        return self.difference is not None and self.low is not None and not self.few

    @property
    def clear(self) -> bool:
        return self.defined and self.low > 0


def paired(pair: dict) -> PairedComparison:
    """A `compare_pair` result (B − A) turned so that the version with the higher macro AUC comes first
    (the chosen order on a tie): its difference is never negative, so no sentence can contradict it."""
    difference, interval = pair.get("difference"), pair.get("interval")
    few = too_few(pair.get("n", 0), (pair.get("class_counts") or {}).values())  # the rule of every AUC shown
    if difference is None or not interval:
        return PairedComparison(pair["a"], pair["b"], pair.get("n", 0), pair.get("auc_a"), pair.get("auc_b"),
                                None, None, None, None, few)
    if difference > 0:
        return PairedComparison(pair["b"], pair["a"], pair["n"], pair["auc_b"], pair["auc_a"], difference,
                                interval[0], interval[1], pair.get("share_b_better"), few)
    return PairedComparison(pair["a"], pair["b"], pair["n"], pair["auc_a"], pair["auc_b"], -difference,
                            -interval[1], -interval[0], pair.get("share_a_better"), few)


def _printed(value: float, digits: int) -> float:
    return float(f"{value:.{digits}f}")


def pair_digits(pair: PairedComparison) -> int:
    """Decimals for a paired comparison's two AUCs, their difference and its interval, all printed alike: those of
    `interval_digits`, three when at two the printed AUCs do not subtract to the printed difference ("0.84 vs 0.70"
    beside "+0.13" made a reader subtract 0.14)."""
    digits = interval_digits(pair.difference, pair.low, pair.high)
    if digits == DIGITS and not _missing(pair.auc_first) and not _missing(pair.auc_second) and (
            round(_printed(pair.auc_first, digits) - _printed(pair.auc_second, digits), digits)
            != _printed(pair.difference, digits)):
        digits += 1
    return digits


def shown_difference(pair: PairedComparison, digits: int) -> float:
    """The difference as printed beside the two AUCs at `digits` (`pair_digits`): the difference of the printed
    AUCs. It moves the estimate by at most one unit of its last decimal (0.001 at three), never its interval, which
    is the bootstrap's; printing the AUCs to four or more decimals instead would claim a precision 90 films do not
    have, and a difference that does not subtract is read as an error."""
    if _missing(pair.auc_first) or _missing(pair.auc_second):
        return pair.difference
    return round(_printed(pair.auc_first, digits) - _printed(pair.auc_second, digits), digits)


def reading(pair: PairedComparison) -> str:
    """"favouring <first>", "no clear difference" or "cannot be compared"."""
    if pair.few:
        return "too few images"
    if not pair.defined:
        return "cannot be compared"
    return f"favouring {pair.first}" if pair.clear else "no clear difference"


def comparison_sentence(pair) -> str:
    """One plain sentence whose verdict follows the sign of its number: "Macro AUC, b − a = +0.07 (95%
    interval +0.02 to +0.12) on the same 90 images, favouring b." (`pair`: a `compare_pair` result or
    a `PairedComparison`)."""
    pair = pair if isinstance(pair, PairedComparison) else paired(pair)
    if pair.few:
        return (f"{pair.first} and {pair.second} are not compared on these images: {too_few_text(pair.n)} for an "
                "AUC, by the rule of the figures above.")
    if not pair.defined:
        return (f"{pair.first} and {pair.second} cannot be compared on these images: a macro AUC is undefined "
                "(a class has no image).")
    digits = pair_digits(pair)
    head = (f"Macro AUC, {pair.first} {MINUS} {pair.second} = {signed(shown_difference(pair, digits), digits)} (95% interval "
            f"{signed(pair.low, digits)} to {signed(pair.high, digits)}) on the same {pair.n:,} images")
    if pair.clear:
        return f"{head}, favouring {pair.first}."
    if pair.high < 0:  # a skewed bootstrap on few images can leave the estimate outside its own interval
        return f"{head}: no clear difference (the estimate lies outside its interval: too few images to tell)."
    return f"{head}: no clear difference (the interval includes 0)."


def comparison_table(report: dict) -> pd.DataFrame:
    """The paired comparisons, each read from its higher version, as text cells in the page's rounding."""
    rows = []
    for pair in map(paired, report.get("comparisons", [])):
        digits = pair_digits(pair) if pair.defined else DIGITS  # the two AUCs to the decimals of their difference
        rows.append({"versions": f"{pair.first} {MINUS} {pair.second}", "images": pair.n,
                     "macro AUC": (too_few_text(pair.n) if pair.few else
                                   f"{figure(pair.auc_first, digits)} vs {figure(pair.auc_second, digits)}"),
                     "difference (95% interval)": (f"{signed(shown_difference(pair, digits), digits)} "
                                                   f"({signed(pair.low, digits)} "
                                                   f"to {signed(pair.high, digits)})" if pair.defined else "n/a"),
                     "resamples where the first is higher": "n/a" if pair.few else share(pair.share_first_higher),
                     "reading": reading(pair)})
    return pd.DataFrame(rows, columns=["versions", "images", "macro AUC", "difference (95% interval)",
                                       "resamples where the first is higher", "reading"])


# --------------------------------------------------------------------------- by source


# An AUC on fewer films than this, or with a class of a single film, is not shown: on 3-5 films it reads
# "0.50 (0.50–0.50)" or "0.42 (0.00–1.00)", a figure that says nothing.
MIN_AUC_IMAGES = 10
MIN_AUC_CLASS = 2
TOO_FEW_NOTE = (f"'Too few images': an AUC on fewer than {MIN_AUC_IMAGES} films, or with a class of only one film "
                "among them, is not shown (on so few its interval spans most of 0 to 1).")


def too_few(n: int, class_counts) -> bool:
    """Whether an AUC on `n` films whose classes hold `class_counts` films (zeros ignored: an absent class
    has no AUC of its own) rests on too few to show (`MIN_AUC_IMAGES`, `MIN_AUC_CLASS`)."""
    return n < MIN_AUC_IMAGES or any(0 < count < MIN_AUC_CLASS for count in class_counts)


def too_few_text(n: int) -> str:
    """What stands in place of an AUC on too few films: "too few images (n=7)"."""
    return f"too few images (n={n:,})"


def _scored_labels(report: dict, source: str) -> list[str]:
    return [row["label"] for row in report.get("images", []) if row["source"] == source and row["status"] != "unreadable"]


def _within_text(report: dict, source: str, values: dict | None) -> str:
    """The within-source COVID-19 vs Pneumonia AUC with its images, "too few images (n=…)" below the rule."""
    if not values:
        return "–"
    labels = _scored_labels(report, source)
    if too_few(values["n"], [labels.count(label) for label in ("COVID-19", "Pneumonia")]):
        return too_few_text(values["n"])
    return f"{figure(values['auc'])} ({values['n']:,} images)"


# The by-source table's columns of figures, right-aligned on the page so that their digits line up.
SOURCE_FIGURES = ["images", "macro AUC (95% interval)", "accuracy", "COVID-19 vs Pneumonia AUC"]


def per_source_table(report: dict) -> pd.DataFrame:
    """One row per (source, version): images, macro AUC with interval, accuracy and the within-source
    COVID-19 vs Pneumonia AUC where the source has both classes (long form: it fits a laptop screen
    whatever the number of versions). An AUC on too few films (`too_few`) reads "too few images (n=…)"."""
    rows = []
    models = report.get("models", {})
    for source in sorted({s for m in models.values() for s in m.get("per_source", {})}):
        within = report.get("within_source", {}).get(source) or {}
        for model_id, model in models.items():
            sub = model.get("per_source", {}).get(source)
            if sub is None:
                continue
            supports = [values.get("support", 0) for values in sub.get("per_class", {}).values()]
            # A source with films of one class has no AUC however many films it has: "n/a", not "too few".
            macro = ("n/a" if sum(count > 0 for count in supports) < 2 else
                     too_few_text(sub["n"]) if too_few(sub["n"], supports) else
                     with_interval(sub["macro"].get("auc"), sub["macro"].get("auc_ci")))
            rows.append({"source": source, "version": model_id, "images": sub["n"],
                         "macro AUC (95% interval)": macro, "accuracy": with_interval(sub.get("accuracy")),
                         "COVID-19 vs Pneumonia AUC": _within_text(report, source, within.get(model_id))})
    return pd.DataFrame(rows, columns=["source", "version", *SOURCE_FIGURES])


def _labels_by_source(report: dict) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for row in report.get("images", []):
        if row["status"] != "unreadable":
            labels.setdefault(row["source"], set()).add(row["label"])
    return labels


def section_notes(report: dict) -> dict[str, str]:
    """Why a section of the report is empty, one sentence per empty section: "per_source",
    "within_source", "comparisons", "disagreements"; a section with content has no entry."""
    notes = {}
    by_source = _labels_by_source(report)
    named = sorted(source for source in by_source if source)
    if not named:
        notes["per_source"] = ("The images name no source (a folder per class, or a manifest without a source "
                               "column), so there are no per-source figures.")
    if not report.get("within_source"):
        if not named:
            notes["within_source"] = ("No within-source figure: it needs the source of each image, and these "
                                      "images name none.")
        else:
            have = "; ".join(f"{source}: {', '.join(sorted(by_source[source]))}" for source in named)
            notes["within_source"] = ("No within-source figure: it compares COVID-19 with Pneumonia films of one "
                                      f"source, and no source here has both ({have}).")
    if len(report.get("models", {})) < 2:
        notes["comparisons"] = "One version only: there is nothing to compare it with."
        notes["disagreements"] = "One version only: there is nothing to disagree with."
    elif not report.get("disagreements"):
        notes["disagreements"] = "The versions gave the same answer on every image."
    return notes


def short_names(model_ids) -> dict[str, str]:
    """Version ids without the start they all share ("cxr-compact-averaged-v2", "cxr-compact-v1" ->
    "averaged-v2", "v1"), cut at a hyphen, for column headers that must fit a laptop screen; the ids
    themselves when nothing is shared, the short names would clash or they are names in words ("Compact CNN
    v1"), which a cut at a hyphen would break ("masked v2" for "Compact CNN, lung-masked v2")."""
    ids = list(model_ids)
    if len(ids) < 2 or any(" " in model_id for model_id in ids):  # names in words (Compare's) are kept whole
        return {model_id: model_id for model_id in ids}
    common = ids[0]
    for model_id in ids[1:]:
        while not model_id.startswith(common):
            common = common[:-1]
    common = common[:common.rfind("-") + 1]
    short = {model_id: model_id[len(common):] for model_id in ids}
    if not common or not all(short.values()) or len(set(short.values())) < len(ids):
        return {model_id: model_id for model_id in ids}
    return short


def short_names_note(model_ids) -> str:
    """"Columns: averaged-v2 is cxr-compact-averaged-v2, v1 is cxr-compact-v1." ("" when the names are the ids)."""
    names = short_names(model_ids)
    if all(short == model_id for model_id, short in names.items()):
        return ""
    return "Columns: " + ", ".join(f"{short} is {model_id}" for model_id, short in names.items()) + "."


def disagreement_caption(disagreements: int, shown: int) -> str:
    """The line above the films the versions answered differently: how many, and which are drawn with maps
    (`shown`, the first few of them)."""
    line = f"{_count(disagreements, 'image')} got different answers"
    if not shown:
        return line + "."
    which = ("it is" if disagreements == 1 else "both are" if shown == disagreements == 2
             else f"all {shown:,} are" if shown == disagreements else f"the first {shown:,} are")
    return line + f"; {which} shown with each version's Grad-CAM map for its own answer."


# Under the table of every disagreement: its cells give answers only (each version's triage of a film needs the
# film read again, with its test-time copies), so no cell is read as an answer nothing doubts.
TABLE_TRIAGE_NOTE = ("The table gives each version's answer only, not its triage: the films drawn above say "
                     "whether a version advises a second read or finds the film out of scope, as Compare versions "
                     "does for any film uploaded there.")


def disagreement_table(report: dict) -> pd.DataFrame:
    """The images where the versions' answers differ: the image's file name (its full name is in the
    downloads), true label, source, then what each version said with its probability for the film to 0.1%
    ("COVID-19 (41.6%)", as the image captions and every other page give it), headed by its `short_names` name."""
    rows = []
    for case in report.get("disagreements", []):
        names = short_names(case["predicted"])
        row = {"image": PurePosixPath(case["path"]).name, "true label": case["label"], "source": case["source"] or "–"}
        for model_id, label in case["predicted"].items():
            # a film's probability to 0.1%, as every page shows it (not a share of images)
            row[names[model_id]] = f"{label} ({percent(case['confidence'][model_id])})"
        rows.append(row)
    return pd.DataFrame(rows)
