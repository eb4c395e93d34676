"""Engines for the store: one for writes, one for reads.

On SQLite (the embedded default) the file runs in WAL mode so readers never block the writer,
and every write transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction that later
upgrades to a write fails at once with SQLITE_BUSY under concurrency, busy timeout or not.

On PostgreSQL (``postgresql+psycopg://``) one pooled engine serves both: the server runs
transactions side by side, and each process's writer thread holds one connection at a time.
A process uses at most ``pool_size + max_overflow`` connections, plus one of its own for each
worker's LISTEN (``store.wakeups``): size the server's ``max_connections`` for every process.
"""

from __future__ import annotations

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

    @property
    def is_postgresql(self) -> bool:
        return self.writer.dialect.name == "postgresql"

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def open_database(
    url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 8, max_overflow: int = 8
) -> Database:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(
            url,
            # A server restart or a proxy's idle timeout leaves dead connections in the pool.
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        return Database(url=url, writer=engine, reader=engine)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    synchronous = sqlite_synchronous.upper()
    if synchronous not in _SYNCHRONOUS:
        raise ValueError(f"sqlite_synchronous must be one of {sorted(_SYNCHRONOUS)}")
    writer = _sqlite_engine(url, synchronous=synchronous, begin="BEGIN IMMEDIATE")
    reader = _sqlite_engine(url, synchronous=synchronous, begin="BEGIN")
    return Database(url=url, writer=writer, reader=reader)


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
