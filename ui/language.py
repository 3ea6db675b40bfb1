"""The user's language: chosen each run from the URL, the sidebar switch or the browser.

The core translates through `mnist_core.i18n`, which asks `current()` (registered once, on
import) for the language of whoever is asking; outside a script run (a training worker
thread, say) that is English.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnist_core import i18n
from mnist_core.classroom.links import LANGUAGE_PARAM as PARAM  # ?lang=zh / ?lang=en

KEY = "language"  # the switch's key and the session's language
_CHOSEN = "language_chosen"  # the user picked it (URL or switch): links should carry it
_SHOWN = "language_shown"  # the language of the last run, to notice a switch


def current() -> str:
    """This session's language code; English outside a script run or before the first choice."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return i18n.DEFAULT_LANGUAGE
    return st.session_state.get(KEY, i18n.DEFAULT_LANGUAGE)


def choose() -> str:
    """Settle this run's language: `?lang=` wins, then the switch, then the browser, then English.

    A `?lang=` naming no supported language is ignored. Once chosen, the URL carries it, so a
    shared link opens in the same language.
    """
    state = st.session_state
    from_url = i18n.language_of(st.query_params.get(PARAM))
    if from_url is not None:
        state[KEY], state[_CHOSEN] = from_url, True
    elif not state.get(_CHOSEN):
        state[KEY] = i18n.language_of(st.context.locale) or i18n.DEFAULT_LANGUAGE
    if state.get(_CHOSEN) and st.query_params.get(PARAM) != state[KEY]:
        st.query_params[PARAM] = state[KEY]  # this key only: other params stay as they are
    if state.get(_SHOWN, state[KEY]) != state[KEY]:
        _resend_choices()
    state[_SHOWN] = state[KEY]
    return state[KEY]


# The widgets whose options are shown through a translated label (format_func): the only ones
# a language switch can break. A new such widget must be listed here.
RELABELLED = (
    "hp_pooling",
    "hp_lr_schedule",
    "hp_dense_units",  # Train
    "current_model",  # the sidebar
    "data_split",
    "data_digit",
    "data_closeup",  # Data
    "eval_data",
    "eval_why",  # Evaluate
    "compare_a",
    "compare_b",  # Compare
    "board_budget",  # Class board
)


def _resend_choices() -> None:
    """After a switch, make Streamlit send the relabelled widgets' choices again.

    The browser keeps a select box's chosen label as it was shown ("平均池化"); sent back in the
    other language, Streamlit would no longer find it among the options and would reset the
    choice. Setting a widget's value through session state makes Streamlit send its label
    again. Only widgets present now (their page was shown), so nothing else changes.
    """
    state = st.session_state
    for key in RELABELLED:
        if key in state:
            state[key] = state[key]


def _switched() -> None:
    st.session_state[_CHOSEN] = True
    st.query_params[PARAM] = st.session_state[KEY]


def switch() -> None:
    """The sidebar's language switch (English, 简体中文); it writes `?lang=` too."""
    st.segmented_control(
        "Language / 语言",
        list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.get,
        key=KEY,
        required=True,
        on_change=_switched,
    )


i18n.set_language_source(current)
