"""Time as tackbridge keeps it: aware UTC datetimes everywhere, stored and compared in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

__all__ = ["now", "utc"]


def now() -> datetime:
    """The current instant, in UTC: the default ``clock`` of everything that takes one."""
    return datetime.now(UTC)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
