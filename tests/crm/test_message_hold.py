"""A message's CRM job waits for its lead's own CRM job: held while that job is still to run,
due the moment it settles, so it never runs only to find the lead not delivered yet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from tackbridge.crm.handlers import CRM_LEAD_KIND, queue_message, release_messages
from tackbridge.leads.refs import LeadRef, MessageRef
from tackbridge.outbox.kinds import Job
from tackbridge.outbox.queue import enqueue
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import outbox

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'h.db'}")
    migrate.upgrade(database.writer)
    yield database
    database.dispose()


def _due(conn: Connection) -> dict[str, datetime]:
    rows = conn.execute(
        select(outbox.c.idempotency_key, outbox.c.next_attempt_at).where(
            outbox.c.kind == "crm.message"
        )
    )
    return {key: at.replace(tzinfo=UTC) for key, at in rows}


def _lead_job(conn: Connection, lead_id: str) -> Job[LeadRef]:
    key = CRM_LEAD_KIND.key_of(LeadRef(leadID=lead_id))
    row = conn.execute(select(outbox).where(outbox.c.idempotency_key == key)).one()
    return Job(row.id, row.kind, key, LeadRef(leadID=lead_id), 1, NOW)


@pytest.mark.parametrize("outcome", ["done", "dead"])
def test_held_while_the_lead_s_job_waits_then_due_when_it_settles(
    db: Database, outcome: str
) -> None:
    with db.writer.begin() as conn:
        enqueue(conn, CRM_LEAD_KIND, LeadRef(leadID="L1"), now=NOW)
        enqueue(conn, CRM_LEAD_KIND, LeadRef(leadID="L10"), now=NOW)
        queue_message(conn, MessageRef(messageID="M1", leadID="L1"), NOW)
        queue_message(conn, MessageRef(messageID="M2", leadID="L1"), NOW)
        # Another lead's, whose ID starts the same: not released with L1's.
        queue_message(conn, MessageRef(messageID="M3", leadID="L10"), NOW)
        held = _due(conn)
        assert all(at > NOW + timedelta(minutes=30) for at in held.values()), held
        later = NOW + timedelta(seconds=2)
        release_messages(conn, _lead_job(conn, "L1"), outcome, later)
        assert _due(conn) == {
            "crm.message:L1:M1": later,
            "crm.message:L1:M2": later,
            "crm.message:L10:M3": held["crm.message:L10:M3"],
        }


@pytest.mark.parametrize("state", [None, "done", "dead"])
def test_due_at_once_when_the_lead_s_job_is_not_waiting(db: Database, state: Any) -> None:
    with db.writer.begin() as conn:
        if state is not None:
            enqueue(conn, CRM_LEAD_KIND, LeadRef(leadID="L1"), now=NOW)
            conn.execute(update(outbox).values(state=state))
        queue_message(conn, MessageRef(messageID="M1", leadID="L1"), NOW)
        queue_message(conn, MessageRef(messageID="M0"), NOW)  # no lead named
        assert _due(conn) == {"crm.message:L1:M1": NOW, "crm.message:M0": NOW}
