"""A model as a web page: every network Train builds exports, and the page, opened from a file
in Chromium with the network cut off, reads digits as the app does."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_pages import (
    _app,
    _navigation_as_on_a_running_server,  # noqa: F401  # the autouse fixture, here too
    downloads,  # noqa: F401  # the fixture
)

from bench.browser import CHROMIUM
from mnist_core import i18n
from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.config import ACTIVATIONS, TrainConfig
from mnist_core.data import evaluation_indices
from mnist_core.engine import web_export
from mnist_core.engine.backend import keras
from mnist_core.engine.model import build_model, predict
from mnist_core.engine.preprocess import DigitTooSmallError, image_to_mnist
from mnist_core.engine.web_export import WebExportError, model_to_html, web_layers

TOLERANCE = 1e-4  # the largest difference allowed between the page's probabilities and Keras's
SMALL = TrainConfig(filters=(4, 8), kernel_sizes=(3, 3), dense_units=16)
# Every kind of network the Train page can build: each activation, batch normalisation,
# strides and padding, every pooling, 1 to 3 blocks, the augmentations and dropout.
CONFIGS = {
    **{f"activation {name}": SMALL.replace(activation=name) for name in ACTIVATIONS},
    "batch norm, gelu": SMALL.replace(batch_norm=True, activation="gelu"),
    "strides 2, same, no pooling": SMALL.replace(strides=2, padding="same", pooling="none"),
    "strides 3, valid, average": TrainConfig(
        filters=(8,), kernel_sizes=(5,), strides=3, pooling="average"
    ),
    "3 blocks, same, max, kernel 7": TrainConfig(
        filters=(4, 8, 16), kernel_sizes=(7, 5, 1), padding="same", batch_norm=True
    ),
    "augmented, dropout, no dense": TrainConfig(
        filters=(8, 16), shift=0.1, rotation=10.0, zoom=0.1, dropout=0.3, dense_units=0
    ),
}


def _randomised(model: keras.Model, seed: int = 0) -> keras.Model:
    """`model` with random weights that make confident, varied answers, batch normalisation's
    statistics included: a freshly built network answers about 10 % everywhere, and its
    normalisation does nothing, so neither would show a layer rebuilt wrongly."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        if "moving_variance" in weight.path:
            value = rng.uniform(0.2, 3.0, shape)
        elif "moving_mean" in weight.path or "beta" in weight.path:
            value = rng.normal(0, 0.5, shape)
        elif "gamma" in weight.path:
            value = rng.uniform(0.5, 2.0, shape)
        else:
            value = rng.normal(0, 2.0 / np.sqrt(fan_in), shape)
        weight.assign(value.astype(np.float32))
    return model


def _uploaded_kinds() -> keras.Model:
    """A network Train does not build but an upload may hold: the other layers the page runs."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Rescaling(2.0, offset=-1.0),
            layers.ZeroPadding2D(((1, 2), (2, 1))),
            layers.Conv2D(6, 3, activation="silu"),
            layers.LeakyReLU(0.2),
            layers.AveragePooling2D(2, padding="same"),
            layers.Conv2D(8, 3, strides=2, activation="selu"),
            layers.ReLU(),
            layers.MaxPooling2D(3, strides=1),
            layers.Reshape((-1, 8)),
            layers.Flatten(),
            layers.Dense(24, activation="softplus"),
            layers.Dense(24, activation="softsign"),
            layers.Dense(24, activation="mish"),
            layers.Dense(24, activation="linear"),
            layers.Dense(10),
            layers.Softmax(),
        ]
    )


def _global_pooling() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(12, 5, activation="tanh")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


# --- what exports and what is refused (no browser) ------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_every_kind_of_train_network_becomes_web_layers(name):
    model = build_model(CONFIGS[name])
    kinds = [layer.kind for layer in web_layers(model)]
    assert kinds.count("conv2d") == CONFIGS[name].conv_blocks
    assert kinds[-1] == "dense" and "dropout" not in kinds


def _dilated() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, dilation_rate=2, name="wide"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _recurrent() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Reshape((28, 28)),
            keras.layers.LSTM(8, name="memory"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _shared_layer() -> keras.Model:
    """The same ReLU twice: model.layers lists it once, so the layers in order are not the net."""
    inputs = keras.Input((28, 28, 1))
    relu = keras.layers.Activation("relu", name="shared")
    x = keras.layers.Dense(10)(relu(keras.layers.Flatten()(inputs)))
    return keras.Model(inputs, keras.layers.Softmax()(relu(x)))


@pytest.mark.parametrize(
    ("make", "english", "chinese"),
    [
        (_recurrent, "its layer “memory” is a LSTM", "“memory”"),
        (_dilated, "“wide” (Conv2D) has dilation_rate=(2, 2)", "dilation_rate=(2, 2)"),
        (_shared_layer, "do not follow one another in a single line", "不是一条直线"),
    ],
)
def test_a_network_the_page_cannot_run_is_refused_saying_why_in_both_languages(
    make, english, chinese
):
    model = make()
    with pytest.raises(WebExportError, match=re.escape(english)) as refused:
        web_layers(model)
    assert "Every network the Train page builds can." in str(refused.value)
    assert web_export.export_problem(model) == str(refused.value)
    previous = i18n.set_language_source(lambda: "zh")
    try:
        problem = web_export.export_problem(model)
    finally:
        i18n.set_language_source(previous)
    assert chinese in problem and "网页" in problem, problem


def test_the_page_holds_the_library_its_licence_and_the_words_of_the_language_asked(
    default_model,
):
    english = model_to_html(default_model, "My <model>", "en", "3 layers")
    chinese = model_to_html(default_model, "我的模型", "zh")
    assert "<title>My &lt;model&gt;</title>" in english and 'lang="en"' in english
    assert 'id="prediction"' in english and 'id="pad"' in english
    assert "Apache License" in english and "TensorFlow.js 4.22.0" in english
    assert "http://" not in english.replace("http://www.apache.org/licenses/", "")
    assert 'lang="zh-Hans"' in chinese and "预测" in chinese
    assert english.count("<script") == 5  # the library's three parts, the network, the page


# --- the page in Chromium, offline ----------------------------------------------------------

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
DESKTOP = {"viewport": {"width": 900, "height": 760}}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


class OfflinePage:
    """An exported page opened from a file:// URL with every other request refused (and
    counted)."""

    def __init__(self, browser, html: str, folder: Path, **context):
        self.file = folder / "model.html"
        self.file.write_text(html, encoding="utf-8")
        self.context = browser.new_context(**context)
        self.refused: list[str] = []
        self.context.route("**/*", self._only_files)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(self.file.as_uri())
        self.page.wait_for_function("document.documentElement.dataset.state !== 'loading'")
        assert self.page.evaluate("document.documentElement.dataset.state") == "ready", (
            self.page.locator("#status").inner_text()
        )

    def _only_files(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def predict(self, images: np.ndarray) -> np.ndarray:
        flat = np.asarray(images, np.float32).reshape(len(images), -1).tolist()
        return np.array(self.page.evaluate("images => window.digitLab.predict(images)", flat))

    def close(self) -> None:
        assert not self.errors, self.errors
        assert not self.refused, f"the page asked the network for {self.refused}"
        self.context.close()


@pytest.fixture(scope="module")
def test_digits(mnist) -> np.ndarray:
    """100 digits of MNIST's official test split, as floats in [0, 1]."""
    indices = evaluation_indices(mnist, 100, seed=1)
    return mnist.x_test[indices].astype(np.float32) / 255


def _assert_same_answers(browser, model, digits, folder: Path) -> None:
    page = OfflinePage(browser, model_to_html(model, "test"), folder)
    try:
        got, expected = page.predict(digits), predict(model, digits)
    finally:
        page.close()
    assert got.shape == expected.shape == (len(digits), 10)
    assert np.abs(got - expected).max() < TOLERANCE
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


@needs_chromium
@pytest.mark.browser
def test_the_default_models_page_gives_its_probabilities_on_100_test_digits(
    browser, default_model, test_digits, tmp_path
):
    _assert_same_answers(browser, default_model, test_digits, tmp_path)
    answers = predict(default_model, test_digits).argmax(axis=1)
    assert len(set(answers)) == 10, "the digits and the answers cover every class"


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("name", CONFIGS)
def test_every_kind_of_train_network_gives_the_same_probabilities_in_the_page(
    browser, name, test_digits, tmp_path
):
    model = _randomised(build_model(CONFIGS[name]))
    _assert_same_answers(browser, model, test_digits, tmp_path)


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("make", [_uploaded_kinds, _global_pooling])
def test_other_layers_an_upload_may_hold_give_the_same_probabilities(
    browser, make, test_digits, tmp_path
):
    _assert_same_answers(browser, _randomised(make(), seed=3), test_digits, tmp_path)


def _drawing(points: list[tuple[float, float]], box: tuple, width: int = 20) -> np.ndarray:
    """A 280 × 280 RGBA canvas with one white stroke through `points` (unit coordinates inside
    `box`: left, top, width, height as fractions of the canvas)."""
    left, top, w, h = (280 * v for v in box)
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    path = [(left + u * w, top + v * h) for u, v in points]
    ImageDraw.Draw(image).line(path, fill=(255, 255, 255, 255), width=width, joint="curve")
    return np.asarray(image)


SEVEN = [(0.15, 0.0), (0.85, 0.0), (0.4, 1.0)]
DRAWINGS = {
    "a large 7": _drawing(SEVEN, (0.2, 0.2, 0.6, 0.6)),
    "a thin 1 at the edge": _drawing([(0.5, 0.0), (0.5, 1.0)], (0.75, 0.0, 0.2, 1.0), 9),
    "a wide stroke, upscaled": _drawing([(0.0, 0.5), (1.0, 0.6)], (0.02, 0.4, 0.11, 0.05), 8),
    "a small 4 in a corner": _drawing(
        [(0.68, 1.0), (0.68, 0.0), (0.12, 0.66), (0.9, 0.66)], (0.0, 0.0, 0.25, 0.25), 6
    ),
}


@needs_chromium
@pytest.mark.browser
def test_the_pages_preprocessing_is_the_apps(browser, default_model, tmp_path):
    page = OfflinePage(browser, model_to_html(default_model, "test"), tmp_path)
    try:
        for name, rgba in DRAWINGS.items():
            expected = image_to_mnist(rgba, drawing=True)
            got = page.page.evaluate(
                "([rgba, w, h]) => window.digitLab.preprocess(rgba, w, h)",
                [rgba.ravel().tolist(), 280, 280],
            )
            assert np.abs(np.reshape(got, (28, 28)) - expected).max() < 1e-5, name
        dot = _drawing([(0.5, 0.5), (0.5, 0.5)], (0.5, 0.5, 0.0, 0.0), 12)
        with pytest.raises(DigitTooSmallError):
            image_to_mnist(dot, drawing=True)
        refusal = page.page.evaluate(
            "([rgba, w, h]) => { try { window.digitLab.preprocess(rgba, w, h); return ''; }"
            " catch (error) { return error.message; } }",
            [dot.ravel().tolist(), 280, 280],
        )
        assert "too small to read as a digit" in refusal and "at least 28 px" in refusal
    finally:
        page.close()


def _stroke(page, points: list[tuple[float, float]], touch: bool = False) -> None:
    """Draw one stroke across the pad (unit coordinates inside its middle 60 %), with the
    mouse or, through Chromium's own input events, a finger."""
    box = page.locator("#pad").bounding_box()
    at = [
        (box["x"] + box["width"] * (0.2 + 0.6 * u), box["y"] + box["height"] * (0.2 + 0.6 * v))
        for u, v in points
    ]
    if not touch:
        page.mouse.move(*at[0])
        page.mouse.down()
        for x, y in at[1:]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        return
    cdp = page.context.new_cdp_session(page)
    events = [("touchStart", at[0])]
    for (x0, y0), (x1, y1) in itertools.pairwise(at):
        events += [
            ("touchMove", (x0 + (x1 - x0) * t / 8, y0 + (y1 - y0) * t / 8)) for t in range(1, 9)
        ]
    for kind, (x, y) in events:
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _read(page, before: int) -> str:
    page.wait_for_function(
        "n => Number(document.documentElement.dataset.readings || 0) > n", arg=before
    )
    return page.locator("#prediction").inner_text().strip()


@needs_chromium
@pytest.mark.browser
def test_a_7_drawn_on_the_downloaded_page_offline_is_read_as_7(
    browser, default_model, tmp_path, shots
):
    html = model_to_html(default_model, "Default model · Digit Lab")
    page = OfflinePage(browser, html, tmp_path, **DESKTOP)
    try:
        assert page.page.locator("#prediction").inner_text().strip() == "–"
        _stroke(page.page, SEVEN)
        assert _read(page.page, 0) == "7"
        bars = page.page.locator("#bars li")
        assert bars.count() == 10
        assert "best" in bars.nth(7).get_attribute("class")
        values = [
            float(text.strip().rstrip("%")) for text in bars.locator(".value").all_inner_texts()
        ]
        assert abs(sum(values) - 100) < 1.5 and values[7] == max(values)
        page.page.screenshot(path=shots / "web-export.png", full_page=True)
        page.page.get_by_role("button", name="Clear").click()
        assert _read(page.page, 1) == "–"
    finally:
        page.close()


@needs_chromium
@pytest.mark.browser
def test_a_finger_draws_on_the_page_too(browser, default_model, tmp_path):
    page = OfflinePage(browser, model_to_html(default_model, "test"), tmp_path, **PHONE)
    try:
        _stroke(page.page, SEVEN, touch=True)
        assert _read(page.page, 0) == "7"
    finally:
        page.close()


# --- the buttons in the app -------------------------------------------------------------------


def test_draw_and_the_sidebar_download_the_current_model_as_a_web_page(downloads):  # noqa: F811
    at = _app("pages/draw.py")
    on_draw = at.download_button(key="draw_web_page")
    in_sidebar = at.sidebar.download_button(key="sidebar_web_page")
    for button in (on_draw, in_sidebar):
        assert button.label == "Download as a web page"
        file_name, mimetype, make = downloads[button.proto.deferred_file_id]
        assert (file_name, mimetype) == ("default-model.html", "text/html")
        assert button.proto.ignore_rerun, "a click reruns nothing"
    page = make()
    assert page.startswith("<!doctype html>") and 'id="prediction"' in page
    assert "<title>Default model · Digit Lab</title>" in page


def test_an_upload_the_page_cannot_run_gets_the_reason_instead_of_the_button():
    at = _app("pages/draw.py")
    name = "memory.keras (uploaded)"
    at.session_state["workspace"].uploads[name] = ModelEntry.of(
        name, _recurrent(), None, "", "10:00"
    )
    at.run()  # an upload joins the picker as the current model
    assert at.session_state["current_model"] == name
    assert not [b for b in at.download_button if b.key in ("draw_web_page", "sidebar_web_page")]
    reason = "This network cannot become a web page: its layer “memory” is a LSTM"
    assert any(reason in caption.value for caption in at.sidebar.caption)
    assert any(reason in caption.value for caption in at.main.caption)
