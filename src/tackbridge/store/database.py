"""Engines for the store: one for writes, one for reads.

On SQLite (the embedded default) the file is the owner's alone (0600, its -wal and -shm too);
it runs in WAL mode so readers never block the writer, and every write transaction starts with
``BEGIN IMMEDIATE``: a deferred transaction that later upgrades to a write fails at once with
SQLITE_BUSY under concurrency, busy timeout or not.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}


@dataclass(frozen=True)
class Database:
    url: str
    writer: Engine
    reader: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def open_database(url: str, *, sqlite_synchronous: str = "FULL") -> Database:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, future=True)
        return Database(url=url, writer=engine, reader=engine)

    if (
        parsed.database
        and parsed.database != ":memory:"
        and not parsed.database.startswith("file:")
    ):
        private_file(Path(parsed.database))
    synchronous = sqlite_synchronous.upper()
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {sorted(_SYNCHRONOUS)}")
    writer = _sqlite_engine(url, synchronous=synchronous, begin="BEGIN IMMEDIATE")
    reader = _sqlite_engine(url, synchronous=synchronous, begin="BEGIN")
    return Database(url=url, writer=writer, reader=reader)


def private_file(path: Path) -> None:
    """Make the SQLite file (and its folder) the owner's alone before SQLite opens it: created
    0600 if new, narrowed to 0600 if it was wider. SQLite creates ``-wal`` and ``-shm`` with the
    database file's permissions; those already there are narrowed too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            continue


def _sqlite_engine(url: str, *, synchronous: str, begin: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so we can choose how BEGIN is spelled.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
