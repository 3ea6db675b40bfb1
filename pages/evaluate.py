"""Evaluate: how often the current model is right, per digit, and which digits it confuses."""

import numpy as np
import pandas as pd
import streamlit as st

import mnist_core as mc
from pages import common

SIZES = [500, 1000, 2000, 5000, 10000]

data = common.data()
entry = common.current_model()
st.title("Evaluate the model")
if entry is None:
    st.info("There is no model yet: train one on the Train page.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

sizes = [n for n in SIZES if n < len(data.y_test)] + [len(data.y_test)]
n = st.select_slider(
    "Test digits", sizes, value=sizes[0], key="eval_n", persist_state="session",
    help="The codelab tests on 500; all 10,000 give the final word.",
)  # fmt: skip
indices = mc.evaluation_indices(data, n)
cache = st.session_state.setdefault("evaluations", {})
key = (entry.name, id(entry.model), n)
if key not in cache:
    with st.spinner(f"Testing {entry.name} on {n:,} digits…"):
        cache[key] = mc.evaluate(entry.model, data.x_test[indices], data.y_test[indices])
ev: mc.Evaluation = cache[key]
x_test = data.x_test[indices]

st.caption(f"{entry.name} · {entry.params:,} parameters · {entry.summary}")
a, b, c = st.columns(3)
a.metric("Test accuracy", f"{ev.accuracy:.2%}", border=True)
b.metric("Mistakes", f"{len(ev.mistakes()):,} of {len(ev.labels):,}", border=True)
worst = min(ev.per_class(), key=lambda r: r["accuracy"])
c.metric(
    "Hardest digit", worst["digit"], f"{worst['accuracy']:.1%} right", border=True,
    delta_color="off", delta_arrow="off",
)  # fmt: skip

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


def gallery(idx: np.ndarray, caption) -> None:
    """Test digits as crisp tiles with captions."""
    if len(idx) == 0:
        st.caption("No images here.")
        return
    st.image(
        [mc.charts.upscale(x_test[i], 3) for i in idx],
        caption=[caption(i) for i in idx],
        width=84,
        output_format="PNG",
    )


def probabilities(i: int) -> str:
    p = ev.probabilities[i]
    top = np.argsort(-p)[:2]
    return " · ".join(f"{d}: {p[d]:.0%}" for d in top)


# A new click on the matrix chooses the true and predicted digits below (once, so that the
# boxes stay free to change afterwards).
points = clicked["selection"]["points"]
cell_clicked = (points[0]["y"], points[0]["x"]) if points else None
if cell_clicked != st.session_state.get("eval_clicked"):
    st.session_state.eval_clicked = cell_clicked
    if cell_clicked:
        st.session_state.eval_true, st.session_state.eval_pred = cell_clicked

digits = list(range(10))
a, b, _ = st.columns([1, 1, 4])
# Start on the most frequent confusion.
off_diagonal = ev.confusion - np.diag(np.diag(ev.confusion))
busiest = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)
st.session_state.setdefault("eval_true", int(busiest[0]))
st.session_state.setdefault("eval_pred", int(busiest[1]))
true = a.selectbox("True digit", digits, key="eval_true")
pred = b.selectbox("Predicted as", digits, key="eval_pred")
cell = ev.cell(true, pred)
st.markdown(f"**{len(cell):,} test images of a {true} predicted as {pred}**, most confident first")
gallery(cell[:40], probabilities)

st.subheader("The most confident mistakes")
gallery(ev.mistakes(30), lambda i: f"{ev.labels[i]} → {ev.predictions[i]} ({ev.confidence[i]:.0%})")
