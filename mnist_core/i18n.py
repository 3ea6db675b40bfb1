"""Translations: gettext catalogs in mnist_core/locale, one language per user.

Every string a user sees, in the pages and in the core (error messages, chart titles), is
written in English inside `_()`; Babel extracts them into `locale/digit_lab.pot`, and
`locale/<lang>/LC_MESSAGES/digit_lab.po` holds the translations (see locale/README.md).
The core never knows who is asking: the UI tells it, once, where to read the current user's
language (`set_language_source`), so one server can speak English to one user and Chinese to
the next.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from pathlib import Path

DOMAIN = "digit_lab"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": "English", "zh": "简体中文"}  # code → its own name, as the switch shows it
DEFAULT_LANGUAGE = "en"


def _default_source() -> str:
    return DEFAULT_LANGUAGE


_language_source: Callable[[], str] = _default_source


def set_language_source(source: Callable[[], str]) -> Callable[[], str]:
    """Make `source()` the current user's language code (a key of LANGUAGES) from now on;
    returns the source it replaces (to put it back)."""
    global _language_source
    previous, _language_source = _language_source, source
    return previous


def language() -> str:
    """The current user's language code; English when the source fails or names another."""
    try:
        code = _language_source()
    except Exception:  # a worker thread outside any user's script run, say
        return DEFAULT_LANGUAGE
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def language_of(tag: str | None) -> str | None:
    """The supported language for a browser or URL tag ('zh-CN', 'zh_Hans', 'en-GB'), or None."""
    if not tag:
        return None
    code = tag.strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


@functools.cache
def catalog(code: str) -> gettext.NullTranslations:
    """The compiled catalog of `code` (English: the messages as written)."""
    if code == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)


def _(message: str) -> str:
    """`message` in the current user's language."""
    return catalog(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of `singular`/`plural` for `n`, in the current user's language."""
    return catalog(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark `message` for translation where it is defined; `_()` translates it where shown."""
    return message
