"""Print what the test-time copies cost the case gallery's read, and how many cards they change (figures, no verdicts).

    CXR_DATA=/work/shared/data/cxr python -m benchmarks.gallery_copies [--model ID] [--per-label 24 40]

For the gallery's default choice (test split and unseen sources, every source and label, `--per-label` films per
label, in the page's `reading_order`), each film is read by `read_case` as the page reads it (Diagnose's `assess`:
the film and its test-time copies in one batch, the input and anatomy checks; then the Grad-CAM map of the answer
and its lung share) and, apart, its copies are scored again by the same call (`tta_uncertainty` of the film's model
input at the model's `answer_levels`: eight readings in one batch), to time the part they take. Printed: the
seconds of the whole read and of its first `FIRST_READ` cards (the page draws those while it reads the rest), the
copies' part of them, and how many cards are a second read for the copies' rules alone (without the copies those
cards were marked as answers). The graphs are traced before the clock starts (one film read), so the figures are
those of a warm server.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter

from model.runtime import doc_summary

COPIES_RULES = {"copies_disagree", "many_copies_below"}  # the triage's rules that read the test-time copies


def load(model_id: str | None):
    """(classifier, scope or None, lung mask function, records of the gallery's default choice, their splits)."""
    from model.classifier import Classifier
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import data_roots, read_dataset, records_within
    from model.present.gallery_cases import data_location, gallery_records
    from model.registry import RegistryError, default_model_id
    from model.trust.scope import read_scope

    location = data_location()
    if location is None:
        raise SystemExit("No labelled data: set CXR_DATA.")
    model_id = model_id or default_model_id()
    clf = Classifier.load(model_id)
    try:
        scope = read_scope(model_id)
    except RegistryError:  # a damaged scope file: read as a model without one, as the page does
        scope = None
    lungs = clf.segmenter.mask if clf.segmenter is not None else LungSegmenter.load(clf.card.prep.lung_model).mask
    records = records_within(read_dataset(location, keep_unknown=True), data_roots())[0]
    pool, splits, _ = gallery_records(records, clf.card, "test")
    return clf, scope, lungs, pool, splits


def read_one(clf, scope, lungs, record, split: str) -> tuple[float, float, str, bool]:
    """(seconds of `read_case`, seconds of its copies' batch, the card's status, whether only the copies' rules set
    it) of one film."""
    from model.inputs.intake import load_xray
    from model.present.gallery_cases import read_case
    from model.trust.triage import answer_levels
    from model.trust.uncertainty import tta_uncertainty

    options = {"scope": scope, "low_threshold": scope.lung_attention_threshold} if scope else {}
    start = time.perf_counter()
    case = read_case(clf, record, split=split, lungs=lungs, **options)
    card = time.perf_counter() - start
    pixels = load_xray(record.path).pixels  # outside the clock: read_case has decoded and segmented it already
    model_input = clf.prepare(pixels, lungs(pixels))
    start = time.perf_counter()
    tta_uncertainty(clf, model_input, **answer_levels(scope))
    copies = time.perf_counter() - start
    kinds = {f.kind for f in case.triage.deciding}
    return card, copies, case.triage.status, bool(kinds) and kinds <= COPIES_RULES


def measure(clf, scope, lungs, records: list, splits: dict) -> list[tuple[float, float, str, str]]:
    """`read_one` of every record that can be read, in order."""
    from model.inputs.intake import XrayInputError

    rows = []
    for record in records:
        try:
            rows.append(read_one(clf, scope, lungs, record, splits.get(str(record.path), "")))
        except (XrayInputError, OSError):
            continue
    return rows


def report(rows: list[tuple[float, float, str, bool]], per_label: int, first: int) -> None:
    cards, copies = [r[0] for r in rows], [r[1] for r in rows]
    print(f"\n{per_label} per label: {len(rows)} films read")
    print(f"  whole read:  {sum(cards):6.1f} s, of which the copies' batches {sum(copies):5.1f} s "
          f"({sum(copies) / sum(cards):.0%}; without them {sum(cards) - sum(copies):5.1f} s)")
    head = rows[:first]
    print(f"  first {first}:     {sum(r[0] for r in head):6.1f} s, of which the copies' batches "
          f"{sum(r[1] for r in head):5.1f} s")
    print(f"  per film (median): {statistics.median(cards) * 1000:4.0f} ms, the copies' batch "
          f"{statistics.median(copies) * 1000:4.0f} ms")
    print(f"  statuses: {dict(sorted(Counter(r[2] for r in rows).items()))}; second reads set by the copies' "
          f"rules alone (answers without the copies): {sum(r[3] for r in rows)}")


def main(argv=None) -> int:
    from model.present.gallery_cases import FIRST_READ, reading_order, sample_records

    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument("--model", default=None, help="registry id (default: the registry's default model)")
    parser.add_argument("--per-label", type=int, nargs="+", default=[24, 40],
                        help="films per label of each read (the page's default is 24)")
    args = parser.parse_args(argv)
    clf, scope, lungs, pool, splits = load(args.model)
    print(f"model {clf.card.id}; scope check: {'yes' if scope else 'no'}"
          + (f" (max_copies_below {scope.max_copies_below})" if scope else "") + f"; pool {len(pool)} films")
    measure(clf, scope, lungs, pool[:1], splits)  # trace the graphs (one pass, a batch of eight) before the clock
    for per_label in args.per_label:
        wanted = reading_order(sample_records(pool, per_label, seed=0))
        report(measure(clf, scope, lungs, wanted, splits), per_label, FIRST_READ)
    return 0


if __name__ == "__main__":
    sys.exit(main())
