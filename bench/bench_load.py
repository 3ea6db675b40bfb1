"""A class at once: N browser sessions drive the same server through the demo path together.

    python -m bench.bench_load --data ../shared/data/mnist.npz [--users 3] [--limit 3]

Each user, in its own browser context, opens Home, trains the codelab preset on Train, opens
Evaluate, and draws a 7 on Draw. Printed: completed runs, errors, the server's peak memory
(resident set of the server process, sampled every 0.2 s) against its memory when idle after
the first page, and the median and p95 time from each click to its result on screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import threading
import time
from pathlib import Path

from playwright.async_api import async_playwright, expect

from bench.browser import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

SLOW = 600_000  # ms: a user whose run waits for a free slot waits this long at most


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemoryWatch:
    """Samples a process's resident memory in a thread; keeps the peak."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak


async def timed(steps: list[float], action, result) -> None:
    """Do `action`, wait for `result` to be visible, record the seconds it took."""
    start = time.perf_counter()
    await action()
    await expect(result).to_be_visible(timeout=SLOW)
    steps.append(time.perf_counter() - start)


async def demo(browser, url: str, steps: list[float]) -> None:
    """One user's demo path; raises on any error."""
    context = await browser.new_context(
        viewport={"width": 1400, "height": 1000}, base_url=url, locale="en-US"
    )
    page = await context.new_page()
    try:
        nav = page.get_by_test_id("stSidebarNav")
        await timed(steps, lambda: page.goto("/"), page.get_by_role("heading", name="Digit Lab"))
        await timed(
            steps,
            lambda: nav.get_by_role("link", name="Train", exact=True).click(),
            page.get_by_role("button", name="Train", exact=True),
        )
        await expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(
            timeout=SLOW
        )
        await timed(
            steps,
            lambda: page.get_by_role("button", name="Train", exact=True).click(),
            page.get_by_text(re.compile(r"Waiting for a free training slot|Epoch \d+/")),
        )
        await expect(page.get_by_text("It is now the current model")).to_be_visible(timeout=SLOW)
        await timed(
            steps,
            lambda: nav.get_by_role("link", name="Evaluate", exact=True).click(),
            page.get_by_test_id("stMetric").first,
        )
        await timed(
            steps,
            lambda: nav.get_by_role("link", name="Draw", exact=True).click(),
            page.locator("canvas.upper-canvas"),
        )
        box = await page.locator("canvas.upper-canvas").bounding_box()

        async def draw_seven():
            x, y, w, h = box["x"], box["y"], box["width"], box["height"]
            await page.mouse.move(x + 0.25 * w, y + 0.2 * h)
            await page.mouse.down()
            await page.mouse.move(x + 0.75 * w, y + 0.2 * h, steps=6)
            await page.mouse.move(x + 0.45 * w, y + 0.85 * h, steps=6)
            await page.mouse.up()

        await timed(steps, draw_seven, page.get_by_test_id("stMetric").first)
        if await page.get_by_test_id("stException").count():
            raise RuntimeError(await page.get_by_test_id("stException").first.inner_text())
    finally:
        await context.close()


async def drive(url: str, users: int, pid: int) -> tuple[int, list[str], list[float], float]:
    """All users at once; (completed demos, errors, step seconds, idle MB after warming up)."""
    steps: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        # Warm the server up (TensorFlow, MNIST, the default model) with one visit first.
        warm = await browser.new_page(locale="en-US")
        await warm.goto(url)
        await expect(warm.get_by_role("heading", name="Digit Lab")).to_be_visible(timeout=SLOW)
        await warm.close()
        idle = rss_mb(pid)
        results = await asyncio.gather(
            *(demo(browser, url, steps) for _ in range(users)), return_exceptions=True
        )
        await browser.close()
    errors = [f"{type(r).__name__}: {r}".splitlines()[0] for r in results if r is not None]
    return users - len(errors), errors, steps, idle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--users", type=int, default=3)
    p.add_argument("--limit", type=int, default=3, help="trainings at once on the server")
    args = p.parse_args()
    env = {**os.environ, "DIGIT_LAB_MAX_TRAININGS": str(args.limit)}
    if args.data:
        env["MNIST_NPZ"] = str(Path(args.data).resolve())
    server, url = start_app(env)
    try:
        started = time.perf_counter()
        watch = MemoryWatch(server.pid)
        completed, errors, steps, idle = asyncio.run(drive(url, args.users, server.pid))
        peak = watch.stop()
        after = rss_mb(server.pid)
        seconds = time.perf_counter() - started
    finally:
        stop_app(server)
    steps.sort()
    p95 = steps[min(len(steps) - 1, round(0.95 * (len(steps) - 1)))] if steps else float("nan")
    print(f"{args.users} users at once, {args.limit} training(s) at a time, {seconds:.0f} s")
    print(f"completed demos: {completed} of {args.users}; errors: {len(errors)}")
    for error in errors:
        print(f"  {error}")
    print(
        f"server memory: {idle:,.0f} MB idle after the first page, peak {peak:,.0f} MB "
        f"(ratio {peak / idle:.2f}), {after:,.0f} MB after the demos"
    )
    print(
        f"click to result: median {statistics.median(steps):.2f} s, p95 {p95:.2f} s "
        f"over {len(steps)} steps (a queued Train click counts until 'Waiting…' shows)"
    )


if __name__ == "__main__":
    main()
