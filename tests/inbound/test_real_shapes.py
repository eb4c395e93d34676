"""Deliveries in the shapes real Thumbtack and partners' tests send (api-notes.md, "Corrections
and facts added on 2026-12-01"; fixtures in ``tests/fixtures/real/``): each goes in through its
partner endpoint and its content comes back out of ``GET /api/leads/{id}``."""

from __future__ import annotations

from tests.fixtures import doc_payload, real_payload
from tests.support.tackbridge import RunningServer

REAL_LEAD = "548955282027570001"
TOP_LEVEL_LEAD = "548955282027570002"


def _post(server: RunningServer, route: str, payload: dict[str, object]) -> dict[str, object]:
    response = server.partner.post(route, json=payload)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_real_negotiation_created_is_read_whole(server: RunningServer) -> None:
    assert _post(server, "/v4/webhooks", real_payload("v4_negotiation_created_real"))["status"] == (
        "accepted"
    )
    lead = server.lead(REAL_LEAD)
    assert lead["createTimestamp"] == "2026-09-15T17:18:00Z"  # createdAt, not createTime
    assert (lead["status"], lead["chargeState"]) == ("Open", "Created")
    assert (lead["leadPrice"], lead["leadPriceCents"]) == ("$25.00", 2500)
    assert lead["leadPriceBreakdown"] == {"salesTax": "$1.85", "subtotal": "$23.15"}
    assert lead["estimate"] == {
        "total": "$150.00",
        "pricePerUnit": "150.00",
        "type": "Fixed",
        "unitName": "job",
        "unitQuantity": 1,
    }
    customer = lead["customer"]
    assert customer["customerID"] == "cust-real-1"
    assert (customer["firstName"], customer["lastName"]) == ("Olivia", "Young")
    assert customer["phone"] == "4155550101"
    assert lead["business"]["name"] == "Robert's Remodeling"
    request = lead["request"]
    assert request["travelPreferences"] == ["ProviderTravelToCustomer"]
    assert (request["category"], request["categoryID"]) == ("House Cleaning", "cat-42")
    assert request["description"] == "Deep clean of a two-bedroom flat"
    assert request["location"]["zipCode"] == "94105"
    assert request["proposedTimes"] == [
        {"start": "2026-09-20T16:00:00Z", "end": "2026-09-20T18:00:00Z"}
    ]
    assert request["attachments"][0]["fileName"] == "kitchen.jpg"
    assert request["details"] == [{"question": "How many bedrooms?", "answer": "2"}]


def test_real_message_created_keeps_text_and_names(server: RunningServer) -> None:
    _post(server, "/v4/webhooks", real_payload("v4_negotiation_created_real"))
    ack = _post(server, "/v4/webhooks", real_payload("v4_message_created_real"))
    assert ack["status"] == "accepted"
    lead = server.lead(REAL_LEAD)
    [message] = lead["messages"]
    assert message["text"] == "Could you come on Saturday morning?"
    assert message["from"] == "Customer"
    # data.customer's displayName fills the customer's (the lead named first and last only).
    assert lead["customer"]["displayName"] == "Olivia Y."
    assert (lead["customer"]["firstName"], lead["customer"]["lastName"]) == ("Olivia", "Young")


def test_message_customer_and_business_names_arrive_before_the_lead(
    server: RunningServer,
) -> None:
    response = server.partner.post("/v4/webhooks", json=real_payload("v4_message_created_real"))
    assert response.status_code == 202
    lead = real_payload("v4_negotiation_created_real")
    del lead["data"]["business"]["name"]
    _post(server, "/v4/webhooks", lead)
    shown = server.lead(REAL_LEAD)
    assert shown["customer"]["displayName"] == "Olivia Y."
    assert shown["business"]["name"] == "Robert's Remodeling"
    assert shown["messages"][0]["text"] == "Could you come on Saturday morning?"


def test_review_under_data_review(server: RunningServer) -> None:
    _post(server, "/v4/webhooks", real_payload("v4_negotiation_created_real"))
    ack = _post(server, "/v4/webhooks", real_payload("v4_review_nested"))
    assert (ack["status"], ack["reviewID"]) == ("accepted", "rev-real-1")
    [review] = server.lead(REAL_LEAD)["reviews"]
    assert (review["rating"], review["text"]) == (5, "Spotless, and on time.")
    assert review["businessID"] == "286845156044809001"
    assert review["reviewEventType"] == "ReviewCreatedV4"


def test_top_level_event_type_lead_and_review(server: RunningServer) -> None:
    ack = _post(server, "/v4/webhooks", real_payload("v4_top_level_event_type_lead"))
    assert ack["status"] == "accepted"
    lead = server.lead(TOP_LEVEL_LEAD)
    assert lead["createTimestamp"] == "2026-09-16T08:00:00Z"
    assert lead["leadPriceCents"] == 1850
    assert lead["customer"]["name"] == "Sam Lee"
    assert lead["request"]["travelPreferences"] == "I travel to the customer"
    ack = _post(server, "/v4/webhooks", real_payload("v4_top_level_event_type_review"))
    assert ack["status"] == "accepted"
    [review] = server.lead(TOP_LEVEL_LEAD)["reviews"]
    assert (review["rating"], review["text"]) == (4, "Fixed quickly.")


def test_legacy_message_with_top_level_id_keeps_its_text(server: RunningServer) -> None:
    _post(server, "/v1/lead", doc_payload("v2_lead"))
    ack = _post(server, "/v1/message", real_payload("legacy_message_top_level"))
    assert ack["status"] == "accepted"
    [message] = server.lead("299614694480093245")["messages"]
    assert message["messageID"] == "legacy-m1"
    assert message["text"] == "Is Tuesday still good for you?"
    assert message["sentAt"] == "2017-06-29T18:18:14Z"


def test_same_message_id_under_two_leads_is_two_messages(server: RunningServer) -> None:
    first = real_payload("v4_negotiation_created_real")
    second = real_payload("v4_negotiation_created_real")
    second["data"]["negotiationID"] = "548955282027570009"
    _post(server, "/v4/webhooks", first)
    _post(server, "/v4/webhooks", second)
    message = real_payload("v4_message_created_real")
    other = real_payload("v4_message_created_real")
    other["data"]["negotiationID"] = "548955282027570009"
    other["data"]["text"] = "Another lead, the same small ID"
    other["data"]["attachments"] = [{"fileName": "tap.jpg", "url": "https://x.test/tap.jpg"}]
    assert _post(server, "/v4/webhooks", message)["status"] == "accepted"
    assert _post(server, "/v4/webhooks", other)["status"] == "accepted"
    # The same message of the same lead again is a duplicate, on either route.
    assert _post(server, "/v4/webhooks", message)["status"] == "duplicate"
    [one] = server.lead(REAL_LEAD)["messages"]
    [two] = server.lead("548955282027570009")["messages"]
    assert (one["messageID"], one["text"]) == ("m1", "Could you come on Saturday morning?")
    assert (two["messageID"], two["text"]) == ("m1", "Another lead, the same small ID")
    assert one["attachments"] == []
    assert [a["fileName"] for a in two["attachments"]] == ["tap.jpg"]
