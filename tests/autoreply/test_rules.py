"""Choosing the automatic first reply: per business and category, business hours in a time
zone, delay, never to a test lead or after the pro replied, safe fallback; rule-set validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tackbridge.autoreply.rules import RuleSetError, choose_reply, validate_rule_set
from tackbridge.inbound.parse import parse_legacy_lead
from tackbridge.leads.models import LeadInput
from tests.fixtures import doc_payload

LEAD = LeadInput.from_event(parse_legacy_lead(doc_payload("v2_lead")))
# Thursday 2024-06-13 17:00 UTC is 10:00 in Los Angeles.
THURSDAY_10AM_LA = datetime(2024, 6, 13, 17, 0, tzinfo=UTC)

HOURS = {
    "time_zone": "America/Los_Angeles",
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}],
}


def rules(**default: Any) -> Any:
    return validate_rule_set(
        {
            "default": {"template": "Hi {{ customer_first_name }}, {{ business_name }} here!"}
            | default,
            "categories": {
                "Interior Painting": {
                    "template": "Happy to paint in {{ city }}, {{ customer_first_name }}!",
                    "out_of_hours_template": "We're closed; we'll call you first thing.",
                    "business_hours": HOURS,
                    "delay_seconds": 30,
                },
                "122": {"enabled": False, "template": "never"},
            },
        }
    )


def test_category_rule_in_business_hours() -> None:
    reply = choose_reply(LEAD, rules(), THURSDAY_10AM_LA, already_replied=False, is_test=False)
    assert reply is not None
    assert reply.text == "Happy to paint in Palo Alto, John!"
    assert reply.send_at == THURSDAY_10AM_LA + timedelta(seconds=30)
    assert reply.rule == "category:Interior Painting"
    assert not reply.out_of_hours
    assert not reply.fallback


def test_out_of_hours_uses_its_template_in_the_business_time_zone() -> None:
    # 02:00 UTC Friday is 19:00 Thursday in Los Angeles: closed.
    evening = datetime(2024, 6, 14, 2, 0, tzinfo=UTC)
    reply = choose_reply(LEAD, rules(), evening, already_replied=False)
    assert reply is not None
    assert reply.out_of_hours
    assert reply.text == "We're closed; we'll call you first thing."
    saturday = datetime(2024, 6, 15, 17, 0, tzinfo=UTC)
    reply = choose_reply(LEAD, rules(), saturday, already_replied=False)
    assert reply is not None
    assert reply.out_of_hours


def test_default_rule_for_other_categories_and_category_id_match() -> None:
    other = LeadInput(lead_id="9", category="Dog Walking", business_name="Paws")
    reply = choose_reply(other, rules(), THURSDAY_10AM_LA, already_replied=False)
    assert reply is not None
    assert reply.text == "Hi , Paws here!"
    assert reply.rule == "default"
    assert reply.send_at == THURSDAY_10AM_LA
    disabled = LeadInput(lead_id="9", category="Anything", category_id="122")
    assert choose_reply(disabled, rules(), THURSDAY_10AM_LA, already_replied=False) is None


def test_never_to_test_leads_or_after_the_pro_replied() -> None:
    assert choose_reply(LEAD, rules(), THURSDAY_10AM_LA, already_replied=True) is None
    assert choose_reply(LEAD, rules(), THURSDAY_10AM_LA, False, is_test=True) is None
    test_lead = LeadInput(lead_id="1", business_name="Test Business for Webhooks", is_test=True)
    assert choose_reply(test_lead, rules(), THURSDAY_10AM_LA, already_replied=False) is None
    empty = validate_rule_set({})
    assert choose_reply(LEAD, empty, THURSDAY_10AM_LA, already_replied=False) is None


def test_failing_or_blank_template_falls_back_to_the_safe_default() -> None:
    other = LeadInput(lead_id="9", customer_first_name="Ann", business_name="Paws")
    for template in ("{{ 1 / 0 }}", "{% if false %}x{% endif %}"):
        reply = choose_reply(other, rules(template=template), THURSDAY_10AM_LA, False)
        assert reply is not None
        assert reply.fallback
        assert reply.text.startswith("Hi Ann, thanks for reaching out to Paws")


def test_naive_now_is_taken_as_utc() -> None:
    reply = choose_reply(LEAD, rules(), THURSDAY_10AM_LA.replace(tzinfo=None), False)
    assert reply is not None
    assert not reply.out_of_hours
    assert reply.send_at.tzinfo is not None


@pytest.mark.parametrize(
    ("data", "field", "detail"),
    [
        ({"default": {"template": "{{ oops"}}, "default.template", "syntax error"),
        (
            {"categories": {"Roofing": {"template": "x", "out_of_hours_template": "{{ nope }}"}}},
            "categories.Roofing.out_of_hours_template",
            "unknown variable",
        ),
        (
            {"default": {"template": "x", "business_hours": HOURS | {"time_zone": "Mars/Base"}}},
            "default.business_hours.time_zone",
            "not an IANA time zone",
        ),
        (
            {
                "default": {
                    "template": "x",
                    "business_hours": HOURS
                    | {"windows": [{"days": ["thu"], "start": "18:00", "end": "08:00"}]},
                }
            },
            "default.business_hours.windows.0",
            "end must be after start",
        ),
        ({"default": {"template": "x", "delay_seconds": -1}}, "default.delay_seconds", ""),
        ({"default": {"template": "  "}}, "default.template", "blank"),
        ({"default": {"template": "x", "colour": "red"}}, "default.colour", ""),
        ("not an object", "body", ""),
    ],
)
def test_validation_names_the_field(data: Any, field: str, detail: str) -> None:
    with pytest.raises(RuleSetError) as error:
        validate_rule_set(data)
    fields = [e["field"] for e in error.value.errors]
    assert field in fields
    assert detail in error.value.errors[fields.index(field)]["detail"]
