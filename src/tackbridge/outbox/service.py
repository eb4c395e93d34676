"""Outbox jobs as operators see them: list, inspect, retry or replay.

A retry runs the kind's ``on_requeue`` hooks (``kinds.Bound.requeue``) in the same transaction,
so state that mirrors a job (a reply's delivery state) follows it back to ``queued``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, String, cast, select, update

from tackbridge.core.clock import utc
from tackbridge.outbox.kinds import Bound
from tackbridge.store.schema import delivery_attempts, outbox

STATES = ("pending", "running", "done", "dead")


class AttemptView(BaseModel):
    attempt: int
    worker: str
    startedAt: datetime
    finishedAt: datetime
    outcome: str
    statusCode: int | None = None
    error: dict[str, Any] | None = None


class JobView(BaseModel):
    id: int
    kind: str
    idempotencyKey: str
    state: str
    attempts: int
    payload: dict[str, Any]
    nextAttemptAt: datetime
    leaseExpiresAt: datetime | None = None
    lastError: dict[str, Any] | None = None
    createdAt: datetime
    updatedAt: datetime


class JobDetail(JobView):
    history: list[AttemptView]


class JobPage(BaseModel):
    items: list[JobView]
    nextCursor: int | None = None


class RetryRefusedError(Exception):
    pass


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "idempotencyKey": row.idempotency_key,
        "state": row.state,
        "attempts": row.attempts,
        "payload": row.payload,
        "nextAttemptAt": utc(row.next_attempt_at),
        "leaseExpiresAt": utc(row.lease_expires_at),
        "lastError": row.last_error,
        "createdAt": utc(row.created_at),
        "updatedAt": utc(row.updated_at),
    }


def list_jobs(
    conn: Connection,
    *,
    state: str | None = None,
    kind: str | None = None,
    before: int | None = None,
    limit: int = 50,
    failing: bool = False,
) -> JobPage:
    """Jobs newest first; ``failing``: only those whose last attempt failed (a pending job
    waiting for its retry, or a dead one)."""
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit + 1)
    if failing:
        # A retried job's last_error is JSON null (the column keeps None as JSON): not failing.
        query = query.where(
            outbox.c.state != "done",
            outbox.c.last_error.is_not(None),
            cast(outbox.c.last_error, String) != "null",
        )
    if state:
        query = query.where(outbox.c.state == state)
    if kind:
        query = query.where(outbox.c.kind == kind)
    if before:
        query = query.where(outbox.c.id < before)
    rows = conn.execute(query).all()
    return JobPage(
        items=[JobView(**_view(r)) for r in rows[:limit]],
        nextCursor=rows[limit - 1].id if len(rows) > limit else None,
    )


def get_job(conn: Connection, job_id: int) -> JobDetail | None:
    row = conn.execute(select(outbox).where(outbox.c.id == job_id)).first()
    if row is None:
        return None
    attempts = conn.execute(
        select(delivery_attempts)
        .where(delivery_attempts.c.job_id == job_id)
        .order_by(delivery_attempts.c.id)
    ).all()
    history = [
        AttemptView(
            attempt=a.attempt,
            worker=a.worker,
            startedAt=utc(a.started_at),
            finishedAt=utc(a.finished_at),
            outcome=a.outcome,
            statusCode=a.status_code,
            error=a.error,
        )
        for a in attempts
    ]
    return JobDetail(**_view(row), history=history)


def retry_job(
    conn: Connection, job_id: int, now: datetime, kinds: Mapping[str, Bound[Any]] | None = None
) -> bool:
    """Make a job due now: a dead job gets a fresh schedule, a done job is replayed.

    Returns False when there is no such job; raises when it is running (its lease decides).
    """
    row = conn.execute(
        select(outbox.c.state, outbox.c.kind, outbox.c.payload).where(outbox.c.id == job_id)
    ).first()
    if row is None:
        return False
    if row.state == "running":
        raise RetryRefusedError("the job is running; wait for its attempt to finish")
    bound = (kinds or {}).get(row.kind)
    if bound is not None:
        bound.requeue(conn, row.payload)
    conn.execute(
        update(outbox)
        .where(outbox.c.id == job_id)
        .values(state="pending", attempts=0, next_attempt_at=now, updated_at=now, last_error=None)
    )
    return True
