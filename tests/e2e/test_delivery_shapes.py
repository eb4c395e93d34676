"""The product receives the sandbox's leads and messages in each delivery shape (real, the
default, and the documents') and shows their content at ``GET /api/leads/{id}``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack


def _message_shown(stack: Stack, lead_id: str, text: str) -> bool:
    lead = stack.lead(lead_id)
    return lead is not None and any(m["text"] == text for m in lead["messages"])


@pytest.mark.parametrize("shapes", ["real", "docs"])
def test_leads_and_messages_arrive_whole_in_each_shape(stack: Stack, shapes: str) -> None:
    changed = stack.sandbox.put("/_sandbox/config/delivery-shapes", json={"shapes": shapes})
    assert changed.status_code == 200, changed.text
    business_id = stack.business_ids()[0]
    lead_id = stack.new_lead(business_id, leadType="INSTANT_BOOK")
    stack.wait(lambda: stack.lead(lead_id) is not None)
    sent: dict[str, Any] = stack.inspect(f"leads/{lead_id}")["lead"]
    lead = stack.lead(lead_id)
    assert lead is not None
    if shapes == "real":
        assert "createdAt" in sent
        assert "createTime" not in sent
        assert set(sent["leadPriceBreakdown"]) == {"salesTax", "subtotal"}
        assert isinstance(sent["request"]["travelPreferences"], list)
        if "total" in sent["estimate"]:
            assert set(sent["estimate"]) == {
                "total",
                "pricePerUnit",
                "type",
                "unitName",
                "unitQuantity",
            }
    else:
        assert "createTime" in sent
        assert "createdAt" not in sent
        assert set(sent["leadPriceBreakdown"]) == {"basePrice", "discount"}
        assert isinstance(sent["request"]["travelPreferences"], str)
    assert lead["leadPrice"] == sent["leadPrice"]
    assert lead["leadPriceBreakdown"] == sent["leadPriceBreakdown"]
    assert lead["estimate"] == sent["estimate"]
    assert lead["request"]["travelPreferences"] == sent["request"]["travelPreferences"]
    assert lead["request"]["description"] == sent["request"]["description"]
    customer = lead["customer"]
    assert (customer["firstName"], customer["lastName"]) == (
        sent["customer"]["firstName"],
        sent["customer"]["lastName"],
    )

    text = f"Is Saturday fine? ({shapes})"
    posted = stack.sandbox.post(f"/_sandbox/leads/{lead_id}/messages", json={"text": text})
    assert posted.status_code == 201, posted.text
    stack.wait(lambda: _message_shown(stack, lead_id, text))
    delivered = [
        d
        for d in stack.inspect("deliveries", kind="message")
        if d["recordID"] == posted.json()["messageID"]
    ]
    assert delivered, "the message was not delivered"
    shown = stack.lead(lead_id)
    assert shown is not None
    [message] = [m for m in shown["messages"] if m["text"] == text]
    assert message["from"] == "Customer"
    data = delivered[0]["body"]["data"]
    assert data["text"] == text
    if shapes == "real":
        assert data["customer"]["customerID"] == sent["customer"]["customerID"]
        assert data["business"]["businessID"] == business_id
        assert data["business"]["displayName"] == sent["business"]["name"]
        assert shown["customer"]["displayName"] == (
            f"{sent['customer']['firstName']} {sent['customer']['lastName'][:1]}."
        )
