"""Looking straight into a test server's SQLite file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, func, select

from tackbridge.settings import Settings
from tackbridge.store.schema import outbox


def count(settings: Settings, table: Any, *where: Any) -> int:
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
            )
    finally:
        engine.dispose()


def outbox_keys(settings: Settings) -> list[str]:
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(select(outbox.c.idempotency_key).order_by(outbox.c.id)).scalars()
            )
    finally:
        engine.dispose()
