"""Workspaces: each user's runs and uploaded models, kept by the server across reloads and tabs.

A workspace is found again by an unguessable token that only its owner's browser holds. One
nobody has come back to for `ttl` seconds is dropped with its models, so memory held for users
who left is returned.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mnist_core.classroom.board import Board, BoardEntry, BoardError
from mnist_core.engine.handwriting import HandwritingSet
from mnist_core.i18n import _

if TYPE_CHECKING:  # annotations only: a workspace and the sidebar need no TensorFlow
    import keras

    from mnist_core.classroom.jobs import TrainingJob
    from mnist_core.classroom.lessons import Lesson, Verdict
    from mnist_core.engine.progress import EpochProgress


@dataclass(frozen=True)
class ModelEntry:
    """A model the user can pick: the shipped default, a run of theirs, or an upload.

    The network itself comes from `load`, called when a page needs it: the sidebar and Home
    list the shipped default model without loading its file (nor importing TensorFlow).
    """

    name: str
    load: Callable[[], keras.Model] = field(repr=False, compare=False)
    params: int
    test_accuracy: float | None
    summary: str
    when: str
    history: tuple[EpochProgress, ...] = ()  # per epoch, for a run trained here

    @classmethod
    def of(
        cls,
        name: str,
        model: keras.Model,
        test_accuracy: float | None,
        summary: str,
        when: str,
        history: tuple[EpochProgress, ...] = (),
    ) -> ModelEntry:
        """The entry of a model already in memory (a run's, an upload)."""
        return cls(name, lambda: model, model.count_params(), test_accuracy, summary, when, history)

    @property
    def model(self) -> keras.Model:
        """The network, loaded on first use."""
        return self.load()


@dataclass(eq=False)
class Workspace:
    """One user's training runs (oldest first), uploaded models, current model and own digits."""

    token: str = field(repr=False)
    jobs: list[TrainingJob] = field(default_factory=list)
    uploads: dict[str, ModelEntry] = field(default_factory=dict)
    current_model: str | None = None
    made_current: set[str] = field(default_factory=set)  # models already made current once
    handwriting: HandwritingSet = field(default_factory=HandwritingSet)
    published: set[str] = field(default_factory=set)  # runs put on the class board
    lessons: dict[str, Lesson] = field(default_factory=dict)  # run name → the lesson it was in
    visited: set[str] = field(default_factory=set)  # pages opened, for the steps on Home
    last_seen: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # for its tabs

    def touch(self) -> None:
        """Its owner is here."""
        self.last_seen = time.monotonic()

    def active_job(self) -> TrainingJob | None:
        """The run that is waiting or training, if any."""
        return next((job for job in reversed(self.jobs) if not job.finished), None)

    def start_job(
        self, make: Callable[[str], TrainingJob], lesson: Lesson | None = None
    ) -> TrainingJob | None:
        """Start `make("Run N")`, N its number, as a run of `lesson` if given, unless a run is
        going (from another tab, say)."""
        with self._lock:
            if self.active_job() is not None:
                return None
            job = make(_("Run {n}").format(n=len(self.jobs) + 1))
            if lesson is not None:
                self.lessons[job.name] = lesson
            self.jobs.append(job.start())
            return job

    def verdict(self, job: TrainingJob) -> Verdict | None:
        """A run of a lesson that trained all its epochs against the lesson's goal (None: no
        lesson, no goal, or a run stopped early, whose settings would not give its result)."""
        lesson = self.lessons.get(job.name)
        if lesson is None or not lesson.goal or not job.publishable or job.evaluation is None:
            return None
        return lesson.judge(
            job.evaluation.accuracy, job.result.model.count_params(), job.result.fit_seconds
        )

    def goals_met(self) -> set[str]:
        """The ids of the lessons one of these runs met the goal of."""
        return {
            self.lessons[job.name].id
            for job in self.jobs
            if (verdict := self.verdict(job)) is not None and verdict.met
        }

    def publish(self, board: Board, job: TrainingJob, name: str) -> BoardEntry:
        """Put a finished run on `board` under `name`, once (BoardError if refused)."""
        with self._lock:
            if job.name in self.published:
                raise BoardError(_("{run} is on the board already.").format(run=job.name))
            entry = board.publish(
                name,
                job.config,
                job.result.model.count_params(),
                job.evaluation.accuracy,
                len(job.evaluation.labels),
                job.result.fit_seconds,
                publisher=self.token,
                lesson=lesson.id if (lesson := self.lessons.get(job.name)) else None,
            )
            self.published.add(job.name)
            return entry


class Workspaces:
    """Every workspace on this server, by token."""

    def __init__(self, ttl: float = 15 * 60, sweep_every: float | None = 60.0):
        self.ttl = ttl
        self._by_token: dict[str, Workspace] = {}
        self._lock = threading.Lock()
        if sweep_every is not None:  # even when nobody comes: memory of the gone is returned
            threading.Thread(
                target=self._sweep_forever,
                args=(sweep_every,),
                name="workspace-sweep",
                daemon=True,
            ).start()

    def _sweep_forever(self, every: float) -> None:
        while True:
            time.sleep(every)
            self.sweep()

    def claim(self, token: str | None) -> Workspace:
        """The workspace of `token`, or a new one (with a new token) when it is unknown."""
        self.sweep()
        with self._lock:
            workspace = self._by_token.get(token or "")
            if workspace is None:
                workspace = Workspace(secrets.token_urlsafe(24))
                self._by_token[workspace.token] = workspace
            workspace.touch()
            return workspace

    def __contains__(self, workspace: Workspace) -> bool:
        with self._lock:
            return self._by_token.get(workspace.token) is workspace

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_token)

    def sweep(self) -> int:
        """Drop workspaces unseen for `ttl` seconds, stopping their runs; how many were dropped."""
        cutoff = time.monotonic() - self.ttl
        with self._lock:
            gone = [ws for ws in self._by_token.values() if ws.last_seen < cutoff]
            for workspace in gone:
                del self._by_token[workspace.token]
        for workspace in gone:
            for job in workspace.jobs:
                job.stop()
        return len(gone)
