"""Lessons on the pages, through Streamlit's AppTest: a lesson link's Train page, a run judged
against its goal and published to the lesson's board, and the codelab's steps on Home."""

from conftest import TINY
from test_i18n import (  # noqa: F401  # its autouse fixture too: format_funcs in Chinese
    _format_funcs_in_the_tested_sessions_language,
    english_sentences,
    visible_texts,
)

# The page tests' helpers, and their autouse fixture: page runs as on a running server.
from test_pages import (  # noqa: F401
    _app,
    _navigation_as_on_a_running_server,
    _open_link,
    _wait_for_runs,
)

from mnist_core.classroom import lessons, links
from mnist_core.classroom.jobs import TrainingJob
from mnist_core.classroom.lessons import Goal, Lesson
from mnist_core.config import network_layers
from ui import state

QUICK = TINY.replace(filters=(4, 8), epochs=1, train_size=1000, val_size=200)
QUICK_PARAMS = sum(layer.params for layer in network_layers(QUICK))


def _lesson_link(**lesson_params) -> dict:
    # lang=en: AppTest formats widget values outside the script run (see test_pages.py).
    return {**links.to_params(QUICK), **lesson_params, "lang": "en"}


def _texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_a_lesson_link_shows_only_its_settings_open_and_the_goal_card():
    at = _open_link(
        _lesson_link(
            show="epochs,batch_size",
            goal_accuracy="0.97",
            goal_params="5000",
            goal_seconds="abc",
            task="Reach 97 % with at most 5,000 parameters!",
        )
    )
    assert not at.exception, at.exception
    # Only the two settings, open in the main area: no presets, no tabs, no other setting.
    assert [s.key for s in at.main.slider] == ["hp_epochs"]
    assert [s.key for s in at.main.select_slider] == ["hp_batch_size"]
    assert not at.main.selectbox and not at.main.toggle and not at.main.number_input
    assert not at.tabs and not [b for b in at.button if (b.key or "").startswith("preset_")]
    assert "Make a lesson link" not in [e.label for e in at.expander]
    fixed = next(c.value for c in at.caption if c.value.startswith("Fixed by the lesson"))
    assert "Filters per block: 4, 8 · Kernel size per block: 3×3, 3×3 · Stride: 1" in fixed
    assert "Epochs" not in fixed and "Batch size" not in fixed
    # The goal card: the heading, the task as written, the goal part by part.
    assert "Goal" in _texts(at.subheader)
    markdown = _texts(at.markdown)
    assert r"Reach 97 % with at most 5,000 parameters\!" in markdown  # as text, not Markdown
    assert (
        "A run meets the goal with:\n- test accuracy at least 97 %\n- at most 5,000 parameters"
        in markdown
    )
    # The bad value is named and ignored; the rest of the lesson stands.
    warning = at.main.warning[0].value
    assert "goal_seconds=`abc` is not a number of seconds above 0: no time goal." in warning
    assert at.query_params["show"] == "epochs,batch_size" and at.query_params["epochs"] == "1"

    # A student's change moves the setting and the link; the fixed ones stay.
    at.slider(key="hp_epochs").set_value(3).run()
    assert at.query_params["epochs"] == "3" and at.query_params["filters"] == "4,8"
    assert at.query_params["goal_accuracy"] == "0.97", "the URL still carries the lesson"
    # Leaving the lesson brings the whole page back, with the student's settings.
    next(b for b in at.button if b.label == "Leave the lesson").click().run()
    assert not at.exception and "Goal" not in _texts(at.subheader)
    assert at.button(key="preset_codelab") and len(at.tabs) == 2
    assert "show" not in at.query_params and at.slider(key="hp_epochs").value == 3


def test_a_lesson_link_speaks_chinese():
    link = _lesson_link(show="epochs,pooling", goal_accuracy="0.9", goal_params="x")
    at = _open_link({**link, "lang": "zh"})
    assert not at.exception and "目标" in _texts(at.subheader)
    assert any("测试准确率至少 90 %" in m for m in _texts(at.markdown))
    assert "goal_params=`x` 不是大于 0 的整数：不设参数目标。" in at.main.warning[0].value
    assert not english_sentences(visible_texts(at)), english_sentences(visible_texts(at))


def _train(at) -> TrainingJob:
    next(b for b in at.button if b.label == "Train").click().run()
    _wait_for_runs(at, len(at.session_state["workspace"].jobs))
    return at.session_state["workspace"].jobs[-1]


def test_a_lesson_run_is_judged_and_published_to_the_lessons_board(empty_board):
    goal_params = QUICK_PARAMS - 1  # one parameter too many: missed by exactly 1
    link = _lesson_link(show="epochs", goal_accuracy="0.01", goal_params=str(goal_params))
    at = _open_link(link)
    job = _train(at)
    assert not at.exception, at.exception
    assert job.result.model.count_params() == QUICK_PARAMS
    verdict = at.main.warning[0].value
    shown = Lesson(QUICK, ("epochs",), Goal(accuracy=0.01)).judge(job.evaluation.accuracy, 1, 1.0)
    assert verdict == (
        f"**Goal not met**\n- {shown.checks[0].message}\n"
        f"- {QUICK_PARAMS:,} parameters, 1 more than {goal_params:,}"
    )
    assert shown.checks[0].message.endswith(", at least 1 %"), "its accuracy meets that part"

    at.text_input(key="publish_name").input("Ada")  # in the form: sent with Publish
    next(b for b in at.button if b.label == "Publish").click().run()
    assert any("Published as" in s.value for s in at.success), _texts(at.error)
    lesson = at.session_state["workspace"].lessons[job.name]
    entry = state.board().entries(lesson=lesson.id)[0]
    assert (entry.name, entry.parameters) == ("Ada", QUICK_PARAMS)
    # Two more runs of the same lesson, from other students: one meets the goal with less.
    for name, accuracy, parameters in [("Big", 0.999, 99_000), ("Lean", 0.5, 100)]:
        state.board().publish(name, QUICK, parameters, accuracy, 10_000, 5.0, name, lesson.id)
    state.board().publish("Elsewhere", QUICK, 50, 0.99, 10_000, 5.0, "x")  # no lesson

    at.switch_page("pages/board.py").run()
    assert not at.exception, at.exception
    assert "This lesson's board" in _texts(at.subheader)
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["Lean", "Big", "Ada"], "goal met first, then best first"
    assert table["goal"].tolist() == ["met", "not met", "not met"]
    assert [(m.label, m.value) for m in at.metric] == [
        ("Runs tried", "3"),
        ("Goal met", "1 / 3"),
        ("Best so far", "50.00%"),
    ]
    assert at.get("plotly_chart"), "every run as a dot"
    words = next(c.value for c in at.caption if c.value.startswith("The chart in words"))
    assert "3 runs, from 100 to 99,000 parameters" in words and "1 met the goal" in words
    assert at.query_params["goal_params"] == str(goal_params), "the board's link carries it"
    at.toggle(key="board_whole").set_value(True).run()
    assert at.dataframe[0].value["name"].tolist()[:2] == ["Big", "Elsewhere"]


def test_the_codelab_steps_on_home_are_lesson_links_ticked_once_done():
    at = _app()
    links = at.get("page_link")[-5:]
    assert [link.proto.label for link in links] == [
        "Look at the data",
        "Train the codelab network",
        "Find its weakest digit",
        "Beat 95 % with fewer parameters",
        "Make it read a turned digit",
    ]
    smaller = dict(lessons.CODELAB_STEPS[3].lesson_params)
    assert (
        links[3].proto.query_string
        == "show=filters%2Ckernel_sizes%2Cdense_units%2Cepochs&goal_accuracy=0.95&goal_params=5000"
    )
    assert links[1].proto.page.endswith("train") and not links[0].proto.query_string
    assert not any("done" in m for m in _texts(at.markdown))
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/home.py").run()
    assert [m for m in _texts(at.markdown) if "done" in m] == [
        ":green[:material/check_circle:] done"
    ]
    # A step's link opens its lesson, with the built-in task in the reader's words.
    opened = _open_link({**smaller, "lang": "en"})
    assert not opened.exception and "Goal" in _texts(opened.subheader)
    assert "Beat 95 % test accuracy with at most 5,000 parameters\\." in _texts(opened.markdown)
    assert {s.key for s in opened.main.select_slider} >= {"hp_filters0", "hp_dense_units"}
