"""Looking into and nudging the stack's SQLite file from tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine

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
