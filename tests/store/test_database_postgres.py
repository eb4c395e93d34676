"""The PostgreSQL engines: reads in autocommit (no transaction left open by a read), writes in
transactions, and a pooled connection that died while idle replaced on checkout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from tackbridge.store import database
from tackbridge.store.database import Database, open_database
from tests.support import stores

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    opened = open_database(stores.url(tmp_path / "pg", store="postgres"))
    try:
        yield opened
    finally:
        opened.dispose()


def _status(conn: object) -> psycopg.pq.TransactionStatus:
    raw = conn.connection.dbapi_connection  # type: ignore[attr-defined]
    return raw.info.transaction_status  # type: ignore[no-any-return]


def test_a_read_opens_no_transaction_and_a_write_does(db: Database) -> None:
    with db.reader.connect() as conn:
        conn.execute(text("SELECT 1"))
        assert _status(conn) == psycopg.pq.TransactionStatus.IDLE
    with db.writer.begin() as conn:
        conn.execute(text("SELECT 1"))
        assert _status(conn) == psycopg.pq.TransactionStatus.INTRANS
    # The same pool: the read's autocommit did not stay on the connection it returned.
    with db.writer.connect() as conn:
        conn.execute(text("SELECT 1"))
        assert _status(conn) == psycopg.pq.TransactionStatus.INTRANS
        conn.rollback()


def test_a_connection_that_died_while_idle_is_replaced_on_checkout(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.reader.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(
        db.url.replace("postgresql+psycopg", "postgresql"), autocommit=True
    ) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    # Idle "long enough": every returned connection is pinged on its next checkout.
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    with db.reader.connect() as conn:
        again = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert again != pid


def test_a_recently_used_connection_is_not_pinged(db: Database) -> None:
    with db.reader.connect() as conn:
        conn.execute(text("SELECT 1"))
    pings: list[object] = []
    real = db.writer.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return bool(real(dbapi_connection))

    db.writer.dialect.do_ping = counted  # type: ignore[method-assign]
    try:
        for _ in range(3):
            with db.reader.connect() as conn:
                conn.execute(text("SELECT 1"))
    finally:
        del db.writer.dialect.do_ping
    assert pings == []
