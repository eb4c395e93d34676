"""One tackbridge process, assembled: the services every feature shares, the connections
feature (whose TokenManager is the process's grant source), the registry of job kinds, and
(when it runs one) the outbox worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tackbridge.connections.service import Connections, open_connections
from tackbridge.outbox.backoff import backoff_from
from tackbridge.outbox.kinds import Bound, Registry
from tackbridge.outbox.worker import Worker
from tackbridge.registry import build_registry
from tackbridge.services import Services, open_http, open_thumbtack
from tackbridge.settings import Settings
from tackbridge.store import migrate, secrets
from tackbridge.store.database import open_database
from tackbridge.store.writer import Writer

__all__ = ["Runtime"]


@dataclass
class Runtime:
    services: Services
    connections: Connections
    registry: Registry
    worker: Worker | None = None
    _worker_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _bound: dict[str, Bound[Any]] | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls, settings: Settings, *, upgrade: bool = True, registry: Registry | None = None
    ) -> Runtime:
        db = open_database(
            settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        if upgrade:
            migrate.upgrade(db.writer)
            if secrets.uses_passphrase(settings):
                # Rows sealed under the old unsalted derivation are sealed again under the KDF.
                secrets.reseal_legacy(db.writer, secrets.load_box(settings))
        writer = Writer(db.writer, batch_size=settings.write_batch_size)
        thumbtack = open_thumbtack(settings)
        services = Services(settings, db, writer, thumbtack, open_http())
        connections = open_connections(settings, db, writer, thumbtack=thumbtack)
        services.grants = connections.tokens
        services.box_loader = connections.tokens.box
        runtime = cls(services, connections, registry or build_registry())
        services.wake = runtime.wake_worker
        connections.wake = runtime.wake_worker
        return runtime

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def start(self) -> None:
        self.services.writer.start()

    def bound(self) -> dict[str, Bound[Any]]:
        """Every kind with its handler built for this process (once)."""
        if self._bound is None:
            self._bound = self.registry.bind(self.services)
        return self._bound

    def new_worker(self, concurrency: int | None = None) -> Worker:
        """A worker for every registered kind, configured by the settings."""
        settings = self.settings
        return Worker(
            self.services.writer,
            self.bound(),
            concurrency=concurrency or settings.worker_concurrency,
            lease_seconds=settings.worker_lease_seconds,
            poll_seconds=settings.worker_poll_seconds,
            backoff=backoff_from(settings),
        )

    def start_worker(self) -> Worker:
        """Run the outbox worker in this process's event loop."""
        self.worker = self.new_worker()
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
        await self.services.aclose()

    def close(self) -> None:
        self.services.writer.stop()
        self.services.db.dispose()
