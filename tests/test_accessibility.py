"""Accessibility in a real browser: axe-core's WCAG 2.1 AA rules on every page, in English and
in Chinese; keyboards (the way to Train, the focus ring, focus after an action); phones.

axe-core comes from npm (.ci/run installs it into out/node; $AXE_CORE_JS names another copy):
    npm install --no-save --prefix out/node axe-core@4.14.1
The audit prints each page's counts (run with -s to see them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import test_browser as tb
from conftest import running_app

from bench.browser import WATCH_SCRIPT_RUNS
from mnist_core.classroom.board import BOARD_FILE, Board
from mnist_core.config import TrainConfig
from mnist_core.presentation.charts import contrast

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[1]
AXE_JS = Path(os.environ.get("AXE_CORE_JS") or REPO / "out/node/node_modules/axe-core/axe.min.js")
if not AXE_JS.is_file():
    pytest.skip(
        f"no axe-core at {AXE_JS}: npm install --no-save --prefix out/node axe-core@4.14.1",
        allow_module_level=True,
    )
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MAX_SERIOUS_NODES = 5
LANGUAGES = {"en": "en-GB", "zh": "zh-CN"}  # the browser's language decides the UI's
# url path, and what to do there before the audit
PAGES = {
    "Home": "/",
    "Data": "/data",
    "Train": "/train",
    "Evaluate": "/evaluate",
    "Draw": "/draw",
    "Compare": "/compare",
    "Class board": "/board",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """The app, with a class board that already holds one published run (so it shows a table)."""
    board_dir = tmp_path_factory.mktemp("board")
    Board(board_dir / BOARD_FILE).publish(
        "Ada's net", TrainConfig(), 1_234, 0.987, 10_000, 12.5, publisher="test"
    )
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with running_app(tb.server_env(str(board_dir)), log) as url:
        yield url


def user(browser: Browser, server: str, language: str, **options) -> Page:
    """A fresh browser context whose browser speaks `language` ("en" or "zh")."""
    context = browser.new_context(
        **({"viewport": tb.VIEWPORT} | options), base_url=server, locale=LANGUAGES[language]
    )
    context.add_init_script(WATCH_SCRIPT_RUNS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def settle(page: Page) -> None:
    """Until the page has run and drawn: a run started and ended, a title, every image loaded."""
    page.wait_for_function("() => window.__digitLabStarts > 0", timeout=tb.SLOW)
    expect(page.locator("[data-testid=stMainBlockContainer] h1").first).to_be_visible(
        timeout=tb.SLOW
    )
    tb.wait_idle(page)
    page.wait_for_load_state("networkidle")  # the images' files
    page.wait_for_function("() => [...document.images].every((image) => image.complete)")


def open_page(page: Page, path: str) -> None:
    page.goto(path)
    settle(page)


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory) -> Path:
    """The codelab's network before any training, as a .keras file: a second model that reads
    most digits differently from the ready-made one."""
    from mnist_core.config import PRESETS
    from mnist_core.engine.model import build_model, model_to_bytes

    path = tmp_path_factory.mktemp("models") / "untrained.keras"
    path.write_bytes(model_to_bytes(build_model(PRESETS["codelab"])))
    return path


def load_model(page: Page, model: Path) -> None:
    """Upload `model` in the sidebar: it becomes the current one, beside the ready-made one."""
    open_page(page, "/")
    sidebar = page.get_by_test_id("stSidebar")
    if sidebar.get_attribute("data-collapsed") == "true":  # a phone: open the menu first
        page.get_by_test_id("stExpandSidebarButton").click()
    # The last of the sidebar's two menus (download this model, load a model), in any language.
    sidebar.get_by_test_id("stPopover").last.get_by_role("button").click()
    page.locator("input[type=file]").set_input_files(model)
    expect(sidebar.get_by_role("combobox").first).to_have_value(
        re.compile(re.escape(model.name)), timeout=tb.SLOW
    )
    page.keyboard.press("Escape")
    settle(page)


def draw(page: Page) -> None:
    """A stroke on Draw's canvas, drawn again if the freshly mounted canvas missed it, until the
    app has read it (in any language: no button is pressed)."""
    for _attempt in range(3):
        before = tb.runs_started(page)
        tb.draw_stroke(page, tb.DIGITS["7"], tb.LARGE)
        try:
            page.wait_for_function("n => window.__digitLabStarts > n", arg=before, timeout=20_000)
        except sync_api.TimeoutError:
            continue
        tb.wait_idle(page)
        expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=tb.SLOW)
        settle(page)
        return
    pytest.fail("the app never read the stroke")


def axe(page: Page) -> list[dict]:
    """axe-core's WCAG 2.1 AA violations on the page as it is now (its frames included)."""
    for frame in page.frames:
        frame.add_script_tag(path=AXE_JS)
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes:"
        " ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ' ' + (n.failureSummary || '')"
        ".split('\\n').slice(1, 2).join(''))})))",
        WCAG_21_AA,
    )


@pytest.fixture(scope="module", params=list(LANGUAGES))
def audits(request, browser, server, untrained_model) -> dict[str, list[dict]]:
    """Each page's violations, for one user in one language: Compare with two models, Draw
    after a stroke."""
    page = user(browser, server, request.param)
    try:
        load_model(page, untrained_model)
        found = {}
        for name, path in PAGES.items():
            open_page(page, path)
            if name == "Draw":
                draw(page)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            found[name] = axe(page)
        report(request.param, found)
        return found
    finally:
        page.context.close()


def report(language: str, found: dict[str, list[dict]]) -> None:
    """Each page's counts, for the record (pytest -s shows them)."""
    print(f"\naxe-core 4.14, WCAG 2.1 AA, {language}: critical nodes, serious nodes, rules")
    for name, violations in found.items():
        critical, serious = count(violations, "critical"), count(violations, "serious")
        rules = ", ".join(sorted({v["id"] for v in violations}))
        print(f"  {name:12} {critical:3} {serious:3}  {rules}")


def count(violations: list[dict], impact: str) -> int:
    """Nodes with violations of this impact."""
    return sum(len(v["nodes"]) for v in violations if v["impact"] == impact)


def summary(violations: list[dict], impact: str) -> str:
    return "\n".join(
        f"{v['id']}: {node}" for v in violations if v["impact"] == impact for node in v["nodes"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PAGES))
def test_no_page_has_a_critical_accessibility_problem_and_few_serious_ones(audits, name):
    """axe-core, WCAG 2.1 AA: nothing critical (images without alt text, say), at most a few
    serious nodes (contrast below 4.5:1, say)."""
    violations = audits[name]
    assert count(violations, "critical") == 0, summary(violations, "critical")
    assert count(violations, "serious") <= MAX_SERIOUS_NODES, summary(violations, "serious")


# --- keyboards --------------------------------------------------------------------------------

MAX_TABS_TO_TRAIN = 16  # from the top of the page, the sidebar's 13 stops included
FOCUSED = "() => (document.activeElement.value || document.activeElement.innerText || '').trim()"


def train_button(page: Page):
    return page.get_by_role("button", name="Train", exact=True)


def open_train(page: Page) -> None:
    """Train, once its time estimate is shown: until this server's speed is known the estimate
    polls, and the page reruns once when it is (a fresh server measures it in the background)."""
    open_page(page, "/train")
    estimate = page.get_by_text(re.compile("per epoch on this server|No time estimate"))
    expect(estimate.first).to_be_visible(timeout=3 * tb.SLOW)
    tb.wait_idle(page)


STOP = """() => {
  const e = document.activeElement;
  const text = (e.value || e.innerText || '').trim().slice(0, 40);
  return `${e.tagName} ${e.dataset.testid || e.id} "${text}"`;
}"""


def tabs_until(page: Page, button, limit: int = 60) -> list[str]:
    """Where each Tab press put the focus, until `button` has it (at most `limit` presses)."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(STOP))
        if button.evaluate("el => el === document.activeElement"):
            break
    return stops


@pytest.fixture
def page(browser, server) -> Page:
    page = user(browser, server, "en")
    yield page
    page.context.close()


def rgb(css: str) -> list[float]:
    return [float(v) for v in re.findall(r"[\d.]+", css)[:3]]


def test_train_is_a_few_tab_presses_away_and_the_focus_ring_shows(page):
    """From the top of the Train page, Tab reaches the Train button in a few presses (the
    sidebar's stops included), and the focused button has a ring of at least 3:1."""
    open_train(page)
    stops = tabs_until(page, train_button(page))
    print(f"\nTab presses from the top of the Train page to Train: {len(stops)}")
    assert len(stops) <= MAX_TABS_TO_TRAIN, stops
    ring = train_button(page).evaluate(
        "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth,"
        " s.outlineColor, getComputedStyle(document.body).backgroundColor]; }"
    )
    style, width, colour, background = ring
    assert style == "solid" and float(width.removesuffix("px")) >= 2, ring
    assert contrast(rgb(colour), rgb(background)) >= 3, ring


def test_after_the_skip_link_train_is_the_first_stop(page):
    """Streamlit's "Skip to main content" comes first; from there, Train is the next stop."""
    open_train(page)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'stMain'")
    stops = tabs_until(page, train_button(page), limit=3)
    assert len(stops) <= 2, stops


@pytest.mark.slow
def test_focus_goes_to_the_new_run_then_to_its_outcome(page):
    """Train pressed with the keyboard: the focus moves to the run's heading, and when the run
    ends, to the line that says how it went (a screen reader reads each)."""
    page.goto("/train?epochs=1&train_size=500&val_size=100")
    settle(page)
    train_button(page).focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.activeElement.tagName === 'H3'"
        " && /^Run 1/.test(document.activeElement.innerText)",
        timeout=tb.SLOW,
    )
    page.wait_for_function(
        "() => document.activeElement.closest('[data-testid=stAlertContainer]')",
        timeout=3 * tb.SLOW,
    )
    assert re.search(r"Run 1 .*finished", page.evaluate(FOCUSED)), page.evaluate(FOCUSED)


def test_an_uploaded_model_takes_the_focus_in_the_model_picker(page, untrained_model):
    """After an upload the focus is on the picker that now shows the new model."""
    open_page(page, "/")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Load a model").click()
    page.locator("input[type=file]").set_input_files(untrained_model)
    page.wait_for_function(
        "() => document.activeElement.matches('[data-testid=stSidebar] input[role=combobox]')"
        " && document.activeElement.value.includes('untrained.keras')",
        timeout=tb.SLOW,
    )


# --- phones -----------------------------------------------------------------------------------

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
VISIBLE_CHART_FONTS = """() => [...document.querySelectorAll('.js-plotly-plot .main-svg text')]
  .filter((t) => t.textContent.trim() && t.getBoundingClientRect().width > 0
    && getComputedStyle(t).display !== 'none' && !t.closest('[display=none]'))
  .map((t) => parseFloat(getComputedStyle(t).fontSize))"""


@pytest.fixture
def phone(browser, server) -> Page:
    page = user(browser, server, "en", **PHONE)
    yield page
    page.context.close()


def wait_for_charts(page: Page, n: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=n
    )


def test_on_a_phone_train_is_on_the_first_screen(phone, shots):
    """390 × 844: the Train button shows without scrolling (the screenshot, phone-train.png,
    goes to $DIGIT_LAB_SCREENSHOTS, as docs/phone-train.png was made)."""
    open_page(phone, "/train")
    box = train_button(phone).bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["viewport"]["height"], box
    phone.screenshot(path=shots / "phone-train.png")


def test_on_a_phone_charts_have_no_toolbar_and_no_text_below_10_px(phone, untrained_model):
    """Data, Evaluate and Compare at 390 px: no Plotly toolbar over a title, no chart text
    smaller than 10 px (the pixel close-up drops its numbers rather than shrink them)."""
    load_model(phone, untrained_model)
    for path, charts in (("/data", 2), ("/evaluate", 2), ("/compare", 2)):
        open_page(phone, path)
        wait_for_charts(phone, charts)
        assert phone.locator(".modebar").count() == 0, path
        fonts = phone.evaluate(VISIBLE_CHART_FONTS)
        assert fonts and min(fonts) >= 10, (path, sorted(fonts)[:5])


def test_on_a_phone_the_menu_closes_after_a_tap_and_tables_keep_their_key_column(phone):
    """The sidebar, opened, closes when a page is tapped in it; the class board's first column
    on a narrow screen is the name of each run (pinned while the rest scrolls)."""
    open_page(phone, "/")
    sidebar = phone.get_by_test_id("stSidebar")
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    phone.get_by_test_id("stExpandSidebarButton").tap()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    tb.nav_link(phone, "Class board").tap()
    expect(phone.get_by_role("heading", name="Class board")).to_be_visible(timeout=tb.SLOW)
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    settle(phone)
    grid = phone.get_by_test_id("stDataFrame").first
    expect(grid).to_contain_text("Ada")
    first_header = grid.locator("th").first.inner_text()
    assert first_header.strip() == "name", first_header
