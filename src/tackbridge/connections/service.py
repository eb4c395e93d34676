"""The connections feature of one process: settings, store, the process's Thumbtack client and
the TokenManager that hands out each business's grant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request

from tackbridge.connections import store
from tackbridge.connections.tokens import TokenManager
from tackbridge.core.clock import now as utc_now
from tackbridge.services import open_thumbtack
from tackbridge.settings import Settings
from tackbridge.store.database import Database
from tackbridge.store.secrets import load_box
from tackbridge.store.writer import Writer
from tackbridge.thumbtack import ThumbtackClient

__all__ = ["Connections", "connections_of", "open_connections"]


@dataclass
class Connections:
    settings: Settings
    db: Database
    writer: Writer
    thumbtack: ThumbtackClient
    tokens: TokenManager
    clock: Callable[[], datetime] = utc_now
    wake: Callable[[], None] = field(default=lambda: None)

    def wake_worker(self) -> None:
        self.wake()

    def list(self) -> list[store.ConnectionRow]:
        with self.db.reader.connect() as conn:
            return store.load_all(conn)

    async def aclose(self) -> None:
        await self.thumbtack.aclose()


def open_connections(
    settings: Settings,
    db: Database,
    writer: Writer,
    *,
    thumbtack: ThumbtackClient | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Connections:
    """The feature over ``thumbtack`` (default: a client of its own, for tools and tests; the
    runtime passes the process's one client)."""
    client = thumbtack or open_thumbtack(settings)
    tokens = TokenManager(db, writer, client, lambda: load_box(settings), clock=clock)
    return Connections(settings, db, writer, client, tokens, clock)


def connections_of(request: Request) -> Connections:
    """The process's connections feature, as the application holds it."""
    found: Connections = request.app.state.connections
    return found
