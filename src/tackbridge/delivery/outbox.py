"""Enqueueing outbox jobs, in the caller's transaction, exactly once per idempotency key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tackbridge.store.schema import outbox
from tackbridge.store.upsert import insert_ignore


def enqueue(
    conn: Connection, *, kind: str, key: str, payload: dict[str, Any], now: datetime
) -> bool:
    """Add a job unless one with the same idempotency key exists; True if added."""
    return insert_ignore(
        conn,
        outbox,
        {
            "kind": kind,
            "idempotency_key": key,
            "payload": payload,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        },
        ("idempotency_key",),
    )
