"""A store locked by another process: a write waits its caller's time at most, then is dropped
unwritten (StoreBusyError); what has begun is waited for; longer waits (the worker's) go on."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.locks import is_busy
from tackbridge.store.schema import businesses
from tackbridge.store.writer import StoreBusyError, Writer, waiting_at_most


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'l.db'}", sqlite_synchronous="NORMAL")
    migrate.upgrade(database.writer)
    yield database
    database.dispose()


@pytest.fixture
def writer(db: Database) -> Iterator[Writer]:
    w = Writer(db.writer, wait_seconds=0.3)
    w.start()
    yield w
    w.stop()


def _lock(db: Database) -> sqlite3.Connection:
    """Another process's view: a plain connection holding the write lock."""
    holder = sqlite3.connect(db.writer.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _insert(business_id: str) -> Callable[[Connection], str]:
    def unit(conn: Connection) -> str:
        now = datetime.now(UTC)
        conn.execute(
            businesses.insert().values(business_id=business_id, created_at=now, updated_at=now)
        )
        return business_id

    return unit


def _stored(db: Database) -> set[str]:
    with db.reader.connect() as conn:
        return set(conn.execute(select(businesses.c.business_id)).scalars())


async def test_a_locked_store_fails_the_write_after_the_wait_and_writes_nothing(
    db: Database, writer: Writer
) -> None:
    holder = _lock(db)
    try:
        # The connection's own busy timeout is 30 s: the write gives up on its 0.3 s instead.
        async with asyncio.timeout(10):
            with pytest.raises(StoreBusyError) as raised:
                await writer.run(_insert("refused"))
        assert raised.value.retry_after == 1
        assert "locked" in str(raised.value)
    finally:
        holder.rollback()
        holder.close()
    assert await writer.run(_insert("after")) == "after"
    assert _stored(db) == {"after"}  # the refused unit never ran, not even later


async def test_a_longer_wait_outlasts_the_lock_while_short_ones_give_up(
    db: Database, writer: Writer
) -> None:
    holder = _lock(db)
    try:
        with waiting_at_most(20):
            patient = asyncio.create_task(writer.run(_insert("worker")))
        with pytest.raises(StoreBusyError):
            await writer.run(_insert("request"))
        assert not patient.done()
    finally:
        holder.rollback()
        holder.close()
    assert await patient == "worker"
    assert _stored(db) == {"worker"}


def _insert_many(conn: Connection, ids: Sequence[str]) -> list[str]:
    now = datetime.now(UTC)
    conn.execute(
        businesses.insert(), [{"business_id": i, "created_at": now, "updated_at": now} for i in ids]
    )
    return list(ids)


async def test_batched_items_keep_their_caller_s_wait(db: Database, writer: Writer) -> None:
    """``run_many`` items wait as ``run``'s units do: the short waits give up unwritten, the
    patient item of the same batched function is written once the lock is gone."""
    holder = _lock(db)
    try:
        with waiting_at_most(20):
            patient = asyncio.create_task(writer.run_many(_insert_many, "worker"))
        async with asyncio.timeout(10):
            with pytest.raises(StoreBusyError):
                await writer.run_many(_insert_many, "request")
        assert not patient.done()
    finally:
        holder.rollback()
        holder.close()
    assert await patient == "worker"
    assert await writer.run_many(_insert_many, "after") == "after"
    assert _stored(db) == {"worker", "after"}


async def test_an_explicit_wait_wins_and_the_busy_timeout_is_restored(
    db: Database, writer: Writer
) -> None:
    holder = _lock(db)
    try:
        task = asyncio.create_task(writer.run(_insert("explicit"), wait=20))
        with pytest.raises(StoreBusyError):
            await writer.run(_insert("short"), wait=0.1)
    finally:
        holder.rollback()
        holder.close()
    assert await task == "explicit"
    with db.writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000


def test_is_busy_knows_sqlite_s_lock_errors(db: Database) -> None:
    holder = _lock(db)
    other = sqlite3.connect(db.writer.url.database or "", isolation_level=None, timeout=0.01)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            other.execute("BEGIN IMMEDIATE")
        assert is_busy(raised.value)
        assert not is_busy(sqlite3.OperationalError("disk I/O error"))
        assert not is_busy(ValueError("database is locked"))
    finally:
        other.close()
        holder.rollback()
        holder.close()
