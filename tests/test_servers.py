"""Servers that go away: a class board that cannot be reached, and a browser coming back to a
server that no longer has its workspace (restarted, or another server behind a load balancer).
"""

import os
import signal
import time
from pathlib import Path

import pytest
from streamlit.runtime.context import ContextProxy, StreamlitCookies
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from bench.browser import free_port
from ui import state, streamlit_workarounds

APP = str(Path(__file__).resolve().parents[1] / "app.py")
GONE = "Your earlier runs and uploads are gone"


@pytest.fixture(autouse=True)
def _navigation_as_on_a_running_server(monkeypatch):
    """As in test_pages.py: AppTest would switch the legacy pages/ layout back on before every
    run, which a running server does not."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        streamlit_workarounds.navigation_only()

    monkeypatch.setattr(PagesManager, "__init__", init)


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    if page:
        at.switch_page(page).run()
    return at


def _train_tiny(at: AppTest) -> None:
    """Train a small network on the Train page and wait until it is done."""
    at.select_slider(key="hp_filters0").set_value(4)
    at.select_slider(key="hp_filters1").set_value(8)
    at.slider(key="hp_train_size").set_value(1000)
    at.slider(key="hp_val_size").set_value(200)
    at.slider(key="hp_epochs").set_value(1).run()
    next(b for b in at.button if b.label == "Train").click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = at.session_state["workspace"].jobs
        for job in jobs:
            job.seen()  # as the open page's timer does
        if jobs and all(job.finished for job in jobs):
            break
        time.sleep(0.2)
    at.run()
    assert at.session_state["workspace"].jobs[0].state == "done"


@pytest.fixture
def unreachable_board(monkeypatch):
    """The class board on a PostgreSQL server that is not there (nothing listens on the port)."""
    url = f"postgresql://teacher:Pa55word@127.0.0.1:{free_port()}/digits"
    monkeypatch.setenv("DIGIT_LAB_BOARD_URL", url)
    state.board.clear()
    yield
    state.board.clear()


def test_an_unreachable_board_is_one_line_on_its_page_and_at_publish(unreachable_board):
    at = _app("pages/board.py")
    assert not at.exception, at.exception
    (error,) = at.error
    assert error.value.startswith("The class board is not available on this server: Cannot ")
    assert "Connection refused" in error.value and "\n" not in error.value
    assert "Pa55word" not in error.value
    # The rest of the app works: train a run, then publishing it says why it cannot be.
    at.switch_page("pages/train.py").run()
    _train_tiny(at)
    at.text_input(key="publish_name").input("Ada")
    next(b for b in at.button if b.label == "Publish").click().run()
    assert not at.exception, at.exception
    (error,) = at.error
    assert error.value.startswith("Cannot reach the class board's database postgresql://")
    assert "Pa55word" not in error.value and "\n" not in error.value
    assert not any("Published as" in s.value for s in at.success)
    job = at.session_state["workspace"].jobs[0]
    assert job.name not in at.session_state["workspace"].published  # may be published later
    at.switch_page("pages/evaluate.py").run()  # the run is there to evaluate
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="current_model").value == job.name


@pytest.fixture
def browser_cookie(monkeypatch):
    """The cookies a browser sends on connecting (AppTest sends none): set the workspace's."""
    cookies = {}
    monkeypatch.setattr(ContextProxy, "cookies", property(lambda self: StreamlitCookies(cookies)))
    return cookies


def test_a_browser_returning_to_a_server_without_its_workspace_is_told_so(browser_cookie):
    browser_cookie[state.COOKIE] = "a-workspace-of-a-server-that-restarted"
    at = _app("pages/train.py")
    assert not at.exception, at.exception
    (warning,) = [w for w in at.warning if GONE in w.value]
    assert "this server restarted, you reached another server" in warning.value
    assert "The class board kept everything published" in warning.value
    assert at.session_state["workspace"].token != browser_cookie[state.COOKIE]
    at.switch_page("pages/home.py").run()  # on every page until something new is made
    assert any(GONE in w.value for w in at.warning)
    at.switch_page("pages/train.py").run()
    _train_tiny(at)
    assert not any(GONE in w.value for w in at.warning)


def test_a_first_visit_and_a_known_workspace_are_told_nothing(browser_cookie):
    at = _app("pages/train.py")  # no cookie: a first visit
    assert not any(GONE in w.value for w in at.warning)
    browser_cookie[state.COOKIE] = at.session_state["workspace"].token
    again = _app("pages/train.py")  # a reload: the cookie names a workspace this server has
    assert again.session_state["workspace"] is at.session_state["workspace"]
    assert not any(GONE in w.value for w in again.warning)


def test_a_session_whose_workspace_was_dropped_is_told_so():
    at = _app("pages/train.py")
    dropped = at.session_state["workspace"]
    dropped.last_seen -= state.workspaces().ttl + 1  # its tab was closed long ago
    assert state.workspaces().sweep() >= 1 and dropped not in state.workspaces()
    at.run()  # the laptop wakes up, the page goes on
    assert at.session_state["workspace"] is not dropped
    assert any(GONE in w.value for w in at.warning)


@pytest.mark.browser
@pytest.mark.slow
def test_a_server_killed_during_a_run_says_so_to_the_reloaded_page(tmp_path):
    """Community Cloud reboots apps and wakes them from sleep: the page that comes back after
    a restart says why its run is gone, instead of showing the Train page as new."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from bench.browser import CHROMIUM, launch_chromium, start_app, stop_app

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "DIGIT_LAB_DATA_DIR": str(tmp_path)}
    port = free_port()
    process, url = start_app(env, log=tmp_path / "first.log", port=port)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(base_url=url, viewport={"width": 1400, "height": 1000})
            page.goto("/train")
            main = page.get_by_test_id("stMain")
            main.get_by_role("button", name="best", exact=True).click(timeout=120_000)
            main.get_by_role("button", name="Train", exact=True).click()
            sync_api.expect(main.get_by_role("button", name="Stop")).to_be_visible(timeout=120_000)
            os.killpg(process.pid, signal.SIGKILL)  # no goodbye: a reboot
            process.wait(30)
            process, _ = start_app(env, log=tmp_path / "second.log", port=port)
            page.reload()
            notice = main.get_by_text(GONE)
            sync_api.expect(notice).to_be_visible(timeout=120_000)
            sync_api.expect(notice).to_contain_text("this server restarted")
            sync_api.expect(main.get_by_role("button", name="Stop")).to_have_count(0)
            browser.close()
    finally:
        stop_app(process)
