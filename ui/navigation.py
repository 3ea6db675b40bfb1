"""The app's pages, defined once: app.py's menu and the Home page's steps both read this."""

from __future__ import annotations

from dataclasses import dataclass, replace

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


# One row a page, its fields in PageSpec's order: path, title, icon, url_path.
_MENU = (
    PageSpec("pages/home.py", N_("Home"), ":material/home:", ""),
    PageSpec("pages/data.py", N_("Data"), ":material/grid_view:", "data"),
    PageSpec("pages/train.py", N_("Train"), ":material/model_training:", "train"),
    PageSpec("pages/evaluate.py", N_("Evaluate"), ":material/fact_check:", "evaluate"),
    PageSpec("pages/draw.py", N_("Draw"), ":material/draw:", "draw"),
    PageSpec("pages/compare.py", N_("Compare"), ":material/compare:", "compare"),
    PageSpec("pages/board.py", N_("Class board"), ":material/leaderboard:", "board"),
)
_STEP = {  # url_path: the page's `step`, its card's heading on Home
    "data": N_("1. Look at the data"),
    "train": N_("2. Build and train"),
    "evaluate": N_("3. Evaluate"),
    "draw": N_("4. Draw"),
    "compare": N_("5. Compare"),
    "board": N_("6. Compete"),
}
_BLURB = {  # url_path: the page's `blurb`, its card's text on Home
    "data": N_("Browse the handwritten digits of MNIST, pixel by pixel."),
    "train": N_("Pick a network with sliders, train it, and watch its accuracy climb live."),
    "evaluate": N_("See which digits it gets wrong, and which it mistakes for which."),
    "draw": N_("Draw a digit with the mouse and see the network recognise it at once."),
    "compare": N_("Put two networks side by side: which digits got better, which worse."),
    "board": N_("Publish your best run and see whose network reads digits best for its size."),
}
PAGES = tuple(
    replace(page, step=_STEP.get(page.url_path, ""), blurb=_BLURB.get(page.url_path, ""))
    for page in _MENU
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
