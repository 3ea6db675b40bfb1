"""The figures of a run in training, built once per step of its progress for every page on it.

Thirty pages on one shared run redraw its charts every few seconds; built on each page, the
same figures cost the server's CPU more than the training itself. A run's pages read copies of
one progress (its reports are the same objects), so a figure is kept for the run's newest
report and epoch count, one per language: every page still shows the run as it is now.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import plotly.graph_objects as go

from mnist_core.classroom.jobs import JobView
from mnist_core.i18n import language

KEEP = 64  # figures kept, the oldest dropped first: a few per run in training
_lock = threading.Lock()
# (id of the newest report, epochs, figure name, language) → (that report, the figure); the
# report is held so that its id is not reused while the entry lives.
_kept: dict[tuple, tuple[object, go.Figure]] = {}


def figure(view: JobView, name: str, make: Callable[[], go.Figure]) -> go.Figure:
    """`make()`, or the figure `name` already made for a page on this run at this step.

    A finished run's figures are made on each page: it shows them once, or replays any epoch.
    """
    if view.finished or not view.batches:
        return make()
    newest = view.batches[-1]
    key = (id(newest), len(view.epochs), name, language())
    with _lock:  # one page builds it; the others on the run wait for it, then reuse it
        kept = _kept.get(key)
        if kept is None:  # a kept entry holds its report, so its id names no other
            kept = _kept[key] = (newest, make())
            while len(_kept) > KEEP:
                del _kept[next(iter(_kept))]
        return kept[1]
