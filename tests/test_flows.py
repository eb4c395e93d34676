"""What a stored record sets in motion: a new lead's jobs, enqueued by the front door, and the
fan-out of ``lead.received`` jobs that earlier versions queued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tackbridge.flows import Followups, lead_followups
from tackbridge.inbound.kinds import LEAD_RECEIVED
from tackbridge.outbox.kinds import Job
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import outbox
from tackbridge.store.writer import Writer
from tests.support import stores

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[Database, Writer]]:
    db = open_database(stores.url(tmp_path / "f.db"))
    migrate.upgrade(db.writer)
    writer = Writer(db.writer)
    writer.start()
    yield db, writer
    writer.stop()
    db.dispose()


async def test_a_lead_received_job_of_an_earlier_version_is_fanned_out_once(
    store: tuple[Database, Writer],
) -> None:
    db, writer = store
    woken: list[bool] = []
    followups = Followups(writer, wake=lambda: woken.append(True), clock=lambda: NOW)
    payload = LEAD_RECEIVED.parse({"leadID": "L7", "isTest": False})
    old = Job(1, "lead.received", "lead.received:L7", payload, 1, NOW)
    await followups.lead_received(old)
    await followups.lead_received(old)  # a repeat adds nothing
    with db.reader.connect() as conn:
        keys = list(conn.execute(select(outbox.c.idempotency_key).order_by(outbox.c.id)).scalars())
    assert keys == ["autoreply.plan:L7", "crm.lead:L7"]
    assert woken


async def test_a_new_lead_starts_its_reply_first_then_its_crm_delivery(
    store: tuple[Database, Writer],
) -> None:
    db, writer = store
    await writer.run(lambda conn: lead_followups(conn, "L1", NOW))
    with db.reader.connect() as conn:
        rows = conn.execute(
            select(outbox.c.kind, outbox.c.idempotency_key, outbox.c.payload).order_by(outbox.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("autoreply.plan", "autoreply.plan:L1", {"leadID": "L1"}),
        ("crm.lead", "crm.lead:L1", {"leadID": "L1"}),
    ]
