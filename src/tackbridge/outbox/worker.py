"""The outbox worker: claims due jobs, runs their handlers, records every attempt.

A claim is a lease: the job is ``running`` under this worker's name until ``lease_expires_at``.
A worker that dies mid-job leaves the lease to expire, and any worker then claims the job again,
so every job completes; handlers pass the job's idempotency key to the far side so that a
re-run after a crash has its effect once. Claims and completions are written through the
group-commit writer, which on SQLite also serialises them; on PostgreSQL the claim query skips
rows other workers have locked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from tackbridge.outbox.backoff import Backoff
from tackbridge.outbox.errors import JobError, NotYetError, PermanentError, RetryableError
from tackbridge.outbox.kinds import Bound, Handler, Job, JobKind
from tackbridge.store.schema import delivery_attempts, outbox
from tackbridge.store.writer import Writer

log = logging.getLogger("tackbridge.delivery")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Worker:
    writer: Writer
    # Every kind this worker runs: bound by the registry, or (tests, tools) a bare handler that
    # gets the stored JSON as its payload.
    handlers: Mapping[str, Bound[Any] | Handler[Any]]
    name: str = field(default_factory=worker_name)
    concurrency: int = 32
    lease_seconds: float = 60.0
    poll_seconds: float = 0.5
    # After a job finishes with nothing new announced, wait this long before claiming again, so
    # that the jobs finishing meanwhile share one claim (a write transaction) instead of one
    # each; new work announced with ``wake`` is claimed at once.
    gather_seconds: float = 0.02
    # Kinds claimed before any other when both are due: what a customer is waiting for (the
    # automatic first reply) goes ahead of CRM bookkeeping when the queue is long.
    first_kinds: frozenset[str] = frozenset()
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self._kinds_of: Mapping[str, Any] | None = None
        self._kinds: dict[str, Bound[Any]] = {}
        self.first_kinds = self.first_kinds | {
            name for name, bound in self.kinds.items() if bound.kind.priority > 0
        }
        self._wake = asyncio.Event()
        self._announced = False
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._refill_at = max(1, self.concurrency // 4)
        self.completed = 0

    @property
    def kinds(self) -> dict[str, Bound[Any]]:
        """``handlers`` with each bare handler bound to an untyped kind (rebuilt if replaced)."""
        if self._kinds_of is not self.handlers:
            self._kinds = {
                name: found if isinstance(found, Bound) else Bound(JobKind.untyped(name), found)
                for name, found in self.handlers.items()
            }
            self._kinds_of = self.handlers
        return self._kinds

    def wake(self) -> None:
        """New work may be due (called after an in-process enqueue)."""
        self._announced = True
        self._wake.set()

    async def run(self) -> None:
        """Claim and run jobs until ``stop``; in-flight jobs finish before it returns."""
        try:
            while not self._stopping:
                # Cleared before claiming, so a wake-up that comes during the claim is kept.
                self._wake.clear()
                self._announced = False
                free = self.concurrency - len(self._in_flight)
                # Refill in batches: claiming one job per freed slot would cost a write
                # transaction (and an fsync) per job on top of its settle.
                refill = free > 0 and (free >= self._refill_at or not self._in_flight)
                claimed = await self.claim(free) if refill and self.handlers else []
                for job in claimed:
                    task = asyncio.create_task(self._attempt(job), name=f"job-{job.id}")
                    self._in_flight.add(task)
                    task.add_done_callback(self._done)
                if not refill or len(claimed) < free:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                    if self._wake.is_set() and not self._announced and not self._stopping:
                        # Only a finished job (whose settle may have queued a follow-up):
                        # let others finish too, then claim for all of them at once.
                        await asyncio.sleep(self.gather_seconds)
        finally:
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # a slot is free

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def claim(self, limit: int) -> list[Job[Any]]:
        now = self.clock()
        until = now + timedelta(seconds=self.lease_seconds)
        kinds = sorted(self.handlers)
        first = [k for k in kinds if k in self.first_kinds]
        return await self.writer.run(
            lambda conn: _claim(conn, self.name, kinds, limit, now, until, first=first)
        )

    async def drain(self) -> int:
        """Run every due job to its next state, then return how many attempts ran (for tests
        and one-shot CLI use)."""
        ran = 0
        while claimed := await self.claim(self.concurrency):
            await asyncio.gather(*(self._attempt(job) for job in claimed))
            ran += len(claimed)
        return ran

    async def _attempt(self, job: Job[Any]) -> None:
        started = self.clock()
        bound = self.kinds[job.kind]
        outcome, status, error, retry_after = "done", None, None, None
        deferred = False
        try:
            try:
                job = dataclasses.replace(job, payload=bound.kind.parse(job.payload))
            except ValidationError as exc:
                raise PermanentError(f"the job's payload is not a {job.kind}: {exc}") from None
            await bound.handler(job)
        except PermanentError as exc:
            outcome, status, error = "dead", exc.status_code, _error(exc)
        except RetryableError as exc:
            outcome, status, error, retry_after = (
                "retry",
                exc.status_code,
                _error(exc),
                exc.retry_after,
            )
            deferred = isinstance(exc, NotYetError)
        except Exception as exc:  # a bug or an unexpected failure: retry, loudly
            log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempt)
            outcome, error = "retry", {"detail": f"{type(exc).__name__}: {exc}"[:500]}
        if outcome == "retry" and self.backoff.exhausted(job.attempt):
            outcome = "dead"
        finished = self.clock()
        next_at = None
        if outcome == "retry":
            next_at = finished + timedelta(
                seconds=self.backoff.delay(job.attempt, retry_after=retry_after)
            )
        if outcome == "dead":
            log.warning(
                "job %s (%s) is dead after %s attempts: %s", job.id, job.kind, job.attempt, error
            )
        await self.writer.run(
            lambda conn: _finish(
                conn,
                job,
                self.name,
                outcome,
                status,
                error,
                started,
                finished,
                next_at,
                bound.settle,
                attempt_outcome="deferred" if deferred and outcome == "retry" else outcome,
            )
        )
        if outcome == "done":
            self.completed += 1


def _error(exc: JobError) -> dict[str, Any]:
    error: dict[str, Any] = {"detail": exc.detail}
    if exc.status_code is not None:
        error["status"] = exc.status_code
    if exc.problem:
        error["problem"] = exc.problem
    return error


# Built once, executed with parameters (building Core statements per job costs more than running
# them). An UPDATE without values takes its SET columns from the parameters; the WHERE binds are
# named ``key_*`` because a bind named like a column is reserved for SET.
_ATTEMPT_INSERT = delivery_attempts.insert()
_SETTLE = update(outbox).where(
    outbox.c.id == bindparam("key_id"),
    outbox.c.lease_owner == bindparam("key_owner"),
    outbox.c.state == "running",
)


def _claim(
    conn: Connection,
    worker: str,
    kinds: list[str],
    limit: int,
    now: datetime,
    until: datetime,
    *,
    first: list[str] | None = None,
) -> list[Job[Any]]:
    rows = _claim_rows(conn, worker, first, limit, now, until) if first else []
    if len(rows) < limit:
        rows += _claim_rows(conn, worker, kinds, limit - len(rows), now, until)
    tried = _tried_before(conn, {r.id: r.attempts for r in rows})
    jobs = [
        Job(r.id, r.kind, r.idempotency_key, r.payload, r.attempts, r.created_at, r.id in tried)
        for r in rows
    ]
    return sorted(jobs, key=lambda j: j.id)


def _claim_rows(
    conn: Connection, worker: str, kinds: list[str], limit: int, now: datetime, until: datetime
) -> list[Any]:
    due = (
        select(outbox.c.id)
        .where(
            outbox.c.kind.in_(kinds),
            or_(
                and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= now),
                and_(outbox.c.state == "running", outbox.c.lease_expires_at < now),
            ),
        )
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(due.scalar_subquery()))
        .values(
            state="running",
            lease_owner=worker,
            lease_expires_at=until,
            attempts=outbox.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.idempotency_key,
            outbox.c.payload,
            outbox.c.attempts,
            outbox.c.created_at,
        )
    ).all()
    return list(rows)


def _tried_before(conn: Connection, attempts: dict[int, int]) -> set[int]:
    """The jobs an earlier attempt may have acted for: one recorded as anything but
    ``deferred``, or one whose claim was counted but never recorded (a crash mid-attempt; an
    operator's retry restarts the count, its recorded attempts remain)."""
    if not attempts:
        return set()
    deferred = func.sum(case((delivery_attempts.c.outcome == "deferred", 1), else_=0))
    rows = conn.execute(
        select(delivery_attempts.c.job_id, func.count(), deferred)
        .where(delivery_attempts.c.job_id.in_(list(attempts)))
        .group_by(delivery_attempts.c.job_id)
    ).all()
    recorded = {job_id: (int(total), int(later or 0)) for job_id, total, later in rows}
    tried: set[int] = set()
    for job_id, count in attempts.items():
        total, later = recorded.get(job_id, (0, 0))
        if total > later or count - 1 > later:
            tried.add(job_id)
    return tried


def _finish(
    conn: Connection,
    job: Job[Any],
    worker: str,
    outcome: str,
    status: int | None,
    error: dict[str, Any] | None,
    started: datetime,
    finished: datetime,
    next_at: datetime | None,
    settle: Callable[[Connection, Job[Any], str, datetime], None] | None = None,
    *,
    attempt_outcome: str | None = None,
) -> None:
    conn.execute(
        _ATTEMPT_INSERT,
        {
            "job_id": job.id,
            "attempt": job.attempt,
            "worker": worker,
            "started_at": started,
            "finished_at": finished,
            "outcome": attempt_outcome or outcome,
            "status_code": status,
            "error": error,
        },
    )
    values: dict[str, Any] = {
        "state": "pending" if outcome == "retry" else outcome,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": finished,
        "key_id": job.id,
        "key_owner": worker,
    }
    if next_at is not None:
        values["next_attempt_at"] = next_at
    if error is not None:
        values["last_error"] = error
    # Only the lease holder may settle the job: a worker whose lease expired mid-attempt
    # must not overwrite the state a newer attempt has written.
    settled = conn.execute(_SETTLE, values).rowcount
    if settled and settle is not None and outcome in ("done", "dead"):
        settle(conn, job, outcome, finished)
