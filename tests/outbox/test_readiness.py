"""The readiness checks one by one (outbox/readiness.py), and /readyz over them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, update

from tackbridge.outbox import readiness
from tackbridge.outbox.kinds import Job, JobKind
from tackbridge.outbox.queue import enqueue
from tackbridge.outbox.readiness import WorkerHealth
from tackbridge.outbox.worker import Worker
from tackbridge.store.schema import outbox
from tests.outbox.store_faults import FaultyStore, ready_probe, until

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HEALTHY = WorkerHealth(
    running=True,
    started_at=NOW - timedelta(hours=1),
    last_claim_at=NOW - timedelta(seconds=1),
    last_error=None,
    last_error_at=None,
    failures=0,
    in_flight=0,
    saturated=False,
)


async def add(store: FaultyStore, kind: str, key: str, *, at: datetime = NOW) -> None:
    def unit(conn: Connection) -> None:
        enqueue(conn, JobKind(kind, lambda p: key, dict, dict), {}, now=at)

    await store.writer.run(unit)


async def set_state(store: FaultyStore, key: str, **values: object) -> None:
    def unit(conn: Connection) -> None:
        conn.execute(update(outbox).where(outbox.c.idempotency_key == key).values(**values))

    await store.writer.run(unit)


async def handled(job: Job) -> None:
    return None


def test_stall_threshold_defaults_to_ten_seconds_or_five_polls() -> None:
    assert readiness.stall_after(None, 0.5) == 10.0
    assert readiness.stall_after(None, 4.0) == 20.0
    assert readiness.stall_after(3.0, 4.0) == 3.0


async def test_unregistered_kinds_are_the_pending_ones_nothing_handles(store: FaultyStore) -> None:
    await add(store, "known", "k1")
    await add(store, "mystery", "m1")
    await add(store, "mystery", "m2")
    await add(store, "gone", "g1")
    await set_state(store, "g1", state="done")  # finished jobs of old kinds are no problem
    with store.db.reader.connect() as conn:
        assert readiness.unregistered_kinds(conn, {"known"}) == {"mystery": 2}
        assert readiness.unregistered_kinds(conn, {"known", "mystery"}) == {}
        assert readiness.unregistered_kinds(conn, set()) == {"known": 1, "mystery": 2}
    reason = readiness.unregistered_reason({"mystery": 2})
    assert reason is not None
    assert reason.as_json() == {
        "check": "jobs",
        "detail": "pending jobs of kinds no handler is registered for: mystery (2)",
        "unregisteredKinds": {"mystery": 2},
    }
    assert readiness.unregistered_reason({}) is None


async def test_due_jobs_are_those_a_claim_would_take(store: FaultyStore) -> None:
    await add(store, "known", "due")
    await add(store, "known", "later", at=NOW + timedelta(minutes=5))
    await add(store, "other", "not-ours")
    await add(store, "known", "lapsed")
    await set_state(store, "lapsed", state="running", lease_expires_at=NOW - timedelta(seconds=1))
    await add(store, "known", "leased")
    await set_state(store, "leased", state="running", lease_expires_at=NOW + timedelta(minutes=1))
    with store.db.reader.connect() as conn:
        assert readiness.due_jobs(conn, {"known"}, NOW) == 2  # "due" and "lapsed"
        assert readiness.due_jobs(conn, set(), NOW) == 0


def test_a_worker_that_claims_regularly_is_ready() -> None:
    assert readiness.worker_reasons(HEALTHY, due=50, now=NOW, stall_seconds=10) == []


def test_a_worker_that_is_not_running_is_not_ready() -> None:
    [reason] = readiness.worker_reasons(
        replace(HEALTHY, running=False), due=0, now=NOW, stall_seconds=10
    )
    assert (reason.check, reason.detail) == ("worker", "the outbox worker is not running")


def test_a_worker_with_due_jobs_and_no_recent_claim_is_stalled() -> None:
    stalled = replace(HEALTHY, last_claim_at=NOW - timedelta(seconds=30))
    [reason] = readiness.worker_reasons(stalled, due=5, now=NOW, stall_seconds=10)
    assert reason.check == "worker"
    assert reason.facts is not None
    assert reason.facts["dueJobs"] == 5
    # Nothing due: an old claim is no problem. Every slot busy: no claim is expected.
    assert readiness.worker_reasons(stalled, due=0, now=NOW, stall_seconds=10) == []
    busy = replace(stalled, saturated=True, in_flight=256)
    assert readiness.worker_reasons(busy, due=5, now=NOW, stall_seconds=10) == []
    # A worker that has not claimed yet counts from its start.
    starting = replace(HEALTHY, last_claim_at=None, started_at=NOW - timedelta(seconds=1))
    assert readiness.worker_reasons(starting, due=5, now=NOW, stall_seconds=10) == []
    assert readiness.worker_reasons(
        replace(starting, started_at=NOW - timedelta(seconds=11)), due=5, now=NOW, stall_seconds=10
    )


def test_a_worker_whose_writes_fail_is_not_ready() -> None:
    failing = replace(
        HEALTHY, failures=3, last_error="claiming jobs: OperationalError: locked", last_error_at=NOW
    )
    [reason] = readiness.worker_reasons(failing, due=0, now=NOW, stall_seconds=10)
    assert reason.check == "worker"
    assert "claiming jobs: OperationalError: locked" in reason.detail
    assert reason.facts == {"failures": 3, "since": NOW.isoformat()}


async def test_the_write_probe_finds_a_lock_and_a_full_store(store: FaultyStore) -> None:
    assert readiness.store_writable(store.db, timeout=0.05) is None
    holder = store.lock()
    try:
        reason = await asyncio.to_thread(readiness.store_writable, store.db, timeout=0.05)
    finally:
        holder.rollback()
        holder.close()
    assert reason is not None
    assert reason.check == "store"
    assert "locked" in reason.detail
    store.fill()
    reason = await asyncio.to_thread(readiness.store_writable, store.db, timeout=0.05)
    assert reason is not None
    assert "full" in reason.detail
    store.make_room()
    assert await asyncio.to_thread(readiness.store_writable, store.db, timeout=0.05) is None
    # The probe's short lock wait does not stay on the writer's connections.
    with store.db.writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() > 50


async def test_without_a_worker_only_the_store_and_the_kinds_are_checked(
    store: FaultyStore,
) -> None:
    await add(store, "known", "k1", at=NOW - timedelta(hours=1))
    stalled = replace(HEALTHY, last_claim_at=NOW - timedelta(hours=1))
    with_worker = readiness.outbox_reasons(
        store.db, kinds={"known"}, worker=stalled, now=NOW, stall_seconds=10
    )
    assert [r.check for r in with_worker] == ["worker"]
    assert (
        readiness.outbox_reasons(store.db, kinds={"known"}, worker=None, now=NOW, stall_seconds=10)
        == []
    )
    await add(store, "mystery", "m1")
    reasons = readiness.outbox_reasons(
        store.db, kinds={"known"}, worker=None, now=NOW, stall_seconds=10
    )
    assert [r.check for r in reasons] == ["jobs"]


async def test_readyz_names_unregistered_kinds_in_a_process_without_a_worker(
    store: FaultyStore, tmp_path: Path
) -> None:
    async with ready_probe(store, tmp_path, None) as ready:
        assert (await ready()).status_code == 200
        await add(store, "thumbtack.message", "known-kind")  # ``tackbridge worker`` runs these
        await add(store, "mystery.kind", "m1")
        answer = await ready()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unavailable"
    assert [r["check"] for r in body["reasons"]] == ["jobs"]
    assert body["reasons"][0]["unregisteredKinds"] == {"mystery.kind": 1}
    assert "mystery.kind" in body["reasons"][0]["detail"]


async def test_readyz_reports_a_stalled_worker(store: FaultyStore, tmp_path: Path) -> None:
    # A worker that was started but whose loop is not claiming (its task is not scheduled):
    # its health says running, its last claim grows old.
    worker = Worker(store.writer, {"test.job": handled}, name="w-stalled")
    worker._running = True
    worker._started_at = datetime.now(UTC) - timedelta(minutes=5)
    async with ready_probe(store, tmp_path, worker, worker_stall_seconds=30) as ready:
        assert (await ready()).status_code == 200  # nothing due
        await add(store, "test.job", "j1", at=datetime.now(UTC))
        answer = await ready()
    assert answer.status_code == 503
    [reason] = answer.json()["reasons"]
    assert reason["check"] == "worker"
    assert reason["dueJobs"] == 1


async def test_unregistered_kinds_are_logged_once_at_start(
    store: FaultyStore, caplog: pytest.LogCaptureFixture
) -> None:
    await add(store, "mystery.kind", "m1")
    worker = Worker(store.writer, {"test.job": handled}, name="w-start", poll_seconds=0.05)
    with caplog.at_level(logging.ERROR, logger="tackbridge.outbox"):
        task = asyncio.create_task(worker.run())
        await until(lambda: worker.health().last_claim_at is not None)
        await until(lambda: any("mystery.kind" in m for m in caplog.messages))
        await worker.stop()
        await task
    assert [m for m in caplog.messages if "mystery.kind" in m] == [
        "outbox: pending jobs of kinds no handler is registered for: mystery.kind (1)"
    ]
