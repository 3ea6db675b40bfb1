"""The places where Digit Lab changes private behaviour of Streamlit 1.67 (two) and of the
drawing canvas (two), and why.

Streamlit's two are installed by `install()`, which app.py calls before anything else; the
canvas's by Draw. Each checks that the internal it touches still exists and raises if an upgrade
removed or renamed it, so an upgrade fails loudly instead of silently bringing the problem back.
Tests guard the behaviour each one buys (tests/test_workarounds.py and the browser tests).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner


class StreamlitInternalsChanged(RuntimeError):
    """A Streamlit internal that a workaround relies on is gone: review the workaround."""


def _require(owner: object, name: str) -> None:
    if not hasattr(owner, name):
        raise StreamlitInternalsChanged(
            f"Streamlit no longer has {getattr(owner, '__name__', owner)}.{name}; "
            "see ui/streamlit_workarounds.py before upgrading Streamlit."
        )


def keep_keras_state() -> None:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run.

    Streamlit does so for apps that build models in the script (`_clean_problem_modules`), and
    it does so after fragment reruns too. Digit Lab trains in worker threads while a fragment
    redraws the live charts every second: clearing Keras's global state under a running fit made
    the codelab preset 25 times slower in the app than on the command line (171 s against 7 s).
    There is no public switch for it.
    """
    _require(script_runner, "_clean_problem_modules")
    script_runner._clean_problem_modules = _keep_problem_modules


def _keep_problem_modules() -> None:
    """Replaces Streamlit's clean-up: Keras state belongs to running trainings here."""


def navigation_only() -> None:
    """Make Streamlit route every page through app.py's st.navigation, from the first visit on.

    Streamlit treats a folder named pages/ as its legacy multipage layout until st.navigation has
    been called once in the process: the server's very first visitor arriving at /train would get
    pages/train.py run on its own, with the legacy menu. st.navigation itself sets this same flag
    to False; setting it here only does so before the first run (no public option exists).
    """
    _require(PagesManager, "uses_pages_directory")
    PagesManager.uses_pages_directory = False


CANVAS_SEND_BUTTON = "Update the app with this drawing"  # the canvas toolbar's own button
# The canvas (streamlit-drawable-canvas 0.13) sends a drawing 200 ms after its last change, a
# pause hard-coded in its frontend: most of Draw's answer time. Its toolbar's send button sends
# at once (and cancels the pending send), so a stroke's release presses it, once the canvas has
# taken the stroke (a task later). A release outside the canvas still sends after the pause.
_SEND_ON_RELEASE = f"""<script>
if (!window.digitLabSendOnRelease) {{
  window.digitLabSendOnRelease = true;
  for (const type of ["mouseup", "touchend"]) {{
    window.addEventListener(type, (event) => {{
      const canvas = event.composedPath().find((el) => el.classList?.contains("dc-root"));
      const send = canvas?.querySelector('button[aria-label="{CANVAS_SEND_BUTTON}"]');
      if (send) setTimeout(() => send.click());
    }});
  }}
}}
</script>"""


@functools.cache
def _canvas_build_has(marker: str) -> bool:
    """Whether the installed canvas's frontend (its scripts and styles) contains `marker`."""
    # Found, not imported: importing the canvas registers its component, which needs a running app.
    package = importlib.util.find_spec("streamlit_drawable_canvas").origin
    build = Path(package).parent / "frontend" / "build"
    return any(marker in file.read_text() for file in build.glob("index-*.*"))


def _require_in_canvas(marker: str, what: str) -> None:
    if not _canvas_build_has(marker):
        raise StreamlitInternalsChanged(
            f"The drawing canvas has no {marker!r} {what} any more; "
            "see ui/streamlit_workarounds.py before upgrading streamlit-drawable-canvas."
        )


def send_drawings_on_release() -> None:
    """Make each stroke on a drawing canvas of this page reach the app when the pen is lifted,
    not 200 ms later (the page's sidebar gets an invisible script)."""
    _require_in_canvas(CANVAS_SEND_BUTTON, "button")
    st.sidebar.html(_SEND_ON_RELEASE, unsafe_allow_javascript=True, width="content")


CANVAS_TOOLBAR = "dc-toolbar"  # the toolbar's class; its buttons are named by their aria-label
# The canvas's toolbar floats over the canvas's top-right corner, invisible until hovered: a
# touch screen never hovers, so it stayed invisible there and took the taps meant for that
# corner of the canvas. The canvas lives in a shadow root that the page's own styles cannot
# reach, so a script puts this style into each canvas: the toolbar sits under the canvas, always
# shown, with touch-sized buttons; Undo and Redo only (the send button is pressed by the script
# above, editing strokes has no use here, and the page has its own Clear).
_CANVAS_STYLE = f"""
.{CANVAS_TOOLBAR}, .dc-root:hover > .{CANVAS_TOOLBAR}, .{CANVAS_TOOLBAR}:hover,
.{CANVAS_TOOLBAR}:focus-within, .{CANVAS_TOOLBAR}[data-pinned] {{
  position: static; opacity: 1; top: auto; padding: 0.25rem 0 0; transition: none;
}}
.{CANVAS_TOOLBAR} .dc-toolbar-card {{ box-shadow: none; border: 1px solid currentColor; }}
.{CANVAS_TOOLBAR} .dc-icon-button {{ padding: 0.5rem; color: inherit; }}
.{CANVAS_TOOLBAR} .dc-icon-button svg {{ width: 1.25rem; height: 1.25rem; }}
.{CANVAS_TOOLBAR} .dc-toolbar-separator, .{CANVAS_TOOLBAR} .dc-toolbar-contextual,
.{CANVAS_TOOLBAR} button[aria-label="{CANVAS_SEND_BUTTON}"],
.{CANVAS_TOOLBAR} button[aria-label="Edit"],
.{CANVAS_TOOLBAR} button[aria-label="Reset canvas & history"] {{ display: none; }}
"""
_CANVAS_BUTTONS = ("Undo", "Redo")  # the toolbar's own names for the two buttons kept
# Runs again whenever its text changes (another language): the names are read at each pass.
_FIT_CANVASES = """<script>
window.digitLabCanvasNames = %(names)s;
if (!window.digitLabFitCanvases) {
  const style = %(style)s;
  const watched = new WeakSet();
  let pending = false;
  const soon = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; window.digitLabFitCanvases(); });
  };
  window.digitLabFitCanvases = () => {
    const names = window.digitLabCanvasNames;
    for (const host of document.querySelectorAll("[data-testid=stBidiComponentIsolated]")) {
      const root = host.shadowRoot;
      if (!root) continue;
      if (!watched.has(root)) {  // a component builds its content after it joins the page
        watched.add(root);
        new MutationObserver(soon).observe(root, { subtree: true, childList: true });
      }
      const area = root.querySelector(".dc-container");
      if (!area) continue;
      if (!root.querySelector("style[data-digit-lab]")) {
        const sheet = document.createElement("style");
        sheet.dataset.digitLab = "";
        sheet.textContent = style;
        root.appendChild(sheet);
      }
      area.setAttribute("role", "img");
      area.setAttribute("aria-label", names.canvas);
      for (const [own, name] of Object.entries(names.buttons)) {
        const button = root.querySelector(`button[aria-label="${own}"], [data-digit-lab="${own}"]`);
        if (!button) continue;
        button.dataset.digitLab = own;
        button.setAttribute("aria-label", name);
        button.title = name;
      }
    }
  };
  new MutationObserver(soon).observe(document.body, { subtree: true, childList: true });
}
window.digitLabFitCanvases();
</script>"""


def fit_canvases_for_touch(name: str, undo: str, redo: str) -> None:
    """Give each drawing canvas of this page an accessible `name` and its toolbar a place under
    the canvas, shown, with its Undo and Redo buttons named `undo` and `redo` (the page's
    sidebar gets an invisible script)."""
    _require_in_canvas(CANVAS_TOOLBAR, "toolbar")
    for button in _CANVAS_BUTTONS:
        _require_in_canvas(f'"{button}"', "toolbar button")
    names = {"canvas": name, "buttons": dict(zip(_CANVAS_BUTTONS, (undo, redo), strict=True))}
    script = _FIT_CANVASES % {"names": json.dumps(names), "style": json.dumps(_CANVAS_STYLE)}
    st.sidebar.html(script, unsafe_allow_javascript=True, width="content")


_ROUTED = "_routed_by_app"  # set by app.py in this script run, taken by the page


def install() -> None:
    """Apply both workarounds; app.py calls it first thing on every run (cheap, idempotent)."""
    keep_keras_state()
    navigation_only()
    st.session_state[_ROUTED] = True


def reroute_direct_page_run() -> None:
    """Start the run again through app.py if Streamlit ran this page on its own.

    Every page calls this first. app.py marks each run it routes; a run without the mark began
    in the legacy layout, before navigation_only() took effect (a session that started before
    any page of this process imported `ui`, or AppTest, which resets the flag on every run).
    Deciding by the run itself, not by timing, keeps this right for sessions that start at once.
    """
    if not st.session_state.pop(_ROUTED, False):
        navigation_only()
        st.rerun()


# A page run on its own imports `ui` before anything else of ours: make the rerun above go
# through app.py. Setting attributes only: nothing here may stop a script run during an import.
keep_keras_state()
navigation_only()
