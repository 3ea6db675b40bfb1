"""How fast Draw answers: mouse-up to the new prediction, and a bend slider to its prediction.

    python -m bench.bench_draw --data ../shared/data/mnist.npz [--strokes 15] [--moves 15]

Drives the Draw page in Debian's Chromium with the default model. A stroke's time runs from
mouse-up until the page's script run that reads it has finished (Streamlit then shows it); a
slider's from the key press to the same point. Printed: median and max of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.browser import WATCH_SCRIPT_RUNS, launch_chromium, start_app, stop_app

STATE = "document.querySelector('[data-testid=stApp]')?.dataset.testScriptState"
IDLE = f"() => {STATE} === 'notRunning'"


def runs(page) -> int:
    """Script runs started so far in `page`."""
    return page.evaluate("window.__digitLabStarts")


def until_answered(page, start: float, before: int) -> float:
    """Seconds from `start` until a script run started after `before` runs has finished."""
    page.wait_for_function(
        f"() => window.__digitLabStarts > {before} && {STATE} === 'notRunning'",
        timeout=60_000,
        polling=5,
    )
    return time.perf_counter() - start


def stroke(page, box: dict, k: int) -> float:
    """Draw one short vertical stroke (a "1") and time mouse-up to the answer."""
    x = box["x"] + box["width"] * (0.3 + 0.03 * (k % 10))
    page.mouse.move(x, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.8, steps=8)
    before = runs(page)
    page.mouse.up()
    return until_answered(page, time.perf_counter(), before)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--strokes", type=int, default=15)
    p.add_argument("--moves", type=int, default=15)
    args = p.parse_args()
    env = {**os.environ}
    if args.data:
        env["MNIST_NPZ"] = str(Path(args.data).resolve())
    server, url = start_app(env)
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
            page.add_init_script(WATCH_SCRIPT_RUNS)
            page.goto(f"{url}/draw")
            canvas = page.locator("canvas.upper-canvas")
            expect(canvas).to_be_visible(timeout=120_000)
            page.wait_for_function(IDLE, timeout=120_000)
            box = canvas.bounding_box()
            stroke(page, box, 0)  # warm-up: first traces
            strokes = [stroke(page, box, k) for k in range(1, args.strokes + 1)]
            turn = page.get_by_role("slider", name="Turn (degrees)")
            moves = []
            for k in range(args.moves):
                turn.focus()
                before = runs(page)
                start = time.perf_counter()
                turn.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
                moves.append(until_answered(page, start, before))
            browser.close()
    finally:
        stop_app(server)
    for name, times in (("mouse-up to prediction", strokes), ("bend slider to prediction", moves)):
        ms = [1000 * t for t in times]
        median, worst = statistics.median(ms), max(ms)
        print(f"{name:28s} median {median:6.0f} ms   max {worst:6.0f} ms   n={len(ms)}")


if __name__ == "__main__":
    main()
