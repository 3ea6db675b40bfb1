"""The deeper views in a real browser: the dense preset and the weights while training, the map
of digits, and how a filter computes. Same server, browser and helpers as tests/test_browser.py.

Run: MNIST_NPZ=/path/to/mnist.npz pytest tests/test_deeper_views.py -s (screenshots go to
$DIGIT_LAB_SCREENSHOTS when it is set)."""

from __future__ import annotations

import re

import pytest
import test_browser as tb
from test_browser import (
    DRAW_TITLE,
    LARGE,
    SLOW,
    TRAIN_TITLE,
    draw_digit,
    ensure_a_model,
    expect,
    screenshot,
    train_and_wait,
    wait_idle,
)

# The browser tests' fixtures: one server for this module (and conftest.py's browser), a user
# per test.
server_log, server, first_visit, page = tb.server_log, tb.server, tb.first_visit, tb.page
pytestmark = pytest.mark.browser


def test_the_dense_preset_trains_and_the_weights_show_each_epoch_then_replay(page, shots):
    page.goto("/train")
    expect(page.get_by_role("heading", name=TRAIN_TITLE)).to_be_visible(timeout=SLOW)
    wait_idle(page)
    page.get_by_role("button", name="dense", exact=True).click()
    expect(page.get_by_text("The dense preset")).to_be_visible(timeout=SLOW)
    wait_idle(page)
    # No conv layer, and about the codelab network's size.
    expect(page.locator("p", has_text="6,370 parameters")).to_be_visible(timeout=SLOW)
    train_and_wait(page, epochs=3, train_digits=3000)
    expect(page.get_by_text("The weights, epoch by epoch")).to_be_visible(timeout=SLOW)
    replay = page.get_by_role("slider", name="Replay the run: the weights after epoch")
    expect(replay).to_be_visible()
    title = page.locator(".js-plotly-plot", has_text="Weights after epoch").first
    expect(title).to_contain_text("Weights after epoch 3")
    expect(title).to_contain_text("dense: changed")
    replay.focus()
    replay.press("Home")
    expect(title).to_contain_text("Weights after epoch 1", timeout=SLOW)
    screenshot(page, shots / "train-weights.png")
    # Compare puts the dense run (the current model, A) beside the shipped conv model (B), and
    # shows both over the same turned and moved digits once that section is opened.
    tb.go_via_sidebar(page, "Compare", "Compare two models")
    wait_idle(page)
    page.get_by_text("Turned and moved: which one still reads them?").click()
    widest = page.get_by_text(re.compile(r"At the widest: A reads \d+% of them, B \d+%"))
    expect(widest).to_have_count(2, timeout=SLOW)
    for chart in ("Turned", "Moved sideways"):
        expect(page.locator(".js-plotly-plot", has_text=chart).first).to_be_visible()


def test_the_map_of_digits_offers_tsne_and_marks_the_mistakes(page, shots):
    page.goto("/evaluate")
    expect(page.get_by_role("heading", name="A map of digits")).to_be_visible(timeout=SLOW)
    chart = page.locator(".js-plotly-plot", has_text="digit").last
    expect(chart).to_be_visible(timeout=SLOW)
    tsne = page.get_by_role("radio", name="t-SNE")
    expect(tsne).to_be_enabled(timeout=5 * SLOW)  # worked out in the background, then offered
    page.get_by_text("t-SNE", exact=True).click()
    wait_idle(page)
    page.get_by_text("Highlight the mistakes").click()
    wait_idle(page)
    expect(page.locator(".js-plotly-plot .legendtext", has_text="mistakes")).to_be_visible(
        timeout=SLOW
    )
    screenshot(page, shots / "evaluate-map.png")


def test_draw_shows_where_the_drawing_lands_and_how_a_filter_computes(page, shots):
    page.goto("/draw")
    expect(page.get_by_role("heading", name=DRAW_TITLE)).to_be_visible(timeout=SLOW)
    ensure_a_model(page)
    draw_digit(page, "7", LARGE)
    page.get_by_text("Where does your digit land?").click()
    sentence = page.get_by_text(re.compile(r"^Your \d lands among the \ds"))
    expect(sentence).to_be_visible(timeout=SLOW)
    page.get_by_text("How does a filter compute?").click()
    words = page.get_by_text(re.compile(r"the value at row 7, column 7 of feature map 0"))
    expect(words).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="Next", exact=True).click()
    expect(
        page.get_by_text(re.compile(r"the value at row 7, column 8 of feature map 0"))
    ).to_be_visible(timeout=SLOW)
    wait_idle(page)
    screenshot(page, shots / "draw-deeper.png")
