"""Scoring a training run the way every held-out figure of the project is made, shared by
`training.train`, `training.crossval`, `training.crossval_average` and `training.held_out_card`.

A run is scored on sets of films it never trained on (`scoring_sets`): each held-out source alone,
the internal test split, and the within-source collection's validation and test films; `run_figures`
turns probabilities on those sets into the figures of a results.json, `held_out_block` gathers
held-out runs into a card. Cached pool arrays (`training.pool.load_pool`) are cut into subsets with
`pool_subset` and finished as a preprocessing says with `subset_inputs`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from model.known_films import file_digest  # noqa: F401  (re-exported: the training commands import it from here)
from model.labelled_data import CLASS_LABELS
from model.metrics import classification_report, pair_auc, roc_auc
from training.pool import pool_inputs

WITHIN_SOURCE = "ieee8023-covid-chestxray"


def held_out_report(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """What a model called the images of one source: recall per present class, counts, confidence."""
    pred = np.argmax(probabilities, axis=1)
    out = {"n": len(labels),
           "called": {c: int((pred == k).sum()) for k, c in enumerate(CLASS_LABELS)},
           "called_fraction": {c: float(np.mean(pred == k)) if len(pred) else None for k, c in enumerate(CLASS_LABELS)},
           "recall": {c: float(np.mean(pred[labels == k] == k)) for k, c in enumerate(CLASS_LABELS) if np.any(labels == k)},
           "mean_confidence": float(probabilities.max(axis=1).mean()) if len(pred) else None,
           "mean_true_class_probability": float(probabilities[np.arange(len(labels)), labels].mean()) if len(pred) else None}
    return out


def held_out_separation(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """How well a model tells apart the classes of films from sources it never trained on, whatever
    its bias: for each pair of classes present among those films (pooled over held-out sources), the
    AUC of log(p_a / p_b) with class a positive, and `best_both`, the largest share that both classes
    could have called right in a choice between the two if the threshold were moved after the fact
    (max over thresholds of min(recall a, recall b)). Unlike the called-right shares, neither depends
    on where an unfamiliar source happens to land between two classes, so they vary less from run to
    run; `best_both` below a target share means no change of bias or threshold can reach it."""
    labels = np.asarray(labels, int)
    present = [k for k in range(len(CLASS_LABELS)) if np.any(labels == k)]
    out = {}
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            sel = (labels == a) | (labels == b)
            p = np.clip(np.asarray(probabilities, np.float64)[sel], 1e-12, 1.0)
            score, positive = np.log(p[:, a]) - np.log(p[:, b]), labels[sel] == a
            cuts = np.unique(score)
            recall_a = np.array([np.mean(score[positive] >= t) for t in cuts])
            recall_b = np.array([np.mean(score[~positive] < t) for t in cuts])
            best = int(np.argmax(np.minimum(recall_a, recall_b)))
            out[f"{CLASS_LABELS[a]} vs {CLASS_LABELS[b]}"] = {
                "auc": roc_auc(positive, score), "best_both": float(min(recall_a[best], recall_b[best])),
                "n": {CLASS_LABELS[a]: int(positive.sum()), CLASS_LABELS[b]: int((~positive).sum())}}
    return out


def within_source_auc(labels: np.ndarray, probabilities: np.ndarray, positive: str = "COVID-19",
                      negative: str = "Pneumonia") -> dict:
    """AUC of positive vs negative among images of those two classes (`model.metrics.pair_auc`)."""
    pi, ni = CLASS_LABELS.index(positive), CLASS_LABELS.index(negative)
    sel = (labels == pi) | (labels == ni)
    return {"auc": pair_auc(labels[sel] == pi, probabilities[sel, pi], probabilities[sel, ni]),
            "n_pos": int((labels[sel] == pi).sum()),
            "n_neg": int((labels[sel] == ni).sum())}


def held_out_block(paths, recipe: dict | None = None) -> dict:
    """The card's `training.held_out_source`: per source, the figures of held-out runs (results.json
    of `training.crossval` or `training.crossval_average`) with where they come from. The first run
    naming a source gives its headline figures; when several runs hold it out (repeats of one
    recipe), every run's recall is listed under "repeats", so the run-to-run spread travels with
    the headline. Runs that held out the source alone and runs that held out several sources at
    once are both repeats, each with its own `trained_without` and calls. A run of another recipe
    than `recipe` is said on stderr, not refused."""
    held_out = {}
    for path in paths:
        other = json.loads(Path(path).read_text(encoding="utf-8"))
        if recipe is not None and "average_of" not in other and other.get("recipe") != recipe:
            print(f"warning: {path} used another recipe ({other.get('recipe_name')})", file=sys.stderr)
        for source, figures in other["held_out"].items():
            label = next(iter(figures.get("recall") or {}), None)
            # The run's separation figures for pairs involving this source's class (other held-out sources).
            separation = {pair: values for pair, values in (other.get("held_out_separation") or {}).items()
                          if label is not None and label in pair.split(" vs ")}
            repeat = {"run": str(path), "recall": next(iter((figures.get("recall") or {}).values()), None),
                      "seed": other.get("seed"), "init_seed": other.get("init_seed", other.get("seed")),
                      # what the run left out (one source, or several at once) and what it called them:
                      # runs of different settings are shown apart (`model.present.shortcut_tables.held_out_table`)
                      "trained_without": trained_without(other),
                      **{k: figures[k] for k in ("n", "called_fraction", "mean_confidence") if k in figures},
                      **({"separation": {pair: {k: v[k] for k in ("auc", "best_both")}
                                         for pair, v in separation.items()}} if separation else {})}
            if source in held_out:
                held_out[source]["repeats"].append(repeat)
                continue
            held_out[source] = {**figures, "run": str(path), "recipe": other.get("recipe_name"),
                                "image_size": other.get("image_size"), "epochs_run": other.get("epochs_run"),
                                "trained_without": trained_without(other), "repeats": [repeat],
                                **({"separation": separation} if separation else {})}
    return held_out


def trained_without(results: dict) -> list[str]:
    """The sources a held-out run never trained on: those it held out or, for an already trained
    version scored with `--evaluate-model`, every scored source it had not seen."""
    if results.get("held_out_sources") is not None:
        return list(results["held_out_sources"])
    return sorted(set(results.get("held_out") or {}) - set(results.get("warning_seen_sources") or []))


def watch_key(pair: str) -> str:
    """The history-column stem of a class pair: "COVID-19 vs Normal" -> "covid_vs_normal"."""
    return pair.replace("-19", "").replace(" vs ", "_vs_").lower()


def held_out_trajectory(paths) -> dict | None:
    """The card's `training.held_out_trajectory`: from the first results file whose history was
    watched (`--watch-held-out`), per epoch the internal validation AUC beside the held-out figures
    (separation of each pair of classes, share of each source called right). It shows when in
    training a recipe learns the sources rather than the findings. None when no run was watched."""
    for path in paths:
        other = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = [row for row in other.get("history") or [] if any(k.startswith("watch_") for k in row)]
        if not rows:
            continue
        sources = other.get("held_out_sources") or []
        pairs = list(other.get("held_out_separation") or {})
        epochs = []
        for row in rows:
            entry = {"epoch": row["epoch"], "val_auc": row.get("val_auc"), "separation": {}, "called_right": {}}
            for pair in pairs:
                key = watch_key(pair)
                entry["separation"][pair] = {"auc": row.get(f"watch_{key}_auc"),
                                             "best_both": row.get(f"watch_{key}_best_both")}
            for source in sources:
                entry["called_right"][source] = row.get(f"watch_{source}_called_right")
            epochs.append(entry)
        return {"run": str(path), "recipe": other.get("recipe_name"), "trained_without": sources,
                "image_size": other.get("image_size"), "epochs": epochs,
                **({"average_from": other["recipe"]["average_from"]}
                   if (other.get("recipe") or {}).get("average_from") else {})}
    return None


def scoring_sets(records, ok, idx: dict, held) -> dict:
    """Indices a run is scored on: each held-out source alone ("held:SOURCE"), the internal test
    split ("test") and the within-source collection's validation + test images ("within"; the test
    split holds few of its pneumonias). None of them was trained on."""
    sets = {f"held:{source}": np.array([i for i, r in enumerate(records) if r.source == source and ok[i]], int)
            for source in sorted(held)}
    sets["test"] = np.asarray(idx["test"], int)
    vt = np.concatenate([idx["validation"], idx["test"]]).astype(int)
    sets["within"] = vt[np.array([records[i].source == WITHIN_SOURCE for i in vt], bool)]
    return sets


def run_figures(records, sets: dict, probabilities: dict, log=print) -> dict:
    """held_out, internal_test and within_source_covid_vs_pneumonia of a run (or an average of
    runs) from its probabilities on each of `scoring_sets`."""
    def labels(name):
        return np.array([CLASS_LABELS.index(records[i].label) for i in sets[name]], int)

    out = {"held_out": {}}
    for name in sets:
        if name.startswith("held:"):
            out["held_out"][name[5:]] = held_out_report(labels(name), probabilities[name])
            log(f"held out {name[5:]}: {json.dumps(out['held_out'][name[5:]])}")
    held_sets = [name for name in sets if name.startswith("held:")]
    if held_sets:
        separation = held_out_separation(np.concatenate([labels(name) for name in held_sets]),
                                         np.concatenate([probabilities[name] for name in held_sets]))
        if separation:
            out["held_out_separation"] = separation
            log(f"held-out separation: {json.dumps(separation)}")
    test_labels, test_probs = labels("test"), probabilities["test"]
    report = classification_report(test_labels, test_probs, CLASS_LABELS)
    out["internal_test"] = {"n": len(test_labels), "macro_auc": report["macro"]["auc"],
                            "accuracy": report["accuracy"], "macro_f1": report["macro"]["f1"],
                            "per_class_auc": {c: report["per_class"][c]["auc"] for c in CLASS_LABELS}}
    m = np.array([records[i].source == WITHIN_SOURCE for i in sets["test"]], bool)
    out["within_source_covid_vs_pneumonia"] = {WITHIN_SOURCE: {
        "test": within_source_auc(test_labels[m], test_probs[m]),
        "validation+test": within_source_auc(labels("within"), probabilities["within"])}}
    log(f"internal test: {json.dumps(out['internal_test'])}")
    log(f"within source: {json.dumps(out['within_source_covid_vs_pneumonia'])}")
    return out


def held_out_watch(records, images, masks, sets: dict, prep):
    """A `train_recipe` watch for diagnostics: after each epoch, the held-out separation (AUC and
    best share of both) and each held-out source's share called its own label. It shows when in
    training the model learns the sources rather than the findings; it must never select anything."""
    held_sets = [name for name in sets if name.startswith("held:")]
    index = np.concatenate([sets[name] for name in held_sets]).astype(int)
    held = pool_subset(records, images, masks, index)
    x = pool_inputs(held["images"], held["masks"], prep)

    def watch(model) -> dict:
        probabilities = model.predict(x, batch_size=64, verbose=0)
        row = {}
        for pair, figures in held_out_separation(held["labels"], probabilities).items():
            key = watch_key(pair)
            row[f"watch_{key}_auc"], row[f"watch_{key}_best_both"] = figures["auc"], figures["best_both"]
        called = probabilities.argmax(axis=1)
        for source in sorted(set(held["sources"].tolist())):
            here = held["sources"] == source
            row[f"watch_{source}_called_right"] = float(np.mean(called[here] == held["labels"][here]))
        return row

    return watch


def pool_subset(records, images, masks, idx):
    """The films `idx` of a cached pool as the fit loop takes them: images, masks, labels, sources."""
    return {"images": images[idx], "masks": None if masks is None else masks[idx],
            "labels": np.array([CLASS_LABELS.index(records[i].label) for i in idx], int),
            "sources": np.array([records[i].source for i in idx])}


def subset_inputs(subset, prep):
    """Model inputs of a subset of the cached pool, finished as `prep` says (lung mask, equalisation,
    or the mask as a second channel)."""
    return pool_inputs(subset["images"], subset["masks"], prep)


def predict_subset(model, subset, prep):
    """Probabilities (and the inputs) of a subset of the cached pool, finished as `prep` says."""
    x = subset_inputs(subset, prep)
    if not len(x):  # Keras cannot predict on zero films (e.g. no film of the within-source collection)
        return np.zeros((0, model.outputs[0].shape[-1]), np.float32), x
    return model.predict(x, batch_size=64, verbose=0), x


def lung_model_of(prep, root):
    """The lung model a lung-cropped preprocessing names, from the registry the run writes to."""
    from model.inputs.lungs import LungSegmenter

    return LungSegmenter.load(prep.lung_model, root) if prep.lung_crop else None
