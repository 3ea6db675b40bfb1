"""The class leaderboard: published runs in an SQLite file that every server process shares.

The file is `board.sqlite3` in $DIGIT_LAB_DATA_DIR, by default ~/.cache/digit-lab (or
$XDG_CACHE_HOME/digit-lab), made when first needed. Every operation opens its own connection, so
any thread may call any method, and several server processes may share the file: it is in WAL
mode (readers never wait for a writer), a connection waits up to `busy_timeout` seconds for a
lock, and each write is one `BEGIN IMMEDIATE` transaction, so the rate-limit check and the
insert it allows cannot interleave with another publisher's. WAL needs a local disk; a network
file system would need a server database instead.

PostgreSQL would plug in at `Board.from_env()`, the one place that decides where the board
lives: $DIGIT_LAB_BOARD_URL (`postgresql://user@host/db`) would select a Board whose `_connection`
returns a psycopg connection instead of sqlite3's. The SQL here is plain SQL on purpose; that
backend would change only the placeholders (`%s` for `?`), `id BIGSERIAL` for
`INTEGER PRIMARY KEY AUTOINCREMENT`, and the writer lock: `BEGIN; SELECT
pg_advisory_xact_lock(...)` for `BEGIN IMMEDIATE` (WAL and busy_timeout have no counterpart,
the server does that). This build has no PostgreSQL driver, so from_env refuses such a URL
rather than silently writing somewhere else; `sqlite:///path/to/board.sqlite3` is understood.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import math
import numbers
import os
import re
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.i18n import _

BOARD_FILE = "board.sqlite3"
MAX_NAME_CHARS = 30
RATE_LIMIT = 3  # publications per publisher ...
RATE_WINDOW = 60.0  # ... in this many seconds
DEFAULT_LIMIT = 100
_SCHEMA_VERSION = 2  # 2: entries.lesson
_SQLITE_URL = "sqlite:///"

# Elements whose content is code, not text, and comments: removed whole.
_HIDDEN = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")  # what a browser reads as a tag; "3 < 5" is not one
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    parameters INTEGER NOT NULL,
    accuracy REAL NOT NULL,
    test_images INTEGER NOT NULL,
    seconds REAL NOT NULL,
    published_at REAL NOT NULL,
    publisher TEXT NOT NULL,
    lesson TEXT
);
CREATE INDEX IF NOT EXISTS entries_rank ON entries (accuracy DESC, parameters, published_at, id);
CREATE INDEX IF NOT EXISTS entries_publisher ON entries (publisher, published_at);
"""
_COLUMNS = "id, name, config, parameters, accuracy, test_images, seconds, published_at, lesson"


class BoardError(ValueError):
    """A publication the board refuses, or a board that cannot be used; the message says why."""


@dataclass(frozen=True)
class BoardEntry:
    """One published run."""

    id: int
    name: str
    config: TrainConfig
    parameters: int
    accuracy: float  # on the test set, 0-1
    test_images: int  # how many test digits the accuracy was measured on
    seconds: float  # of training
    published_at: float  # Unix time
    lesson: str | None = None  # the id of the lesson it was trained in (mnist_core/lessons.py)


def default_data_dir() -> Path:
    """$DIGIT_LAB_DATA_DIR, or digit-lab in the user's cache folder (not created here)."""
    configured = os.environ.get("DIGIT_LAB_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "digit-lab"


def clean_name(name: str) -> str:
    """`name` without markup, control characters or runs of spaces, cut to MAX_NAME_CHARS."""
    if not isinstance(name, str):
        raise BoardError(f"A run's name is text, not {type(name).__name__}.")
    text = unicodedata.normalize("NFKC", html.unescape(name))
    text = _TAG.sub(" ", _HIDDEN.sub(" ", text)).replace("<", " ").replace(">", " ")
    # Tabs and line breaks become spaces; other control and format characters (zero-width
    # spaces, right-to-left overrides) go.
    text = "".join(c for c in text if c.isspace() or unicodedata.category(c)[0] != "C")
    text = " ".join(text.split())[:MAX_NAME_CHARS].rstrip()
    if not text:
        raise BoardError(
            _(
                "Give the run a name: letters, digits or signs (markup and control characters "
                "are removed)."
            )
        )
    return text


class Board:
    """The leaderboard in one SQLite file; safe to use from many threads and processes."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        rate_limit: int = RATE_LIMIT,
        rate_window: float = RATE_WINDOW,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
    ) -> None:
        if rate_limit < 1 or rate_window <= 0:
            raise ValueError("The rate limit needs at least 1 run in a window above 0 seconds.")
        self.path = Path(path)
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.clock, self.busy_timeout = clock, busy_timeout
        self._create()

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None = None, **options) -> Board:
        """The board in `data_dir`, else at $DIGIT_LAB_BOARD_URL, else in default_data_dir()."""
        url = os.environ.get("DIGIT_LAB_BOARD_URL")
        if data_dir is not None:
            return cls(Path(data_dir) / BOARD_FILE, **options)
        if url:
            if not url.startswith(_SQLITE_URL):
                raise BoardError(
                    _(
                        "DIGIT_LAB_BOARD_URL is {scheme}:..., but this Digit Lab only stores the "
                        "board in SQLite ({sqlite}path); unset it to use {path}."
                    ).format(
                        scheme=url.split(":", 1)[0],
                        sqlite=_SQLITE_URL,
                        path=default_data_dir() / BOARD_FILE,
                    )
                )
            return cls(url.removeprefix(_SQLITE_URL), **options)
        return cls(default_data_dir() / BOARD_FILE, **options)

    def publish(
        self,
        name: str,
        config: TrainConfig,
        parameters: int,
        test_accuracy: float,
        test_images: int,
        train_seconds: float,
        publisher: str,
        lesson: str | None = None,
    ) -> BoardEntry:
        """Add a run under a cleaned `name`, from `lesson` if given (its id); BoardError if
        refused or `publisher` is too quick."""
        _check_numbers(parameters, test_accuracy, test_images, train_seconds)
        if not isinstance(config, TrainConfig):
            raise BoardError(f"A run's config is a TrainConfig, not {type(config).__name__}.")
        if not isinstance(publisher, str) or not publisher:
            raise BoardError("Publishing needs a publisher (who is publishing), for the limit.")
        if lesson is not None and (not isinstance(lesson, str) or not lesson):
            raise BoardError(f"A lesson is named by its id, not {lesson!r}.")
        name = clean_name(name)
        figures = (int(parameters), float(test_accuracy), int(test_images), float(train_seconds))
        who = hashlib.sha256(publisher.encode()).hexdigest()  # workspace tokens are secrets
        with self._write() as conn:
            now = self.clock()
            self._check_rate(conn, who, now)
            cursor = conn.execute(
                "INSERT INTO entries (name, config, parameters, accuracy, test_images, seconds, "
                "published_at, publisher, lesson) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, json.dumps(config.to_dict()), *figures, now, who, lesson),
            )
        return BoardEntry(cursor.lastrowid, name, config, *figures, published_at=now, lesson=lesson)

    def entries(
        self,
        max_parameters: int | None = None,
        limit: int | None = DEFAULT_LIMIT,
        lesson: str | None = None,
    ) -> list[BoardEntry]:
        """The best runs first (ties: fewer parameters, then earlier), within a parameter budget,
        and only those of `lesson` (its id) if given."""
        conditions, args = [], []
        if max_parameters is not None:
            conditions.append("parameters <= ?")
            args.append(max_parameters)
        if lesson is not None:
            conditions.append("lesson = ?")
            args.append(lesson)
        where = "WHERE " + " AND ".join(conditions) if conditions else ""
        query = (
            f"SELECT {_COLUMNS} FROM entries {where} "
            "ORDER BY accuracy DESC, parameters ASC, published_at ASC, id ASC LIMIT ?"
        )
        with self._connection() as conn:
            rows = conn.execute(query, (*args, -1 if limit is None else limit)).fetchall()
        return [_entry(row) for row in rows]

    def __len__(self) -> int:
        with self._connection() as conn:
            return conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def clear(self) -> int:
        """Remove every entry; how many there were."""
        with self._write() as conn:
            return conn.execute("DELETE FROM entries").rowcount

    def _check_rate(self, conn: sqlite3.Connection, who: str, now: float) -> None:
        """BoardError, saying how long to wait, once `who` used up the limit in the window."""
        recent = conn.execute(
            "SELECT published_at FROM entries WHERE publisher = ? AND published_at > ? "
            "ORDER BY published_at DESC LIMIT ?",
            (who, now - self.rate_window, self.rate_limit),
        ).fetchall()
        if len(recent) < self.rate_limit:
            return
        wait = max(1, math.ceil(recent[-1][0] + self.rate_window - now))
        raise BoardError(
            _(
                "You published {n} runs in the last {window} seconds; wait {wait} s before "
                "publishing another."
            ).format(n=self.rate_limit, window=f"{self.rate_window:g}", wait=wait)
        )

    def _create(self) -> None:
        """Make the folder, the file and its table, and switch it to WAL mode."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BoardError(
                _("Cannot make the board's folder {folder}: {error}").format(
                    folder=self.path.parent, error=err
                )
            ) from err
        with self._connection() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] == _SCHEMA_VERSION:
                return  # made already: opening it costs no write lock
        self._use_wal()
        with self._write() as conn:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            _add_lesson_column(conn)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _use_wal(self) -> None:
        """Switch the file to WAL mode (kept by the file: once is enough).

        SQLite answers "database is locked" at once, without waiting, when another process is
        switching or creating the same file: so wait here, up to `busy_timeout`.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                with self._connection() as conn:
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except BoardError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A new connection in autocommit mode, closed afterwards; sqlite errors as BoardError."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as err:
            raise BoardError(
                _("Cannot open the board {path}: {error}").format(path=self.path, error=err)
            ) from err
        try:
            yield conn
        except sqlite3.Error as err:
            raise BoardError(
                _("The board {path} cannot be used right now: {error}").format(
                    path=self.path, error=err
                )
            ) from err
        finally:
            conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection holding the write lock; committed at the end, rolled back on error."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # sqlite may have rolled back already
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _add_lesson_column(conn: sqlite3.Connection) -> None:
    """Give a board made before lessons its nullable `lesson` column and index (standard SQL;
    the columns are read from the cursor's DB-API description, not from SQLite's pragmas)."""
    columns = [column[0] for column in conn.execute("SELECT * FROM entries LIMIT 0").description]
    if "lesson" not in columns:
        conn.execute("ALTER TABLE entries ADD COLUMN lesson TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS entries_lesson ON entries (lesson, accuracy DESC)")


def _check_numbers(parameters: int, accuracy: float, test_images: int, seconds: float) -> None:
    """BoardError naming the first figure that cannot be a real run's."""
    checks = [
        (_whole(parameters) and parameters >= 0, f"parameters must be 0 or more, not {parameters}"),
        (
            _real(accuracy) and 0 <= accuracy <= 1,
            f"test accuracy must be from 0 to 1, not {accuracy}",
        ),
        (
            _whole(test_images) and test_images >= 1,
            f"test images must be 1 or more, not {test_images}",
        ),
        (_real(seconds) and seconds >= 0, f"training seconds must be 0 or more, not {seconds}"),
    ]
    for ok, problem in checks:
        if not ok:
            raise BoardError(f"Cannot publish: {problem}.")


def _whole(value: object) -> bool:
    """True for an integer, NumPy's included (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value: object) -> bool:
    """True for a finite real number, NumPy's included (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _entry(row: tuple) -> BoardEntry:
    """A BoardEntry from a row of _COLUMNS."""
    entry_id, name, config, parameters, accuracy, test_images, seconds, published_at, lesson = row
    try:
        parsed = TrainConfig.from_dict(json.loads(config))
    except (ConfigError, ValueError, TypeError) as err:
        raise BoardError(
            _("Board entry {id} holds a config this Digit Lab cannot read.").format(id=entry_id)
        ) from err
    return BoardEntry(
        entry_id, name, parsed, parameters, accuracy, test_images, seconds, published_at, lesson
    )
