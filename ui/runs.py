"""A training run on screen, live: its progress, charts and epoch table, and how it ended."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.classroom.fine_tune_job import FineTuneJob
from mnist_core.classroom.jobs import JobState, JobView, StopReason, TrainingJob
from mnist_core.classroom.shared_runs import Seat
from mnist_core.engine.evaluation import Evaluation
from mnist_core.engine.progress import BatchProgress, EpochProgress
from mnist_core.i18n import N_, _
from mnist_core.presentation import charts
from ui import accessibility, run_history, shared_figures, state, weights_view, widgets


def _progress_text(last: BatchProgress) -> str:
    return _(
        "Epoch {epoch}/{epochs} · batch {batch}/{batches} · {speed:,.0f} images/s · "
        "{elapsed:,.0f} s elapsed · about {eta:,.0f} s left"
    ).format(
        epoch=last.epoch,
        epochs=last.epochs,
        batch=last.batch,
        batches=last.batches,
        speed=last.images_per_s,
        elapsed=last.elapsed,
        eta=last.eta,
    )


def _epoch_table(view: JobView) -> pd.DataFrame:
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
    StopReason.USER: "",
    StopReason.ABANDONED: N_(" (no page showed it for a minute, so it stopped by itself)"),
    StopReason.TIME_LIMIT: N_(" (it reached this server's time limit for one run)"),
}


def _outcome(job: TrainingJob, view: JobView) -> None:
    """One line on how a finished run ended."""
    why = STOPPED_BECAUSE[view.stop_reason or StopReason.USER]
    why = _(why) if why else ""
    if view.state is JobState.LEFT:
        st.info(
            _(
                "You left {run}: it goes on for the others on it, and keeps no model for you."
            ).format(run=view.name),
            icon=":material/logout:",
        )
    elif view.state is JobState.FAILED:
        st.error(_("{run} failed: {error}").format(run=view.name, error=view.error))
    elif view.state is JobState.CANCELLED:
        st.warning(_("{run} was cancelled before it started{why}.").format(run=view.name, why=why))
    else:
        epochs = view.result.history
        full_epochs = len(epochs) - (1 if epochs and epochs[-1].partial else 0)
        val = epochs[-1].val_accuracy if epochs else None
        if view.state is JobState.STOPPED:
            ended = _("{run} stopped{why} after {n} full epoch(s) in {seconds:,.1f} s")
        else:
            ended = _("{run} finished {n} full epoch(s) in {seconds:,.1f} s")
        ended = ended.format(run=view.name, why=why, n=full_epochs, seconds=view.result.fit_seconds)
        st.success(
            ended
            + " · "
            + (
                _("validation {accuracy:.2%}").format(accuracy=val) + " · "
                if val is not None
                else ""
            )
            + _("test {accuracy:.2%} on {n:,} digits.").format(
                accuracy=view.evaluation.accuracy, n=len(view.evaluation.labels)
            )
            + " "
            + _("It is now the current model for Evaluate and Draw."),
            icon=":material/check_circle:",
        )
        if isinstance(job, FineTuneJob):
            _before_after(job, view)


def _before_after(job: FineTuneJob, view: JobView) -> None:
    """What fine-tuning did: on the user's digits, and on MNIST's test digits (a finished job's
    own results, which no longer change)."""
    own, test, _unused = st.columns(3)
    mnist = view.evaluation
    _accuracy_change(
        own, _("Your {n} digits").format(n=len(job.own)), job.own_after, job.own_before, 0
    )
    _accuracy_change(
        test, _("MNIST's {n:,} test digits").format(n=len(mnist.labels)), mnist, job.test_before, 2
    )
    st.caption(
        _(
            "The digits it was fine-tuned on are not a fair test of it: draw new ones to see "
            "whether it learned your handwriting or just those drawings."
        )
    )


# How far an accuracy moved, to as many decimals as it is shown with (by decimals).
ACCURACY_CHANGE = {
    0: N_("{change:+.0f} points (from {before:.0%})"),
    2: N_("{change:+.2f} points (from {before:.2%})"),
}


def _accuracy_change(place, label: str, after: Evaluation, before: Evaluation, digits: int) -> None:
    """`after`'s accuracy, and how many points it moved from `before`'s."""
    place.metric(
        label,
        f"{after.accuracy:.{digits}%}",
        _(ACCURACY_CHANGE[digits]).format(
            change=(after.accuracy - before.accuracy) * 100, before=before.accuracy
        ),
        border=True,
    )


def _waiting(job: TrainingJob) -> None:
    slots = state.training_slots()
    place = slots.place(job.training) or 1
    holders = slots.ahead_of(job.training)
    if state.warmup() in holders:
        st.info(
            _(
                "This server is measuring its training speed, once after it starts (one small "
                "training). Your run starts as soon as that is done."
            ),
            icon=":material/speed:",
        )
    seconds = slots.wait_seconds(job.training, lambda other: other.remaining_seconds())
    wait = (
        _("unknown")
        if seconds is None
        else _("about {duration}").format(duration=_duration(seconds))
    )
    st.info(
        _(
            "Waiting for a free training slot: you are number {place} in the queue, and "
            "{running} of {limit} slot(s) on this server are in use. Rough wait: {wait}. "
            "Your run starts as soon as it is its turn."
        ).format(place=place, running=slots.running, limit=slots.limit, wait=wait),
        icon=":material/hourglass_top:",
    )
    st.button(_("Cancel"), on_click=job.stop, key=f"cancel_{job.name}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return _("{seconds:,.0f} s").format(seconds=seconds)
    return _("{minutes:,.0f} min").format(minutes=seconds / 60)


def _progress(job: TrainingJob, view: JobView) -> None:
    bar, stop = st.columns([5, 1], vertical_alignment="bottom")
    fraction, label = 0.0, _("Starting…")
    if view.batches:
        last = view.batches[-1]
        fraction, label = last.step / (last.batches * last.epochs), _progress_text(last)
    if view.stopping:
        label = _("Stopping after this batch…")
    bar.progress(fraction, text=label)
    shared = _sharers(job) > 1
    stop.button(
        _("Stop"),
        icon=":material/stop:",
        on_click=job.stop,
        key=f"stop_{job.name}",
        help=_("Others are on this run: Stop takes you off it, and it goes on for them.")
        if shared
        else None,
    )


def _sharers(job: TrainingJob) -> int:
    """How many users are on the run now (a run of one user's own: 1)."""
    return job.sharers if isinstance(job, Seat) else 1


def _joined(job: TrainingJob, view: JobView) -> None:
    """Tell a user who joined an identical run so, while it goes on."""
    if not isinstance(job, Seat) or not job.joined or view.finished:
        return
    users = _sharers(job)
    if users > 2:
        text = _(
            "You joined a run with exactly these settings, started {seconds:,.0f} s ago by "
            "another user: one training serves all {n} of you."
        )
    else:
        text = _(
            "You joined a run with exactly these settings, started {seconds:,.0f} s ago by "
            "another user: one training serves you both."
        )
    st.info(
        text.format(seconds=job.joined_after, n=users),
        icon=":material/group:",
    )


# Seconds. Progress is light; the charts cost the training CPU to draw (2 cores), so they
# redraw less often.
PROGRESS_EVERY, CHARTS_EVERY = 1.0, 3.0
# Pages on one shared run that redraw at those rates. More pages on it redraw it less often, in
# proportion, so that a class on one run costs the server's CPU what this many pages do.
PAGES_AT_FULL_RATE = 10


RUN_HEADING = '[data-testid="stMain"] h3'  # a run's heading (its text is the run's name)
_WATCHED = "runs_watched"  # runs this session has shown running


def live_run(job: TrainingJob) -> None:
    """A run's progress (every second), and its charts and epoch table (every few seconds)."""
    st.subheader(job.name, anchor=False)
    running = not job.view().finished
    watched = st.session_state.setdefault(_WATCHED, set())
    if running:
        watched.add(job.name)
    elif job.name in watched:  # it ended while shown: the outcome takes the keyboard focus
        watched.discard(job.name)
        accessibility.focus('[data-testid="stMain"] [data-testid="stAlertContainer"]', job.name)
    slower = max(1.0, _sharers(job) / PAGES_AT_FULL_RATE)
    tick = PROGRESS_EVERY * slower
    st.fragment(_live_progress, run_every=tick if running else None)(job, running, tick)
    st.fragment(_live_charts, run_every=CHARTS_EVERY * slower if running else None)(job)


def _live_progress(job: TrainingJob, was_running: bool, tick: float) -> None:
    # Timers redraw only the fragments, never the training thread.
    job.seen()
    view = job.view()
    _joined(job, view)
    if view.state is JobState.WAITING:
        _waiting(job)
    elif view.finished:
        _outcome(job, view)
    else:
        _progress(job, view)
    if _ends_within_a_tick(view, tick):
        job.join(tick)  # so the outcome shows the moment the run ends
        view = job.view()
    if view.finished and was_running:
        st.rerun()  # the whole page at once: the outcome, the final charts, the run history


def _ends_within_a_tick(view: JobView, tick: float) -> bool:
    """True when the run should end before the next tick: only then is waiting for it worth
    holding the page (a click waits for the wait to end)."""
    if view.finished or view.state is JobState.WAITING:
        return False
    last = view.batches[-1] if view.batches else None
    return view.state is JobState.TESTING or (last is not None and last.eta < tick)


def _live_charts(job: TrainingJob) -> None:
    view = job.view()
    if view.state is JobState.WAITING:
        return
    curves = shared_figures.figure(
        view, "curves", lambda: charts.training_curves(view.batches, view.epochs)
    )
    st.plotly_chart(
        curves,
        key=f"curves_{job.name}",
        config=charts.CONFIG,
    )
    if any(e.val_confusion is not None for e in view.epochs):
        _digit_learning(job, view)
    weights_view.show(view)
    if view.epochs:
        table = _epoch_table(view)
        widgets.table(table, labels=widgets.column_labels(table), key_column="epoch")
        if view.finished:
            run_history.history_download(
                view, _("Download this run's history (CSV)"), f"history_csv_{job.name}"
            )


def _digit_learning(job: TrainingJob, view: JobView) -> None:
    """Per digit and as a confusion matrix, how the validation digits are read after each
    epoch; live during the run, and replayed epoch by epoch with a slider after it."""
    epochs = [e for e in view.epochs if e.val_confusion is not None]
    shown = epochs[-1]
    if view.finished and len(epochs) > 1:
        number = st.select_slider(
            _("Replay the run: the validation digits after epoch"),
            [e.epoch for e in epochs],
            value=epochs[-1].epoch,
            key=f"replay_{job.name}",
            help=_("Move back to see which digits the network learned first and which lagged."),
        )
        shown = next(e for e in epochs if e.epoch == number)
    learning, confusion = st.columns(2)
    learning.plotly_chart(
        shared_figures.figure(
            view,
            "learning",
            lambda: charts.digit_learning([e for e in epochs if e.epoch <= shown.epoch]),
        ),
        key=f"learning_{job.name}",
        config=charts.CONFIG,
    )
    confusion.plotly_chart(
        shared_figures.figure(view, "confusion", lambda: _confusion(shown)),
        key=f"confusion_{job.name}",
        config=charts.CONFIG,
    )


def _confusion(epoch: EpochProgress):
    figure = charts.confusion_heatmap(epoch.val_confusion, normalize=True)
    figure.update_layout(
        title=_("Validation confusion after epoch {epoch}").format(epoch=epoch.epoch),
        height=400,
        margin=dict(t=110),
    )
    return figure
