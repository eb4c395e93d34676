"""The outbox worker: claims due jobs, runs their handlers, records every attempt.

A claim is a lease: the job is ``running`` under this worker's name until ``lease_expires_at``.
A worker that dies mid-job leaves the lease to expire, and any worker then claims the job again,
so every job completes; handlers pass the job's idempotency key to the far side so that a
re-run after a crash has its effect once. Claims and completions are written through the
group-commit writer, which on SQLite also serialises them; on PostgreSQL the claim query
locks the rows it takes (``FOR UPDATE SKIP LOCKED``) and skips rows another worker is
claiming, so workers in several processes share the queue and never take one job twice while
its lease holds.

Woken rather than polling: an enqueue in this process calls ``wake``; on PostgreSQL ``listen``
(``store.wakeups.listen``) wakes it on every commit that queued jobs, in any process. The poll
interval remains the fallback (SQLite across processes, a listening connection that is down).

The worker is supervised: a failure of its own (a claim or a settle that the store refused, a
bug outside a handler) is logged once per run of failures, pauses claiming with a bounded
backoff and never ends ``run``. An attempt that could not be recorded releases its job for a
retry as soon as the store takes writes again, instead of leaving it to its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from tackbridge.core import logs
from tackbridge.core.metrics import JOB_ATTEMPT_SECONDS, JOB_ATTEMPTS
from tackbridge.outbox.backoff import Backoff
from tackbridge.outbox.errors import JobError, NotYetError, PermanentError, RetryableError
from tackbridge.outbox.kinds import Bound, Handler, Job, JobKind
from tackbridge.outbox.readiness import WorkerHealth, log_unregistered, unregistered_kinds
from tackbridge.store.schema import delivery_attempts, outbox
from tackbridge.store.writer import Writer, WriterClosedError, waiting_at_most

log = logging.getLogger("tackbridge.outbox")


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
    # Wake-ups from other processes: run beside the loop, given ``wake`` (None: poll only).
    listen: Callable[[Callable[[], None]], Coroutine[Any, Any, None]] | None = None
    # The pause after a failure of the worker's own: doubling from the first to the cap, so a
    # store that is locked or full is not hammered, and a short outage costs a short pause.
    error_backoff_seconds: float = 0.1
    error_backoff_cap_seconds: float = 5.0
    # How long its writes (claims, settles, handlers' own) wait for a locked store; None:
    # the writer's own setting (what a request waits).
    store_wait_seconds: float | None = None

    def __post_init__(self) -> None:
        self._kinds_of: Mapping[str, Any] | None = None
        self._kinds: dict[str, Bound[Any]] = {}
        self.first_kinds = self.first_kinds | {
            name for name, bound in self.kinds.items() if bound.kind.priority > 0
        }
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._announced = False
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._refill_at = max(1, self.concurrency // 4)
        self.completed = 0
        self._running = False
        self._started_at: datetime | None = None
        self._last_claim_at: datetime | None = None
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        # Apart, so that claims that succeed do not hide settles that keep failing.
        self._claim_failures = 0
        self._settle_failures = 0
        self._paused_until = 0.0  # time.monotonic()

    def health(self) -> WorkerHealth:
        free = self.concurrency - len(self._in_flight)
        return WorkerHealth(
            running=self._running,
            started_at=self._started_at,
            last_claim_at=self._last_claim_at,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            failures=max(self._claim_failures, self._settle_failures),
            in_flight=len(self._in_flight),
            saturated=free < self._refill_at and bool(self._in_flight),
        )

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
        """Claim and run jobs until ``stop``; in-flight jobs finish before it returns. Nothing
        but ``stop`` (or cancelling the task) ends it: its own failures are logged and waited
        out."""
        with waiting_at_most(self.store_wait_seconds):
            await self._run()

    async def _run(self) -> None:
        self._running = True
        self._started_at = self.clock()
        # Beside the loop, not before it: a store that is locked at start-up must not hold up
        # the first claim for a look-up that only informs.
        report = asyncio.create_task(self._report_unregistered(), name="outbox-kinds")
        listening: asyncio.Task[None] | None = (
            None
            if self.listen is None
            else asyncio.create_task(self.listen(self.wake), name="outbox-wakeups")
        )
        try:
            while not self._stopping:
                try:
                    await self._step()
                except Exception as exc:  # a bug in the loop itself: keep going, loudly
                    self._failed("the worker loop", exc, claim=True, bug=True)
        finally:
            if listening is not None:
                listening.cancel()
            try:
                await asyncio.gather(
                    report,
                    *self._in_flight,
                    *([listening] if listening is not None else []),
                    return_exceptions=True,
                )
            finally:
                self._running = False

    async def _report_unregistered(self) -> None:
        kinds = list(self.handlers)
        try:
            unknown = await self.writer.run(lambda conn: unregistered_kinds(conn, kinds))
        except Exception:
            # Not worth holding the worker up for: /readyz names them once the store answers.
            log.warning("outbox worker: could not look for jobs of unregistered kinds")
            return
        log_unregistered(unknown)

    async def _step(self) -> None:
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            # Not woken by new work: the store refused the last write, hammering it won't help.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=wait)
            return
        # Cleared before claiming, so a wake-up that comes during the claim is kept.
        self._wake.clear()
        self._announced = False
        free = self.concurrency - len(self._in_flight)
        # Refill in batches: claiming one job per freed slot would cost a write
        # transaction (and an fsync) per job on top of its settle.
        refill = free > 0 and (free >= self._refill_at or not self._in_flight)
        claimed: list[Job[Any]] = []
        if refill and self.handlers:
            try:
                claimed = await self.claim(free)
            except Exception as exc:
                self._failed("claiming jobs", exc, claim=True)
                return
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

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # a slot is free
        # Retrieved here, so that asyncio never reports it as "never retrieved"; ``_attempt``
        # handles its own failures, so one arriving here is a bug in that handling.
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._failed(f"task {task.get_name()}", exc, claim=False, bug=True)

    def _failed(
        self,
        what: str,
        exc: BaseException,
        *,
        claim: bool,
        job: Job[Any] | None = None,
        bug: bool = False,
    ) -> None:
        """Note a failure of the worker's own and pause claiming for a while; ``bug``: one
        that no store failure explains, logged every time."""
        if claim:
            self._claim_failures += 1
            failures = self._claim_failures
        else:
            self._settle_failures += 1
            failures = self._settle_failures
        about = f" (job {job.id}, {job.kind}, attempt {job.attempt})" if job is not None else ""
        self._last_error = f"{what}{about}: {type(exc).__name__}: {exc}"[:500]
        self._last_error_at = self.clock()
        # Every job in flight may fail at once: the exponent is bounded so that it cannot
        # overflow a float, the delay by the cap.
        doubling = 2.0 ** min(failures - 1, 32)
        delay = min(self.error_backoff_cap_seconds, self.error_backoff_seconds * doubling)
        self._paused_until = max(self._paused_until, time.monotonic() + delay)
        if failures == 1 or bug:
            log.error(
                "outbox worker: %s%s failed; pausing claims (up to %gs) until the store "
                "accepts writes",
                what,
                about,
                self.error_backoff_cap_seconds,
                exc_info=exc,
            )
        else:
            # The first of a run was logged with its traceback; a locked or full store would
            # otherwise log the same failure every few seconds for as long as it lasts.
            log.debug("outbox worker: %s%s failed again (%d)", what, about, failures, exc_info=exc)

    def _succeeded(self, *, claim: bool) -> None:
        failures = self._claim_failures if claim else self._settle_failures
        if not failures:
            return
        if claim:
            self._claim_failures = 0
        else:
            self._settle_failures = 0
        log.warning(
            "outbox worker: %s work again after %d failure(s)",
            "claims" if claim else "settles",
            failures,
        )

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._stopped.set()

    async def claim(self, limit: int) -> list[Job[Any]]:
        now = self.clock()
        until = now + timedelta(seconds=self.lease_seconds)
        kinds = sorted(self.handlers)
        first = [k for k in kinds if k in self.first_kinds]
        claimed = await self.writer.run(
            lambda conn: _claim(conn, self.name, kinds, limit, now, until, first=first)
        )
        self._last_claim_at = now
        if self._claim_failures:
            self._succeeded(claim=True)
        return claimed

    async def drain(self) -> int:
        """Run every due job to its next state, then return how many attempts ran (for tests
        and one-shot CLI use)."""
        ran = 0
        with waiting_at_most(self.store_wait_seconds):
            while claimed := await self.claim(self.concurrency):
                await asyncio.gather(*(self._attempt(job) for job in claimed))
                ran += len(claimed)
        return ran

    async def _attempt(self, job: Job[Any]) -> None:
        """Run one attempt and record it; never raises (short of cancellation)."""
        started = self.clock()
        with logs.traced():  # the attempt's log lines share a trace ID
            try:
                await self._attempt_and_settle(job, started)
            except Exception as exc:  # outside the handler: the attempt could not be recorded
                self._failed("settling an attempt", exc, claim=False, job=job)
                await self._release(job, started, exc)

    async def _attempt_and_settle(self, job: Job[Any], started: datetime) -> None:
        began = time.perf_counter()  # the metric's time: self.clock may be a test's
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
        counted = "deferred" if deferred and outcome == "retry" else outcome
        # Batched: the attempts that finish together settle in one statement each.
        await self.writer.run_many(
            _finish_many,
            _Settle(
                job,
                self.name,
                outcome,
                status,
                error,
                started,
                finished,
                next_at,
                bound.settle,
                counted,
            ),
        )
        JOB_ATTEMPTS.labels(job.kind, counted).inc()
        JOB_ATTEMPT_SECONDS.labels(job.kind).observe(time.perf_counter() - began)
        if self._settle_failures:
            self._succeeded(claim=False)
        if outcome == "done":
            self.completed += 1

    async def _release(self, job: Job[Any], started: datetime, cause: Exception) -> None:
        """Hand a job whose attempt could not be recorded back for a retry now, rather than
        after its lease: retried with backoff while the store refuses writes, given up at
        ``stop`` or once the lease has lapsed (the lease then covers the job, as after a
        crash). The attempt is recorded as a retry, without the handler's ``settle``, which
        may be what failed."""
        detail = f"the attempt could not be recorded: {type(cause).__name__}: {cause}"
        error: dict[str, Any] = {"detail": detail[:500]}
        delay = self.error_backoff_seconds
        while True:
            now = self.clock()
            try:
                attempt = _Settle(
                    job=job,
                    worker=self.name,
                    outcome="retry",
                    status=None,
                    error=error,
                    started=started,
                    finished=now,
                    next_at=now,
                    settle=None,
                    attempt_outcome="retry",
                )
                await self.writer.run(partial(_finish_many, items=[attempt]))
            except WriterClosedError:
                return
            except Exception as exc:
                log.debug("outbox worker: releasing job %s failed", job.id, exc_info=exc)
            else:
                log.info("job %s (%s) released for a retry: %s", job.id, job.kind, error)
                return
            if self._stopping or (
                job.lease_expires_at is not None and self.clock() >= job.lease_expires_at
            ):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=delay)
            delay = min(self.error_backoff_cap_seconds, delay * 2)


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
        Job(
            r.id,
            r.kind,
            r.idempotency_key,
            r.payload,
            r.attempts,
            r.created_at,
            r.id in tried,
            until,
        )
        for r in rows
    ]
    return sorted(jobs, key=lambda j: j.id)


# Built once, run with parameters: a worker claims every few milliseconds under load, and
# building the statement cost more than running it.
_DUE = (
    select(outbox.c.id)
    .where(
        outbox.c.kind.in_(bindparam("kinds", expanding=True)),
        or_(
            and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= bindparam("now")),
            and_(outbox.c.state == "running", outbox.c.lease_expires_at < bindparam("now")),
        ),
    )
    .order_by(outbox.c.next_attempt_at, outbox.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(outbox)
    .where(outbox.c.id.in_(_DUE.scalar_subquery()))
    .values(
        state="running",
        lease_owner=bindparam("worker"),
        lease_expires_at=bindparam("until"),
        attempts=outbox.c.attempts + 1,
        updated_at=bindparam("now"),
    )
    .returning(
        outbox.c.id,
        outbox.c.kind,
        outbox.c.idempotency_key,
        outbox.c.payload,
        outbox.c.attempts,
        outbox.c.created_at,
    )
)


def _claim_rows(
    conn: Connection, worker: str, kinds: list[str], limit: int, now: datetime, until: datetime
) -> list[Any]:
    params = {"kinds": kinds, "now": now, "limit": limit, "worker": worker, "until": until}
    return list(conn.execute(_CLAIM, params).all())


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


@dataclass(frozen=True)
class _Settle:
    """One attempt to record (``_finish``'s arguments), an item of ``_finish_many``."""

    job: Job[Any]
    worker: str
    outcome: str
    status: int | None
    error: dict[str, Any] | None
    started: datetime
    finished: datetime
    next_at: datetime | None
    settle: Callable[[Connection, Job[Any], str, datetime], None] | None
    attempt_outcome: str


# Which of the jobs being settled their workers still hold: read once for all of them, locked
# (PostgreSQL) so that a lease taken over meanwhile waits for this transaction.
_HELD = (
    select(outbox.c.id, outbox.c.lease_owner)
    .where(outbox.c.id.in_(bindparam("ids", expanding=True)), outbox.c.state == "running")
    .with_for_update()
)


def _finish_many(conn: Connection, items: Sequence[_Settle]) -> list[None]:
    """Record attempts that finished together: their attempts in one statement, the
    jobs their workers still hold settled in one statement per shape of the values, then the
    settle reactions in the order the attempts came. A reaction sees every job of the batch
    settled, which is what it would see had those jobs settled just before it."""
    conn.execute(_ATTEMPT_INSERT, [_attempt_row(item) for item in items])
    ids = [item.job.id for item in items]
    owners = {row.id: row.lease_owner for row in conn.execute(_HELD, {"ids": ids})}
    held = [item for item in items if owners.get(item.job.id) == item.worker]
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in held:
        values = _settle_values(item)
        shapes.setdefault(tuple(values), []).append(values)
    for rows in shapes.values():
        conn.execute(_SETTLE, rows)
    for item in held:
        if item.settle is not None and item.outcome in ("done", "dead"):
            item.settle(conn, item.job, item.outcome, item.finished)
    return [None] * len(items)


def _attempt_row(item: _Settle) -> dict[str, Any]:
    return {
        "job_id": item.job.id,
        "attempt": item.job.attempt,
        "worker": item.worker,
        "started_at": item.started,
        "finished_at": item.finished,
        "outcome": item.attempt_outcome,
        "status_code": item.status,
        "error": item.error,
    }


def _settle_values(item: _Settle) -> dict[str, Any]:
    values: dict[str, Any] = {
        "state": "pending" if item.outcome == "retry" else item.outcome,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": item.finished,
        "key_id": item.job.id,
        "key_owner": item.worker,
    }
    if item.next_at is not None:
        values["next_attempt_at"] = item.next_at
    if item.error is not None:
        values["last_error"] = item.error
    return values
