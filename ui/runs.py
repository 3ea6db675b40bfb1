"""Training runs on screen: the network overview, the live view of a run, the run history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.classroom import board
from mnist_core.classroom.board import BoardError
from mnist_core.classroom.fine_tune_job import FineTuneJob
from mnist_core.classroom.jobs import JobState, JobView, StopReason, TrainingJob
from mnist_core.classroom.shared_runs import Seat
from mnist_core.config import TrainConfig, network_layers
from mnist_core.engine.progress import BatchProgress
from mnist_core.i18n import N_, _, ngettext
from mnist_core.presentation import charts, export
from ui import accessibility, navigation, state, weights_view, widgets


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(config: TrainConfig) -> pd.DataFrame:
    """The layers of `config`'s network as a table (English headers; shown translated)."""
    rows = network_layers(config)
    return pd.DataFrame(
        {
            "layer": [r.name for r in rows],
            "type": [r.kind for r in rows],
            "output shape": [" × ".join(str(d) for d in r.output_shape[1:]) for r in rows],
            "parameters": [r.params for r in rows],
        }
    )


# Table headers, marked for translation; the data keeps its English column names.
HEADERS = {
    "layer": N_("layer"),
    "type": N_("type"),
    "output shape": N_("output shape"),
    "parameters": N_("parameters"),
    "epoch": N_("epoch"),
    "complete": N_("complete"),
    "loss": N_("loss"),
    "accuracy": N_("accuracy"),
    "val loss": N_("val loss"),
    "val accuracy": N_("val accuracy"),
    "seconds": N_("seconds"),
    "run": N_("run"),
    "outcome": N_("outcome"),
    "network": N_("network"),
    "epochs": N_("epochs"),
    "test accuracy": N_("test accuracy"),
}


def _headers(table: pd.DataFrame) -> dict[str, str]:
    """The table's column names translated, as st.dataframe's column_config labels."""
    return {name: _(HEADERS[name]) for name in table.columns}


def network_overview(config: TrainConfig) -> None:
    """The layer table and parameter count of a config that can be built, and the time
    estimate once this server's speed is known (measured once, in the background)."""
    table = layer_table(config)
    st.dataframe(table, hide_index=True, width="stretch", column_config=_headers(table))
    waiting = not state.warmup().done
    st.fragment(_estimate, run_every=ESTIMATE_POLL if waiting else None)(
        config, int(table["parameters"].sum()), waiting
    )


ESTIMATE_POLL = 1.0  # seconds between looks at the speed calibration, until it is done


def _estimate(config: TrainConfig, params: int, was_waiting: bool) -> None:
    warmup = state.warmup()
    if warmup.done and was_waiting:
        st.rerun()  # the whole page, so that this stops polling
    if warmup.error is not None:
        st.markdown(_("**{params:,} parameters**").format(params=params))
        st.warning(
            _("No time estimate: measuring this server's speed failed ({error}).").format(
                error=warmup.error
            ),
            icon=":material/warning:",
        )
        return
    if warmup.speed is None:
        st.markdown(
            _("**{params:,} parameters** · estimating this server's speed…").format(params=params)
        )
        return
    seconds = warmup.speed.estimate_epoch(config)
    total = warmup.speed.estimate(config)
    st.markdown(
        ngettext(
            "**{params:,} parameters** · about **{seconds:,.1f} s per epoch** on this server "
            "({total:,.0f} s for {epochs} epoch, {start:,.0f} s of it to start)",
            "**{params:,} parameters** · about **{seconds:,.1f} s per epoch** on this server "
            "({total:,.0f} s for {epochs} epochs, {start:,.0f} s of it to start)",
            config.epochs,
        ).format(
            params=params,
            seconds=seconds,
            total=total,
            epochs=config.epochs,
            start=total - seconds * config.epochs,
        ),
        help=_(
            "From one short training timed when the server started, then corrected after each run "
            "that trains all its epochs by how long it really took, so it follows how busy the "
            "server is. Time waiting in the queue comes on top."
        ),
    )


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


def _outcome(job: TrainingJob) -> None:
    """One line on how a finished run ended."""
    why = STOPPED_BECAUSE[job.stop_reason or StopReason.USER]
    why = _(why) if why else ""
    if job.state is JobState.LEFT:
        st.info(
            _(
                "You left {run}: it goes on for the others on it, and keeps no model for you."
            ).format(run=job.name),
            icon=":material/logout:",
        )
    elif job.state is JobState.FAILED:
        st.error(_("{run} failed: {error}").format(run=job.name, error=job.error))
    elif job.state is JobState.CANCELLED:
        st.warning(_("{run} was cancelled before it started{why}.").format(run=job.name, why=why))
    else:
        epochs = job.result.history
        full_epochs = len(epochs) - (1 if epochs and epochs[-1].partial else 0)
        val = epochs[-1].val_accuracy if epochs else None
        if job.state is JobState.STOPPED:
            ended = _("{run} stopped{why} after {n} full epoch(s) in {seconds:,.1f} s")
        else:
            ended = _("{run} finished {n} full epoch(s) in {seconds:,.1f} s")
        ended = ended.format(run=job.name, why=why, n=full_epochs, seconds=job.result.fit_seconds)
        st.success(
            ended
            + " · "
            + (
                _("validation {accuracy:.2%}").format(accuracy=val) + " · "
                if val is not None
                else ""
            )
            + _("test {accuracy:.2%} on {n:,} digits.").format(
                accuracy=job.evaluation.accuracy, n=len(job.evaluation.labels)
            )
            + " "
            + _("It is now the current model for Evaluate and Draw."),
            icon=":material/check_circle:",
        )
        if isinstance(job, FineTuneJob):
            _before_after(job)


def _before_after(job: FineTuneJob) -> None:
    """What fine-tuning did: on the user's digits, and on MNIST's test digits."""
    own, test, _unused = st.columns(3)
    own.metric(
        _("Your {n} digits").format(n=len(job.own)),
        f"{job.own_after.accuracy:.0%}",
        _("{change:+.0f} points (from {before:.0%})").format(
            change=(job.own_after.accuracy - job.own_before.accuracy) * 100,
            before=job.own_before.accuracy,
        ),
        border=True,
    )
    test.metric(
        _("MNIST's {n:,} test digits").format(n=len(job.evaluation.labels)),
        f"{job.evaluation.accuracy:.2%}",
        _("{change:+.2f} points (from {before:.2%})").format(
            change=(job.evaluation.accuracy - job.test_before.accuracy) * 100,
            before=job.test_before.accuracy,
        ),
        border=True,
    )
    st.caption(
        _(
            "The digits it was fine-tuned on are not a fair test of it: draw new ones to see "
            "whether it learned your handwriting or just those drawings."
        )
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
    if job.stopping:
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


def _joined(job: TrainingJob) -> None:
    """Tell a user who joined an identical run so, while it goes on."""
    if not isinstance(job, Seat) or not job.joined or job.finished:
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


RUN_HEADING = '[data-testid="stMain"] h3'  # a run's heading (its text is the run's name)
_WATCHED = "runs_watched"  # runs this session has shown running


def live_run(job: TrainingJob) -> None:
    """A run's progress (every second), and its charts and epoch table (every few seconds)."""
    st.subheader(job.name, anchor=False)
    running = not job.finished
    watched = st.session_state.setdefault(_WATCHED, set())
    if running:
        watched.add(job.name)
    elif job.name in watched:  # it ended while shown: the outcome takes the keyboard focus
        watched.discard(job.name)
        accessibility.focus('[data-testid="stMain"] [data-testid="stAlertContainer"]', job.name)
    st.fragment(_live_progress, run_every=PROGRESS_EVERY if running else None)(job, running)
    st.fragment(_live_charts, run_every=CHARTS_EVERY if running else None)(job)


def _live_progress(job: TrainingJob, was_running: bool) -> None:
    # Timers redraw only the fragments, never the training thread.
    job.seen()
    view = job.view()
    _joined(job)
    if view.state is JobState.WAITING:
        _waiting(job)
    elif job.finished:
        _outcome(job)
    else:
        _progress(job, view)
    if _ends_within_a_tick(job, view):
        job.join(PROGRESS_EVERY)  # so the outcome shows the moment the run ends
    if job.finished and was_running:
        st.rerun()  # the whole page at once: the outcome, the final charts, the run history


def _ends_within_a_tick(job: TrainingJob, view: JobView) -> bool:
    """True when the run should end before the next tick: only then is waiting for it worth
    holding the page (a click waits for the wait to end)."""
    if job.finished or view.state is JobState.WAITING:
        return False
    last = view.batches[-1] if view.batches else None
    return view.state is JobState.TESTING or (last is not None and last.eta < PROGRESS_EVERY)


def _live_charts(job: TrainingJob) -> None:
    view = job.view()
    if view.state is JobState.WAITING:
        return
    st.plotly_chart(
        charts.training_curves(view.batches, view.epochs),
        key=f"curves_{job.name}",
        config=charts.CONFIG,
    )
    if any(e.val_confusion is not None for e in view.epochs):
        _digit_learning(job, view)
    weights_view.show(job, view)
    if view.epochs:
        table = _epoch_table(view)
        widgets.table(table, labels=_headers(table), key_column="epoch")
        if job.finished:
            history_download(job, _("Download this run's history (CSV)"), f"history_csv_{job.name}")


def history_download(job: TrainingJob, label: str, key: str) -> None:
    """A finished run's epochs (for a stopped run, those it got to) as a CSV download."""
    epochs = job.view().epochs
    widgets.csv_download(
        label,
        lambda: export.history_csv(epochs),
        f"{export.file_stem(job.name)}-history.csv",
        key=key,
        help=_(
            "One row per epoch: loss, accuracy, validation loss and accuracy, seconds, and "
            "the validation accuracy of each digit. A spreadsheet opens it."
        ),
    )


def _digit_learning(job: TrainingJob, view: JobView) -> None:
    """Per digit and as a confusion matrix, how the validation digits are read after each
    epoch; live during the run, and replayed epoch by epoch with a slider after it."""
    epochs = [e for e in view.epochs if e.val_confusion is not None]
    shown = epochs[-1]
    if job.finished and len(epochs) > 1:
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
        charts.digit_learning([e for e in epochs if e.epoch <= shown.epoch]),
        key=f"learning_{job.name}",
        config=charts.CONFIG,
    )
    figure = charts.confusion_heatmap(shown.val_confusion, normalize=True)
    figure.update_layout(
        title=_("Validation confusion after epoch {epoch}").format(epoch=shown.epoch),
        height=400,
        margin=dict(t=110),
    )
    confusion.plotly_chart(figure, key=f"confusion_{job.name}", config=charts.CONFIG)


def run_history(jobs: list[TrainingJob]) -> None:
    """Every finished run in a table, and their validation curves overlaid."""
    finished = [job for job in jobs if job.finished]
    if not finished:
        return
    st.subheader(_("Run history"))
    history = pd.DataFrame([_history_row(job) for job in finished])
    widgets.table(
        history,
        percent=("val accuracy", "test accuracy"),
        formats={"seconds": "%.1f"},
        labels=_headers(history),
        key_column="run",
    )
    curves = {job.name: job.result.history for job in finished if job.result and job.result.history}
    if curves:
        st.plotly_chart(charts.runs_overlay(curves), width="stretch", config=charts.CONFIG)
    st.caption(_("Pick the model that Evaluate and Draw use in the sidebar."))
    _history_downloads(finished)
    publishable = [job for job in finished if job.publishable]
    if publishable:
        _publish(publishable)


def _history_downloads(jobs: list[TrainingJob]) -> None:
    """Every finished run's per-epoch history as a CSV, one button each."""
    trained = [job for job in jobs if job.view().epochs]
    if not trained:
        return
    with st.popover(_("Download a run's history (CSV)"), icon=":material/download:"):
        for job in trained:
            history_download(job, job.name, f"history_csv_all_{job.name}")


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


def _history_row(job: TrainingJob) -> dict:
    result, history = job.result, job.result.history if job.result else []
    return {  # what tells runs apart first: a phone shows only the first few columns
        "run": job.name,
        "test accuracy": job.evaluation.accuracy if job.evaluation else None,
        "val accuracy": history[-1].val_accuracy if history else None,
        "outcome": job.state.label,
        "epochs": len(history),
        "seconds": result.fit_seconds if result else None,
        "parameters": result.model.count_params() if result else None,
        "network": job.describe(),
    }
