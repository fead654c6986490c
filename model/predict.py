"""Classify and explain chest radiographs from the command line.

    python -m model.predict scan.png [more.dcm ...] [--model ID] [--method gradcam]
        [--target CLASS] [--overlay OUT.png] [--heatmap OUT.npy] [--json] [--age YEARS] [--view PA|AP|LL|lateral]

Every image gets a triage status: `answer`, `uncertain` (the answer, with a second read advised)
or `out_of_scope` (not what the model was made for: no answer is given, as on Diagnose, unless
`--show-anyway` asks for the output, then marked `reference_only`), with the reasons as sentences;
`--json` adds "status" and "reasons" beside "prediction" and "probabilities" (null for a film held
back). "prediction" and "probabilities" are the model's output (calibrated where its card has a
temperature) for the image itself, the figure every page shows (mildly changed copies of the image
only measure its stability). `--age` and `--view` state the patient's age and the film's view for
plain images (a DICOM header's own facts win); unstated, the answer is given for an adult frontal
film, and the output says so.

Bad input never stops the run: each unusable image gets one `error:` line on stderr (and, with
`--json`, an object with "status": "error" and the same sentence, so every image has one line), the
others are still processed, and the exit status is 2 if any image failed. Files are read and checked
before TensorFlow is imported (it is imported at the first readable image), so a run whose every
file is refused ends in about a second. The decision-support notice goes to stderr, after the
results, so that stdout holds only results (one JSON object per line with `--json`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.explain import METHODS
from model.policy import MAX_AGE
from model.present.text import DISCLAIMER
from model.runtime import doc_summary


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one `error:` line (argparse prints its usage first)."""

    def error(self, message: str):
        fail(f"{message} (`{self.prog} --help` lists the options).")
        raise SystemExit(2)


def years(value: str) -> int:
    """`--age`: whole years from 0 to `MAX_AGE` (as `Stated` takes them), else one sentence naming the option."""
    try:
        age = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes the age in whole years, not {value!r}") from None
    if not 0 <= age <= MAX_AGE:
        raise argparse.ArgumentTypeError(f"takes an age from 0 to {MAX_AGE} years, not {age}")
    return age


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m model.predict", description=doc_summary(__doc__), epilog=DISCLAIMER)
    p.add_argument("images", nargs="+", type=Path, help="PNG, JPEG, DICOM, TIFF or BMP files")
    p.add_argument("--model", help="registry model id (default: the registry's default model)")
    p.add_argument("--method", default="gradcam", choices=list(METHODS),
                   help="explanation method: " + "; ".join(f"{m.name} ({m.label})" for m in METHODS.values()))
    p.add_argument("--target", help="class to explain, by label or index (default: the predicted class)")
    p.add_argument("--layer", help="layer to explain (default: the model card's)")
    p.add_argument("--overlay", type=Path, help="write the heatmap overlay PNG here (with several images, "
                                                "the image's name is appended)")
    p.add_argument("--heatmap", type=Path, help="write the raw map (model input resolution) as .npy here")
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.add_argument("--show-anyway", action="store_true",
                   help="print the output of out-of-scope films too, marked for reference only (held back otherwise)")
    p.add_argument("--age", type=years, metavar="YEARS",
                   help="the patient's age in whole years (plain images; a DICOM header's age wins); under 18 is "
                        "out of scope")
    p.add_argument("--view", choices=["PA", "AP", "frontal", "LL", "lateral"], type=lambda v: {
        "pa": "PA", "ap": "AP", "ll": "LL"}.get(v.lower(), v.lower()),
                   help="the film's view (plain images; a DICOM header's view wins); a lateral view is out of scope")
    return p


def output_path(template: Path | None, image: Path, several: bool) -> Path | None:
    """The file for one image: the template itself, or with the image's stem appended if several."""
    if template is None or not several:
        return template
    return template.with_name(f"{template.stem}-{image.stem}{template.suffix}")


def parse_target(value: str | None):
    return int(value) if value is not None and value.isdigit() else value


def run_one(models, path: Path, xray, args, several: bool, stated=None) -> dict:
    """Classify, triage (and explain, if an output asks for it) one image read from `path`; returns
    the JSON record. models: (classifier, lung segmenter or None, scope check or None)."""
    clf, segmenter, scope = models
    import cv2
    import numpy as np

    from model.present.overlay import render_overlay
    from model.trust.triage import assess

    mask = segmenter.mask(xray.pixels) if segmenter is not None else None
    # The lung mask is found once and serves the lung crop, the input check and the scope check.
    result = assess(clf, xray, mask, scope, stated)
    model_input, answer = result.model_input, result.prediction
    held_back = result.triage.status == "out_of_scope" and not args.show_anyway
    record = {"image": str(path), "model": clf.card.id, "version": clf.card.version,
              "status": result.triage.status, "reasons": list(result.triage.reasons),
              "assumptions": [finding.sentence for finding in result.triage.assumptions],
              # Said of an answer as Diagnose says it: some test-time copies fall below the model's answer level.
              "cautions": [finding.sentence for finding in result.triage.answer_cautions],
              "prediction": None if held_back else answer.label,
              "confidence": None if held_back else round(answer.confidence, 6),
              "probabilities": None if held_back else {k: round(v, 6) for k, v in answer.as_dict().items()}}
    if result.triage.status == "out_of_scope":
        record["reference_only"] = not held_back
    if not (args.overlay or args.heatmap):
        return record
    if held_back:
        record["map"] = "not written: the film is out of scope (--show-anyway writes it, for reference only)"
        return record
    target = parse_target(args.target)
    _, explanation, on_image = clf.analyse(model_input, args.method, answer.label if target is None else target,
                                           args.layer, predict=False)
    record.update({"method": METHODS[args.method].label, "explained_class": explanation.label,
                   "layer": explanation.layer})
    if heatmap_path := output_path(args.heatmap, path, several):
        with open(heatmap_path, "wb") as handle:  # the name as given (np.save on a path appends ".npy")
            np.save(handle, explanation.heatmap)
        record["heatmap"] = str(heatmap_path)
    if overlay_path := output_path(args.overlay, path, several):
        rgb = render_overlay(xray.pixels, on_image)
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError(f"the overlay could not be encoded as PNG for {overlay_path}")
        overlay_path.write_bytes(encoded.tobytes())
        record["overlay"] = str(overlay_path)
    return record


def load_models(model_id: str):
    """(classifier, lung segmenter, scope check) for triage: the classifier's own lung model, else the
    registry's first (None without one); the entry's scope check (None without one). Imports TensorFlow."""
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()  # TensorFlow's start-up notices are not for users.
    from model.classifier import Classifier
    from model.inputs.lungs import LungSegmenter
    from model.registry import RegistryError
    from model.trust.scope import read_scope

    clf = Classifier.load(model_id)
    segmenter = clf.segmenter
    if segmenter is None:
        try:
            segmenter = LungSegmenter.load()
        except RegistryError:
            segmenter = None
    return clf, segmenter, read_scope(clf.card.id)


def print_record(record: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record), flush=True)
        return
    reasons = "".join(f"\n  - {reason}" for reason in record["reasons"])
    assumed = "".join(f"\n  - {sentence}" for sentence in record["assumptions"])
    probs = ", ".join(f"{k} {v:.1%}" for k, v in (record["probabilities"] or {}).items())
    if record["status"] == "out_of_scope":
        shown = (f"\n  (the model's output, for reference only: {record['prediction']}; {probs})"
                 if record["probabilities"] else "\n  (--show-anyway prints the model's output, for reference only)")
        line = (f"{record['image']}: out of scope, no answer: this image is not what the model was made for "
                f"[model {record['model']}]{reasons}{shown}")
    elif record["status"] == "uncertain":
        line = (f"{record['image']}: {record['prediction']} ({probs}), uncertain: second read advised "
                f"[model {record['model']}]{reasons}{assumed}")
    else:
        cautions = "".join(f"\n  - read with care: {sentence}" for sentence in record.get("cautions") or ())
        line = f"{record['image']}: {record['prediction']} ({probs}) [model {record['model']}]{cautions}{assumed}"
    if "map" in record:
        line += f"\n  map {record['map']}"
    if "method" in record:
        written = [f"{kind} written to {record[kind]}" for kind in ("overlay", "heatmap") if kind in record]
        line += (f"\n  map: {record['method']} of {record['explained_class']} at layer {record['layer']}; "
                 + ", ".join(written))
    print(line, flush=True)


def fail(message: str) -> None:
    """One `error:` line on stderr, whitespace of the message folded into single spaces."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def chosen_card(args):
    """The card of the model to use and the checked `--target`, read without TensorFlow; raises
    `RegistryError` or `ValueError` with a sentence for the terminal."""
    from model.registry import default_model_id, read_card, require_classifier

    card = require_classifier(read_card(args.model or default_model_id()))
    for option, target in (("--overlay", args.overlay), ("--heatmap", args.heatmap)):
        if target is not None and not target.parent.is_dir():
            raise ValueError(f"the folder of {option} ({target.parent}) does not exist.")
        if target is not None and target.is_dir():
            raise ValueError(f"{option} names a folder ({target}); give a file name in it.")
    if args.overlay is not None and args.overlay.suffix.lower() != ".png":
        raise ValueError(f"--overlay writes a PNG: give a name ending in .png, not {args.overlay.name!r}.")
    if args.target is not None and parse_target(args.target) not in (*card.labels, *range(len(card.labels))):
        raise ValueError(f"unknown class {args.target!r}; this model's classes are {', '.join(card.labels)}.")
    return card


def answer(path: Path, xray, args, several: bool, context) -> bool:
    """Print one image's result, or its one `error:` line; whether it was answered.
    context: (the models of `load_models`, what the reader stated about the patient and film)."""
    from model.inputs.intake import XrayInputError
    from model.registry import RegistryError

    try:
        print_record(run_one(*context[:1], path, xray, args, several, context[1]), args.json)
        return True
    except (XrayInputError, RegistryError, ValueError, OSError) as exc:
        refuse(path, str(exc), args.json)
    except Exception as exc:  # noqa: BLE001 - the promise is one line per bad image, never a traceback.
        refuse(path, f"this image could not be processed ({type(exc).__name__}).", args.json)
    return False


def refuse(path: Path, sentence: str, as_json: bool) -> None:
    """One image that could not be answered: its `error:` line, and with `--json` its own object."""
    fail(f"{path}: {sentence}")
    if as_json:
        print(json.dumps({"image": str(path), "status": "error", "error": " ".join(sentence.split())}), flush=True)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from model.inputs.intake import XrayInputError, load_xray
    from model.registry import RegistryError

    try:
        card = chosen_card(args)
    except (RegistryError, ValueError) as exc:
        fail(str(exc))
        return 2
    from model.trust.facts import Stated

    stated = Stated(args.age, args.view)  # --age and --view were checked by the parser
    models, status, answered, several = None, 0, False, len(args.images) > 1
    for path in args.images:
        try:
            xray = load_xray(path)  # Checked before TensorFlow is imported: a refused file costs no model load.
        except XrayInputError as exc:
            refuse(path, str(exc), args.json)
            status = 2
            continue
        if models is None:
            try:
                models = load_models(card.id)
            except (RegistryError, ValueError) as exc:
                fail(str(exc))
                return 2
        if answer(path, xray, args, several, (models, stated)):
            answered = True
        else:
            status = 2
    if answered:
        print(DISCLAIMER, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
