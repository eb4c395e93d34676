"""A real SQLite store whose writes can be made to fail the way a locked or full store makes
them fail, and the /readyz of a tackbridge app over it (shared by the supervision and readiness
tests)."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import Connection, event, select

from tackbridge.app import create_app
from tackbridge.connections.service import open_connections
from tackbridge.outbox.kinds import JobKind
from tackbridge.outbox.queue import enqueue
from tackbridge.outbox.worker import Worker
from tackbridge.registry import build_registry
from tackbridge.runtime import Runtime
from tackbridge.services import Services, open_http, open_thumbtack
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import delivery_attempts, outbox
from tackbridge.store.writer import Writer
from tests.support.tackbridge import make_settings

#: The writer's lock wait in these tests (30 s in production): a lock held longer than this
#: fails the write, as a lock held for more than 30 s does there.
BUSY_TIMEOUT_MS = 200


@dataclass
class FaultyStore:
    path: Path
    db: Database
    writer: Writer
    # The most pages the writer's connections may grow the file to; None: no limit of ours.
    page_limit: int | None = None
    default_max_pages: int | None = None

    def on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        if self.default_max_pages is None:
            (self.default_max_pages,) = dbapi_connection.execute("PRAGMA max_page_count").fetchone()
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def on_checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # max_page_count belongs to a connection: set on every checkout, so that the limit
        # reaches every connection of the pool at once.
        limit = self.page_limit or self.default_max_pages
        dbapi_connection.execute(f"PRAGMA max_page_count={limit}")

    def lock(self) -> sqlite3.Connection:
        """Another connection's write lock, held until it rolls back."""
        holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")
        return holder

    def fill(self) -> None:
        """No more pages: the file may not grow past its size now, nor has it free pages inside
        (a migration that rebuilds tables leaves some; VACUUM gives them back first)."""
        vacuum = sqlite3.connect(self.path, isolation_level=None)
        try:
            vacuum.execute("VACUUM")
        finally:
            vacuum.close()
        with self.db.reader.connect() as conn:
            (pages,) = conn.exec_driver_sql("PRAGMA page_count").one()
        self.page_limit = int(pages)

    def make_room(self) -> None:
        self.page_limit = None

    async def enqueue(self, *keys: str, **payload: Any) -> None:
        """One write (acknowledged or refused as a whole), as an inbound delivery is."""
        now = datetime.now(UTC)

        def unit(conn: Connection) -> None:
            for key in keys:
                raw = JobKind("test.job", lambda p, k=key: k, dict, dict)
                enqueue(conn, raw, dict(payload), now=now)

        await self.writer.run(unit)

    def states(self) -> dict[str, str]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(outbox.c.idempotency_key, outbox.c.state)).all()
        return {key: state for key, state in rows}

    def row(self, key: str) -> Any:
        with self.db.reader.connect() as conn:
            return conn.execute(select(outbox).where(outbox.c.idempotency_key == key)).one()

    def history(self, key: str) -> list[Any]:
        with self.db.reader.connect() as conn:
            return list(
                conn.execute(
                    select(delivery_attempts)
                    .join(outbox, outbox.c.id == delivery_attempts.c.job_id)
                    .where(outbox.c.idempotency_key == key)
                    .order_by(delivery_attempts.c.id)
                ).all()
            )

    def all_done(self, keys: list[str]) -> bool:
        states = self.states()
        return all(states.get(key) == "done" for key in keys)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FaultyStore]:
    path = tmp_path / "o.db"
    db = open_database(f"sqlite:///{path}", sqlite_synchronous="NORMAL")
    migrate.upgrade(db.writer)
    faulty = FaultyStore(path, db, Writer(db.writer))
    event.listen(db.writer, "connect", faulty.on_connect)
    event.listen(db.writer, "checkout", faulty.on_checkout)
    db.writer.dispose()  # the connections the migrations opened lack the listeners' settings
    faulty.writer.start()
    yield faulty
    faulty.writer.stop()
    db.dispose()


@dataclass
class Ready:
    """``GET /readyz`` of an app whose runtime is this store (and worker, if any)."""

    client: httpx2.AsyncClient

    async def __call__(self) -> httpx2.Response:
        return await self.client.get("/readyz")

    async def reasons(self) -> set[str]:
        answer = await self()
        if answer.status_code == 200:
            return set()
        assert answer.status_code == 503, answer.text
        return {reason["check"] for reason in answer.json()["reasons"]}


@asynccontextmanager
async def ready_probe(
    store: FaultyStore, tmp_path: Path, worker: Worker | None, **settings: Any
) -> AsyncIterator[Ready]:
    config = make_settings(
        tmp_path, database_url=f"sqlite:///{store.path}", run_worker=worker is not None, **settings
    )
    thumbtack = open_thumbtack(config)
    services = Services(config, store.db, store.writer, thumbtack, open_http())
    connections = open_connections(config, store.db, store.writer, thumbtack=thumbtack)
    runtime = Runtime(services, connections, build_registry(), worker=worker)
    app = create_app(config, runtime=runtime)
    # What the lifespan does, which ASGITransport does not run.
    app.state.runtime = runtime
    app.state.services = services
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://tackbridge") as client:
        yield Ready(client)


# Polled: what these wait for (rows in the store, another thread's commit, a worker's counters)
# announces itself on no event; each wait is bounded.
async def until(predicate: Callable[[], bool], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def until_async(predicate: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@dataclass
class LoopErrors:
    """What reaches the event loop's exception handler ("Task exception was never retrieved"
    among it)."""

    contexts: list[dict[str, Any]] = field(default_factory=list)

    def assert_none(self) -> None:
        gc.collect()  # a task's unretrieved exception is reported when the task is collected
        assert [c.get("message") for c in self.contexts] == []


@pytest.fixture
async def loop_errors() -> AsyncIterator[LoopErrors]:
    loop = asyncio.get_running_loop()
    errors = LoopErrors()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.contexts.append(context))
    try:
        yield errors
    finally:
        loop.set_exception_handler(previous)


def no_unretrieved(messages: Iterable[str]) -> bool:
    return not any("never retrieved" in message for message in messages)
