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


# A JavaScript expression, true while the app is idle: no script run going on, every element
# drawn. An element whose code is still loading shows a skeleton, and can outlast the run that
# sent it (on a busy machine the Train button did, and a Tab press skipped it).
IDLE = (
    "document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'notRunning'"
    " && !document.querySelector('[data-testid=stElementContainer] > [data-testid=stSkeleton]')"
)

# An init script reading the app's WebSocket traffic. It counts the page's requests for a run (a
# BackMsg whose first field is rerun_script, field 11: byte 0x5a), sent as a widget changes,
# and the runs the server starts (a ForwardMsg holding new_session, field 4). A request stays
# pending until a run ends other than early for a rerun (script_finished, field 6, status != 2).
# The socket is read rather than stApp's [data-test-script-state]: a fast run's start and end
# reach React in one batch and that attribute never changes.
WATCH_SCRIPT_RUNS = """
(() => {
  window.__digitLabStarts = 0;
  window.__digitLabRequests = 0;
  window.__digitLabPending = false;
  const EARLY_FOR_RERUN = 2;
  const readTopFields = (buffer, onField) => {
    const bytes = new Uint8Array(buffer);
    let i = 0;
    const varint = () => {
      let value = 0, scale = 1, byte;
      do { byte = bytes[i++]; value += (byte & 127) * scale; scale *= 128; } while (byte & 128);
      return value;
    };
    while (i < bytes.length) {
      const tag = varint(), wireType = tag & 7;
      if (wireType === 0) onField(tag >> 3, varint());
      else if (wireType === 2) { const length = varint(); onField(tag >> 3, null); i += length; }
      else if (wireType === 1) i += 8;
      else if (wireType === 5) i += 4;
      else return;
    }
  };
  const onMessage = (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    readTopFields(event.data, (field, value) => {
      if (field === 4) window.__digitLabStarts += 1;
      if (field === 6 && value !== EARLY_FOR_RERUN) window.__digitLabPending = false;
    });
  };
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", onMessage);
    }
    send(data) {
      if (ArrayBuffer.isView(data) && data.byteLength && new Uint8Array(
        data.buffer, data.byteOffset, 1)[0] === 0x5a) {
        window.__digitLabRequests += 1;
        window.__digitLabPending = true;
      }
      return super.send(data);
    }
  };
})();
"""


def watch_click_to(messages: dict[str, str]) -> str:
    """An init script noting, by the page's own clock, in `window.__marks`: `clicked`, the
    time of the first click once `armed` is set, and under each name in `messages`, when its
    text is first painted (the first task after the frame that follows its insertion: a page
    busy drawing charts paints late). It reads only the nodes that change: Playwright's text
    locators scan the whole page several times a second, which on many pages sharing one core
    slows what is measured."""
    checks = "\n".join(
        f"        if (!seen.has({name!r}) && text.includes({text!r})) painted({name!r});"
        for name, text in messages.items()
    )
    return f"""
(() => {{
  const marks = window.__marks = {{}}, seen = new Set();
  const painted = (name) => {{
    seen.add(name);
    requestAnimationFrame(() => setTimeout(() => {{ marks[name] = performance.now(); }}));
  }};
  document.addEventListener("click", (event) => {{
    if (marks.armed && !marks.clicked) marks.clicked = event.timeStamp;
  }}, true);
  new MutationObserver((records) => {{
    for (const record of records) {{
      const nodes = record.type === "characterData" ? [record.target] : record.addedNodes;
      for (const node of nodes) {{
        const text = node.textContent || "";
{checks}
      }}
    }}
  }}).observe(document, {{subtree: true, childList: true, characterData: true}});
}})();
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
