"""The gallery and the all-methods grid in headless Chromium, at workstation sizes: the case opens where
it was clicked with its buttons whole, "Open in Diagnose" shows a labelled teaching case, the cheating
view reads on one screen, and every method's map sits under one colour bar with the agreement beside
it. Screenshots are kept under tests/output/ for a person to look at.

The server is a real `streamlit run dashboard/app.py` on a free localhost port with the shortcut model
and the fixed lung fields of `tests.gallery_support` (known evidence: a marker outside the lungs, a
lesion inside); the browser may only reach that server. A last test does the same on the real data
and the shipped models, and is skipped when ../shared/data is absent.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.gallery_support import marker_film, write_fixed_lungs_entry, write_shortcut_entry, write_shortcut_pool
from tests.support import png_bytes
from tests.test_browser import OUTPUT, browser_page, dashboard_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}
NO_EXCEPTION = '[data-testid="stException"]'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    registry = tmp_path_factory.mktemp("gallery-registry")
    write_shortcut_entry(registry)
    write_fixed_lungs_entry(registry)
    data = tmp_path_factory.mktemp("gallery-data")
    write_shortcut_pool(data / "pool")
    with dashboard_server(tmp_path_factory, {"CXR_REGISTRY": str(registry), "CXR_DATA": str(data)}) as url:
        yield url


def images_loaded(page) -> None:
    """Wait until every image of the page (not those inside component frames) has been drawn."""
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.wait_for_timeout(500)


def in_viewport(box: dict, width: int, height: int) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width \
        and box["y"] + box["height"] <= height


def no_cut_text(locator) -> bool:
    """Whether every text element inside fits its box (no "Open in Dia..." ellipsis)."""
    return locator.evaluate("""el => [el, ...el.querySelectorAll('*')]
        .every(e => e.scrollWidth <= e.clientWidth + 1 || getComputedStyle(e).overflow === 'visible')""")


def test_the_case_opens_where_it_was_clicked_and_goes_to_diagnose_labelled(server):
    from playwright.sync_api import expect

    width, height = SIZES["1366x768"]
    with browser_page(f"{server}/gallery", width, height) as page:
        explain = page.get_by_role("button", name="Explain")
        expect(explain.first).to_be_visible()
        expect(explain).to_have_count(14)  # the grid may still be drawing its last cards
        last = explain.nth(13)  # a card of the last row, far below the top of the grid
        last.scroll_into_view_if_needed()
        scrolled = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop"
                                 " || window.scrollY")
        assert scrolled > 300, "the last row is below the first screen"
        last.click()
        dialog = page.locator('[role="dialog"]')
        expect(dialog).to_be_visible()
        expect(dialog.get_by_text("weak → strong evidence")).to_be_visible()
        open_button = dialog.get_by_role("button", name="Open in Diagnose")
        expect(open_button).to_be_visible()
        assert in_viewport(open_button.bounding_box(), width, height), "the dialog's buttons are on the screen"
        assert no_cut_text(open_button), "the button's label is cut"
        assert in_viewport(dialog.get_by_text("Map inside the lung fields").bounding_box(), width, height)
        images_loaded(page)
        page.screenshot(path=str(OUTPUT / "gallery-case-1366x768.png"))
        title = dialog.get_by_text(re.compile(r"\.png: true ")).first.inner_text()
        open_button.click()
        expect(page.get_by_role("heading", name="Diagnose & explain")).to_be_visible()
        box = page.get_by_text("Teaching case", exact=False).first
        expect(box).to_be_visible()
        teaching = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="(from the data)").first
        expect(teaching).to_contain_text("true label")
        expect(teaching).to_contain_text("In the gallery Shortcut test model answered")
        # Said by its label and source, not by its file name (a hospital's own data may name patients in it).
        assert title.split(":")[0] not in teaching.inner_text(), "the teaching case shows the film's file name"
        expect(page.get_by_text("A teaching case opened from the gallery", exact=False)).to_be_visible()
        # The kept film's Clear button ends at its row's right edge, the page's (it sat ~60 px inside it).
        clear = page.get_by_role("button", name="Clear")
        row = clear.locator("xpath=ancestor::*[@data-testid='stHorizontalBlock'][1]").bounding_box()
        button = clear.bounding_box()
        assert abs((button["x"] + button["width"]) - (row["x"] + row["width"])) <= 2, (button, row)
        expect(page.get_by_text(re.compile(r"^Grad-CAM for "))).to_be_visible()
        assert page.locator(NO_EXCEPTION).count() == 0
        images_loaded(page)
        page.screenshot(path=str(OUTPUT / "diagnose-teaching-case-1366x768.png"))


CARDS = """() => [...document.querySelectorAll('button')].filter(b => /(^|\\s)Explain$/.test(b.innerText.trim()))
    .map(b => { const holder = b.closest('[class*="st-key-explain_"]');
                const key = [...holder.classList].find(c => c.startsWith('st-key-explain_'));
                return [key, b.closest('[data-testid="stVerticalBlock"]').innerText]; })"""


def errors_first_key(text: str) -> tuple:
    """A card's place in "Confident errors first", read from what the card says (`sort_cases`)."""
    confidence = float(re.search(r"said \S+ ([\d.]+)%", text).group(1))
    known = "label not among its classes" not in text
    correct = known and "misclassified" not in text  # a label outside its classes is never a right answer
    return not known, correct, confidence if correct else -confidence


def test_pages_of_cards_hold_every_case_once_confident_errors_first(server):
    """With 8 cards a page, the two pages of the 14 cases: no card twice, none missing, and the order of
    "Confident errors first" running on from one page to the next, as the cards themselves say it."""
    from playwright.sync_api import expect

    width, height = SIZES["1366x768"]
    with browser_page(f"{server}/gallery", width, height) as page:
        explain = page.get_by_role("button", name="Explain")
        expect(explain).to_have_count(14)  # 24 a page: one page
        thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Cards a page").get_by_role("slider")
        thumb.focus()
        thumb.press("ArrowLeft")  # 24 -> 12
        expect(page.get_by_role("radio", name="1–12")).to_be_visible()
        thumb.press("ArrowLeft")  # 12 -> 8
        expect(page.get_by_role("radio", name="9–14")).to_be_visible()
        expect(explain).to_have_count(8)
        first = page.evaluate(CARDS)
        page.get_by_role("radio", name="9–14").click()
        expect(explain).to_have_count(6)
        expect(page.get_by_text("Cards 9–14 of 14; the others on the pages above the cards.")).to_be_visible()
        second = page.evaluate(CARDS)
        assert page.locator(NO_EXCEPTION).count() == 0
        images_loaded(page)
        page.screenshot(path=str(OUTPUT / "gallery-page-two-1366x768.png"))
    names = [key for key, _ in first + second]
    assert len(set(names)) == 14, "a card missing or drawn twice"
    places = [errors_first_key(text) for _, text in first + second]
    assert places == sorted(places), "the order breaks between the pages"
    assert places[0][1] is False, "a confident error first"


@pytest.mark.parametrize("size", list(SIZES))
def test_the_cheating_view_reads_on_one_screen(server, size):
    from playwright.sync_api import expect

    width, height = SIZES[size]
    with browser_page(f"{server}/gallery?view=cheats", width, height) as page:
        headline = page.get_by_text("confident answers (71%), the map of Shortcut test model puts less on the lungs "
                                    "than a map spread evenly")
        expect(headline).to_be_visible()
        table = page.locator('[data-testid="stDataFrame"]').first
        expect(table).to_be_visible()
        section = page.get_by_text("alpha: 6 of its 6 confident answers (100%) have less of the map on the lungs than "
                                   "an even spread would")
        expect(section).to_be_visible()
        for element in (headline, table):
            assert in_viewport(element.bounding_box(), width, height), f"not on the first screen at {size}"
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "the page scrolls sideways"
        assert page.locator(NO_EXCEPTION).count() == 0
        images_loaded(page)
        page.screenshot(path=str(OUTPUT / f"gallery-cheats-{size}.png"))
        section.evaluate("e => e.scrollIntoView({block: 'start'})")
        images_loaded(page)
        page.screenshot(path=str(OUTPUT / f"gallery-cheats-cases-{size}.png"))


def test_the_table_of_every_case_has_every_column_in_view_at_1920(server):
    """The cards' table: it scrolled sideways even at 1920 px (the server's full path to each film and two
    decimals on every percentage), its last probability hidden."""
    from playwright.sync_api import expect

    width, height = SIZES["1920x1080"]
    with browser_page(f"{server}/gallery", width, height) as page:
        expect(page.get_by_role("button", name="Explain")).to_have_count(14)
        page.get_by_text("All cases read, as a table").click()
        grid = page.locator('[data-testid="stExpander"] [data-testid="stDataFrame"]').first
        expect(grid).to_be_visible()
        grid.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)  # the grid sizes its columns once drawn
        scroller = grid.locator(".dvn-scroller")
        hidden = scroller.evaluate("e => e.scrollWidth - e.clientWidth")
        assert hidden <= 1, f"{hidden} px of columns out of view at 1920 px"
        assert page.locator(NO_EXCEPTION).count() == 0
        page.screenshot(path=str(OUTPUT / "gallery-table-1920x1080.png"))


def test_every_method_under_one_colour_bar(server, tmp_path):
    from playwright.sync_api import expect

    width, height = SIZES["1366x768"]
    film = tmp_path / "marker.png"
    film.write_bytes(png_bytes(marker_film(seed=5)))
    with browser_page(server, width, height) as page:
        expect(page.get_by_role("heading", name="Diagnose & explain")).to_be_visible()
        page.locator("input[type=file]").first.set_input_files(str(film))
        tab = page.get_by_role("tab", name="All methods side by side")
        expect(tab).to_be_visible()
        tab.click()
        page.get_by_text("Compute every method").click()
        expect(page.get_by_text("Similarity of every pair of maps")).to_be_visible()
        panel = page.locator('[role="tabpanel"]:visible')
        images = panel.locator('[data-testid="stImage"] img')
        expect(images).to_have_count(6)
        bars = panel.locator('div[style*="linear-gradient"]')
        assert bars.count() == 1, "one colour bar for the whole grid"
        expect(panel.get_by_text("Mean similarity of every pair")).to_be_visible()
        for label in ("Grad-CAM", "Score-CAM", "Occlusion"):
            expect(panel.get_by_text(f"{label} · ", exact=False).first).to_be_visible()
        page.get_by_text("Every method for the same class").scroll_into_view_if_needed()
        page.evaluate("() => document.querySelector('[role=\"tabpanel\"]:not([hidden])')"
                      ".scrollIntoView({block: 'start'})")
        images_loaded(page)
        boxes = [images.nth(i).bounding_box() for i in range(6)]
        assert all(box["x"] + box["width"] <= width for box in boxes), "a map is cut on the right"
        assert boxes[0]["y"] < height and boxes[3]["y"] < height, "both rows start on the screen"
        assert page.locator(NO_EXCEPTION).count() == 0
        page.screenshot(path=str(OUTPUT / "all-methods-1366x768.png"))

        # The grid-occlusion map has its colour bar too.
        page.get_by_role("tab", name="Hide regions on the film's grid").click()
        page.get_by_text("Map every cell").click()
        legend = page.get_by_text("no fall → the largest fall", exact=False)
        expect(legend).to_be_visible()
        assert page.locator('[role="tabpanel"]:visible div[style*="linear-gradient"]').count() == 1
        images_loaded(page)
        legend.evaluate("e => e.scrollIntoView({block: 'end'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUTPUT / "grid-occlusion-1366x768.png"))


@pytest.mark.realdata
def test_the_cheating_view_on_real_data(shared_cxr, tmp_path_factory):
    """The shipped default model on the real pool (its test split and unseen sources): the view an
    educator projects, kept as a screenshot."""
    from playwright.sync_api import expect

    with dashboard_server(tmp_path_factory, {"CXR_DATA": str(shared_cxr), "CXR_REGISTRY": ""}) as url:
        # The Cases view's first load: the first cards read are drawn while the rest is read, then the first
        # page of the whole sample in order (the reads are cached for the cheating view below).
        with browser_page(f"{url}/gallery", *SIZES["1366x768"]) as page:
            early = page.get_by_text(re.compile(r"^The first \d+ cases read, shown while the rest are read "))
            expect(early).to_be_visible(timeout=240_000)
            pages = page.get_by_text(re.compile(r"^cards of the \d+, in this order$"))
            expect(pages).to_be_visible(timeout=240_000)  # more than 24 cards: pages of 24
            expect(early).to_have_count(0)
            expect(page.get_by_role("button", name="Explain")).to_have_count(24)
            assert page.locator(NO_EXCEPTION).count() == 0
        with browser_page(f"{url}/gallery?view=cheats", *SIZES["1366x768"]) as page:
            expect(page.get_by_text("confident answers (", exact=False).first).to_be_visible()
            expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
            assert page.locator(NO_EXCEPTION).count() == 0
            images_loaded(page)
            page.screenshot(path=str(OUTPUT / "gallery-cheats-real-1366x768.png"))
            first_source = page.get_by_text(re.compile(r"^\S+: \d+ of its \d+ confident answers \(")).first
            if first_source.count():  # a source with such answers (there may be none)
                first_source.evaluate("e => e.scrollIntoView({block: 'start'})")
                images_loaded(page)
                page.screenshot(path=str(OUTPUT / "gallery-cheats-real-cases-1366x768.png"))
