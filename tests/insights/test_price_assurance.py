from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tackbridge.autoreply.rules import BusinessHours, validate_rule_set
from tackbridge.insights.price_assurance import answered_inside, deadline, hours_for

NY = {"time_zone": "America/New_York"}
WEEKDAYS_9_TO_5 = BusinessHours.model_validate(
    {
        **NY,
        "windows": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
        ],
    }  # noqa: E501
)


def test_without_hours_the_clock_runs_all_day() -> None:
    at = datetime(2026, 11, 6, 22, 0, tzinfo=UTC)
    assert deadline(at, None) == at + timedelta(hours=4)


def test_inside_hours_four_open_hours_later() -> None:
    # Tuesday 10:00 in New York (EST, UTC-5) -> 14:00 local.
    at = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    assert deadline(at, WEEKDAYS_9_TO_5) == datetime(2026, 11, 10, 19, 0, tzinfo=UTC)


def test_the_clock_stops_overnight_and_over_the_weekend() -> None:
    # Friday 15:00 local: 2 hours on Friday, 2 on Monday -> Monday 11:00 local (16:00 UTC).
    at = datetime(2026, 11, 13, 20, 0, tzinfo=UTC)
    assert deadline(at, WEEKDAYS_9_TO_5) == datetime(2026, 11, 16, 16, 0, tzinfo=UTC)
    # Saturday: nothing runs until Monday 09:00 -> 13:00 local.
    saturday = datetime(2026, 11, 14, 15, 0, tzinfo=UTC)
    assert deadline(saturday, WEEKDAYS_9_TO_5) == datetime(2026, 11, 16, 18, 0, tzinfo=UTC)


def test_overlapping_windows_count_once_and_time_zones_shift_with_daylight_saving() -> None:
    hours = BusinessHours.model_validate(
        {
            **NY,
            "windows": [
                {"days": ["mon"], "start": "09:00", "end": "12:00"},
                {"days": ["mon"], "start": "11:00", "end": "13:00"},
            ],
        }
    )
    # Monday 2026-11-02 09:00 EST: 4 open hours end at 13:00 (09-13 merged).
    at = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    assert deadline(at, hours) == datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
    # In summer (EDT, UTC-4) the same local hours are an hour earlier in UTC.
    summer = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
    assert deadline(summer, hours) == datetime(2026, 6, 1, 17, 0, tzinfo=UTC)


def test_hours_follow_the_rule_of_the_category() -> None:
    rules = validate_rule_set(
        {
            "default": {"template": "Hi", "business_hours": WEEKDAYS_9_TO_5.model_dump()},
            "categories": {"Plumbing": {"template": "Pipes"}},
        }
    )
    assert hours_for(rules, "House Cleaning") == WEEKDAYS_9_TO_5
    assert hours_for(rules, "plumbing") is None
    assert hours_for(None, "anything") is None


def test_verdicts() -> None:
    due = datetime(2026, 11, 10, 19, 0, tzinfo=UTC)
    assert answered_inside(due, due, due) is True
    assert answered_inside(due + timedelta(seconds=1), due, due) is False
    assert answered_inside(None, due, due - timedelta(minutes=1)) is None
    assert answered_inside(None, due, due) is False


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)))
def test_deadline_is_at_least_four_hours_and_at_most_a_weekend_and_a_night_away(
    naive: datetime,
) -> None:
    at = naive.replace(tzinfo=UTC)
    due = deadline(at, WEEKDAYS_9_TO_5)
    assert timedelta(hours=4) <= due - at <= timedelta(days=3, hours=21)
