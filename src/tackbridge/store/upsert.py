"""Dialect-aware ``INSERT ... ON CONFLICT`` for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(
    conn: Connection, table: Table, values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """Insert unless a row with the same ``conflict`` columns exists; True if inserted."""
    stmt = _insert(conn, table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    return bool(conn.execute(stmt).rowcount)


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert, or update the ``update`` columns with the new non-null values."""
    stmt = _insert(conn, table).values(**values)
    excluded = stmt.excluded
    set_ = {col: func.coalesce(excluded[col], table.c[col]) for col in update}
    conn.execute(stmt.on_conflict_do_update(index_elements=conflict, set_=set_))
