"""A class at once: N browser sessions drive the same server through the demo path together.

    python -m bench.bench_load --data ../shared/data/mnist.npz [--users 3] [--limit 3]

Each user, in its own browser context, opens Home, trains the codelab preset on Train, opens
Evaluate, and draws a 7 on Draw. Printed: completed runs, errors, the server's peak memory
(resident set of the server process, sampled every 0.2 s) against its memory when idle after
the first page, and the median and p95 time from each click to its result on screen.

    python -m bench.bench_load --data ../shared/data/mnist.npz --class --users 10,30 --pin

A class pressing Train together, once per number of users, each on a fresh server: after one
warm-up visit (the teacher's), the users open Train two seconds apart, then all press Train on
the `codelab` preset within a second. Printed per class: users, runs finished, how many pages
said they joined a run with these settings, how many trainings the finished messages name
(distinct fit times: joiners share theirs), click → finished median, p95 and max (by each
page's own clock, from the click to the message's first appearance), the fit's own time
(median), errors (on any page, or a traceback in the server's log) and the server's peak
memory. `--pin` puts the server on CPU 0 and the browsers on CPU 1, as a one-CPU server with
its users elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import async_playwright, expect

from bench.browser import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app, watch_click_to

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


JOINED = "You joined a run with exactly these settings"
FINISHED = "It is now the current model"
FIT_SECONDS = re.compile(r"full epoch\(s\) in ([\d,.]+) s")
STAGGER = 2.0  # seconds between two users opening Train
WATCH_CLASS = watch_click_to({"joined": JOINED, "finished": FINISHED})
# A line of the server's log that means something went wrong (Streamlit logs exceptions there).
LOG_PROBLEM = re.compile(r"Traceback|Error|Exception")


@dataclass
class Student:
    """One user of a class: what their page showed."""

    seconds: float | None = None  # click → finished message on screen
    fit: float | None = None  # the training's own seconds, as the finished message says
    joined: bool = False  # the page said they joined a run with these settings
    error: str = ""


async def open_train(browser, url: str):
    """A new user's page with Train open and its button ready."""
    context = await browser.new_context(
        viewport={"width": 1400, "height": 1000}, base_url=url, locale="en-US"
    )
    await context.add_init_script(WATCH_CLASS)
    page = await context.new_page()
    await page.goto("/train", timeout=SLOW)
    await expect(page.get_by_text("The codelab preset")).to_be_visible(timeout=SLOW)
    await expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(timeout=SLOW)
    return page


async def press_train(page, student: Student) -> None:
    """Press Train; wait for the finished message, noting whether the page said 'joined'."""
    await page.evaluate("window.__marks.armed = true")  # the next click is Train's
    await page.get_by_role("button", name="Train", exact=True).click(timeout=SLOW)
    await page.wait_for_function("() => window.__marks.finished", polling=1000, timeout=SLOW)
    marks = await page.evaluate("window.__marks")
    student.seconds = (marks["finished"] - marks["clicked"]) / 1000
    student.joined = "joined" in marks
    if fit := FIT_SECONDS.search(await page.get_by_text(FINISHED).first.inner_text()):
        student.fit = float(fit[1].replace(",", ""))
    problems = page.get_by_test_id("stException").or_(page.get_by_text("Connection error"))
    if await problems.count():
        raise RuntimeError(await problems.first.inner_text())


async def student(browser, url: str, opened: asyncio.Event, go: asyncio.Event) -> Student:
    """One user: opens Train, waits for the class's signal, presses Train."""
    result = Student()
    try:
        try:
            page = await open_train(browser, url)
        finally:
            opened.set()
        await go.wait()
        await press_train(page, result)
    except Exception as err:
        result.error = f"{type(err).__name__}: {err}".splitlines()[0]
    return result


async def one_class(url: str, users: int) -> list[Student]:
    """`users` users open Train two seconds apart, then all press Train at once."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        # The teacher's visit first: the server has loaded MNIST and measured its speed.
        page = await open_train(browser, url)
        await expect(page.get_by_text(re.compile(r"s per epoch"))).to_be_visible(timeout=SLOW)
        await page.context.close()
        go, everyone, ready = asyncio.Event(), [], []
        for _ in range(users):
            ready.append(asyncio.Event())
            everyone.append(asyncio.create_task(student(browser, url, ready[-1], go)))
            await asyncio.sleep(STAGGER)
        await asyncio.gather(*(opened.wait() for opened in ready))
        go.set()  # every page is open (or failed to): all press Train now
        students = await asyncio.gather(*everyone)
        await browser.close()
    return students


@dataclass
class ClassResult:
    users: int
    students: list[Student]
    log_problems: list[str]
    peak_mb: float

    def row(self) -> str:
        times = sorted(s.seconds for s in self.students if s.seconds is not None)
        errors = sum(bool(s.error) for s in self.students) + len(self.log_problems)
        figures = (
            [statistics.median(times), percentile(times, 0.95), times[-1]]
            if times
            else [float("nan")] * 3
        )
        median, p95, longest = (f"{x:.1f} s" for x in figures)
        joined = sum(s.joined for s in self.students)
        fits = [s.fit for s in self.students if s.fit is not None]
        fit = f"{statistics.median(fits):.1f} s" if fits else "-"
        trainings = len(set(fits))  # joiners share their training's time
        return (
            f"| {self.users} | {len(times)} | {joined} | {trainings} | {median} | {p95} | "
            f"{longest} | {fit} | {errors} | {self.peak_mb:,.0f} |"
        )


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values (p95 of 30: the 29th)."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def run_class(env: dict[str, str], users: int, pin: bool, log: Path) -> ClassResult:
    """One class on a fresh server."""
    launcher = (*PIN_SERVER, sys.executable, "-m", "streamlit") if pin else None
    server, url = start_app(env, log=log, **({"launcher": launcher} if launcher else {}))
    try:
        watch = MemoryWatch(server.pid)
        students = asyncio.run(one_class(url, users))
        peak = watch.stop()
    finally:
        stop_app(server)
    problems = [
        line for line in log.read_text(errors="replace").splitlines() if LOG_PROBLEM.search(line)
    ]
    return ClassResult(users, students, problems, peak)


PIN_SERVER = ("taskset", "-c", "0")
PIN_BROWSERS = {1}  # this process's CPUs, so Playwright's driver and Chromium inherit them


def class_bench(args: argparse.Namespace, env: dict[str, str]) -> None:
    if args.pin:
        os.sched_setaffinity(0, PIN_BROWSERS)  # servers are started with taskset, on CPU 0
    results = []
    with tempfile.TemporaryDirectory(prefix="digit-lab-class-") as folder:
        for users in args.users:
            log = Path(folder) / f"server-{users}.log"
            started = time.perf_counter()
            result = run_class(env, users, args.pin, log)
            print(f"{users} users: {time.perf_counter() - started:.0f} s", flush=True)
            for n, one in enumerate(result.students, 1):
                if one.error:
                    print(f"  user {n}: {one.error}")
            for line in result.log_problems[:20]:
                print(f"  server log: {line}")
            print(result.row(), flush=True)
            results.append(result)
    where = "server on CPU 0, browsers on CPU 1" if args.pin else "not pinned"
    print(f"\nA class pressing Train on `codelab` within a second ({where}):\n")
    print(
        "| users | finished | joined | trainings | median | p95 | max | fit | errors "
        "| server peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())


def user_counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--users", type=user_counts, default=[3], help="e.g. 10,30 (--class only)")
    p.add_argument(
        "--limit",
        type=int,
        help="trainings at once on the server (default: 3; --class: the app's own)",
    )
    p.add_argument(
        "--class",
        dest="klass",
        action="store_true",
        help="a class pressing Train together (see above)",
    )
    p.add_argument("--pin", action="store_true", help="server on CPU 0, browsers on CPU 1")
    args = p.parse_args()
    env = dict(os.environ)
    if args.limit or not args.klass:
        env["DIGIT_LAB_MAX_TRAININGS"] = str(args.limit or 3)
    if args.data:
        env["MNIST_NPZ"] = str(Path(args.data).resolve())
    if args.klass:
        class_bench(args, env)
        return
    if len(args.users) != 1 or args.pin:
        p.error("several --users and --pin go with --class")
    demo_bench(args, env)


def demo_bench(args: argparse.Namespace, env: dict[str, str]) -> None:
    users, limit = args.users[0], env["DIGIT_LAB_MAX_TRAININGS"]
    server, url = start_app(env)
    try:
        started = time.perf_counter()
        watch = MemoryWatch(server.pid)
        completed, errors, steps, idle = asyncio.run(drive(url, users, server.pid))
        peak = watch.stop()
        after = rss_mb(server.pid)
        seconds = time.perf_counter() - started
    finally:
        stop_app(server)
    steps.sort()
    p95 = steps[min(len(steps) - 1, round(0.95 * (len(steps) - 1)))] if steps else float("nan")
    print(f"{users} users at once, {limit} training(s) at a time, {seconds:.0f} s")
    print(f"completed demos: {completed} of {users}; errors: {len(errors)}")
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
