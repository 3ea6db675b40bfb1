"""Data: sample the digits, see how many there are of each, and look at one pixel by pixel."""

import numpy as np
import streamlit as st

from mnist_core.data import NUM_CLASSES, class_means
from mnist_core.i18n import N_, _
from mnist_core.presentation import charts
from ui import lessons, navigation, state, streamlit_workarounds, widgets

streamlit_workarounds.reroute_direct_page_run()
mnist = state.mnist()


@st.cache_resource(show_spinner=False)
def average_digits(split: str) -> np.ndarray:
    """Mean image per digit, computed once per server."""
    return class_means(*mnist.split(split))


st.title(_("Look at the data"))
lessons.visited(navigation.DATA)  # the first step on Home
st.caption(mnist.describe())
widgets.explainer(
    _(
        "These are the handwritten digits the network learns from: "
        "{total:,} of them, each a small square of 28 × 28 grey "
        "pixels (0 is black, 255 is white ink). They are split in two. The **training set** is "
        "what the network learns from. The **test set** is kept apart and only used at the end, "
        "to see how well the network reads digits it has never seen, like an exam with new "
        "questions. Below: a random sample, how many of each digit there are, one digit pixel by "
        "pixel, and the average of all the images of each digit."
    ).format(total=len(mnist.y_train) + len(mnist.y_test))
)

SPLITS = {"train": N_("train"), "test": N_("test")}  # shown translated; the values stay
st.session_state.setdefault("sample_seed", 0)
split_column, digit_column, count_column, button_column = st.columns(
    [2, 2, 3, 2], vertical_alignment="bottom"
)
split = split_column.segmented_control(
    _("Set"),
    ["train", "test"],
    default="train",
    required=True,
    key="data_split",
    persist_state="session",
    format_func=lambda split: _(SPLITS[split]),
)
only = digit_column.selectbox(
    _("Digit"),
    ["all", *range(NUM_CLASSES)],
    key="data_digit",
    persist_state="session",
    format_func=lambda digit: _("all") if digit == "all" else str(digit),
)
count = count_column.slider(
    _("How many"), 10, 100, 40, step=10, key="data_count", persist_state="session"
)
if button_column.button(_("New sample"), icon=":material/shuffle:"):
    st.session_state.sample_seed += 1

x, y = mnist.split(split)
pool = np.arange(len(y)) if only == "all" else np.flatnonzero(y == only)
rng = np.random.default_rng(st.session_state.sample_seed)
picked = rng.choice(pool, size=min(count, len(pool)), replace=False)
SAMPLE_ALTS = {
    "train": N_("handwritten {digit}, training digit #{index}"),
    "test": N_("handwritten {digit}, test digit #{index}"),
}
widgets.digit_gallery(
    x[picked],
    [f"{y[i]}  (#{i})" for i in picked],
    [_(SAMPLE_ALTS[split]).format(digit=y[i], index=i) for i in picked],
)

chart, closeup = st.columns([2, 3])  # the close-up wide enough for its numbers
with chart:
    st.plotly_chart(
        charts.class_distribution(mnist.y_train, mnist.y_test),
        width="stretch",
        config=charts.CONFIG,
    )
    st.subheader(_("The average of each digit"))
    widgets.digit_gallery(
        average_digits(split) / 255,
        [str(d) for d in range(NUM_CLASSES)],
        [
            _("the average of every {split} image of a {digit}").format(
                split=_(SPLITS[split]), digit=d
            )
            for d in range(NUM_CLASSES)
        ],
    )
with closeup:
    index = st.selectbox(
        _("One digit up close"),
        picked,
        key="data_closeup",
        format_func=lambda i: _("#{index} (a {digit})").format(index=i, digit=y[i]),
    )
    widgets.pixel_closeup(
        charts.pixel_heatmap(
            x[index],
            _("{split} #{index}: a {digit}, 28×28 pixels, 0-255").format(
                split=_(SPLITS[split]), index=index, digit=y[index]
            ),
        )
    )
