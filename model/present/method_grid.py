"""Every explanation method's map of one film side by side: what each measures, and how far they
agree, in figures and plain words.

    agreement = method_agreement(maps)                    # model.trust.agreement, {method: map}
    summary = summarise_agreement(agreement)
    summary.mean, summary.closest, summary.furthest       # over the distinct maps: +0.12, ("gradcam", "scorecam", 0.41), ...
    table = agreement_matrix(agreement, labels)           # methods x methods, 1.0 on the diagonal, NaN: a blank map
    method_lines(METHODS)                                 # {label: what it measures}
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.policy import LOW_AGREEMENT, MODERATE_AGREEMENT, SAME_MAP
from model.trust.agreement import pair_methods

# Words for a map similarity (Spearman rank correlation), from the highest lower bound down. The map checks
# caution below LOW_AGREEMENT, exactly where the words turn to "little agreement": a similarity never reads
# as agreement in one place and raises a caution in another.
AGREEMENT_WORDS = ((0.7, "strong agreement"), (MODERATE_AGREEMENT, "moderate agreement"), (LOW_AGREEMENT, "weak agreement"),
                   (0.1, "little agreement"), (-0.1, "unrelated"), (-0.4, "weakly opposite"),
                   (-np.inf, "opposite rankings"))
AGREEING = MODERATE_AGREEMENT  # Pairs at or above this similarity are counted as agreeing.
# Pairs at or above SAME_MAP (`model.policy`) are the same map (e.g. Grad-CAM++ and LayerCAM at a layer the model
# reads out linearly, where both weigh each channel by its positive gradient): one map, not two methods agreeing.
SCALE = "1 = the same ranking of the film's regions, 0 = unrelated, below 0 = opposite"


def agreement_word(similarity: float) -> str:
    """The words for one map similarity (see `AGREEMENT_WORDS`)."""
    value = float(similarity)
    if not np.isfinite(value) or not -1.0 - 1e-9 <= value <= 1.0 + 1e-9:
        raise ValueError(f"a map similarity lies in [-1, 1], got {similarity!r}")
    return next(word for bound, word in AGREEMENT_WORDS if value >= bound)


@dataclass(frozen=True)
class AgreementSummary:
    """How far several methods' maps of one film agree: a description of all the maps, not a check of the
    one being read (that is `model.trust.map_checks.compare_shown_map`'s).

    Attributes:
        mean: mean similarity over the pairs of distinct maps, each map identical to another (`same`) counted once;
            None when no pair was measured (blank maps).
        closest, furthest: (method, method, similarity) of the most and least alike of those pairs (None: none).
        agreeing: those pairs at or above `AGREEING`; pairs: all those pairs; maps: the distinct maps.
        same: the pairs that give the same map (at or above `SAME_MAP`), counted once above.
        blank: the methods whose maps are blank (`model.trust.agreement.ranks_nothing`): in no pair, no figure.
    """

    mean: float | None
    closest: tuple[str, str, float] | None
    furthest: tuple[str, str, float] | None
    agreeing: int
    pairs: int
    maps: int
    same: tuple[tuple[str, str], ...] = ()
    blank: tuple[str, ...] = ()


def summarise_agreement(agreement) -> AgreementSummary:
    """The `AgreementSummary` of a `model.trust.agreement.Agreement` (two or more maps); when every map is
    the same one, its pairs are all there is to describe. A blank map's pairs are not measured: left out of
    every figure and count, and named in `blank`."""
    if not agreement.pairs:
        raise ValueError("an agreement needs at least one pair of maps")
    measured = {name: rho for name, rho in agreement.pairs.items() if rho is not None}
    kept = {group[0] for group in agreement.distinct(SAME_MAP)} - set(agreement.blank)
    distinct = {name: rho for name, rho in measured.items() if set(pair_methods(name)) <= kept}
    ranked = sorted((distinct or measured).items(), key=lambda item: item[1])
    if not ranked:
        return AgreementSummary(None, None, None, 0, 0, len(kept), blank=tuple(agreement.blank))
    (low_name, low), (high_name, high) = ranked[0], ranked[-1]
    return AgreementSummary(float(np.mean([rho for _, rho in ranked])), (*pair_methods(high_name), float(high)),
                            (*pair_methods(low_name), float(low)), sum(rho >= AGREEING for _, rho in ranked), len(ranked),
                            len(kept), tuple(pair_methods(name) for name, rho in measured.items() if rho >= SAME_MAP),
                            tuple(agreement.blank))


def same_map_sentence(summary: AgreementSummary, labels: dict[str, str] | None = None) -> str:
    """A sentence naming the pairs of methods that ranked this film's regions the same way ("" when none
    did): their agreement is better read as one map than as independent support."""
    if not summary.same:
        return ""
    named = [" and ".join((labels or {}).get(m, m) for m in pair) for pair in summary.same]
    return (f"{'; '.join(named)} rank this film's regions (almost) identically, as two methods computing the same "
            f"map do at a layer the model reads out directly: read {'that pair' if len(named) == 1 else 'each such pair'} "
            "as one map, not as two methods agreeing.")


def blank_maps_sentence(summary: AgreementSummary, labels: dict[str, str] | None = None) -> str:
    """A sentence naming the methods whose maps are blank ("" when none is): their pairs are not measured and
    left out of the summary's figures (a blank map ranks no region; its pairs read 0.00, "unrelated")."""
    if not summary.blank:
        return ""
    names = " and ".join((labels or {}).get(m, m) for m in summary.blank)
    one = len(summary.blank) == 1
    return (f"{names}'s map is blank" if one else f"The maps of {names} are blank") + (
        ": it ranks no region, so its pairs are not measured" if one
        else ": they rank no region, so their pairs are not measured") + (
        " and left out of these figures." if summary.pairs else ", and no pair of maps is left to compare.")


def agreement_matrix(agreement, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Methods x methods similarity table (1.0 on the diagonal), rows and columns named by `labels`
    ({method: label}) where given, in the order the methods were compared; NaN where a pair was not measured
    (a blank map, its diagonal too: it is not even the same as itself), printed as `NOT_MEASURED`."""
    names = agreement.methods
    values = np.eye(len(names))
    for pair, rho in agreement.pairs.items():
        first, second = pair_methods(pair)
        i, j = names.index(first), names.index(second)
        values[i, j] = values[j, i] = np.nan if rho is None else rho
    for name in agreement.blank:
        values[names.index(name), names.index(name)] = np.nan
    shown = [(labels or {}).get(name, name) for name in names]
    return pd.DataFrame(values, index=shown, columns=shown)


def matrix_text(table: pd.DataFrame) -> pd.DataFrame:
    """An `agreement_matrix` as printed: each figure as the sentences print it (`similarity_text`: no sign on a
    figure that rounds to zero), a pair not measured (NaN: a blank map) as `BLANK_CELL`, never 0.00. Text, as a
    table cell shows a missing value as "None" whatever a Styler's na_rep says."""
    from model.trust.agreement import BLANK_CELL
    from model.trust.map_checks import similarity_text

    return table.map(lambda rho: BLANK_CELL if np.isnan(rho) else similarity_text(rho))


def method_lines(methods: dict) -> dict[str, str]:
    """{label: one line on what the method measures} of a method registry (`model.explain.METHODS`)."""
    return {record.label: record.summary for record in methods.values()}
