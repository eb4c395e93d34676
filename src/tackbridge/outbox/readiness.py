"""Whether the outbox can make progress: the checks behind ``/readyz``.

Each check takes what it looks at (the database, a worker's health facts, the handled kinds,
the time) and returns the reasons it is not ready, so that each can be tried on its own. They
block (the write probe for up to its timeout): call them off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, text

from tackbridge.store.database import Database
from tackbridge.store.schema import outbox

log = logging.getLogger("tackbridge.outbox")


@dataclass(frozen=True)
class WorkerHealth:
    """What readiness needs to know about a worker, read from any thread."""

    running: bool
    started_at: datetime | None
    # The last claim that the store completed (whether or not it found due jobs).
    last_claim_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    # Failures since the last success (claims and settles counted apart; the larger one).
    failures: int
    in_flight: int
    # Every slot taken (or too few free to claim for): no claim is expected until jobs finish.
    saturated: bool


#: How long the write probe waits for the store's write lock.
PROBE_TIMEOUT_SECONDS = 1.0
#: A worker that has completed no claim for this long, with due jobs, is stalled (unless the
#: ``TACKBRIDGE_WORKER_STALL_SECONDS`` setting says otherwise) ...
MIN_STALL_SECONDS = 10.0
#: ... or for this many poll intervals, if longer: it claims at least once a poll when idle.
STALL_POLLS = 5


@dataclass(frozen=True)
class Reason:
    """One reason not to send traffic here: which check, and what it found."""

    check: str
    detail: str
    facts: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"check": self.check, "detail": self.detail}
        if self.facts:
            body.update(self.facts)
        return body


def stall_after(configured: float | None, poll_seconds: float) -> float:
    """The seconds without a completed claim after which a worker with due jobs is stalled."""
    if configured is not None:
        return configured
    return max(MIN_STALL_SECONDS, STALL_POLLS * poll_seconds)


def store_writable(db: Database, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> Reason | None:
    """Write to the store and roll back, waiting ``timeout`` at most for the write lock."""
    try:
        if db.is_sqlite:
            _probe_sqlite(db, timeout)
        else:
            _probe_postgresql(db, timeout)
    except Exception as exc:
        return Reason("store", f"the store takes no writes: {type(exc).__name__}: {exc}"[:500])
    return None


def _probe_sqlite(db: Database, timeout: float) -> None:
    # On a connection of the writer's, so that it is set up as the writes are (its limits, its
    # pragmas); its 30 s lock wait is shortened for the probe and put back after.
    with db.writer.connect() as conn:
        raw: Any = conn.connection.driver_connection
        (previous,) = raw.execute("PRAGMA busy_timeout").fetchone()
        raw.execute(f"PRAGMA busy_timeout={max(1, int(timeout * 1000))}")
        try:
            with conn.begin() as transaction:  # BEGIN IMMEDIATE: takes the write lock
                # Larger than a page, so that it needs pages the database may not have room
                # for (a full disk, max_page_count); rolled back, it never reaches the file.
                conn.execute(_PROBE_ROW)
                transaction.rollback()
        finally:
            try:
                raw.execute(f"PRAGMA busy_timeout={int(previous)}")
            except Exception:
                conn.invalidate()  # never back in the pool with the probe's short wait


def _probe_postgresql(db: Database, timeout: float) -> None:
    millis = max(1, int(timeout * 1000))
    with db.writer.connect() as conn, conn.begin() as transaction:
        conn.execute(text(f"SET LOCAL lock_timeout = {millis}"))
        conn.execute(text(f"SET LOCAL statement_timeout = {millis}"))
        # A transaction id is only handed out where writes are possible (not on a standby or
        # a read-only transaction); ROW EXCLUSIVE is what UPDATE takes, so only a lock that
        # would stop claims and settles (a migration's, an operator's LOCK) makes this wait.
        conn.execute(text("SELECT txid_current()"))
        conn.execute(text("LOCK TABLE outbox IN ROW EXCLUSIVE MODE"))
        transaction.rollback()


_PROBE_ROW = outbox.insert().values(
    kind="readiness.probe",
    idempotency_key="readiness.probe",
    payload={"probe": "x" * 8192},
    state="probe",
    attempts=0,
    next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC),
    created_at=datetime(2000, 1, 1, tzinfo=UTC),
    updated_at=datetime(2000, 1, 1, tzinfo=UTC),
)


def due_jobs(conn: Connection, kinds: Collection[str], now: datetime) -> int:
    """Jobs of these kinds that a worker would claim now."""
    if not kinds:
        return 0
    due = or_(
        and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= now),
        and_(outbox.c.state == "running", outbox.c.lease_expires_at < now),
    )
    query = select(func.count()).select_from(outbox).where(outbox.c.kind.in_(list(kinds)), due)
    return int(conn.execute(query).scalar_one())


def unregistered_kinds(conn: Connection, kinds: Collection[str]) -> dict[str, int]:
    """Pending jobs, by kind, of the kinds no handler is registered for: nothing runs them."""
    query = select(outbox.c.kind, func.count()).where(outbox.c.state == "pending")
    if kinds:
        query = query.where(outbox.c.kind.not_in(list(kinds)))
    rows = conn.execute(query.group_by(outbox.c.kind).order_by(outbox.c.kind)).all()
    return {kind: int(count) for kind, count in rows}


def unregistered_reason(unknown: dict[str, int]) -> Reason | None:
    if not unknown:
        return None
    names = ", ".join(f"{kind} ({count})" for kind, count in unknown.items())
    return Reason(
        "jobs",
        f"pending jobs of kinds no handler is registered for: {names}",
        {"unregisteredKinds": unknown},
    )


def worker_reasons(
    health: WorkerHealth, *, due: int, now: datetime, stall_seconds: float
) -> list[Reason]:
    """A worker that is not running, whose store writes fail, or that has due jobs but has not
    completed a claim for ``stall_seconds`` (a worker with every slot busy is not expected to
    claim, and is not counted as stalled)."""
    if not health.running:
        return [Reason("worker", "the outbox worker is not running")]
    reasons: list[Reason] = []
    if health.failures:
        reasons.append(
            Reason(
                "worker",
                f"the outbox worker's store writes are failing: {health.last_error}",
                {"failures": health.failures, "since": _iso(health.last_error_at)},
            )
        )
    since = health.last_claim_at or health.started_at
    if due and not health.saturated and since is not None:
        idle = (now - since).total_seconds()
        if idle > stall_seconds:
            reasons.append(
                Reason(
                    "worker",
                    f"{due} due jobs, but the outbox worker has completed no claim "
                    f"for {idle:.0f} s",
                    {"dueJobs": due, "lastClaimAt": _iso(health.last_claim_at)},
                )
            )
    return reasons


def outbox_reasons(
    db: Database,
    *,
    kinds: Collection[str],
    worker: WorkerHealth | None,
    now: datetime,
    stall_seconds: float,
    probe_timeout: float = PROBE_TIMEOUT_SECONDS,
) -> list[Reason]:
    """Every reason the outbox cannot make progress; ``worker`` is None in a process that runs
    no worker (its checks are skipped then)."""
    reasons: list[Reason] = []
    if (unwritable := store_writable(db, timeout=probe_timeout)) is not None:
        reasons.append(unwritable)
    with db.reader.connect() as conn:
        if (unknown := unregistered_reason(unregistered_kinds(conn, kinds))) is not None:
            reasons.append(unknown)
        if worker is not None:
            # Counted only when it matters: a worker that claims regularly is not stalled.
            since = worker.last_claim_at or worker.started_at
            overdue = since is not None and (now - since).total_seconds() > stall_seconds
            due = due_jobs(conn, kinds, now) if worker.running and overdue else 0
            reasons += worker_reasons(worker, due=due, now=now, stall_seconds=stall_seconds)
    return reasons


def log_unregistered(unknown: dict[str, int]) -> None:
    """At a worker's start: jobs nothing will run are an operator's problem, said once."""
    if (reason := unregistered_reason(unknown)) is not None:
        log.error("outbox: %s", reason.detail)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
