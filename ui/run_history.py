"""Finished runs: the history table and curves, their CSV downloads, publishing on the board."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.classroom import board
from mnist_core.classroom.board import BoardError
from mnist_core.classroom.jobs import JobView, TrainingJob
from mnist_core.i18n import _
from mnist_core.presentation import charts, export
from ui import navigation, state, widgets


def run_history(jobs: list[TrainingJob]) -> None:
    """Every finished run in a table, and their validation curves overlaid."""
    finished = [(job, view) for job in jobs if (view := job.view()).finished]
    if not finished:
        return
    st.subheader(_("Run history"))
    history = pd.DataFrame([_history_row(job, view) for job, view in finished])
    widgets.table(
        history,
        percent=("val accuracy", "test accuracy"),
        formats={"seconds": "%.1f"},
        labels=widgets.column_labels(history),
        key_column="run",
    )
    curves = {
        view.name: view.result.history
        for _job, view in finished
        if view.result and view.result.history
    }
    if curves:
        st.plotly_chart(charts.runs_overlay(curves), width="stretch", config=charts.CONFIG)
    st.caption(_("Pick the model that Evaluate and Draw use in the sidebar."))
    _history_downloads([view for _job, view in finished])
    publishable = [job for job, _view in finished if job.publishable]
    if publishable:
        _publish(publishable)


def _history_downloads(views: list[JobView]) -> None:
    """Every finished run's per-epoch history as a CSV, one button each."""
    trained = [view for view in views if view.epochs]
    if not trained:
        return
    with st.popover(_("Download a run's history (CSV)"), icon=":material/download:"):
        for view in trained:
            history_download(view, view.name, f"history_csv_all_{view.name}")


def _publish(jobs: list[TrainingJob]) -> None:
    """Opt-in: put one run on the class board under a name the user types."""
    with st.form("publish", enter_to_submit=True):
        st.markdown(_("**Publish a run on the class board**"))
        st.caption(
            _(
                "Only what you publish is shared: the name you type, the run's settings, size, "
                "test accuracy and training time. Everyone on this server sees the board."
            )
        )
        run, name = st.columns(2)
        names = [job.name for job in jobs]
        # Keyed by the newest run, so a new run is the one offered.
        picked = run.selectbox(_("Run"), names, index=len(names) - 1, key=f"publish_{names[-1]}")
        shown_as = name.text_input(
            _("Your name, as the board shows it"),
            max_chars=board.MAX_NAME_CHARS,
            key="publish_name",
            placeholder=_("e.g. Ada L."),
        )
        if not st.form_submit_button(_("Publish"), icon=":material/publish:"):
            return
        job = next(job for job in jobs if job.name == picked)
        try:
            entry = state.publish(job, shown_as)
        except BoardError as err:
            st.error(str(err), icon=":material/error:")
            return
        st.success(
            _("Published as “{name}”: {accuracy:.2%} with {params:,} parameters.").format(
                name=widgets.plain(entry.name), accuracy=entry.accuracy, params=entry.parameters
            ),
            icon=":material/check_circle:",
        )
    navigation.link(navigation.BOARD, _("See the class board"))


def _history_row(job: TrainingJob, view: JobView) -> dict:
    result, history = view.result, view.result.history if view.result else []
    return {  # what tells runs apart first: a phone shows only the first few columns
        "run": job.name,
        "test accuracy": view.evaluation.accuracy if view.evaluation else None,
        "val accuracy": history[-1].val_accuracy if history else None,
        "outcome": view.state.label,
        "epochs": len(history),
        "seconds": result.fit_seconds if result else None,
        "parameters": result.model.count_params() if result else None,
        "network": job.describe(),
    }


def history_download(view: JobView, label: str, key: str) -> None:
    """A finished run's epochs (for a stopped run, those it got to) as a CSV download."""
    widgets.csv_download(
        label,
        lambda: export.history_csv(view.epochs),
        f"{export.file_stem(view.name)}-history.csv",
        key=key,
        help=_(
            "One row per epoch: loss, accuracy, validation loss and accuracy, seconds, and "
            "the validation accuracy of each digit. A spreadsheet opens it."
        ),
    )
