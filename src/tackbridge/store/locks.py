"""Store-wide locks for work that must run in one process at a time.

On PostgreSQL a transaction-scoped advisory lock (``pg_advisory_xact_lock``): held until the
transaction ends, released by the server if the process dies, never left behind. On SQLite a
write transaction (``BEGIN IMMEDIATE``, see ``store.database``) already excludes every other
writer of the file, so the lock is the transaction itself.

Each lock has a fixed 64-bit key, spelled out here so that no two uses share one by accident.
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import Connection, text

__all__ = ["Lock", "try_xact_lock", "xact_lock"]


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
