"""Draw on a phone: the real app in Chromium with a 390 × 844 touch screen, a finger for a pen
and a camera that films a real MNIST test digit written on paper.

Screenshots go to $DIGIT_LAB_SCREENSHOTS when it is set (else to the test's tmp_path).
Run: MNIST_NPZ=/path/to/mnist.npz pytest tests/test_phone.py
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from conftest import running_app

# The browser tests' Playwright (imported once Chromium and Playwright are found), and helpers.
from test_browser import expect, server_env, sync_api, wait_idle

from bench.browser import CHROMIUM, CHROMIUM_ARGS, WATCH_SCRIPT_RUNS

pytestmark = pytest.mark.browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

PHONE = {  # a 390 × 844 phone held upright, touch only
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}
SLOW = 120_000  # ms: the first TensorFlow import, or another job hogging the CPU
DRAW_HINT = "Draw a digit on the black square"
SEVEN = [(0.15, 0.0), (0.85, 0.0), (0.4, 1.0)]  # one stroke, in a unit box
LARGE = (0.2, 0.2, 0.6)  # left, top, size as fractions of the canvas


# --- the server, the camera's film and the browser --------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """`streamlit run app.py` on a free port, with a class board of its own."""
    env = server_env(str(tmp_path_factory.mktemp("board")))
    with running_app(env, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


def paper_with(digit: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """A camera's view of `digit` (a 28×28 MNIST digit, white on black) written in dark ink on
    light, slightly uneven paper: 8-bit luminance, the digit about half the picture's height."""
    side = height // 2
    big = np.kron(digit, np.ones((side // 28, side // 28))).astype(np.float64)
    rows = np.linspace(0, 1, height)[:, None]
    view = 225 - 15 * rows + np.zeros((height, width))  # lit from above
    top, left = (height - big.shape[0]) // 2, (width - big.shape[1]) // 2
    patch = view[top : top + big.shape[0], left : left + big.shape[1]]
    patch -= (big / 255) * (patch - 40)  # ink: dark grey where the digit is white
    return np.clip(view, 0, 255).astype(np.uint8)


def write_y4m(path: Path, luminance: np.ndarray, frames: int = 5) -> None:
    """A still picture as a Y4M video, the format Chromium's fake camera plays: a header, then
    each frame as its Y plane and two quarter-size chroma planes (grey: 128)."""
    height, width = luminance.shape
    chroma = np.full((height // 2) * (width // 2), 128, np.uint8).tobytes()
    frame = b"FRAME\n" + luminance.tobytes() + chroma + chroma
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


@pytest.fixture(scope="module")
def filmed_seven(mnist, tmp_path_factory) -> Path:
    """The fake camera's film: the first 7 of MNIST's test set, on paper."""
    index = int(np.flatnonzero(mnist.y_test == 7)[0])
    path = tmp_path_factory.mktemp("camera") / "seven.y4m"
    write_y4m(path, paper_with(mnist.x_test[index]))
    return path


@pytest.fixture(scope="module")
def browser(filmed_seven) -> Browser:
    """Chromium whose camera films the 7, allowed without asking."""
    camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={filmed_seven}",
    ]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + camera
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(browser, server) -> Page:
    """A fresh phone-sized touch page: a user of its own."""
    context = browser.new_context(**PHONE, base_url=server)
    context.add_init_script(WATCH_SCRIPT_RUNS)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# --- helpers ----------------------------------------------------------------------------------


def canvas(page: Page) -> Locator:
    """Fabric.js's drawing layer of the canvas (in the component's shadow root)."""
    return page.locator("canvas.upper-canvas")


def open_draw(page: Page) -> None:
    page.goto("/draw")
    expect(page.get_by_text(DRAW_HINT)).to_be_visible(timeout=SLOW)
    expect(canvas(page)).to_be_visible(timeout=SLOW)
    wait_idle(page)


def bring_under_the_header(page: Page, selector: str) -> None:
    """Scroll as a person does before drawing or taking a photo: the top of what `selector`
    finds just under the page's header."""
    page.evaluate(
        """(selector) => {
          const header = document.querySelector("[data-testid=stHeader]");
          document.querySelector(selector).scrollIntoView({ block: "start" });
          document.querySelector("[data-testid=stMain]")
            .scrollBy(0, -header.getBoundingClientRect().bottom - 8);
        }""",
        selector,
    )
    box = page.locator(selector).bounding_box()
    header = page.get_by_test_id("stHeader").bounding_box()
    assert header["y"] + header["height"] <= box["y"] < header["y"] + header["height"] + 20


def touch_stroke(page: Page, stroke: list[tuple[float, float]], where: tuple) -> None:
    """One stroke with a finger: touch events from the browser's own input pipeline (which
    makes the pointer events too), as a touch screen sends them."""
    box = canvas(page).bounding_box()
    left, top, size = where

    def point(u: float, v: float) -> dict:
        return {
            "x": box["x"] + box["width"] * (left + u * size),
            "y": box["y"] + box["height"] * (top + v * size),
        }

    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point(*stroke[0])]}
        )
        for (u0, v0), (u1, v1) in itertools.pairwise(stroke):
            for step in range(1, 7):
                t = step / 6
                where_now = point(u0 + t * (u1 - u0), v0 + t * (v1 - v0))
                cdp.send(
                    "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [where_now]}
                )
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def draw_with_a_finger(page: Page, stroke: list[tuple[float, float]], where: tuple) -> None:
    """Draw until the app has read the drawing (a freshly mounted canvas may not be listening
    yet: its stroke is lost, then the app never runs; draw again)."""
    for _attempt in range(3):
        before = page.evaluate("window.__digitLabStarts")
        touch_stroke(page, stroke, where)
        try:
            page.wait_for_function("n => window.__digitLabStarts > n", arg=before, timeout=20_000)
        except sync_api.TimeoutError:
            print("  (the stroke was lost: drawing it again)")
            continue
        wait_idle(page)
        if not page.get_by_text(DRAW_HINT).is_visible():
            return
    pytest.fail("the app never read the drawing")


def metric(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text=label)


def probability_bars(page: Page) -> Locator:
    return page.get_by_role("img", name=re.compile(r"^Probability of each digit"))


def on_screen(page: Page, box: dict) -> bool:
    viewport = page.viewport_size
    right, bottom = box["x"] + box["width"], box["y"] + box["height"]
    return (
        min(box["x"], box["y"]) >= 0 and right <= viewport["width"] and bottom <= viewport["height"]
    )


def overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


# --- the tests --------------------------------------------------------------------------------


def test_a_7_drawn_with_a_finger_is_read_with_the_answer_on_screen_beside_the_canvas(phone, shots):
    """After a stroke the canvas, the prediction and the ten probabilities are all on the screen
    at once; the canvas's toolbar sits outside it, shown, and its corner takes the finger."""
    open_draw(phone)
    expect(phone.get_by_role("img", name=re.compile("^Drawing canvas"))).to_have_count(1)
    bring_under_the_header(phone, "[data-testid=stBidiComponentIsolated]")
    draw_with_a_finger(phone, SEVEN, LARGE)
    expect(metric(phone, "Prediction").get_by_test_id("stMetricValue")).to_have_text("7")
    expect(probability_bars(phone)).to_be_visible()

    canvas_box = canvas(phone).bounding_box()
    shown = {
        "canvas": canvas_box,
        "prediction": metric(phone, "Prediction").bounding_box(),
        "confidence": metric(phone, "Confidence").bounding_box(),
        "probabilities": probability_bars(phone).bounding_box(),
    }
    off_screen = {name: box for name, box in shown.items() if not on_screen(phone, box)}
    assert not off_screen, f"off the 390 × 844 screen after the stroke: {off_screen}"

    # The toolbar: Undo and Redo shown, big enough for a finger, none of it over the canvas.
    toolbar = phone.locator(".dc-toolbar button")
    shown_buttons = [b for b in toolbar.all() if b.is_visible()]
    assert [b.get_attribute("aria-label") for b in shown_buttons] == ["Undo", "Redo"]
    for button in toolbar.all():
        box = button.bounding_box()
        assert box is None or not overlap(box, canvas_box), button.get_attribute("aria-label")
    assert all(b.bounding_box()["height"] >= 24 for b in shown_buttons)
    # What a finger on the canvas's top-right corner touches is the canvas itself.
    corner = phone.evaluate(
        """([x, y]) => {
          const root = document.querySelector("[data-testid=stBidiComponentIsolated]").shadowRoot;
          return root.elementFromPoint(x, y)?.className;
        }""",
        [canvas_box["x"] + canvas_box["width"] - 6, canvas_box["y"] + 6],
    )
    assert "upper-canvas" in corner
    phone.screenshot(path=shots / "phone-draw.png")

    # Undo, tapped, takes the stroke back: the page says so and the answer goes.
    phone.get_by_role("button", name="Undo", exact=True).tap()
    expect(phone.get_by_text(DRAW_HINT)).to_be_visible(timeout=SLOW)
    expect(metric(phone, "Prediction")).to_have_count(0)


def test_a_photo_of_a_digit_on_paper_is_read(phone, shots):
    """The camera films a 7 written in dark ink on paper; one tap on Take Photo reads it."""
    open_draw(phone)
    phone.get_by_role("tab", name="Take a photo").tap()
    expect(phone.get_by_test_id("stCameraInput")).to_have_count(0)  # no camera until asked
    phone.get_by_text("Use my camera", exact=True).tap()
    take = phone.get_by_role("button", name="Take Photo")
    expect(take).to_be_enabled(timeout=SLOW)
    # Enabled once the camera streams: its video is playing.
    phone.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stCameraInput] video')]"
        ".some((v) => v.readyState >= 2 && v.videoWidth > 0)",
        timeout=SLOW,
    )
    take.tap()
    prediction = metric(phone, "Prediction").get_by_test_id("stMetricValue")
    expect(prediction).to_have_text("7", timeout=SLOW)
    wait_idle(phone)
    expect(phone.get_by_text(re.compile(r"^What the model sees \(your photo:"))).to_be_visible()
    centred = phone.get_by_role("img", name="your photo, centred in 28×28: what the network reads")
    expect(centred).to_have_count(1)
    # The photo and its answer fit on the screen together.
    bring_under_the_header(phone, "[data-testid=stCameraInput]")
    photo = phone.get_by_test_id("stCameraInput").locator("img")
    shown = {
        "photo": photo.bounding_box(),
        "prediction": metric(phone, "Prediction").bounding_box(),
        "probabilities": probability_bars(phone).bounding_box(),
    }
    off_screen = {name: box for name, box in shown.items() if not on_screen(phone, box)}
    assert not off_screen, f"off the 390 × 844 screen with the photo: {off_screen}"
    phone.screenshot(path=shots / "phone-camera.png")
