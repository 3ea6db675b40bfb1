"""The places where Digit Lab changes private behaviour of Streamlit 1.67 (two) and of the
drawing canvas (one), and why.

Streamlit's two are installed by `install()`, which app.py calls before anything else; the
canvas's by Draw. Each checks that the internal it touches still exists and raises if an upgrade
removed or renamed it, so an upgrade fails loudly instead of silently bringing the problem back.
Tests guard the behaviour each one buys (tests/test_workarounds.py and the browser tests).
"""

from __future__ import annotations

import functools
import importlib.util
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
def _canvas_has_send_button() -> bool:
    # Found, not imported: importing the canvas registers its component, which needs a running app.
    package = importlib.util.find_spec("streamlit_drawable_canvas").origin
    build = Path(package).parent / "frontend" / "build"
    return any(CANVAS_SEND_BUTTON in js.read_text() for js in build.glob("index-*.js"))


def send_drawings_on_release() -> None:
    """Make each stroke on a drawing canvas of this page reach the app when the pen is lifted,
    not 200 ms later (the page's sidebar gets an invisible script)."""
    if not _canvas_has_send_button():
        raise StreamlitInternalsChanged(
            f"The drawing canvas has no {CANVAS_SEND_BUTTON!r} button any more; "
            "see ui/streamlit_workarounds.py before upgrading streamlit-drawable-canvas."
        )
    st.sidebar.html(_SEND_ON_RELEASE, unsafe_allow_javascript=True, width="content")


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
