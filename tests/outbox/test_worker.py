"""The outbox worker's state machine, with a controllable clock and in-process handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, update

from tackbridge.outbox.backoff import Backoff
from tackbridge.outbox.errors import NotYetError, PermanentError, RetryableError
from tackbridge.outbox.kinds import Handler, Job, JobKind
from tackbridge.outbox.queue import enqueue
from tackbridge.outbox.service import get_job, retry_job
from tackbridge.outbox.worker import Worker, _finish_many, _Settle
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import outbox
from tackbridge.store.writer import Writer
from tests.outbox.store_faults import until
from tests.support import stores

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Env:
    db: Database
    writer: Writer
    clock: Clock = field(default_factory=Clock)

    async def enqueue(self, key: str, kind: str = "test.job") -> None:
        def unit(conn: Connection) -> None:
            raw = JobKind(kind, lambda p: str(p["key"]), dict, dict)
            enqueue(conn, raw, {"key": key}, now=self.clock())

        await self.writer.run(unit)

    def worker(self, handler: Handler, name: str = "w1", **kw: object) -> Worker:
        return Worker(self.writer, {"test.job": handler}, name=name, clock=self.clock, **kw)  # type: ignore[arg-type]

    def job(self, job_id: int = 1) -> dict[str, object]:
        with self.db.reader.connect() as conn:
            detail = get_job(conn, job_id)
        assert detail is not None
        return detail.model_dump()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = open_database(stores.url(tmp_path / "o.db"))
    migrate.upgrade(db.writer)
    writer = Writer(db.writer)
    writer.start()
    yield Env(db, writer)
    writer.stop()
    db.dispose()


def handler_raising(*errors: Exception | None) -> tuple[Handler, list[Job]]:
    seen: list[Job] = []
    queue = list(errors)

    async def handle(job: Job) -> None:
        seen.append(job)
        error = queue.pop(0) if queue else None
        if error is not None:
            raise error

    return handle, seen


async def test_success_marks_done_and_records_the_attempt(env: Env) -> None:
    await env.enqueue("a")
    handler, seen = handler_raising(None)
    assert await env.worker(handler).drain() == 1
    job = env.job()
    assert job["state"] == "done"
    assert [(h["attempt"], h["outcome"]) for h in job["history"]] == [(1, "done")]  # type: ignore[union-attr]
    assert seen[0].key == "test.job" or seen[0].payload == {"key": "a"}


async def test_retryable_error_backs_off_then_succeeds(env: Env) -> None:
    await env.enqueue("a")
    handler, seen = handler_raising(RetryableError("busy", status_code=503), None)
    worker = env.worker(handler, backoff=Backoff(base=10, cap=100))
    await worker.drain()
    job = env.job()
    assert job["state"] == "pending"
    delay = (job["nextAttemptAt"] - T0).total_seconds()  # type: ignore[operator]
    assert 5 <= delay <= 10  # equal jitter: between half and all of base
    assert await worker.drain() == 0  # not due yet
    env.clock.advance(10)
    await worker.drain()
    job = env.job()
    assert job["state"] == "done"
    assert [h["outcome"] for h in job["history"]] == ["retry", "done"]  # type: ignore[union-attr]
    assert [j.attempt for j in seen] == [1, 2]


async def test_retry_after_is_honoured(env: Env) -> None:
    await env.enqueue("a")
    handler, _ = handler_raising(RetryableError("slow down", retry_after=42, status_code=429))
    await env.worker(handler).drain()
    job = env.job()
    assert job["nextAttemptAt"] == T0 + timedelta(seconds=42)
    assert job["lastError"] == {"detail": "slow down", "status": 429}


async def test_permanent_error_dead_letters_with_the_problem(env: Env) -> None:
    await env.enqueue("a")
    problem = {"title": "Bad Request", "status": 400, "traceID": "t-1"}
    handler, _ = handler_raising(PermanentError("rejected", status_code=400, problem=problem))
    await env.worker(handler).drain()
    job = env.job()
    assert job["state"] == "dead"
    assert job["lastError"] == {"detail": "rejected", "status": 400, "problem": problem}


async def test_unexpected_exception_is_retried_until_exhausted(env: Env) -> None:
    await env.enqueue("a")
    handler, seen = handler_raising(*[RuntimeError("bug")] * 5)
    worker = env.worker(handler, backoff=Backoff(base=1, cap=1, max_attempts=3))
    for _ in range(5):
        await worker.drain()
        env.clock.advance(2)
    assert len(seen) == 3
    assert env.job()["state"] == "dead"


async def test_expired_lease_is_claimed_again_and_the_old_holder_cannot_settle(env: Env) -> None:
    await env.enqueue("a")
    gate = asyncio.Event()

    async def stuck(job: Job) -> None:
        await gate.wait()

    first = env.worker(stuck, name="crashed", lease_seconds=30)
    [claimed] = await first.claim(10)
    assert env.job()["state"] == "running"
    second_handler, seen = handler_raising(None)
    second = env.worker(second_handler, name="survivor")
    assert await second.drain() == 0  # the lease still holds
    env.clock.advance(31)
    assert await second.drain() == 1
    assert env.job()["state"] == "done"
    # The first holder finally finishes: its late failure must not reopen the job.
    late, _ = handler_raising(RetryableError("late"))
    first.handlers = {"test.job": late}  # type: ignore[misc]
    await first._attempt(claimed)
    assert env.job()["state"] == "done"
    assert seen[0].attempt == 2
    assert not seen[0].first_try  # the crashed holder may have done the work already
    assert claimed.first_try


async def test_operator_retry_revives_a_dead_job(env: Env) -> None:
    await env.enqueue("a")
    handler, seen = handler_raising(PermanentError("no"), None)
    worker = env.worker(handler)
    await worker.drain()
    assert env.job()["state"] == "dead"
    await env.writer.run(lambda conn: retry_job(conn, 1, env.clock()))
    await worker.drain()
    assert env.job()["state"] == "done"
    # The retry restarts the count but is no first try: the dead attempt may have written.
    assert [(j.attempt, j.first_try) for j in seen] == [(1, True), (1, False)]


async def test_only_a_first_attempt_is_a_first_try(env: Env) -> None:
    await env.enqueue("a")
    handler, seen = handler_raising(RetryableError("busy"), None)
    worker = env.worker(handler, backoff=Backoff(base=1, cap=1))
    await worker.drain()
    env.clock.advance(5)
    await worker.drain()
    assert [(j.attempt, j.first_try) for j in seen] == [(1, True), (2, False)]


async def test_bounded_concurrency(env: Env) -> None:
    for i in range(20):
        await env.enqueue(f"k{i}")
    running = 0
    peak = 0
    started = 0
    # Each wave of handlers holds its slots until four run at once (or no job is left to
    # start): the bound is reached every wave, and a fifth job started meanwhile would show.
    wave = asyncio.Event()

    async def handle(job: Job) -> None:
        nonlocal running, peak, started, wave
        running += 1
        started += 1
        peak = max(peak, running)
        mine = wave
        if running == 4 or started == 20:
            wave = asyncio.Event()
            mine.set()
        await mine.wait()
        running -= 1

    worker = env.worker(handle, concurrency=4, poll_seconds=0.01)
    task = asyncio.create_task(worker.run())
    await until(lambda: worker.completed == 20)
    await worker.stop()
    await task
    assert worker.completed == 20
    assert peak == 4


def test_backoff_schedule_is_documented_shape() -> None:
    backoff = Backoff()
    full: Callable[[int], float] = lambda n: min(3600.0, 2.0 * 2 ** (n - 1))  # noqa: E731
    for attempt in range(1, 16):
        delay = backoff.delay(attempt)
        assert full(attempt) / 2 <= delay <= full(attempt)
    assert backoff.delay(3, retry_after=7) == 7
    assert backoff.delay(3, retry_after=10**6) == 3600
    assert backoff.exhausted(15)
    assert not backoff.exhausted(14)


async def test_a_deferred_attempt_leaves_the_next_one_a_first_try(env: Env) -> None:
    await env.enqueue("a")
    handler, seen = handler_raising(NotYetError("its lead is not there yet"), None)
    worker = env.worker(handler, backoff=Backoff(base=1, cap=1))
    await worker.drain()
    env.clock.advance(5)
    await worker.drain()
    assert [(j.attempt, j.first_try) for j in seen] == [(1, True), (2, True)]
    detail = env.job()
    assert [a["outcome"] for a in detail["history"]] == ["deferred", "done"]  # type: ignore[attr-defined]


async def test_after_a_deferral_a_crash_mid_attempt_ends_first_tries(env: Env) -> None:
    await env.enqueue("a")
    deferring, _ = handler_raising(NotYetError("later"))
    await env.worker(deferring, backoff=Backoff(base=1, cap=1)).drain()
    env.clock.advance(5)
    crashed = env.worker(deferring, name="crashed", lease_seconds=30)
    [claimed] = await crashed.claim(10)  # then the process dies: nothing recorded
    assert claimed.first_try
    env.clock.advance(31)
    handler, seen = handler_raising(None)
    await env.worker(handler, name="survivor").drain()
    assert [(j.attempt, j.first_try) for j in seen] == [(3, False)]


async def test_first_kinds_are_claimed_ahead_of_an_older_backlog(env: Env) -> None:
    for i in range(5):
        await env.enqueue(f"crm-{i}", kind="crm.job")
    env.clock.advance(1)
    await env.enqueue("reply", kind="reply.job")
    handler, _ = handler_raising()
    worker = Worker(
        env.writer,
        {"crm.job": handler, "reply.job": handler},
        clock=env.clock,
        first_kinds=frozenset({"reply.job"}),
    )
    first = await worker.claim(2)
    # The reply came last but goes first; the rest in due order.
    assert [j.key for j in first] == ["crm-0", "reply"]  # sorted by id; "reply" is in it
    assert {j.kind for j in first} == {"crm.job", "reply.job"}
    rest = await worker.claim(10)
    assert [j.key for j in rest] == ["crm-1", "crm-2", "crm-3", "crm-4"]


async def test_attempts_settling_together_settle_only_the_jobs_their_worker_holds(
    env: Env,
) -> None:
    """The batched settle (``_finish_many``, what the worker's settles that finish together
    run as): each attempt recorded, each held job in its own outcome, a job whose lease was
    taken over meanwhile left to its new holder, reactions only for held ``done``/``dead``
    jobs, in the attempts' order."""
    for key in "abcd":
        await env.enqueue(key)
    worker = env.worker(handler_raising()[0], name="w1", lease_seconds=30)
    claimed = {job.payload["key"]: job for job in await worker.claim(10)}

    def take_over(conn: Connection) -> None:
        conn.execute(update(outbox).where(outbox.c.id == claimed["d"].id).values(lease_owner="w2"))

    await env.writer.run(take_over)
    reacted: list[tuple[str, str]] = []

    def reaction(conn: Connection, job: Job, outcome: str, at: datetime) -> None:
        reacted.append((job.payload["key"], outcome))

    later = T0 + timedelta(seconds=60)
    error = {"detail": "no"}
    items = [
        _Settle(claimed["a"], "w1", "done", None, None, T0, T0, None, reaction, "done"),
        _Settle(claimed["b"], "w1", "retry", 503, error, T0, T0, later, reaction, "retry"),
        _Settle(claimed["c"], "w1", "dead", 400, error, T0, T0, None, reaction, "dead"),
        _Settle(claimed["d"], "w1", "done", None, None, T0, T0, None, reaction, "done"),
    ]
    assert await env.writer.run(lambda conn: _finish_many(conn, items)) == [None] * 4
    a, b, c, d = (env.job(claimed[k].id) for k in "abcd")
    with env.db.reader.connect() as conn:
        owners = {
            r.id: r.lease_owner for r in conn.execute(select(outbox.c.id, outbox.c.lease_owner))
        }
    assert (a["state"], owners[claimed["a"].id]) == ("done", None)
    assert (b["state"], b["nextAttemptAt"], b["lastError"]) == ("pending", later, error)
    assert (c["state"], c["lastError"]) == ("dead", error)
    assert (d["state"], owners[claimed["d"].id]) == ("running", "w2")
    for job, outcome in ((a, "done"), (b, "retry"), (c, "dead"), (d, "done")):
        assert [h["outcome"] for h in job["history"]] == [outcome]  # type: ignore[union-attr]
    assert reacted == [("a", "done"), ("c", "dead")]
