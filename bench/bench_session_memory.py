"""The server's memory over many runs of one browser session: the app in Chromium, as users run it.

    python -m bench.bench_session_memory --data ../shared/data/mnist.npz [--runs 10]

One user opens Train and presses Train on the `codelab` preset `--runs` times, each run after
the last one finished, every run kept in their workspace. Printed: the server's resident memory
(the Streamlit process) once each run's outcome is on screen, and the growth after the first
run (target: at most 50 MB over 10 runs).

With `--probe` the server also reports, after each run, its memory after a garbage collection
and after handing glibc's freed heap pages back: what it holds, against what it has freed but
not returned to the system.
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
from bench.cli import print_growth

SLOW = 300_000  # ms: a run, on a busy machine


def settled_rss(pid: int, seconds: float = 3.0) -> float:
    """The server's resident memory once the page's timers have drawn the finished run:
    the lowest of a few samples, so that a page redraw in flight does not count."""
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss_mb(pid))
        time.sleep(0.25)
    return min(samples)


# Loaded by the server at start-up (sitecustomize): on SIGUSR1 it writes its resident MB, then
# the same after a garbage collection, then after handing glibc's freed heap pages back, as one
# line of $DIGIT_LAB_PROBE: what the server holds against what it merely has not returned.
PROBE = textwrap.dedent(
    """
    import ctypes, gc, os, signal

    def _rss():
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def _probe(signum, frame):
        before = _rss()
        gc.collect()
        collected = _rss()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open(os.environ["DIGIT_LAB_PROBE"], "a") as out:
            out.write(f"{before:.0f} {collected:.0f} {_rss():.0f}\\n")

    signal.signal(signal.SIGUSR1, _probe)
    """
)


def run_session(url: str, pid: int, runs: int, after_run=lambda: None) -> list[float]:
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
            after_run()
            print(f"  run {n}: {series[-1]:,.0f} MB", flush=True)
        browser.close()
    return series


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--log", type=Path, default=None, help="the server's log file")
    p.add_argument("--probe", action="store_true", help="also the memory the server holds")
    args = p.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.data:
        env["MNIST_NPZ"] = str(Path(args.data).resolve())
    with tempfile.TemporaryDirectory() as site:
        probes = Path(site, "probes.txt")
        if args.probe:
            Path(site, "sitecustomize.py").write_text(PROBE)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [site, env.get("PYTHONPATH")]))
            env["DIGIT_LAB_PROBE"] = str(probes)
        server, url = start_app(env, log=args.log)
        try:
            probe = (lambda: os.kill(server.pid, signal.SIGUSR1)) if args.probe else lambda: None
            series = run_session(url, server.pid, args.runs, probe)
            deadline = time.monotonic() + 30
            while args.probe and len(_lines(probes)) < args.runs and time.monotonic() < deadline:
                time.sleep(0.5)
            held = [line.split() for line in _lines(probes)]
        finally:
            stop_app(server)
    print_growth(
        f"{args.runs} codelab runs in one browser session: server MB after each run",
        series,
        "≤ +50 MB in all",
    )
    if held:
        print("after each run: resident / after gc / after handing freed heap pages back, MB")
        print("  " + "  ".join("/".join(line) for line in held))
        kept = [float(line[2]) for line in held]
        print(
            f"held after run 1: {kept[0]:,.0f} MB, after run {len(kept)}: {kept[-1]:,.0f} MB, "
            f"growth {kept[-1] - kept[0]:+,.0f} MB"
        )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


if __name__ == "__main__":
    main()
