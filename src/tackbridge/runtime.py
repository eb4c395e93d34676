"""The long-lived parts one tackbridge process shares: settings, database, writer, auth, and
(when it runs one) the outbox worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tackbridge.delivery.backoff import backoff_from
from tackbridge.delivery.worker import Handler, Worker
from tackbridge.inbound.auth import PartnerAuth
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.writer import Writer

if TYPE_CHECKING:
    from tackbridge.connections.service import Connections
    from tackbridge.connections.tokens import TokenManager
    from tackbridge.thumbtack import ThumbtackClient


@dataclass
class Runtime:
    settings: Settings
    db: Database
    writer: Writer
    partner_auth: PartnerAuth
    worker: Worker | None = None
    # OAuth connections: the shared Thumbtack client and the TokenManager live in here.
    connections: Connections | None = None
    _worker_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, upgrade: bool = True) -> Runtime:
        db = open_database(
            settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        if upgrade:
            migrate.upgrade(db.writer)
        writer = Writer(db.writer, batch_size=settings.write_batch_size)
        runtime = cls(settings=settings, db=db, writer=writer, partner_auth=PartnerAuth(settings))
        from tackbridge.connections.service import open_connections

        runtime.connections = open_connections(settings, db, writer)
        runtime.connections.wake = runtime.wake_worker
        return runtime

    @property
    def thumbtack(self) -> ThumbtackClient | None:
        """The process's shared Thumbtack client."""
        return None if self.connections is None else self.connections.thumbtack

    @property
    def tokens(self) -> TokenManager | None:
        """Access tokens per business (refreshed single-flight)."""
        return None if self.connections is None else self.connections.tokens

    def start(self) -> None:
        self.writer.start()

    def start_worker(
        self, handlers: dict[str, Handler], *, first_kinds: frozenset[str] = frozenset()
    ) -> Worker:
        """Run the outbox worker in this process's event loop."""
        settings = self.settings
        self.worker = Worker(
            self.writer,
            handlers,
            first_kinds=first_kinds,
            concurrency=settings.worker_concurrency,
            lease_seconds=settings.worker_lease_seconds,
            poll_seconds=settings.worker_poll_seconds,
            backoff=backoff_from(settings),
        )
        self._worker_task = asyncio.create_task(self.worker.run(), name="outbox-worker")
        return self.worker

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def stop_worker(self) -> None:
        if self.worker is not None and self._worker_task is not None:
            await self.worker.stop()
            await self._worker_task
            self._worker_task = None

    async def aclose(self) -> None:
        """Close the network clients (before ``close``)."""
        if self.connections is not None:
            await self.connections.aclose()

    def close(self) -> None:
        self.writer.stop()
        self.db.dispose()
