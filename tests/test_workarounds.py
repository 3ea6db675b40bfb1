"""The workarounds: Streamlit's in ui/streamlit_workarounds.py and Keras's import without
scikit-learn in mnist_core/engine/backend.py. Each still buys its behaviour, and each fails
loudly when what it works around is gone."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from ui import navigation, streamlit_workarounds

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def _fresh_python(code: str) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return run.stdout.split()


@pytest.mark.skipif(not importlib.util.find_spec("sklearn"), reason="scikit-learn not installed")
def test_keras_is_imported_without_scikit_learn_which_still_imports_afterwards():
    """Keras imports scikit-learn (54 MB, a second of the server's start) for wrappers the app
    never uses; mnist_core imports Keras without it, and leaves scikit-learn importable."""
    assert _fresh_python("import sys, keras; print('sklearn' in sys.modules)") == ["True"], (
        "Keras no longer imports scikit-learn: remove the workaround in "
        "mnist_core/engine/backend.py"
    )
    code = (
        "import sys; from mnist_core import config; from mnist_core.engine import model; "
        "model.build_model(config.PRESETS['codelab']); print('sklearn' in sys.modules); "
        "import sklearn.metrics; print(sklearn.metrics.accuracy_score([1, 2], [1, 3]))"
    )
    assert _fresh_python(code) == ["False", "0.5"]


def test_a_script_run_leaves_keras_state_alone():
    """Streamlit would call keras.backend.clear_session() after every run, fragment reruns
    included, resetting Keras's global state under a training thread; clear_session() also
    restarts Keras's name counters, which is what this watches."""
    keras.backend.get_uid("digit_lab_probe")
    before = keras.backend.get_uid("digit_lab_probe")
    AppTest.from_file(APP, default_timeout=120).run()
    assert keras.backend.get_uid("digit_lab_probe") == before + 1


@pytest.mark.parametrize("page", navigation.PAGES, ids=lambda p: p.title)
def test_a_first_visit_to_any_page_runs_through_app_py(page):
    """AppTest starts every run with Streamlit's legacy pages/ layout switched on, as a fresh
    server does for its first visitor: each page must still get app.py's sidebar."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page.path).run()
    assert not at.exception, at.exception
    assert PagesManager.uses_pages_directory is False
    sidebar = [c.value for c in at.sidebar.caption] + [w.value for w in at.sidebar.warning]
    assert any(text.startswith(("Full MNIST", "Offline:")) for text in sidebar), sidebar


def test_a_missing_internal_stops_the_app_at_start_up(monkeypatch):
    monkeypatch.delattr(script_runner, "_clean_problem_modules")
    with pytest.raises(streamlit_workarounds.StreamlitInternalsChanged, match="clean_problem"):
        streamlit_workarounds.keep_keras_state()
    monkeypatch.delattr(PagesManager, "uses_pages_directory")
    with pytest.raises(streamlit_workarounds.StreamlitInternalsChanged, match="uses_pages_dir"):
        streamlit_workarounds.navigation_only()


def test_draw_sends_a_stroke_through_the_canvas_own_send_button(monkeypatch):
    """Draw presses the canvas toolbar's send button when a stroke ends: the page carries the
    script, and a canvas without that button stops Draw with a message instead of going slow."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/draw.py").run()
    scripts = [h.proto.body for h in at.sidebar.get("html")]
    label = streamlit_workarounds.CANVAS_SEND_BUTTON
    assert any(f'aria-label="{label}"' in body for body in scripts)
    streamlit_workarounds._canvas_build_has.cache_clear()
    monkeypatch.setattr(streamlit_workarounds, "CANVAS_SEND_BUTTON", "A button no canvas has")
    try:
        with pytest.raises(streamlit_workarounds.StreamlitInternalsChanged, match="no 'A button"):
            streamlit_workarounds.send_drawings_on_release()
    finally:
        streamlit_workarounds._canvas_build_has.cache_clear()


def test_draw_moves_the_canvas_toolbar_out_of_the_canvas_or_stops_if_it_changed(monkeypatch):
    """Draw restyles the canvas's toolbar from inside the canvas (the browser test sees where it
    goes); a canvas whose toolbar is no longer found by that name stops Draw with a message."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/draw.py").run()
    scripts = "".join(h.proto.body for h in at.sidebar.get("html"))
    assert f".{streamlit_workarounds.CANVAS_TOOLBAR}" in scripts
    streamlit_workarounds._canvas_build_has.cache_clear()
    monkeypatch.setattr(streamlit_workarounds, "CANVAS_TOOLBAR", "a-toolbar-no-canvas-has")
    try:
        with pytest.raises(streamlit_workarounds.StreamlitInternalsChanged, match="a-toolbar-no"):
            streamlit_workarounds.fit_canvases_for_touch("canvas", "undo", "redo")
    finally:
        streamlit_workarounds._canvas_build_has.cache_clear()
