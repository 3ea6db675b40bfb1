"""The codelab preset trained in the app (driven by a real browser), by the CLI, and by a bare
`model.fit` of the same network and data.

    python -m bench.bench_app_vs_cli --data ../shared/data/mnist.npz [--repeats 3]

Rounds alternate app, CLI, bare fit, so machine noise hits all three alike. The CLI and the bare
fit each run in a fresh process (both trace the model once, as the app does for every run).
Printed, as medians and ratios to the bare fit:
- app click → finished: from the click on Train to the finished message on screen;
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
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.browser import ROOT, launch_chromium, start_app, stop_app

FINISHED = re.compile(r"finished 10 full epoch\(s\) in ([\d.,]+) s")


def app_run(browser, url: str) -> tuple[float, float]:
    """Train the codelab preset on the Train page: (click → finished message s, fit s)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page.goto(f"{url}/train")
    train = page.get_by_role("button", name="Train", exact=True)
    train.wait_for(timeout=120_000)
    page.wait_for_timeout(1000)  # the page settles: estimate shown, no script running
    start = time.perf_counter()
    train.click()
    done = page.get_by_text(FINISHED)
    done.wait_for(timeout=300_000, state="attached")
    wall = time.perf_counter() - start
    fit = float(FINISHED.search(done.inner_text()).group(1).replace(",", ""))
    page.close()
    return wall, fit


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
    times = {"click → finished": [], "app fit": [], "CLI fit": [], "bare fit": []}
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for _ in range(repeats):
                click, fit = app_run(browser, url)
                times["click → finished"].append(click)
                times["app fit"].append(fit)
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
