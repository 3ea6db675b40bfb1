"""The app's server and Debian's Chromium, started the same way by the benchmarks and the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright never downloads a browser
# Headless as root on a machine with no network: no sandbox, no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# An init script counting script runs started, from stApp's [data-test-script-state]. Each
# change is read from its own mutation record (with its old value), so a run that starts and
# ends within one batch of records still counts. It also counts the page's requests for a run
# (a BackMsg whose first field is rerun_script, field 11: byte 0x5a), sent as a widget changes:
# until the script state changes after a request, the page has not settled.
WATCH_SCRIPT_RUNS = """
(() => {
  window.__digitLabStarts = 0;
  window.__digitLabRequests = 0;
  window.__digitLabPending = false;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (ArrayBuffer.isView(data) && data.byteLength && new Uint8Array(
      data.buffer, data.byteOffset, 1)[0] === 0x5a) {
      window.__digitLabRequests += 1;
      window.__digitLabPending = true;
    }
    return send.call(this, data);
  };
  new MutationObserver((records) => {
    window.__digitLabPending = false;
    records.forEach((record, i) => {
      // A record holds the old value; the new one is the next record's old value, or the current.
      const next = records.slice(i + 1).find((r) => r.target === record.target);
      const value = next ? next.oldValue : record.target.getAttribute("data-test-script-state");
      if (value === "running" && record.oldValue !== "running") window.__digitLabStarts += 1;
    });
  }).observe(document, {
    subtree: true, attributes: true, attributeOldValue: true,
    attributeFilter: ["data-test-script-state"],
  });
})();
"""


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(
    env: dict[str, str],
    log: Path | None = None,
    timeout: float = 120,
    *,
    launcher: Sequence[str] = (sys.executable, "-m", "streamlit"),
    cwd: Path = ROOT,
    script: str = "app.py",
    port: int | None = None,
) -> tuple:
    """`streamlit run <script>` on `port` of loopback (default: a free one), once healthy:
    (process, base URL).

    `launcher` runs Streamlit (the rehearsal: `taskset -c 0 <venv>/bin/streamlit`) in `cwd`.
    The server leads its own process group, so `stop_app` ends it with everything it started.
    """
    port = port or free_port()
    command = [
        *launcher,
        "run",
        script,
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if log:
        output.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return process, url
        except OSError:
            time.sleep(0.25)
    stop_app(process)
    raise RuntimeError(f"streamlit not healthy after {timeout:.0f} s")


def stop_app(process: subprocess.Popen) -> None:
    """End the server and everything it started."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def launch_chromium(playwright, headless: bool = True):
    """Debian's Chromium through Playwright."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=headless, args=CHROMIUM_ARGS
    )
