"""Enqueueing outbox jobs, in the caller's transaction, exactly once per idempotency key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection

from tackbridge.outbox.kinds import JobKind
from tackbridge.store.schema import outbox
from tackbridge.store.upsert import insert_ignore, insert_ignore_many_statement
from tackbridge.store.wakeups import notify_outbox

__all__ = ["enqueue", "enqueue_many"]

P = TypeVar("P")


def enqueue(
    conn: Connection, kind: JobKind[P], payload: P, *, now: datetime, due: datetime | None = None
) -> bool:
    """Add a job of ``kind`` unless one with the same idempotency key (``kind.key_of``) exists;
    True if added. ``due``: not before then (default: now). On PostgreSQL, workers in other
    processes are woken when the transaction commits (``store.wakeups``)."""
    added = insert_ignore(conn, outbox, _row(kind, payload, now, due), ("idempotency_key",))
    if added:
        notify_outbox(conn)
    return added


def enqueue_many(conn: Connection, jobs: Sequence[tuple[JobKind[Any], Any, datetime]]) -> None:
    """``enqueue`` each (kind, payload, now), due now, in one statement (``executemany``)."""
    if not jobs:
        return
    stmt = insert_ignore_many_statement(conn.dialect.name, outbox, ("idempotency_key",))
    conn.execute(stmt, [_row(kind, payload, now, None) for kind, payload, now in jobs])
    # executemany's row count is not reliable on every driver: wake the workers regardless
    # (one notification per transaction at most).
    notify_outbox(conn)


def _row(kind: JobKind[P], payload: P, now: datetime, due: datetime | None) -> dict[str, Any]:
    return {
        "kind": kind.name,
        "idempotency_key": kind.key_of(payload),
        "payload": kind.dump(payload),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now if due is None else due,
        "created_at": now,
        "updated_at": now,
    }
