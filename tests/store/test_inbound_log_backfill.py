"""``0004_inbound_log_lead`` backfills the lead and business of log rows written before the
log named them, where the store can tell, and leaves the rest unknown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from tackbridge.store import migrate
from tackbridge.store.database import open_database

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_backfill_names_what_the_store_can_tell(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(db.writer, "0003_messages_per_lead")
    with db.writer.begin() as conn:
        for business in ("B1", "B2"):
            conn.execute(
                text(
                    "INSERT INTO businesses (business_id, created_at, updated_at) "
                    "VALUES (:b, :t, :t)"
                ),
                {"b": business, "t": NOW},
            )
        for lead, business in (("L1", "B1"), ("L2", "B2"), ("L3", "B1")):
            conn.execute(
                text(
                    "INSERT INTO leads (lead_id, business_id, source, is_test, received_at, "
                    "updated_at) VALUES (:l, :b, 'v4', 0, :t, :t)"
                ),
                {"l": lead, "b": business, "t": NOW},
            )
        # m1 is used by L1 and L2; m2 by L3 only; r1 is L2's review.
        for message, lead, business in (("m1", "L1", "B1"), ("m1", "L2", "B2"), ("m2", "L3", "B1")):
            conn.execute(
                text(
                    "INSERT INTO messages (message_id, lead_id, business_id, sender, source, "
                    "received_at) VALUES (:m, :l, :b, 'Customer', 'v4', :t)"
                ),
                {"m": message, "l": lead, "b": business, "t": NOW},
            )
        conn.execute(
            text(
                "INSERT INTO reviews (review_id, lead_id, business_id, source, received_at) "
                "VALUES ('r1', 'L2', 'B2', 'v4', :t)"
            ),
            {"t": NOW},
        )
        rows = [
            ("lead", "L1", b'{"negotiationID": "L1"}'),
            ("lead_update", "L3", b"{}"),
            ("message", "m1", b'{"data": {"negotiationID": "L2", "messageID": "m1"}}'),
            ("message", "m1", b'{"messageID": "m1"}'),  # names neither lead: stays unknown
            ("message", "m2", b"{}"),
            ("review", "r1", b"{}"),
            ("message", "m9", b"{}"),  # a message the store does not hold
        ]
        for kind, record, body in rows:
            conn.execute(
                text(
                    "INSERT INTO inbound_log (received_at, route, method, headers, body, "
                    "body_size, body_truncated, status_code, outcome, record_kind, record_id) "
                    "VALUES (:t, '/v4/webhooks', 'POST', '{}', :body, 2, 0, 200, 'accepted', "
                    ":kind, :record)"
                ),
                {"t": NOW, "body": body, "kind": kind, "record": record},
            )
    migrate.upgrade(db.writer)
    with db.reader.connect() as conn:
        found = conn.execute(
            text("SELECT record_kind, record_id, lead_id, business_id FROM inbound_log ORDER BY id")
        ).all()
    db.dispose()
    assert [tuple(r) for r in found] == [
        ("lead", "L1", "L1", "B1"),
        ("lead_update", "L3", "L3", "B1"),
        ("message", "m1", "L2", "B2"),
        ("message", "m1", None, None),
        ("message", "m2", "L3", "B1"),
        ("review", "r1", "L2", "B2"),
        ("message", "m9", None, None),
    ]
