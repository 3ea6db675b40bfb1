"""The server's warm-up: TensorFlow's import, the shared data and models, and the speed
calibration, done once in a background thread so that no visitor waits for them."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from mnist_core.classroom import heap

if TYPE_CHECKING:
    from mnist_core.classroom.estimates import ServerSpeed
    from mnist_core.classroom.queue import TrainingSlots
    from mnist_core.data import MnistData

log = logging.getLogger(__name__)
STOPPED_BEFORE = "the server stopped before its warm-up began"
STOPPED_DURING = "the server stopped during its warm-up"


def _server_stopping() -> bool:
    """True once the main thread has ended: the interpreter is exiting, and imports may fail."""
    return not threading.main_thread().is_alive()


class PageActivity:
    """When the server last drew a page, so that background work can wait for a quiet moment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._ended = time.monotonic()

    @contextlib.contextmanager
    def page_run(self) -> Iterator[None]:
        """Count a page's script run while the block runs."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._ended = time.monotonic()

    def quiet_seconds(self) -> float:
        """Seconds since the last page run ended; 0 while one runs."""
        with self._lock:
            return 0.0 if self._running else time.monotonic() - self._ended

    def wait_for_quiet(self, seconds: float, timeout: float) -> bool:
        """Wait until no page has run for `seconds`, or for `timeout` seconds at most; False if
        the process began to exit meanwhile (its main thread ended: the server is stopping)."""
        deadline = time.monotonic() + timeout
        while self.quiet_seconds() < seconds and time.monotonic() < deadline:
            if _server_stopping():
                return False
            time.sleep(0.05)
        return not _server_stopping()


class ServerWarmup:
    """Runs `prepare()` (imports TensorFlow, loads what the pages share and returns the data)
    in a background thread, then measures this server's training speed on that data, holding one
    of `slots()`.

    The measurement trains, so it holds a training slot like any run: a run started meanwhile
    waits in the queue behind it like behind any other (or, on a server with more slots, trains
    beside it, slowing the measurement until finished runs correct the speed).

    With `activity`, it begins once no page has run for `QUIET` seconds (or after `MAX_WAIT`):
    TensorFlow's import holds the CPU and Python's lock for seconds, and a visitor's next page,
    the browser fetching its scripts from the server meanwhile, took a second longer.
    """

    QUIET = 1.0  # seconds
    MAX_WAIT = 15.0  # seconds: a busy class gets its warm-up too

    def __init__(
        self,
        prepare: Callable[[], MnistData],
        slots: Callable[[], TrainingSlots],
        activity: PageActivity | None = None,
    ):
        self._prepare = prepare
        self._slots = slots  # called in the background: its module imports TensorFlow
        self._activity = activity
        self._done = threading.Event()
        self.speed: ServerSpeed | None = None  # measure_speed's figure, corrected by runs
        self.error: str | None = None  # why there is no speed, once done

    def start(self) -> ServerWarmup:
        """Start the warm-up in the background; returns self."""
        heap.limit_arenas()  # before this thread and TensorFlow's start
        # Not a daemon (said outright: a thread started by a script run's daemon thread would
        # inherit it): at exit Python waits for it, as a TensorFlow op cut off by the
        # interpreter's shutdown aborts the whole process.
        threading.Thread(target=self._run, name="server-warmup", daemon=False).start()
        return self

    @property
    def done(self) -> bool:
        """True once the speed is measured, or the warm-up failed."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until done (at most `timeout` seconds); True if it is."""
        return self._done.wait(timeout)

    def remaining_seconds(self) -> None:
        """Not known (a queue asks every holder of a training slot)."""
        return None

    def _run(self) -> None:
        try:
            if self._activity and not self._activity.wait_for_quiet(self.QUIET, self.MAX_WAIT):
                # The server is stopping: an import now would fail in the interpreter's exit.
                self.error = STOPPED_BEFORE
                return
            data = self._prepare()
            # Imported here, in the background: it imports TensorFlow.
            from mnist_core.classroom.estimates import ServerSpeed, measure_speed

            # The server may stop meanwhile (while it imports, or waits for a user's run).
            slots = self._slots()
            if _server_stopping() or not slots.acquire(self, cancelled=_server_stopping):
                self.error = STOPPED_DURING
                return
            try:
                # On the trainings' worker thread: the heap arena it warms serves their runs.
                self.speed = ServerSpeed(heap.run_on_worker(lambda: measure_speed(data)))
            finally:
                slots.release(self)
                heap.release_freed()  # the probe's freed heap
        except Exception as err:  # shown where the estimate would be
            if _server_stopping():  # e.g. "can't register atexit after shutdown" in an import
                log.info("The server stopped during its warm-up (%s: %s)", type(err).__name__, err)
                self.error = STOPPED_DURING
            else:
                log.exception("The server's warm-up failed")
                self.error = f"{type(err).__name__}: {err}"
        finally:
            self._done.set()
