"""The running dashboard in headless Chromium: upload a radiograph, see the overlay, keep a screenshot.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install chromium`); the test is skipped
cleanly without it. The server is a real `streamlit run dashboard/app.py` on a free localhost port,
pointed at a tiny registry built here; it is always terminated, and the browser may only talk to it.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from benchmarks.run import CHROMIUM, CHROMIUM_ARGS, free_port
from tests.support import dicom_bytes, png_bytes, synthetic_radiograph, write_tiny_entry

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Path(__file__).resolve().parent / "output"
START_TIMEOUT = 120  # Seconds; the server imports TensorFlow lazily, so it is up well before that.
PAGE_TIMEOUT_MS = 90_000


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not become healthy in {START_TIMEOUT} s:\n{log.read_text(errors='replace')}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextlib.contextmanager
def dashboard_server(tmp_path_factory, env: dict):
    """`streamlit run dashboard/app.py` on a free port of 127.0.0.1 with `env` added (a registry, data
    roots); yields its URL and stops the server after. Skips when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    pytest.importorskip("playwright.sync_api")
    port = free_port()
    log = tmp_path_factory.mktemp("browser-server") / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                                   stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard with a two-model registry and a folder of labelled films; yields its URL."""
    registry = tmp_path_factory.mktemp("browser-registry")
    write_tiny_entry(registry, "tiny-a", default=True)
    write_tiny_entry(registry, "tiny-b", seed=1)
    data = tmp_path_factory.mktemp("browser-data") / "hospital"
    for k, folder in enumerate(("COVID", "Normal", "Viral Pneumonia", "Tuberculosis")):
        (data / folder).mkdir(parents=True)
        for i in range(4):
            (data / folder / f"case{i}.png").write_bytes(png_bytes(synthetic_radiograph(96, seed=10 * k + i)))
    with dashboard_server(tmp_path_factory, {"CXR_REGISTRY": str(registry), "CXR_DATA": str(data.parent)}) as url:
        yield url


def local_only(route) -> None:
    """Let the page reach the dashboard server and nothing else."""
    if re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/", route.request.url):
        route.continue_()
    else:
        route.abort()


VIEWPORTS = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}
STATUS = re.compile(r"(Answer\.|Uncertain: second read advised \(|Out of scope: no answer shown \()")
FILM_FRAME = 'iframe[title="streamlit_image_coordinates.streamlit_image_coordinates"]'


@contextlib.contextmanager
def browser_page(url: str, width: int, height: int):
    """A headless Chromium page of the given size, opened at `url`, that may only reach the server."""
    from playwright.sync_api import expect, sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            expect.set_options(timeout=PAGE_TIMEOUT_MS)
            page.route("**/*", local_only)
            page.goto(url)
            yield page
        finally:
            browser.close()


def film_pixels(page) -> str:
    """The clickable film's image source (the component redraws it when cells are hidden)."""
    return page.frame_locator(FILM_FRAME).locator("img").get_attribute("src") or ""


def visible_box(locator, viewport_height: int) -> dict:
    """The element's bounding box, asserted to lie (at least its top half) in the first screen."""
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0, "element not laid out"
    assert box["y"] >= 0 and box["y"] + box["height"] / 2 <= viewport_height, f"not on the first screen: {box}"
    return box


def cut_names(page, names: dict) -> list:
    """The (box, text) pairs whose text is wider than its selectbox's room, measured in the box's own font;
    `names`: more texts to measure per box label, beside the one it shows."""
    return page.evaluate("""names => { const ctx = document.createElement('canvas').getContext('2d');
        return Object.entries(names).flatMap(([label, texts]) => {
            const input = document.querySelector(`[data-testid="stMain"] input[role="combobox"][aria-label="${label}"]`);
            const style = getComputedStyle(input); ctx.font = style.font;
            const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            return [input.value, ...texts].filter(t => ctx.measureText(t).width > room).map(t => [label, t]); }); }""",
                         names)


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_diagnose_at_workstation_sizes_click_to_hide_and_coming_back(server, tmp_path, size):
    """Upload, see status, output and map on the first screen, click a cell of the film's grid, visit
    another page and come back to the same case; screenshots kept under tests/output/."""
    from playwright.sync_api import expect

    width, height = VIEWPORTS[size]
    image = tmp_path / "chest.png"
    image.write_bytes(png_bytes(synthetic_radiograph(512, seed=3, lesion=(0.45, 0.3))))
    with browser_page(server, width, height) as page:
        expect(page.get_by_role("heading", name="Diagnose & explain")).to_be_visible()
        expect(page.get_by_text("Decision support for research and teaching, not a diagnosis").first) \
            .to_be_visible()
        page.locator("input[type=file]").first.set_input_files(str(image))
        caption = page.get_by_text(re.compile(r"^Grad-CAM for (COVID-19|Normal|Pneumonia), block 2 \(last\), "))
        expect(caption).to_be_visible()
        page.wait_for_timeout(800)  # plotly and the film component finish drawing
        assert page.locator('[data-testid="stException"]').count() == 0
        status = page.locator('[data-testid="stAlert"]').filter(has_text=STATUS).first
        expect(status).to_be_visible()
        overlay = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').first
        film = page.locator(FILM_FRAME).first
        # At least the status and the overlay without scrolling, on every size.
        visible_box(status, height)
        # The status says age and view are not stated: the reader finds where to state them on the first screen.
        visible_box(page.get_by_role("spinbutton", name="Patient's age (years)"), height)
        map_box = visible_box(overlay, height)
        assert map_box["width"] >= 300
        expect(page.get_by_text("Model output")).to_be_visible()
        expect(page.get_by_text("scaled to this image's maximum").first).to_be_visible()
        if width >= 1920:  # and, on a large screen, the probabilities and the film as well
            visible_box(page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').first, height)
            film_box = visible_box(film, height)
            assert abs(film_box["y"] - map_box["y"]) < 40 and map_box["x"] > film_box["x"]
        page.screenshot(path=str(OUTPUT / f"diagnose-{size}.png"))
        # Every method's and class's name, and the chosen layer's, is whole in its box ("Pneumo" at 1366 px).
        assert not cut_names(page, {"Method": ["Grad-CAM++", "SmoothGrad", "Score-CAM"],
                                    "Class to explain": ["COVID-19", "Normal", "Pneumonia"], "Layer": []})

        # Click to hide: two cells of the film's grid, the change said in percentage points, the new
        # output beside the film on the first screen, the film redrawn with the cells greyed.
        target = page.frame_locator(FILM_FRAME).locator("img")
        expect(target).to_be_visible()
        before = film_pixels(page)
        started = time.monotonic()
        box = film.bounding_box()
        target.click(position={"x": 0.3 * box["width"], "y": 0.45 * box["height"]})
        expect(page.get_by_text(re.compile(r"^With 1 cell hidden$"))).to_be_visible()
        elapsed = time.monotonic() - started
        # The page has been drawn again: the click goes by the film's size now (a position past its edge
        # would land on whatever lies there).
        page.wait_for_timeout(500)
        box = film.bounding_box()
        target.click(position={"x": 0.3 * box["width"], "y": 0.62 * box["height"]})
        hidden = page.get_by_text(re.compile(r"^With 2 cells hidden$"))
        expect(hidden).to_be_visible()
        change = page.get_by_text(re.compile(r"\d+\.\d points for (COVID-19|Normal|Pneumonia)$")).first
        expect(change).to_be_visible()
        page.wait_for_timeout(800)
        visible_box(hidden, height)
        visible_box(change, height)
        assert film_pixels(page) != before, "the film was not redrawn with the hidden cells"
        print(f"{size}: click to hidden-cell result in {elapsed:.2f} s")
        page.screenshot(path=str(OUTPUT / f"diagnose-hidden-{size}.png"))
        page.get_by_role("button", name="Show the film as it is").click()
        expect(hidden).to_have_count(0)

        # Zoom mode: one view of film and map, dragging draws a zoom box, the colour bar stays.
        page.get_by_text("Zoom & window").click()
        expect(page.get_by_text("drag a box on either to zoom both")).to_be_visible()
        expect(page.get_by_text("scaled to this image's maximum").first).to_be_visible()
        page.wait_for_timeout(1500)
        zoom = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
            .filter(e => e.data && e.data.length === 2 && e.data.every(t => t.type === 'image'))
            .map(e => ({drag: e._fullLayout.dragmode, height: e.getBoundingClientRect().height,
                        width: e.getBoundingClientRect().width}))""")
        assert len(zoom) == 1 and zoom[0]["drag"] == "zoom" and zoom[0]["height"] > 200, zoom
        # The figure keeps the film's shape (no empty band) and grows with the screen.
        from model.present.diagnose_figures import zoom_aspect

        assert zoom[0]["width"] / zoom[0]["height"] == pytest.approx(zoom_aspect((512, 512)), rel=0.03), zoom
        assert zoom[0]["width"] >= (900 if width >= 1920 else 580), zoom
        # The colour bar under it spans the two panels, not the toolbar's margin beside them (it ran past them).
        from model.present.diagnose_figures import ZOOM_TOOLBAR

        bar = page.locator('.st-key-zoom_legend').first.bounding_box()
        assert bar["width"] == pytest.approx(zoom[0]["width"] - ZOOM_TOOLBAR, abs=3), (bar, zoom)
        page.screenshot(path=str(OUTPUT / f"diagnose-zoom-{size}.png"))
        page.get_by_text("Zoom & window").click()
        expect(caption).to_be_visible()

        # Another page and back: the same case, no new upload.
        page.get_by_role("link", name="Model performance").click()
        expect(page.get_by_role("heading", name="Model performance").first).to_be_visible()
        page.get_by_role("link", name="Diagnose & explain").click()
        expect(page.get_by_text("uploaded earlier in this session")).to_be_visible()
        expect(caption).to_be_visible()
        assert page.locator('[data-testid="stException"]').count() == 0
    assert (OUTPUT / f"diagnose-{size}.png").stat().st_size > 10_000


def test_an_out_of_scope_upload_is_held_back_until_asked_for(server, tmp_path):
    """A colour photograph: the status says out of scope and why, no answer, probabilities or map
    are on the page until the reader turns on "Show the output anyway"."""
    import numpy as np
    from playwright.sync_api import expect

    rng = np.random.default_rng(7)
    photo = np.zeros((240, 320, 3), np.uint8)
    photo[..., 0] = np.linspace(40, 230, 320, dtype=np.uint8)[None, :]
    photo[..., 1] = np.linspace(200, 30, 240, dtype=np.uint8)[:, None]
    photo[..., 2] = rng.integers(0, 256, (240, 320), dtype=np.uint8)
    image = tmp_path / "holiday.png"
    image.write_bytes(png_bytes(photo / 255.0))
    with browser_page(server, 1366, 768) as page:
        expect(page.get_by_role("heading", name="Diagnose & explain")).to_be_visible()
        # The upload box names the core's limit, not the widget's larger one (it lets big files reach the core).
        page.wait_for_function("""() => {
            const e = document.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] span');
            return e && getComputedStyle(e, '::after').content === '"Up to 30 MB per file"'
                && getComputedStyle(e).fontSize === '0px';  /* the widget's "200MB per file" is not shown */
        }""", timeout=30_000)
        page.locator("input[type=file]").first.set_input_files(str(image))
        # A bordered box, not an alert: st.error is kept for failures of the app itself.
        status = page.locator('[data-testid="stMarkdownContainer"]').filter(
            has_text="Out of scope: no answer shown (a colour image).").first
        expect(status).to_be_visible()
        expect(status).to_contain_text("colour")
        visible_box(status, 768)
        expect(page.get_by_text("No answer and no map are shown for it.")).to_be_visible()
        expect(page.get_by_text("Model output")).to_have_count(0)  # waits out stale elements of the last run
        assert page.get_by_text(re.compile(r"^Grad-CAM for ")).count() == 0
        assert page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(OUTPUT / "diagnose-out-of-scope-1366x768.png"))
        # On request the output follows, below the status that still says why.
        page.get_by_text("Show the output anyway").click()
        expect(page.get_by_text("Model output")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Grad-CAM for (COVID-19|Normal|Pneumonia), block 2 \(last\), "))).to_be_visible()
        # No answer under a heading that says none is shown: the heading now says "for reference only".
        expect(page.get_by_text("Out of scope: the output is shown for reference only (a colour image).")).to_be_visible()
        assert page.get_by_text("no answer shown").count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0

        # A child's DICOM (PatientAge 006Y): out of scope from its header, the age shown in the side panel.
        child = tmp_path / "child.dcm"
        child.write_bytes(dicom_bytes(np.round(synthetic_radiograph(256, seed=5) * 4095).astype(np.uint16),
                                      PatientAge="006Y"))
        page.locator("input[type=file]").first.set_input_files(str(child))
        expect(page.get_by_text("Out of scope: no answer shown (a child's film).")).to_be_visible()
        expect(page.get_by_text("The DICOM header gives the patient's age as 6 years", exact=False)).to_be_visible()
        expect(page.get_by_text("Patient's age: 6 years (DICOM header)")).to_be_visible()
        expect(page.get_by_text("Model output")).to_have_count(0)  # waits out stale elements of the last run
        expect(page.get_by_text("No answer and no map are shown for it.")).to_be_visible()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(OUTPUT / "diagnose-child-dicom-1366x768.png"))

        # A file over the 30 MB the core reads reaches the page and gets its one sentence there (the upload
        # widget's own refusal showed only in the side panel, the page still asking for an upload).
        from model.inputs.intake import DEFAULT_MAX_BYTES

        huge = tmp_path / "huge.png"
        huge.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(DEFAULT_MAX_BYTES + 600_000))
        page.locator("input[type=file]").first.set_input_files(str(huge))
        sentence = page.get_by_text(re.compile(r"This file is 30\.7 MB, larger than the 30 MB limit"))
        expect(sentence.first).to_be_visible()
        visible_box(sentence.first, 768)
        assert page.locator('[data-testid="stException"]').count() == 0


def test_one_evaluation_run_on_a_configured_folder(server):
    from playwright.sync_api import expect

    with browser_page(f"{server}/evaluate", 1600, 1000) as page:
        expect(page.get_by_role("heading", name="Evaluate on your data")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^16 images in \S*hospital; all are scored\."))).to_be_visible()
        page.get_by_role("button", name="Evaluate").click()
        expect(page.get_by_role("heading", name="Figures side by side")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^16 images were scored by every version;"))).to_be_visible()
        expect(page.get_by_role("button", name="Predictions per image (CSV)")).to_be_visible()
        expect(page.get_by_text("Labels the versions do not know")).to_be_visible()
        assert page.locator('[data-testid="stException"]').count() == 0
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUTPUT / "evaluate.png"), full_page=True)
    assert (OUTPUT / "evaluate.png").stat().st_size > 10_000
