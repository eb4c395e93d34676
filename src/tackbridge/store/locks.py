"""The store's locks: the write lock, waited for no longer than a write's callers wait; and
store-wide locks for work that must run in one process at a time.

On SQLite another process (a ``tackbridge worker``, a backup, an operator's ``sqlite3`` shell)
can hold the write lock for as long as it likes. The connection's busy timeout would make every
write wait for it in one go; instead the writer asks for the lock in short slices, and between
slices it looks whether anybody still waits for the write: a request that would rather answer
503 than hang gives up on its own deadline, and once every unit of a batch has given up, the
batch is dropped before any of it ran (nothing half-written). PostgreSQL takes no such lock at
``BEGIN``: there, the transaction simply begins.

Store-wide locks: on PostgreSQL a transaction-scoped advisory lock (``pg_advisory_xact_lock``):
held until the transaction ends, released by the server if the process dies, never left behind.
On SQLite a write transaction (``BEGIN IMMEDIATE``, see ``store.database``) already excludes
every other writer of the file, so the lock is the transaction itself. Each lock has a fixed
64-bit key, spelled out here so that no two uses share one by accident.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

__all__ = [
    "SLICE_SECONDS",
    "Lock",
    "is_busy",
    "try_xact_lock",
    "write_transaction",
    "xact_lock",
]

#: The longest one try for the lock waits before the writer looks again who still waits.
SLICE_SECONDS = 0.1

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is locked by someone else (SQLITE_BUSY / _LOCKED)."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    code = getattr(orig, "sqlite_errorcode", None)
    return code in _BUSY or "database is locked" in str(orig)


@contextmanager
def write_transaction(
    engine: Engine, time_left: Callable[[], float]
) -> Iterator[Connection | None]:
    """A write transaction (committed when the block ends, rolled back if it raises), or
    ``None`` when the lock was not had before ``time_left()`` (seconds anyone still waits)
    dropped to 0. Other errors at ``BEGIN`` (a full disk) raise as they would."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as began:
            yield began
        return
    conn = _lock(engine, time_left)
    if conn is None:
        yield None
        return
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    else:
        conn.commit()
    finally:
        conn.close()


def _lock(engine: Engine, time_left: Callable[[], float]) -> Connection | None:
    while True:
        left = time_left()
        if left <= 0:
            return None
        conn = engine.connect()
        raw = conn.connection.driver_connection
        assert raw is not None
        (configured,) = raw.execute("PRAGMA busy_timeout").fetchone()
        slice_ms = max(1, int(min(left, SLICE_SECONDS) * 1000))
        raw.execute(f"PRAGMA busy_timeout={slice_ms}")
        try:
            conn.begin()
        except OperationalError as exc:
            raw.execute(f"PRAGMA busy_timeout={int(configured)}")
            conn.close()
            if not is_busy(exc):
                raise
            # SQLite's busy handler slept through the slice; a tight loop here cannot happen
            # unless the lock is refused at once (another connection's EXCLUSIVE lock in
            # rollback-journal mode): then pause a little ourselves.
            time.sleep(0.001)
            continue
        raw.execute(f"PRAGMA busy_timeout={int(configured)}")
        return conn


class Lock(IntEnum):
    # 0x7462 is "tb": keys of ours, away from small numbers another application may use.
    MIGRATIONS = 0x7462_0001


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")


def xact_lock(conn: Connection, lock: Lock) -> None:
    """Wait for ``lock``, held until ``conn``'s transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"key": int(lock)})


def try_xact_lock(conn: Connection, lock: Lock) -> bool:
    """Take ``lock`` for ``conn``'s transaction if it is free; False if another holds it."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(_TRY_LOCK, {"key": int(lock)}).scalar_one())
