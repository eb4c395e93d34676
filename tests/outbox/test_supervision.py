"""Done when: the outbox worker outlives a store that is locked past its busy timeout or runs
out of space, /readyz says so meanwhile, and afterwards every acknowledged job settles without
a restart; an attempt that could not be recorded is released for a retry at once; no task's
exception goes unretrieved."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from tackbridge.outbox.kinds import Bound, Job, JobKind
from tackbridge.outbox.worker import Worker
from tests.outbox.store_faults import (
    FaultyStore,
    LoopErrors,
    no_unretrieved,
    ready_probe,
    until,
    until_async,
)


@dataclass
class Recorder:
    """A handler that counts its calls; a job whose payload says ``hold`` waits for ``gate``
    on its first attempt."""

    calls: dict[str, int] = field(default_factory=dict)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, job: Job) -> None:
        self.calls[job.key] = self.calls.get(job.key, 0) + 1
        if job.payload.get("hold") and job.attempt == 1:
            await self.gate.wait()


def supervised(store: FaultyStore, handler: Any, **kw: Any) -> Worker:
    kw.setdefault("poll_seconds", 0.05)
    kw.setdefault("error_backoff_cap_seconds", 0.5)
    settle = getattr(handler, "settle", None)
    bound = Bound(JobKind.untyped("test.job"), handler, () if settle is None else (settle,))
    return Worker(store.writer, {"test.job": bound}, **kw)


@pytest.mark.slow
async def test_a_store_locked_past_the_busy_timeout_is_waited_out(
    store: FaultyStore, tmp_path: Path, loop_errors: LoopErrors, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    worker = supervised(store, recorder, name="w-lock", concurrency=8)
    async with ready_probe(store, tmp_path, worker) as ready:
        task = asyncio.create_task(worker.run())
        acked = ["a0", "a1", "a2"]
        await store.enqueue(*acked)
        await store.enqueue("held", hold=True)
        acked.append("held")
        await until(lambda: store.all_done(acked[:3]) and "held" in recorder.calls)
        assert await ready.reasons() == set()

        holder = store.lock()
        try:
            recorder.gate.set()  # the held attempt ends now: its settle meets the lock
            refused = []
            for key in ("b0", "b1", "b2", "b3", "b4"):  # leads arriving meanwhile
                try:
                    await store.enqueue(key)
                    acked.append(key)
                except OperationalError:
                    refused.append(key)  # not acknowledged: Thumbtack delivers it again
            await until(lambda: worker.health().failures >= 2)
            assert {"store", "worker"} <= await ready.reasons()
            assert not task.done()
        finally:
            holder.rollback()
            holder.close()

        for key in refused:
            await store.enqueue(key)
            acked.append(key)
        await until(lambda: store.all_done(acked))
        await until_async(lambda: _ready(ready))
        assert not task.done()
        await worker.stop()
        await task

    assert refused == ["b0", "b1", "b2", "b3", "b4"]  # the lock was held throughout
    held = store.history("held")
    # Released (recorded as a retry) rather than left running until its lease ran out.
    assert [a.outcome for a in held] == ["retry", "done"]
    assert "could not be recorded" in held[0].error["detail"]
    assert recorder.calls["held"] == 2
    # Logged once for the whole outage, not once per failed claim.
    claim_errors = [
        r
        for r in caplog.records
        if r.name == "tackbridge.outbox"
        and r.levelno >= logging.ERROR
        and "claiming jobs" in r.getMessage()
    ]
    assert len(claim_errors) == 1
    loop_errors.assert_none()
    assert no_unretrieved(caplog.messages)


async def test_a_full_store_is_waited_out(
    store: FaultyStore, tmp_path: Path, loop_errors: LoopErrors, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    # A long name makes each attempt's record long: a hundred of them need pages of their own.
    worker = supervised(store, recorder, name="w-full-" + "x" * 56, concurrency=128)
    async with ready_probe(store, tmp_path, worker) as ready:
        task = asyncio.create_task(worker.run())
        held = [f"h{i}" for i in range(100)]
        await store.enqueue(*held, hold=True)
        acked = list(held)
        await until(lambda: len(recorder.calls) == 100)
        assert await ready.reasons() == set()

        store.fill()
        refused, why = None, ""
        for i in range(10_000):  # leads keep arriving until the store has no room for them
            try:
                await store.enqueue(f"b{i}", text="y" * 1000)
                acked.append(f"b{i}")
            except OperationalError as exc:
                refused, why = f"b{i}", str(exc)
                break
        assert refused is not None
        assert "full" in why
        assert "store" in await ready.reasons()
        recorder.gate.set()  # a hundred attempts end, and are to be recorded in a full store
        await until(lambda: worker.health().failures >= 1)
        assert {"store", "worker"} <= await ready.reasons()
        assert not task.done()

        store.make_room()
        await store.enqueue(refused, text="y" * 1000)  # delivered again
        acked.append(refused)
        await until(lambda: store.all_done(acked))
        await until_async(lambda: _ready(ready))
        assert not task.done()
        await worker.stop()
        await task

    assert all(recorder.calls[key] >= 1 for key in acked)
    loop_errors.assert_none()
    assert no_unretrieved(caplog.messages)


@dataclass
class BadSettle:
    """A handler whose ``settle`` (run in the settling transaction) fails for the job's first
    attempt, however often the writer runs it: a unit that shares a failed batch (with a claim
    that came at the same moment) is run again on its own, and a failure counted per call
    would then pass on that second run, and the attempt be recorded after all."""

    calls: int = 0
    settled: list[int] = field(default_factory=list)  # the attempts whose settle went through

    async def __call__(self, job: Job) -> None:
        self.calls += 1

    def settle(self, conn: Connection, job: Job, outcome: str, at: datetime) -> None:
        if job.attempt == 1:
            raise RuntimeError("a bug in settle")
        self.settled.append(job.attempt)


async def test_an_attempt_that_cannot_be_recorded_is_released_at_once(
    store: FaultyStore,
) -> None:
    await store.enqueue("k")
    handler = BadSettle()
    worker = supervised(store, handler, name="w-release", lease_seconds=3600)
    [job] = await worker.claim(10)
    before = datetime.now(UTC)
    await worker._attempt(job)
    row = store.row("k")
    # Pending and due now, not running until its lease (an hour) runs out.
    assert (row.state, row.lease_owner, row.lease_expires_at) == ("pending", None, None)
    assert row.next_attempt_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    assert row.next_attempt_at.replace(tzinfo=UTC) >= before.replace(microsecond=0)
    assert row.attempts == 1
    assert "could not be recorded" in row.last_error["detail"]
    assert [a.outcome for a in store.history("k")] == ["retry"]
    health = worker.health()
    assert health.failures == 1
    assert f"job {job.id}, test.job" in (health.last_error or "")


async def test_a_released_attempt_runs_again_without_waiting_for_its_lease(
    store: FaultyStore, loop_errors: LoopErrors, caplog: pytest.LogCaptureFixture
) -> None:
    handler = BadSettle()
    worker = supervised(store, handler, name="w-rerun", lease_seconds=3600)
    task = asyncio.create_task(worker.run())
    await store.enqueue("k")
    await until(lambda: store.all_done(["k"]))
    await worker.stop()
    await task
    assert [a.outcome for a in store.history("k")] == ["retry", "done"]
    assert (handler.calls, handler.settled) == (2, [2])
    assert worker.health().failures == 0  # reset by the settle that worked
    loop_errors.assert_none()
    assert no_unretrieved(caplog.messages)


async def test_a_failure_escaping_an_attempt_is_retrieved_and_logged(
    store: FaultyStore,
    loop_errors: LoopErrors,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = supervised(store, BadSettle(), name="w-escape")

    async def broken_release(job: Job, started: datetime, cause: Exception) -> None:
        raise RuntimeError("a bug in release")

    monkeypatch.setattr(worker, "_release", broken_release)
    task = asyncio.create_task(worker.run())
    with caplog.at_level(logging.ERROR, logger="tackbridge.outbox"):
        await store.enqueue("k")
        await until(lambda: "a bug in release" in (worker.health().last_error or ""))
    assert not task.done()
    await worker.stop()
    await task
    assert worker.health().running is False
    assert any("task job-" in m for m in caplog.messages)
    loop_errors.assert_none()
    assert no_unretrieved(caplog.messages)


async def _ready(ready: Any) -> bool:
    return bool((await ready()).status_code == 200)


def test_failures_without_end_keep_the_pause_bounded(store: FaultyStore) -> None:
    worker = supervised(store, Recorder(), name="w-bounded", error_backoff_cap_seconds=5.0)
    for _ in range(3000):  # every slot of a large worker failing, over and over
        worker._failed("settling an attempt", RuntimeError("disk full"), claim=False)
    assert worker.health().failures == 3000
    assert worker._paused_until - time.monotonic() <= 5.0
