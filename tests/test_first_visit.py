"""A fresh server's first visit: pages that need no network never import TensorFlow, and the
server's warm-up (TensorFlow, the data, the default model, the speed calibration) never blocks
a visitor nor runs beside a user's training."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import TINY

# The page tests' helpers, and their autouse fixture: page runs as on a running server.
from test_pages import _app, _navigation_as_on_a_running_server, _tiny, _wait_for_runs  # noqa: F401

from mnist_core.classroom import estimates
from mnist_core.classroom.jobs import JobState, TrainingJob
from mnist_core.classroom.queue import TrainingSlots
from mnist_core.classroom.warmup import PageActivity, ServerWarmup
from mnist_core.data import DataFileError
from ui import state

ROOT = Path(__file__).resolve().parents[1]

# Home, Data and Train (its code shown too) in a fresh process, the warm-up kept from starting:
# it imports TensorFlow in the background by design, and this asks what the pages' own script
# runs import.
FIRST_VISIT = """
import json, sys
from streamlit.testing.v1 import AppTest
from mnist_core.classroom.warmup import ServerWarmup

ServerWarmup.start = lambda self: self
imported = {}
at = AppTest.from_file("app.py", default_timeout=120).run()
imported["home"] = [not at.exception, "tensorflow" in sys.modules, len(at.sidebar.selectbox)]
at.switch_page("pages/data.py").run()
imported["data"] = [not at.exception, "tensorflow" in sys.modules, len(at.sidebar.selectbox)]
at.switch_page("pages/train.py").run()
imported["train"] = [not at.exception, "tensorflow" in sys.modules, len(at.dataframe)]
at.session_state["show_code"] = True  # "Show the code", opened
at.run()
imported["code"] = [
    not at.exception, "tensorflow" in sys.modules, sum("keras.Input" in c.value for c in at.code)
]
print(json.dumps(imported))
"""


def test_home_data_train_and_the_sidebar_show_without_importing_tensorflow():
    out = subprocess.run(
        [sys.executable, "-c", FIRST_VISIT], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    imported = json.loads(out.splitlines()[-1])
    # Each: the page ran without an exception, TensorFlow was not imported, and the sidebar's
    # model picker (the default model, listed from its metadata) or Train's layer table was there.
    assert imported == {
        "home": [True, False, 1],
        "data": [True, False, 1],
        "train": [True, False, 1],
        "code": [True, False, 1],
    }


@pytest.fixture
def gated_warmup(monkeypatch):
    """The server's warm-up, held in its speed measurement (holding the training slot) until
    the test opens the gate; pages see it as the server's own."""
    measuring, gate = threading.Event(), threading.Event()
    measure = estimates.measure_speed

    def gated(data):
        measuring.set()
        gate.wait(120)
        return measure(data)

    monkeypatch.setattr(estimates, "measure_speed", gated)
    warmup = ServerWarmup(state.mnist, state.training_slots).start()
    monkeypatch.setattr(state, "warmup", lambda: warmup)
    assert measuring.wait(120), "the warm-up reached its measurement"
    yield warmup, gate
    gate.set()
    warmup.wait(120)


def test_train_shows_its_layer_table_at_once_and_its_estimate_once_the_speed_is_known(
    gated_warmup,
):
    warmup, gate = gated_warmup
    at = _app("pages/train.py")
    assert not at.exception
    assert len(at.dataframe[0].value) >= 5, "the layer table, while the speed is measured"
    overview = [m.value for m in at.markdown if "parameters**" in m.value]
    assert overview == ["**5,994 parameters** · estimating this server's speed…"]
    _tiny(at, epochs=1)
    train = next(b for b in at.button if b.label == "Train")
    assert not train.disabled, "a visitor can train before the speed is known"
    train.click().run()
    job = at.session_state["workspace"].jobs[0]
    assert job.state == "waiting", "the calibration holds the training slot"
    assert any("measuring its training speed" in i.value for i in at.info)
    gate.set()
    assert warmup.wait(120) and warmup.error is None
    _wait_for_runs(at, 1)
    assert job.state == "done"
    estimate = [m.value for m in at.markdown if "parameters**" in m.value]
    assert len(estimate) == 1 and "s per epoch** on this server" in estimate[0], estimate


def test_a_failed_warmup_is_said_where_the_estimate_would_be(monkeypatch):
    def broken():
        raise DataFileError("No MNIST file at /nowhere.")

    warmup = ServerWarmup(broken, state.training_slots).start()
    monkeypatch.setattr(state, "warmup", lambda: warmup)
    assert warmup.wait(30)
    at = _app("pages/train.py")
    assert not at.exception
    # On the page (the sidebar may warn of offline digits, when no MNIST file is set).
    assert [w.value for w in at.main.warning] == [
        "No time estimate: measuring this server's speed failed "
        "(DataFileError: No MNIST file at /nowhere.)."
    ]
    assert not next(b for b in at.button if b.label == "Train").disabled


def test_a_run_never_trains_while_the_server_measures_its_speed(mnist, monkeypatch):
    """The calibration trains (and reseeds Keras's global random generator): a run started
    meanwhile waits for the slot, and trains only once the calibration is over."""
    slots = TrainingSlots(1)
    measuring, measured = threading.Event(), threading.Event()
    measure = estimates.measure_speed

    def watched(data):
        measuring.set()
        try:
            return measure(data)
        finally:
            measured.set()  # before the slot is given back

    monkeypatch.setattr(estimates, "measure_speed", watched)
    warmup = ServerWarmup(lambda: mnist, lambda: slots).start()
    assert measuring.wait(120)
    job = TrainingJob("run", TINY.replace(epochs=1), mnist, slots).start()
    states = set()
    while not measured.is_set():
        states.add(job.state)
        time.sleep(0.01)
    assert states == {JobState.WAITING}
    job.join(120)
    assert job.state == JobState.DONE and warmup.wait(10) and warmup.speed is not None


# The server's warm-up as app.py starts it, while a visitor's page is still running.
WARMUP_WAITS = """
import sys, time
from ui import state

activity = state.page_activity()
with activity.page_run():
    warmup = state.warmup()
    time.sleep(6)  # TensorFlow's import takes 2-4 s
    during = "tensorflow" in sys.modules
warmup.wait(300)
print(during, "tensorflow" in sys.modules, warmup.error)
"""


def test_the_warmup_imports_tensorflow_only_once_no_page_is_running():
    out = subprocess.run(
        [sys.executable, "-c", WARMUP_WAITS], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "True", "None"]


def test_quiet_means_no_page_ran_for_a_while():
    activity = PageActivity()
    with activity.page_run():
        assert activity.quiet_seconds() == 0
        started = time.monotonic()
        activity.wait_for_quiet(seconds=0.1, timeout=0.3)  # a page that never ends
        assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    activity.wait_for_quiet(seconds=0.2, timeout=10)
    assert 0.2 <= time.monotonic() - started < 5
    assert activity.quiet_seconds() >= 0.2


# The server stops (its main thread ends) while the warm-up still waits for a quiet moment.
STOPPED_EARLY = """
import atexit, sys
from ui import state

atexit.register(lambda: print("tensorflow" in sys.modules, state.warmup().error))
with state.page_activity().page_run():
    state.warmup()
"""


def test_a_server_stopped_before_its_warmup_began_exits_cleanly_without_importing_tensorflow():
    run = subprocess.run(
        [sys.executable, "-c", STOPPED_EARLY], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stdout.split()[0] == "False"
    assert "stopped before its warm-up began" in run.stdout


# The server stops (its main thread ends) while the warm-up is importing TensorFlow: imports in
# the interpreter's exit can fail ("can't register atexit after shutdown"), as CI saw once.
STOPPED_DURING_IMPORT = """
import atexit, sys, time
from ui import state

atexit.register(lambda: print(state.warmup().error))
state.warmup()
time.sleep({quiet} + 0.5)  # the import has begun, and takes seconds
"""


def test_a_server_stopped_while_its_warmup_imports_tensorflow_exits_cleanly():
    script = STOPPED_DURING_IMPORT.format(quiet=ServerWarmup.QUIET)
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert "the server stopped during its warm-up" in run.stdout, run.stdout
