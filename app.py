"""Digit Lab: a dashboard that teaches convolutional neural networks on handwritten digits."""

import streamlit as st

from ui import language, navigation, state, streamlit_workarounds, widgets

streamlit_workarounds.install()
st.set_page_config(page_title="Digit Lab", page_icon="✍️", layout="wide")
language.choose()  # before anything shows text, the menu included
page = st.navigation(navigation.st_pages())
widgets.sidebar()
with state.page_activity().page_run():
    page.run()
# Once per server; it waits for a quiet moment (TensorFlow's import would slow pages down).
state.warmup()
