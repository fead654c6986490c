"""Wording shared by the dashboard, the reports and the CLI: plain sentences and number formats.

Streamlit-free, so every sentence a page shows can be tested without a browser.
"""
from __future__ import annotations

from model.registry import ModelCard

DISCLAIMER = "Decision support for research and teaching, not a diagnosis."
NO_LUNG_MODEL = "Lung attention unavailable: no lung segmentation model in the registry."


def card_label(card: ModelCard) -> str:
    return f"{card.display_name} · v{card.version}"


def percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def explanation_report_command(model_id: str) -> str:
    return f"python -m training.explanation_report --model {model_id} --data ../shared/data/cxr"


def trust_notes(warnings=(), tta=None, attention=None, lungs_reason: str = "", faith=None, agreement=None,
                method_label: str = "map", method_labels: dict | None = None) -> list[str]:
    """The trust findings as plain sentences for the PNG/PDF report's notes.

    Args:
        warnings: input-check sentences.
        tta: `model.trust.uncertainty.Uncertainty`, or None.
        attention: `model.trust.attention.LungAttention`, or None.
        lungs_reason: why lung attention is unavailable, when it is.
        faith: `model.trust.faithfulness.Faithfulness`, or None.
        agreement: `model.trust.agreement.Agreement`, or None.
        method_label: what the explained map is called ("Grad-CAM").
        method_labels: {method name: label}, to name the methods an agreement compared.
    """
    notes = [f"Input check: {warning}" for warning in warnings]
    if tta:
        spread = tta.std[tta.top_label]
        line = (f"Test-time augmentation ({tta.n} slightly shifted, rotated or re-exposed copies): "
                f"{tta.top_label} {tta.top_probability:.1%} ± {spread:.1%}; "
                f"{tta.agreement:.0%} of the copies give that class.")
        notes.append(f"{line} {tta.message}" if tta.uncertain else line)
    if attention:
        line = f"{attention.fraction:.0%} of the {method_label} map lies inside the lung fields."
        notes.append(f"{line} {attention.warning}" if attention.low else line)
    elif lungs_reason:
        notes.append(lungs_reason)
    if faith:
        notes.append(f"Faithfulness: {faith.summary}")
    if agreement:
        names = [(method_labels or {}).get(m, m) for m in agreement.methods]
        notes.append(f"Agreement between {', '.join(names)} (mean Spearman of the maps): {agreement.mean:+.2f}.")
    return notes


def preprocessing_summary(card: ModelCard) -> str:
    """One line on how a card's images are prepared: what a reader asks when versions differ."""
    prep = card.prep
    parts = [f"{prep.image_size} px", prep.resize]
    if prep.lung_crop:
        parts.append(f"cropped to the lung fields ({prep.lung_model}, margin {prep.lung_margin:.0%})")
    elif prep.border_crop:
        parts.append(f"{prep.border_crop:.0%} border crop")
    if prep.equalize != "none":
        parts.append(prep.equalize.upper())
    return ", ".join(parts)


STABLE_SPREAD = 0.1  # A standard deviation of the top class (over the test-time copies) from which it is "unstable".


def confidence_words(tta) -> tuple[str, bool, str]:
    """One confidence figure in plain words, from `model.trust.uncertainty.Uncertainty`:
    (the mean probability of the top class over the copies as "59.0%", stable?, one sentence).

    "Unstable" only when the uncertainty rules themselves fired (the triage then says uncertain);
    a wide spread under which the answer holds "varies", which is information, not a warning."""
    spread = tta.std[tta.top_label]
    stable = spread < STABLE_SPREAD and not tta.uncertain
    figure = f"{tta.top_probability:.1%}"
    word = "Stable" if stable else ("Unstable" if tta.uncertain else "Varies")
    how = (f"{word}: it moves by ±{100 * spread:.1f} points between {tta.n} slightly shifted, rotated or "
           f"re-exposed copies of the film" if stable else
           f"{word}: it moves by ±{100 * spread:.1f} points between {tta.n} slightly changed copies of the "
           f"film, and {tta.agreement:.0%} of them give {tta.top_label}")
    return figure, stable, how + "."


def case_id(image_digest: str) -> str:
    """A case identifier that is not patient data: the first 8 hex digits of the image's SHA-256."""
    return image_digest[:8]
