"""glibc's heap in a long-lived server: few arenas, trainings on long-lived threads, and freed
pages handed back after a training."""

from __future__ import annotations

import contextlib
import ctypes
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
T = TypeVar("T")


def _libc() -> ctypes.CDLL | None:
    with contextlib.suppress(OSError):  # not glibc (macOS, Windows): nothing to tune
        libc = ctypes.CDLL("libc.so.6")
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            return libc
    return None


def limit_arenas(arenas: int = 2) -> None:
    """Let at most `arenas` heap arenas serve all threads created from now on.

    glibc gives each new thread an arena of its own (up to 8 per core), and TensorFlow's threads
    left the server 25-45 MB more resident after its speed calibration, freed but spread over
    their arenas. Two arenas kept that, and the codelab's training time did not move.
    """
    if libc := _libc():
        libc.mallopt(M_ARENA_MAX, arenas)


def release_freed() -> None:
    """Hand freed heap pages back to the system after a training's churn (10-20 ms).

    Without it the server's resident memory kept about 8 MB a run that was already freed.
    """
    if libc := _libc():
        libc.malloc_trim(0)


class _Worker:
    """A daemon thread that runs the work handed to it, one piece at a time, for good."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="heap-worker", daemon=True).start()

    def run(self, work: Callable[[], T]) -> T:
        done: Future = Future()
        self._work.put((work, done))
        return done.result()

    def _serve(self) -> None:
        while True:
            work, done = self._work.get()
            try:
                done.set_result(work())
            except BaseException as err:  # raised again in the caller's thread
                done.set_exception(err)
            # Held while idle, the last work and its result would keep a dropped run's model.
            del work, done


_idle: list[_Worker] = []  # the most recently used last
_idle_lock = threading.Lock()


def run_on_worker(work: Callable[[], T]) -> T:
    """`work()`, run on one of the server's long-lived worker threads: its result, or its
    exception raised here.

    A thread keeps the glibc arena it first allocated from, and malloc_trim cannot hand back a
    thread arena's free top, which a training leaves at 20-55 MB (its float copies of the
    digits, its batches). A new thread for each run took whichever arena was free, up to 16 on
    a Streamlit server whose page threads took them before `limit_arenas` ran, and each held
    that much more: 10 runs in one browser session grew the server by about 100 MB. A worker
    thread that lives on reuses its arena, so that memory is held once per run going at a time.
    """
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is None:  # as many workers as pieces of work ever went on at once
        worker = _Worker()
    try:
        return worker.run(work)
    finally:
        with _idle_lock:
            _idle.append(worker)
