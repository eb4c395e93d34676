"""Pure normalisers for the loose values real Thumbtack deliveries carry.

Each returns ``None`` for a value it cannot read rather than raising: a lead with an odd price is
still a lead, and the verbatim delivery stays in the inbound log.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tackbridge.core.bounds import EARLIEST, LATEST, MAX_EXACT_INTEGER, id_problem

# Epoch values above this are milliseconds (seconds would be past the year 5000).
_MILLIS_THRESHOLD = 100_000_000_000
_MAX_DOLLARS = 10**12
_MONEY = re.compile(
    r"^\s*(-)?\s*(?:USD|US\$|\$)?\s*(-)?\s*([0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)\s*$"
)


def text(value: Any) -> str | None:
    """A string field: strings as they are less any NUL (U+0000), numbers as their decimal
    text, anything else None. No real text has a NUL, and PostgreSQL's text columns refuse one;
    dropping it here keeps both stores alike (the verbatim delivery keeps it, in the inbound
    log)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


#: The longest ID the store keeps (its ID columns are ``String(64)``; Thumbtack's are int64,
#: 19 digits at most). PostgreSQL refuses a longer value where SQLite would keep it.
MAX_ID_LENGTH = 64


def identifier(value: Any) -> str | None:
    """A Thumbtack ID, or None when ``value`` is not one (``identifier_problem`` says why).

    The rule (README, "Partner endpoints"): Thumbtack's IDs are int64s sent as decimal strings
    (the legacy documents type ``leadID`` and ``messageID`` as ``string``; v4's are "int64 as a
    string"), and some senders send a JSON number instead. So a JSON integer is its decimal text,
    the same ID as that string: ``0``, ``0.0`` and ``"0"`` are one lead, as they are one int64 to
    Thumbtack. A number written with a fraction or exponent is an ID only when it is an exact
    integer a double holds without loss (at most 2**53: ``1e3`` is ``"1000"``; ``0.5``, and
    ``3e20``, which stands for many int64s, are refused). A string is opaque once trimmed
    (partners' fixtures use IDs such as ``m1``): ``"007"`` is not ``7``. Either must be printable
    (no NUL or other control character) and at most 64 characters long.
    """
    return _identifier(value)[0]


def identifier_problem(value: Any) -> str | None:
    """Why ``value`` is not an identifier (None when it is one, or when it is absent)."""
    return _identifier(value)[1]


def _identifier(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, "must be a non-empty string or integer"
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer() and abs(value) <= MAX_EXACT_INTEGER):
            return None, "must be a non-empty string or integer (a number only when exact)"
        value = int(value)
    if isinstance(value, int):
        ident: str = str(value)
    elif isinstance(value, str):
        ident = value.strip()
    else:
        return None, "must be a non-empty string or integer"
    problem = id_problem(ident)
    if problem is not None:
        return None, problem if ident else "must be a non-empty string or integer"
    return ident, None


def code(value: Any, size: int | None) -> str | None:
    """A short coded string (a state, a ZIP code, a status) cut to ``size`` characters, the
    width of its column: a longer one is not a real code, and PostgreSQL would refuse the whole
    delivery for it (the verbatim delivery keeps it, in the inbound log)."""
    found = text(value)
    if found is None or size is None or len(found) <= size:
        return found
    return found[:size]


def money_cents(value: Any) -> int | None:
    """``"$25.00"``, ``"18.50"``, ``"$1,234"``, ``25`` or ``25.5`` -> integer cents."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value * 100 if abs(value) <= _MAX_DOLLARS else None
    if isinstance(value, float):
        return _cents(Decimal(str(value))) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    match = _MONEY.match(value)
    if match is None:
        return None
    negative = bool(match.group(1) or match.group(2))
    cents = _cents(Decimal(match.group(3).replace(",", "")))
    if cents is None:
        return None
    return -cents if negative else cents


def _cents(amount: Decimal) -> int | None:
    if abs(amount) > _MAX_DOLLARS:
        return None  # not a price: a corrupt or hostile value
    try:
        return int((amount * 100).quantize(Decimal(1)))
    except InvalidOperation:
        return None


def timestamp(value: Any) -> datetime | None:
    """Unix seconds or milliseconds (number or numeric string), or RFC 3339 -> aware UTC."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    raw = value.strip()
    if not raw:
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return _from_epoch(float(raw))
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return _bounded(parsed.astimezone(UTC))
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC instant in range
        return None


def _bounded(instant: datetime) -> datetime | None:
    # Outside 1970-2200 a time is a corrupt or hostile value (core.bounds), not a date.
    return instant if EARLIEST <= instant <= LATEST else None


def _from_epoch(seconds: float) -> datetime | None:
    if abs(seconds) >= _MILLIS_THRESHOLD:
        seconds /= 1000
    try:
        return _bounded(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """``"John Davis"`` -> ("John", "Davis"); ``"Jay J."`` -> ("Jay", "J.")."""
    if not name:
        return None, None
    parts = name.split()
    if not parts:
        return None, None
    first = parts[0]
    last = " ".join(parts[1:]) or None
    return first, last


def rating(value: Any) -> int | None:
    """A review rating from 1 to 5, sent as ``"4"``, ``4`` or ``4.0``."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        return None
    if number is None or not number.is_integer() or not 1 <= number <= 5:
        return None
    return int(number)


_INT64 = 2**63


def integer(value: Any) -> int | None:
    """A whole number a 64-bit column can hold (file sizes, counts); anything else is None
    (the delivery itself keeps the original in the inbound log)."""
    number: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif (isinstance(value, float) and math.isfinite(value) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*\d{1,19}\s*", value)
    ):
        number = int(value)
    if number is None or not -_INT64 <= number < _INT64:
        return None
    return number


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None
