"""Digit Lab: a dashboard that teaches convolutional neural networks on handwritten digits."""

import streamlit as st

from pages import common

st.set_page_config(page_title="Digit Lab", page_icon="✍️", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/grid_view:", url_path="data"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page(
        "pages/evaluate.py", title="Evaluate", icon=":material/fact_check:", url_path="evaluate"
    ),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
]
page = st.navigation(pages)
common.init_session()
common.sidebar_status()
page.run()
