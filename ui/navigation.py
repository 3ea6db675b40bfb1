"""The app's pages, defined once: app.py's menu and the Home page's steps both read this."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from mnist_core.i18n import N_, _


@dataclass(frozen=True)
class PageSpec:
    """One page: its file, menu entry and URL, and (for the steps) its Home card."""

    path: str
    title: str
    icon: str
    url_path: str
    step: str = ""  # the card's heading on Home; empty for Home itself
    blurb: str = ""  # the card's text on Home
    # title, step and blurb are English, marked with N_(): _() translates them where shown


# fmt: off
PAGES = tuple(PageSpec(*row) for row in (
    ("pages/home.py", N_("Home"), ":material/home:", ""),  # served at /
    ("pages/data.py", N_("Data"), ":material/grid_view:", "data", N_("1. Look at the data"),
     N_("Browse the handwritten digits of MNIST, pixel by pixel.")),
    ("pages/train.py", N_("Train"), ":material/model_training:", "train", N_("2. Build and train"),
     N_("Pick a network with sliders, train it, and watch its accuracy climb live.")),
    ("pages/evaluate.py", N_("Evaluate"), ":material/fact_check:", "evaluate", N_("3. Evaluate"),
     N_("See which digits it gets wrong, and which it mistakes for which.")),
    ("pages/draw.py", N_("Draw"), ":material/draw:", "draw", N_("4. Draw"),
     N_("Draw a digit with the mouse and see the network recognise it at once.")),
    ("pages/compare.py", N_("Compare"), ":material/compare:", "compare", N_("5. Compare"),
     N_("Put two networks side by side: which digits got better, which worse.")),
    ("pages/board.py", N_("Class board"), ":material/leaderboard:", "board", N_("6. Compete"),
     N_("Publish your best run and see whose network reads digits best for its size.")),
))
# fmt: on
HOME, DATA, TRAIN, EVALUATE, DRAW, COMPARE, BOARD = PAGES
STEPS = PAGES[1:]  # the steps Home links to


def st_pages() -> list[st.Page]:
    """The pages for st.navigation, Home the default."""
    return [
        st.Page(
            p.path, title=_(p.title), icon=p.icon, url_path=p.url_path or None, default=p is HOME
        )
        for p in PAGES
    ]


def link(page: PageSpec, label: str | None = None) -> None:
    """A link to `page` with its icon (`label`: already translated; the page's title if none)."""
    st.page_link(page.path, label=label or _(page.title), icon=page.icon)
