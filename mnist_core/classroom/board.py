"""The class leaderboard: published runs in a database that every server process shares.

By default the board is the SQLite file `board.sqlite3` in $DIGIT_LAB_DATA_DIR, by default
~/.cache/digit-lab (or $XDG_CACHE_HOME/digit-lab), made when first needed: enough for the server
processes of one machine. Servers on several machines share a PostgreSQL database instead:
$DIGIT_LAB_BOARD_URL=postgresql://user:password@host:port/database (see board_postgres).
`sqlite:///path/to/board.sqlite3` there names another SQLite file.

The Board's SQL is the same on both; a store (board_sqlite, board_postgres) supplies the
connections, the schema and the writer lock. Every operation opens its own connection, so any
thread may call any method, and each write holds the board's one writer lock for its whole
transaction, so the rate-limit check and the insert it allows cannot interleave with another
publisher's, whichever process or machine that publisher runs in. SQLite: WAL mode (readers
never wait for a writer), `BEGIN IMMEDIATE` as the lock, each connection waiting up to
`busy_timeout` seconds for it; WAL needs a local disk, so a network file system needs PostgreSQL.
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
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.i18n import _

BOARD_FILE = "board.sqlite3"
MAX_NAME_CHARS = 30
RATE_LIMIT = 3  # publications per publisher ...
RATE_WINDOW = 60.0  # ... in this many seconds
DEFAULT_LIMIT = 100
_SQLITE_URL = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")  # the two libpq reads

# Elements whose content is code, not text, and comments: removed whole.
_HIDDEN = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")  # what a browser reads as a tag; "3 < 5" is not one
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
    lesson: str | None = None  # the id of the lesson it was trained in (classroom/lessons.py)


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


class BoardStore(Protocol):
    """Where a Board keeps its entries: connections, the schema and the writer lock.

    A connection's `execute(sql, args)` takes the Board's SQL with `?` placeholders and returns
    a cursor (`fetchone`, `fetchall`, `rowcount`); its errors leave as BoardError.
    """

    location: str  # for messages: a path, or a URL without its password

    def create(self) -> None:
        """Make the entries table and its indexes unless they are there (safe to race)."""

    def connection(self) -> contextlib.AbstractContextManager:
        """A new connection in autocommit mode, closed afterwards."""

    def write(self) -> contextlib.AbstractContextManager:
        """A connection holding the board's writer lock, in a transaction committed at the end
        and rolled back on error."""


class Board:
    """The leaderboard in an SQLite file or a PostgreSQL database; safe to use from many threads
    and processes."""

    def __init__(
        self,
        where: str | os.PathLike,
        *,
        rate_limit: int = RATE_LIMIT,
        rate_window: float = RATE_WINDOW,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
    ) -> None:
        """`where`: an SQLite file's path, `sqlite:///path` or `postgresql://...`."""
        if rate_limit < 1 or rate_window <= 0:
            raise ValueError("The rate limit needs at least 1 run in a window above 0 seconds.")
        self.rate_limit, self.rate_window, self.clock = rate_limit, rate_window, clock
        self.store = open_store(where, busy_timeout)
        self.store.create()

    @property
    def location(self) -> str:
        """The file or database, as a message may show it (no password)."""
        return self.store.location

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None = None, **options) -> Board:
        """The board in `data_dir`, else at $DIGIT_LAB_BOARD_URL, else in default_data_dir()."""
        url = os.environ.get("DIGIT_LAB_BOARD_URL")
        if data_dir is not None:
            return cls(Path(data_dir) / BOARD_FILE, **options)
        return cls(url or default_data_dir() / BOARD_FILE, **options)

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
        with self.store.write() as conn:
            now = self.clock()
            self._check_rate(conn, who, now)
            (entry_id,) = conn.execute(
                "INSERT INTO entries (name, config, parameters, accuracy, test_images, seconds, "
                "published_at, publisher, lesson) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (name, json.dumps(config.to_dict()), *figures, now, who, lesson),
            ).fetchone()
        return BoardEntry(entry_id, name, config, *figures, published_at=now, lesson=lesson)

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
            "ORDER BY accuracy DESC, parameters ASC, published_at ASC, id ASC"
        )
        if limit is not None:
            query, args = f"{query} LIMIT ?", [*args, limit]
        with self.store.connection() as conn:
            rows = conn.execute(query, args).fetchall()
        return [_entry(row) for row in rows]

    def __len__(self) -> int:
        with self.store.connection() as conn:
            return conn.execute("SELECT COUNT(*) FROM entries", ()).fetchone()[0]

    def clear(self) -> int:
        """Remove every entry; how many there were."""
        with self.store.write() as conn:
            return conn.execute("DELETE FROM entries", ()).rowcount

    def _check_rate(self, conn, who: str, now: float) -> None:
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


def open_store(where: str | os.PathLike, busy_timeout: float = 30.0) -> BoardStore:
    """The store `where` names: a path, `sqlite:///path` or `postgresql://...` (BoardError for
    any other URL, rather than silently writing somewhere else)."""
    # Imported here: each store module names this one's BoardError (and psycopg is imported only
    # where PostgreSQL is used).
    from mnist_core.classroom.board_sqlite import SqliteStore

    if not isinstance(where, str) or "://" not in where:
        return SqliteStore(where, busy_timeout)
    scheme = where.split("://", 1)[0].lower()
    if where.startswith(_SQLITE_URL):
        return SqliteStore(where.removeprefix(_SQLITE_URL), busy_timeout)
    if scheme in POSTGRES_SCHEMES:
        from mnist_core.classroom.board_postgres import PostgresStore

        return PostgresStore(where, busy_timeout)
    raise BoardError(
        _(
            "DIGIT_LAB_BOARD_URL is {scheme}://..., but the board lives in SQLite ({sqlite}path) "
            "or PostgreSQL (postgresql://user:password@host:port/database)."
        ).format(scheme=scheme, sqlite=_SQLITE_URL)
    )


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
