"""Identical runs are trained once: the registry of shared runs, the pages, and two browsers."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import time

import pytest
from conftest import press_stop, running_app
from streamlit.testing.v1 import AppTest

# The page tests' helpers, and their autouse fixture: page runs as on a running server.
from test_pages import _app, _navigation_as_on_a_running_server, _tiny  # noqa: F401

from mnist_core import i18n
from mnist_core.classroom.board import Board
from mnist_core.classroom.jobs import JobState, JobView, RunLimits, StopReason, TrainingJob
from mnist_core.classroom.queue import TrainingSlots
from mnist_core.classroom.shared_runs import SharedRuns
from mnist_core.classroom.workspaces import Workspaces
from mnist_core.engine.progress import BatchProgress
from mnist_core.presentation import charts
from ui import shared_figures

# --- the registry -----------------------------------------------------------------------------


@pytest.fixture
def busy_slots():
    """A server's one training slot, taken: runs queue behind it until `free()` is called."""
    slots, blocker = TrainingSlots(1), object()
    assert slots.acquire(blocker, lambda: False)
    slots.free = lambda: slots.release(blocker)
    return slots


NEVER_ABANDONED = RunLimits(abandon_after=None)


def _maker(config, data, slots=None, limits=NEVER_ABANDONED):
    made = []

    def make(name):
        made.append(TrainingJob(name, config, data, slots, limits=limits))
        return made[-1]

    make.made = made
    return make


def _wait(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_press_with_the_same_settings_joins_the_queued_run(mnist, tiny_config, busy_slots):
    runs, make = SharedRuns(), _maker(tiny_config, mnist, busy_slots)
    first = runs.join("Ada's Run 1", tiny_config, mnist, make)
    second = runs.join("Bo's Run 3", tiny_config, mnist, make)
    assert len(make.made) == 1 and first.training is second.training
    assert not first.joined and second.joined and second.joined_after >= 0
    assert (first.name, second.name) == ("Ada's Run 1", "Bo's Run 3")  # each user's own name
    assert first.sharers == second.sharers == 2
    assert first.state is second.state is JobState.WAITING
    busy_slots.free()
    second.join(60)
    assert first.state is second.state is JobState.DONE
    # Each user gets the one trained model and its test result in their own run.
    assert first.result.model is second.result.model
    assert first.evaluation.accuracy == second.evaluation.accuracy > 0.3
    assert first.publishable and second.publishable


def test_a_joiners_stop_only_takes_them_off_and_the_run_goes_on(mnist, tiny_config, busy_slots):
    runs, make = SharedRuns(), _maker(tiny_config, mnist, busy_slots)
    stays = runs.join("Run 1", tiny_config, mnist, make)
    leaves = runs.join("Run 1", tiny_config, mnist, make)
    leaves.stop()
    assert leaves.state is JobState.LEFT and leaves.finished
    assert not stays.stopping and stays.sharers == 1
    busy_slots.free()
    stays.join(60)
    assert stays.state is JobState.DONE and stays.result is not None
    # The one who left gets no model and cannot publish the run; the view stays as they left it.
    assert leaves.state is JobState.LEFT and leaves.result is None and leaves.evaluation is None
    assert not leaves.publishable and leaves.view().epochs == []


def test_the_run_stops_when_the_last_one_on_it_stops(mnist, tiny_config):
    runs = SharedRuns()
    long = tiny_config.replace(epochs=100)
    make = _maker(long, mnist)
    first = runs.join("Run 1", long, mnist, make)
    second = runs.join("Run 1", long, mnist, make)
    _wait(lambda: first.view().batches)  # training
    first.stop()
    assert not second.stopping and second.state is JobState.TRAINING
    second.stop()
    second.join(60)
    assert second.state is JobState.STOPPED and second.stop_reason is StopReason.USER
    assert second.result is not None and len(second.result.history) < 100  # its model is kept
    assert first.state is JobState.LEFT and first.result is None


def test_everyone_cancelling_a_queued_run_cancels_it(mnist, tiny_config, busy_slots):
    runs, make = SharedRuns(), _maker(tiny_config, mnist, busy_slots)
    seats = [runs.join(f"Run {i}", tiny_config, mnist, make) for i in range(3)]
    for seat in seats:
        seat.stop()
    seats[-1].join(10)
    assert [seat.state for seat in seats] == [JobState.LEFT, JobState.LEFT, JobState.CANCELLED]
    assert busy_slots.place(seats[-1].training) is None  # out of the queue
    assert len(runs) == 0


def test_a_finished_or_stopping_run_is_not_joined(mnist, tiny_config, busy_slots):
    runs, make = SharedRuns(), _maker(tiny_config, mnist, busy_slots)
    stopping = runs.join("Run 1", tiny_config, mnist, make)
    stopping.stop()  # alone on it: the run is cancelled
    stopping.join(10)
    after_stop = runs.join("Run 2", tiny_config, mnist, make)
    assert after_stop.training is not stopping.training and not after_stop.joined
    busy_slots.free()
    after_stop.join(60)
    assert after_stop.state is JobState.DONE
    again = runs.join("Run 3", tiny_config, mnist, make)
    assert again.training is not after_stop.training and not again.joined  # trains anew
    assert len(make.made) == 3
    again.stop()


def test_other_settings_seeds_or_data_are_runs_of_their_own(mnist, tiny_config, busy_slots):
    runs = SharedRuns()
    other_data = dataclasses.replace(mnist)  # the same digits loaded again: another data set
    variants = [
        (tiny_config, mnist),
        (tiny_config.replace(seed=1), mnist),
        (tiny_config.replace(epochs=3), mnist),
        (tiny_config, other_data),
    ]
    seats = [
        runs.join("Run 1", config, data, _maker(config, data, busy_slots))
        for config, data in variants
    ]
    assert len({seat.training for seat in seats}) == 4 and not any(s.joined for s in seats)
    assert len(runs) == 4
    for seat in seats:
        seat.stop()


def test_many_users_pressing_at_once_share_one_run_and_leave_it_safely(
    mnist, tiny_config, busy_slots
):
    runs, make = SharedRuns(), _maker(tiny_config, mnist, busy_slots)
    users = 16
    seats, ready = [None] * users, threading.Barrier(users)

    def press(i):
        ready.wait()
        seats[i] = runs.join(f"Run {i}", tiny_config, mnist, make)

    threads = [threading.Thread(target=press, args=(i,)) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(make.made) == 1 and {seat.training for seat in seats} == {make.made[0]}
    assert sum(not seat.joined for seat in seats) == 1 and seats[0].sharers == users

    leave = threading.Barrier(users)

    def stop(seat):
        leave.wait()
        seat.stop()

    threads = [threading.Thread(target=stop, args=(seat,)) for seat in seats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    make.made[0].join(10)
    states = sorted(seat.state for seat in seats)
    assert states.count(JobState.LEFT) == users - 1 and JobState.CANCELLED in states


def test_a_shared_run_goes_on_while_any_page_shows_it_and_stops_when_none_does(
    mnist, tiny_config, busy_slots
):
    runs = SharedRuns()
    # A page looks every 0.1 s, far inside the abandon time even on a starved machine.
    make = _maker(tiny_config, mnist, busy_slots, limits=RunLimits(abandon_after=2.0))
    watched = runs.join("Run 1", tiny_config, mnist, make)
    closed_tab = runs.join("Run 1", tiny_config, mnist, make)  # never seen again
    until = time.monotonic() + 4.0  # twice the abandon time
    while time.monotonic() < until:
        watched.seen()  # one user's page still shows the run
        time.sleep(0.1)
    assert not watched.stopping and watched.state is JobState.WAITING
    watched.training.join(10)  # now no page shows it
    assert watched.state is closed_tab.state is JobState.CANCELLED
    assert watched.stop_reason is StopReason.ABANDONED


def test_a_joiner_sees_the_curve_from_the_start_of_the_run(mnist, tiny_config):
    runs = SharedRuns()
    config = tiny_config.replace(epochs=50)
    make = _maker(config, mnist)
    first = runs.join("Run 1", config, mnist, make)
    _wait(lambda: first.view().epochs)
    late = runs.join("Run 1", config, mnist, make)
    assert late.joined and late.joined_after > 0
    assert late.view().batches[0] == first.view().batches[0]  # from the first batch on
    assert late.view().epochs[0] == first.view().epochs[0]
    first.stop()
    late.stop()
    late.join(60)
    assert late.state is JobState.STOPPED and late.result is not None


def test_each_joiner_publishes_the_run_as_their_own(mnist, tiny_config, tmp_path):
    runs, make = SharedRuns(), _maker(tiny_config, mnist)
    workspaces = Workspaces(sweep_every=None)
    ada, bo = workspaces.claim(None), workspaces.claim(None)
    for workspace in (ada, bo):
        workspace.start_job(lambda name: runs.join(name, tiny_config, mnist, make))
    assert len(make.made) == 1
    bo.jobs[0].join(60)
    board = Board(tmp_path / "board.sqlite")
    ada.publish(board, ada.jobs[0], "Ada")
    assert len(board) == 1  # Bo's place on the board is Bo's to take, or not
    bo.publish(board, bo.jobs[0], "Bo")
    assert sorted(entry.name for entry in board.entries()) == ["Ada", "Bo"]


# --- the pages ---------------------------------------------------------------------------------


def _user_on_train(epochs: int) -> AppTest:
    """A new session on Train with a small network set, as a student would set it."""
    at = _app("pages/train.py")
    _tiny(at, epochs)
    return at


def _press_train(at: AppTest):
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    return at.session_state["workspace"].jobs[-1]


def _watch_until_finished(*sessions: AppTest, timeout: float = 120) -> None:
    """Rerun each page until its last run is finished, its timers showing the run meanwhile."""
    runs = [at.session_state["workspace"].jobs[-1] for at in sessions]
    _wait(lambda: [run.seen() for run in runs] and all(run.finished for run in runs), timeout)
    for at in sessions:
        at.run()


def _joined_message(at: AppTest) -> str | None:
    return next((i.value for i in at.info if i.value.startswith("You joined a run")), None)


def test_two_sessions_pressing_train_with_the_same_settings_get_one_training():
    ada, bo = _user_on_train(epochs=3), _user_on_train(epochs=3)
    ada_run, bo_run = _press_train(ada), _press_train(bo)
    assert bo_run.training is ada_run.training
    assert _joined_message(ada) is None
    message = _joined_message(bo)
    assert message is not None and "exactly these settings" in message
    assert "by another user: one training serves you both." in message
    _watch_until_finished(ada, bo)
    assert ada_run.state is bo_run.state is JobState.DONE
    for at, run in ((ada, ada_run), (bo, bo_run)):
        assert at.session_state["workspace"].jobs == [run]  # in each one's own workspace
        assert at.sidebar.selectbox(key="current_model").value == run.name  # its model current
        assert any(s.value.startswith(f"{run.name} finished 3 full epoch(s)") for s in at.success)
        assert "Run history" in [h.value for h in at.subheader]
    assert ada_run.result.model is bo_run.result.model  # trained once
    assert _joined_message(bo) is None  # it said so while the run went on


def test_a_joiners_stop_on_the_page_leaves_the_run_going_for_the_other():
    ada, bo = _user_on_train(epochs=60), _user_on_train(epochs=60)
    ada_run, bo_run = _press_train(ada), _press_train(bo)
    assert bo_run.training is ada_run.training
    bo_run.stop()  # as Bo's Stop (or Cancel, while queued) button does
    bo.run()
    assert any("You left Run 1" in i.value for i in bo.info)
    assert bo.session_state["workspace"].active_job() is None  # Bo may train something else
    ada.run()
    assert not ada_run.finished and not ada_run.stopping
    ada_run.stop()
    _watch_until_finished(ada)
    assert ada_run.state in (JobState.STOPPED, JobState.CANCELLED)
    assert bo_run.state is JobState.LEFT and bo_run.result is None
    history = bo.dataframe[-1].value
    assert history["outcome"].tolist() == ["left"]


# --- two browsers -------------------------------------------------------------------------------

# A small codelab network: the codelab's layers and training on fewer digits.
SMALL_CODELAB = "/train?train_size=3000&val_size=500"


@pytest.fixture(scope="module")
def two_users(browser, tmp_path_factory):
    """Two browser users (contexts of their own) of one fresh `streamlit run app.py` server."""
    from playwright.sync_api import expect

    env = {**os.environ, "DIGIT_LAB_DATA_DIR": str(tmp_path_factory.mktemp("board"))}
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with running_app(env, log) as url:
        contexts = [
            browser.new_context(
                viewport={"width": 1400, "height": 1000}, base_url=url, locale="en-US"
            )
            for _ in range(2)
        ]
        yield expect, [context.new_page() for context in contexts]
        for context in contexts:
            context.close()
    assert "Traceback" not in log.read_text()


def _open(expect, pages, link: str) -> None:
    """Each user opens the same settings' link, ready to press Train."""
    for page in pages:
        page.goto(link)
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(timeout=SLOW)


def _train(expect, page) -> None:
    page.get_by_role("button", name="Train", exact=True).click()
    running = page.get_by_text(re.compile(r"Waiting for a free training slot|Epoch \d+/|Starting"))
    expect(running.first).to_be_visible(timeout=SLOW)


def _epoch_on_screen(page) -> int:
    """The epoch the page's progress bar shows (0 before the run trains)."""
    shown = re.search(r"Epoch (\d+)/", page.get_by_test_id("stMain").inner_text())
    return int(shown[1]) if shown else 0


SLOW = 180_000  # ms: TensorFlow's first import and the server's speed measurement come first
JOINED = "You joined a run with exactly these settings"


@pytest.mark.browser
@pytest.mark.slow
def test_two_browsers_train_the_same_settings_once_and_a_joiners_stop_leaves_the_other(
    two_users,
):
    expect, (ada, bo) = two_users
    _open(expect, (ada, bo), f"{SMALL_CODELAB}&epochs=8")
    _train(expect, ada)
    _train(expect, bo)  # within a second or two: Ada's run is queued or training
    # One look at the whole line: it shows while the run goes on, and this one is short.
    expect(bo.get_by_text(re.compile(JOINED + ".*one training serves you both"))).to_be_visible()
    assert ada.get_by_text(JOINED).count() == 0
    outcomes = []
    for page in (ada, bo):
        outcome = page.get_by_text(re.compile(r"Run 1 \(\w+\) finished 8 full epoch"))
        expect(outcome).to_be_visible(timeout=SLOW)
        outcomes.append(outcome.inner_text())
    # The same training time to a tenth of a second and the same accuracies: one training.
    assert outcomes[0] == outcomes[1], outcomes
    assert re.search(r"test \d+\.\d\d% on 10,000 digits", outcomes[0])

    # Run 2: Bo joins again, then stops; Ada's run goes on and ends when Ada stops it.
    _open(expect, (ada, bo), f"{SMALL_CODELAB}&epochs=40")
    _train(expect, ada)
    _train(expect, bo)
    expect(bo.get_by_text(JOINED)).to_be_visible()
    press_stop(bo, re.compile(r"^(Stop|Cancel)$"))
    expect(bo.get_by_text(re.compile(r"You left Run 2"))).to_be_visible(timeout=SLOW)
    at_leaving = _epoch_on_screen(ada)
    ada.wait_for_function(  # Ada's run trains on: two more epochs show
        "n => +(document.querySelector('[data-testid=stMain]').innerText"
        ".match(/Epoch (\\d+)\\/40/) || [0, 0])[1] >= n",
        arg=at_leaving + 2,
        timeout=SLOW,
    )
    assert bo.get_by_text(re.compile(r"Epoch \d+/40")).count() == 0  # Bo's page left it
    press_stop(ada)
    expect(ada.get_by_text(re.compile(r"Run 2 \(\w+\) stopped after"))).to_be_visible(timeout=SLOW)


# --- the live charts of a shared run -----------------------------------------------------------


def _report(step: int) -> BatchProgress:
    return BatchProgress(
        epoch=1,
        epochs=2,
        batch=step,
        batches=10,
        step=step,
        loss=1.0 / step,
        accuracy=0.1 * step,
        images_per_s=1000.0,
        elapsed=float(step),
        eta=20.0 - step,
    )


def test_pages_on_one_run_see_its_newest_step_each_in_their_own_language(tiny_config):
    """The figures of a run are built once per step for all its pages (thirty on one run would
    otherwise starve its training): each page still sees the newest report, in its language."""
    builds = []

    def curves(view):
        builds.append(view.name)
        return charts.training_curves(view.batches, view.epochs)

    reports = [_report(1)]
    starter = JobView("Run 1 (codelab)", tiny_config, JobState.TRAINING, list(reports), [])
    joiner = dataclasses.replace(starter, name="Run 3 (codelab)", batches=list(reports))
    first = shared_figures.figure(starter, "curves", lambda: curves(starter))
    assert shared_figures.figure(joiner, "curves", lambda: curves(joiner)) is first
    assert builds == ["Run 1 (codelab)"]

    previous = i18n.set_language_source(lambda: "zh")
    try:
        chinese = shared_figures.figure(joiner, "curves", lambda: curves(joiner))
    finally:
        i18n.set_language_source(previous)
    assert [a.text for a in chinese.layout.annotations] == ["损失", "准确率"]
    assert [a.text for a in first.layout.annotations] == ["Loss", "Accuracy"]

    reports.append(_report(2))
    later = dataclasses.replace(joiner, batches=list(reports))
    assert len(shared_figures.figure(later, "curves", lambda: curves(later)).data[0].x) == 2
