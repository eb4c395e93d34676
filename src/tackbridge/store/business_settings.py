"""Per-business settings rows (``business_settings``): one row a business, columns owned by the
capabilities that keep a choice per business (the CRM destination, the auto-reply rules)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from tackbridge.store.schema import business_settings

# Built once: every CRM and auto-reply job reads its business's row.
_GET = select(business_settings).where(business_settings.c.business_id == bindparam("business_id"))


_GET_MANY = select(business_settings).where(
    business_settings.c.business_id.in_(bindparam("ids", expanding=True))
)


def get(conn: Connection, business_id: str) -> Any:
    """The business's row, or None when it has chosen nothing yet."""
    return conn.execute(_GET, {"business_id": business_id}).first()


def get_many(conn: Connection, business_ids: Collection[str]) -> dict[str, Any]:
    """The rows of those of ``business_ids`` that have one, by business ID."""
    if not business_ids:
        return {}
    rows = conn.execute(_GET_MANY, {"ids": list(business_ids)})
    return {row.business_id: row for row in rows}


def put(conn: Connection, business_id: str, values: dict[str, Any]) -> None:
    """Set ``values`` (which include ``updated_at``) on the business's row, creating it."""
    changed = conn.execute(
        update(business_settings)
        .where(business_settings.c.business_id == business_id)
        .values(**values)
    ).rowcount
    if not changed:
        conn.execute(business_settings.insert().values(business_id=business_id, **values))
