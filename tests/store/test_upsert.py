"""``INSERT ... ON CONFLICT`` built once per dialect and shape, executed with each row's values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import businesses, customers, outbox
from tackbridge.store.upsert import (
    insert_ignore,
    insert_ignore_statement,
    upsert,
    upsert_statement,
)
from tests.support import stores

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
UPDATE = ("name", "access_code", "updated_at")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(stores.url(tmp_path / "u.db"))
    migrate.upgrade(database.writer)
    return database


def _business(business_id: str, name: str | None, at: datetime) -> dict[str, object]:
    return {
        "business_id": business_id,
        "name": name,
        "access_code": None,
        "created_at": at,
        "updated_at": at,
    }


def test_statements_are_built_once_per_dialect_and_shape() -> None:
    lite = upsert_statement("sqlite", businesses, ("business_id",), UPDATE)
    assert upsert_statement("sqlite", businesses, ("business_id",), UPDATE) is lite
    pg = upsert_statement("postgresql", businesses, ("business_id",), UPDATE)
    assert pg is not lite
    assert upsert_statement("sqlite", businesses, ("business_id",), ("name",)) is not lite
    assert insert_ignore_statement("sqlite", outbox, ("idempotency_key",)) is not (
        insert_ignore_statement("postgresql", outbox, ("idempotency_key",))
    )


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_statements_compile_to_on_conflict_on_both_dialects(dialect: object) -> None:
    name = dialect.name  # type: ignore[attr-defined]
    keys = list(_business("b", "n", NOW))
    sql = " ".join(
        str(
            upsert_statement(name, businesses, ("business_id",), UPDATE).compile(
                dialect=dialect,  # type: ignore[arg-type]
                column_keys=keys,
            )
        ).split()
    )
    assert "ON CONFLICT (business_id) DO UPDATE SET" in sql
    assert "name = coalesce(excluded.name, businesses.name)" in sql
    assert "updated_at = coalesce(excluded.updated_at, businesses.updated_at)" in sql
    ignore = " ".join(
        str(
            insert_ignore_statement(name, outbox, ("idempotency_key",)).compile(
                dialect=dialect,  # type: ignore[arg-type]
                column_keys=["kind", "idempotency_key"],
            )
        ).split()
    )
    assert ignore.startswith("INSERT INTO outbox (kind, idempotency_key")
    assert "ON CONFLICT (idempotency_key) DO NOTHING" in ignore


def test_unsupported_dialect_is_refused() -> None:
    with pytest.raises(NotImplementedError):
        insert_ignore_statement("mysql", outbox, ("idempotency_key",))


def test_upsert_keeps_old_values_where_the_new_are_null(db: Database) -> None:
    with db.writer.begin() as conn:
        upsert(conn, businesses, _business("b1", "First name", NOW), ["business_id"], UPDATE)
        upsert(conn, businesses, _business("b2", "Other", NOW), ["business_id"], UPDATE)
    with db.writer.begin() as conn:
        upsert(conn, businesses, _business("b1", None, LATER), ["business_id"], UPDATE)
    with db.reader.connect() as conn:
        rows = {r.business_id: r for r in conn.execute(select(businesses)).all()}
    assert rows["b1"].name == "First name"
    assert rows["b1"].updated_at.replace(tzinfo=UTC) == LATER
    assert rows["b1"].created_at.replace(tzinfo=UTC) == NOW  # not in the update columns
    assert rows["b2"].name == "Other"
    with db.writer.begin() as conn:
        upsert(conn, businesses, _business("b1", "Renamed", LATER), ["business_id"], UPDATE)
    with db.reader.connect() as conn:
        name = conn.execute(select(businesses.c.name).where(businesses.c.business_id == "b1"))
        assert name.scalar_one() == "Renamed"


def test_reused_statement_takes_each_rows_values(db: Database) -> None:
    rows = [
        {"customer_id": f"c{i}", "name": f"Customer {i}", "created_at": NOW, "updated_at": NOW}
        for i in range(5)
    ]
    update = ("name", "updated_at")
    with db.writer.begin() as conn:
        for row in rows:
            upsert(conn, customers, row, ["customer_id"], update)
    with db.reader.connect() as conn:
        stored = dict(conn.execute(select(customers.c.customer_id, customers.c.name)).all())
    assert stored == {f"c{i}": f"Customer {i}" for i in range(5)}


def test_insert_ignore_reports_whether_it_inserted(db: Database) -> None:
    def job(key: str, kind: str) -> dict[str, object]:
        return {
            "kind": kind,
            "idempotency_key": key,
            "payload": {"key": key},
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
            "updated_at": NOW,
        }

    with db.writer.begin() as conn:
        assert insert_ignore(conn, outbox, job("k1", "first"), ["idempotency_key"])
        assert not insert_ignore(conn, outbox, job("k1", "second"), ["idempotency_key"])
        assert insert_ignore(conn, outbox, job("k2", "third"), ["idempotency_key"])
    with db.reader.connect() as conn:
        kinds = dict(conn.execute(select(outbox.c.idempotency_key, outbox.c.kind)).all())
    assert kinds == {"k1": "first", "k2": "third"}
