"""Home: what Digit Lab does, in six steps."""

import streamlit as st

from mnist_core.i18n import _
from ui import lessons, navigation, state, streamlit_workarounds

streamlit_workarounds.reroute_direct_page_run()

st.title("✍️ Digit Lab")
st.markdown(
    _(
        "Digit Lab teaches a computer to read handwritten digits, and lets you watch it learn. "
        "You build a small *convolutional neural network*, a program that learns to spot strokes "
        "and shapes in pictures, train it on thousands of real handwritten digits, and see how "
        "often it is right. Then you draw your own digits and see what it makes of them."
    )
)
for column, step in zip(st.columns(len(navigation.STEPS)), navigation.STEPS):
    with column.container(border=True, height="stretch"):
        navigation.link(step, _(step.step))
        st.caption(_(step.blurb))

if state.default_model() is not None:
    st.info(
        _("No time to train? A network trained on all of MNIST is ready: go straight to **Draw**."),
        icon=":material/bolt:",
    )
lessons.codelab_steps()
