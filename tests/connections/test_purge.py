"""The purge of a disconnected business removes its messages only: message IDs repeat across
leads, and another business's message with the same ID (and its attachments) stays."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tackbridge.connections.purge import purge_business
from tackbridge.flows import REACTIONS
from tackbridge.inbound.parse import parse_v4
from tackbridge.inbound.record import InboundRequest, record_delivery
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import attachments, messages
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
    request = InboundRequest("/v4/webhooks", "POST", {}, b"{}", 2, NOW)
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
