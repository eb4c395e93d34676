"""The long-lived parts one tackbridge process shares: settings, database, writer, auth, and
(when it runs one) the outbox worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tackbridge.delivery.worker import Handler, Worker
from tackbridge.inbound.auth import PartnerAuth
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.writer import Writer


@dataclass
class Runtime:
    settings: Settings
    db: Database
    writer: Writer
    partner_auth: PartnerAuth
    worker: Worker | None = None
    _worker_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, upgrade: bool = True) -> Runtime:
        db = open_database(
            settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        if upgrade:
            migrate.upgrade(db.writer)
        writer = Writer(db.writer, batch_size=settings.write_batch_size)
        return cls(settings=settings, db=db, writer=writer, partner_auth=PartnerAuth(settings))

    def start(self) -> None:
        self.writer.start()

    def start_worker(self, handlers: dict[str, Handler]) -> Worker:
        """Run the outbox worker in this process's event loop."""
        self.worker = Worker(
            self.writer,
            handlers,
            concurrency=self.settings.worker_concurrency,
            lease_seconds=self.settings.worker_lease_seconds,
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

    def close(self) -> None:
        self.writer.stop()
        self.db.dispose()
