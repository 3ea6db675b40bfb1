"""What keyboards, screen readers and phones need from every page, in the page itself: the
document's language, a visible focus ring, focus moved to what just changed, and the sidebar
closed after a menu tap on a phone.

Streamlit has no option for any of these; each is a small script or style sheet put in the
sidebar (`st.html`: a script runs when its text changes, a style sheet takes no room).
"""

from __future__ import annotations

import itertools
import json

import streamlit as st

HTML_LANG = {"en": "en", "zh": "zh-Hans"}  # BCP 47 tags of the UI's languages
# Dark enough to show at 3:1 against the white page and the theme's light greys.
FOCUS_COLOUR = "#1f4e9e"

_FOCUS_RING = f"""<style>
:focus-visible {{
  outline: 3px solid {FOCUS_COLOUR} !important;
  outline-offset: 2px !important;
}}
</style>"""

# Once per page load: on a phone-sized screen, close the sidebar after a tap on its menu, as
# Streamlit does not (below its 768 px breakpoint the sidebar covers the page).
_CLOSE_MENU_ON_TAP = """<script>
if (!window.digitLabCloseMenuOnTap) {
  window.digitLabCloseMenuOnTap = true;
  document.addEventListener("click", (event) => {
    if (window.innerWidth >= 768 || !event.target.closest('[data-testid="stSidebarNav"] a')) return;
    const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (close) close.click();
  });
}
</script>"""

_FOCUS_REQUESTS = "accessibility_focus"  # focus to move in the next script run
_nonce = itertools.count()  # makes each focus script new text, so that it runs


def page_aids(language: str) -> None:
    """The page's language, focus ring and phone menu; the sidebar calls it on every run."""
    tag = HTML_LANG.get(language, language)
    st.html(_FOCUS_RING)
    st.html(
        f"<script>document.documentElement.lang = {json.dumps(tag)};</script>" + _CLOSE_MENU_ON_TAP,
        unsafe_allow_javascript=True,
        width="content",
    )
    for selector, text in st.session_state.pop(_FOCUS_REQUESTS, []):
        focus(selector, text)


def focus_after_rerun(selector: str, text: str = "") -> None:
    """Move the focus in the next script run (asked for just before `st.rerun()`)."""
    st.session_state.setdefault(_FOCUS_REQUESTS, []).append((selector, text))


def focus(selector: str, text: str = "") -> None:
    """Move keyboard focus to the first element matching the CSS `selector` whose text (or
    value) contains `text`, as soon as this run shows it: a screen reader then reads what just
    changed, and the next Tab goes on from there instead of from the top of the page."""
    script = f"""<script>/* {next(_nonce)} */
(() => {{
  const selector = {json.dumps(selector)}, text = {json.dumps(text)};
  const deadline = Date.now() + 15000;
  const attempt = () => {{
    const target = [...document.querySelectorAll(selector)].find(
      (el) => (el.value || el.textContent || "").includes(text));
    if (target) {{
      if (!target.matches("a, button, input, select, textarea, [tabindex]")) {{
        target.setAttribute("tabindex", "-1");
      }}
      target.focus();
      if (document.activeElement === target) return;
    }}
    if (Date.now() < deadline) setTimeout(attempt, 100);
  }};
  attempt();
}})();
</script>"""
    st.sidebar.html(script, unsafe_allow_javascript=True, width="content")
