"""Workspaces keep a user's runs across reloads and tabs, and free them once the user is gone."""

import threading
import time

from mnist_core.classroom.jobs import JobState, RunLimits, StopReason, TrainingJob
from mnist_core.classroom.queue import TrainingSlots
from mnist_core.classroom.workspaces import Workspaces


def test_a_token_finds_its_workspace_again_and_an_unknown_one_gets_a_new_token():
    workspaces = Workspaces(sweep_every=None)
    mine = workspaces.claim(None)
    assert len(mine.token) >= 32  # unguessable
    assert workspaces.claim(mine.token) is mine  # a reload, or a second tab
    stranger = workspaces.claim("a-token-someone-made-up")
    assert stranger is not mine and stranger.token != "a-token-someone-made-up"
    assert mine.token not in repr(mine)  # never in logs
    assert len(workspaces) == 2


def test_workspaces_nobody_came_back_to_are_dropped_and_their_runs_stopped(mnist, tiny_config):
    workspaces = Workspaces(ttl=0.5, sweep_every=0.1)
    gone, here = workspaces.claim(None), workspaces.claim(None)
    job = TrainingJob("Run 1", tiny_config.replace(epochs=50), mnist).start()
    gone.jobs.append(job)
    deadline = time.monotonic() + 5
    while gone in workspaces and time.monotonic() < deadline:  # nobody calls sweep() here
        here.touch()
        time.sleep(0.05)
    assert gone not in workspaces and here in workspaces
    job.join(60)
    assert job.state is JobState.STOPPED
    assert workspaces.claim(gone.token) is not gone  # its token is worth nothing now


def test_a_run_nobody_watches_stops_itself_and_frees_the_slot(mnist, tiny_config):
    slots = TrainingSlots(1)
    watched = TrainingJob(
        "watched", tiny_config.replace(epochs=3), mnist, slots, limits=RunLimits(0.5)
    ).start()
    abandoned = TrainingJob(
        "abandoned", tiny_config.replace(epochs=200), mnist, slots, limits=RunLimits(0.5)
    )
    deadline = time.monotonic() + 60
    while not watched.finished and time.monotonic() < deadline:
        watched.seen()  # a page shows it every tenth of a second
        time.sleep(0.1)
    assert watched.state is JobState.DONE and watched.stop_reason is None
    abandoned.start()
    abandoned.join(60)
    assert abandoned.state is JobState.STOPPED
    assert abandoned.stop_reason is StopReason.ABANDONED
    assert abandoned.result is not None and abandoned.evaluation is not None  # model kept
    assert slots.running == 0


def test_a_run_stops_at_the_time_limit(mnist, tiny_config):
    job = TrainingJob(
        "long", tiny_config.replace(epochs=200), mnist, limits=RunLimits(None, max_seconds=1.0)
    ).start()
    job.join(60)
    assert job.state is JobState.STOPPED and job.stop_reason is StopReason.TIME_LIMIT
    assert job.result.fit_seconds < 10


def test_the_queue_is_first_come_first_served_with_places_and_rough_waits(mnist, tiny_config):
    slots = TrainingSlots(1)
    first = TrainingJob(
        "first", tiny_config.replace(epochs=50), mnist, slots, estimated_seconds=30
    ).start()
    while first.state is JobState.WAITING:
        time.sleep(0.01)
    second = TrainingJob("second", tiny_config, mnist, slots, estimated_seconds=20).start()
    third = TrainingJob("third", tiny_config, mnist, slots, estimated_seconds=10).start()
    deadline = time.monotonic() + 10
    while slots.place(third) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (slots.place(second), slots.place(third), slots.place(first)) == (1, 2, None)
    assert slots.ahead_of(third) == [first, second]
    assert second.remaining_seconds() == 20
    assert first.remaining_seconds() is not None
    second.stop()  # Cancel: the third moves up
    second.join(10)
    assert second.state is JobState.CANCELLED and slots.place(third) == 1
    first.stop()
    third.join(120)
    assert third.state is JobState.DONE and slots.running == 0


def test_a_queued_runs_wait_counts_the_slots_as_they_free_up():
    """Two slots busy for 10 s and 30 s, then runs of 20 s and 5 s queued: the next one starts
    when the 30 s run ends (the 20 s run took the first free slot, at 10 s)."""
    slots = TrainingSlots(2)
    remaining = {"a": 10.0, "b": 30.0, "c": 20.0, "d": 5.0, "e": 40.0}
    for name in "ab":
        assert slots.acquire(name, cancelled=lambda: False)
    queued = {}
    for name in "cde":  # each waits in its own thread, in this order
        queued[name] = threading.Thread(target=slots.acquire, args=(name, lambda: False))
        queued[name].start()
        while slots.place(name) is None:
            time.sleep(0.01)
    assert slots.wait_seconds("c", remaining.get) == 10
    assert slots.wait_seconds("d", remaining.get) == 30
    assert slots.wait_seconds("e", remaining.get) == 30  # d's 5 s start at 30: 35 > b's 30
    assert slots.wait_seconds("a", remaining.get) == 0  # running: no wait
    assert slots.wait_seconds("e", {**remaining, "c": None}.get) is None
    one = TrainingSlots(1)
    assert one.wait_seconds("x", remaining.get) == 0  # not queued here
    for name in "ab":
        slots.release(name)
    for name in "cde":  # each takes a slot as one frees
        while slots.place(name) is not None:
            time.sleep(0.01)
        slots.release(name)
        queued[name].join(5)
