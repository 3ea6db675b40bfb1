"""A deploy rehearsal: the app run the way Streamlit Community Cloud runs it, through the demo path.

    python -m bench.rehearse_deploy [--reuse-venv PATH] [--keep] [--keras-cache mnist.npz]

1. A fresh virtual environment (`python3 -m venv`) with `pip install -r requirements.txt` and
   nothing else, under a fresh HOME (no pip cache): install time, venv size, what came in.
2. The repo's committed files (`git archive HEAD`, as the Cloud clones them) in a temp folder,
   served by `taskset -c 0 <venv>/bin/streamlit run app.py`: one CPU, a fresh HOME (no Keras
   cache, no ~/.cache/digit-lab), no MNIST_NPZ and no DIGIT_LAB_* settings, so nothing from
   ../shared or this machine's caches. With no internet here the app falls back to its offline
   sample; on the Cloud it downloads MNIST. `--keras-cache mnist.npz` puts that file where the
   download leaves it (the fresh HOME's ~/.keras/datasets), to see the Cloud's full-MNIST figures.
3. Debian's Chromium (Playwright) walks Home → Data → Train (the `codelab` preset, Train, the
   finished message) → Evaluate → Draw (a 7 drawn with the mouse, its prediction), each step timed
   from navigation or click until its key element is visible. Chromium and this script run on
   the other core, so the browser does not take the server's CPU.
Meanwhile the server's resident memory (its whole process tree, from /proc) is sampled every
0.1 s: the idle figure after the first page (once its background warm-up is done), and the peak.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.browser import IDLE, ROOT, WATCH_SCRIPT_RUNS, launch_chromium, start_app, stop_app

SLOW = 300_000  # ms: one CPU, a cold TensorFlow import and a training
SERVER_CPU = 0
SOURCE = re.compile(r"^(Offline|Full MNIST):")
FINISHED = re.compile(r"finished \d+ full epoch\(s\) in .*? on [\d,]+ digits")
DOWNLOADED = re.compile(r"Downloading \S+ \(([\d.]+) (kB|MB|GB)\)")
UNITS = {"kB": 1e-3, "MB": 1.0, "GB": 1e3}


def tree_usage(root: int) -> tuple[float, float]:
    """Resident MB and CPU seconds of a process and all its live descendants (from /proc)."""
    parents: dict[int, int] = {}
    usage: dict[int, tuple[int, int]] = {}  # pid → (resident kB, CPU clock ticks)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:  # the process ended while we looked
            continue
        pid = int(entry.name)
        parents[pid] = int(stat[1])
        rss = next((int(line.split()[1]) for line in status.splitlines() if "VmRSS:" in line), 0)
        usage[pid] = (rss, int(stat[11]) + int(stat[12]))  # utime + stime
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    kb = sum(usage.get(pid, (0, 0))[0] for pid in tree)
    ticks = sum(usage.get(pid, (0, 0))[1] for pid in tree)
    return kb / 1024, ticks / os.sysconf("SC_CLK_TCK")


def tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its live descendants, in MB."""
    return tree_usage(root)[0]


def wait_until_quiet(root: int, window: float = 2.0, limit: float = 180.0) -> tuple[float, float]:
    """Wait until the process tree uses under 5 % of a CPU for `window` seconds (at most
    `limit`, then with a warning); returns the seconds waited and the CPU seconds used."""
    start, first = time.monotonic(), tree_usage(root)[1]
    cpu = first
    while time.monotonic() - start < limit:
        time.sleep(window)
        cpu, before = tree_usage(root)[1], cpu
        if cpu - before < 0.05 * window:
            break
    else:
        print(f"warning: the server was still busy {limit:.0f} s after the first page")
    return time.monotonic() - start, cpu - first


class TreeMemoryWatch:
    """Samples a process tree's resident memory every 0.1 s: the peak overall and per step."""

    def __init__(self, root: int):
        self.root, self.peak, self.step_peak = root, 0.0, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.1):
            mb = tree_rss_mb(self.root)
            self.peak, self.step_peak = max(self.peak, mb), max(self.step_peak, mb)

    def next_step(self) -> float:
        """The peak since the last call (or the start), and start a new step."""
        peak, self.step_peak = self.step_peak, tree_rss_mb(self.root)
        return max(peak, self.step_peak)

    def stop(self) -> float:
        """Stop sampling; the peak."""
        self._done.set()
        self._thread.join()
        return self.peak


def folder_mb(path: Path) -> float:
    """Bytes on disk under `path`, in MB (as `du -s`)."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def export_repo(into: Path) -> str:
    """The committed files of HEAD in `into`, as a fresh clone has them; the commit."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def install_venv(venv: Path, requirements: Path, home: Path, log: Path) -> float:
    """`python3 -m venv` and `pip install -r requirements.txt` under a fresh HOME; seconds."""
    env = {**os.environ, "HOME": str(home)}
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    start = time.perf_counter()
    subprocess.run(["python3", "-m", "venv", str(venv)], env=env, check=True)
    with log.open("w") as out:
        pip = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-r", str(requirements)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if pip.returncode:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"pip install -r requirements.txt failed:\n{tail}")
    return time.perf_counter() - start


def describe_venv(venv: Path, log: Path | None) -> list[str]:
    """Lines on the venv: Python, packages, size, largest packages, what pip downloaded."""
    python = str(venv / "bin" / "python")
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    packages = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listed)}
    ours = ("tensorflow-cpu", "tensorflow", "keras", "streamlit", "numpy", "plotly", "mlxtend")
    site = next((venv / "lib").glob("python*/site-packages"))
    sizes = sorted(((folder_mb(p), p.name) for p in site.iterdir()), reverse=True)[:8]
    lines = [
        f"venv: Python {version}, {len(packages)} packages, {folder_mb(venv):,.0f} MB on disk",
        "  " + ", ".join(f"{name} {packages[name]}" for name in ours if name in packages),
        "  largest: " + ", ".join(f"{name} {mb:,.0f} MB" for mb, name in sizes),
    ]
    if log:
        text = log.read_text()
        downloads = [float(n) * UNITS[unit] for n, unit in DOWNLOADED.findall(text)]
        local = len(re.findall(r"^Processing /", text, flags=re.MULTILINE))
        lines.append(
            f"  pip downloaded {len(downloads)} files, {sum(downloads):,.0f} MB"
            + (f" ({local} more from this machine's local wheel folder)" if local else "")
        )
    return lines


def server_env(home: Path) -> dict[str, str]:
    """A fresh box's environment: only PATH, HOME and the locale; no MNIST_NPZ, no caches."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    # A proxy is how this machine reaches the outside, if it does; keep it as the Cloud has its own.
    env |= {k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")}
    return env


def walk(page, url: str, watch: TreeMemoryWatch) -> tuple[list[tuple], str, float, str, str]:
    """The demo path: rows (step, seconds to its key element, seconds until its script run ended,
    server CPU seconds, peak MB, MB after), the data source, idle MB, the run's finished message
    and Draw's answer."""
    rows: list[tuple] = []
    nav = page.get_by_test_id("stSidebarNav")

    def step(name: str, action, key) -> None:
        """Time `action` until `key` is visible, then until the script run it started ends."""
        before = page.evaluate("window.__digitLabStarts ?? 0") if rows else 0
        # A key on screen before the action needs a new run to have started before its end counts;
        # a new key is drawn by the action's own run (one quick enough may never show "running").
        shown_before = bool(rows) and key.count() > 0 and key.first.is_visible()
        started = f"window.__digitLabStarts > {before} && " if shown_before else ""
        watch.next_step()
        cpu = tree_usage(watch.root)[1]
        start = time.perf_counter()
        action()
        expect(key).to_be_visible(timeout=SLOW)
        seconds = time.perf_counter() - start
        page.wait_for_function(f"() => {started}{IDLE}", timeout=SLOW, polling=20)
        settled = time.perf_counter() - start
        if page.get_by_test_id("stException").count():
            raise RuntimeError(f"{name}: {page.get_by_test_id('stException').first.inner_text()}")
        after, cpu_after = tree_usage(watch.root)
        rows.append((name, seconds, settled, cpu_after - cpu, watch.next_step(), after))

    step(
        "Home (first visit: imports, MNIST, default model)",
        lambda: page.goto(url),
        page.get_by_role("heading", name="Digit Lab"),
    )
    source = page.get_by_test_id("stSidebar").get_by_text(SOURCE).inner_text()
    # Idle: the first page drawn and the warm-up it started (TensorFlow, MNIST, the default
    # model, the speed calibration, in the background) done.
    waited, cpu = wait_until_quiet(watch.root)
    idle = tree_rss_mb(watch.root)
    print(
        f"the server was idle {waited:.0f} s after the first page (its warm-up done, "
        f"{cpu:.1f} s of CPU, in no step below)",
        flush=True,
    )
    step(
        "Data",
        lambda: nav.get_by_role("link", name="Data", exact=True).click(),
        page.get_by_test_id("stPlotlyChart").nth(1),
    )
    train = page.get_by_role("button", name="Train", exact=True)
    step("Train page", lambda: nav.get_by_role("link", name="Train", exact=True).click(), train)
    step(
        "codelab preset",
        lambda: page.get_by_role("button", name="codelab", exact=True).click(),
        page.get_by_text("The codelab preset"),
    )
    expect(train).to_be_enabled(timeout=SLOW)
    step("Train → finished message", train.click, page.get_by_text("It is now the current model"))
    finished = FINISHED.search(page.get_by_text(FINISHED).inner_text()).group(0)
    step(
        "Evaluate",
        lambda: nav.get_by_role("link", name="Evaluate", exact=True).click(),
        page.get_by_test_id("stMetric").first,
    )
    canvas = page.locator("canvas.upper-canvas")
    step("Draw page", lambda: nav.get_by_role("link", name="Draw", exact=True).click(), canvas)
    box = canvas.bounding_box()

    def draw_seven() -> None:
        x, y, w, h = box["x"], box["y"], box["width"], box["height"]
        page.mouse.move(x + 0.25 * w, y + 0.2 * h)
        page.mouse.down()
        page.mouse.move(x + 0.75 * w, y + 0.2 * h, steps=6)
        page.mouse.move(x + 0.45 * w, y + 0.85 * h, steps=6)
        page.mouse.up()

    step("Draw a 7 → prediction", draw_seven, page.get_by_test_id("stMetric").first)
    prediction = " ".join(page.get_by_test_id("stMetric").first.inner_text().split())
    return rows, source, idle, finished, prediction


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reuse-venv", type=Path, help="a venv a previous rehearsal kept (--keep)")
    p.add_argument("--keep", action="store_true", help="keep the temp folders (venv, app, HOME)")
    p.add_argument(
        "--keras-cache",
        type=Path,
        help="an mnist.npz for the fresh HOME's Keras cache, as the "
        "app leaves it after downloading MNIST on Community Cloud",
    )
    args = p.parse_args()
    temp = Path(tempfile.mkdtemp(prefix="digit-lab-deploy-"))
    home, app = temp / "home", temp / "app"
    home.mkdir()
    if args.keras_cache:
        (home / ".keras" / "datasets").mkdir(parents=True)
        shutil.copy(args.keras_cache, home / ".keras" / "datasets" / "mnist.npz")
    server = None
    try:
        commit = export_repo(app)
        print(f"rehearsal in {temp}: commit {commit}, load average {os.getloadavg()[0]:.2f}")
        if args.reuse_venv:
            venv, log, installed = args.reuse_venv.resolve(), None, "reused, not installed"
        else:
            venv, log = temp / "venv", temp / "pip-install.log"
            print("installing requirements.txt into a fresh venv (minutes)…", flush=True)
            seconds = install_venv(venv, app / "requirements.txt", home / "pip-home", log)
            installed = f"installed in {seconds / 60:.1f} min"
        venv_lines = describe_venv(venv, log)
        launcher = ("taskset", "-c", str(SERVER_CPU), str(venv / "bin" / "streamlit"))
        server, url = start_app(
            server_env(home), log=temp / "server.log", timeout=120, launcher=launcher, cwd=app
        )
        others = os.sched_getaffinity(0) - {SERVER_CPU}
        if others:  # this script, Playwright and Chromium (started next) keep off the server's CPU
            os.sched_setaffinity(0, others)
        watch = TreeMemoryWatch(server.pid)
        started = time.perf_counter()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
            page.add_init_script(WATCH_SCRIPT_RUNS)
            rows, source, idle, finished, prediction = walk(page, url, watch)
            browser.close()
        total = time.perf_counter() - started
        peak = watch.stop()
    finally:
        if server:
            stop_app(server)
        if not args.keep:
            shutil.rmtree(temp, ignore_errors=True)
    print(f"venv {installed}")
    print("\n".join(venv_lines))
    cache = f", {args.keras_cache} in its Keras cache" if args.keras_cache else ""
    print(
        f"server: `taskset -c {SERVER_CPU} streamlit run app.py`, fresh HOME{cache}, no MNIST_NPZ"
    )
    cpus = ", ".join(map(str, sorted(others))) if others else "the same CPU (only one here)"
    print(f"browser: Chromium and this script on CPU {cpus}")
    print(f"data source the app reported: {source}")
    if source.startswith("Offline"):
        print("  (no internet here; on Community Cloud the app downloads the full MNIST instead)")
    print(f"\n{'step':<50}{'shown s':>8}{'done s':>8}{'CPU s':>7}{'peak MB':>9}{'MB after':>10}")
    for name, seconds, settled, cpu, step_peak, after in rows:
        print(
            f"{name:<50}{seconds:>8.1f}{settled:>8.1f}{cpu:>7.1f}{step_peak:>9,.0f}{after:>10,.0f}"
        )
    cpu = sum(row[3] for row in rows)
    print(f"{'whole demo path':<50}{total:>8.1f}{'':>8}{cpu:>7.1f}{peak:>9,.0f}")
    print(
        "shown: until the step's key element is visible; done: until its script run ended;\n"
        "CPU s: the server's CPU time in the step (what one uncontended CPU would take at least)"
    )
    print(f"\nserver memory: {idle:,.0f} MB idle after the first page, peak {peak:,.0f} MB")
    print(f"training: {finished}")
    print(f"Draw's answer: {prediction}")
    print(f"load average after: {os.getloadavg()[0]:.2f} (2 cores, shared with other jobs)")
    if args.keep:
        print(f"kept: {temp} (venv: {venv})")


if __name__ == "__main__":
    sys.exit(main())
