"""Take the model home: one button that downloads it as a web page reading drawn digits."""

from __future__ import annotations

import streamlit as st

from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.i18n import _
from mnist_core.presentation import export
from ui import language, state


def web_page_button(entry: ModelEntry, key: str, width: str = "stretch") -> None:
    """Download `entry`'s model as one .html file that reads digits in any browser, offline.

    The page is made when clicked, so listing the default model loads nothing. Uploads, the
    only models that may hold layers the page cannot run, are checked first: such a model
    gets the reason instead of the button.
    """
    if entry.name in state.workspace().uploads:
        from mnist_core.engine.web_export import export_problem  # the model is loaded already

        problem = export_problem(entry.model)
        if problem is not None:
            st.caption(problem)
            return
    # Read now: the page is made outside this script run, where no language is known.
    code, title = (
        language.current(),
        _("{model} · Digit Lab").format(model=state.display_name(entry.name)),
    )
    description = _("{params:,} parameters").format(params=entry.params)
    if entry.summary:
        description = f"{entry.summary} · {description}"
    st.download_button(
        _("Download as a web page"),
        data=lambda: _web_page(entry, title, code, description),
        file_name=export.file_stem(entry.name) + ".html",
        mime="text/html",  # a literal: naming web_export's would import Keras
        key=key,
        help=_(
            "One .html file that draws and reads digits with this network in any modern "
            "browser, on a computer or a phone: no Python, no server, no internet."
        ),
        icon=":material/language:",
        on_click="ignore",
        width=width,
    )


def _web_page(entry: ModelEntry, title: str, code: str, description: str) -> str:
    from mnist_core.engine.web_export import model_to_html  # TensorFlow, once asked for

    return model_to_html(entry.model, title, code, description)
