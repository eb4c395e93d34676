"""The purge of a disconnected business removes its messages only: message IDs repeat across
leads, and another business's message with the same ID (and its attachments, and the verbatim
delivery that carried it) stays."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from tackbridge.connections.purge import purge_business
from tackbridge.flows import REACTIONS
from tackbridge.inbound.parse import parse_v4
from tackbridge.inbound.record import InboundRequest, record_delivery
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import attachments, inbound_log, messages
from tests.fixtures import real_payload
from tests.support import stores

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    found = open_database(stores.url(tmp_path / "purge.db"))
    migrate.upgrade(found.writer)
    yield found
    found.dispose()


def _deliver(db: Database, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    request = InboundRequest("/v4/webhooks", "POST", {}, raw, len(raw), NOW)
    with db.writer.begin() as conn:
        record_delivery(conn, request, parse_v4(body), REACTIONS)


def _two_businesses_one_message_id(db: Database) -> tuple[str, str]:
    lead_a = real_payload("v4_negotiation_created_real")
    lead_b = copy.deepcopy(lead_a)
    lead_b["data"]["negotiationID"] = "548955282027570009"
    lead_b["data"]["business"] = {"businessID": "business-b", "name": "B"}
    message_a = real_payload("v4_message_created_real")
    message_a["data"]["attachments"] = [{"fileName": "a.jpg", "url": "https://x.test/a.jpg"}]
    message_b = copy.deepcopy(message_a)
    message_b["data"]["negotiationID"] = "548955282027570009"
    message_b["data"]["business"] = {"businessID": "business-b"}
    message_b["data"]["attachments"] = [{"fileName": "b.jpg", "url": "https://x.test/b.jpg"}]
    for body in (lead_a, lead_b, message_a, message_b):
        _deliver(db, body)
    return str(lead_a["data"]["business"]["businessID"]), "548955282027570009"


def test_purging_one_business_keeps_anothers_message_with_the_same_id(db: Database) -> None:
    business_a, lead_b = _two_businesses_one_message_id(db)
    with db.writer.begin() as conn:
        purged = purge_business(conn, business_a, NOW)
    assert not purged.skipped
    assert purged.messages == 1
    with db.reader.connect() as conn:
        left = conn.execute(select(messages.c.lead_id, messages.c.message_id)).all()
        files = conn.execute(
            select(attachments.c.file_name).where(attachments.c.owner_kind == "message")
        ).scalars()
        assert [tuple(r) for r in left] == [(lead_b, "m1")]
        assert list(files) == ["b.jpg"]


def _log(db: Database) -> list[tuple[str | None, str | None, str | None, str | None]]:
    with db.reader.connect() as conn:
        rows = conn.execute(
            select(
                inbound_log.c.record_kind,
                inbound_log.c.record_id,
                inbound_log.c.lead_id,
                inbound_log.c.business_id,
            ).order_by(inbound_log.c.id)
        ).all()
    return [tuple(r) for r in rows]


def test_the_log_names_each_deliverys_lead_and_business(db: Database) -> None:
    business_a, lead_b = _two_businesses_one_message_id(db)
    lead_a = str(real_payload("v4_negotiation_created_real")["data"]["negotiationID"])
    assert _log(db) == [
        ("lead", lead_a, lead_a, business_a),
        ("lead", lead_b, lead_b, "business-b"),
        ("message", "m1", lead_a, business_a),
        ("message", "m1", lead_b, "business-b"),
    ]


def test_purging_one_business_keeps_anothers_delivery_of_the_same_message_id(
    db: Database,
) -> None:
    business_a, lead_b = _two_businesses_one_message_id(db)
    with db.writer.begin() as conn:
        purged = purge_business(conn, business_a, NOW)
    assert purged.deliveries == 2
    assert _log(db) == [
        ("lead", lead_b, lead_b, "business-b"),
        ("message", "m1", lead_b, "business-b"),
    ]


def test_rows_from_before_the_log_named_leads_are_purged_only_when_theirs(db: Database) -> None:
    # Rows as 0003 wrote them (no lead, no business): a message ID another business also
    # used stays (it cannot be told apart); one only the purged business used goes.
    business_a, lead_b = _two_businesses_one_message_id(db)
    lead_a = str(real_payload("v4_negotiation_created_real")["data"]["negotiationID"])
    with db.writer.begin() as conn:
        conn.execute(text("UPDATE inbound_log SET lead_id = NULL, business_id = NULL"))
        conn.execute(
            insert(messages).values(
                message_id="only-a",
                lead_id=lead_a,
                business_id=business_a,
                received_at=NOW,
                sender="Customer",
                source="v4",
            )
        )
        conn.execute(
            insert(inbound_log).values(
                received_at=NOW,
                route="/v4/webhooks",
                method="POST",
                headers={},
                body=b"{}",
                body_size=2,
                body_truncated=False,
                status_code=200,
                outcome="accepted",
                record_kind="message",
                record_id="only-a",
            )
        )
        purged = purge_business(conn, business_a, NOW)
    assert purged.deliveries == 2  # its lead's delivery and its own message ID's
    assert _log(db) == [
        ("lead", lead_b, None, None),
        ("message", "m1", None, None),
        ("message", "m1", None, None),
    ]
