"""The server's memory over many runs of one browser session: the app in Chromium, as users run it.

    python -m bench.bench_session_memory --data ../shared/data/mnist.npz [--runs 10]

One user opens Train and presses Train on the `codelab` preset `--runs` times, each run after
the last one finished, every run kept in their workspace. Printed: the server's resident memory
(the Streamlit process) once each run's outcome is on screen, and the growth after the first
run (target: at most 50 MB over 10 runs).

With `--trace FILE` the server runs under tracemalloc and, after run 1 and after the last run,
writes where Python's allocations grew between the two and which kinds of objects multiplied
(allocations TensorFlow makes in C++ do not show there; the resident memory does).
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import textwrap
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.bench_load import rss_mb
from bench.browser import launch_chromium, start_app, stop_app

SLOW = 300_000  # ms: a run, on a busy machine


def settled_rss(pid: int, seconds: float = 3.0) -> float:
    """The server's resident memory once the page's timers have drawn the finished run:
    the lowest of a few samples, so that a page redraw in flight does not count."""
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss_mb(pid))
        time.sleep(0.25)
    return min(samples)


# Loaded by the server at start-up (sitecustomize): on SIGUSR1 it snapshots Python's heap; the
# second signal writes the growth since the first to $DIGIT_LAB_TRACE.
TRACER = textwrap.dedent(
    """
    import collections, gc, os, signal, tracemalloc

    tracemalloc.start(12)
    _first = {}

    def _counts():
        gc.collect()
        return collections.Counter(type(o).__qualname__ for o in gc.get_objects())

    def _snapshot(signum, frame):
        if not _first:
            _first["heap"], _first["counts"] = tracemalloc.take_snapshot(), _counts()
            return
        heap, counts = tracemalloc.take_snapshot(), _counts()
        part = os.environ["DIGIT_LAB_TRACE"] + ".part"
        with open(part, "w") as out:
            out.write("Python allocations grown since run 1, by where they were made:\\n")
            for stat in heap.compare_to(_first["heap"], "traceback")[:25]:
                out.write(f"{stat.size_diff / 2**20:+.2f} MB in {stat.count_diff:+d} blocks\\n")
                for line in stat.traceback.format()[-12:]:
                    out.write(f"    {line}\\n")
            out.write("\\nObjects multiplied since run 1:\\n")
            grown = counts.copy()
            grown.subtract(_first["counts"])
            for name, n in grown.most_common(40):
                out.write(f"{n:+7d} {name}\\n")
        os.replace(part, os.environ["DIGIT_LAB_TRACE"])

    signal.signal(signal.SIGUSR1, _snapshot)
    """
)


def run_session(url: str, pid: int, runs: int, snapshot=lambda: None) -> list[float]:
    """One browser session pressing Train `runs` times; the server's MB after each run."""
    series = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
        page.goto(f"{url}/train")
        train = page.get_by_role("button", name="Train", exact=True)
        for n in range(1, runs + 1):
            expect(train).to_be_enabled(timeout=SLOW)
            train.click()
            outcome = page.get_by_text(f"Run {n} (codelab) finished")
            expect(outcome).to_be_visible(timeout=SLOW)
            expect(train).to_be_enabled(timeout=SLOW)  # the page's rerun after the outcome
            series.append(settled_rss(pid))
            if n in (1, runs):
                snapshot()
            print(f"  run {n}: {series[-1]:,.0f} MB", flush=True)
        browser.close()
    return series


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--log", type=Path, default=None, help="the server's log file")
    p.add_argument("--trace", type=Path, default=None, help="where the heap's growth goes")
    args = p.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.data:
        env["MNIST_NPZ"] = str(Path(args.data).resolve())
    with tempfile.TemporaryDirectory() as site:
        if args.trace:
            Path(site, "sitecustomize.py").write_text(TRACER)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [site, env.get("PYTHONPATH")]))
            env["DIGIT_LAB_TRACE"] = str(args.trace.resolve())
        server, url = start_app(env, log=args.log)
        try:
            snapshot = (lambda: os.kill(server.pid, signal.SIGUSR1)) if args.trace else None
            series = run_session(url, server.pid, args.runs, snapshot or (lambda: None))
            if args.trace:  # comparing two snapshots of the heap takes the server a while
                deadline = time.monotonic() + 600
                while not args.trace.exists() and time.monotonic() < deadline:
                    time.sleep(1)
        finally:
            stop_app(server)
    growth = series[-1] - series[0]
    print(f"{args.runs} codelab runs in one browser session: server MB after each run")
    print("  " + " ".join(f"{mb:.0f}" for mb in series))
    print(
        f"after run 1: {series[0]:,.0f} MB, after run {args.runs}: {series[-1]:,.0f} MB, "
        f"growth {growth:+,.0f} MB ({growth / max(args.runs - 1, 1):+.1f} MB a run; "
        "target ≤ +50 MB in all)"
    )


if __name__ == "__main__":
    main()
