"""What the pages share: the Streamlit side of Digit Lab (state, widgets, navigation).

`mnist_core` does the work and never imports Streamlit; this package holds the Streamlit code
that more than one page needs, so that `pages/` holds pages and nothing else.
"""

# Imported first by every page and by app.py: it installs the Streamlit workarounds on import.
from ui import streamlit_workarounds  # noqa: F401  # isort: skip

# Registers the session's language with mnist_core.i18n, once per process.
from ui import language  # noqa: F401  # isort: skip
