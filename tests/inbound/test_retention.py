"""Done when: the inbound log keeps refused deliveries TACKBRIDGE_REFUSED_RETENTION_DAYS and the
rest TACKBRIDGE_INBOUND_RETENTION_DAYS, an hourly outbox job deletes what is past them (in
batches), leaves the records deliveries stored, and schedules its next hour once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tackbridge.inbound.record import InboundRequest, log_request
from tackbridge.inbound.retention import Retention, purge, schedule
from tackbridge.runtime import Runtime
from tackbridge.store.schema import inbound_log, outbox
from tests.support.tackbridge import make_settings

NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = Runtime.open(make_settings(tmp_path))
    rt.start()
    yield rt
    await rt.aclose()
    rt.close()


async def _add(rt: Runtime, days_ago: float, outcome: str) -> int:
    at = NOW - timedelta(days=days_ago)
    entry = InboundRequest("/v1/lead", "POST", {}, b"{}", 2, at)
    status = 200 if outcome == "accepted" else 401
    return await rt.services.writer.run(
        lambda conn: log_request(conn, entry, status_code=status, outcome=outcome)
    )


def _left(rt: Runtime) -> list[tuple[int, str]]:
    with rt.services.db.reader.connect() as conn:
        rows = conn.execute(select(inbound_log.c.id, inbound_log.c.outcome)).all()
    return [(row.id, row.outcome) for row in rows]


async def test_purge_keeps_each_outcome_its_days(runtime: Runtime) -> None:
    ages = [200, 120, 91, 60, 30, 8, 6, 1, 0]
    added = {}
    for days in ages:  # oldest first, as they arrive
        added[(days, "accepted")] = await _add(runtime, days, "accepted")
        added[(days, "unauthorized")] = await _add(runtime, days, "unauthorized")
    added[(10, "rate_limited")] = await _add(runtime, 5.5, "rejected")  # younger: kept
    writer = runtime.services.writer
    retention = Retention(all_days=90, refused_days=7)
    total = 0
    while gone := await writer.run(lambda conn: purge(conn, retention, NOW, batch=4)):
        assert gone <= 4
        total += gone
    expected = {
        *((added[(d, "accepted")], "accepted") for d in ages if d < 90),
        *((added[(d, "unauthorized")], "unauthorized") for d in ages if d < 7),
        (added[(10, "rate_limited")], "rejected"),
    }
    assert set(_left(runtime)) == expected
    assert total == 2 * len(ages) + 1 - len(expected)


async def test_zero_keeps_for_ever(runtime: Runtime) -> None:
    await _add(runtime, 4000, "accepted")
    await _add(runtime, 4000, "rejected")
    retention = Retention(all_days=0, refused_days=0)
    assert await runtime.services.writer.run(lambda conn: purge(conn, retention, NOW)) == 0
    assert len(_left(runtime)) == 2


async def test_the_hourly_job_runs_and_schedules_the_next_hour_once(runtime: Runtime) -> None:
    await _add(runtime, 400, "accepted")
    await _add(runtime, 400, "unauthorized")
    writer = runtime.services.writer
    now = datetime.now(UTC)
    assert await writer.run(lambda conn: schedule(conn, now))
    assert not await writer.run(lambda conn: schedule(conn, now))  # another process: no twin
    assert await runtime.new_worker().drain() == 1
    assert _left(runtime) == []
    with runtime.services.db.reader.connect() as conn:
        jobs = conn.execute(
            select(outbox.c.idempotency_key, outbox.c.state, outbox.c.next_attempt_at).order_by(
                outbox.c.id
            )
        ).all()
    hour = now.replace(minute=0, second=0, microsecond=0)
    assert [(j.idempotency_key, j.state) for j in jobs] == [
        (f"inbound.retention:{hour.isoformat()}", "done"),
        (f"inbound.retention:{(hour + timedelta(hours=1)).isoformat()}", "pending"),
    ]
    assert jobs[1].next_attempt_at.replace(tzinfo=UTC) == hour + timedelta(hours=1)
    assert await runtime.new_worker().drain() == 0  # not due before its hour


async def test_serve_s_worker_schedules_it_at_start(runtime: Runtime) -> None:
    runtime.start_worker()
    await runtime.stop_worker()
    with runtime.services.db.reader.connect() as conn:
        keys = list(conn.execute(select(outbox.c.idempotency_key)).scalars())
    assert keys
    assert all(k.startswith("inbound.retention:") for k in keys)
