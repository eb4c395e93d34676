"""Price Assurance's clock: 4 business hours from the lead, in the business's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tackbridge.autoreply.rules import BusinessHours, HoursWindow
from tackbridge.insights.price_assurance import answer_by, business_time, time_left

# 2026-12-01 is a Tuesday.
WEEKDAYS_9_TO_5 = BusinessHours(
    time_zone="America/New_York",
    windows=[HoursWindow(days=["mon", "tue", "wed", "thu", "fri"], start=time(9), end=time(17))],
)


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    # December: New York is UTC-5.
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) + timedelta(hours=5)


def test_without_hours_every_hour_counts() -> None:
    received = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    assert answer_by(received, None) == received + timedelta(hours=4)
    left = time_left(received, None, now=received + timedelta(hours=3, minutes=30))
    assert left.remaining == timedelta(minutes=30)
    assert left.urgent
    assert not left.hours_known


def test_inside_hours_the_clock_runs() -> None:
    assert answer_by(ny(1, 10), WEEKDAYS_9_TO_5) == ny(1, 14)


def test_the_clock_stops_at_closing_and_resumes_next_morning() -> None:
    # 3 p.m. Tuesday: 2 hours today, 2 hours Wednesday morning.
    assert answer_by(ny(1, 15), WEEKDAYS_9_TO_5) == ny(2, 11)
    left = time_left(ny(1, 15), WEEKDAYS_9_TO_5, now=ny(1, 20))
    assert left.remaining == timedelta(hours=2)
    assert not left.open_now
    assert not left.urgent


def test_a_friday_evening_lead_is_due_monday() -> None:
    # Friday 2026-12-04 at 6 p.m.: Monday 2026-12-07, 1 p.m.
    assert answer_by(ny(4, 18), WEEKDAYS_9_TO_5) == ny(7, 13)


def test_urgent_in_the_last_hour_and_expired_after() -> None:
    assert time_left(ny(1, 10), WEEKDAYS_9_TO_5, now=ny(1, 13, 30)).urgent
    late = time_left(ny(1, 10), WEEKDAYS_9_TO_5, now=ny(1, 14, 1))
    assert late.expired
    assert not late.urgent


@given(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    )
)
def test_the_deadline_is_exactly_four_business_hours_away(received: datetime) -> None:
    deadline = answer_by(received, WEEKDAYS_9_TO_5)
    assert business_time(received, deadline, WEEKDAYS_9_TO_5) == timedelta(hours=4)
    assert deadline >= received + timedelta(hours=4)
