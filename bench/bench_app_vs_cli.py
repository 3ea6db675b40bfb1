"""The codelab preset trained in the app (driven by a real browser), by the CLI, and by a bare
`model.fit` of the same network and data.

    python -m bench.bench_app_vs_cli --data ../shared/data/mnist.npz [--repeats 3]

Rounds alternate app, CLI, bare fit, so machine noise hits all three alike. The CLI and the bare
fit each run in a fresh process (both trace the model once, as the app does for every run).
Printed, as medians and ratios to the bare fit:
- app click → finished: from the click on Train to the finished message in the page, by the
  page's own clock (the click event's time, the message's first appearance); and the same by
  this process's clock, which adds Playwright's checks before a click and its polling;
- app fit and CLI fit: the seconds inside `mnist_core.train` each one reports.
With --pin, the server, the CLI and the bare fit all train on CPU 0 and Chromium draws on
CPU 1: on a real server the charts are drawn by the visitor's own computer, so this measures
what the app itself adds. Without it, all of them share both CPUs (the browser's drawing then
slows the app's training too).
Needs Debian's Chromium at /usr/bin/chromium and the playwright package.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.browser import ROOT, launch_chromium, start_app, stop_app, watch_click_to

FINISHED = re.compile(r"finished 10 full epoch\(s\) in ([\d.,]+) s")
ESTIMATE = re.compile(r"s per epoch")


WATCH = watch_click_to({"finished": "full epoch(s) in"})


@dataclass(frozen=True)
class AppRun:
    page_clock: float  # click → finished message, by the page's own clock
    test_clock: float  # the same by this process's: with Playwright's click checks and polling
    fit: float  # the fit's seconds, as the finished message says


def app_run(browser, url: str) -> AppRun:
    """Train the codelab preset on the Train page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page.add_init_script(WATCH)
    page.goto(f"{url}/train")
    page.get_by_text(ESTIMATE).wait_for(timeout=120_000)  # the page has settled
    page.evaluate("window.__marks.armed = true")
    start = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => window.__marks.finished", polling=100, timeout=300_000)
    test_clock = time.perf_counter() - start
    marks = page.evaluate("window.__marks")
    done = page.get_by_text(FINISHED)
    fit = float(FINISHED.search(done.inner_text()).group(1).replace(",", ""))
    page.close()
    return AppRun((marks["finished"] - marks["clicked"]) / 1000, test_clock, fit)


TRAINING_CPUS: set[int] | None = None  # --pin: where every training runs


def _pin_training() -> None:
    if TRAINING_CPUS is not None:
        os.sched_setaffinity(0, TRAINING_CPUS)


def fit_seconds(module: str, *args: str, env: dict) -> float:
    """Run `python -m module args` in a fresh process; the fit seconds it prints last as JSON."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=_pin_training,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["fit_seconds"]


def measure(data: str, repeats: int = 3, pin: bool = False) -> dict[str, list[float]]:
    """Alternating rounds of app, CLI and bare fit: seconds per round for each (see above)."""
    global TRAINING_CPUS
    everywhere = os.sched_getaffinity(0)
    if pin:
        TRAINING_CPUS = {0}
        os.sched_setaffinity(0, TRAINING_CPUS)  # the server started next inherits it
    env = {**os.environ, "MNIST_NPZ": data, "TF_CPP_MIN_LOG_LEVEL": "2"}
    server, url = start_app(env)
    if pin:
        os.sched_setaffinity(0, {1})  # Playwright's driver and Chromium inherit this
    times = {
        "click → finished": [],
        "  by the test's clock": [],
        "app fit": [],
        "CLI fit": [],
        "bare fit": [],
    }
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for _ in range(repeats):
                run = app_run(browser, url)
                times["click → finished"].append(run.page_clock)
                times["  by the test's clock"].append(run.test_clock)
                times["app fit"].append(run.fit)
                times["CLI fit"].append(
                    fit_seconds(
                        "mnist_core", "train", "--preset", "codelab", "--data", data, env=env
                    )
                )
                times["bare fit"].append(
                    fit_seconds("bench.bench_training", "--bare-once", "--data", data, env=env)
                )
            browser.close()
    finally:
        stop_app(server)
        TRAINING_CPUS = None
        os.sched_setaffinity(0, everywhere)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pin", action="store_true", help="training on CPU 0, Chromium on CPU 1")
    args = p.parse_args()
    times = measure(str(Path(args.data).resolve()), args.repeats, args.pin)
    b = statistics.median(times["bare fit"])
    where = "training on CPU 0, Chromium on CPU 1" if args.pin else "all sharing both CPUs"
    print(f"codelab preset, {args.repeats} rounds of app, CLI and bare fit ({where})")
    for name, target in (
        ("bare fit", None),
        ("CLI fit", 1.05),
        ("app fit", None),
        ("click → finished", 1.05),
        ("  by the test's clock", None),
    ):
        m = statistics.median(times[name])
        goal = f"   (target ≤ {target})" if target else ""
        print(
            f"{name:22s} median {m:6.2f} s  ×{m / b:5.2f} bare{goal}   runs "
            f"{[round(t, 2) for t in times[name]]}"
        )
    ratio = statistics.median(times["app fit"]) / statistics.median(times["CLI fit"])
    print(f"app fit / CLI fit: {ratio:.3f}  (target ≤ 1.10)")


if __name__ == "__main__":
    main()
