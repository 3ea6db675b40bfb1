"""Rehearse a class on two servers behind HAProxy, sharing one PostgreSQL class board.

Starts a throw-away PostgreSQL (bench/postgres.py), two Digit Lab servers on it and HAProxy
with docs/haproxy.cfg (Debian's `haproxy`, installed with apt-get if missing), all on loopback,
then drives browser users (Debian's Chromium through Playwright) through HAProxy's one port:

1. each user opens Train, trains the `codelab` preset and publishes the run under their name;
   HAProxy's log shows every request of theirs, their page's websocket included, going to the
   server their DIGIT_LAB_SERVER cookie names;
2. each server's own class board (opened on the server directly) shows every user's run;
3. one server is stopped mid-class: its users' pages reconnect through HAProxy to the other
   server, which tells them in one line that their workspace is gone, and the board still
   shows every run; the other server's users keep their runs.

Prints a table per user and a summary; exits 1 if a check failed. Bounded: --timeout (default
15 min) for the whole rehearsal. Run: MNIST_NPZ=/path/to/mnist.npz python -m bench.rehearse_replicas
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.browser import CHROMIUM, ROOT, free_port, launch_chromium, start_app, stop_app
from bench.postgres import start_postgres

HAPROXY_CONFIG = ROOT / "docs" / "haproxy.cfg"
GONE = "Your earlier runs and uploads are gone"
TRAIN_TITLE = "Build and train a network"
AGENT = "DigitLabRehearsal/user{n}"  # how HAProxy's log tells the users apart
LOG_LINE = re.compile(
    r'(?P<server>\S+) (?P<status>-?\d+) "(?P<request>[^"]*)" \{(?P<agent>[^}]*)\}'
)  # a line of docs/haproxy.cfg's log-format


@dataclass
class User:
    """One browser user and what happened to them."""

    n: int
    page: object = field(repr=False)
    server: str = ""  # DIGIT_LAB_SERVER cookie while both servers run
    published_in: float | None = None  # seconds from pressing Train to "Published as"
    told_gone_in: float | None = None  # seconds from the server's stop to the message
    told_by: str = ""  # "reconnect" (the page by itself) or "reload"
    server_after: str = ""
    kept_run: bool | None = None  # a user of the server that stayed: their run still listed

    @property
    def name(self) -> str:
        return f"Student {self.n:02d}"


def ensure_haproxy() -> str:
    """HAProxy's path, installing Debian's package first if it is missing."""
    found = shutil.which("haproxy")
    if found:
        return found
    print("Installing HAProxy (apt-get install haproxy)…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "haproxy"],
        check=True,
        env=env,
        timeout=600,
    )
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


def start_haproxy(binary: str, apps: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    """HAProxy with the committed configuration in front of `apps`; (process, its URL) once
    it answers and sees every server up."""
    port = free_port()
    env = {
        **os.environ,
        "DIGIT_LAB_LISTEN": f"127.0.0.1:{port}",
        "DIGIT_LAB_APP1": apps[0].removeprefix("http://"),
        "DIGIT_LAB_APP2": apps[1].removeprefix("http://"),
        "DIGIT_LAB_LOG": "stdout",
    }
    subprocess.run([binary, "-c", "-f", HAPROXY_CONFIG], check=True, env=env, timeout=30)
    output = open(log, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [binary, "-db", "-f", HAPROXY_CONFIG],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().decode().strip() == "ok":
                    time.sleep(2.5)  # two health checks (rise 2, inter 1s): both servers up
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"HAProxy not answering:\n{log.read_text()[-2000:]}")


def server_cookie(page) -> str:
    """The server HAProxy keeps this page's user on."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies.get("DIGIT_LAB_SERVER", "")


def open_train(page, timeout: float) -> None:
    page.goto("/train")
    main = page.get_by_test_id("stMain")
    main.get_by_role("button", name="Train", exact=True).wait_for(timeout=timeout * 1000)


def board_names(browser, url: str, names: list[str], expect_api, timeout: float) -> str:
    """The class board's text as a new visitor of `url` sees it, once it lists every one of
    `names` or `timeout` seconds have passed (the grid fills its rows after it shows)."""
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 1600})
    try:
        page = context.new_page()
        page.goto("/board")
        frame = page.get_by_test_id("stDataFrame")
        expect_api(frame).to_be_visible(timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        text = frame_text(frame)
        while any(n not in text for n in names) and time.monotonic() < deadline:
            page.wait_for_timeout(500)
            text = frame_text(frame)
        return text
    finally:
        context.close()


def frame_text(frame) -> str:
    """An st.dataframe's cells (a canvas grid; its accessible table holds the text)."""
    return " | ".join(frame.locator("td, th, [role=gridcell]").all_inner_texts())


def requests_by_user(log: Path) -> dict[str, list[tuple[str, str]]]:
    """HAProxy's log: each user agent's (server, request line), in order."""
    seen: dict[str, list[tuple[str, str]]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if match := LOG_LINE.search(line):
            seen.setdefault(match["agent"], []).append((match["server"], match["request"]))
    return seen


def rehearse(args: argparse.Namespace, work: Path) -> bool:
    from playwright.sync_api import expect, sync_playwright

    step = args.step_timeout
    haproxy_binary = ensure_haproxy()
    started = time.monotonic()
    postgres = start_postgres()
    processes: list = []  # the two servers, then HAProxy
    try:
        board_url = postgres.create_database("digit_lab")
        cookie_secret = secrets.token_urlsafe(32)  # one for all servers (XSRF cookies)
        apps = []
        for n in (1, 2):
            data = work / f"app{n}"
            data.mkdir()
            env = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "DIGIT_LAB_BOARD_URL": board_url,
                "DIGIT_LAB_DATA_DIR": str(data),
                "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret,  # not allowed on the command line
            }
            process, url = start_app(env, log=work / f"app{n}.log")
            processes.append(process)
            apps.append(url)
        proxy, proxy_url = start_haproxy(haproxy_binary, apps, work / "haproxy.log")
        processes.append(proxy)
        print(f"PostgreSQL :{postgres.port}, servers {apps}, HAProxy {proxy_url}", flush=True)

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            users = []
            for n in range(1, args.users + 1):
                context = browser.new_context(
                    base_url=proxy_url,
                    user_agent=AGENT.format(n=n),
                    viewport={"width": 1280, "height": 900},
                )
                page = context.new_page()
                open_train(page, step)
                users.append(User(n, page, server_cookie(page)))
            shares = {s: sum(u.server == s for u in users) for s in ("app1", "app2")}
            print("Users per server:", shares, flush=True)

            # 1. Everyone trains the codelab preset, then publishes.
            pressed = {}
            for user in users:
                main = user.page.get_by_test_id("stMain")
                main.get_by_role("button", name="codelab", exact=True).click()
                main.get_by_role("button", name="Train", exact=True).click()
                pressed[user.n] = time.monotonic()
            for user in users:
                main = user.page.get_by_test_id("stMain")
                name_box = main.get_by_label("Your name, as the board shows it")
                name_box.wait_for(timeout=step * 1000)
                name_box.fill(user.name)
                main.get_by_role("button", name="Publish", exact=True).click()
                expect(main.get_by_text(f"Published as “{user.name}”")).to_be_visible(
                    timeout=step * 1000
                )
                user.published_in = time.monotonic() - pressed[user.n]
            print(f"All published after {time.monotonic() - started:.0f} s", flush=True)

            # 2. Each server's own board shows every run.
            names = [u.name for u in users]
            boards_before = {
                f"app{n}": board_names(browser, url, names, expect, step)
                for n, url in enumerate(apps, 1)
            }
            log_before = requests_by_user(work / "haproxy.log")

            # 3. app1 stops mid-class.
            stop_app(processes[0])
            stopped_at = time.monotonic()
            moved = [u for u in users if u.server == "app1"]
            stayed = [u for u in users if u.server == "app2"]
            for user in moved:
                notice = user.page.get_by_test_id("stMain").get_by_text(GONE)
                try:
                    notice.wait_for(timeout=args.reconnect_wait * 1000)
                    user.told_by = "reconnect"
                except Exception:  # the page did not come back by itself: the user reloads
                    user.page.reload()
                    notice.wait_for(timeout=step * 1000)
                    user.told_by = "reload"
                user.told_gone_in = time.monotonic() - stopped_at
                user.server_after = server_cookie(user.page)
            for user in stayed:
                user.page.reload()
                main = user.page.get_by_test_id("stMain")
                main.get_by_role("button", name="Train", exact=True).wait_for(timeout=step * 1000)
                history = main.get_by_test_id("stDataFrame").filter(has_text="codelab")
                try:  # the run history lists their run, done
                    expect(history).to_contain_text("done", timeout=step * 1000)
                    user.kept_run = main.get_by_text(GONE).count() == 0
                except AssertionError:
                    user.kept_run = False
                user.server_after = server_cookie(user.page)
            board_after = board_names(browser, proxy_url, names, expect, step)
            browser.close()
    finally:
        for process in reversed(processes):
            stop_app(process)  # each leads its own process group
        postgres.stop()

    return report(users, names, boards_before, board_after, log_before, started)


def report(users, names, boards_before, board_after, log_before, started) -> bool:
    """Print the per-user table and the checks; True if every check passed."""
    print()
    print(
        "| user | server | its requests (websockets) | on another server | Train → published |"
        " after app1 stopped | told in | server after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    sticky = True
    for user in users:
        requests = log_before.get(AGENT.format(n=user.n), [])
        sockets = sum("/_stcore/stream" in r for _, r in requests)
        elsewhere = sum(server != user.server for server, _ in requests)
        sticky &= bool(user.server) and sockets >= 1 and elsewhere == 0
        if user.told_gone_in is not None:
            after = f"told gone ({user.told_by})"
            told = f"{user.told_gone_in:.1f} s"
        else:
            after, told = ("kept its run" if user.kept_run else "LOST ITS RUN"), "-"
        print(
            f"| {user.name} | {user.server} | {len(requests)} ({sockets}) | {elsewhere} |"
            f" {user.published_in:.1f} s | {after} | {told} | {user.server_after} |"
        )
    checks = {
        "every session stayed on its server (cookie, page, websocket)": sticky,
        "both servers had users": {u.server for u in users} == {"app1", "app2"},
        "app1's board shows every run": all(n in boards_before["app1"] for n in names),
        "app2's board shows every run": all(n in boards_before["app2"] for n in names),
        "app1's users told their workspace is gone, now on app2": all(
            u.told_gone_in is not None and u.server_after == "app2"
            for u in users
            if u.server == "app1"
        ),
        "app2's users kept their runs": all(u.kept_run for u in users if u.server == "app2"),
        "the board lost nothing after app1 stopped": all(n in board_after for n in names),
    }
    print()
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    boards = {**boards_before, "the board through HAProxy after app1 stopped": board_after}
    for board, text in boards.items():
        if missing := [n for n in names if n not in text]:
            print(f"  {board} lacks {', '.join(missing)}; it read: {text[:600]}")
    print(f"\n{len(users)} users, {time.monotonic() - started:.0f} s in all")
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=900, help="seconds for it all")
    parser.add_argument("--step-timeout", type=float, default=240, help="seconds per wait")
    parser.add_argument(
        "--reconnect-wait",
        type=float,
        default=30,
        help="seconds a page gets to reconnect by itself before the user reloads it",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="digit-lab-replicas-"))
    os.chmod(work, 0o755)
    ok = False
    try:
        ok = run_bounded(args, work)
    finally:
        if args.keep or not ok:
            print(f"Logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def run_bounded(args: argparse.Namespace, work: Path) -> bool:
    """The rehearsal, cut off by SIGALRM after --timeout seconds (its finally stops it all)."""
    import signal

    def out_of_time(*_):
        raise TimeoutError(f"the rehearsal took more than {args.timeout:.0f} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(args.timeout))
    try:
        return rehearse(args, work)
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main())
