"""Load test: N people analysing N different images at the same moment, against one loaded model.

    python -m benchmarks.loadtest [--sessions 8] [--model ID] [--method gradcam] [--size 1024]

Each session does what a Diagnose page does for a new upload: decode the image bytes (`model.inputs.intake`),
classify, test-time-augmentation uncertainty, and one explanation map. The sessions share one `Classifier`,
as the dashboard's sessions share the one in `st.cache_resource`, and run in threads of one process, as a
Streamlit server does. The report gives per-session latency, whether every session got the result the
model gives its image alone (no mixed-up results), and the process's peak resident memory.

The dashboard itself (AppTest sessions in threads) is exercised by `tests/test_load.py`; this module stays
in the Streamlit-free core.
"""
from __future__ import annotations

import argparse
import io
import resource
import sys
import threading
import time

import numpy as np

from model.explain import METHODS
from model.runtime import doc_summary

DEFAULT_SESSIONS = 8


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def synthetic_upload(seed: int, size: int) -> bytes:
    """PNG bytes of a chest-like image, different for every seed: body, two dark lungs, a lesion, noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.where(((xx - 0.5) / 0.45) ** 2 + ((yy - 0.55) / 0.5) ** 2 < 1, 0.75, 0.1)
    for cx in (0.32, 0.68):
        image = np.where(((xx - cx) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1, 0.25, image)
    row, col = rng.uniform(0.35, 0.65), rng.choice([rng.uniform(0.25, 0.38), rng.uniform(0.62, 0.75)])
    image = np.where((xx - col) ** 2 + (yy - row) ** 2 < 0.05 ** 2, 0.95, image)
    image = np.clip(image + rng.normal(0, 0.03, image.shape), 0, 1)
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def analyse(clf, data: bytes, method: str) -> dict:
    """What one Diagnose session computes for a new upload."""
    from model.inputs.intake import load_xray
    from model.trust.uncertainty import tta_uncertainty

    model_input = clf.prepare(load_xray(data))
    prediction = clf.predict_input(model_input)
    tta_uncertainty(clf, model_input)
    _, explanation, _ = clf.analyse(model_input, method, predict=False)
    return {"probabilities": np.asarray(prediction.probabilities), "heatmap": explanation.heatmap}


def run_sessions(clf, uploads: list[bytes], method: str) -> list[dict]:
    """Every upload analysed in its own thread, all released at once; each result with its latency."""
    results: list[dict] = [{} for _ in uploads]
    start = threading.Barrier(len(uploads))

    def session(i: int) -> None:
        start.wait()
        began = time.perf_counter()
        try:
            results[i] = analyse(clf, uploads[i], method)
        except Exception as exc:  # noqa: BLE001 - a failed session is reported, not fatal to the others
            results[i] = {"error": f"{type(exc).__name__}: {exc}"}
        results[i]["seconds"] = time.perf_counter() - began

    threads = [threading.Thread(target=session, args=(i,), name=f"session-{i}") for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def check_results(clf, uploads: list[bytes], results: list[dict], method: str) -> list[str]:
    """Sessions whose result differs from the same image analysed alone (mixed-up or failed)."""
    problems = []
    for i, (data, result) in enumerate(zip(uploads, results)):
        if "error" in result:
            problems.append(f"session {i} failed: {result['error']}")
            continue
        alone = analyse(clf, data, method)
        if not np.allclose(result["probabilities"], alone["probabilities"], atol=1e-5):
            problems.append(f"session {i}: probabilities differ from the image analysed alone")
        if not np.allclose(result["heatmap"], alone["heatmap"], atol=1e-4):
            problems.append(f"session {i}: the {method} map differs from the image analysed alone")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtest", description=doc_summary(__doc__))
    parser.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS, help="simultaneous sessions")
    parser.add_argument("--model", help="registry model id (default: the registry's default model)")
    parser.add_argument("--method", default="gradcam", choices=list(METHODS))
    parser.add_argument("--size", type=int, default=1024, help="side of the synthetic uploads in pixels")
    args = parser.parse_args(argv)
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")

    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from model.classifier import Classifier
    baseline = peak_rss_mb()
    began = time.perf_counter()
    clf = Classifier.load(args.model)  # once, shared by every session
    load_seconds = time.perf_counter() - began
    uploads = [synthetic_upload(seed, args.size) for seed in range(args.sessions)]
    analyse(clf, uploads[0], args.method)  # warm-up: the first call builds the explainer and traces graphs
    warm = peak_rss_mb()
    began = time.perf_counter()
    results = run_sessions(clf, uploads, args.method)
    wall = time.perf_counter() - began
    peak = peak_rss_mb()
    problems = check_results(clf, uploads, results, args.method)

    latencies = np.array([r["seconds"] for r in results])
    print(f"model {clf.card.id} ({args.method}), {args.sessions} simultaneous sessions, "
          f"{args.size} x {args.size} px uploads")
    print(f"model load: {load_seconds:.1f} s (once per process)")
    for i, result in enumerate(results):
        print(f"  session {i}: {result['seconds']:.2f} s" + (f"  FAILED {result['error']}" if "error" in result else ""))
    print(f"latency per session: median {np.median(latencies):.2f} s, max {latencies.max():.2f} s; "
          f"all sessions done in {wall:.2f} s")
    print(f"peak resident memory: {peak:.0f} MB (before loading the model {baseline:.0f} MB, "
          f"after loading and one warm-up session {warm:.0f} MB)")
    print("results: every session matches its image analysed alone" if not problems else "\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
