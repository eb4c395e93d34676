"""A message without a lead is its ID alone (migration ``0007_messages_unique_without_lead``):
the store holds one row per such ID, and the same message arriving at two processes at once is
stored once, the second delivery answered as a duplicate."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from tackbridge.flows import REACTIONS
from tackbridge.inbound.parse import parse_legacy_message
from tackbridge.inbound.record import InboundRequest, Outcome, record_delivery
from tackbridge.leads.models import Delivery
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import messages
from tests.support import stores
from tests.support.sandbox import wait_until

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(stores.url(tmp_path / "m.db"))
    migrate.upgrade(database.writer)
    return database


def _row(message_id: str, lead_id: str | None) -> dict[str, object]:
    return {
        "message_id": message_id,
        "lead_id": lead_id,
        "sender": "Customer",
        "source": "v1",
        "received_at": NOW,
    }


def _count(db: Database, message_id: str) -> int:
    with db.reader.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(messages.c.message_id == message_id)
            ).scalar_one()
        )


def test_the_store_holds_one_message_without_a_lead_per_id(db: Database) -> None:
    with db.writer.begin() as conn:
        conn.execute(insert(messages), [_row("m1", None), _row("m1", "L1"), _row("m1", "L2")])
    with pytest.raises(IntegrityError), db.writer.begin() as conn:
        conn.execute(insert(messages), _row("m1", None))
    assert _count(db, "m1") == 3  # one without a lead, one per lead


def _record(conn: object, message_id: str) -> Outcome:
    delivery = Delivery(parse_legacy_message({"message": {"messageID": message_id}}))
    request = InboundRequest("/v1/message", "POST", {}, b"{}", 2, NOW)
    return record_delivery(conn, request, delivery, REACTIONS)  # type: ignore[arg-type]


def test_a_message_without_a_lead_delivered_again_is_a_duplicate(db: Database) -> None:
    with db.writer.begin() as conn:
        first = _record(conn, "m2")
    with db.writer.begin() as conn:
        again = _record(conn, "m2")
    assert (first.outcome, again.outcome) == ("pending", "duplicate")
    assert _count(db, "m2") == 1


@pytest.mark.postgres_only
def test_two_processes_storing_the_same_message_without_a_lead_store_it_once(
    tmp_path: Path,
) -> None:
    """Two transactions side by side, as two ``serve`` processes' writers: the second cannot
    see the first's uncommitted row when it looks, so only the index can make it wait for
    the first and find the message there."""
    db = open_database(stores.url(tmp_path / "race", store="postgres"))
    migrate.upgrade(db.writer)
    try:
        answers: list[Outcome] = []
        with db.writer.connect() as first, db.writer.connect() as watcher:
            with first.begin():
                assert _record(first, "m3").outcome == "pending"

                def second() -> None:
                    with db.writer.begin() as conn:
                        answers.append(_record(conn, "m3"))

                other = threading.Thread(target=second)
                other.start()

                def waiting() -> bool:
                    # The second is either waiting on the first's row (the index) or done.
                    waits = watcher.execute(
                        text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    ).scalar_one()
                    watcher.rollback()
                    return bool(waits) or not other.is_alive()

                wait_until(waiting, timeout=30)
            other.join(timeout=30)
        assert not other.is_alive()
        assert [a.outcome for a in answers] == ["duplicate"]
        assert [a.status_code for a in answers] == [200]
        assert _count(db, "m3") == 1
    finally:
        db.dispose()
