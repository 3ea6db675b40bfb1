"""Class board: the runs people published, best first, within a parameter budget."""

import time

import pandas as pd
import streamlit as st

from mnist_core.classroom.board import BoardEntry, BoardError
from mnist_core.i18n import _
from ui import lesson_board, navigation, state, streamlit_workarounds, train_settings, widgets

streamlit_workarounds.reroute_direct_page_run()
BUDGETS = [1_000, 5_000, 10_000, 20_000, 50_000, 100_000, 500_000, 1_000_000, None]


def budget_picker() -> int | None:
    """The largest network to show, in parameters (None: any size)."""
    return st.select_slider(
        _("Parameter budget"),
        BUDGETS,
        value=None,
        key="board_budget",
        persist_state="session",
        format_func=lambda n: _("any size") if n is None else _("at most {n}").format(n=f"{n:,}"),
        help=_(
            "Show only networks with at most this many parameters: the numbers a network "
            "learns. A small network that reads well is the harder win."
        ),
    )


def board_table(entries: list[BoardEntry]) -> None:
    """The entries as a table; a click on a row asks for its settings on the Train page."""
    st.session_state.board_shown = entries  # what the rows of this table are
    rows = pd.DataFrame(
        {
            _("rank"): range(1, len(entries) + 1),
            _("name"): [e.name for e in entries],
            _("test accuracy"): [100 * e.accuracy for e in entries],
            _("parameters"): [e.parameters for e in entries],
            _("training s"): [e.seconds for e in entries],
            _("network"): [e.config.summary() for e in entries],
            _("published"): [
                time.strftime(_("%d %b %H:%M"), time.localtime(e.published_at)) for e in entries
            ],
        }
    )
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        on_select=_load_clicked,
        selection_mode="single-row",
        key="board_rows",
        column_config={
            _("name"): st.column_config.Column(pinned=True),  # in view on a narrow screen
            _("test accuracy"): st.column_config.NumberColumn(format="%.2f %%"),
            _("parameters"): st.column_config.NumberColumn(format="localized"),
            _("training s"): st.column_config.NumberColumn(format="%.1f"),
        },
    )


def _load_clicked() -> None:
    """Remember the entry of the row just clicked, as it was shown (the board may have moved)."""
    rows = st.session_state.board_rows["selection"]["rows"]
    if rows:
        st.session_state.board_load = st.session_state.board_shown[rows[0]]


st.title(_("Class board"))
widgets.explainer(
    _(
        "Everyone who trains a network here can publish it to this board: a name of their choice, "
        "its settings, its size and how many of the 10,000 test digits it reads right. Nothing is "
        "shared unless someone presses Publish.\n\n"
        "A bigger network is not always better: set a **parameter budget** to compete among small "
        "ones (try: the best network under 10,000 parameters). Click a row to load its settings "
        "into the Train page and train it yourself."
    )
)
lesson = lesson_board.board_lesson(len(state.mnist().y_train))  # a lesson's runs, or everyone's
budget = budget_picker() if lesson is None else None
try:
    if lesson is None:
        entries = state.board().entries(max_parameters=budget)
    else:
        entries = state.board().entries(lesson=lesson.id, limit=None)
except BoardError as err:
    st.error(
        _("The class board is not available on this server: {error}").format(error=err),
        icon=":material/error:",
    )
    st.stop()
if lesson is not None:
    lesson_board.lesson_board(lesson, entries)
    st.stop()
if not entries:
    if budget is None:
        st.info(
            _(
                "No runs here yet. Train one, then publish it under the run history on the Train "
                "page."
            ),
            icon=":material/leaderboard:",
        )
        navigation.link(navigation.TRAIN, _("Go to Train"))
    else:
        st.info(
            _("No published run has at most {n} parameters yet: raise the budget.").format(
                n=f"{budget:,}"
            )
        )
    st.stop()
if (picked := st.session_state.pop("board_load", None)) is not None:
    train_settings.show(picked.config.fit_to(len(state.mnist().y_train)))
    st.switch_page(navigation.TRAIN.path)
st.caption(_("Click a row to load its settings into the Train page."))
board_table(entries)
