"""The class board in one SQLite file, shared by the server processes of one machine: WAL mode
(readers never wait for a writer), `BEGIN IMMEDIATE` as the writer lock, each connection waiting
up to `busy_timeout` seconds for it. WAL needs a local disk: a network file system needs
PostgreSQL (board_postgres)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from mnist_core.classroom.board import BoardError
from mnist_core.i18n import _

_SCHEMA_VERSION = 2  # 2: entries.lesson
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


class SqliteStore:
    """The board in one SQLite file, shared by the server processes of one machine."""

    def __init__(self, path: str | os.PathLike, busy_timeout: float = 30.0) -> None:
        self.path, self.busy_timeout = Path(path), busy_timeout
        self.location = str(self.path)

    def create(self) -> None:
        """Make the folder, the file and its table, and switch it to WAL mode."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BoardError(
                _("Cannot make the board's folder {folder}: {error}").format(
                    folder=self.path.parent, error=err
                )
            ) from err
        with self.connection() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] == _SCHEMA_VERSION:
                return  # made already: opening it costs no write lock
        self._use_wal()
        with self.write() as conn:
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
                with self.connection() as conn:
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except BoardError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
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
    def write(self) -> Iterator[sqlite3.Connection]:
        """A connection holding the write lock; committed at the end, rolled back on error."""
        with self.connection() as conn:
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
