"""A lesson's board: the runs published from one lesson, goal met first, as figures, a chart
and a table."""

from __future__ import annotations

import streamlit as st

from mnist_core.classroom import lessons as core
from mnist_core.classroom import links
from mnist_core.classroom.board import BoardEntry
from mnist_core.classroom.lessons import Lesson, Verdict
from mnist_core.i18n import _, ngettext
from mnist_core.presentation import charts
from ui import lessons, widgets


def board_lesson(available: int) -> Lesson | None:
    """The lesson whose board to show: one in the URL (a teacher's board link), else this
    session's; the URL then carries it, to share. None for the whole board."""
    params = {name: st.query_params[name] for name in st.query_params}
    lesson, _problems = core.from_params(params, available)
    if lesson is None:
        lesson = st.session_state.get(lessons.ACTIVE)
        if lesson is None:
            return None
        st.query_params.update({**links.to_params(lesson.config), **lesson.params()})
    whole = st.toggle(_("Show the whole class board"), key="board_whole")
    return None if whole else lesson


def lesson_board(lesson: Lesson, entries: list[BoardEntry]) -> None:
    """A lesson's runs, goal met first: how many tried, met the goal, the best so far, each run
    as a dot on accuracy against parameters, and the table."""
    verdicts = [lesson.judge(e.accuracy, e.parameters, e.seconds) for e in entries]
    order = sorted(range(len(entries)), key=lambda i: not verdicts[i].met)  # stable: best first
    entries, verdicts = [entries[i] for i in order], [verdicts[i] for i in order]
    st.subheader(_("This lesson's board"), anchor=False)
    with st.container(border=True):
        st.markdown("**" + _("Goal") + "**")
        if task := core.task_text(lesson):
            st.markdown(widgets.plain(task))
        st.caption(" · ".join(lesson.goal.parts()) or _("This lesson sets no goal."))
    if not entries:
        st.info(_("No run of this lesson is published yet."), icon=":material/leaderboard:")
        return
    met = sum(v.met for v in verdicts)
    tried, reached, best = st.columns(3)
    tried.metric(_("Runs tried"), len(entries), border=True)
    reached.metric(_("Goal met"), f"{met} / {len(entries)}", border=True)
    top = entries[0]
    best.metric(
        _("Best so far"),
        f"{top.accuracy:.2%}",
        border=True,
        delta=_("{name}, {params:,} parameters").format(name=top.name, params=top.parameters),
        delta_color="off",
        delta_arrow="off",
    )
    figure = charts.lesson_runs(
        [e.name for e in entries],
        [e.parameters for e in entries],
        [e.accuracy for e in entries],
        [v.met for v in verdicts],
        lesson.goal.accuracy,
        lesson.goal.params,
    )
    st.plotly_chart(figure, key="lesson_runs", config=charts.CONFIG)
    st.caption(_scatter_text(entries, verdicts))
    _lesson_table(entries, verdicts)


def _scatter_text(entries: list[BoardEntry], verdicts: list[Verdict]) -> str:
    """The chart in words, for whoever cannot see it."""
    params = [e.parameters for e in entries]
    accuracy = [e.accuracy for e in entries]
    return ngettext(
        "The chart in words: {n} run, from {low:,} to {high:,} parameters and from {worst:.2%} "
        "to {best:.2%} test accuracy; {met} met the goal. The table below lists it.",
        "The chart in words: {n} runs, from {low:,} to {high:,} parameters and from {worst:.2%} "
        "to {best:.2%} test accuracy; {met} met the goal. The table below lists every run.",
        len(entries),
    ).format(
        n=len(entries),
        low=min(params),
        high=max(params),
        worst=min(accuracy),
        best=max(accuracy),
        met=sum(v.met for v in verdicts),
    )


def _lesson_table(entries: list[BoardEntry], verdicts: list[Verdict]) -> None:
    rows = {
        _("name"): [e.name for e in entries],
        _("goal"): [_("met") if v.met else _("not met") for v in verdicts],
        _("test accuracy"): [100 * e.accuracy for e in entries],
        _("parameters"): [e.parameters for e in entries],
        _("training s"): [e.seconds for e in entries],
        _("network"): [e.config.summary() for e in entries],
    }
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        key="lesson_rows",
        column_config={
            _("test accuracy"): st.column_config.NumberColumn(format="%.2f %%"),
            _("parameters"): st.column_config.NumberColumn(format="localized"),
            _("training s"): st.column_config.NumberColumn(format="%.1f"),
        },
    )
