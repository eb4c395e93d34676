"""Engines for the store: one for writes, one for reads.

On SQLite (the embedded default) the file is the owner's alone (0600, its -wal and -shm too);
it runs in WAL mode so readers never block the writer, and every write transaction starts with
``BEGIN IMMEDIATE``: a deferred transaction that later upgrades to a write fails at once with
SQLITE_BUSY under concurrency, busy timeout or not.

On PostgreSQL (``postgresql+psycopg://``) one pool serves both: the server runs transactions
side by side, and each process's writer thread holds one connection at a time; reads run in
autocommit (no BEGIN/ROLLBACK round trips), and only a connection idle for a while is pinged.
A process uses at most ``pool_size + max_overflow`` connections, plus one of its own for each
worker's LISTEN (``store.wakeups``): size the server's ``max_connections`` for every process.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}
#: A pooled PostgreSQL connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0
_RETURNED_AT = "tackbridge.returned_at"


@dataclass(frozen=True)
class Database:
    url: str
    writer: Engine
    reader: Engine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.writer.dialect.name == "postgresql"

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def open_database(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    busy_seconds: float = 30.0,
    read_busy_seconds: float | None = None,
    pool_size: int = 8,
    max_overflow: int = 8,
) -> Database:
    """``busy_seconds``: how long a SQLite connection waits for a lock another holds (the
    group-commit writer asks for the write lock in slices of its own: ``store/locks.py``);
    ``read_busy_seconds``: the same for the readers (default: ``busy_seconds``);
    ``pool_size``/``max_overflow``: PostgreSQL's connection pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = _server_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        # Reads in autocommit: each statement sees what is committed (READ COMMITTED gives no
        # more to a read transaction), and a read costs no BEGIN and no ROLLBACK round trip.
        # The same pool: the setting is the checkout's, undone when the connection returns.
        autocommit: Engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        return Database(url=url, writer=engine, reader=autocommit)

    if (
        parsed.database
        and parsed.database != ":memory:"
        and not parsed.database.startswith("file:")
    ):
        private_file(Path(parsed.database))
    synchronous = sqlite_synchronous.upper()
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {sorted(_SYNCHRONOUS)}")
    busy_ms = max(1, int(busy_seconds * 1000))
    writer = _sqlite_engine(url, synchronous=synchronous, begin="BEGIN IMMEDIATE", busy_ms=busy_ms)
    read_ms = busy_ms if read_busy_seconds is None else max(1, int(read_busy_seconds * 1000))
    reader = _sqlite_engine(url, synchronous=synchronous, begin="BEGIN", busy_ms=read_ms)
    return Database(url=url, writer=writer, reader=reader)


def _server_engine(url: str, *, pool_size: int, max_overflow: int) -> Engine:
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)

    # A server restart or a proxy's idle timeout leaves dead connections in the pool. Only a
    # connection that sat unused for a while is pinged on checkout (``pool_pre_ping`` would
    # ping every one: a round trip more for each batch of the writer and each read); one that
    # dies in use fails its statement, and the pool then drops every connection it held.
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out another (a fresh one if need be).
            raise DisconnectionError(f"an idle connection is gone: {exc}") from exc

    return engine


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


def _sqlite_engine(url: str, *, synchronous: str, begin: str, busy_ms: int) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
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
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine
