"""What a stored record sets in motion: a new lead's jobs, enqueued by the front door, and the
fan-out of ``lead.received`` jobs that earlier versions queued."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from tackbridge.crm.destinations import DESTINATION_TYPES
from tackbridge.flows import FollowupPolicy, Followups, lead_followups
from tackbridge.inbound.kinds import LEAD_RECEIVED
from tackbridge.outbox.kinds import Job
from tackbridge.store import business_settings, migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import businesses, leads, outbox
from tackbridge.store.writer import Writer
from tests.support import stores
from tests.support.tackbridge import make_settings

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RULES = '{"default": {"template": "Thanks!"}}'


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


def _lead_of(conn: Connection, lead_id: str, business_id: str) -> None:
    conn.execute(
        businesses.insert().values(business_id=business_id, created_at=NOW, updated_at=NOW)
    )
    conn.execute(
        leads.insert().values(
            lead_id=lead_id,
            business_id=business_id,
            source="v2",
            received_at=NOW,
            updated_at=NOW,
        )
    )


@pytest.mark.parametrize(
    ("settings", "own", "expected"),
    [
        # Neither rules nor a destination anywhere: nothing to do, no job.
        ({}, {}, []),
        ({"autoreply_rules": RULES}, {}, ["autoreply.plan"]),
        ({"webhook_destination_url": "http://127.0.0.1:9/x"}, {}, ["crm.lead"]),
        # The business's own choices count over the settings' defaults, both ways.
        ({}, {"autoreply_rules": json.loads(RULES)}, ["autoreply.plan"]),
        ({}, {"destination": "webhook"}, ["crm.lead"]),
        ({"webhook_destination_url": "http://127.0.0.1:9/x"}, {"destination": "none"}, []),
        # Dev mode replies to every lead by default.
        ({"mode": "dev"}, {}, ["autoreply.plan"]),
    ],
)
async def test_a_new_lead_queues_only_the_follow_ups_its_configuration_gives_work(
    store: tuple[Database, Writer],
    tmp_path: Path,
    settings: dict[str, Any],
    own: dict[str, Any],
    expected: list[str],
) -> None:
    db, writer = store
    policy = FollowupPolicy(make_settings(tmp_path, **settings), DESTINATION_TYPES)

    def unit(conn: Connection) -> None:
        _lead_of(conn, "L1", "B1")
        if own:
            business_settings.put(conn, "B1", {**own, "updated_at": NOW})
        lead_followups(conn, "L1", NOW, policy)

    await writer.run(unit)
    with db.reader.connect() as conn:
        kinds = list(conn.execute(select(outbox.c.kind).order_by(outbox.c.id)).scalars())
    assert kinds == expected
