"""Shared runs: identical trainings asked for while one is queued or training are trained once.

In a class, most runs are the same run: thirty students press Train on one preset, with one seed,
on the server's one copy of MNIST. The first press starts a TrainingJob; every press with exactly
the same settings and data while that job is waiting or training takes a `Seat` on it instead.
A seat is each user's own run: its own name in their workspace, the shared job's progress and
model, and its own Stop, which only takes that user off the run. The job itself stops when its
last seat leaves, or as any run does when no page has shown it for a while.

A finished run is never joined: pressing Train again trains anew, as it does alone.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mnist_core.classroom.jobs import JobState, JobView, StopReason, TrainingJob
from mnist_core.config import TrainConfig
from mnist_core.data import MnistData
from mnist_core.engine.evaluation import Evaluation
from mnist_core.engine.progress import TrainResult


@dataclass(frozen=True)
class RunKey:
    """What makes two runs the same run: every setting (the seed among them) and the data."""

    config: TrainConfig
    # The data's identity: the server loads MNIST once, and the job holds it while the key is
    # in use, so no other data can take this id meanwhile.
    data: int


@dataclass(eq=False)
class _SharedRun:
    job: TrainingJob
    seats: list[Seat] = field(default_factory=list)

    @property
    def joinable(self) -> bool:
        return not self.job.finished and not self.job.stopping


@dataclass(eq=False)
class Seat:
    """One user's place on a shared run; reads like the TrainingJob it shares."""

    name: str
    training: TrainingJob  # the job that trains, shared by every seat on it
    joined_after: float | None  # seconds after the run started; None: this seat started it
    _run: _SharedRun = field(repr=False)
    _registry: SharedRuns = field(repr=False)
    _left: JobView | None = field(default=None, init=False, repr=False)

    @property
    def joined(self) -> bool:
        """True when another user started the run and this one joined it."""
        return self.joined_after is not None

    @property
    def sharers(self) -> int:
        """How many users are on the run now, this one included while on it."""
        return self._registry.sharers(self)

    @property
    def config(self) -> TrainConfig:
        return self.training.config

    @property
    def started(self) -> float:
        """When the shared run was started (time.time())."""
        return self.training.started

    @property
    def state(self) -> JobState:
        return JobState.LEFT if self._left is not None else self.training.state

    @property
    def stop_reason(self) -> StopReason | None:
        return None if self._left is not None else self.training.stop_reason

    @property
    def result(self) -> TrainResult | None:
        return None if self._left is not None else self.training.result

    @property
    def evaluation(self) -> Evaluation | None:
        return None if self._left is not None else self.training.evaluation

    @property
    def error(self) -> str | None:
        return None if self._left is not None else self.training.error

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def stopping(self) -> bool:
        return self._left is None and self.training.stopping

    @property
    def publishable(self) -> bool:
        """True when the run trained all its epochs and this user stayed on it."""
        return self._left is None and self.training.publishable

    def start(self) -> Seat:
        """Nothing to do: SharedRuns.join started the run (or found it going)."""
        return self

    def stop(self, reason: StopReason = StopReason.USER) -> None:
        """Leave the run; the last user to leave stops it."""
        self._registry.leave(self, reason)

    def seen(self) -> None:
        """A page of this user's shows the run: it is not abandoned."""
        if self._left is None:
            self.training.seen()

    def view(self) -> JobView:
        """The shared progress, or what it was when this user left."""
        if self._left is not None:
            return self._left
        return dataclasses.replace(self.training.view(), name=self.name)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the shared run to end (not at all once this user left it)."""
        if self._left is None:
            self.training.join(timeout)

    def remaining_seconds(self) -> float | None:
        return 0.0 if self._left is not None else self.training.remaining_seconds()

    def describe(self) -> str:
        return self.training.describe()


class SharedRuns:
    """This server's runs that can still be joined, by RunKey; thread-safe."""

    def __init__(self):
        self._runs: dict[RunKey, _SharedRun] = {}
        self._lock = threading.Lock()

    def join(
        self,
        name: str,
        config: TrainConfig,
        data: MnistData,
        make: Callable[[str], TrainingJob],
    ) -> Seat:
        """A seat named `name` on the run of `config` on `data` that is queued or training, or
        on a new one, `make(name)`, started here."""
        key = RunKey(config, id(data))
        with self._lock:
            for gone in [k for k, run in self._runs.items() if run.job.finished]:
                del self._runs[gone]
            run = self._runs.get(key)
            if run is not None and run.joinable:
                run.job.seen()  # a page shows it now: not abandoned before the joiner's first look
                joined_after = max(time.time() - run.job.started, 0.0)
            else:
                run = self._runs[key] = _SharedRun(make(name).start())
                joined_after = None
            seat = Seat(name, run.job, joined_after, run, self)
            run.seats.append(seat)
            return seat

    def leave(self, seat: Seat, reason: StopReason = StopReason.USER) -> None:
        """Take `seat` off its run; the run stops when it was the last one on it."""
        with self._lock:
            run = seat._run
            if seat not in run.seats or run.job.finished:
                return
            if len(run.seats) == 1:  # the last one: it keeps the stopped run's model
                run.job.stop(reason)
                return
            run.seats.remove(seat)
            seat._left = dataclasses.replace(
                run.job.view(),
                name=seat.name,
                state=JobState.LEFT,
                stopping=False,
                result=None,
                evaluation=None,
            )

    def sharers(self, seat: Seat) -> int:
        """How many seats `seat`'s run has now."""
        with self._lock:
            return len(seat._run.seats)

    def __len__(self) -> int:
        """How many runs can be joined now."""
        with self._lock:
            return sum(run.joinable for run in self._runs.values())
