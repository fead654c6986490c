"""Tables on how much a model leans on the image source, for the Performance and Compare pages:
the source probe (how well a simple classifier on the model's features tells the sources apart
within one class) and held-out-source figures (what a model trained without a source called it)."""
from __future__ import annotations

import pandas as pd


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


def held_out_table(card_training: dict) -> pd.DataFrame:
    """What a version trained without each held-out source called that source's images: one row
    per source and setting (the source held out alone, or with other sources at once), the first
    run of each setting giving its figures and every run of it the range.

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
        for repeat in values.get("repeats") or [own]:
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
                         "runs": max(len(recalls), 1),
                         "range": (f"{min(recalls):.0%}–{max(recalls):.0%} ({len(recalls)} runs)"
                                   if len(recalls) > 1 else "one run"),
                         **{f"called {label}": share for label, share in (head.get("called_fraction") or {}).items()},
                         "mean confidence": head.get("mean_confidence")})
    columns = ["held-out source", "also held out", "images", "recall", "runs", "range"]
    frame = pd.DataFrame(rows)
    return frame[columns + [c for c in frame.columns if c not in columns]] if rows else frame


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
        named = set(headline) | {pair for r in values.get("repeats") or [] for pair in r.get("separation") or {}}
        for pair in sorted(named - set(pairs)):
            runs = [r["separation"][pair] for r in values.get("repeats") or [] if pair in (r.get("separation") or {})]
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
