"""Accessibility in a real browser: axe-core's WCAG 2.1 AA rules on every page, in English and
in Chinese, and the keyboard path to Train.

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

from bench.browser import WATCH_SCRIPT_RUNS, launch_chromium, start_app, stop_app
from mnist_core.board import BOARD_FILE, Board
from mnist_core.config import TrainConfig

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
    env = tb._server_env() | {"DIGIT_LAB_DATA_DIR": str(board_dir)}
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    try:
        process, url = start_app(env, log=log)
    except RuntimeError as err:
        pytest.fail(f"{err}:\n{log.read_text()[-3000:]}")
    try:
        yield url
    finally:
        stop_app(process)


@pytest.fixture(scope="module")
def browser() -> Browser:
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def user(browser: Browser, server: str, language: str, **options) -> Page:
    """A fresh browser context whose browser speaks `language` ("en" or "zh")."""
    context = browser.new_context(
        viewport=tb.VIEWPORT, base_url=server, locale=LANGUAGES[language], **options
    )
    context.add_init_script(WATCH_SCRIPT_RUNS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def settle(page: Page) -> None:
    """Until the page has run and drawn: no script run, a title, every image loaded."""
    expect(page.locator("[data-testid=stMainBlockContainer] h1").first).to_be_visible(
        timeout=tb.SLOW
    )
    tb.wait_idle(page)
    page.wait_for_function("() => [...document.images].every((image) => image.complete)")


def open_page(page: Page, path: str) -> None:
    page.goto(path)
    settle(page)


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory) -> Path:
    """The codelab's network before any training, as a .keras file: a second model that reads
    most digits differently from the ready-made one."""
    import mnist_core as mc

    path = tmp_path_factory.mktemp("models") / "untrained.keras"
    path.write_bytes(mc.model_to_bytes(mc.build_model(mc.PRESETS["codelab"])))
    return path


def load_model(page: Page, model: Path) -> None:
    """Upload `model` in the sidebar: it becomes the current one, beside the ready-made one."""
    open_page(page, "/")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stPopover").get_by_role("button").click()
    page.locator("input[type=file]").set_input_files(model)
    expect(sidebar.get_by_role("combobox").first).to_have_value(
        re.compile(re.escape(model.name)), timeout=tb.SLOW
    )
    page.keyboard.press("Escape")
    settle(page)


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
                tb.draw_digit(page, "7", tb.LARGE)
                settle(page)
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
