"""Pure parsing of the liberal shapes api-notes.md lists."""

from __future__ import annotations

import pytest

from tackbridge.inbound.parse import event_family, parse_legacy_lead, parse_legacy_message, parse_v4
from tackbridge.leads.models import InvalidPayloadError, LeadReceived, MessageReceived


def test_category_as_object_or_string() -> None:
    as_object = parse_legacy_lead(
        {"leadID": "1", "request": {"category": {"categoryID": 5, "name": "Plumbing"}}}
    )
    assert (as_object.category, as_object.category_id) == ("Plumbing", "5")
    as_string = parse_legacy_lead(
        {"leadID": "1", "request": {"category": "Plumbing", "categoryID": "5"}}
    )
    assert (as_string.category, as_string.category_id) == ("Plumbing", "5")


@pytest.mark.parametrize(
    ("customer", "name", "first", "last"),
    [
        ({"name": "John Davis"}, "John Davis", "John", "Davis"),
        ({"displayName": "Olivia Y."}, "Olivia Y.", "Olivia", "Y."),
        ({"firstName": "Ann", "lastName": "Lee"}, "Ann Lee", "Ann", "Lee"),
        ({}, None, None, None),
    ],
)
def test_customer_name_shapes(
    customer: dict[str, str], name: str | None, first: str | None, last: str | None
) -> None:
    lead = parse_legacy_lead({"leadID": "1", "customer": customer})
    assert lead.customer is not None
    assert (lead.customer.name, lead.customer.first_name, lead.customer.last_name) == (
        name,
        first,
        last,
    )


def test_customer_without_id_gets_a_stable_one() -> None:
    lead = parse_legacy_lead({"leadID": "9", "customer": {"name": "A"}})
    assert lead.customer is not None
    assert lead.customer.customer_id == "lead-9"


def test_unknown_fields_are_kept_in_extra() -> None:
    lead = parse_legacy_lead(
        {"leadID": "1", "newThing": 1, "request": {"budget": "$$", "location": {"county": "X"}}}
    )
    assert lead.extra == {"newThing": 1, "request.budget": "$$", "request.location.county": "X"}


def test_wrongly_typed_optional_fields_are_tolerated() -> None:
    lead = parse_legacy_lead(
        {
            "leadID": "1",
            "request": {"details": "oops", "attachments": {"x": 1}, "location": []},
            "customer": "?",
        }
    )
    assert isinstance(lead, LeadReceived)
    assert lead.details == ()
    assert lead.attachments == ()


def test_business_sender_on_legacy_message() -> None:
    message = parse_legacy_message(
        {"leadID": "1", "message": {"messageID": "m", "from": "Business"}}
    )
    assert isinstance(message, MessageReceived)
    assert message.sender == "Business"


def test_event_family() -> None:
    assert event_family("NegotiationCreatedV4") == "NegotiationCreated"
    assert event_family("NegotiationCreatedV12") == "NegotiationCreated"
    assert event_family("IncentiveUsedV4") == "IncentiveUsed"


def test_v4_unknown_event_has_no_record() -> None:
    delivery = parse_v4({"event": {"eventType": "CompletedV4"}, "data": "anything"})
    assert delivery.record is None
    assert delivery.event_type == "CompletedV4"


def test_missing_id_names_the_field() -> None:
    with pytest.raises(InvalidPayloadError) as info:
        parse_v4({"event": {"eventType": "NegotiationCreatedV4"}, "data": {"negotiationID": None}})
    assert info.value.field == "data.negotiationID"


def test_integer_identifiers_beyond_64_bits_keep_their_digits() -> None:
    from tackbridge.inbound.http import decode_json

    body = (
        b'{"leadID": 123456789012345678901234567890, "leadPrice": 1.5e30,'
        b' "x": "99999999999999999999999"}'
    )
    decoded = decode_json(body)
    assert decoded["leadID"] == 123456789012345678901234567890
    assert parse_legacy_lead(decoded).lead_id == "123456789012345678901234567890"


def test_identifiers_longer_than_the_store_keeps_are_refused() -> None:
    with pytest.raises(InvalidPayloadError) as refused:
        parse_legacy_lead({"leadID": "9" * 65})
    assert refused.value.field == "leadID"
    assert parse_legacy_lead({"leadID": "9" * 64}).lead_id == "9" * 64
