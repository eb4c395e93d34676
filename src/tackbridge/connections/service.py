"""Wiring: the connections feature of one process (settings, store, the shared Thumbtack client
and the TokenManager), and the outbox handlers it contributes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tackbridge.connections import store
from tackbridge.connections.config import open_thumbtack
from tackbridge.connections.crypto import load_box
from tackbridge.connections.flow import PURGE_KIND, REGISTER_WEBHOOK_KIND
from tackbridge.connections.purge import PurgeHandler
from tackbridge.connections.tokens import TokenManager
from tackbridge.connections.webhooks import RegisterWebhookHandler
from tackbridge.delivery.worker import Handler
from tackbridge.settings import Settings
from tackbridge.store.database import Database
from tackbridge.store.writer import Writer
from tackbridge.thumbtack import ThumbtackClient

__all__ = ["Connections", "open_connections"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Connections:
    settings: Settings
    db: Database
    writer: Writer
    thumbtack: ThumbtackClient
    tokens: TokenManager
    clock: Callable[[], datetime] = _now
    wake: Callable[[], None] = field(default=lambda: None)

    def wake_worker(self) -> None:
        self.wake()

    def list(self) -> list[store.ConnectionRow]:
        with self.db.reader.connect() as conn:
            return store.load_all(conn)

    def handlers(self) -> dict[str, Handler]:
        """The outbox handlers to merge into the worker."""
        return {
            PURGE_KIND: PurgeHandler(self.writer),
            REGISTER_WEBHOOK_KIND: RegisterWebhookHandler(self),
        }

    async def aclose(self) -> None:
        await self.thumbtack.aclose()


def open_connections(
    settings: Settings,
    db: Database,
    writer: Writer,
    *,
    thumbtack: ThumbtackClient | None = None,
    clock: Callable[[], datetime] = _now,
) -> Connections:
    client = thumbtack or open_thumbtack(settings)
    tokens = TokenManager(db, writer, client, lambda: load_box(settings), clock=clock)
    return Connections(settings, db, writer, client, tokens, clock)
