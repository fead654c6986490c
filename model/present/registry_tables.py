"""The About page's tables: the registry's entries side by side and the data sources they name."""
from __future__ import annotations

import pandas as pd

from model.present import text
from model.registry import CLASSIFIER, LUNG_SEGMENTATION, ModelCard

# The shared training pool (../shared/data/cxr); cards name their sources by these ids.
KNOWN_SOURCES = {
    "covid-cxnet": ("COVID-CXNet collection (figshare 10.6084/m9.figshare.12580328)", "CC BY 4.0"),
    "ieee8023-covid-chestxray": ("COVID-19 image data collection (Cohen et al., 2020)",
                                 "per-image licence, listed in the data manifest"),
    "nih-chestxray14": ("NIH ChestX-ray14 subset (Wang et al., 2017)", "public domain"),
    "covid-radiography-db": ("COVID-19 class of the COVID-19 Radiography Database v4 (Chowdhury et al., 2020; "
                             "Rahman et al., 2021), mostly BIMCV-COVID19+", "per its sources (research use)"),
    "openist-normal": ("normal PA films of a radiology teaching set, re-hosted by the OpenIST project",
                       "licence unstated (research use)"),
    # the lung segmenter's training pairs (../shared/data/lung-masks)
    "covid-chestxray-dataset / lungVAE masks": ("films of the COVID-19 image data collection (Cohen et al., 2020) "
                                                "with the lungVAE lung masks (Selvan et al., 2020, made by a model)",
                                                "per-image licence, listed in the collection's metadata"),
}

NOT_APPLICABLE = "–"


def _figure(value, form) -> str:
    """A card figure as the side panel and Performance show it (`form`: `text.percent` or `text.number`)."""
    return NOT_APPLICABLE if value is None else form(value)


def _tested_on(card: ModelCard) -> str:
    """A classifier's test films; a lung segmenter's films and its Dice overlap (it has no accuracy or AUC)."""
    metrics = card.metrics or {}
    if card.kind == LUNG_SEGMENTATION and metrics.get("dice_mean") is not None:
        films = f"{metrics['n']} films, " if metrics.get("n") else ""
        return f"{films}lung overlap (Dice) {metrics['dice_mean']:.2f}"
    return text.test_set_summary(card)


def models_table(cards: list[ModelCard]) -> pd.DataFrame:
    """One row per registry entry, what a reader compares first on the left. Every cell is text, for a
    table that wraps rather than cuts its long cells (the architecture of a two-channel version is a
    sentence): figures as the side panel gives them (accuracy 62.4%, macro AUC 0.803), "yes" for the
    default, "–" where a figure does not apply (a lung segmenter has no accuracy or macro AUC: its
    'tested on' gives its own figure). The sources each entry trained on are the sources table's."""
    return pd.DataFrame([{
        "model": card.display_name, "default": "yes" if card.default else "", "version": card.version,
        "accuracy": _figure((card.metrics or {}).get("accuracy"), text.percent),
        "macro AUC": _figure((card.metrics or {}).get("macro_auc"), text.number),
        "tested on": _tested_on(card), "created": card.created[:10], "id": card.id,
        "kind": card.kind.replace("_", " "), "architecture": card.architecture,
    } for card in cards])


def sources_table(cards: list[ModelCard], between: str = "; ") -> pd.DataFrame:
    """Every source named by a card (and the shared pool's), with its origin, its licence and the models that
    trained on it (`_users`)."""
    sources = [source for card in cards for source in (card.training or {}).get("sources") or []]
    names = list(KNOWN_SOURCES) + [s for s in dict.fromkeys(sources) if s not in KNOWN_SOURCES]
    return pd.DataFrame([{"source": name,
                          "origin": KNOWN_SOURCES.get(name, ("not a known public collection", ""))[0],
                          "licence": KNOWN_SOURCES.get(name, ("", "see the model card"))[1],
                          "used by": _users(cards, name, between)}
                         for name in names])


def _users(cards: list[ModelCard], source: str, between: str) -> str:
    """The models that trained on `source`, by their display names (the models table's first column: ids broke at
    their hyphens at 1366 px), `between` each two ("; ": a display name may hold a comma; a markdown table may
    put each on its own line); "all 8 classifiers" when every classifier of three or more did."""
    users = [card for card in cards if source in ((card.training or {}).get("sources") or [])]
    classifiers = [card for card in cards if card.kind == CLASSIFIER]
    if len(classifiers) > 2 and {card.id for card in classifiers} <= {card.id for card in users}:
        others = [card.display_name for card in users if card.kind != CLASSIFIER]
        return between.join([f"all {len(classifiers)} classifiers", *others])
    return between.join(card.display_name for card in users) or "no model in this registry"


def default_selection(cards, n: int) -> list[str]:
    """The versions a comparison opens on: the default first, then the newest others (by their cards'
    `created`), `n` in all; the default is usually compared with the version it replaced."""
    defaults = [card for card in cards if card.default]
    others = sorted((card for card in cards if not card.default), key=lambda card: card.created or "", reverse=True)
    return [card.id for card in (defaults + others)[:n]]
