"""A run's life on the server: queued, trained and tested in a worker thread that never touches
the UI, stopped by its user, by nobody watching it or by a time limit."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from mnist_core.classroom import heap
from mnist_core.classroom.estimates import ServerSpeed
from mnist_core.classroom.queue import TrainingSlots
from mnist_core.config import TrainConfig
from mnist_core.data import MnistData
from mnist_core.engine.progress import BatchProgress, EpochProgress, Progress, TrainResult
from mnist_core.i18n import N_, _

if TYPE_CHECKING:
    import keras

    from mnist_core.engine.evaluation import Evaluation


@dataclass(frozen=True)
class RunLimits:
    """When a run stops by itself: nobody watching it, or too long for a shared server."""

    abandon_after: float | None = 60.0  # seconds without job.seen(); None: never
    max_seconds: float | None = None  # of training; None: no limit


class StopReason(StrEnum):
    """Why a run stopped before its last epoch."""

    USER = "user"  # Stop or Cancel
    ABANDONED = "abandoned"  # no page showed it for `abandon_after` seconds
    TIME_LIMIT = "time limit"  # it trained for `max_seconds`


class JobState(StrEnum):
    """Where a training job is in its life."""

    WAITING = "waiting"  # for a free training slot
    TRAINING = "training"
    TESTING = "testing"
    DONE = "done"
    STOPPED = "stopped"  # by the user: the partly trained model is kept
    CANCELLED = "cancelled"  # stopped while waiting: nothing was trained
    FAILED = "failed"
    LEFT = "left"  # the user left a shared run that goes on for the others on it

    @property
    def finished(self) -> bool:
        """True for the states a job never leaves."""
        return self in (
            JobState.DONE,
            JobState.STOPPED,
            JobState.CANCELLED,
            JobState.FAILED,
            JobState.LEFT,
        )

    @property
    def label(self) -> str:
        """The state in the user's language, for display (the value stays English)."""
        return _(_STATE_LABELS[self])


_STATE_LABELS = {
    JobState.WAITING: N_("waiting"),
    JobState.TRAINING: N_("training"),
    JobState.TESTING: N_("testing"),
    JobState.DONE: N_("done"),
    JobState.STOPPED: N_("stopped"),
    JobState.CANCELLED: N_("cancelled"),
    JobState.FAILED: N_("failed"),
    JobState.LEFT: N_("left"),
}


@dataclass(frozen=True)
class JobView:
    """A consistent copy of a job's state: what pages read, while it runs and after."""

    name: str
    config: TrainConfig
    state: JobState
    batches: list[BatchProgress]
    epochs: list[EpochProgress]
    error: str | None = None
    stop_reason: StopReason | None = None
    stopping: bool = False  # a stop was asked for and the run has not ended yet
    result: TrainResult | None = None
    evaluation: Evaluation | None = None  # on the test digits, once tested

    @property
    def finished(self) -> bool:
        """True once the job will change no more."""
        return self.state.finished


@dataclass(eq=False)
class TrainingJob:
    """One run: build, train and test in a worker thread that never touches the UI."""

    name: str
    config: TrainConfig
    data: MnistData
    slots: TrainingSlots | None = None
    limits: RunLimits = RunLimits(abandon_after=None)
    estimated_seconds: float | None = None  # of training, for the wait of those queued after it
    speed: ServerSpeed | None = None  # corrected by this run's time if it trains every epoch
    state: JobState = field(default=JobState.WAITING, init=False)
    stop_reason: StopReason | None = field(default=None, init=False)
    result: TrainResult | None = field(default=None, init=False)
    evaluation: Evaluation | None = field(default=None, init=False)
    error: str | None = field(default=None, init=False)
    started: float = field(default_factory=time.time, init=False)
    _batches: list[BatchProgress] = field(default_factory=list, init=False, repr=False)
    _epochs: list[EpochProgress] = field(default_factory=list, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _last_seen: float = field(default_factory=time.monotonic, init=False, repr=False)
    _training_since: float | None = field(default=None, init=False, repr=False)

    @property
    def training(self) -> TrainingJob:
        """The job that trains and holds the training slot: this one (a shared run's seat
        gives the job it shares)."""
        return self

    def start(self) -> TrainingJob:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._run, name=f"train-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, reason: StopReason = StopReason.USER) -> None:
        """Ask training to stop after the current batch (or not to start, if waiting)."""
        with self._lock:
            if self.stop_reason is None and not self.state.finished:
                self.stop_reason = reason
        self._stop.set()

    def seen(self) -> None:
        """A page is showing this run: it is not abandoned."""
        self._last_seen = time.monotonic()

    def remaining_seconds(self) -> float | None:
        """Rough seconds until this run frees its slot (None when unknown)."""
        if self.finished:
            return 0.0
        with self._lock:
            last = self._batches[-1] if self._batches else None
        if last is not None:
            return last.eta
        if self.speed is not None:  # at the server's pace now: the runs since it was queued
            return self.speed.estimate(self.config)  # corrected it
        return self.estimated_seconds

    def _should_stop(self) -> bool:
        """True once stopped; stops the run itself when abandoned or over its time limit."""
        now = time.monotonic()
        limits = self.limits
        if limits.abandon_after is not None and now - self._last_seen > limits.abandon_after:
            self.stop(StopReason.ABANDONED)
        since = self._training_since
        if (
            limits.max_seconds is not None
            and since is not None
            and now - since > limits.max_seconds
        ):
            self.stop(StopReason.TIME_LIMIT)
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker thread."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        """True once the job will change no more."""
        return self.state.finished

    @property
    def stopping(self) -> bool:
        """True when a stop was asked for and the job is still running."""
        return self._stop.is_set() and not self.finished

    def view(self) -> JobView:
        """A copy of the progress so far, safe to read while training goes on."""
        with self._lock:
            return JobView(
                name=self.name,
                config=self.config,
                state=self.state,
                batches=list(self._batches),
                epochs=list(self._epochs),
                error=self.error,
                stop_reason=self.stop_reason,
                stopping=self._stop.is_set() and not self.state.finished,
                result=self.result,
                evaluation=self.evaluation,
            )

    def _set_state(self, state: JobState) -> None:
        with self._lock:
            self.state = state

    def _record(self, progress: Progress) -> None:
        with self._lock:
            (self._epochs if isinstance(progress, EpochProgress) else self._batches).append(
                progress
            )
        self._should_stop()  # sets the event that training checks after every batch

    def describe(self) -> str:
        """What this run trains, in plain words."""
        return self.config.summary()

    @property
    def publishable(self) -> bool:
        """True when it trained all its epochs: its config alone then says how to redo it."""
        return self.state is JobState.DONE

    def _train(self) -> TrainResult:
        """Build the config's network and train it (in the worker thread)."""
        from mnist_core.engine.training import train_config  # TensorFlow, when a run starts

        return train_config(self.config, self.data, self._record, self._stop)

    def _test(self, model: keras.Model) -> None:
        """Test the trained model on the test digits (in the worker thread)."""
        from mnist_core.engine.model import evaluate

        self.evaluation = evaluate(model, self.data.x_test, self.data.y_test)

    def _run(self) -> None:
        if self.slots is not None and not self.slots.acquire(self, self._should_stop):
            self._set_state(JobState.CANCELLED)
            return
        try:
            self._training_since = time.monotonic()
            self._set_state(JobState.TRAINING)
            # On a long-lived thread, whose heap arena holds the run's freed churn only once.
            self.result = heap.run_on_worker(self._train)
            trained = time.monotonic() - self._training_since
            if self.speed is not None and not self.result.stopped:
                self.speed.record(self.config, trained)
            self._set_state(JobState.TESTING)
            heap.run_on_worker(lambda: self._test(self.result.model))
            self._set_state(JobState.STOPPED if self.result.stopped else JobState.DONE)
        except Exception as err:  # shown to the user; the thread must not die silently
            with self._lock:
                self.error = f"{type(err).__name__}: {err}"
                self.state = JobState.FAILED
        finally:
            if self.slots is not None:
                self.slots.release(self)
            heap.release_freed()
