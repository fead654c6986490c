"""Comparing models: their test metrics side by side, their predictions on one image, their maps.

    names = version_names(cards)   # {id: the name the other pages give it}
    table = metrics_comparison({names[card.id]: read_metrics(card.id) for card in cards})
    agreement = prediction_agreement({clf.card.id: clf.predict_xray(xray) for clf in classifiers})
    rho = map_similarity(heat_a, heat_b)
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from model.present.text import answer_line, card_label, lung_share, percent
from model.trust.map_checks import similarity_text

# Rows where a smaller value is better; every other row is better when larger.
LOWER_IS_BETTER = frozenset({"ECE"})
RESERVED_COLUMNS = ("best", "spread")


def version_names(cards) -> dict[str, str]:
    """Each card's id -> the name the other pages give the version: its `display_name`, as the side panel's
    model box and Diagnose show it; its name and version (`card_label`) where two cards share a name, and
    its id where even those clash, so that no two columns of a comparison are headed alike."""
    names = {card.id: card.display_name for card in cards}
    for fallback in (card_label, lambda card: card.id):  # ids are unique: the last fallback ends every clash
        shared = Counter(names.values())
        names.update({card.id: fallback(card) for card in cards if shared[names[card.id]] > 1})
    return names


def ids_note(names: dict[str, str]) -> str:
    """"Ids: Compact CNN v1 is cxr-compact-v1, ..." for the versions shown by name (a command or a download
    needs the id); "" when every name is its id."""
    named = [f"{name} is `{model_id}`" for model_id, name in names.items() if name != model_id]
    return f"Ids: {', '.join(named)}." if named else ""


def named_report(report: dict, names: dict[str, str]) -> dict:
    """A common-ground report (`model.evaluation.evaluate_models`, keyed by version id) with each id replaced
    by its name (`version_names`) wherever the report's tables and sentences read it; the rest is shared."""
    def rename(by_id: dict) -> dict:
        return {names.get(model_id, model_id): value for model_id, value in by_id.items()}

    def rows(key: str, fields: tuple[str, ...]) -> list[dict]:
        return [{**row, **{field: rename(row[field]) for field in fields if field in row}}
                for row in report.get(key, [])]

    return {**report, "models": rename(report.get("models", {})),
            "comparisons": [{**pair, "a": names.get(pair["a"], pair["a"]), "b": names.get(pair["b"], pair["b"])}
                            for pair in report.get("comparisons", [])],
            "within_source": {source: rename(by_id) for source, by_id in report.get("within_source", {}).items()},
            "disagreements": rows("disagreements", ("predicted", "confidence")),
            "images": rows("images", ("predicted", "probabilities", "correct"))}


def _number(value) -> float:
    return np.nan if value is None else float(value)


def _report_rows(report: dict, labels: list[str]) -> dict[str, float]:
    """The comparable figures of one `metrics.json` report; NaN where the report has none."""
    macro = report.get("macro", {})
    rows = {"accuracy": _number(report.get("accuracy")), "macro AUC": _number(macro.get("auc")),
            "macro F1": _number(macro.get("f1")),
            "ECE": _number((report.get("calibration") or {}).get("ece"))}
    per_class = report.get("per_class", {})
    for label in labels:
        values = per_class.get(label, {})
        rows[f"{label} recall"] = _number(values.get("recall"))
        rows[f"{label} AUC"] = _number(values.get("auc"))
        rows[f"{label} F1"] = _number(values.get("f1"))
    return rows


def _all_labels(reports: dict[str, dict]) -> list[str]:
    """Labels of the first (reference) report, then any label only other reports have."""
    labels: list[str] = []
    for report in reports.values():
        labels.extend(label for label in report.get("labels", []) if label not in labels)
    return labels


def _best(row: pd.Series, metric: str) -> str | None:
    values = row.dropna()
    if values.empty:
        return None
    # idxmin/idxmax return the first of equal values, so a tie goes to the reference model.
    return str(values.idxmin() if metric in LOWER_IS_BETTER else values.idxmax())


def metrics_comparison(reports: dict[str, dict]) -> pd.DataFrame:
    """Test metrics of several models side by side.

    Args:
        reports: {model id: metrics.json report}; the first model is the reference.

    Returns:
        DataFrame indexed by metric ("accuracy", "macro AUC", "macro F1", "ECE", then for each class
        "<label> recall", "<label> AUC", "<label> F1"), one column per model id in the given order,
        then `best` (the id with the best value; lower is better for ECE; None when no model has
        the figure) and `spread` (max - min over models). Missing figures are NaN.
    """
    if not reports:
        raise ValueError("metrics_comparison needs at least one report")
    clash = [m for m in reports if m in RESERVED_COLUMNS]
    if clash:
        raise ValueError(f"model ids {clash} clash with the table's own columns {RESERVED_COLUMNS}")
    labels = _all_labels(reports)
    table = pd.DataFrame({model_id: _report_rows(report or {}, labels) for model_id, report in reports.items()})
    table.index.name = "metric"
    models = list(reports)
    table["best"] = [_best(table.loc[metric, models], metric) for metric in table.index]
    values = table[models].astype(float)
    table["spread"] = values.max(axis=1, skipna=True) - values.min(axis=1, skipna=True)
    return table


def prediction_agreement(predictions: dict) -> dict:
    """How far several models agree on one image.

    Args:
        predictions: {model id: `model.classifier.Prediction`}, in display order.

    Returns:
        dict with `all_agree` (bool), `labels` ({id: predicted label}), `majority` (the most
        frequent predicted label; a tie goes to the label predicted first), `agreement` (share of
        models predicting the majority label) and `max_probability_gap` (the largest absolute
        difference in any class probability between any two models, classes matched by label).
    """
    if not predictions:
        raise ValueError("prediction_agreement needs at least one prediction")
    labels = {model_id: p.label for model_id, p in predictions.items()}
    # Counter keeps first-seen order among equal counts, which makes the tie-break deterministic.
    majority, votes = Counter(labels.values()).most_common(1)[0]
    return {"all_agree": len(set(labels.values())) == 1, "labels": labels, "majority": majority,
            "agreement": votes / len(labels), "max_probability_gap": _max_gap(list(predictions.values()))}


def _max_gap(predictions: list) -> float:
    as_dicts = [p.as_dict() for p in predictions]
    shared = set.intersection(*(set(d) for d in as_dicts))
    gaps = [max(d[label] for d in as_dicts) - min(d[label] for d in as_dicts) for label in shared]
    return float(max(gaps, default=0.0))


def agreement_text(predictions: dict, triages: dict | None = None) -> tuple[str, list[str]]:
    """A neutral headline on how far several versions agree on one image, and one line per version
    saying what it output, how sure it was and (given `triages`, {model id: `model.trust.triage.Triage`}) its
    triage in the words of every compact view (`text.answer_line`, as Evaluate's disagreements and the gallery's
    cards say it). Agreement is not correctness: all versions can be wrong together (they share data and its
    shortcuts), so the headline never reads as a verdict.

    Returns:
        (headline, ["<model id>: <label> (<probability to 0.1%, as every page shows it>)[, <triage>]", ...]) in
        the given order.
    """
    agreement = prediction_agreement(predictions)
    triages = triages or {}
    answers = [answer_line(model_id, p.label, p.confidence, triages.get(model_id)) for model_id, p in predictions.items()]
    gap = agreement["max_probability_gap"]
    if agreement["all_agree"]:
        headline = (f"All {len(predictions)} versions output {agreement['majority']}; their probabilities differ by "
                    f"up to {100 * gap:.1f} points. Versions trained on the same data can be wrong together.")
    else:
        headline = (f"The versions disagree: {len(set(agreement['labels'].values()))} different answers, "
                    f"probabilities up to {100 * gap:.1f} points apart.")
    return headline, answers


def probability_caption(card, probability: float) -> str:
    """The line under a version's answer on Compare: the film's probability to 0.1% and, from the card,
    whether it is calibrated (`model.present.text.probability_definition` says it in full)."""
    how = (f"calibrated (temperature {card.temperature:.2f}, fitted on its validation films)" if card.calibration
           else "not calibrated: a score, not a frequency")
    return f"Probability {percent(probability)}: the film's own output, {how}."


def explanation_rows(report) -> dict[str, str]:
    """The figures of one explanation report (`model.trust.explanations.ExplanationReport`) worth comparing
    between versions, as {row name: text}: lung attention, each method's deletion and insertion against its
    chance level (three decimals for all of a method's figures where either pair is within two margins, as on
    Diagnose), the verdict on the
    mean curves and, in a row of its own, the share of judged films better on both (`mean_verdict`,
    `films_better_on_both`), and the randomisation check in short words (a narrow cell; "not judged": the
    maps, trained or scrambled, were blank on most films, as the caption says)."""
    from model.explain import method_label
    from model.trust.faithfulness import auc_digits, auc_pair

    rows = {}
    lungs = report.lung_attention
    if lungs.overall is not None:
        rows["lung attention, all images"] = lung_share(lungs.overall)
        for label, values in lungs.per_class.items():
            rows[f"lung attention, predicted {label}"] = "–" if values.mean is None else lung_share(values.mean)
    faith = report.faithfulness
    if faith.methods and faith.measured is not None:
        rows["faithfulness judged on"] = f"{faith.measured} of {faith.measured + faith.not_measurable} films"
    for method, values in faith.methods.items():
        name = method_label(method)
        curves = {curve: (getattr(values, f"{curve}_auc"), faith.chance(method, curve))
                  for curve in ("deletion", "insertion")}
        # one format for the method's figures, as Diagnose's panel gives them (never "0.43" beside "0.430")
        digits = auc_digits(*[pair for pair in curves.values() if None not in pair])
        for curve, better in (("deletion", "lower"), ("insertion", "higher")):
            mine, chance = curves[curve]
            if mine is None:
                continue
            shown = auc_pair(mine, chance, digits) if chance is not None else (f"{mine:.{digits}f}", None)
            rows[f"{name} {curve} AUC ({better} is better)"] = shown[0]
            if shown[1] is not None:
                rows[f"{name} {curve} AUC, random maps"] = shown[1]
        # Two facts, two rows: the verdict judges the mean curves, the share counts films one by one, so a
        # "faithful" beside 49% is not read as earned film by film.
        rows[f"{name} verdict on the mean curves"] = mean_verdict(faith.verdict(method))
        rows[f"{name} films better on both"] = films_better_on_both(values.better_than_random_share, faith.measured)
    for method, values in (report.sanity_check.methods if report.sanity_check else {}).items():
        flag = ", flagged" if values.flagged else ", not judged" if values.inconclusive else ""
        # A similarity, not a difference: no sign forced, as on Performance ("0.00", "-0.05").
        rows[f"{method_label(method)} similarity to random weights"] = (
            "–" if values.spearman is None else similarity_text(values.spearman, signed=False)) + flag
    return rows


def mean_verdict(verdict: str) -> str:
    """A faithfulness verdict (`FaithfulnessSummary.verdict`) said as what it judges: the mean deletion and
    insertion curves against chance ("faithful on average"), not each film; "not measurable" as it is."""
    from model.trust.faithfulness import NOT_MEASURABLE

    return verdict if verdict == NOT_MEASURABLE else f"{verdict} on average"


def films_better_on_both(share: float | None, measured: int | None) -> str:
    """The share of judged films where both curves beat chance, with the count it rests on ("49% of 35
    films"); the share alone for a report that did not record the count, "–" without a share."""
    if share is None:
        return "–"
    return f"{share:.0%}" + ("" if measured is None else f" of {measured} films")


# Under the common-ground figures: the pool's films reward knowing the collection.
COMMON_GROUND_CAVEAT = (
    "These films come from the collections the versions trained on (their test and validation patients), where "
    "recognising the collection helps: a version that carries more of the source (see \"Does each version know the "
    "source?\" below) can win here and still do worse on a hospital it has never seen.")
