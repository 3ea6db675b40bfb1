"""Home: what Digit Lab does, in four steps."""

import streamlit as st

from pages import common

st.title("✍️ Digit Lab")
st.markdown(
    "Digit Lab teaches a computer to read handwritten digits, and lets you watch it learn. "
    "You build a small *convolutional neural network*, a program that learns to spot strokes "
    "and shapes in pictures, train it on thousands of real handwritten digits, and see how "
    "often it is right. Then you draw your own digits and see what it makes of them."
)

steps = [
    ("pages/data.py", "1. Look at the data", ":material/grid_view:",
     "Browse the 70,000 handwritten digits of MNIST, pixel by pixel."),
    ("pages/train.py", "2. Build and train", ":material/model_training:",
     "Pick a network with sliders, train it, and watch its accuracy climb live."),
    ("pages/evaluate.py", "3. Evaluate", ":material/fact_check:",
     "See which digits it gets wrong, and which it mistakes for which."),
    ("pages/draw.py", "4. Draw", ":material/draw:",
     "Draw a digit with the mouse and see the network recognise it at once."),
]  # fmt: skip
for column, (page, label, icon, text) in zip(st.columns(4), steps):
    with column.container(border=True, height="stretch"):
        st.page_link(page, label=label, icon=icon)
        st.caption(text)

if common.default_model() is not None:
    st.info(
        "No time to train? A network trained on all of MNIST is ready: go straight to **Draw**.",
        icon=":material/bolt:",
    )
