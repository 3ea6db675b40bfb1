"""Data: sample the digits, see how many there are of each, and look at one pixel by pixel."""

import numpy as np
import streamlit as st

import mnist_core as mc
from ui import state, streamlit_workarounds, widgets

streamlit_workarounds.reroute_direct_page_run()
mnist = state.mnist()


@st.cache_resource(show_spinner=False)
def class_means(split: str) -> np.ndarray:
    """Mean image per digit, computed once per server."""
    return mc.class_means(*mnist.split(split))


st.title("Look at the data")
st.caption(mnist.describe())
widgets.explainer(
    f"These are the handwritten digits the network learns from: "
    f"{len(mnist.y_train) + len(mnist.y_test):,} of them, each a small square of 28 × 28 grey "
    "pixels (0 is black, 255 is white ink). They are split in two. The **training set** is "
    "what the network learns from. The **test set** is kept apart and only used at the end, "
    "to see how well the network reads digits it has never seen, like an exam with new "
    "questions. Below: a random sample, how many of each digit there are, one digit pixel by "
    "pixel, and the average of all the images of each digit."
)

st.session_state.setdefault("sample_seed", 0)
split_column, digit_column, count_column, button_column = st.columns(
    [2, 2, 3, 2], vertical_alignment="bottom"
)
split = split_column.segmented_control(
    "Set", ["train", "test"], default="train", required=True, key="data_split",
    persist_state="session",
)  # fmt: skip
only = digit_column.selectbox(
    "Digit", ["all", *range(mc.NUM_CLASSES)], key="data_digit", persist_state="session"
)
count = count_column.slider(
    "How many", 10, 100, 40, step=10, key="data_count", persist_state="session"
)
if button_column.button("New sample", icon=":material/shuffle:"):
    st.session_state.sample_seed += 1

x, y = mnist.split(split)
pool = np.arange(len(y)) if only == "all" else np.flatnonzero(y == only)
rng = np.random.default_rng(st.session_state.sample_seed)
picked = rng.choice(pool, size=min(count, len(pool)), replace=False)
widgets.digit_gallery(x[picked], [f"{y[i]}  (#{i})" for i in picked])

chart, closeup = st.columns(2)
with chart:
    st.plotly_chart(mc.charts.class_distribution(mnist.y_train, mnist.y_test), width="stretch")
    st.subheader("The average of each digit")
    widgets.digit_gallery(class_means(split) / 255, [str(d) for d in range(mc.NUM_CLASSES)])
with closeup:
    index = st.selectbox(
        "One digit up close", picked, format_func=lambda i: f"#{i} (a {y[i]})", key="data_closeup"
    )
    st.plotly_chart(
        mc.charts.pixel_heatmap(x[index], f"{split} #{index}: a {y[index]}, 28×28 pixels, 0-255"),
        width="stretch",
    )
