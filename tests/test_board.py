"""The class leaderboard ranks runs, cleans names, limits publishers, loses nothing under load:
in an SQLite file and in a real PostgreSQL server alike (a throw-away one, started here)."""

import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bench.postgres import REQUIRE, start_postgres
from mnist_core.__main__ import main
from mnist_core.classroom.board import BOARD_FILE, Board, BoardError, clean_name
from mnist_core.config import PRESETS, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _publish(board, name="run", accuracy=0.9, parameters=1000, publisher=None, **kwargs):
    """Publish with plausible defaults; each call from its own publisher unless one is given."""
    if publisher is None:
        publisher = f"user-{time.perf_counter_ns()}-{threading.get_ident()}"
    config = kwargs.pop("config", PRESETS["codelab"])
    figures = {"test_images": 10_000, "train_seconds": 12.5, **kwargs}
    return board.publish(name, config, parameters, accuracy, publisher=publisher, **figures)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server for this test session; skipped only where none is
    installed (failed instead when $DIGIT_LAB_REQUIRE_POSTGRES is set, as in CI)."""
    try:
        server = start_postgres()
    except LookupError as err:
        if os.environ.get(REQUIRE):
            pytest.fail(f"{err} ({REQUIRE} is set)")
        pytest.skip(f"{err}: the PostgreSQL board is not tested")
    yield server
    server.stop()


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path) -> Path | str:
    """A new, empty board's location: an SQLite file, or a PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / BOARD_FILE
    return request.getfixturevalue("postgres").create_database(f"board_{next(_databases)}")


@pytest.fixture
def board(where, clock) -> Board:
    return Board(where, clock=clock)


def test_the_best_run_comes_first_then_the_smaller_then_the_earlier(board, clock):
    for name, accuracy, parameters in [
        ("late twin", 0.98, 5000),
        ("big", 0.99, 90000),
        ("small", 0.95, 800),
        ("early twin", 0.98, 5000),
        ("lean", 0.98, 3000),
        ("best", 0.995, 400000),
    ]:
        clock.now += 1 if name != "early twin" else -100  # published before "late twin"
        _publish(board, name, accuracy, parameters)
    ranked = [e.name for e in board.entries()]
    assert ranked == ["best", "big", "lean", "early twin", "late twin", "small"]
    assert [e.name for e in board.entries(limit=2)] == ["best", "big"]


def test_a_parameter_budget_shows_only_runs_that_fit_it(board):
    for name, parameters in [("tiny", 900), ("exact", 5000), ("over", 5001), ("huge", 400000)]:
        _publish(board, name, parameters=parameters)
    assert {e.name for e in board.entries(max_parameters=5000)} == {"tiny", "exact"}
    assert board.entries(max_parameters=100) == []
    assert len(board.entries()) == 4


def test_an_entry_keeps_everything_published_and_survives_a_restart(board, where, clock):
    best = PRESETS["best"]
    entry = _publish(board, "  Ada's net ", 0.9952, 391082, config=best, train_seconds=1395.4)
    assert entry.name == "Ada's net" and entry.published_at == clock.now
    restarted = Board(where)  # a new server process opening the same board
    (again,) = restarted.entries()
    assert again == entry  # name, config (tuples and all), figures, time and id
    assert isinstance(again.config, TrainConfig) and again.config.filters == (32, 64, 128)
    assert again.test_images == 10_000 and again.seconds == 1395.4


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<b>Ada</b> Lovelace", "Ada Lovelace"),
        ("<img src=x onerror=alert(1)>Bob", "Bob"),
        ("Eve<script>alert('hi')</script>", "Eve"),
        ("&lt;i&gt;Mallory&lt;/i&gt;", "Mallory"),  # escaped markup is markup too
        ("Ｃａｒｏｌ＜ｓ＞", "Carol"),  # full-width letters and brackets
        ("Dan\x00\x07\x1b[31m red", "Dan[31m red"),
        ("Zoë \u202egnirts\u200b", "Zoë gnirts"),  # no right-to-left tricks or hidden spaces
        ("  lots \t of\n\n space  ", "lots of space"),
        ("A" * 45, "A" * 30),
        ("3 < 5 and 7 > 2", "3 5 and 7 2"),
        ("<!-- hidden -->Fay", "Fay"),
        ("net #2: 99.1 %", "net #2: 99.1 %"),
    ],
)
def test_names_lose_markup_control_characters_and_extra_length(raw, shown):
    assert clean_name(raw) == shown


@pytest.mark.parametrize("name", ["", "   ", "<script>alert(1)</script>", "<b></b>", "\x00\t"])
def test_a_name_with_nothing_left_is_refused_and_nothing_is_published(board, name):
    with pytest.raises(BoardError, match="Give the run a name"):
        _publish(board, name)
    assert len(board) == 0


@pytest.mark.parametrize(
    ("figures", "message"),
    [
        ({"accuracy": 1.01}, "accuracy must be from 0 to 1"),
        ({"accuracy": -0.1}, "accuracy must be from 0 to 1"),
        ({"accuracy": float("nan")}, "accuracy must be from 0 to 1"),
        ({"parameters": -5}, "parameters must be 0 or more"),
        ({"parameters": 12.5}, "parameters must be 0 or more"),
        ({"train_seconds": -1.0}, "seconds must be 0 or more"),
        ({"train_seconds": float("inf")}, "seconds must be 0 or more"),
        ({"test_images": 0}, "test images must be 1 or more"),
        ({"config": {"filters": [8]}}, "TrainConfig"),
        ({"publisher": ""}, "publisher"),
    ],
)
def test_impossible_figures_are_refused(board, figures, message):
    with pytest.raises(BoardError, match=message):
        _publish(board, **figures)
    assert len(board) == 0


def test_a_publisher_gets_three_runs_a_minute_and_is_told_how_long_to_wait(board, clock):
    for _ in range(3):
        _publish(board, publisher="workspace-a")
        clock.now += 10
    with pytest.raises(BoardError, match="wait 30 s"):  # the first left the minute at +60
        _publish(board, publisher="workspace-a")
    _publish(board, publisher="workspace-b")  # others are not held up
    clock.now += 29
    with pytest.raises(BoardError, match="wait 1 s"):
        _publish(board, publisher="workspace-a")
    clock.now += 1.5
    _publish(board, publisher="workspace-a")  # refused attempts did not count
    assert len(board) == 5


def test_the_limit_and_clock_are_settings(where):
    clock = Clock()
    strict = Board(where, rate_limit=1, rate_window=5, clock=clock)
    _publish(strict, publisher="w")
    with pytest.raises(BoardError, match=r"1 runs in the last 5 seconds; wait 5 s"):
        _publish(strict, publisher="w")
    clock.now += 5
    _publish(strict, publisher="w")


def test_publisher_tokens_are_not_written_to_the_file(tmp_path):
    board = Board(tmp_path / BOARD_FILE)
    secret = "workspace-token-Xq7PzR2mLk9vT4wB"
    _publish(board, publisher=secret)
    files = tmp_path.glob(BOARD_FILE + "*")  # the database, its WAL and index
    assert not any(secret.encode() in path.read_bytes() for path in files)


def test_publisher_tokens_are_not_stored_in_postgresql(postgres):
    import psycopg

    url = postgres.create_database("tokens")
    secret = "workspace-token-Xq7PzR2mLk9vT4wB"
    _publish(Board(url), publisher=secret)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT * FROM entries").fetchall()
    assert len(rows) == 1 and not any(secret in str(value) for value in rows[0])


def test_clear_removes_everything_and_says_how_much(board):
    for i in range(4):
        _publish(board, f"run {i}")
    assert board.clear() == 4
    assert board.entries() == [] and board.clear() == 0


def test_the_data_folder_comes_from_the_environment_and_is_made_when_needed(tmp_path, monkeypatch):
    folder = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("DIGIT_LAB_DATA_DIR", str(folder))
    monkeypatch.delenv("DIGIT_LAB_BOARD_URL", raising=False)
    board = Board.from_env()
    assert board.location == str(folder / BOARD_FILE) and (folder / BOARD_FILE).is_file()
    monkeypatch.delenv("DIGIT_LAB_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert Board.from_env().location == str(tmp_path / "cache" / "digit-lab" / BOARD_FILE)


def test_a_board_url_names_an_sqlite_file_and_no_other_kind_of_database(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_BOARD_URL", f"sqlite:///{tmp_path}/class.sqlite3")
    assert Board.from_env().location == f"{tmp_path}/class.sqlite3"
    monkeypatch.setenv("DIGIT_LAB_BOARD_URL", "mysql://teacher@db/digits")
    with pytest.raises(BoardError, match=r"mysql://\.\.\., but the board lives in SQLite"):
        Board.from_env()


def test_a_board_url_names_a_postgresql_database(monkeypatch, postgres):
    url = postgres.create_database("from_env")
    monkeypatch.setenv("DIGIT_LAB_BOARD_URL", url)
    _publish(Board.from_env(), "via the URL")
    assert [e.name for e in Board(url).entries()] == ["via the URL"]
    assert Board.from_env().location == url.replace(f":{postgres.password}@", "@")  # no secret


def test_the_schema_is_made_once_and_found_again(postgres):
    url = postgres.create_database("schema")
    first = Board(url)
    _publish(first, "kept")
    for _ in range(3):  # servers starting again: nothing made twice, nothing lost
        assert [e.name for e in Board(url).entries()] == ["kept"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://teacher:Pa55word@127.0.0.1:{closed}/digits", "Connection refused"),
        ("postgresql://teacher:Pa55word@127.0.0.1:port/digits", 'invalid integer value "port"'),
        ("postgresql://{user}:Pa55word@127.0.0.1:{port}/digits", "password authentication"),
        ("postgresql://{user}:{password}@127.0.0.1:{port}/no_such_db", "does not exist"),
    ],
)
def test_a_bad_url_or_unreachable_server_is_one_clear_line_without_the_password(
    postgres, url, says
):
    from bench.browser import free_port

    url = url.format(
        closed=free_port(), user="digit_lab", password=postgres.password, port=postgres.port
    )
    started = time.monotonic()
    with pytest.raises(BoardError) as refused:
        Board(url)
    message = str(refused.value)
    assert message.startswith("Cannot reach the class board's database postgresql://")
    assert says in message and "\n" not in message
    assert "Pa55word" not in message and postgres.password not in message
    assert time.monotonic() - started < 10


def test_a_board_whose_server_went_away_says_so_and_works_again_once_it_is_back(postgres):
    url = postgres.create_database("comeback")
    board = Board(url)
    _publish(board, "before")
    postgres.halt()
    try:
        with pytest.raises(BoardError, match="Cannot reach the class board's database"):
            board.entries()
        with pytest.raises(BoardError, match="Cannot reach the class board's database"):
            _publish(board, "while away")
    finally:
        postgres.start()
    _publish(board, "after")  # the same Board object: nothing to reconnect
    assert {e.name for e in board.entries()} == {"before", "after"}


def test_many_threads_publishing_at_once_lose_nothing(where):
    board = Board(where)
    start, errors = threading.Barrier(8), []

    def publish_ten(thread: int) -> None:
        start.wait()
        try:
            for i in range(10):
                _publish(board, f"t{thread} r{i}", accuracy=(thread * 10 + i) / 100)
        except Exception as err:  # reported below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=publish_ten, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    entries = board.entries(limit=None)
    assert len(entries) == 80 and len({e.id for e in entries}) == 80
    assert {e.name for e in entries} == {f"t{t} r{i}" for t in range(8) for i in range(10)}


def test_one_publisher_racing_from_many_tabs_still_gets_only_three(where):
    board = Board(where)
    start, outcomes = threading.Barrier(8), []

    def try_once() -> None:
        start.wait()
        try:
            _publish(board, publisher="the-same-workspace")
            outcomes.append("published")
        except BoardError:
            outcomes.append("refused")

    threads = [threading.Thread(target=try_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["published"] * 3 + ["refused"] * 5
    assert len(board) == 3


CHILD = textwrap.dedent(
    """
    import sys, time, types
    from pathlib import Path

    # The package's __init__ would import TensorFlow (seconds per process); the board needs none.
    package = types.ModuleType("mnist_core")
    package.__path__ = [str(Path.cwd() / "mnist_core")]
    sys.modules["mnist_core"] = package
    from mnist_core.classroom.board import Board
    from mnist_core.config import PRESETS

    path, who, go = sys.argv[1:]
    Path(go + "." + who).touch()  # imported, ready
    while not Path(go).exists():
        time.sleep(0.005)
    board = Board(path)  # all three create the new file at once
    for i in range(20):
        board.publish(f"{who} {i}", PRESETS["codelab"], 1000 + i, i / 20, 100, 1.0, f"{who}-{i}")
    """
)


def test_several_server_processes_publishing_at_once_lose_nothing(tmp_path, where):
    # A file not made yet, or a database without its table: all three make it at once.
    path = tmp_path / "shared" / BOARD_FILE if isinstance(where, Path) else where
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), f"p{n}", str(go)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    deadline = time.monotonic() + 240
    while len(list(tmp_path.glob("go.p*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    for child in children:
        _, stderr = child.communicate(timeout=240)
        assert child.returncode == 0, stderr
    entries = Board(path).entries(limit=None)
    assert sorted(e.name for e in entries) == sorted(
        f"p{n} {i}" for n in range(3) for i in range(20)
    )


def test_the_command_line_lists_the_board_best_first(tmp_path, monkeypatch, capsys):
    board = Board(tmp_path / BOARD_FILE)
    for name, accuracy in [("second", 0.97), ("first", 0.99), ("third", 0.9)]:
        _publish(board, name, accuracy)
    assert main(["board", "list", "--data-dir", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)["entries"]
    assert [row["name"] for row in rows] == ["first", "second", "third"]
    assert TrainConfig.from_dict(rows[0]["config"]) == PRESETS["codelab"]
    assert main(["board", "list", "--data-dir", str(tmp_path), "--max-parameters", "10"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == []

    monkeypatch.setenv("DIGIT_LAB_BOARD_URL", "mysql://teacher@db/digits")
    assert main(["board", "list"]) == 2  # one line saying why, no traceback
    assert capsys.readouterr().err.startswith("error: DIGIT_LAB_BOARD_URL is mysql:")


def test_the_command_line_lists_and_clears_a_postgresql_board(postgres, monkeypatch, capsys):
    url = postgres.create_database("command_line")
    for name, accuracy in [("second", 0.97), ("first", 0.99)]:
        _publish(Board(url), name, accuracy)
    monkeypatch.setenv("DIGIT_LAB_BOARD_URL", url)
    assert main(["board", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listed["entries"]] == ["first", "second"]
    assert postgres.password not in listed["board"]
    assert main(["board", "clear"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == 2
    assert Board(url).entries() == []


def test_the_command_line_clears_the_board_in_the_data_folder(tmp_path):
    board = Board(tmp_path / BOARD_FILE)
    for i in range(3):
        _publish(board, f"run {i}")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DIGIT_LAB_DATA_DIR": str(tmp_path)}
    env.pop("DIGIT_LAB_BOARD_URL", None)
    cleared = subprocess.run(
        [sys.executable, "-m", "mnist_core", "board", "clear"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["removed"] == 3
    assert "Removed 3 entries" in cleared.stderr
    assert board.entries() == []
