"""Training runs on screen: the network overview, the live view of a run, the run history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import mnist_core as mc
from mnist_core.i18n import _
from ui import navigation, state, widgets


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(config: mc.TrainConfig) -> pd.DataFrame:
    """The layers of `config`'s network as a table."""
    rows = mc.summarize(mc.build_model(config))
    return pd.DataFrame(
        {
            "layer": [r.name for r in rows],
            "type": [r.kind for r in rows],
            "output shape": [" × ".join(str(d) for d in r.output_shape[1:]) for r in rows],
            "parameters": [r.params for r in rows],
        }
    )


@st.cache_resource(show_spinner="Measuring this server's speed (once)…")
def server_speed() -> tuple[float, float, float]:
    """This server's (MACs per second, seconds per batch, seconds per epoch), measured once."""
    return mc.measure_speed(state.mnist())


def network_overview(config: mc.TrainConfig) -> float:
    """The layer table, parameter count and time estimate of a config that can be built;
    returns the estimated seconds of training."""
    table = layer_table(config)
    st.dataframe(table, hide_index=True, width="stretch")
    seconds = mc.estimate_epoch_seconds(config, *server_speed())
    st.markdown(
        f"**{table['parameters'].sum():,} parameters** · about **{seconds:,.1f} s per epoch** "
        f"on this server ({seconds * config.epochs:,.0f} s for {config.epochs} epochs)"
    )
    return seconds * config.epochs


def _progress_text(last: mc.BatchProgress) -> str:
    return (
        f"Epoch {last.epoch}/{last.epochs} · batch {last.batch}/{last.batches} · "
        f"{last.images_per_s:,.0f} images/s · {last.elapsed:,.0f} s elapsed · "
        f"about {last.eta:,.0f} s left"
    )


def _epoch_table(view: mc.JobView) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "epoch": e.epoch,
                "complete": not e.partial,
                "loss": e.loss,
                "accuracy": e.accuracy,
                "val loss": e.val_loss,
                "val accuracy": e.val_accuracy,
                "seconds": e.seconds,
            }
            for e in view.epochs
        ]
    )


STOPPED_BECAUSE = {
    mc.StopReason.USER: "",
    mc.StopReason.ABANDONED: " (no page showed it for a minute, so it stopped by itself)",
    mc.StopReason.TIME_LIMIT: " (it reached this server's time limit for one run)",
}


def _outcome(job: mc.TrainingJob) -> None:
    """One line on how a finished run ended."""
    if job.state is mc.JobState.FAILED:
        st.error(f"{job.name} failed: {job.error}")
    elif job.state is mc.JobState.CANCELLED:
        why = STOPPED_BECAUSE[job.stop_reason or mc.StopReason.USER]
        st.warning(f"{job.name} was cancelled before it started{why}.")
    else:
        epochs = job.result.history
        full_epochs = len(epochs) - (1 if epochs and epochs[-1].partial else 0)
        val = epochs[-1].val_accuracy if epochs else None
        verb = "finished"
        if job.state is mc.JobState.STOPPED:
            verb = "stopped" + STOPPED_BECAUSE[job.stop_reason or mc.StopReason.USER] + " after"
        st.success(
            f"{job.name} {verb} {full_epochs} full epoch(s) in {job.result.fit_seconds:,.1f} s · "
            + (f"validation {val:.2%} · " if val is not None else "")
            + f"test {job.evaluation.accuracy:.2%} on {len(job.evaluation.labels):,} digits. "
            "It is now the current model for Evaluate and Draw.",
            icon=":material/check_circle:",
        )
        if isinstance(job, mc.FineTuneJob):
            _before_after(job)


def _before_after(job: mc.FineTuneJob) -> None:
    """What fine-tuning did: on the user's digits, and on MNIST's test digits."""
    own, test, _ = st.columns(3)
    own.metric(
        f"Your {len(job.own)} digits", f"{job.own_after.accuracy:.0%}",
        f"{(job.own_after.accuracy - job.own_before.accuracy) * 100:+.0f} points "
        f"(from {job.own_before.accuracy:.0%})", border=True,
    )  # fmt: skip
    test.metric(
        f"MNIST's {len(job.evaluation.labels):,} test digits", f"{job.evaluation.accuracy:.2%}",
        f"{(job.evaluation.accuracy - job.test_before.accuracy) * 100:+.2f} points "
        f"(from {job.test_before.accuracy:.2%})", border=True,
    )  # fmt: skip
    st.caption(
        "The digits it was fine-tuned on are not a fair test of it: draw new ones to see "
        "whether it learned your handwriting or just those drawings."
    )


def _waiting(job: mc.TrainingJob) -> None:
    slots = state.training_slots()
    place = slots.place(job) or 1
    ahead = [other.remaining_seconds() for other in slots.ahead_of(job)]
    wait = "unknown" if None in ahead else f"about {_duration(sum(ahead) / slots.limit)}"
    st.info(
        f"Waiting for a free training slot: you are number {place} in the queue, and "
        f"{slots.running} of {slots.limit} slot(s) on this server are in use. Rough wait: "
        f"{wait}. Your run starts as soon as it is its turn.",
        icon=":material/hourglass_top:",
    )
    st.button("Cancel", on_click=job.stop, key=f"cancel_{job.name}")


def _duration(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 90 else f"{seconds / 60:,.0f} min"


def _progress(job: mc.TrainingJob, view: mc.JobView) -> None:
    bar, stop = st.columns([5, 1], vertical_alignment="bottom")
    fraction, label = 0.0, "Starting…"
    if view.batches:
        last = view.batches[-1]
        fraction, label = last.step / (last.batches * last.epochs), _progress_text(last)
    if job.stopping:
        label = "Stopping after this batch…"
    bar.progress(fraction, text=label)
    stop.button("Stop", icon=":material/stop:", on_click=job.stop, key=f"stop_{job.name}")


# Seconds. Progress is light; the charts cost the training CPU to draw (2 cores), so they
# redraw less often.
PROGRESS_EVERY, CHARTS_EVERY = 1.0, 3.0


def live_run(job: mc.TrainingJob) -> None:
    """A run's progress (every second), and its charts and epoch table (every few seconds)."""
    st.subheader(job.name)
    running = not job.finished
    st.fragment(_live_progress, run_every=PROGRESS_EVERY if running else None)(job, running)
    st.fragment(_live_charts, run_every=CHARTS_EVERY if running else None)(job)


def _live_progress(job: mc.TrainingJob, was_running: bool) -> None:
    # Timers redraw only the fragments, never the training thread.
    job.seen()
    view = job.view()
    if view.state is mc.JobState.WAITING:
        _waiting(job)
    elif job.finished:
        _outcome(job)
    else:
        _progress(job, view)
    if _ends_within_a_tick(job, view):
        job.join(PROGRESS_EVERY)  # so the outcome shows the moment the run ends
    if job.finished and was_running:
        st.rerun()  # the whole page at once: the outcome, the final charts, the run history


def _ends_within_a_tick(job: mc.TrainingJob, view: mc.JobView) -> bool:
    """True when the run should end before the next tick: only then is waiting for it worth
    holding the page (a click waits for the wait to end)."""
    if job.finished or view.state is mc.JobState.WAITING:
        return False
    last = view.batches[-1] if view.batches else None
    return view.state is mc.JobState.TESTING or (last is not None and last.eta < PROGRESS_EVERY)


def _live_charts(job: mc.TrainingJob) -> None:
    view = job.view()
    if view.state is mc.JobState.WAITING:
        return
    st.plotly_chart(mc.charts.training_curves(view.batches, view.epochs), key=f"curves_{job.name}")
    if any(e.val_confusion is not None for e in view.epochs):
        _digit_learning(job, view)
    if view.epochs:
        st.dataframe(_epoch_table(view), hide_index=True, width="stretch")
        if job.finished:
            history_download(job, _("Download this run's history (CSV)"), f"history_csv_{job.name}")


def history_download(job: mc.TrainingJob, label: str, key: str) -> None:
    """A finished run's epochs (for a stopped run, those it got to) as a CSV download."""
    epochs = job.view().epochs
    widgets.csv_download(
        label,
        lambda: mc.export.history_csv(epochs),
        f"{mc.export.file_stem(job.name)}-history.csv",
        key=key,
        help=_(
            "One row per epoch: loss, accuracy, validation loss and accuracy, seconds, and "
            "the validation accuracy of each digit. A spreadsheet opens it."
        ),
    )


def _digit_learning(job: mc.TrainingJob, view: mc.JobView) -> None:
    """Per digit and as a confusion matrix, how the validation digits are read after each
    epoch; live during the run, and replayed epoch by epoch with a slider after it."""
    epochs = [e for e in view.epochs if e.val_confusion is not None]
    shown = epochs[-1]
    if job.finished and len(epochs) > 1:
        number = st.select_slider(
            "Replay the run: the validation digits after epoch",
            [e.epoch for e in epochs], value=epochs[-1].epoch, key=f"replay_{job.name}",
            help="Move back to see which digits the network learned first and which lagged.",
        )  # fmt: skip
        shown = next(e for e in epochs if e.epoch == number)
    learning, confusion = st.columns(2)
    learning.plotly_chart(
        mc.charts.digit_learning([e for e in epochs if e.epoch <= shown.epoch]),
        key=f"learning_{job.name}",
    )
    figure = mc.charts.confusion_heatmap(shown.val_confusion, normalize=True)
    figure.update_layout(
        title=f"Validation confusion after epoch {shown.epoch}", height=400, margin=dict(t=110)
    )
    confusion.plotly_chart(figure, key=f"confusion_{job.name}", config={"displayModeBar": False})


def run_history(jobs: list[mc.TrainingJob]) -> None:
    """Every finished run in a table, and their validation curves overlaid."""
    finished = [job for job in jobs if job.finished]
    if not finished:
        return
    st.subheader("Run history")
    widgets.table(
        pd.DataFrame([_history_row(job) for job in finished]),
        percent=("val accuracy", "test accuracy"),
        formats={"seconds": "%.1f"},
    )
    curves = {job.name: job.result.history for job in finished if job.result and job.result.history}
    if curves:
        st.plotly_chart(mc.charts.runs_overlay(curves), width="stretch")
    st.caption("Pick the model that Evaluate and Draw use in the sidebar.")
    _history_downloads(finished)
    publishable = [job for job in finished if job.publishable]
    if publishable:
        _publish(publishable)


def _history_downloads(jobs: list[mc.TrainingJob]) -> None:
    """Every finished run's per-epoch history as a CSV, one button each."""
    trained = [job for job in jobs if job.view().epochs]
    if not trained:
        return
    with st.popover(_("Download a run's history (CSV)"), icon=":material/download:"):
        for job in trained:
            history_download(job, job.name, f"history_csv_all_{job.name}")


def _publish(jobs: list[mc.TrainingJob]) -> None:
    """Opt-in: put one run on the class board under a name the user types."""
    with st.form("publish", enter_to_submit=True):
        st.markdown("**Publish a run on the class board**")
        st.caption(
            "Only what you publish is shared: the name you type, the run's settings, size, "
            "test accuracy and training time. Everyone on this server sees the board."
        )
        run, name = st.columns(2)
        names = [job.name for job in jobs]
        # Keyed by the newest run, so a new run is the one offered.
        picked = run.selectbox("Run", names, index=len(names) - 1, key=f"publish_{names[-1]}")
        shown_as = name.text_input(
            "Your name, as the board shows it", max_chars=mc.board.MAX_NAME_CHARS,
            key="publish_name", placeholder="e.g. Ada L.",
        )  # fmt: skip
        if not st.form_submit_button("Publish", icon=":material/publish:"):
            return
        job = next(job for job in jobs if job.name == picked)
        try:
            entry = state.publish(job, shown_as)
        except mc.BoardError as err:
            st.error(str(err), icon=":material/error:")
            return
        st.success(
            f"Published as “{widgets.plain(entry.name)}”: {entry.accuracy:.2%} with "
            f"{entry.parameters:,} parameters.",
            icon=":material/check_circle:",
        )
    navigation.link(navigation.BOARD, "See the class board")


def _history_row(job: mc.TrainingJob) -> dict:
    result, history = job.result, job.result.history if job.result else []
    return {
        "run": job.name,
        "outcome": str(job.state),
        "network": job.describe(),
        "parameters": result.model.count_params() if result else None,
        "epochs": len(history),
        "seconds": result.fit_seconds if result else None,
        "val accuracy": history[-1].val_accuracy if history else None,
        "test accuracy": job.evaluation.accuracy if job.evaluation else None,
    }
