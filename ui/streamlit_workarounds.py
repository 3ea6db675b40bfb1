"""The two places where Digit Lab changes Streamlit 1.67's private behaviour, and why.

Both are installed by `install()`, which app.py calls before anything else. Each checks that
the internal it touches still exists and raises at start-up if a Streamlit upgrade removed or
renamed it, so an upgrade fails loudly instead of silently bringing the problem back. Tests
guard the behaviour each one buys (tests/test_workarounds.py and the first-visit browser test).
"""

from __future__ import annotations

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
