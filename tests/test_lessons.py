"""A lesson in a real browser: a lesson link shows only its settings and the goal card, a run is
judged against the goal, and, published, it is on the lesson's own board.

Screenshots go to $DIGIT_LAB_SCREENSHOTS when it is set (docs/lesson.png comes from here).
Run: MNIST_NPZ=/path/to/mnist.npz pytest tests/test_lessons.py -s
"""

from __future__ import annotations

import re

import pytest
from conftest import TINY

# The browser tests' server and helpers (their fixtures, used by name below).
from test_browser import (  # noqa: F401
    SLOW,
    first_visit,
    page,
    screenshot,
    server,
    server_log,
    wait_idle,
)

from mnist_core.classroom.lessons import Goal, Lesson
from mnist_core.config import network_layers

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.sync_api").expect

SETTINGS = TINY.replace(filters=(4, 8), epochs=1, train_size=2000, val_size=200)
PARAMS = sum(layer.params for layer in network_layers(SETTINGS))
LESSON = Lesson(
    SETTINGS,
    ("epochs", "batch_size"),
    Goal(accuracy=0.5, params=PARAMS),
    "Reach 50 % with this small network: how few epochs does it take?",
)


def test_a_lesson_shows_its_settings_judges_a_run_and_has_its_board(page, shots):  # noqa: F811
    page.goto(f"/train?{LESSON.query('en')}")
    train = page.get_by_role("button", name="Train", exact=True)
    expect(train).to_be_enabled(timeout=SLOW)
    wait_idle(page)
    main = page.get_by_test_id("stMain")
    # Only the lesson's two settings, open; no presets, no tabs, no other setting.
    expect(main.get_by_role("heading", name="Goal", exact=True)).to_be_visible()
    expect(main.get_by_text(LESSON.task)).to_be_visible()
    expect(main.get_by_text(f"at most {PARAMS:,} parameters")).to_be_visible()
    expect(main.get_by_role("slider")).to_have_count(2)
    expect(main.get_by_role("slider", name="Epochs")).to_have_value("1")
    expect(main.get_by_role("slider", name="Batch size")).to_have_attribute("aria-valuetext", "64")
    expect(main.get_by_role("tab")).to_have_count(0)
    expect(main.get_by_role("button", name="codelab", exact=True)).to_have_count(0)
    expect(main.get_by_text("Fixed by the lesson: Filters per block: 4, 8")).to_be_visible()

    train.click()
    verdict = main.get_by_test_id("stAlert").filter(has_text=re.compile("Goal (not )?met"))
    expect(verdict).to_be_visible(timeout=3 * SLOW)
    text = verdict.inner_text()  # after the icon's name
    assert f"{PARAMS:,} parameters, at most {PARAMS:,}" in text, text
    if "Goal not met" not in text:
        assert re.search(r"test accuracy [\d.]+ %, at least 50 %", text), text
    else:
        assert re.search(r"test accuracy [\d.]+ %, [\d.]+ points short of 50 %", text), text
    expect(page.get_by_role("heading", name="Run history")).to_be_visible(timeout=SLOW)
    wait_idle(page)
    screenshot(page, shots / "lesson.png")

    page.get_by_label("Your name, as the board shows it").fill("Ada")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_text("Published as “Ada”")).to_be_visible(timeout=SLOW)
    main.get_by_role("link", name="This lesson's board").click()
    expect(page.get_by_role("heading", name="This lesson's board")).to_be_visible(timeout=SLOW)
    runs = page.get_by_test_id("stMetric").filter(has_text="Runs tried")
    expect(runs).to_contain_text("1", timeout=SLOW)
    expect(page.get_by_test_id("stDataFrame")).to_contain_text("Ada")
    expect(page.get_by_text("The chart in words: 1 run")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(1)
    assert f"goal_params={PARAMS}" in page.url, "the board's address carries the lesson"
    wait_idle(page)
    screenshot(page, shots / "lesson-board.png")
