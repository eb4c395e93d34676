"""The bounds of what tackbridge accepts as a number, an instant or an identifier: what every
store it runs on (SQLite, PostgreSQL) and every wire format it speaks (JSON read by JavaScript,
Thumbtack's and Coperniq's APIs) can hold. An input beyond them is refused where it enters (a
422 naming it), never accepted and then failing on every attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

__all__ = [
    "EARLIEST",
    "ID_PATTERN",
    "LATEST",
    "MAX_CENTS",
    "MAX_EXACT_INTEGER",
    "MAX_ID_LENGTH",
    "Moment",
    "check_moment",
    "id_problem",
]

#: The largest integer a JSON reader holds exactly (a double's 53 bits: JavaScript's
#: ``Number.MAX_SAFE_INTEGER``); within a BIGINT and SQLite's INTEGER too.
MAX_EXACT_INTEGER = 2**53 - 1
#: Money in cents: never negative, and exact in JSON (about 90 trillion dollars).
MAX_CENTS = MAX_EXACT_INTEGER

#: The instants tackbridge keeps and sends, both included: Unix time on, up to 2200 (a year 0999
#: or 9999 is a typo or a probe, and some stores and peers cannot hold it).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

#: Thumbtack's IDs are int64s (19 digits); the store keeps up to 64 characters, on every database.
MAX_ID_LENGTH = 64
#: An identifier's characters: printable, no control character (C0, DEL, C1).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"


def check_moment(value: datetime) -> datetime:
    """``value`` if it names a UTC instant at all (a query bound: ``since=2999-01-01`` is a
    fine filter); a ValueError otherwise (``0001-01-01T00:00:00+01:00`` does not)."""
    try:
        (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a time with a UTC instant (years 1 to 9999)") from None
    return value


#: A datetime a query compares with (``since``, ``until``): any with a UTC instant.
Moment = Annotated[datetime, AfterValidator(check_moment)]


def id_problem(ident: str) -> str | None:
    """Why ``ident`` cannot be an identifier (empty, too long, a control character), or None."""
    if not ident:
        return "must not be empty"
    if len(ident) > MAX_ID_LENGTH:
        return f"is longer than {MAX_ID_LENGTH} characters"
    if not ident.isprintable():
        return "must not contain control characters"
    return None
