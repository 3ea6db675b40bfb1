"""Evaluate: how often the current model is right, per digit, and which digits it confuses."""

import numpy as np
import pandas as pd
import streamlit as st

import mnist_core as mc
from ui import state, streamlit_workarounds, widgets

streamlit_workarounds.reroute_direct_page_run()
SIZES = [500, 1000, 2000, 5000, 10000]
KEPT_EVALUATIONS = 6  # per session: 10,000 digits' probabilities are 400 KB each
DIGITS = list(range(mc.NUM_CLASSES))


def size_picker(test_size: int) -> int:
    """How many test digits to evaluate on."""
    sizes = [n for n in SIZES if n < test_size] + [test_size]
    return st.select_slider(
        "Test digits", sizes, value=sizes[0], key="eval_n", persist_state="session",
        help="The codelab tests on 500; all 10,000 give the final word.",
    )  # fmt: skip


def evaluation(entry: mc.ModelEntry, n: int) -> tuple[mc.Evaluation, np.ndarray]:
    """The model's evaluation on `n` test digits (kept for this session), and those digits."""
    mnist = state.mnist()
    indices = mc.evaluation_indices(mnist, n)
    cache = st.session_state.setdefault("evaluations", {})  # the latest few, newest last
    key = (entry.name, id(entry.model), n)
    if key not in cache:
        with st.spinner(f"Testing {entry.name} on {n:,} digits…"):
            cache[key] = mc.evaluate(entry.model, mnist.x_test[indices], mnist.y_test[indices])
        while len(cache) > KEPT_EVALUATIONS:
            del cache[next(iter(cache))]
    return cache[key], mnist.x_test[indices]


def headline(ev: mc.Evaluation) -> None:
    """Accuracy, mistakes and the hardest digit."""
    accuracy, mistakes, hardest = st.columns(3)
    accuracy.metric("Test accuracy", f"{ev.accuracy:.2%}", border=True)
    mistakes.metric("Mistakes", f"{len(ev.mistakes()):,} of {len(ev.labels):,}", border=True)
    worst = min(ev.per_class(), key=lambda r: r["accuracy"])
    hardest.metric(
        "Hardest digit", worst["digit"], f"{worst['accuracy']:.1%} right", border=True,
        delta_color="off", delta_arrow="off",
    )  # fmt: skip


def per_digit(ev: mc.Evaluation) -> None:
    """Accuracy per digit as a chart and a table."""
    st.subheader("Per digit")
    chart, table = st.columns([3, 2])
    rows = ev.per_class()
    chart.plotly_chart(mc.charts.per_class_accuracy(rows), width="stretch")
    table.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(format="percent")
            for name in ("accuracy", "precision", "recall")
        },
    )
    st.caption(
        "Accuracy (= recall): of the images of this digit, how many were recognised. "
        "Precision: of the images predicted as this digit, how many really were."
    )


def confusion_matrix(ev: mc.Evaluation) -> tuple[int, int] | None:
    """The clickable confusion matrix; returns the cell just clicked (true, predicted), if any."""
    st.subheader("Confusion matrix")
    normalise = st.toggle("Show each row as percentages", key="eval_normalise")
    clicked = st.plotly_chart(
        mc.charts.confusion_heatmap(ev.confusion, normalise),
        key="confusion",
        on_select="rerun",
        selection_mode="points",
        width="stretch",
        config={"displayModeBar": False},
    )
    st.caption("Click a cell to see the test images behind it.")
    points = clicked["selection"]["points"]
    return (points[0]["y"], points[0]["x"]) if points else None


def cell_picker(ev: mc.Evaluation, clicked: tuple[int, int] | None) -> tuple[int, int]:
    """True and predicted digit boxes: a new click chooses them, then they are free to change."""
    if clicked != st.session_state.get("eval_clicked"):
        st.session_state.eval_clicked = clicked
        if clicked:
            st.session_state.eval_true, st.session_state.eval_pred = clicked
    # Start on the most frequent confusion.
    off_diagonal = ev.confusion - np.diag(np.diag(ev.confusion))
    busiest = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)
    st.session_state.setdefault("eval_true", int(busiest[0]))
    st.session_state.setdefault("eval_pred", int(busiest[1]))
    true_column, predicted_column, _ = st.columns([1, 1, 4])
    true = true_column.selectbox("True digit", DIGITS, key="eval_true")
    predicted = predicted_column.selectbox("Predicted as", DIGITS, key="eval_pred")
    return true, predicted


def top_two(ev: mc.Evaluation, i: int) -> str:
    """The two likeliest digits for image `i`, with their probabilities."""
    p = ev.probabilities[i]
    return " · ".join(f"{d}: {p[d]:.0%}" for d in np.argsort(-p)[:2])


st.title("Evaluate the model")
entry = widgets.require_model()
n = size_picker(len(state.mnist().y_test))
ev, x_test = evaluation(entry, n)
st.caption(f"{entry.name} · {entry.params:,} parameters · {entry.summary}")
headline(ev)
per_digit(ev)
true, predicted = cell_picker(ev, confusion_matrix(ev))
in_cell = ev.cell(true, predicted)
st.markdown(
    f"**{len(in_cell):,} test images of a {true} predicted as {predicted}**, most confident first"
)
widgets.digit_gallery(x_test[in_cell[:40]], [top_two(ev, i) for i in in_cell[:40]])

st.subheader("The most confident mistakes")
wrong = ev.mistakes(30)
widgets.digit_gallery(
    x_test[wrong],
    [f"{ev.labels[i]} → {ev.predictions[i]} ({ev.confidence[i]:.0%})" for i in wrong],
)
