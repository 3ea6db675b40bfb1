"""Data: sample the digits, see how many there are of each, and look at one pixel by pixel."""

import numpy as np
import streamlit as st

import mnist_core as mc
from pages import common

data = common.data()


@st.cache_resource(show_spinner=False)
def class_means(split: str):
    """Mean image per digit, computed once per server."""
    return mc.class_means(
        *((data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test))
    )


st.title("Look at the data")
st.caption(data.describe())

st.session_state.setdefault("sample_seed", 0)
left, middle, right, button = st.columns([2, 2, 3, 2], vertical_alignment="bottom")
split = left.segmented_control(
    "Set", ["train", "test"], default="train", required=True, key="data_split",
    persist_state="session",
)  # fmt: skip
only = middle.selectbox(
    "Digit", ["all", *range(10)], key="data_digit", persist_state="session"
)  # fmt: skip
count = right.slider("How many", 10, 100, 40, step=10, key="data_count", persist_state="session")
if button.button("New sample", icon=":material/shuffle:"):
    st.session_state.sample_seed += 1

x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
pool = np.arange(len(y)) if only == "all" else np.flatnonzero(y == only)
rng = np.random.default_rng(st.session_state.sample_seed)
picked = rng.choice(pool, size=min(count, len(pool)), replace=False)
st.image(
    [mc.charts.upscale(x[i], 3) for i in picked],
    caption=[f"{y[i]}  (#{i})" for i in picked],
    width=84,
)

chart, closeup = st.columns(2)
with chart:
    st.plotly_chart(mc.charts.class_distribution(data.y_train, data.y_test), width="stretch")
    st.subheader("The average of each digit")
    means = class_means(split)
    st.image(
        [mc.charts.upscale(m / 255, 3) for m in means],
        caption=[str(d) for d in range(10)],
        width=84,
        output_format="PNG",
    )
with closeup:
    index = st.selectbox(
        "One digit up close", picked, format_func=lambda i: f"#{i} (a {y[i]})", key="data_closeup"
    )
    st.plotly_chart(
        mc.charts.pixel_heatmap(x[index], f"{split} #{index}: a {y[index]}, 28×28 pixels, 0-255"),
        width="stretch",
    )
