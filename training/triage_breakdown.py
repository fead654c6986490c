"""Who a model's triage answers: its served status on each film of one split, counted by class and by source,
and the answers that carry the caution of copies below the answer level. The figures of RESEARCH.md's "Who
gets answered" table and README's status table.

    python -m training.triage_breakdown --model cxr-mobilenet-v3 --data ../shared/data/cxr/manifest-v2.csv

Films are triaged as `training.fit_scope` assesses them (`assess_records`: the CLI's triage of an unstated
plain film) under the model's stored scope (`scope.json`); nothing is fitted or written.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

from model.runtime import doc_summary
from training.evaluate import add_model_and_data_arguments


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.triage_breakdown", description=doc_summary(__doc__))
    add_model_and_data_arguments(p, split="test")
    return p


def answered_by(rows: list[dict], key: str) -> dict[str, dict[str, int]]:
    """Per value of `key` ("label" or "source"): films, answered (status `answer`), answered and right, answered
    and wrong."""
    groups: dict[str, dict[str, int]] = defaultdict(lambda: {"films": 0, "answered": 0, "right": 0, "wrong": 0})
    for row in rows:
        counts = groups[row[key]]
        counts["films"] += 1
        if row["status"] == "answer":
            counts["answered"] += 1
            counts["right" if row["correct"] else "wrong"] += 1
    return dict(sorted(groups.items()))


def cautioned(rows: list[dict], level: float) -> tuple[list[dict], list[dict]]:
    """The answered films with some copy under the answer `level` (the caution "copies_below_level"), and the
    other answered films."""
    answered = [row for row in rows if row["status"] == "answer"]
    under = [any(copy < level for copy in row["copies"]) for row in answered]
    return ([row for row, low in zip(answered, under) if low], [row for row, low in zip(answered, under) if not low])


def format_breakdown(rows: list[dict], level: float) -> str:
    lines = []
    for key in ("label", "source"):
        lines.append(f"by {key}: films / answered / answered and right / answered and wrong")
        for name, c in answered_by(rows, key).items():
            lines.append(f"  {name}: {c['films']} / {c['answered']} ({c['answered'] / c['films']:.0%}) / "
                         f"{c['right']} ({c['right'] / c['films']:.0%}) / {c['wrong']} ({c['wrong'] / c['films']:.0%})")
    below, others = cautioned(rows, level)
    lines.append(f"answers with copies under the answer level {level:.1%}: {len(below)} of {len(below) + len(others)}, "
                 f"{_right(below)} right; the other answers {_right(others)} right")
    return "\n".join(lines)


def _right(rows: list[dict]) -> str:
    right = sum(row["correct"] for row in rows)
    return f"{right} of {len(rows)} ({right / len(rows):.1%})" if rows else "none"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from model.classifier import Classifier
    from model.inputs.lungs import LungSegmenter
    from model.labelled_data import read_dataset
    from model.registry import RegistryError
    from model.splits import split_records
    from model.trust.scope import read_scope
    from training.fit_scope import assess_records

    try:
        clf = Classifier.load(args.model, args.registry)
        scope = read_scope(clf.card.id, args.registry)
        segmenter = clf.segmenter or LungSegmenter.load(root=args.registry)
        label_map = json.loads(args.label_map.read_text()) if args.label_map else None
        records = [r for r in read_dataset(args.data, label_map) if r.label in clf.labels]
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if scope is None:
        print(f"error: {clf.card.id} has no scope.json (run training.fit_scope first)", file=sys.stderr)
        return 2
    rows = assess_records(clf, split_records(records, clf.card, args.split), scope, segmenter, args.split,
                          lung_fraction=False)
    print(f"{clf.card.id}, {len(rows)} {args.split} films, answer level {scope.min_top_probability:.1%}")
    print(format_breakdown(rows, scope.min_top_probability))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
