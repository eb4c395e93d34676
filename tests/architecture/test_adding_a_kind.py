"""ARCHITECTURE.md's recipe for a new job kind, followed to the letter: a feature declares a
``JobKind`` and a ``Registration``, the registry takes the registration, ``enqueue`` derives the
key, and the process's worker runs it with its typed payload and settle hook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from tackbridge.outbox.kinds import Job, JobKind, Payload, Registration
from tackbridge.outbox.queue import enqueue
from tackbridge.registry import REGISTRATIONS, build_registry
from tackbridge.runtime import Runtime
from tackbridge.settings import Settings
from tackbridge.store.schema import outbox

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Greeting(Payload):
    leadID: str
    text: str


GREET_KIND = JobKind.of("test.greet", Greeting, lambda p: f"test.greet:{p.leadID}")
ran: list[Greeting] = []
settled: list[str] = []


def _settle(conn: Connection, job: Job[Greeting], outcome: str, at: datetime) -> None:
    settled.append(f"{job.payload.leadID}:{outcome}")


async def _greet(job: Job[Greeting]) -> None:
    ran.append(job.payload)


GREET = Registration(GREET_KIND, lambda services: _greet, settle=_settle)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(data_dir=tmp_path, mode="dev").checked()
    rt = Runtime.open(settings, registry=build_registry(GREET))
    rt.start()
    yield rt
    await rt.aclose()
    rt.close()


async def test_a_kind_registered_the_documented_way_runs(runtime: Runtime) -> None:
    ran.clear()
    settled.clear()
    greeting = Greeting(leadID="L1", text="hello")
    writer = runtime.services.writer
    assert await writer.run(lambda conn: enqueue(conn, GREET_KIND, greeting, now=NOW))
    assert not await writer.run(lambda conn: enqueue(conn, GREET_KIND, greeting, now=NOW))
    with runtime.services.db.reader.connect() as conn:
        row = conn.execute(select(outbox.c.kind, outbox.c.idempotency_key, outbox.c.payload)).one()
    assert tuple(row) == ("test.greet", "test.greet:L1", {"leadID": "L1", "text": "hello"})
    assert await runtime.new_worker().drain() == 1
    assert ran == [greeting]  # typed, not the stored dict
    assert settled == ["L1:done"]


def test_every_product_kind_is_registered_once() -> None:
    names = [r.kind.name for r in REGISTRATIONS]
    assert len(names) == len(set(names))
    with pytest.raises(ValueError, match="registered twice"):
        build_registry(REGISTRATIONS[0])
