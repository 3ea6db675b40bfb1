"""Lessons: a lesson link read and written, bad values named, runs judged against a goal in
plain words with exact figures, the codelab's built-in steps, and a board per lesson."""

import sqlite3
from urllib.parse import parse_qsl

import pytest

from mnist_core import i18n
from mnist_core.classroom.board import BOARD_FILE, Board, BoardError
from mnist_core.classroom.lessons import CODELAB_STEPS, Goal, Lesson, from_params, judge, task_text
from mnist_core.classroom.links import FIELDS, to_params
from mnist_core.config import PRESETS, network_layers

FULL, OFFLINE = 60_000, 5_000
CODELAB = PRESETS["codelab"].fit_to(FULL)
LESSON = Lesson(
    CODELAB.replace(epochs=3), ("epochs", "batch_size"), Goal(0.97, 5000, 30), "Reach 97 %!"
)


def _read(query: str, available: int = FULL):
    return from_params(dict(parse_qsl(query)), available)


# --- the link ---------------------------------------------------------------------------------


def test_the_issues_example_link_gives_its_lesson():
    query = "epochs=3&show=epochs,batch_size&goal_accuracy=0.97&goal_params=5000&goal_seconds=30"
    lesson, problems = _read(query + "&task=Reach+97+%25%21")
    assert problems == [] and lesson == LESSON
    assert lesson.fixed == tuple(name for name in FIELDS if name not in ("epochs", "batch_size"))


@pytest.mark.parametrize("available", [FULL, OFFLINE])
def test_a_lesson_survives_the_round_trip_with_its_settings_and_its_id(available):
    lesson = Lesson(PRESETS["best"].fit_to(available), ("filters", "zoom"), Goal(0.955), "Go")
    read, problems = _read(lesson.query("zh"), available)
    assert problems == [] and read == lesson and read.id == lesson.id
    query = dict(parse_qsl(lesson.query("zh")))
    assert query["lang"] == "zh" and query["show"] == "filters,zoom"
    assert {k: v for k, v in query.items() if k in FIELDS} == to_params(lesson.config)


def test_a_link_without_lesson_parameters_is_no_lesson():
    assert from_params(to_params(CODELAB), FULL) == (None, [])
    assert from_params({"lang": "zh"}, FULL) == (None, [])


def test_a_lesson_with_only_a_task_shows_no_setting_and_sets_no_goal():
    lesson, problems = _read("task=Just+train")
    assert problems == [] and lesson == Lesson(CODELAB, (), Goal(), "Just train")
    assert not lesson.goal and lesson.goal.parts() == [] and lesson.fixed == FIELDS


def test_the_id_follows_the_lesson_not_the_students_changes():
    same = {LESSON.id, Lesson(LESSON.config.replace(epochs=9, batch_size=64), *_rest()).id}
    assert len(same) == 1 and len(LESSON.id) == 12
    others = {
        Lesson(LESSON.config.replace(filters=(16, 32)), *_rest()).id,  # a fixed value
        Lesson(LESSON.config, ("epochs",), LESSON.goal, LESSON.task).id,
        Lesson(LESSON.config, LESSON.show, Goal(0.98, 5000, 30), LESSON.task).id,
        Lesson(LESSON.config, LESSON.show, LESSON.goal, "Another task").id,
    }
    assert len(others) == 4 and LESSON.id not in others
    reordered = Lesson(LESSON.config, ("batch_size", "epochs"), LESSON.goal, LESSON.task)
    assert reordered.id == LESSON.id, "the order the settings are listed in is no difference"


def _rest():
    return LESSON.show, LESSON.goal, LESSON.task


def test_only_the_shown_settings_take_the_students_values():
    changed = LESSON.with_changes({"epochs": 12, "filters": (64, 128), "batch_size": 32})
    assert changed == LESSON.config.replace(epochs=12, batch_size=32)


@pytest.mark.parametrize(
    ("param", "given", "message"),
    [
        ("show", "epochs,wings", "show=`wings` names no setting: ignored (filters, kernel_sizes"),
        ("goal_accuracy", "97", "goal_accuracy=`97` is not a share of the test digits above 0"),
        ("goal_accuracy", "0", "goal_accuracy=`0` is not a share"),
        ("goal_accuracy", "nan", "goal_accuracy=`nan` is not a share"),
        ("goal_accuracy", "high", "goal_accuracy=`high` is not a share"),
        ("goal_params", "5000.5", "goal_params=`5000.5` is not a whole number above 0"),
        ("goal_params", "0", "goal_params=`0` is not a whole number above 0"),
        ("goal_params", "inf", "goal_params=`inf` is not a whole number above 0"),
        ("goal_seconds", "-1", "goal_seconds=`-1` is not a number of seconds above 0"),
        ("goal_seconds", "", "goal_seconds=`` is not a number of seconds above 0"),
    ],
)
def test_a_bad_lesson_value_is_named_and_ignored_and_the_rest_kept(param, given, message):
    params = {**LESSON.params(), "goal_accuracy": "0.97", param: given}
    lesson, problems = from_params({**to_params(LESSON.config), **params}, FULL)
    assert [p.field for p in problems] == [param]
    assert problems[0].message.startswith(message), problems[0].message
    part = param.removeprefix("goal_")
    if param == "show":
        assert lesson.show == ("epochs",) and lesson.goal == LESSON.goal
    else:
        assert getattr(lesson.goal, part) is None
        assert lesson.goal == LESSON.goal.__class__(**{**vars(LESSON.goal), part: None})
        assert lesson.show == LESSON.show and lesson.task == LESSON.task


def test_goal_numbers_are_read_as_numbers_and_written_back_plainly():
    lesson, problems = _read("goal_accuracy=.955&goal_params=5e3&goal_seconds=12.50")
    assert problems == [] and lesson.goal == Goal(0.955, 5000, 12.5)
    assert isinstance(lesson.goal.params, int)
    assert lesson.params() == {
        "show": "",
        "goal_accuracy": "0.955",
        "goal_params": "5000",
        "goal_seconds": "12.5",
    }


def test_a_task_is_one_line_and_cut_at_its_limit_with_a_message():
    lesson, problems = _read("task=" + "Line+one%0A%0Aline%09two+" + "x" * 300)
    assert lesson.task.startswith("Line one line two xx") and len(lesson.task) == 200
    assert [p.message for p in problems] == [
        "The task is longer than 200 characters: it is cut there."
    ]


def test_a_bad_value_is_quoted_as_plain_text_and_short():
    _lesson, problems = _read("show=[x](http://evil.example)&goal_params=<b>" + "9" * 80)
    show, params = problems
    assert show.message.startswith("show=`?x??http???evil.example?` names no setting")
    assert params.message.startswith("goal_params=`?b?9999") and "…`" in params.message


def test_a_bad_value_is_named_in_the_readers_language():
    _lesson, problems = _read("goal_params=x")
    previous = i18n.set_language_source(lambda: "zh")
    try:
        assert problems[0].message == "goal_params=`x` 不是大于 0 的整数：不设参数目标。"
    finally:
        i18n.set_language_source(previous)


# --- the verdict ------------------------------------------------------------------------------


def _messages(verdict) -> list[tuple[bool, str]]:
    return [(check.met, check.message) for check in verdict.checks]


def test_a_run_that_misses_every_part_is_told_each_and_by_how_much():
    # 96.2 % is 0.8 points short of 97 %; 12,345 - 5,000 = 7,345; 41.26 s is 41.3 s, 11.3 s over.
    verdict = judge(Goal(0.97, 5000, 30), 0.962, 12_345, 41.26)
    assert not verdict.met and len(verdict.missed) == 3
    assert _messages(verdict) == [
        (False, "test accuracy 96.2 %, 0.8 points short of 97 %"),
        (False, "12,345 parameters, 7,345 more than 5,000"),
        (False, "41.3 s of training, 11.3 s more than 30 s"),
    ]


def test_a_run_exactly_at_the_goal_meets_it():
    verdict = judge(Goal(0.97, 5000, 30), 9_700 / 10_000, 5000, 30.0)
    assert verdict.met and verdict.missed == ()
    assert _messages(verdict) == [
        (True, "test accuracy 97 %, at least 97 %"),
        (True, "5,000 parameters, at most 5,000"),
        (True, "30 s of training, at most 30 s"),
    ]


def test_one_part_missed_is_the_only_one_said_to_miss():
    verdict = judge(Goal(0.95, 5000), 0.9871, 5994, 12.0)
    assert not verdict.met and [c.part for c in verdict.missed] == ["params"]
    assert _messages(verdict) == [
        (True, "test accuracy 98.71 %, at least 95 %"),
        (False, "5,994 parameters, 994 more than 5,000"),
    ]


@pytest.mark.parametrize(
    ("accuracy", "goal", "said"),
    [
        (0.9695, 0.97, "test accuracy 96.95 %, 0.05 points short of 97 %"),  # 9,695 of 10,000
        (0.9699, 0.97, "test accuracy 96.99 %, 0.01 points short of 97 %"),
        (0.96999, 0.97, "test accuracy 96.99 %, 0.01 points short of 97 %"),  # never "97 %"
        (0.5, 0.955, "test accuracy 50 %, 45.5 points short of 95.5 %"),
        (2 / 3, 0.9, "test accuracy 66.66 %, 23.34 points short of 90 %"),  # 66.666…: 23.333…
    ],
)
def test_an_accuracy_short_of_the_goal_never_reads_as_reaching_it(accuracy, goal, said):
    assert _messages(judge(Goal(accuracy=goal), accuracy, 1, 1.0)) == [(False, said)]


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (30.04, "30.1 s of training, 0.1 s more than 30 s"),  # never "30 s, 0 s more"
        (30.1, "30.1 s of training, 0.1 s more than 30 s"),
        (1234.5, "1,234.5 s of training, 1,204.5 s more than 30 s"),
    ],
)
def test_a_run_over_time_is_told_by_how_much_rounded_up(seconds, said):
    assert _messages(judge(Goal(seconds=30), 0.9, 1, seconds)) == [(False, said)]


def test_no_goal_judges_nothing_and_a_goal_reads_as_its_parts():
    assert judge(Goal(), 0.5, 10**6, 999.0).checks == ()
    assert Goal(0.955, 12_000, 45).parts() == [
        "test accuracy at least 95.5 %",
        "at most 12,000 parameters",
        "at most 45 s of training",
    ]


def test_a_verdict_is_in_the_readers_language():
    verdict = judge(Goal(0.97, 5000), 0.962, 12_345, 1.0)
    previous = i18n.set_language_source(lambda: "zh")
    try:
        assert [c.message for c in verdict.checks] == [
            "测试准确率 96.2 %，比 97 % 少 0.8 个百分点",
            "12,345 个参数，比 5,000 多 7,345 个",
        ]
    finally:
        i18n.set_language_source(previous)


# --- the codelab's steps ----------------------------------------------------------------------


def test_the_codelab_steps_follow_the_codelab_in_order():
    assert [step.key for step in CODELAB_STEPS] == [
        "data",
        "codelab",
        "weakest",
        "smaller",
        "turned",
    ]
    assert [step.page for step in CODELAB_STEPS] == ["data", "train", "evaluate", "train", "train"]


@pytest.mark.parametrize("available", [FULL, OFFLINE])
def test_each_lesson_step_is_a_canonical_lesson_link_of_the_codelab_network(available):
    steps = [step for step in CODELAB_STEPS if step.lesson_params]
    for step in steps:
        lesson, problems = from_params(step.lesson_params, available)
        assert problems == [] and lesson == step.lesson(available)
        assert lesson.params() == dict(step.lesson_params), "written back as it is written"
        assert lesson.config == PRESETS["codelab"].fit_to(available)
        assert lesson.goal.accuracy is not None and not lesson.task
        assert task_text(lesson) == step.task != ""
    assert len({step.lesson(available).id for step in steps}) == len(steps)


def test_the_smaller_network_step_asks_for_fewer_parameters_than_the_codelabs():
    step = next(step for step in CODELAB_STEPS if step.key == "smaller")
    lesson = step.lesson(FULL)
    codelab_params = sum(layer.params for layer in network_layers(PRESETS["codelab"]))
    assert codelab_params == 5994 and lesson.goal.params < codelab_params
    assert "5,994" in step.text and {"filters", "dense_units"} <= set(lesson.show)
    smaller = lesson.with_changes({"filters": (8, 8)})  # one way there: 3,106 parameters
    assert sum(layer.params for layer in network_layers(smaller)) <= lesson.goal.params


def test_a_built_in_task_is_shown_in_the_readers_language_and_a_teachers_as_written():
    codelab = CODELAB_STEPS[1].lesson(FULL)
    previous = i18n.set_language_source(lambda: "zh")
    try:
        assert task_text(codelab) == "按原样训练 codelab 的网络：达到 90 % 的测试准确率。"
        assert task_text(LESSON) == "Reach 97 %!"
    finally:
        i18n.set_language_source(previous)
    assert task_text(Lesson(CODELAB, ("epochs",), Goal(0.9))) == "", "not a built-in step"


# --- a board per lesson -----------------------------------------------------------------------


def _publish(board, name, accuracy, lesson=None, parameters=1000):
    return board.publish(
        name, PRESETS["codelab"], parameters, accuracy, 10_000, 12.5, publisher=name, lesson=lesson
    )


def test_a_lessons_runs_are_on_the_board_with_it_and_listed_apart(tmp_path):
    board = Board(tmp_path / BOARD_FILE)
    _publish(board, "free", 0.99)
    _publish(board, "a", 0.95, LESSON.id)
    _publish(board, "b", 0.97, LESSON.id)
    _publish(board, "other", 0.98, "abc")
    assert [e.name for e in board.entries(lesson=LESSON.id)] == ["b", "a"]
    assert {e.lesson for e in board.entries(lesson=LESSON.id)} == {LESSON.id}
    assert [(e.name, e.lesson) for e in board.entries()][:2] == [("free", None), ("other", "abc")]
    assert [e.name for e in board.entries(max_parameters=999, lesson=LESSON.id)] == []
    with pytest.raises(BoardError, match="lesson is named by its id"):
        _publish(board, "bad", 0.9, "")


def test_a_board_made_before_lessons_gains_the_column_and_keeps_its_runs(tmp_path):
    path = tmp_path / BOARD_FILE
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, config TEXT NOT NULL,
            parameters INTEGER NOT NULL, accuracy REAL NOT NULL, test_images INTEGER NOT NULL,
            seconds REAL NOT NULL, published_at REAL NOT NULL, publisher TEXT NOT NULL
        );
        PRAGMA user_version = 1;
        """
    )
    config = '{"filters": [8, 16], "kernel_sizes": [5, 5]}'
    old.execute(
        "INSERT INTO entries (name, config, parameters, accuracy, test_images, seconds, "
        "published_at, publisher) VALUES ('old run', ?, 5994, 0.98, 10000, 20.0, 1.0, 'x')",
        (config,),
    )
    old.commit()
    old.close()
    board = Board(path)
    _publish(board, "new run", 0.97, LESSON.id)
    assert [(e.name, e.lesson) for e in board.entries()] == [
        ("old run", None),
        ("new run", LESSON.id),
    ]
    assert Board(path).entries(lesson=LESSON.id)[0].name == "new run", "opened again: no change"
