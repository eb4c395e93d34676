"""The front door's batch inserts on SQLite's cursor store, byte for byte, what SQLAlchemy's own
execution stores: the same text for every datetime and JSON value, the same row IDs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Integer, LargeBinary, MetaData, Table, select
from sqlalchemy.dialects import sqlite

from tackbridge.flows import REACTIONS
from tackbridge.inbound.batch_insert import Prepared, insert_numbered
from tackbridge.inbound.parse import parse_legacy_lead
from tackbridge.inbound.record import InboundRequest, record_deliveries, record_delivery
from tackbridge.leads.models import Delivery
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import inbound_log, lead_status_history

NOW = datetime(2026, 11, 22, 12, 0, 0, 0, tzinfo=UTC)  # microsecond 0: still six digits
ELSEWHERE = timezone(timedelta(hours=-5))

pytestmark = pytest.mark.sqlite_only  # the path of SQLite's driver cursor


def _store(path: Path) -> Database:
    database = open_database(f"sqlite:///{path}")
    migrate.upgrade(database.writer)
    return database


def _deliveries() -> list[tuple[InboundRequest, Delivery]]:
    found = []
    for i in range(5):
        body: dict[str, Any] = {
            "leadID": f"L{i}",
            "createTimestamp": str(1498760294 + i),
            "request": {
                "description": "Café \u00e9t\u00e9 \U0001f3e0",
                "travelPreferences": {"mode": "travel", "miles": i} if i % 2 else None,
                "details": [{"question": "Rooms", "answer": str(i)}],
                "attachments": [{"fileName": f"{i}.jpg", "url": "https://x.test/a.jpg"}],
            },
            "customer": {"customerID": f"c{i}", "name": f"Customer {i}"},
            "business": {"businessID": "b1", "name": "Painting"},
            "leadPrice": "$26.00",
            "unexpectedField": {"kept": [1, "two", None]} if i == 3 else None,
        }
        received = NOW + timedelta(microseconds=i * 7) if i % 2 else NOW
        if i == 4:
            received = NOW.astimezone(ELSEWHERE)  # equal to the others' NOW, other fields
        headers = {"content-type": "application/json", "x-i": str(i)}
        request = InboundRequest("/v1/lead", "POST", headers, b"{}", 2, received)
        found.append((request, Delivery(parse_legacy_lead(body))))
    return found


def _raw(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


TABLES = (
    "businesses",
    "customers",
    "leads",
    "lead_details",
    "attachments",
    "lead_status_history",
    "inbound_log",
    "outbox",
)


def test_a_batch_on_the_cursor_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    fast_db, slow_db = _store(fast), _store(slow)
    items = _deliveries()
    with fast_db.writer.begin() as conn:  # a batch: the driver's cursor
        fast_log = [
            o.inbound_id for o in record_deliveries(conn, [(r, d, REACTIONS) for r, d in items])
        ]
    with slow_db.writer.begin() as conn:  # one by one: SQLAlchemy's execution throughout
        slow_log = [record_delivery(conn, r, d, REACTIONS).inbound_id for r, d in items]
    assert fast_log == slow_log == [1, 2, 3, 4, 5]
    for table in TABLES:
        assert _raw(fast, table) == _raw(slow, table), table
    times = [row[1] for row in _raw(fast, "inbound_log")]
    assert times[0] == "2026-11-22 12:00:00.000000"
    assert times[4] == "2026-11-22 07:00:00.000000"  # its own fields, not its equal's
    fast_db.dispose()
    slow_db.dispose()


def test_row_ids_follow_the_largest_even_after_deletes(tmp_path: Path) -> None:
    db = _store(tmp_path / "n.db")
    row = {
        "received_at": NOW,
        "route": "/v1/lead",
        "method": "POST",
        "headers": {},
        "body": None,
        "body_size": 0,
        "body_truncated": False,
        "status_code": 200,
        "outcome": "accepted",
        "event_type": None,
        "record_kind": None,
        "record_id": None,
        "lead_id": None,
        "business_id": None,
        "problem": None,
    }
    with db.writer.begin() as conn:
        assert insert_numbered(conn, inbound_log, inbound_log.insert(), [row, row]) == [1, 2]
        conn.execute(inbound_log.insert(), row)  # SQLite numbers this one: 3
        conn.execute(inbound_log.delete().where(inbound_log.c.id == 1))
        assert insert_numbered(conn, inbound_log, inbound_log.insert(), [row] * 3) == [4, 5, 6]
        ids = list(conn.execute(select(inbound_log.c.id).order_by(inbound_log.c.id)).scalars())
    assert ids == [2, 3, 4, 5, 6]
    db.dispose()


def test_values_convert_as_sqlalchemy_s_own_processors() -> None:
    dialect = sqlite.dialect()
    table = Table(
        "t",
        MetaData(),
        Column("flag", Boolean),
        Column("blob", LargeBinary),
        Column("n", Integer),
        *(
            Column(c.name, c.type)
            for c in lead_status_history.c
            if c.name in ("occurred_at", "recorded_at")
        ),
    )
    statement = table.insert()
    keys = ["flag", "blob", "n", "occurred_at", "recorded_at"]
    fast = Prepared(statement, dialect, keys)
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    processors = compiled._bind_processors  # SQLAlchemy's own, to compare with
    values = [
        {"flag": True, "blob": b"\x00x", "n": 3, "occurred_at": NOW, "recorded_at": None},
        {
            "flag": False,
            "blob": None,
            "n": None,
            "occurred_at": NOW.astimezone(ELSEWHERE),
            "recorded_at": datetime(2026, 1, 2, 3, 4, 5, 6),
        },
    ]
    expected = [
        tuple(
            processors[n](row[n]) if n in processors and row[n] is not None else row[n]
            for n in fast.names
        )
        for row in values
    ]
    assert fast.rows(values) == expected


def test_a_statement_sqlalchemy_must_fill_in_is_refused() -> None:
    # inbound_log.body_truncated has a Python-side default: without it in the keys,
    # SQLAlchemy would compute it, which the cursor cannot.
    with pytest.raises(ValueError, match="cannot be executed"):
        Prepared(inbound_log.insert(), sqlite.dialect(), ["route"])
