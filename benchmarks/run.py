"""Print the serving, dashboard and training speed of this machine (a benchmark: figures, no verdicts).

    python -m benchmarks.run [--model ID] [--repeats 20] [--image PATH] [--skip-serving] [--skip-dashboard]
        [--skip-training] [--skip-cli] [--skip-gallery]

Every figure is the median over repeated runs. Each warm figure is also given as a multiple of
the model's own bare forward pass (one image through the traced graph) measured in the same run,
so runs on different machines compare. The goals are those of the performance issue for a
2-core CPU; a figure that misses one is marked, not hidden.

Sections: model load; bare forward pass; single-image prediction; batch throughput; prediction
plus Grad-CAM in one pass; each explanation method with its explainer built; explainer build;
dashboard cold start, first load (page requested -> uploader and upload prompt drawn) and warm
upload-to-heatmap in headless Chromium (Debian's /usr/bin/chromium through Playwright), with the
dashboard process's peak resident memory; the command line from process start to exit (refusing an
empty file, and classifying one image); the case gallery's first load on real data (`CXR_DATA`; skipped with
a line without it); and training throughput per architecture on synthetic arrays through the real `tf.data`
pipeline.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from model.runtime import doc_summary

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
BATCH_SIZE = 32
FIRST_UPLOAD_DELAY = 10.0  # seconds between the page appearing and the first upload


class Table:
    """Rows of (what, median seconds or a figure, unit, ratio to the bare forward pass, goal)."""

    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []
        self.forward: float | None = None

    def time(self, what: str, seconds: float, goal: str = "", ratio: bool = True) -> None:
        times = f"{seconds / self.forward:6.1f}x" if ratio and self.forward else ""
        shown = f"{seconds * 1000:8.1f} ms" if seconds < 1 else f"{seconds:8.2f} s "
        self.rows.append((what, shown, times, goal))
        print(f"  {what:<52} {shown} {times:>8}  {goal}", flush=True)

    def figure(self, what: str, value: str, goal: str = "") -> None:
        self.rows.append((what, value, "", goal))
        print(f"  {what:<52} {value:>11} {'':>8}  {goal}", flush=True)


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def goal(seconds: float, limit: float, text: str) -> str:
    return f"goal {text}: {'met' if seconds <= limit else 'NOT met'}"


def synthetic_png(seed: int = 0, size: int = 1024) -> bytes:
    """A film-like synthetic chest image (two dark lung fields, noise), so no patient data is needed."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    lungs = (((xx - 0.32) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1) | \
            (((xx - 0.68) / 0.14) ** 2 + ((yy - 0.5) / 0.3) ** 2 < 1)
    image = 0.75 - 0.45 * lungs + rng.normal(0, 0.03, (size, size)) + 0.05 * rng.random() * yy
    return cv2.imencode(".png", np.clip(image * 255, 0, 255).astype(np.uint8))[1].tobytes()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = re.findall(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = names[0].strip() if names else cpu
    except OSError:
        pass
    import tensorflow as tf

    return (f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, "
            f"TensorFlow {tf.__version__}, {platform.system()} {platform.release()}")


# --------------------------------------------------------------------------------------------- serving

def serving(table: Table, model_id: str | None, data: bytes, repeats: int) -> None:
    import tensorflow as tf

    from model.classifier import Classifier
    from model.explain import METHODS
    from model.explain.explainers import ExplainerSet
    from model.inputs.intake import load_xray
    from model.registry import default_model_id, load_model, read_card

    model_id = model_id or default_model_id()
    card = read_card(model_id)
    clf = Classifier.load(model_id)
    print(f"\nmodel {model_id} ({card.display_name}), input {card.input_size} px, "
          f"explain layer {card.explain_layer}, {clf.model.count_params():,} parameters")
    xray = load_xray(data)
    x = clf.prepare(xray.pixels).array
    batch = x[None].astype(np.float32)

    # The reference: one image through the model's own traced graph, nothing else.
    forward = tf.function(lambda v: clf.model(v, training=False),
                          input_signature=[tf.TensorSpec((None, *batch.shape[1:]), tf.float32)])
    table.forward = median_time(lambda: forward(batch).numpy(), repeats * 3, warmup=3)
    table.time("bare forward pass (1 image, traced graph)", table.forward)
    table.time("eager model(x) call, for contrast", median_time(lambda: clf.model(batch, training=False).numpy(),
                                                                 repeats))

    table.time("model load (Classifier.load)", median_time(lambda: Classifier.load(model_id), 3, warmup=0),
               ratio=False)
    table.time("  of which keras load_model (safe_mode)", median_time(lambda: load_model(model_id), 3, warmup=0),
               ratio=False)

    predict = median_time(lambda: clf.predict_inputs(batch), repeats * 2, warmup=2)
    table.time("single-image prediction (model input -> probabilities)", predict)

    def from_bytes():
        clf.predict_xray(load_xray(data))  # nothing remembered: lung-cropped models segment every time

    table.time("single-image prediction from file bytes (decode, preprocess)", median_time(from_bytes, repeats))

    many = np.repeat(batch, BATCH_SIZE * 4, axis=0)
    seconds = median_time(lambda: clf.predict_inputs(many, BATCH_SIZE), max(3, repeats // 4))
    rate = len(many) / seconds
    table.figure(f"batch prediction throughput (batch {BATCH_SIZE})", f"{rate:7.0f} img/s",
                 f"goal >= 50 img/s: {'met' if rate >= 50 else 'NOT met'}")

    one_pass = median_time(lambda: clf.analyse_input(x, "gradcam"), repeats * 2, warmup=2)
    table.time("prediction + Grad-CAM (one pass, model input)", one_pass,
               goal(one_pass, 0.150, "< 150 ms") + f", {'within' if one_pass <= 3 * table.forward else 'NOT within'}"
               f" 3 forward passes")

    def upload():
        clf.analyse(clf.prepare(load_xray(data)), "gradcam")

    table.time("prediction + Grad-CAM from file bytes (new upload)", median_time(upload, repeats))

    for method, record in METHODS.items():
        clf.explain_input(x, method)  # build and trace once
        seconds = median_time(lambda method=method: clf.explain_input(x, method, target=0),
                              max(3, repeats // 4) if record.slow else repeats)
        table.time(f"{record.label} map (explainer built)", seconds, goal(seconds, 3.0, "< 3 s") if record.slow else "")
    reference = median_time(lambda: clf.explain_input(x, "gradcam", target=0, reference=True), max(3, repeats // 4))
    table.time("Grad-CAM through tf-keras-vis's own call, for contrast", reference)

    def build(method):
        def run():
            ExplainerSet(clf.model).explain(x, method, 0, card.explain_layer)
        return run

    for method in ("gradcam", "scorecam"):
        table.time(f"build {METHODS[method].label} explainer (clone, trace, first map)",
                   median_time(build(method), 3, warmup=0), ratio=False)
    import keras

    def after_clear_session():
        # What Streamlit does after every script run unless dashboard/common.py stops it.
        keras.backend.clear_session()
        start = time.perf_counter()
        clf.predict_inputs(batch)
        return time.perf_counter() - start

    table.time("prediction right after keras clear_session() (kernel cache emptied)",
               statistics.median(after_clear_session() for _ in range(3)))
    table.figure("peak resident memory of this process",
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MB")


# ------------------------------------------------------------------------------------------- dashboard

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def dashboard(table: Table, uploads: int) -> None:
    """Cold start and warm upload-to-heatmap of a real `streamlit run` server in headless Chromium."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        print("  dashboard: skipped (playwright is not installed: pip install -r requirements-dev.txt)")
        return
    if not CHROMIUM.exists():
        print("  dashboard: skipped (Debian chromium is not installed at /usr/bin/chromium)")
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    folder = Path(tempfile.mkdtemp(prefix="cxr-bench-"))
    files = []
    for seed in range(uploads + 1):
        files.append(folder / f"upload{seed}.png")
        files[-1].write_bytes(synthetic_png(seed + 1))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        expect.set_options(timeout=180_000)
        page.set_default_timeout(180_000)
        started = time.perf_counter()
        log = (folder / "streamlit.log").open("wb")
        server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.perf_counter() - started > 180:
                        raise RuntimeError("the dashboard did not start; see " + str(folder / "streamlit.log")) from None
                    time.sleep(0.1)
            healthy = time.perf_counter() - started
            page.goto(url)
            expect(page.locator('[data-testid="stFileUploaderDropzone"]').first).to_be_visible()
            uploader = time.perf_counter() - started - healthy
            expect(page.get_by_text("Upload a frontal chest radiograph").first).to_be_visible()
            prompt = time.perf_counter() - started - healthy
            expect(page.get_by_role("heading", name="Diagnose & explain")).to_be_visible()
            expect(page.locator("input[type=file]").first).to_be_attached()
            expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
            cold = time.perf_counter() - started
            table.time("dashboard: process start -> server answers", healthy, ratio=False)
            table.time("dashboard first load: page requested -> uploader drawn", uploader,
                       goal(uploader, 3, "< 3 s"), ratio=False)
            table.time("dashboard first load: page requested -> upload prompt drawn", prompt, ratio=False)
            table.time("dashboard cold start (process start -> Diagnose page)", cold, goal(cold, 15, "< 15 s"),
                       ratio=False)
            times = []
            overlay = '[data-testid="stMain"] [data-testid="stImage"] img'
            # A person takes a few seconds to pick a file; meanwhile the models warm up in the background.
            time.sleep(FIRST_UPLOAD_DELAY)
            for i, path in enumerate(files):
                images = page.locator(overlay)
                previous = images.nth(0).get_attribute("src") if images.count() else ""
                case = hashlib.sha256(path.read_bytes()).hexdigest()[:8]  # the film's caption names it
                start = time.perf_counter()
                page.locator("input[type=file]").first.set_input_files(str(path))
                # The heatmap has arrived when the first picture of the main area (the overlay; the
                # film beside it is the click-to-hide component) is a new, loaded image; then wait
                # for the rest of the page (trust checks) to finish running.
                # This film's run has drawn its caption (case id) and either the map or, when the
                # triage holds the answer back, the unchecked "show anyway" switch.
                arrived = ("([sel, previous, caseId]) => { const body = document.body.innerText;"
                           " if (!body.includes('case ' + caseId)) return false;"
                           " const im = document.querySelectorAll(sel);"
                           " const map = im.length >= 1 && im[0].src !== previous && im[0].complete"
                           " && body.includes('Grad-CAM for ');"
                           " const held = [...document.querySelectorAll('label')].some(l =>"
                           " l.innerText.includes(\"Show the output anyway\") && l.querySelector('input')"
                           " && !l.querySelector('input').checked);"
                           " return held ? 'held' : map; }")
                if page.wait_for_function(arrived, arg=[overlay, previous, case], polling=20).json_value() == "held":
                    # The triage found the synthetic film out of scope: the reader's switch shows the
                    # map anyway; the click is part of the measured time.
                    film = images.nth(0).get_attribute("src")
                    page.get_by_text("Show the output anyway").first.click()
                    page.wait_for_function(
                        "([sel, film]) => { const im = document.querySelectorAll(sel);"
                        " return im.length >= 1 && im[0].src !== film && im[0].complete; }",
                        arg=[overlay, film], polling=20)
                heatmap = time.perf_counter() - start
                expect(page.get_by_text(re.compile(r"^Grad-CAM for (COVID-19|Normal|Pneumonia), "))) \
                    .to_be_visible()
                expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
                done = time.perf_counter() - start
                if i == 0:
                    table.time(f"dashboard first upload {FIRST_UPLOAD_DELAY:.0f} s after the page -> heatmap", heatmap,
                               ratio=False)
                    table.time("dashboard first upload -> page complete", done, ratio=False)
                else:
                    times.append((heatmap, done))
            warm = statistics.median(t[0] for t in times)
            table.time("dashboard warm upload -> heatmap", warm, goal(warm, 2.0, "< 2 s"))
            table.time("dashboard warm upload -> page complete (all trust checks)",
                       statistics.median(t[1] for t in times))
            table.figure("dashboard process peak resident memory", f"{_peak_rss_mb(server.pid):7.0f} MB")
        finally:
            browser.close()
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


# -------------------------------------------------------------------------------------------- command line

def command_line(table: Table, model_id: str | None, image: bytes, repeats: int = 5) -> None:
    """`python -m model.predict` from process start to exit: refusing an empty file (files are checked
    before TensorFlow is imported) and classifying one image (TensorFlow and the models loaded)."""
    folder = Path(tempfile.mkdtemp(prefix="cxr-bench-cli-"))
    try:
        (folder / "empty.png").write_bytes(b"")
        (folder / "scan.png").write_bytes(image)

        def run(name: str) -> None:
            model = ["--model", model_id] if model_id else []
            subprocess.run([sys.executable, "-m", "model.predict", str(folder / name), *model], cwd=ROOT,
                           capture_output=True, check=False, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})

        refused = median_time(lambda: run("empty.png"), repeats)
        table.time("command line: refuse an empty file (start -> exit)", refused, goal(refused, 2, "< 2 s"),
                   ratio=False)
        table.time("command line: classify one image (start -> exit)", median_time(lambda: run("scan.png"), 3),
                   ratio=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -------------------------------------------------------------------------------------------- gallery

def gallery(table: Table, model_id: str | None) -> None:
    """The case gallery's first load without its page: the default choice (test split and unseen sources, every
    source and label, 24 films per label) read by `read_cases` in the page's `reading_order` with maps, lung
    shares and Diagnose's triage (test-time copies included), right after the model is loaded (cold: nothing
    traced, as a fresh server), with the moment its first `FIRST_READ` cards were read (the page draws them while it
    reads the rest), then again (warm graphs, no cached case). `benchmarks.gallery_copies` gives the copies' part."""
    from model.classifier import Classifier
    from model.labelled_data import data_roots, read_dataset, records_within
    from model.present.gallery_cases import (
        FIRST_READ,
        data_location,
        gallery_records,
        read_cases,
        reading_order,
        sample_records,
    )
    from model.registry import RegistryError, default_model_id
    from model.trust.scope import read_scope

    location = data_location()
    if location is None:
        print("  gallery: skipped (no labelled data: set CXR_DATA)")
        return
    model_id = model_id or default_model_id()
    started = time.perf_counter()
    clf = Classifier.load(model_id)
    try:
        scope = read_scope(model_id)
    except RegistryError:  # a damaged scope file: read as a model without one
        scope = None
    loaded = time.perf_counter() - started
    records = records_within(read_dataset(location, keep_unknown=True), data_roots())[0]
    pool, splits, _ = gallery_records(records, clf.card, "test")
    wanted = reading_order(sample_records(pool, 24, seed=0))
    options = {"splits": splits} | ({"scope": scope, "low_threshold": scope.lung_attention_threshold} if scope else {})

    first: list[float] = []

    def read() -> tuple[float, int]:
        start = time.perf_counter()
        cases, _ = read_cases(clf, wanted, **options,
                              progress=lambda done, _: first.append(time.perf_counter() - start) if done == FIRST_READ else None)
        return time.perf_counter() - start, len(cases)

    cold, read_count = read()
    table.time("gallery: model load (Classifier.load)", loaded, ratio=False)
    table.time(f"gallery first load: first {FIRST_READ} cards read, cold (traces included)", first[0], ratio=False)
    table.time(f"gallery first load: {read_count} cards read, cold (traces included)", cold, ratio=False)
    table.time(f"gallery: {read_count} cards read again, warm graphs", statistics.median(read()[0] for _ in range(2)),
               ratio=False)


# -------------------------------------------------------------------------------------------- training

def training(table: Table, image_size: int, images: int = 96) -> None:
    """Images per second per epoch of each architecture and backbone, on synthetic arrays through
    the one fit loop (`training.recipes.fit_classifier`: sampling, augmentation, validation pass),
    the second epoch timed (the first traces). Backbones are built with random weights here."""
    from training.architectures import ARCHITECTURES
    from training.backbones import BACKBONES
    from training.recipes import Network, Recipe, Schedule, fit_classifier

    rng = np.random.default_rng(0)
    data = {"images": rng.random((images, image_size, image_size, 1), dtype=np.float32).astype(np.float16),
            "masks": None, "labels": rng.integers(0, 3, images), "sources": np.array(["synthetic"] * images)}
    for arch in [*ARCHITECTURES, *BACKBONES]:
        network = Network(arch, image_size, 3)
        fitted = fit_classifier(network, data, data, Recipe(), Schedule(epochs=2, batch_size=BATCH_SIZE, patience=5),
                                log=lambda line: None)
        seconds = fitted.history[-1]["seconds"]
        table.figure(f"training throughput {arch} ({image_size} px)", f"{images / seconds:7.1f} img/s",
                     f"{seconds / images * 1000:.0f} ms per image per epoch (incl. one validation pass)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=doc_summary(__doc__))
    parser.add_argument("--model", help="registry model id (default: the registry's default model)")
    parser.add_argument("--repeats", type=int, default=20, help="repetitions of each fast measurement")
    parser.add_argument("--uploads", type=int, default=4, help="warm uploads timed in the dashboard")
    parser.add_argument("--image", type=Path, help="image file to use (default: a synthetic 1024x1024 PNG)")
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--skip-gallery", action="store_true")
    args = parser.parse_args(argv)
    from model.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    print(f"machine: {machine()}")
    print(f"image: {args.image or 'synthetic 1024x1024 PNG'}; medians; 'x' = multiple of the bare forward pass")
    table = Table()
    image = args.image.read_bytes() if args.image else synthetic_png()
    if not args.skip_serving:
        serving(table, args.model, image, args.repeats)
    if not args.skip_cli:
        print("\ncommand line")
        command_line(table, args.model, image)
    if not args.skip_dashboard:
        print("\ndashboard (default model of the registry the server sees)")
        dashboard(table, args.uploads)
    if not args.skip_gallery:
        print("\ngallery (CXR_DATA, default choice)")
        gallery(table, args.model)
    if not args.skip_training:
        from model.registry import default_model_id, read_card

        print("\ntraining")
        training(table, read_card(args.model or default_model_id()).input_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
