"""Looking into and nudging the stack's SQLite file from tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine

from tackbridge.connections.purge import PURGE
from tackbridge.connections.service import Connections
from tackbridge.connections.webhooks import REGISTER_WEBHOOK
from tackbridge.outbox.kinds import Bound, Registry
from tackbridge.services import Services, open_http
from tackbridge.settings import Settings
from tackbridge.store.schema import connections


def expire_access_token(settings: Settings, business_id: str) -> None:
    """Make the stored access token look expired, so the next caller must refresh."""
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                connections.update()
                .where(connections.c.business_id == business_id)
                .values(access_expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
    finally:
        engine.dispose()


def connection_kinds(local: Connections) -> dict[str, Bound[Any]]:
    """The connections' own job kinds (purge, webhook registration), bound as a worker runs them."""
    services = Services(
        local.settings, local.db, local.writer, local.thumbtack, open_http(), grants=local.tokens
    )
    return Registry.of([PURGE, REGISTER_WEBHOOK]).bind(services)
