"""The one mapping from store rows to the read model: what the jobs read back is what was
delivered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from tackbridge.flows import REACTIONS
from tackbridge.inbound.parse import parse_legacy_lead, parse_legacy_message, parse_v4
from tackbridge.inbound.record import InboundRequest, record_delivery
from tackbridge.leads.models import Delivery, LeadInput, ReviewReceived
from tackbridge.leads.rows import read_lead_input, read_message, read_review
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tests.fixtures import doc_payload
from tests.support import stores

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    found = open_database(stores.url(tmp_path / "rows.db"))
    migrate.upgrade(found.writer)
    yield found
    found.dispose()


def _store(db: Database, delivery: Delivery) -> None:
    body = orjson.dumps({})
    with db.writer.begin() as conn:
        record_delivery(
            conn, InboundRequest("/test", "POST", {}, body, 2, NOW), delivery, REACTIONS
        )


@pytest.mark.parametrize("example", ["v2_lead", "v1_lead", "v2_test_create_lead"])
def test_a_stored_lead_reads_back_as_the_delivered_one(db: Database, example: str) -> None:
    event = parse_legacy_lead(doc_payload(example))
    _store(db, Delivery(record=event))
    with db.reader.connect() as conn:
        assert read_lead_input(conn, event.lead_id) == LeadInput.from_event(event)
        assert read_lead_input(conn, "no-such-lead") is None


def test_a_stored_message_and_review_read_back_with_their_files(db: Database) -> None:
    lead = parse_legacy_lead(doc_payload("v2_lead"))
    message = parse_legacy_message(doc_payload("v2_message"))
    review = parse_v4(doc_payload("v4_review_created")).record
    for record in (lead, message, review):
        _store(db, Delivery(record=record))
    with db.reader.connect() as conn:
        assert read_message(conn, message.message_id) == message
        assert isinstance(review, ReviewReceived)
        assert read_review(conn, review.review_id) == review
        assert read_message(conn, "none") is None
        assert read_review(conn, "none") is None
