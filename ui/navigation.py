"""The app's pages, defined once: app.py's menu and the Home page's steps both read this."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    """One page: its file, menu entry and URL, and (for the steps) its Home card."""

    path: str
    title: str
    icon: str
    url_path: str
    step: str = ""  # the card's heading on Home; empty for Home itself
    blurb: str = ""  # the card's text on Home


# fmt: off
PAGES = tuple(PageSpec(*row) for row in (
    ("pages/home.py", "Home", ":material/home:", ""),  # served at /
    ("pages/data.py", "Data", ":material/grid_view:", "data", "1. Look at the data",
     "Browse the handwritten digits of MNIST, pixel by pixel."),
    ("pages/train.py", "Train", ":material/model_training:", "train", "2. Build and train",
     "Pick a network with sliders, train it, and watch its accuracy climb live."),
    ("pages/evaluate.py", "Evaluate", ":material/fact_check:", "evaluate", "3. Evaluate",
     "See which digits it gets wrong, and which it mistakes for which."),
    ("pages/draw.py", "Draw", ":material/draw:", "draw", "4. Draw",
     "Draw a digit with the mouse and see the network recognise it at once."),
    ("pages/compare.py", "Compare", ":material/compare:", "compare", "5. Compare",
     "Put two networks side by side: which digits got better, which worse."),
    ("pages/board.py", "Class board", ":material/leaderboard:", "board", "6. Compete",
     "Publish your best run and see whose network reads digits best for its size."),
))
# fmt: on
HOME, DATA, TRAIN, EVALUATE, DRAW, COMPARE, BOARD = PAGES
STEPS = PAGES[1:]  # the steps Home links to


def st_pages() -> list[st.Page]:
    """The pages for st.navigation, Home the default."""
    return [
        st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path or None, default=p is HOME)
        for p in PAGES
    ]


def link(page: PageSpec, label: str | None = None) -> None:
    """A link to `page` with its icon."""
    st.page_link(page.path, label=label or page.title, icon=page.icon)
