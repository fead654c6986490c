"""Tables on how much a model leans on the image source, for the Performance and Compare pages:
the source probe (how well a simple classifier on the model's features tells the sources apart
within one class) and held-out-source figures (what a model trained without a source called it)."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from model.present.text import as_shown


def source_probe_table(report: dict) -> pd.DataFrame:
    """One row per class: the sources compared, balanced accuracy and chance; empty without a probe.

    Args:
        report: the entry's `metrics.json` (its `source_probe`, written by `training.source_probe`).
    """
    probe = (report or {}).get("source_probe") or {}
    rows = [{"class": label, "balanced accuracy": values.get("balanced_accuracy"), "chance": values.get("chance"),
             "images": sum((values.get("n") or {}).values()), "sources": ", ".join(values.get("sources") or [])}
            for label, values in (probe.get("per_class") or {}).items()]
    # the figures first, the long list of sources last: on a half-width table it is the part cut off
    return pd.DataFrame(rows, columns=["class", "balanced accuracy", "chance", "images", "sources"])


def source_probe_mean(report: dict) -> float | None:
    """The headline figure: mean balanced accuracy over the classes (lower: less source in the features)."""
    return ((report or {}).get("source_probe") or {}).get("mean_balanced_accuracy")


def _distinct(repeats: list[dict]) -> list[dict]:
    """The recorded runs, a run recorded twice counted once: a repeat whose figures (recall, the shares it
    called each class, mean confidence, films and sources left out) equal an earlier one's is the same
    model's predictions (a watched rerun with the same seeds reproduces its run figure for figure); the
    copy that carries more fields (e.g. the separation) is kept."""
    kept: dict = {}
    for repeat in repeats:
        key = json.dumps({k: repeat.get(k) for k in ("recall", "called_fraction", "mean_confidence", "n",
                                                     "trained_without")}, sort_keys=True, default=str)
        if key not in kept or len(repeat) > len(kept[key]):
            kept[key] = repeat
    return list(kept.values())


HELD_OUT_SHARES = ("recall", "median", "mean confidence")  # the held-out table's columns that are shares, besides
# one `called_column` per class


def called_column(label: str) -> str:
    """The held-out table's column of the share of a source's films called `label` (a share)."""
    return f"called {label}"


def held_out_table(card_training: dict) -> pd.DataFrame:
    """What a version trained without each held-out source called that source's images: one row
    per source and setting (the source held out alone, or with other sources at once), the first
    run of each setting giving its figures and every run of it the median recall and the range.

    Args:
        card_training: the card's `training` block; its `held_out_source` (written by
            `training.crossval`) maps source -> {n, called_fraction, recall, mean_confidence,
            trained_without, repeats: [{recall, trained_without, n, called_fraction, mean_confidence}]}.
            Repeats recorded before they carried `trained_without` belong to the source's own setting.
    """
    held = (card_training or {}).get("held_out_source") or {}
    rows = []
    for source, values in held.items():
        # The source's own figures as one repeat (recall of its class as a number), as repeats are stored.
        own = {**values, "recall": next(iter((values.get("recall") or {}).values()), None)}
        settings = {}
        for repeat in _distinct(values.get("repeats") or [own]):
            without = repeat.get("trained_without", values.get("trained_without"))
            settings.setdefault(tuple(without or ()), []).append(repeat)
        for number, (without, runs) in enumerate(settings.items()):
            head = runs[0]
            if number == 0 and "called_fraction" not in head:  # repeats recorded before they carried their calls
                head = own
            recalls = [r["recall"] for r in runs if r.get("recall") is not None]
            rows.append({"held-out source": source,
                         "also held out": ", ".join(s for s in without if s != source) or "–",
                         "images": head.get("n", values.get("n")),
                         "recall": head.get("recall"),
                         "median": float(np.median(recalls)) if recalls else head.get("recall"),
                         "runs": max(len(recalls), 1),
                         # in points between the ends as the range prints them (32%-46% is 14, not 13.25)
                         "spread": _points(max(recalls)) - _points(min(recalls)) if len(recalls) > 1 else None,
                         "range": (f"{min(recalls):.0%}–{max(recalls):.0%} ({len(recalls)} runs)"
                                   if len(recalls) > 1 else "one run"),
                         **{called_column(label): share
                            for label, share in (head.get("called_fraction") or {}).items()},
                         "mean confidence": head.get("mean_confidence")})
    columns = ["held-out source", "also held out", "images", "recall", "median", "runs", "range", "spread"]
    frame = pd.DataFrame(rows)
    return frame[columns + [c for c in frame.columns if c not in columns]] if rows else frame


def _points(share: float) -> int:
    """A share as the tables print it, in whole percent (`text.as_shown`)."""
    return int(as_shown(share, lambda value: f"{value:.0%}"))


def range_note(held: pd.DataFrame) -> str:
    """What the table's `range` column says about one run's figure, from the widest range shown (`spread`,
    the points between the runs' highest and lowest recall as printed): the caption said "tens of points"
    beside ranges of 2 and 4 points. Empty when no setting was run more than once."""
    spreads = held["spread"].dropna() if "spread" in held else pd.Series(dtype=float)
    if spreads.empty:
        return ""
    widest = int(spreads.max())
    text = (f"range: over the recorded runs of the recipe (at most {widest} point{'s' if widest != 1 else ''} "
            "apart here")
    return text + (", so one run's figure is not a precise measure)" if widest >= 10 else ")")


def held_out_separation(card_training: dict) -> list[dict]:
    """How well the version's recipe told apart films of two classes from sources it never trained
    on, whatever its bias (`training.crossval.held_out_separation`): one dict per pair of classes
    with the headline run's AUC and best-both share (None when the headline run lacks them) and
    their ranges over every recorded run that has them.

    Args:
        card_training: the card's `training` block; each source of its `held_out_source` may carry
            `separation` (headline run) and `repeats[*].separation` (every run).
    """
    pairs = {}
    for values in ((card_training or {}).get("held_out_source") or {}).values():
        headline = values.get("separation") or {}
        repeats = _distinct(values.get("repeats") or [])
        named = set(headline) | {pair for r in repeats for pair in r.get("separation") or {}}
        for pair in sorted(named - set(pairs)):
            runs = [r["separation"][pair] for r in repeats if pair in (r.get("separation") or {})]
            runs = runs or [headline[pair]]
            pairs[pair] = {"pair": pair, "auc": headline.get(pair, {}).get("auc"),
                           "best_both": headline.get(pair, {}).get("best_both"), "runs": len(runs),
                           "auc_range": _range([r.get("auc") for r in runs]),
                           "best_both_range": _range([r.get("best_both") for r in runs])}
    return list(pairs.values())


def separation_auc_text(row: dict) -> str:
    """The AUC of a `held_out_separation` row: one figure, or its range over the recorded runs."""
    low, high = row["auc_range"]
    return f"{low:.2f}" if row["runs"] == 1 else f"{low:.2f}–{high:.2f} over {row['runs']} runs"


def separation_sentence(row: dict) -> str:
    """One sentence for a `held_out_separation` row, for the pages' captions."""
    first, second = row["pair"].split(" vs ")
    auc = f"AUC {separation_auc_text(row)}"
    return (f"Unseen {first} films against unseen {second} films, whatever the model's bias: {auc}. Even with the "
            f"threshold between the two moved after the fact, at most {row['best_both_range'][1]:.0%} of both "
            "would be called right" + (" in the best run." if row["runs"] > 1 else "."))


def _range(values):
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else (None, None)


def trajectory_frame(card_training: dict) -> pd.DataFrame:
    """Per epoch of a watched held-out run of the version's recipe (`training.held_out_trajectory`):
    the internal validation AUC, the separation AUC of each pair of unseen classes and the share of
    each held-out source called right. Empty when no run was watched.

    Args:
        card_training: the card's `training` block.
    """
    trajectory = (card_training or {}).get("held_out_trajectory") or {}
    rows = []
    for epoch in trajectory.get("epochs") or []:
        row = {"epoch": epoch.get("epoch"), "internal validation AUC": epoch.get("val_auc")}
        for pair, values in (epoch.get("separation") or {}).items():
            row[f"unseen {pair} AUC"] = (values or {}).get("auc")
        for source, share in (epoch.get("called_right") or {}).items():
            row[f"{source} called right"] = share
        rows.append(row)
    return pd.DataFrame(rows)


def averaging_sentence(card_training: dict) -> str | None:
    """For a recipe that ships averaged weights (`training.recipes.Recipe.average_from`): which
    epochs the shipped model averages, since the trajectory's lines are the single epochs."""
    trajectory = (card_training or {}).get("held_out_trajectory") or {}
    start, epochs = trajectory.get("average_from"), trajectory.get("epochs") or []
    if not start or not epochs:
        return None
    return (f"This recipe does not keep one epoch: the model it ships is the mean of the weights of epochs {start} "
            f"to {epochs[-1].get('epoch')}, which flattens the swings of single epochs.")


def trajectory_sentence(frame: pd.DataFrame) -> str | None:
    """What the watched run shows, in one or two sentences: where the unseen separation peaked and
    where it ended, beside the internal validation AUC at both points. None without the figures."""
    pairs = [c for c in frame.columns if c.startswith("unseen ") and c.endswith(" AUC")]
    if frame.empty or not pairs or "internal validation AUC" not in frame:
        return None
    column = pairs[0]
    rows = frame.dropna(subset=[column, "internal validation AUC"])
    if rows.empty:
        return None
    peak, last = rows.loc[rows[column].idxmax()], rows.iloc[-1]
    kept = rows.loc[rows["internal validation AUC"].idxmax()]
    what = column.removeprefix("unseen ").removesuffix(" AUC")
    text = (f"Unseen {what} separation peaked at {peak[column]:.2f} in epoch {int(peak['epoch'])} (internal "
            f"validation AUC {peak['internal validation AUC']:.2f} then); in the last epoch it was {last[column]:.2f} "
            f"with internal validation AUC {last['internal validation AUC']:.2f}.")
    if last[column] < peak[column] - 0.03 and last["internal validation AUC"] > peak["internal validation AUC"] + 0.03:
        text += (" The later epochs raised the internal figure while the unseen films got harder to tell apart: "
                 "a sign that they learnt features of the training sources that do not carry over.")
    if int(kept["epoch"]) != int(last["epoch"]):
        text += (f" The best internal validation AUC came in epoch {int(kept['epoch'])} "
                 f"(unseen separation {kept[column]:.2f} there).")
    return text


# --------------------------------------------------------------------------- the shortcut story in plain words


def _share_list(counts: dict[str, int]) -> str:
    """"only from a" or "from a (59%), b (40%) and c (1%)": sources by their share of a label's films."""
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if len(ordered) == 1:
        return f"only from {ordered[0][0]}"
    parts = [f"{source} ({n / total:.0%})" for source, n in ordered]
    return "from " + ", ".join(parts[:-1]) + " and " + parts[-1]


def _sources_by_label(card_training: dict) -> dict[str, dict[str, int]]:
    """{label: {source: training films}} from the card's training split ("source / label" counts)."""
    counts = ((((card_training or {}).get("splits") or {}).get("train") or {}).get("by_source_label") or {})
    by_label: dict[str, dict[str, int]] = {}
    for key, n in counts.items():
        source, _, label = key.partition(" / ")
        if label and n:
            by_label.setdefault(label, {})[source] = int(n)
    return by_label


def _measures(card) -> list[str]:
    """What the version does against the shortcut, one plain line each, from its preprocessing and recipe."""
    prep, training = card.prep, card.training or {}
    recipe = training.get("recipe") or {}
    lines = []
    if prep.resize == "stretch":
        lines.append("Every film is stretched to a square, never padded: padding would mark the films that were "
                     "not square, and that depends on the collection.")
    if prep.border_crop:
        lines.append(f"A {prep.border_crop:.0%} border is cut off every side, where text markers and the edges of "
                     "the X-ray beam sit.")
    if prep.equalize == "clahe":
        lines.append("Contrast is evened out region by region (CLAHE) and every film is brought to the same "
                     "brightness scale, so differences of exposure and processing weigh less.")
    if prep.lung_crop:
        lines.append(f"Each film is cut to the box around its lung fields (found by {prep.lung_model}), so most of "
                     "what lies outside the chest never reaches the model.")
    if prep.lung_mask:
        lines.append("Everything outside the lung fields (slightly enlarged) is set to black, in training and in use.")
    if prep.mask_channel:
        lines.append("Its lung-masked networks see only the lung fields (slightly enlarged); another network sees "
                     "the whole lung box, markers and devices inside it included.")
        lines.append("That network was not trained: it is a regression on fixed ImageNet features, fitted with "
                     "every collection weighing the same within a class; none of the training steps below applies "
                     "to it.")
    # The training steps of a two-channel model are its lung-masked networks'.
    whose = prep.mask_channel
    if recipe.get("balance") == "source_label":
        lines.append(f"Training{' of the lung-masked networks' if whose else ''} draws as many films from each "
                     "collection within a class, so no collection dominates a class.")
    if recipe.get("photometric"):
        lines.append(f"Training{' of the lung-masked networks' if whose else ''} also changes the films' look "
                     "(another collection's brightness, blur, JPEG compression, noise), so a collection's look is a "
                     "poorer clue.")
    if recipe.get("average_from"):
        owner = "The lung-masked networks' weights" if whose else "The weights"
        lines.append(f"{owner} shipped are the average of the weights from epoch {recipe['average_from']} on, "
                     "which smooths out single epochs that leaned on the shortcut.")
    return lines


def shortcut_story(card, report: dict) -> list[str]:
    """The shortcut of this version in short paragraphs of plain words (markdown): why it matters for
    this version's data, what the version does against it, how much is left (the source probe and
    films of collections it never trained on) and what to do with a single film."""
    story = []
    by_label = _sources_by_label(card.training)
    risk = ("Where a film comes from can give its label away. Each collection has its own look (exposure, "
            "borders, text markers), so a model can learn to recognise the collection instead of the disease.")
    if by_label:
        risk += " In this version's training films, " + "; ".join(
            f"{label} came {_share_list(sources)}" for label, sources in sorted(by_label.items())) + "."
    story.append(risk)
    measures = _measures(card)
    if measures:
        story.append("**What this version does against it**\n\n" + "\n".join(f"- {line}" for line in measures))
    left = []
    mean = source_probe_mean(report)
    chances = [values.get("chance") for values in (((report or {}).get("source_probe") or {}).get("per_class") or {}).values()
               if values.get("chance") is not None]
    if mean is not None:
        chance = f" (guessing would give about {sum(chances) / len(chances):.0%})" if chances else ""
        left.append(f"A simple test on the model's features still tells the collections apart within a class "
                    f"{mean:.0%} of the time{chance}.")
    held = held_out_table(card.training)
    first = held.drop_duplicates("held-out source").to_dict("records") if not held.empty else []
    if first:
        parts = [f"{_percent(row['median'])} of the {row['held-out source']} films"
                 + (f" (median of {row['runs']} runs)" if row["runs"] > 1 else "") for row in first]
        left.append("Of the films of a collection it never trained on, it called "
                    + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])
                    + " their true class (the table above has every run).")
    story.append("**How much is left**\n\n" + (" ".join(left) + " " if left else "")
                 + _verdict_on_what_is_left(bool(measures), first))
    if card.prep.mask_channel:
        single = ("This version's lung-masked networks see only the lung fields, but another network sees the whole "
                  "lung box, so a marker or device inside the box can still sway it. On Diagnose, look at how much of the map "
                  "lies inside the lungs: a map on text or devices points to the shortcut.")
    elif card.prep.lung_mask:
        single = ("This version sees only the lung fields (everything else is blanked before it looks), so it "
                  "cannot read text, borders or devices; the look of a collection inside the lungs (exposure, "
                  "processing, noise) can still give the source away. On Diagnose, check that the map points at "
                  "a finding rather than spreading over both lungs.")
    else:
        single = ("On Diagnose, look at how much of the map lies inside the lungs: a map mostly on text, borders or "
                  "devices points to the shortcut.")
    story.append(f"**With a single film**\n\n{single} Films from a hospital that is not in the training data are "
                 "the most at risk.")
    return story


def _verdict_on_what_is_left(has_measures: bool, held_rows: list[dict]) -> str:
    """The closing sentence of "How much is left", earned by the held-out figures: it claims no more than
    they show (a version whose steps left it wrong on most of an unseen collection's films is told so)."""
    # Judged on the share as printed (whole percent), so "wrong on most" never stands beside "50% right".
    failing = [row for row in held_rows if row.get("median") is not None and round(row["median"] * 100) < 50]
    if not has_measures:
        head = "This version takes no particular step against the shortcut."
    else:
        head = "The steps above are meant to reduce the shortcut; none removes it."
    if failing:
        worst = min(failing, key=lambda row: row["median"])
        return (f"{head} It is still wrong on most {worst['held-out source']} films ({_percent(worst['median'])} "
                "right): a new collection's look still sways its answers.")
    # More than one film in ten of an unseen collection wrong, though not most: said, not only tabled.
    off = [row for row in held_rows if row.get("median") is not None and round(row["median"] * 100) <= 90]
    if off:
        worst = min(off, key=lambda row: row["median"])
        return (f"{head} It still gets {100 - round(worst['median'] * 100)}% of the {worst['held-out source']} "
                "films wrong: a new collection's look still sways some of its answers.")
    if held_rows:
        return f"{head} The figures above say how much of it is left."
    return f"{head} Without films of a collection it never trained on, how much is left is not measured."


FEW_PER_CLASS = 30  # Test films of a class below which a within-source AUC is called rough.
# What the within-source pair figure ranks the films by (`model.metrics.pair_auc`), in words an ML reader checks.
PAIR_SCORE = "COVID-19's share of the two probabilities, P(COVID-19) / (P(COVID-19) + P(Pneumonia))"
PAIR = ("COVID-19", "Pneumonia")


def within_source_pair_sentences(report: dict) -> list[str]:
    """The within-source COVID-19 against Pneumonia AUC of each collection that has both (`metrics.json`'s
    `within_source_covid_vs_pneumonia`, the figure cards, README and research log cite), one sentence each
    with its film counts and what it ranks the films by; [] when the report has none."""
    sentences = []
    pairs = sorted(((report or {}).get("within_source_covid_vs_pneumonia") or {}).items())
    which = ", the one collection with both COVID-19 and Pneumonia films," if len(pairs) == 1 else ""
    for source, splits in pairs:
        parts = []
        for split, words in (("test", "the test split"), ("validation+test", "validation and test together")):
            values = (splits or {}).get(split) or {}
            if values.get("auc") is not None:
                parts.append(f"{values['auc']:.3f} on {words} ({values.get('n_pos')} COVID-19 and "
                             f"{values.get('n_neg')} Pneumonia films)")
        test = (splits or {}).get("test") or {}
        few = min(test.get("n_pos") or 0, test.get("n_neg") or 0) < FEW_PER_CLASS
        if parts:
            sentences.append(f"Inside {source}{which} COVID-19 against Pneumonia: AUC " + "; ".join(parts)
                             + f". Each film is ranked by {PAIR_SCORE}, so the probability the model gives "
                               "Normal plays no part."
                             + (" With so few films of one class on the test split the figure is rough." if few else ""))
    return sentences


def within_source_table_note(report: dict) -> str:
    """What the per-class AUCs inside each source (`per_source`) rank by, and, for every collection holding
    films of exactly two classes on the test split, why its two cells (and, for COVID-19 and Pneumonia, the pair
    figure of `within_source_pair_sentences`) differ although they judge the same films."""
    note = ("Each cell is one class against the collection's other films, each film ranked by the model's "
            "probability of that class alone (one-vs-rest).")
    labels = list((report or {}).get("labels") or [])
    pairs = (report or {}).get("within_source_covid_vs_pneumonia") or {}
    for source, sub in sorted(((report or {}).get("per_source") or {}).items()):
        classes = (sub or {}).get("per_class") or {}
        present = [label for label in labels or classes if (classes.get(label) or {}).get("support")]
        cells = [(classes.get(label) or {}).get("auc") for label in present]
        if len(present) != 2 or None in cells:
            continue
        pair = ((pairs.get(source) or {}).get("test") or {}).get("auc") if tuple(present) == PAIR else None
        note += " " + _two_class_note(source, present, cells, pair, sub.get("n"),
                                      [label for label in labels if label not in present])
    return note


def _two_class_note(source: str, present: list[str], cells: list[float], pair: float | None, n,
                    others: list[str]) -> str:
    """Why the two cells of a collection holding films of two classes only (and its pair figure `pair`, when it
    has one) differ: the model also gives its films some probability of the `others`, so the two probabilities
    do not add to one."""
    first, second = present
    cells_said = [f"its {first} cell ({cells[0]:.3f}, ranked by P({first}))",
                  f"its {second} cell ({cells[1]:.3f}, ranked by P({second}))"]
    if pair is not None:
        cells_said.append(f"the pair figure above ({pair:.3f}, ranked by {first}'s share of the two)")
    judged = (", ".join(cells_said[:-1]) + f" and {cells_said[-1]} judge the same {n} films by "
              + ("three scores" if pair is not None else "two scores"))
    rest = " or ".join(others) or "another class"
    line = (f"{source} holds only {first} and {second} films, so {judged}. They differ because the model also "
            f"gives each film some probability of {rest}, more to some films than to others, so P({first}) and "
            f"P({second}) do not add to one")
    if pair is not None:
        line += (f"; the pair figure leaves {rest} out and is the one that measures telling these two findings "
                 "apart")
    return line + "."


def within_source_column_help(label: str) -> str:
    """The header help of a class's column in the per-class AUC table inside each source."""
    return (f"{label} against the collection's other films (one-vs-rest), each film ranked by the model's "
            f"probability of {label} alone, P({label}).")


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.0%}"


# Internal names of the card's records, said as a reader finds them on the Performance page.
RECORD_NAMES = {"training.held_out_source": "“Does the model know the source?” on the Performance page",
                "training.held_out_trajectory": "the chart “During training” on the Performance page"}
# Words of the trade, said plainly (the term kept in brackets so it can be looked up).
PLAIN_WORDS = {"CLAHE": "local contrast equalisation (CLAHE)",
               "letterboxed": "padded",
               "collimation edges": "the edges of the X-ray beam",
               "bounding box": "box",
               "dilated lung fields": "slightly enlarged lung fields",
               "per-image standardisation layer": "scaling of every film to the same brightness range"}
_RECORD_KEY = re.compile(r"\b(?:training|metrics|card|preprocessing)\.[a-z_]+(?:\.[a-z_]+)*\b")


def _plain_sentence(sentence: str) -> str:
    """One sentence with internal record names and trade words replaced, its first letter a capital."""
    text = _RECORD_KEY.sub(lambda match: RECORD_NAMES.get(match.group(0), "the model card's records"), sentence)
    for word, plain in PLAIN_WORDS.items():
        text = re.sub(rf"(?<![\w(]){re.escape(word)}(?![\w)])", plain, text)
    return text[:1].upper() + text[1:]


def plain_notes(notes: str) -> list[str]:
    """A card's free-text notes as short markdown blocks a person can read: internal record names
    replaced by where the figures are shown, trade words said plainly, a sentence that lists
    measures after a colon turned into a bulleted list, other sentences two to a paragraph."""
    blocks, paragraph = [], []
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join((notes or "").split())):
        sentence = _plain_sentence(sentence)
        if not sentence:
            continue
        head, colon, rest = sentence.partition(": ")
        if colon and rest.count("; ") >= 2:
            if paragraph:
                blocks.append(" ".join(paragraph))
                paragraph = []
            items = [item.strip().rstrip(".") for item in rest.split("; ")]
            blocks.append(f"{head}:\n\n" + "\n".join(f"- {item[0].upper()}{item[1:]}." for item in items))
            continue
        paragraph.append(sentence)
        if len(paragraph) == 2:
            blocks.append(" ".join(paragraph))
            paragraph = []
    if paragraph:
        blocks.append(" ".join(paragraph))
    return [block for block in blocks if block.strip()]


# --------------------------------------------------------------------------- provenance in plain words

FACT_NAMES = {"seed": "random seed of the split", "init_seed": "random seed of the first weights",
              "unit": "what is kept together in a split", "split_method": "how patients were split",
              "manifest": "list of images (manifest)", "manifest_sha256": "checksum of that list (SHA-256, first 12)",
              "recipe_name": "training recipe", "epochs_run": "epochs trained", "epochs_max": "epochs at most",
              "batch_size": "films per training step", "learning_rate": "learning rate",
              "skipped_images": "images that could not be read", "wall_time_s": "training time",
              "augmentation": "changes made to films during training", "strategy": "training strategy",
              "monitor": "epoch kept by", "patience": "stopped after this many epochs without progress",
              "class_weights": "class weights", "combination": "how the members are combined",
              "members_wall_time_s": "members' training time", "merge_wall_time_s": "time to combine the members",
              "masked_temperature": "temperature of the lung-masked networks before combining",
              "masked_size": "input side of the lung-masked networks (px)"}
FACT_VALUES = {("unit", "patient_id"): "the patient (all films of one patient fall in one split)",
               ("split_method", "hash"): "by a hash of the patient's id (a patient keeps its split when data are added)",
               ("split_method", "legacy"): "dealt out in a seeded random order",
               ("monitor", "val_auc"): "validation AUC", ("monitor", "val_loss"): "validation loss"}
# The commands and the note on rebuilding are shown on their own, with the command; `data` is a path on the
# training machine.
HIDDEN_FACTS = {"command", "built_with", "rebuild_note", "registered_as", "data", "parts_check_max_difference"}


def _unmasked_branch_words(branch: dict) -> str:
    """A two-channel card's `unmasked_branch` block in one plain line."""
    words = [f"{branch.get('network', 'a frozen network')} at {branch.get('image_size', '?')} px"]
    if branch.get("features"):
        words.append(f"a logistic regression on {branch['features']} pooled features"
                     + (f" ({', '.join(branch['layers'])})" if branch.get("layers") else ""))
    if branch.get("fitted_on"):
        words.append(f"fitted on the {branch['fitted_on']}" + (f", {branch['balance']}" if branch.get("balance") else ""))
    if branch.get("temperature") is not None:
        words.append(f"temperature {float(branch['temperature']):.2f} before combining")
    return "; ".join(words)


def provenance_facts(card_training: dict) -> list[tuple[str, str]]:
    """The card's training facts as (plain name, plain value), internal keys never shown: known keys by
    their name in `FACT_NAMES`, any other with its underscores as spaces; times in minutes (seconds under one)."""
    facts = []
    for key, value in (card_training or {}).items():
        if key == "unmasked_branch" and isinstance(value, dict):
            facts.append(("network that sees the whole lung box", _unmasked_branch_words(value)))
            continue
        if key in HIDDEN_FACTS or isinstance(value, (dict, list)):
            continue
        if key.endswith("wall_time_s"):
            shown = f"{float(value) / 60:.0f} min" if float(value) >= 60 else f"{float(value):.0f} s"
        elif key == "manifest_sha256":
            shown = str(value)[:12]
        elif key == "masked_temperature":
            shown = f"{float(value):.2f}"
        else:
            shown = FACT_VALUES.get((key, str(value)), str(value))
        name = FACT_NAMES.get(key, key.replace("_", " "))
        if key == "wall_time_s" and "members_wall_time_s" in card_training:  # an ensemble: members plus combining
            name = "total time (members and combining)"
        facts.append((name, shown))
    return facts
