"""Print serving speed and memory for registry models (a benchmark, not a test: figures, no verdicts).

    python -m model.benchmark [--model ID ...] [--repeats 5] [--image PATH]

For each model: load time, first (cold) and warm time from image bytes to probabilities plus a
Grad-CAM map (what the Diagnose page does on upload), each explanation method's warm time, and
the process's peak resident memory. The dashboard's goal is a warm response under 2 s on a
2-core CPU for the default model.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports kilobytes.


def _timed(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def _sample_bytes(path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes()
    import cv2
    import numpy as np

    # A synthetic 1024x1024 film-like image, so the benchmark needs no patient data.
    yy, xx = np.mgrid[0:1024, 0:1024] / 1024.0
    image = 0.7 - 0.45 * ((((xx - 0.32) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1)
                          | (((xx - 0.68) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1))
    return cv2.imencode(".png", (image * 255).astype(np.uint8))[1].tobytes()


def benchmark_model(model_id: str, data: bytes, repeats: int) -> None:
    from model.classifier import Classifier
    from model.explain import METHODS
    from model.intake import load_xray
    from model.preprocessing import _LUNG_BOXES

    start = time.perf_counter()
    clf = Classifier.load(model_id)
    print(f"\n{model_id} ({clf.card.display_name}, version {clf.card.version})")
    print(f"  load                         {time.perf_counter() - start:7.2f} s")

    def upload_to_gradcam():
        _LUNG_BOXES.clear()  # A new upload has no remembered lung box: time its segmentation too.
        xray = load_xray(data)
        clf.predict_xray(xray)
        clf.explain_xray(xray, "gradcam")

    cold, _ = _timed(upload_to_gradcam, 1)
    print(f"  upload -> probs + Grad-CAM   {cold:7.2f} s cold (builds the explainer)")
    warm, worst = _timed(upload_to_gradcam, repeats)
    print(f"  upload -> probs + Grad-CAM   {warm:7.2f} s warm median, {worst:.2f} s worst of {repeats}"
          f"  [goal < 2 s: {'met' if warm < 2 else 'NOT met'}]")
    model_input = clf.prepare(load_xray(data).pixels)
    for method in METHODS:
        clf.explain_input(model_input, method)  # build once
        median, _ = _timed(lambda: clf.explain_input(model_input, method), max(1, repeats // 2))
        print(f"  {method:<12} warm             {median:7.2f} s")
    print(f"  peak resident memory so far  {_peak_rss_mb():7.0f} MB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model id (repeatable; default: all classifiers)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image", type=Path, help="image to use (default: a synthetic 1024x1024 PNG)")
    args = parser.parse_args(argv)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from model.registry import list_cards

    data = _sample_bytes(args.image)
    print(f"image: {args.image or 'synthetic 1024x1024 PNG'} ({len(data) / 1024:.0f} kB)")
    for model_id in args.model or [card.id for card in list_cards()]:
        benchmark_model(model_id, data, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
