"""What the pages share: the data, the default model, this session's runs, the current model."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

import mnist_core as mc

# app.py routes with st.navigation, but Streamlit 1.67 treats a folder named pages/ as its
# legacy multipage layout until app.py has run once: a first visitor arriving at /train would
# get the page without app.py and a wrong menu. Switch that off and start the run again.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

# After every script run, fragment reruns included, Streamlit calls keras.backend.clear_session()
# for apps that build models in the script. Ours train in worker threads: clearing Keras's
# global state under a running fit made the codelab run 25 times slower (171 s against 7 s).
script_runner._clean_problem_modules = lambda: None

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.keras"
DEFAULT_NAME = "Default model"


@dataclass(frozen=True)
class ModelEntry:
    """A model the user can pick: the shipped default, a run of theirs, or an upload."""

    name: str
    model: keras.Model
    test_accuracy: float | None
    summary: str
    when: str

    @property
    def params(self) -> int:
        """Number of parameters."""
        return self.model.count_params()


@st.cache_resource(show_spinner="Loading MNIST…")
def data() -> mc.MnistData:
    """MNIST, loaded once per server and shared read-only by every session."""
    return mc.load_mnist()


@st.cache_resource
def training_slots() -> mc.TrainingSlots:
    """How many trainings may run at once on this server ($DIGIT_LAB_MAX_TRAININGS, default 1)."""
    return mc.TrainingSlots(int(os.environ.get("DIGIT_LAB_MAX_TRAININGS", "1")))


@st.cache_resource(show_spinner="Loading the default model…")
def default_model() -> ModelEntry | None:
    """The model shipped in models/, trained with the `best` preset (None if it is missing)."""
    try:
        model = mc.load_model(DEFAULT_MODEL)
    except mc.ModelFileError:
        return None
    info = mc.read_metadata(DEFAULT_MODEL)
    summary = mc.TrainConfig.from_dict(info["config"]).summary() if "config" in info else ""
    return ModelEntry(
        DEFAULT_NAME, model, info.get("test_accuracy"), summary, info.get("trained_at", "")
    )


def init_session() -> None:
    """Per-session defaults; safe to call from every page."""
    st.session_state.setdefault("jobs", [])  # TrainingJob, oldest first
    st.session_state.setdefault("uploads", {})  # name -> ModelEntry
    st.session_state.setdefault("announced", set())  # runs already made current once


def jobs() -> list[mc.TrainingJob]:
    """This session's training runs, oldest first."""
    init_session()
    return st.session_state.jobs


def active_job() -> mc.TrainingJob | None:
    """This session's run that is waiting or training, if any."""
    return next((job for job in reversed(jobs()) if not job.finished), None)


def _job_entry(job: mc.TrainingJob) -> ModelEntry:
    return ModelEntry(
        job.name,
        job.result.model,
        job.evaluation.accuracy,
        job.config.summary(),
        time.strftime("%H:%M", time.localtime(job.started)),
    )


def model_entries() -> dict[str, ModelEntry]:
    """Every model this session can use, by name: the default, finished runs, uploads."""
    entries = {}
    if (default := default_model()) is not None:
        entries[default.name] = default
    for job in jobs():
        if job.result is not None and job.evaluation is not None:
            entries[job.name] = _job_entry(job)
    entries.update(st.session_state.uploads)
    return entries


def add_upload(name: str, content: bytes) -> ModelEntry:
    """Load an uploaded .keras file as a model entry (ModelFileError if it is not a digit model)."""
    model = mc.load_model(content)
    entry = ModelEntry(f"{name} (uploaded)", model, None, "", time.strftime("%H:%M"))
    st.session_state.uploads[entry.name] = entry
    st.session_state.announced.discard(entry.name)
    return entry


def current_model() -> ModelEntry | None:
    """The model the Evaluate and Draw pages use."""
    entries = model_entries()
    return entries.get(st.session_state.get("current_model")) or next(iter(entries.values()), None)


def sidebar_status() -> None:
    """The sidebar: where the data came from and which model is current."""
    entries = model_entries()
    # A run that just finished, or a model just uploaded, becomes the current model, once.
    for name in [job.name for job in jobs()] + list(st.session_state.uploads):
        if name in entries and name not in st.session_state.announced:
            st.session_state.announced.add(name)
            st.session_state.current_model = name
    if st.session_state.get("current_model") not in entries:
        st.session_state.current_model = next(iter(entries), None)

    with st.sidebar:
        source = data()
        if source.is_sample:
            st.warning(source.describe(), icon=":material/wifi_off:")
        else:
            st.caption(source.describe())
        if not entries:
            st.info("No model yet: train one on the Train page.")
            return
        st.selectbox("Current model", list(entries), key="current_model")
        entry = entries[st.session_state.current_model]
        accuracy = f"{entry.test_accuracy:.2%}" if entry.test_accuracy is not None else "not tested"
        st.caption(
            f"{entry.params:,} parameters · test accuracy {accuracy}"
            + (f" · trained {entry.when}" if entry.when else "")
        )
        if entry.summary:
            st.caption(entry.summary)
        st.download_button(
            "Download this model",
            data=lambda: mc.model_to_bytes(entry.model),
            file_name=f"{entry.name.lower().replace(' ', '-').strip('()')}.keras",
            mime="application/zip",
            icon=":material/download:",
            on_click="ignore",
        )
        if (job := active_job()) is not None:
            st.caption(f":orange[●] {job.name} is {job.state}…")
