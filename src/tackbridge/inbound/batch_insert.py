"""The front door's batch inserts on SQLite, executed on the driver's cursor.

A batch of new leads inserts a handful of rows per lead into six tables. Through SQLAlchemy each
row's parameters pass its per-row machinery and every DateTime and JSON value its bind
processor (~5 us a datetime, ~4 us a JSON value even for None): together about half of the
writer's CPU per lead. Here each statement is compiled once by SQLAlchemy for the connection's
dialect and the row's keys, and its rows go to ``executemany`` on the driver's cursor as tuples,
their values converted to exactly what SQLAlchemy's SQLite processors would bind: a datetime as
SQLAlchemy's SQLite storage format (converted once per distinct value in the batch: most of a
lead's timestamps are its receipt time), JSON through the dialect's serializer (None as
``null``), any other typed column through its own SQLAlchemy processor.

SQLite only (the writer holds the file's write lock for the whole transaction, which is what
makes the row IDs computable, see :func:`insert_numbered`); other dialects take SQLAlchemy's
path in ``inbound.record``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Prepared", "insert_numbered", "prepared", "query"]

Converter = Callable[[Any], Any]
# How a parameter's value is converted: as it is, by its SQLAlchemy processor, as a datetime
# (its processor, once per distinct value of a batch), as JSON (None too).
_AS_IS, _PROCESSED, _DATETIME, _JSON = range(4)


class Prepared:
    """One statement compiled for a dialect and a fixed set of parameter keys, with the
    conversion of each positional parameter."""

    def __init__(self, statement: Any, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.postfetch or compiled.positiontup is None:
            # Column defaults computed by SQLAlchemy, or a named paramstyle: not for this path.
            raise ValueError(f"{statement} cannot be executed on the driver's cursor")
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)
        columns: list[tuple[str, int, Converter | None]] = []
        for name in self.names:
            bind_type = compiled.binds[name].type
            process = bind_type.dialect_impl(dialect).bind_processor(dialect)
            if isinstance(bind_type, JSON):
                columns.append((name, _JSON, _json(dialect)))
            elif process is None:
                columns.append((name, _AS_IS, None))
            elif isinstance(bind_type, DateTime):
                columns.append((name, _DATETIME, process))
            else:
                columns.append((name, _PROCESSED, process))
        self._columns = tuple(columns)

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """The rows as the driver's parameter tuples."""
        # Datetimes by identity, for this call only: the rows hold their values until it
        # returns, and equal datetimes in other time zones have other fields (another text).
        dates: dict[int, Any] = {}
        found: list[tuple[Any, ...]] = []
        for row in rows:
            values: list[Any] = []
            for name, kind, process in self._columns:
                value = row[name]
                if kind == _JSON:
                    assert process is not None
                    value = process(value)
                elif kind != _AS_IS and value is not None:
                    assert process is not None
                    if kind == _DATETIME:
                        text = dates.get(id(value))
                        if text is None:
                            text = dates[id(value)] = process(value)
                        value = text
                    else:
                        value = process(value)
                values.append(value)
            found.append(tuple(values))
        return found

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute for each row in ``conn``'s transaction; how many rows it changed."""
        if not rows:
            return 0
        raw = conn.connection.driver_connection
        assert raw is not None
        cursor = raw.executemany(self.sql, self.rows(rows))
        return int(cursor.rowcount)


def _json(dialect: Dialect) -> Converter:
    serialize: Callable[[Any], str] = getattr(dialect, "_json_serializer", None) or json.dumps

    def convert(value: Any) -> Any:
        # SQLAlchemy's JSON (none_as_null=False) binds None as the JSON text null.
        return "null" if value is None else serialize(value)

    return convert


def query(conn: Connection, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
    """The rows of a read in ``conn``'s transaction, on the driver's cursor."""
    raw = conn.connection.driver_connection
    assert raw is not None
    return list(raw.execute(sql, tuple(parameters)).fetchall())


_PREPARED: dict[tuple[int, str, tuple[str, ...]], Prepared] = {}


def prepared(statement: Any, conn: Connection, keys: Sequence[str]) -> Prepared:
    """``statement`` compiled once per dialect and set of keys (statements are built once and
    live as long as the process: their identity is the key)."""
    key = (id(statement), conn.dialect.name, tuple(keys))
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = Prepared(statement, conn.dialect, keys)
        _KEEP.append(statement)  # the id stays this statement's
    return found


_KEEP: list[Any] = []


def insert_numbered(
    conn: Connection, table: Table, statement: Any, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert ``rows`` into ``table`` (whose integer primary key is ``id``) with the IDs SQLite
    would give them, one more than the largest, in order; those IDs. Exact because the writer's
    transaction holds the file's write lock (``BEGIN IMMEDIATE``): nobody else inserts between
    the look-up and the insert, and SQLite itself numbers a new row one more than the largest
    (the table has no AUTOINCREMENT)."""
    if not rows:
        return []
    name = conn.dialect.identifier_preparer.format_table(table)
    ((top,),) = query(conn, f"SELECT max(id) FROM {name}")  # noqa: S608 - a schema name
    first = int(top or 0) + 1
    ids = list(range(first, first + len(rows)))
    numbered = [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
    changed = prepared(statement, conn, list(numbered[0])).executemany(conn, numbered)
    if changed != len(rows):
        raise RuntimeError(f"{table.name}: {changed} of {len(rows)} rows inserted")
    return ids
