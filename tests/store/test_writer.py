"""The group-commit writer: many units, few transactions; one bad unit harms no other."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, select

from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import businesses
from tackbridge.store.writer import Writer, WriterClosedError
from tests.support import stores


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(stores.url(tmp_path / "w.db"))
    migrate.upgrade(database.writer)
    return database


def _insert(business_id: str) -> Callable[[Connection], str]:
    def unit(conn: Connection) -> str:
        now = datetime.now(UTC)
        conn.execute(
            businesses.insert().values(business_id=business_id, created_at=now, updated_at=now)
        )
        return business_id

    return unit


def _count(db: Database) -> int:
    with db.reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(businesses)).scalar_one())


async def test_concurrent_units_commit_in_few_batches(db: Database) -> None:
    writer = Writer(db.writer, batch_size=64)
    writer.start()
    try:
        results = await asyncio.gather(*(writer.run(_insert(f"b{i}")) for i in range(300)))
    finally:
        writer.stop()
    assert sorted(results) == sorted(f"b{i}" for i in range(300))
    assert _count(db) == 300
    assert writer.units == 300
    assert writer.batches < 300  # grouped, not one transaction per unit


async def test_failing_unit_is_isolated(db: Database) -> None:
    writer = Writer(db.writer)
    writer.start()
    try:
        outcomes = await asyncio.gather(
            writer.run(_insert("a")),
            writer.run(_insert("dup")),
            writer.run(_insert("dup")),  # violates the unique key
            writer.run(_insert("b")),
            return_exceptions=True,
        )
    finally:
        writer.stop()
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failures) == 1
    assert _count(db) == 3


async def test_run_after_stop_is_refused(db: Database) -> None:
    writer = Writer(db.writer)
    writer.start()
    writer.stop()
    with pytest.raises(WriterClosedError):
        await writer.run(_insert("late"))


@pytest.mark.sqlite_only
def test_sqlite_is_wal_and_writes_begin_immediate(db: Database) -> None:
    statements: list[str] = []

    @event.listens_for(db.writer, "before_cursor_execute")
    def _capture(*args: object) -> None:
        statements.append(str(args[2]))

    with db.writer.begin() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    assert "BEGIN IMMEDIATE" in statements


def test_units_from_several_event_loops_each_get_their_own_result(db: Database) -> None:
    writer = Writer(db.writer, batch_size=256)
    writer.start()
    results: dict[str, list[str]] = {}

    def client(name: str) -> None:
        async def submit() -> list[str]:
            return await asyncio.gather(*(writer.run(_insert(f"{name}-{i}")) for i in range(50)))

        results[name] = asyncio.run(submit())

    threads = [threading.Thread(target=client, args=(name,)) for name in ("x", "y", "z")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        writer.stop()
    assert results == {name: [f"{name}-{i}" for i in range(50)] for name in ("x", "y", "z")}
    assert _count(db) == 150


async def test_listeners_hear_every_batch_and_one_failing_harms_nothing(db: Database) -> None:
    writer = Writer(db.writer)
    heard: list[int] = []

    def broken() -> None:
        raise RuntimeError("listener bug")

    writer.add_listener(broken)
    writer.add_listener(lambda: heard.append(writer.batches))
    writer.start()
    try:
        await writer.run(_insert("l1"))
        await writer.run(_insert("l2"))
    finally:
        writer.stop()
    assert heard == [1, 2]
    assert _count(db) == 2


def _insert_many(conn: Connection, ids: Sequence[str]) -> list[str]:
    """A batched unit: one statement for all its items; a name starting with ``bad`` fails."""
    if any(i.startswith("bad") for i in ids):
        raise ValueError("refused")
    now = datetime.now(UTC)
    conn.execute(
        businesses.insert(), [{"business_id": i, "created_at": now, "updated_at": now} for i in ids]
    )
    _calls.append(len(ids))
    return [f"stored {i}" for i in ids]


_calls: list[int] = []


async def test_batched_items_share_one_call_and_keep_their_own_results(db: Database) -> None:
    _calls.clear()
    writer = Writer(db.writer, batch_size=64)
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.run_many(_insert_many, f"b{i}") for i in range(100)),
            writer.run(_insert("plain")),
        )
    finally:
        writer.stop()
    assert results == [f"stored b{i}" for i in range(100)] + ["plain"]
    assert _count(db) == 101
    assert sum(_calls) == 100
    assert len(_calls) < 100  # items of one batch went in one call


async def test_a_failing_batched_item_fails_alone(db: Database) -> None:
    _calls.clear()
    writer = Writer(db.writer, batch_size=64)
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.run_many(_insert_many, f"b{i}") for i in range(5)),
            writer.run_many(_insert_many, "bad"),
            *(writer.run_many(_insert_many, f"c{i}") for i in range(5)),
            return_exceptions=True,
        )
    finally:
        writer.stop()
    assert [str(r) for r in results] == (
        [f"stored b{i}" for i in range(5)] + ["refused"] + [f"stored c{i}" for i in range(5)]
    )
    assert isinstance(results[5], ValueError)
    assert _count(db) == 10
