"""Server-wide shared objects (read-only) and this user's workspace: runs, uploads, models."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import streamlit as st

from mnist_core.classroom.board import Board, BoardEntry
from mnist_core.classroom.fine_tune_job import FineTuneJob
from mnist_core.classroom.jobs import JobView, RunLimits, TrainingJob
from mnist_core.classroom.lessons import Lesson
from mnist_core.classroom.queue import TrainingSlots
from mnist_core.classroom.shared_runs import SharedRuns
from mnist_core.classroom.warmup import PageActivity, ServerWarmup
from mnist_core.classroom.workspaces import ModelEntry, Workspace, Workspaces
from mnist_core.config import TrainConfig, read_metadata
from mnist_core.data import MnistData, evaluation_indices, load_mnist
from mnist_core.engine.evaluation import Evaluation
from mnist_core.engine.handwriting import HandwritingSet
from mnist_core.i18n import N_, _

if TYPE_CHECKING:
    import keras

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.keras"
DEFAULT_NAME = N_("Default model")  # its key everywhere; display_name() translates it
COOKIE = "digit_lab_workspace"  # the browser's key to its workspace; never put in a URL
T = TypeVar("T")


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


@st.cache_resource(show_spinner=False)  # the sidebar shows a spinner in the user's language
def mnist() -> MnistData:
    """MNIST, loaded once per server and shared read-only by every session."""
    return load_mnist()


@st.cache_resource(show_spinner=False)
def training_slots() -> TrainingSlots:
    """How many trainings may run at once on this server ($DIGIT_LAB_MAX_TRAININGS, default 1)."""
    return TrainingSlots(int(_env_number("DIGIT_LAB_MAX_TRAININGS", 1)))


def run_limits() -> RunLimits:
    """A run stops when no page has shown it for a minute, or after 20 minutes of training.

    Operators can change both: $DIGIT_LAB_ABANDON_SECONDS and $DIGIT_LAB_MAX_RUN_MINUTES.
    """
    return RunLimits(
        abandon_after=_env_number("DIGIT_LAB_ABANDON_SECONDS", 60),
        max_seconds=60 * _env_number("DIGIT_LAB_MAX_RUN_MINUTES", 20),
    )


@st.cache_resource(show_spinner=False)
def workspaces() -> Workspaces:
    """Every user's workspace; one unvisited for $DIGIT_LAB_WORKSPACE_MINUTES (15) is dropped."""
    return Workspaces(ttl=60 * _env_number("DIGIT_LAB_WORKSPACE_MINUTES", 15))


_default_model_loaded = threading.Event()  # set once _default_model_file has read the file


@st.cache_resource(show_spinner=False)
def _default_model_file() -> keras.Model:
    """The shipped model, loaded once per server (ModelFileError if it is unusable)."""
    from mnist_core.engine.model import load_model  # TensorFlow: not on a first visit

    model = load_model(DEFAULT_MODEL)
    _default_model_loaded.set()
    return model


def _load_default_model() -> keras.Model:
    if _default_model_loaded.is_set():  # no spinner (a thread and a message) on every stroke
        return _default_model_file()
    with st.spinner(_("Loading the default model…")):
        return _default_model_file()


@st.cache_resource(show_spinner=False)
def _default_model_info() -> dict | None:
    """The shipped model's metadata, read once per server (None if the model is missing)."""
    if not DEFAULT_MODEL.is_file():
        return None
    info = read_metadata(DEFAULT_MODEL)
    if "params" not in info:  # a model saved without its sidecar: count them
        info["params"] = _default_model_file().count_params()
    return info


def default_model() -> ModelEntry | None:
    """The model shipped in models/, trained with the `best` preset (None if it is missing).

    Listing it reads only its metadata: the network is loaded when a page uses it (the
    server's warm-up loads it in the background first).
    """
    info = _default_model_info()
    if info is None:
        return None
    # Described on each call: the summary is in this user's language.
    summary = TrainConfig.from_dict(info["config"]).summary() if "config" in info else ""
    return ModelEntry(
        DEFAULT_NAME,
        _load_default_model,
        info["params"],
        info.get("test_accuracy"),
        summary,
        info.get("trained_at", ""),
    )


def _prepare_server() -> MnistData:
    """What the pages share, loaded ahead of them: MNIST, TensorFlow and the default model."""
    data = mnist()
    if _default_model_info() is not None:
        _default_model_file()
    return data


@st.cache_resource(show_spinner=False)
def page_activity() -> PageActivity:
    """When this server last drew a page (app.py counts every run of a page)."""
    return PageActivity()


@st.cache_resource(show_spinner=False)
def warmup() -> ServerWarmup:
    """The server's warm-up (TensorFlow, MNIST, the default model, then the speed
    calibration) in a background thread, started by the server's first script run; it begins
    once no page has run for a second."""
    # The tables' libraries at once: a page importing them while TensorFlow's import holds the
    # import machinery waited seconds for it (Train's first table, 0.3 s alone, took 1.6 s).
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    return ServerWarmup(_prepare_server, training_slots, page_activity()).start()


def display_name(name: str) -> str:
    """A model's name as shown: the default model's in the user's language, others as named."""
    return _(DEFAULT_NAME) if name == DEFAULT_NAME else name


@st.cache_resource(show_spinner=False)
def board() -> Board:
    """The class board, in $DIGIT_LAB_DATA_DIR (BoardError if it cannot be opened)."""
    return Board.from_env()


def publish(job: TrainingJob, name: str) -> BoardEntry:
    """Put a finished run on the class board under `name`, once (BoardError if refused)."""
    return workspace().publish(board(), job, name)


def workspace() -> Workspace:
    """This user's workspace, found again after a reload or in a second tab by a cookie."""
    current = st.session_state.get("workspace")
    if current is None or current not in workspaces():
        token = st.context.cookies.get(COOKIE)
        if not isinstance(token, str):  # a session with no browser behind it (AppTest)
            token = None
        claimed = workspaces().claim(token)
        if claimed.token != token:
            # This browser had a workspace (its cookie, or this session's) that this server
            # does not have: restarted, another server behind a load balancer, or dropped.
            st.session_state.workspace_gone = bool(token) or current is not None
            _remember(claimed.token)
        current = st.session_state.workspace = claimed
    current.touch()
    return current


def say_if_workspace_gone() -> None:
    """One line for a returning browser whose earlier workspace this server does not have,
    until it trains or uploads something new."""
    current = workspace()
    if st.session_state.get("workspace_gone") and not (current.jobs or current.uploads):
        st.warning(
            _(
                "Your earlier runs and uploads are gone: this server restarted, you reached "
                "another server, or they went unused for {minutes:g} minutes. The class board "
                "kept everything published."
            ).format(minutes=workspaces().ttl / 60),
            icon=":material/restart_alt:",
        )


def keep_workspace() -> None:
    """Mark this session's workspace as still in use (from a timer: never creates one)."""
    if (current := st.session_state.get("workspace")) is not None:
        current.touch()


def _remember(token: str) -> None:
    """Store the workspace token in a cookie of this site (strict: never sent elsewhere)."""
    st.sidebar.html(
        f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age=604800; "
        "SameSite=Strict';</script>",
        unsafe_allow_javascript=True,
        width="content",
    )


def jobs() -> list[TrainingJob]:
    """This user's training runs, oldest first."""
    return workspace().jobs


def active_job() -> TrainingJob | None:
    """This user's run that is waiting or training, if any."""
    return workspace().active_job()


@st.cache_resource(show_spinner=False)
def shared_runs() -> SharedRuns:
    """This server's queued and training runs, so that identical ones are trained once."""
    return SharedRuns()


def start_job(config: TrainConfig, label: str, lesson: Lesson | None = None) -> TrainingJob | None:
    """Start a training run in a worker thread (a run of `lesson`, if given), or join the
    identical run that is queued or training on this server, unless one of this user's runs is
    going (then None)."""
    speed = warmup().speed  # None while the server measures it
    data = mnist()

    def make(name: str) -> TrainingJob:
        return TrainingJob(
            name,
            config,
            data,
            training_slots(),
            limits=run_limits(),
            estimated_seconds=None if speed is None else speed.estimate(config),
            speed=speed,
        )

    return workspace().start_job(
        lambda name: shared_runs().join(f"{name} ({label})", config, data, make), lesson
    )


def start_fine_tune(entry: ModelEntry, own: HandwritingSet, epochs: int) -> None:
    """Fine-tune a copy of `entry`'s model on `own` digits as a run of this user's, unless one
    of their runs is going (HandwritingError if `own` is empty)."""
    workspace().start_job(
        lambda name: FineTuneJob.of(
            _("{run} ({model} + my digits)").format(run=name, model=display_name(entry.name)),
            entry,
            own,
            epochs,
            mnist(),
            training_slots(),
            limits=run_limits(),
        )
    )


def _job_entry(job: TrainingJob, view: JobView) -> ModelEntry:
    return ModelEntry.of(
        view.name,
        view.result.model,
        view.evaluation.accuracy,
        job.describe(),
        time.strftime("%H:%M", time.localtime(job.started)),
        tuple(view.result.history),
    )


def model_entries() -> dict[str, ModelEntry]:
    """Every model this user can pick, by name: the default, finished runs, uploads."""
    entries = {}
    if (default := default_model()) is not None:
        entries[default.name] = default
    for job in jobs():
        view = job.view()
        if view.finished and view.result is not None and view.evaluation is not None:
            entries[job.name] = _job_entry(job, view)
    entries.update(workspace().uploads)
    return entries


def add_upload(name: str, content: bytes) -> ModelEntry:
    """Load an uploaded .keras file as a model entry (ModelFileError if it is not a digit model)."""
    from mnist_core.engine.model import load_model

    model = load_model(content)
    entry = ModelEntry.of(
        _("{file} (uploaded)").format(file=name), model, None, "", time.strftime("%H:%M")
    )
    workspace().uploads[entry.name] = entry
    workspace().made_current.discard(entry.name)
    return entry


def select_current_model() -> dict[str, ModelEntry]:
    """Make a run that just finished, or a model just uploaded, the current model (once each).

    Returns every model entry, for the sidebar's picker.
    """
    entries = model_entries()
    current = workspace()
    for name in [job.name for job in jobs()] + list(current.uploads):
        if name in entries and name not in current.made_current:
            current.made_current.add(name)
            current.current_model = name
    if current.current_model not in entries:
        current.current_model = next(iter(entries), None)
    return entries


KEPT_EVALUATIONS = 6  # per session: 10,000 digits' probabilities are 400 KB each


def evaluation(entry: ModelEntry, n: int) -> tuple[Evaluation, np.ndarray]:
    """`entry`'s evaluation on `n` test digits (the latest few kept for this session), and
    those digits."""
    indices = evaluation_indices(mnist(), n)
    x, y = mnist().x_test[indices], mnist().y_test[indices]
    spinner = _("Testing {model} on {n:,} digits…").format(model=display_name(entry.name), n=n)
    return _evaluated(entry, ("test", n), x, y, spinner), x


def own_evaluation(entry: ModelEntry) -> tuple[Evaluation, np.ndarray]:
    """`entry`'s evaluation on this user's handwriting set (kept like `evaluation`'s), and it."""
    own = workspace().handwriting
    version, (x, y) = own.version, own.as_test_data()
    spinner = _("Testing {model} on your digits…").format(model=display_name(entry.name))
    return _evaluated(entry, ("own", version), x, y, spinner), x


def _evaluated(entry: ModelEntry, digits: tuple, x, y, spinner: str) -> Evaluation:
    from mnist_core.engine.model import evaluate

    cache = st.session_state.setdefault("evaluations", {})  # newest last
    key = (entry.name, id(entry.model), digits)
    if key not in cache:
        with st.spinner(spinner):
            cache[key] = evaluate(entry.model, x, y)
        while len(cache) > KEPT_EVALUATIONS:
            del cache[next(iter(cache))]
    return cache[key]


def current_model() -> ModelEntry | None:
    """The model the Evaluate and Draw pages use: the workspace's choice, shared by its tabs."""
    entries = model_entries()
    return entries.get(workspace().current_model) or next(iter(entries.values()), None)


def choose_model(name: str) -> None:
    """Make `name` the current model of this user's workspace."""
    workspace().current_model = name


def remembered(name: str, compute: Callable[..., T], model, *args) -> T:
    """`compute(model, *args)`, or what it gave this session's last time under `name` for the
    same model and arguments (arrays compared by their bytes): a slider or a section that leaves
    the drawing as it was leaves its sweeps and evidence map as they were too."""
    memo = st.session_state.setdefault("remembered", {})
    key = tuple(a.tobytes() if isinstance(a, np.ndarray) else a for a in args)
    last = memo.get(name)
    # The model itself is kept, not its id: an id can be reused once a model is gone.
    if last is None or last[0] is not model or last[1] != key:
        memo[name] = last = (model, key, compute(model, *args))
    return last[2]
