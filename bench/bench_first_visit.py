"""A fresh server's first visitor: Home, then Train's layer table and estimate, and the memory.

    MNIST_NPZ=../shared/data/mnist.npz python -m bench.bench_first_visit [--rounds 3]

Each round starts a fresh server (`bench/browser.py start_app`, a fresh HOME and board folder;
MNIST from $MNIST_NPZ when set, else the offline digits) and Debian's Chromium opens Home, then
clicks Train as soon as Home's script run has ended. Timed from the navigation or the click:

- Home shown: the page's heading visible;
- Train layer table: the layer table visible;
- Train estimate: "s per epoch" visible (the speed calibration, in the background, is done).

Then the server's resident memory (its process tree, from /proc) once it is idle.

Baselines measured in the same invocation, alternating with the rounds: a fresh Python's
`import tensorflow` (what a first visit paid before) and a fresh server's first visit to a
one-line Streamlit page (what no app can beat here). `--breakdown` prints, in one fresh process,
the resident memory each part of the first visit adds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.browser import IDLE, ROOT, launch_chromium, start_app, stop_app
from bench.rehearse_deploy import tree_rss_mb

TIMEOUT = 180_000  # ms
TRIVIAL_APP = 'import streamlit as st\n\nst.title("Hello")\n'
GOALS = {"home": 3.0, "table": 3.0, "mb": 800.0}


def server_env(home: Path) -> dict[str, str]:
    """A fresh server's environment: this one with a fresh HOME and board folder."""
    env = {**os.environ, "HOME": str(home), "DIGIT_LAB_DATA_DIR": str(home / "board")}
    env.pop("KERAS_HOME", None)
    return env


def import_tensorflow_seconds() -> float:
    """Wall seconds of `python -c "import tensorflow"` in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
    return time.perf_counter() - start


def trivial_first_visit(browser, home: Path) -> tuple[float, float]:
    """A one-line Streamlit app on a fresh server: seconds from navigation to its heading, and
    the server's resident MB after that visit (Python, Streamlit, its server and one session)."""
    folder = Path(tempfile.mkdtemp(dir=home))
    (folder / "app.py").write_text(TRIVIAL_APP)
    server, url = start_app(server_env(home), cwd=folder)
    try:
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(url)
        expect(page.get_by_role("heading", name="Hello")).to_be_visible(timeout=TIMEOUT)
        seconds = time.perf_counter() - start
        page.wait_for_function(f"() => {IDLE}", timeout=TIMEOUT, polling=20)
        time.sleep(2)  # idle, as Digit Lab's server is measured
        mb = tree_rss_mb(server.pid)
        page.close()
        return seconds, mb
    finally:
        stop_app(server)


def digit_lab_first_visit(browser, home: Path) -> dict[str, float]:
    """One fresh server's first visit: Home shown, Train's layer table and estimate, idle MB."""
    server, url = start_app(server_env(home), log=home / "server.log")
    try:
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(f"{url}/?lang=en")
        expect(page.get_by_role("heading", name="Digit Lab")).to_be_visible(timeout=TIMEOUT)
        home_shown = time.perf_counter() - start
        page.wait_for_function(f"() => {IDLE}", timeout=TIMEOUT, polling=20)
        start = time.perf_counter()
        nav = page.get_by_test_id("stSidebarNav")
        nav.get_by_role("link", name="Train", exact=True).click()
        expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=TIMEOUT)
        table = time.perf_counter() - start
        expect(page.get_by_text("s per epoch")).to_be_visible(timeout=TIMEOUT)
        estimate = time.perf_counter() - start
        if page.get_by_test_id("stException").count():
            raise RuntimeError(page.get_by_test_id("stException").first.inner_text())
        page.wait_for_function(f"() => {IDLE}", timeout=TIMEOUT, polling=20)
        time.sleep(2)  # idle: the first visit over
        mb = tree_rss_mb(server.pid)
        page.close()
        return {"home": home_shown, "table": table, "estimate": estimate, "mb": mb}
    finally:
        stop_app(server)


def rss_mb() -> float:
    """This process's resident memory in MB."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if "VmRSS:" in line) / 1024


def breakdown() -> None:
    """The first visit's parts in one fresh process, each with the resident MB it adds."""
    sys.path.insert(0, str(ROOT))
    start = rss_mb()
    steps = [("Python itself", start)]

    def step(name: str, action) -> None:
        before = rss_mb()
        action()
        steps.append((name, rss_mb() - before))

    step("Streamlit", lambda: __import__("streamlit"))
    step("pandas, pyarrow, plotly and the UI code", _import_ui)
    from mnist_core.classroom import heap
    from mnist_core.data import load_mnist
    from ui import state

    heap.limit_arenas()  # as the server's warm-up does first
    step("TensorFlow and Keras imported", lambda: __import__("mnist_core.engine.backend"))
    from mnist_core.engine.model import load_model

    kept = {}  # what the server keeps
    step("MNIST (uint8 arrays)", lambda: kept.setdefault("data", load_mnist()))
    step("the default model", lambda: kept.setdefault("model", load_model(state.DEFAULT_MODEL)))
    step("the speed calibration, freed heap trimmed", lambda: _calibrate(kept["data"]))
    total = rss_mb()
    step("later, not the first visit: a codelab run", lambda: _train(kept["data"]))
    width = max(len(name) for name, _mb in steps)
    for name, mb in steps:
        print(f"  {name:<{width}}  {mb:+7.0f} MB")
        if name.startswith("the speed calibration"):
            print(f"  {'resident after the first visit':<{width}}  {total:7.0f} MB")


def _calibrate(data) -> None:
    """What the server's warm-up does after loading: measure, then hand freed heap back."""
    from mnist_core.classroom import heap
    from mnist_core.classroom.estimates import measure_speed

    measure_speed(data)
    heap.release_freed()


def _train(data) -> None:
    """A user's codelab run, as the server trains it (its freed heap handed back)."""
    from mnist_core.classroom.jobs import TrainingJob
    from mnist_core.config import PRESETS

    job = TrainingJob("run", PRESETS["codelab"], data).start()
    job.join()


def _import_ui() -> None:
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import pyarrow  # noqa: F401

    from ui import runs, state, train_settings, widgets  # noqa: F401


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--breakdown", action="store_true", help="only the memory breakdown")
    args = p.parse_args()
    if args.breakdown:
        breakdown()
        return
    mnist = os.environ.get("MNIST_NPZ") or "offline"
    print(f"load average {os.getloadavg()[0]:.2f}; MNIST: {mnist}")
    runs, tf_import, trivial, trivial_mb = [], [], [], []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as temp:
        browser = launch_chromium(playwright)
        for i in range(args.rounds):
            home = Path(temp) / f"round{i}"
            home.mkdir()
            tf_import.append(import_tensorflow_seconds())
            seconds, mb = trivial_first_visit(browser, home)
            trivial.append(seconds)
            trivial_mb.append(mb)
            runs.append(digit_lab_first_visit(browser, home))
            print(f"round {i + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()))
        browser.close()
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    base = statistics.median(tf_import)
    print(f"\nmedians of {args.rounds} rounds (goal beside each)")
    print(f"  baseline: fresh `import tensorflow`          {base:5.1f} s")
    print(f"  baseline: a one-line app's first visit       {statistics.median(trivial):5.1f} s")
    print(
        f"  Home shown                                   {median['home']:5.1f} s"
        f"  ({median['home'] / base:.2f}× the import)  goal ≤ {GOALS['home']:.0f} s"
    )
    print(
        f"  Train layer table (from the click)           {median['table']:5.1f} s"
        f"  ({median['table'] / base:.2f}× the import)  goal ≤ {GOALS['table']:.0f} s"
    )
    print(
        f"  Train estimate (from the click)              {median['estimate']:5.1f} s"
        "  (calibration in the background; the page never waits for it)"
    )
    print(
        f"  server resident after the first visit      {median['mb']:7.0f} MB"
        f"  goal ≤ {GOALS['mb']:.0f} MB"
    )
    print(
        f"  baseline: a one-line app's server after it   {statistics.median(trivial_mb):5.0f} MB"
        "  (Python, Streamlit, its server and a session: compare the first two steps below)"
    )
    print("\nwhere the memory goes (one fresh process, step by step):", flush=True)
    subprocess.run([sys.executable, "-m", "bench.bench_first_visit", "--breakdown"], cwd=ROOT)
    # Last, for bench.speed_table: the medians and baselines as one JSON line.
    print(json.dumps({**median, "tf_import": base, "trivial": statistics.median(trivial)}))


if __name__ == "__main__":
    main()
