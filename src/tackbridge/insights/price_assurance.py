"""Price Assurance: Thumbtack refunds a lead only when the pro replied within 4 business hours.

``deadline`` walks a business's opening hours (in its time zone) from the moment a lead arrived
until 4 open hours have passed; a business without hours has the clock running around the
clock. A business's hours and time zone are kept in one place, its auto-reply rule
(``autoreply.rules.BusinessHours``): ``hours_for`` picks the rule a lead of that category gets.
Pure: no store, no clock of its own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tackbridge.autoreply.rules import WEEKDAYS, BusinessHours, RuleSet
from tackbridge.leads.models import LeadInput

__all__ = ["ALLOWANCE", "answered_inside", "deadline", "hours_for"]

#: The business hours a pro has to answer (api-notes.md, "Thumbtack business rules").
ALLOWANCE = timedelta(hours=4)
# Every window recurs weekly: two weeks of days always find 4 open hours.
_MAX_DAYS = 15


def hours_for(
    rules: RuleSet | None, category: str | None = None, category_id: str | None = None
) -> BusinessHours | None:
    """The business hours of the rule a lead of this category gets; None: open all hours."""
    if rules is None:
        return None
    chosen = rules.rule_for(LeadInput(lead_id="", category=category, category_id=category_id))
    return None if chosen is None else chosen[1].business_hours


def _clock(moment: time) -> time:
    return moment.replace(tzinfo=None)


def _open_on(day: date, hours: BusinessHours, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's open intervals in UTC, sorted and merged (windows may overlap)."""
    weekday = WEEKDAYS[day.weekday()]
    spans = sorted(
        (
            datetime.combine(day, _clock(w.start), tzinfo=zone).astimezone(UTC),
            datetime.combine(day, _clock(w.end), tzinfo=zone).astimezone(UTC),
        )
        for w in hours.windows
        if weekday in w.days
    )
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def deadline(
    received_at: datetime, hours: BusinessHours | None, allowance: timedelta = ALLOWANCE
) -> datetime:
    """When the pro's time to answer a lead received at ``received_at`` (aware) runs out."""
    received = received_at.astimezone(UTC)
    if hours is None:
        return received + allowance
    zone = ZoneInfo(hours.time_zone)
    remaining = allowance
    day = received.astimezone(zone).date() - timedelta(days=1)  # a window may cross midnight UTC
    for _ in range(_MAX_DAYS):
        for start, end in _open_on(day, hours, zone):
            begin = max(start, received)
            if end <= begin:
                continue
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
        day += timedelta(days=1)
    raise AssertionError("business hours with no open time")  # validated rules always have some


def answered_inside(first_reply_at: datetime | None, due: datetime, now: datetime) -> bool | None:
    """True: answered in time; False: answered late, or unanswered past ``due``; None: still
    unanswered with time left."""
    if first_reply_at is not None:
        return first_reply_at <= due
    return None if now < due else False
