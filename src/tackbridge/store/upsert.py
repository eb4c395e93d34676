"""Dialect-aware ``INSERT ... ON CONFLICT`` for SQLite and PostgreSQL, built once per shape.

Building a Core statement costs far more than executing it (a bind parameter per value, a fresh
cache key per execution, ``excluded`` column proxies), so each statement is built once per
dialect, table and conflict shape and executed with the row as parameters.

Whether a row went in is told by the rows the statement returns, not by ``rowcount``: on
PostgreSQL SQLAlchemy adds ``RETURNING`` (its primary key) to a single-row insert, and psycopg
then reports ``rowcount`` -1 whether a row went in or not (so a duplicate would pass as new).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Executable, Table, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite


def _insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"INSERT ... ON CONFLICT is not supported on {dialect}")


@cache
def insert_ignore_statement(
    dialect: str, table: Table, conflict: tuple[str, ...], where: ColumnElement[bool] | None = None
) -> Executable:
    """``INSERT ... ON CONFLICT (conflict) [WHERE where] DO NOTHING RETURNING 1``; the row comes
    as execute parameters, and a row comes back only if it went in. ``where``: the predicate of
    a partial unique index on ``conflict`` (a module-level constant: it is part of the cache
    key)."""
    stmt: Executable = (
        _insert(dialect, table)
        .on_conflict_do_nothing(index_elements=conflict, index_where=where)
        .returning(literal_column("1"))
    )
    return stmt


@cache
def insert_ignore_many_statement(
    dialect: str, table: Table, conflict: tuple[str, ...], returning: str | None = None
) -> Executable:
    """``INSERT ... ON CONFLICT (conflict) DO NOTHING`` for many rows at once (``executemany``),
    ``RETURNING`` the ``returning`` column of the rows that went in (none: no RETURNING)."""
    stmt = _insert(dialect, table).on_conflict_do_nothing(index_elements=conflict)
    if returning is not None:
        stmt = stmt.returning(table.c[returning])  # which rows, in no promised order
    built: Executable = stmt
    return built


@cache
def upsert_statement(
    dialect: str, table: Table, conflict: tuple[str, ...], update: tuple[str, ...]
) -> Executable:
    """``INSERT ... ON CONFLICT (conflict) DO UPDATE`` keeping old values where the new are null."""
    stmt = _insert(dialect, table)
    excluded = stmt.excluded
    set_ = {col: func.coalesce(excluded[col], table.c[col]) for col in update}
    built: Executable = stmt.on_conflict_do_update(index_elements=conflict, set_=set_)
    return built


def insert_ignore(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    where: ColumnElement[bool] | None = None,
) -> bool:
    """Insert unless a row with the same ``conflict`` columns exists (among the rows ``where``
    holds for: a partial unique index); True if inserted."""
    stmt = insert_ignore_statement(conn.dialect.name, table, tuple(conflict), where)
    return conn.execute(stmt, dict(values)).first() is not None


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert, or update the ``update`` columns with the new non-null values."""
    stmt = upsert_statement(conn.dialect.name, table, tuple(conflict), tuple(update))
    conn.execute(stmt, dict(values))
