"""A throw-away PostgreSQL server for the tests and the replica rehearsal.

`initdb` and `pg_ctl` from the machine's PostgreSQL (Debian's `postgresql` package puts them in
/usr/lib/postgresql/<version>/bin) make a cluster in a temporary folder, listening on a free
loopback port and on a socket in that folder only, with a password (so URLs carry one, as in
production). As root the server runs as the `postgres` user: PostgreSQL refuses to run as root.
Durability is off (fsync): the data is thrown away with the folder.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.browser import free_port

USER = "digit_lab"
# $DIGIT_LAB_REQUIRE_POSTGRES=1 (CI sets it) makes a missing PostgreSQL a failure, not a skip.
REQUIRE = "DIGIT_LAB_REQUIRE_POSTGRES"


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: the newest of Debian's, else on $PATH; None if none."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for folder in reversed(debian):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


@dataclass
class PostgresServer:
    """A running throw-away server; `url(db)` connects to database `db` as its superuser."""

    folder: Path
    bindir: Path
    port: int
    password: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def start(self, timeout: float = 60) -> None:
        """Start the server (again), once it accepts connections (RuntimeError with its log
        if it cannot start)."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        log = self.folder / "server.log"
        try:
            _run_as_owner(
                [
                    self.bindir / "pg_ctl",
                    "-D",
                    self.folder / "data",
                    "-l",
                    log,
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "start",
                ]
            )
        except subprocess.CalledProcessError as err:
            text = log.read_text()[-2000:] if log.is_file() else ""
            raise RuntimeError(f"PostgreSQL did not start: {err.stderr}\n{text}") from err

    def halt(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (`start` brings it back); `fast` ends its
        connections and writes what was committed, `immediate` just ends it."""
        _run_as_owner(
            [self.bindir / "pg_ctl", "-D", self.folder / "data", "-m", mode, "stop"],
            check=False,
        )

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        self.halt("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(timeout: float = 60) -> PostgresServer:
    """A new cluster in a temporary folder, started and accepting connections.

    RuntimeError (with the server's log) if it cannot start; LookupError if no PostgreSQL
    binaries are installed.
    """
    bindir = find_bindir()
    if bindir is None:
        raise LookupError("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="digit-lab-postgres-"))
    password = secrets.token_urlsafe(16)
    (folder / "password").write_text(password + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (folder, folder / "password"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(folder, bindir, free_port(), password)
    try:
        _run_as_owner(
            [
                bindir / "initdb",
                "-D",
                folder / "data",
                "-U",
                USER,
                "-A",
                "scram-sha-256",
                f"--pwfile={folder / 'password'}",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
            ]
        )
        server.start(timeout)
    except subprocess.CalledProcessError as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {err.stderr}") from err
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server


def _run_as_owner(command: list, check: bool = True) -> subprocess.CompletedProcess:
    """`command` as the postgres user when this is root, else as this user."""
    command = [str(part) for part in command]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)
