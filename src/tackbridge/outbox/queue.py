"""Enqueueing outbox jobs, in the caller's transaction, exactly once per idempotency key."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from tackbridge.outbox.kinds import JobKind
from tackbridge.store.schema import outbox
from tackbridge.store.upsert import insert_ignore
from tackbridge.store.wakeups import notify_outbox

__all__ = ["enqueue"]

P = TypeVar("P")


def enqueue(
    conn: Connection, kind: JobKind[P], payload: P, *, now: datetime, due: datetime | None = None
) -> bool:
    """Add a job of ``kind`` unless one with the same idempotency key (``kind.key_of``) exists;
    True if added. ``due``: not before then (default: now). On PostgreSQL, workers in other
    processes are woken when the transaction commits (``store.wakeups``)."""
    added = insert_ignore(
        conn,
        outbox,
        {
            "kind": kind.name,
            "idempotency_key": kind.key_of(payload),
            "payload": kind.dump(payload),
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now if due is None else due,
            "created_at": now,
            "updated_at": now,
        },
        ("idempotency_key",),
    )
    if added:
        notify_outbox(conn)
    return added
