"""Price Assurance's clock: Thumbtack refunds a lead only when the pro replied within 4 business
hours of it (api-notes.md, "Thumbtack business rules"). Pure: when the answer is due and how
much business time is left, from the lead's arrival, the business's hours in its time zone, and
now. Without known hours, every hour counts (the strictest reading: a clock 4 hours).

The hours are any object shaped like ``autoreply.rules.BusinessHours`` (a time zone and windows
of weekdays with a start and end), so this module depends on no feature.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "URGENT_WITHIN",
    "WINDOW",
    "Hours",
    "TimeLeft",
    "answer_by",
    "business_time",
    "time_left",
]

WINDOW = timedelta(hours=4)
URGENT_WITHIN = timedelta(hours=1)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead the open intervals are walked (lazily: a usual week ends the walk in days).
# Hours open under 8 minutes a week would need longer; then the clock counts instead.
_HORIZON_DAYS = 366 * 2


class Window(Protocol):
    @property
    def days(self) -> Sequence[str]: ...
    @property
    def start(self) -> time: ...
    @property
    def end(self) -> time: ...


class Hours(Protocol):
    @property
    def time_zone(self) -> str: ...
    @property
    def windows(self) -> Sequence[Window]: ...


def _open_intervals(hours: Hours, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The business's open intervals (UTC), in order, from ``start``'s local day on."""
    zone = ZoneInfo(hours.time_zone)
    first = start.astimezone(zone).date()
    for offset in range(_HORIZON_DAYS):
        day = first + timedelta(days=offset)
        weekday = _WEEKDAYS[day.weekday()]
        spans = sorted(
            (
                datetime.combine(day, w.start, zone).astimezone(UTC),
                datetime.combine(day, w.end, zone).astimezone(UTC),
            )
            for w in hours.windows
            if weekday in w.days
        )
        yield from spans


def _merged(hours: Hours, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals from ``start`` on, overlapping windows merged, clipped at ``start``."""
    current: tuple[datetime, datetime] | None = None
    for lo, hi in _open_intervals(hours, start):
        if hi <= start:
            continue
        lo = max(lo, start)
        if current is not None and lo <= current[1]:
            current = (current[0], max(current[1], hi))
            continue
        if current is not None:
            yield current
        current = (lo, hi)
    if current is not None:
        yield current


def answer_by(received_at: datetime, hours: Hours | None, window: timedelta = WINDOW) -> datetime:
    """When ``window`` of business time since the lead's arrival has passed."""
    received = received_at.astimezone(UTC)
    if hours is None:
        return received + window
    left = window
    for lo, hi in _merged(hours, received):
        if hi - lo >= left:
            return lo + left
        left -= hi - lo
    return received + window  # hours that never open: count the clock


def business_time(start: datetime, end: datetime, hours: Hours | None) -> timedelta:
    """Business time between two instants (0 when ``end`` is not after ``start``)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return timedelta(0)
    if hours is None:
        return end - start
    total = timedelta(0)
    for lo, hi in _merged(hours, start):
        if lo >= end:
            break
        total += min(hi, end) - lo
    return total


@dataclass(frozen=True)
class TimeLeft:
    deadline: datetime
    remaining: timedelta  # business time left; 0 once past
    open_now: bool  # whether the clock is running now (inside business hours)
    hours_known: bool

    @property
    def expired(self) -> bool:
        return self.remaining <= timedelta(0)

    @property
    def urgent(self) -> bool:
        return not self.expired and self.remaining <= URGENT_WITHIN


def time_left(received_at: datetime, hours: Hours | None, *, now: datetime) -> TimeLeft:
    deadline = answer_by(received_at, hours)
    remaining = business_time(now, deadline, hours)
    open_now = hours is None or business_time(now, now + timedelta(seconds=1), hours) > timedelta(0)
    return TimeLeft(deadline, remaining, open_now, hours is not None)
