"""The deeper views, driven through Streamlit's AppTest: the dense preset, the map of digits, how
a filter computes, the weights while training."""

import base64
import re
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from conftest import DEFAULT_MODEL
from streamlit.testing.v1 import AppTest
from test_pages import (  # noqa: F401  (the fixture applies here too)
    _app,
    _canvas_with,
    _inject_drawing,
    _navigation_as_on_a_running_server,
    _wait_for_runs,
)

from mnist_core.data import evaluation_indices
from mnist_core.engine.model import feature_maps, load_model, predict
from mnist_core.engine.preprocess import preprocess_steps


def _train(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Train").click().run()


def _small(at: AppTest, epochs: int = 2) -> None:
    """Sizes small enough to train in a few seconds on the offline sample."""
    at.slider(key="hp_train_size").set_value(1000)
    at.slider(key="hp_val_size").set_value(200)
    at.select_slider(key="hp_batch_size").set_value(64)
    at.slider(key="hp_epochs").set_value(epochs).run()


def _parameters(at: AppTest) -> int:
    table: pd.DataFrame = at.dataframe[0].value
    return int(table["parameters"].sum())


def test_the_dense_preset_is_offered_trains_and_compares_with_a_conv_model():
    at = _app("pages/train.py")
    codelab = _parameters(at)
    at.button(key="preset_dense").click().run()
    assert at.button(key="preset_dense").proto.type == "primary"
    assert at.slider(key="hp_blocks").value == 0
    assert "no filters at all" in at.button(key="preset_dense").proto.help
    table = at.dataframe[0].value
    assert "Conv2D" not in set(table["type"])
    assert abs(_parameters(at) - codelab) / codelab < 0.1  # about the codelab network's size
    _small(at)
    _train(at)
    _wait_for_runs(at, 1)
    job = at.session_state["workspace"].jobs[0]
    assert job.state == "done" and job.evaluation.accuracy > 0.3, job.error
    assert job.config.filters == ()
    # Compare puts it beside the shipped conv model, digit by digit.
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare_a").value == job.name
    assert at.selectbox(key="compare_b").value == "Default model"
    assert list(at.dataframe[0].value["digit"]) == list(range(10))
    # Turned and moved: both models' accuracy over the same turns and moves, once opened.
    charts = len(at.get("plotly_chart"))
    at.session_state["compare_sweeps"] = True  # as a click on the section does
    at.run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == charts + 2
    turned = pio.from_json(at.get("plotly_chart")[-2].proto.spec)
    moved = pio.from_json(at.get("plotly_chart")[-1].proto.spec)
    assert [trace.name for trace in turned.data] == ["A: " + job.name, "B: Default model"]
    # Moved 6 pixels, the dense network (A) loses far more of its digits than the conv one.
    dense_far, conv_far = (min(_array(trace.y)[[0, -1]]) for trace in moved.data)
    assert conv_far > dense_far + 0.2, (dense_far, conv_far)
    assert sum("At the widest" in c.value for c in at.main.caption) == 2
    # Draw has nothing to look inside and says so.
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception


def _figure(at: AppTest, key_part: str) -> go.Figure:
    chart = next(c for c in at.get("plotly_chart") if key_part in c.proto.id)
    return pio.from_json(chart.proto.spec)


def _array(values) -> np.ndarray:
    """A trace's array as the page sent it: Plotly writes numpy arrays as base64 typed arrays."""
    if isinstance(values, dict) and "bdata" in values:
        flat = np.frombuffer(base64.b64decode(values["bdata"]), np.dtype(values["dtype"]))
        return flat.reshape(values["shape"]) if "shape" in values else flat
    return np.asarray(values)


def _wait_until(at: AppTest, done, timeout: float = 300) -> None:
    """Rerun the page until `done(at)` (a background thread works meanwhile)."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
        at.run()


def test_evaluate_maps_2000_test_digits_marks_the_mistakes_and_offers_tsne_once_ready(mnist):
    at = _app("pages/evaluate.py")
    assert not at.exception, at.exception
    assert "A map of digits" in [h.value for h in at.subheader]
    figure = _figure(at, "eval_map_chart_pca")
    digits = [t for t in figure.data if t.name in [str(d) for d in range(10)]]
    assert [t.name for t in digits] == [str(d) for d in range(10)]
    rows = np.concatenate([_array(t.customdata) for t in digits]).astype(int)
    assert sorted(rows) == list(range(2000))  # every digit once
    # Each point is coloured and hovered by its own digit.
    indices = evaluation_indices(mnist, 2000)
    labels = mnist.y_test[indices]
    for trace in digits:
        assert set(labels[_array(trace.customdata).astype(int)]) == {int(trace.name)}
        assert all(text.startswith(f"a {trace.name}, read as") for text in trace.text)
    assert len(set(t.marker.color for t in digits)) == 10
    # The mistakes, on request: exactly the digits the model reads wrong.
    at.toggle(key="eval_map_mistakes").set_value(True).run()
    mistakes = next(t for t in _figure(at, "eval_map_chart").data if t.name == "mistakes")
    model = load_model(DEFAULT_MODEL)
    wrong = predict(model, mnist.x_test[indices] / 255).argmax(axis=1) != labels
    assert sorted(_array(mistakes.customdata).astype(int)) == list(np.flatnonzero(wrong))
    # t-SNE is offered once the background has worked it out, and then drawn.
    _wait_until(at, lambda at: not at.radio(key="eval_map_method").disabled)
    at.radio(key="eval_map_method").set_value("tsne").run()
    assert not at.exception, at.exception
    tsne = _figure(at, "eval_map_chart_tsne")
    assert sum(len(_array(t.x)) for t in tsne.data if t.name in "0123456789") == 2000


def test_draw_puts_the_drawing_on_the_map_among_its_own_kind(mnist):
    at = _app("pages/draw.py")
    _inject_drawing(at, _canvas_with(7, mnist))
    at.run()
    assert "Where does your digit land?" in [e.label for e in at.expander]
    assert not [c for c in at.get("plotly_chart") if "draw_map" in c.proto.id]  # closed: nothing
    at.session_state["draw_map"] = True  # as a click on the section does
    at.run()
    assert not at.exception, at.exception
    sentence = next(m.value for m in at.markdown if m.value.startswith("Your 7 lands"))
    assert "among the 7s" in sentence
    figure = _figure(at, "draw_map_chart_pca")
    drawing = next(t for t in figure.data if t.name == "your drawing")
    assert drawing.text == ("your 7",) and len(drawing.x) == 1


STATED = re.compile(
    r"makes it \*\*(-?[\d.]+)\*\*: the value at row (\d+), column (\d+) of feature map (\d+)"
)


def test_draw_follows_one_filter_over_the_drawing_value_by_value(mnist):
    at = _app("pages/draw.py")
    canvas = _canvas_with(3, mnist)
    _inject_drawing(at, canvas)
    at.run()
    assert "How does a filter compute?" in [e.label for e in at.expander]
    assert not any("feature map 0" in m.value for m in at.markdown)  # closed: nothing worked out
    at.session_state["draw_steps"] = True  # as a click on the section does
    at.run()
    assert not at.exception, at.exception
    # The value the words give is the one Keras computes for that place of the feature map.
    centred = preprocess_steps(canvas, drawing=True).centred
    maps = dict(feature_maps(load_model(DEFAULT_MODEL), centred))

    def stated() -> tuple[int, int, int, float]:
        text = next(m.value for m in at.markdown if "of feature map" in m.value)
        found = re.search(STATED, text)
        value, row, col, f = found.groups()
        return int(row), int(col), int(f), float(value)

    row, col, f, value = stated()
    assert (row, col, f) == (7, 7, 0)  # the middle of conv1's 14×14 maps, where the ink is
    assert value == pytest.approx(maps["act1"][7, 7, 0], abs=1e-3)
    at.button(key="steps_forward").click().run()  # the next position
    assert stated()[:3] == (7, 8, 0)
    at.slider(key="steps_col").set_value(13).run()
    at.button(key="steps_forward").click().run()  # on to the next row
    assert stated()[:3] == (8, 0, 0)
    at.slider(key="steps_filter").set_value(5).run()
    at.slider(key="steps_row").set_value(6).run()
    row, col, f, value = stated()
    assert (row, col, f) == (6, 0, 5) and value == pytest.approx(maps["act1"][6, 0, 5], abs=1e-3)
    # A deeper layer reads many channels: one is shown, and all are summed.
    at.selectbox(key="steps_layer").set_value("conv2").run()
    assert not at.exception, at.exception
    assert at.slider(key="steps_channel").max == 31
    assert any("The input has 32 channels" in m.value for m in at.markdown)
    row, col, f, value = stated()
    assert value == pytest.approx(maps["act2"][row, col, f], abs=1e-3)


def test_train_shows_each_layers_weights_after_each_epoch_and_replays_them():
    at = _app("pages/train.py")
    _small(at, epochs=3)
    _train(at)
    _wait_for_runs(at, 1)
    assert not at.exception, at.exception
    job = at.session_state["workspace"].jobs[0]
    assert any(m.value == "**The weights, epoch by epoch**" for m in at.markdown)
    replay = at.select_slider(key=f"weights_replay_{job.name}")
    assert replay.options == ["1", "2", "3"] and replay.value == 3
    figure = _figure(at, f"weights_{job.name}")
    assert figure.layout.title.text == "Weights after epoch 3"
    titles = [a.text for a in figure.layout.annotations]
    assert [t.split(":")[0] for t in titles] == ["conv1", "conv2", "digits"]
    replay.set_value(1).run()
    figure = _figure(at, f"weights_{job.name}")
    assert figure.layout.title.text == "Weights after epoch 1"
    change = job.result.history[0].weights.layers[0].change
    assert titles != [a.text for a in figure.layout.annotations]
    assert figure.layout.annotations[0].text == f"conv1: changed {change:.1%}"
