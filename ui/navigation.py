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


PAGES = (
    PageSpec(path="pages/home.py", title=N_("Home"), icon=":material/home:", url_path=""),
    PageSpec(
        path="pages/data.py",
        title=N_("Data"),
        icon=":material/grid_view:",
        url_path="data",
        step=N_("1. Look at the data"),
        blurb=N_("Browse the handwritten digits of MNIST, pixel by pixel."),
    ),
    PageSpec(
        path="pages/train.py",
        title=N_("Train"),
        icon=":material/model_training:",
        url_path="train",
        step=N_("2. Build and train"),
        blurb=N_("Pick a network with sliders, train it, and watch its accuracy climb live."),
    ),
    PageSpec(
        path="pages/evaluate.py",
        title=N_("Evaluate"),
        icon=":material/fact_check:",
        url_path="evaluate",
        step=N_("3. Evaluate"),
        blurb=N_("See which digits it gets wrong, and which it mistakes for which."),
    ),
    PageSpec(
        path="pages/draw.py",
        title=N_("Draw"),
        icon=":material/draw:",
        url_path="draw",
        step=N_("4. Draw"),
        blurb=N_("Draw a digit with the mouse and see the network recognise it at once."),
    ),
    PageSpec(
        path="pages/compare.py",
        title=N_("Compare"),
        icon=":material/compare:",
        url_path="compare",
        step=N_("5. Compare"),
        blurb=N_("Put two networks side by side: which digits got better, which worse."),
    ),
    PageSpec(
        path="pages/board.py",
        title=N_("Class board"),
        icon=":material/leaderboard:",
        url_path="board",
        step=N_("6. Compete"),
        blurb=N_("Publish your best run and see whose network reads digits best for its size."),
    ),
)
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
