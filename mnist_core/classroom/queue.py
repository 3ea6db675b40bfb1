"""The training queue: a server-wide limit on trainings running at once, first come first served."""

from __future__ import annotations

import threading
from collections.abc import Callable


class TrainingSlots:
    """A server-wide limit on trainings running at once, served first come, first served."""

    def __init__(self, limit: int = 1):
        self.limit = limit
        self._changed = threading.Condition()
        self._waiting: list[object] = []  # holders in arrival order
        self._running: list[object] = []

    @property
    def running(self) -> int:
        """How many slots are in use."""
        with self._changed:
            return len(self._running)

    def acquire(self, holder: object, cancelled: Callable[[], bool]) -> bool:
        """Queue `holder` and wait for its turn; False if `cancelled()` turned true meanwhile."""
        with self._changed:
            self._waiting.append(holder)
            try:
                while self._waiting[0] is not holder or len(self._running) >= self.limit:
                    if cancelled():
                        return False
                    self._changed.wait(timeout=0.1)
                self._running.append(holder)
                return True
            finally:
                self._waiting.remove(holder)
                self._changed.notify_all()

    def release(self, holder: object) -> None:
        """Give `holder`'s slot back."""
        with self._changed:
            self._running.remove(holder)
            self._changed.notify_all()

    def place(self, holder: object) -> int | None:
        """`holder`'s place in the queue (1 is next), or None when it is not waiting."""
        with self._changed:
            return self._waiting.index(holder) + 1 if holder in self._waiting else None

    def wait_seconds(
        self, holder: object, remaining: Callable[[object], float | None]
    ) -> float | None:
        """Rough seconds until waiting `holder` gets a slot (0 once it has one; None when a
        holder ahead's `remaining` seconds are unknown): the runs ahead of it take the slots in
        queue order as they free up."""
        with self._changed:
            if holder not in self._waiting:
                return 0.0
            running = list(self._running)
            waiting = self._waiting[: self._waiting.index(holder)]
        ahead = [remaining(other) for other in (*running, *waiting)]
        if None in ahead:
            return None
        free_at = sorted(ahead[: len(running)]) + [0.0] * (self.limit - len(running))
        for seconds in ahead[len(running) :]:
            free_at.sort()
            free_at[0] += seconds
        return min(free_at)

    def ahead_of(self, holder: object) -> list:
        """The holders running, and those waiting before `holder`."""
        with self._changed:
            waiting = (
                self._waiting[: self._waiting.index(holder)] if holder in self._waiting else []
            )
            return [*self._running, *waiting]
