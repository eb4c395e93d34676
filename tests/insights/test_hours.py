from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tackbridge.autoreply.rules import validate_rule_set
from tackbridge.insights.figures import answered_inside
from tackbridge.insights.hours import hours_in

NINE_TO_FIVE = {
    "time_zone": "America/New_York",
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}],
}
EVENINGS = {
    "time_zone": "America/Chicago",
    "windows": [{"days": ["sat"], "start": "18:00", "end": "22:00"}],
}


def test_hours_follow_the_rule_of_the_category_else_the_default() -> None:
    rules = validate_rule_set(
        {
            "default": {"template": "Hi", "business_hours": NINE_TO_FIVE},
            "categories": {
                "Plumbing": {"template": "Pipes"},
                "DJ": {"template": "Music", "business_hours": EVENINGS},
            },
        }
    )
    assert rules.default is not None
    assert hours_in(rules, "House Cleaning") == rules.default.business_hours
    assert hours_in(rules, "plumbing") == rules.default.business_hours  # no hours of its own
    dj = hours_in(rules, "dj")
    assert dj is not None
    assert dj.time_zone == "America/Chicago"
    assert hours_in(validate_rule_set({"default": {"template": "Hi"}}), "x") is None
    assert hours_in(None, "anything") is None


def test_verdicts() -> None:
    due = datetime(2026, 11, 10, 19, 0, tzinfo=UTC)
    assert answered_inside(due, due, due) is True
    assert answered_inside(due + timedelta(seconds=1), due, due) is False
    assert answered_inside(None, due, due - timedelta(minutes=1)) is None
    assert answered_inside(None, due, due) is False
