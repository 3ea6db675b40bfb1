"""The codelab preset trained in the app (driven by a real browser) against the CLI.

    python -m bench.bench_app_vs_cli --data ../shared/data/mnist.npz [--repeats 3]

Runs alternate in one go, so machine noise hits both alike; both report the same figure
(seconds inside `mnist_core.train`), and the ratio app / CLI is the result (target < 1.10).
Needs Debian's Chromium at /usr/bin/chromium and the playwright package.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.browser import ROOT, launch_chromium, start_app, stop_app


def app_run(browser, url: str) -> float:
    """Train the codelab preset on the Train page; the fit seconds the app reports."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/train")
    page.get_by_role("button", name="Train", exact=True).click(timeout=120_000)
    done = page.get_by_text(re.compile(r"finished 10 full epoch\(s\) in [\d.,]+ s"))
    done.wait_for(timeout=300_000)
    seconds = float(re.search(r"in ([\d.,]+) s", done.inner_text()).group(1).replace(",", ""))
    page.close()
    return seconds


def cli_run(data: str, env: dict) -> float:
    """Train the codelab preset with the CLI; the fit seconds it reports."""
    out = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--preset", "codelab", "--data", data],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])["fit_seconds"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    env = {**os.environ, "MNIST_NPZ": str(Path(args.data).resolve())}
    server, url = start_app(env)
    app, cli = [], []
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for _ in range(args.repeats):
                app.append(app_run(browser, url))
                cli.append(cli_run(args.data, env))
            browser.close()
    finally:
        stop_app(server)
    a, c = statistics.median(app), statistics.median(cli)
    print(f"codelab preset, {args.repeats} runs each, alternating")
    print(f"app (browser-driven)  median {a:6.2f} s   runs {app}")
    print(f"CLI                   median {c:6.2f} s   runs {cli}")
    print(f"ratio app / CLI: {a / c:.3f}  (target: under 1.10)")


if __name__ == "__main__":
    main()
