"""glibc's heap in a long-lived server: few arenas, and freed pages handed back after a training."""

from __future__ import annotations

import contextlib
import ctypes

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


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
