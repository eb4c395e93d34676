"""The outbox across processes on PostgreSQL: each "process" here is a store, a writer and a
worker of its own (own engine, own connections), as two OS processes would have. Claims skip
what another claim holds, a lease keeps a job from a second worker until it lapses, a commit
that queues jobs wakes a worker elsewhere through LISTEN/NOTIFY, and two processes migrating
one empty database at once end with one schema."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, func, select

from tackbridge.outbox.kinds import Job, JobKind
from tackbridge.outbox.queue import enqueue
from tackbridge.outbox.worker import Worker
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.locks import Lock, try_xact_lock
from tackbridge.store.schema import delivery_attempts, outbox
from tackbridge.store.wakeups import OUTBOX_CHANNEL, conninfo, listen
from tackbridge.store.writer import Writer
from tests.support import stores

pytestmark = pytest.mark.postgres_only

KIND = JobKind("test.job", lambda p: str(p["key"]), dict, dict)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Process:
    """One process's share of the store: its engines and its writer."""

    def __init__(self, url: str) -> None:
        self.db: Database = open_database(url)
        self.writer = Writer(self.db.writer)
        self.writer.start()

    def close(self) -> None:
        self.writer.stop()
        self.db.dispose()

    async def enqueue(self, *keys: str, now: datetime = T0) -> None:
        def unit(conn: Connection) -> None:
            for key in keys:
                enqueue(conn, KIND, {"key": key}, now=now)

        await self.writer.run(unit)


@pytest.fixture
async def url(tmp_path: Path) -> str:
    return stores.url(tmp_path / "shared", store="postgres")


@pytest.fixture
async def processes(url: str) -> AsyncIterator[list[Process]]:
    found = [Process(url), Process(url)]
    yield found
    for process in found:
        process.close()


async def test_claims_of_two_processes_never_take_the_same_job(processes: list[Process]) -> None:
    first, second = processes
    await first.enqueue(*(f"k{i}" for i in range(300)))

    async def noop(job: Job[Any]) -> None:
        return None

    workers = [
        Worker(p.writer, {"test.job": noop}, name=f"w{i}", clock=lambda: T0 + timedelta(seconds=1))
        for i, p in enumerate(processes)
    ]
    taken: list[list[int]] = [[], []]
    # Many small claims from both at once, until the queue is empty.
    while True:
        batches = await asyncio.gather(*(w.claim(7) for w in workers))
        if not any(batches):
            break
        for i, batch in enumerate(batches):
            taken[i] += [job.id for job in batch]
    assert not set(taken[0]) & set(taken[1])
    assert len(taken[0]) + len(taken[1]) == 300
    assert taken[0]
    assert taken[1]
    with second.db.reader.connect() as conn:
        owners = conn.execute(
            select(outbox.c.lease_owner, func.count()).group_by(outbox.c.lease_owner)
        ).all()
    assert dict(owners) == {"w0": len(taken[0]), "w1": len(taken[1])}


async def test_a_held_lease_keeps_the_job_from_another_worker_until_it_lapses(
    processes: list[Process],
) -> None:
    first, second = processes
    await first.enqueue("only")
    now = [T0 + timedelta(seconds=1)]

    async def noop(job: Job[Any]) -> None:
        return None

    a = Worker(first.writer, {"test.job": noop}, name="a", lease_seconds=60, clock=lambda: now[0])
    b = Worker(second.writer, {"test.job": noop}, name="b", lease_seconds=60, clock=lambda: now[0])
    [job] = await a.claim(10)
    assert await b.claim(10) == []
    now[0] += timedelta(seconds=59)
    assert await b.claim(10) == []
    now[0] += timedelta(seconds=2)  # a's lease has lapsed: a crashed worker's job goes on
    [again] = await b.claim(10)
    assert again.id == job.id
    assert again.attempt == 2


async def test_an_enqueue_in_one_process_wakes_a_worker_in_another(
    processes: list[Process], url: str
) -> None:
    producer, consumer = processes
    ran = asyncio.Event()

    async def handle(job: Job[Any]) -> None:
        ran.set()

    listening = asyncio.Event()
    # A poll far longer than the test: only a notification can bring the job in time.
    worker = Worker(
        consumer.writer,
        {"test.job": handle},
        name="listener",
        poll_seconds=3600,
        listen=lambda wake: listen(url, wake, on_listening=lambda up: up and listening.set()),
    )
    async with AsyncExitStack() as stack:
        task = asyncio.create_task(worker.run())
        stack.push_async_callback(lambda: asyncio.wait_for(task, 10))
        stack.push_async_callback(worker.stop)
        await asyncio.wait_for(listening.wait(), 10)
        # Let the worker's first claim (at start) find nothing and go back to waiting.
        await asyncio.wait_for(_until(lambda: worker.health().last_claim_at is not None), 10)
        await producer.enqueue("wake-up", now=datetime.now(UTC))
        await asyncio.wait_for(ran.wait(), 10)
    with consumer.db.reader.connect() as conn:
        assert conn.execute(select(func.count()).select_from(delivery_attempts)).scalar_one() == 1


async def test_one_notification_per_transaction_however_many_jobs(url: str) -> None:
    listener = await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True)
    try:
        await listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
        process = Process(url)
        try:
            await process.enqueue("a", "b", "c")
            await process.enqueue("a")  # a duplicate queues nothing: no notification
            await process.enqueue("d")
        finally:
            process.close()
        got = [n async for n in listener.notifies(timeout=1.0)]
    finally:
        await listener.close()
    assert len(got) == 2


def test_two_processes_migrating_one_empty_database_at_once(tmp_path: Path) -> None:
    url = stores.url(tmp_path / "empty", migrated=False, store="postgres")
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def migrate_one() -> None:
        db = open_database(url)
        try:
            start.wait()
            migrate.upgrade(db.writer)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=migrate_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    db = open_database(url)
    try:
        assert migrate.is_current(db.writer)
    finally:
        db.dispose()


def test_try_lock_is_taken_once_until_its_transaction_ends(url: str) -> None:
    first, second = open_database(url), open_database(url)
    try:
        with first.writer.begin() as a:
            assert try_xact_lock(a, Lock.MIGRATIONS)
            with second.writer.begin() as b:
                assert not try_xact_lock(b, Lock.MIGRATIONS)
        with second.writer.begin() as b:
            assert try_xact_lock(b, Lock.MIGRATIONS)
    finally:
        first.dispose()
        second.dispose()


async def _until(predicate: Any) -> None:
    # The worker offers no event for "claimed once"; this only orders the test's steps.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
