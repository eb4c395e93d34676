"""Lead -> opportunity mapping from the documents' own example payloads, lead updates,
message and review notes, and fitting custom values to an account's properties."""

from __future__ import annotations

from datetime import UTC, datetime

from tackbridge.crm.opportunity import (
    DEFAULT_TRADES,
    CustomFieldKeys,
    OpportunityMapping,
    TradeTable,
    address_of,
    fit_custom,
    lead_update_patch,
    message_note,
    opportunity_create,
    review_note,
    review_patch,
    trades_for,
)
from tackbridge.inbound.parse import (
    parse_legacy_lead,
    parse_legacy_lead_update,
    parse_legacy_message,
    parse_legacy_review,
    parse_v4,
)
from tackbridge.leads.models import (
    LeadInput,
    LeadReceived,
    LeadUpdated,
    MessageReceived,
    ReviewReceived,
)
from tackbridge.payloads.coperniq import Property
from tests.fixtures import doc_payload

KEYS = CustomFieldKeys()


def v2_lead() -> LeadInput:
    return LeadInput.from_event(parse_legacy_lead(doc_payload("v2_lead")))


def v4_lead() -> LeadInput:
    record = parse_v4(doc_payload("v4_negotiation_created")).record
    assert isinstance(record, LeadReceived)
    return LeadInput.from_event(record)


def test_v2_example_lead_becomes_a_complete_opportunity() -> None:
    body = opportunity_create(v2_lead())
    assert body.title == "Interior Painting - John Davis"
    assert body.address == ["101 Alma Street, Palo Alto, CA 94301"]
    assert body.trades == ["Painting"]
    assert body.primaryPhone == "1234567890"
    description = body.description or ""
    assert description.startswith("There is a stain on the door that needs to be touched up.")
    assert "Schedule:\nDate: Tue, May 05 2020\nTime: 6:00 PM\nLength: 3.5 hours" in description
    assert "- Type of property: Home" in description
    assert "- Number of rooms: 4 rooms" in description
    assert "https://www.thumbtack.com/pro-inbox/messages/299614694480093245" in description
    assert body.custom == {
        "thumbtack_lead_id": "299614694480093245",
        "thumbtack_lead_type": "INSTANT_BOOK",
        "thumbtack_category_id": "122681972262289742",
        "thumbtack_inbox_link": "https://www.thumbtack.com/pro-inbox/messages/299614694480093245",
        "customer_name": "John Davis",
    }


def test_v4_example_lead_maps_category_object_and_display_name() -> None:
    lead = v4_lead()
    body = opportunity_create(lead)
    assert body.title == "Kitchen Remodel - Olivia Y."
    assert body.trades == ["Remodeling"]
    assert body.custom is not None
    assert body.custom["thumbtack_lead_id"] == "519153480500518912"
    assert body.custom["thumbtack_category_id"] == "201565295100608806"
    assert "- Project scope: Full kitchen renovation" in (body.description or "")
    assert len(body.address) == 1
    assert body.address[0]


def test_price_and_charge_state_become_custom_fields() -> None:
    lead = LeadInput(lead_id="7", lead_price="$25.00", charge_state="Charged", lead_type="Standard")
    custom = opportunity_create(lead).custom or {}
    assert custom["lead_price"] == 25.0
    assert custom["thumbtack_charge_state"] == "Charged"
    cents = LeadInput(lead_id="7", lead_price_cents=1850, lead_price="garbage")
    assert (opportunity_create(cents).custom or {})["lead_price"] == 18.5


def test_lead_without_location_or_names_still_has_the_required_fields() -> None:
    body = opportunity_create(LeadInput(lead_id="42"))
    assert body.title == "Thumbtack lead"
    assert body.address == ["Unknown (Thumbtack lead 42)"]
    assert body.trades == ["General"]
    assert body.primaryPhone is None
    assert address_of(LeadInput(lead_id="1", city="Austin", state="TX")) == ["Austin, TX"]


def test_trade_table_is_configurable_with_exact_keyword_and_fallback() -> None:
    table = TradeTable(
        exact={"Interior Painting": ("Finishes",)},
        keywords=(("roof", ("Roofing", "Exteriors")),),
        fallback=("Other",),
    )
    assert trades_for("interior painting", table) == ["Finishes"]
    assert trades_for("Metal Roof Repair", table) == ["Roofing", "Exteriors"]
    assert trades_for("Dog Walking", table) == ["Other"]
    assert trades_for(None, table) == ["Other"]
    assert trades_for("Solar Panel Cleaning", DEFAULT_TRADES) == ["Solar"]
    mapping = OpportunityMapping(trades=table, workflow_id=1, send_primary_phone=False)
    body = opportunity_create(v2_lead(), mapping)
    assert body.trades == ["Finishes"]
    assert body.workflowId == 1
    assert body.primaryPhone is None


def test_custom_keys_are_configurable_and_can_be_left_out() -> None:
    keys = CustomFieldKeys(lead_id="tt_id", lead_type=None, inbox_link=None, customer_name=None)
    custom = opportunity_create(v2_lead(), OpportunityMapping(keys=keys)).custom
    assert custom == {"tt_id": "299614694480093245", "thumbtack_category_id": "122681972262289742"}


def test_test_business_lead_is_marked_as_test() -> None:
    payload = doc_payload("v2_lead")
    payload["business"]["name"] = "Test Business for Webhooks"
    assert LeadInput.from_event(parse_legacy_lead(payload)).is_test


def test_lead_update_patches_only_the_fields_it_carried() -> None:
    update = parse_legacy_lead_update(doc_payload("v2_lead_update"))
    patch = lead_update_patch(update, KEYS)
    assert patch == {"custom": {"lead_price": 26.0, "thumbtack_charge_state": "Charged"}}
    only_charge = LeadUpdated(
        lead_id="1", source="v2", charge_state="Refunded", fields=frozenset({"chargeState"})
    )
    assert lead_update_patch(only_charge, KEYS) == {
        "custom": {"thumbtack_charge_state": "Refunded"}
    }
    assert lead_update_patch(LeadUpdated(lead_id="1", source="v2"), KEYS) is None


def test_message_notes_say_who_wrote_and_when() -> None:
    message = parse_legacy_message(doc_payload("v2_message"))
    note = message_note(message, customer_name="John Davis")
    assert note.startswith("Thumbtack message from John Davis (customer)")
    assert (message.text or "").strip() in note
    pro = MessageReceived(
        message_id="m",
        source="v4",
        sender="Business",
        text="See you Tuesday",
        sent_at=datetime(2024, 6, 13, 17, 18, tzinfo=UTC),
    )
    note = message_note(pro, business_name="Robert's Remodeling")
    assert note.splitlines()[0] == (
        "Thumbtack message from Robert's Remodeling (pro), 2024-06-13 17:18 UTC:"
    )
    assert "See you Tuesday" in note
    v4 = parse_v4(doc_payload("v4_message_created")).record
    assert isinstance(v4, MessageReceived)
    assert "Thumbtack message from" in message_note(v4)


def test_review_note_and_rating_patch() -> None:
    review = parse_legacy_review(doc_payload("v2_review"))
    note = review_note(review)
    assert note.startswith("Thumbtack review from")
    if review.rating is not None:
        assert f"{review.rating}/5" in note
        assert review_patch(review, KEYS) == {"custom": {"thumbtack_rating": review.rating}}
    unrated = ReviewReceived(review_id="r", source="v2")
    assert "unrated" in review_note(unrated)
    assert review_patch(unrated, KEYS) is None


def test_fit_custom_keeps_what_the_account_can_hold() -> None:
    properties = [
        Property(id=1, name="Lead", type="TEXT", keyName="thumbtack_lead_id"),
        Property(id=2, name="Price", type="NUMERIC", keyName="lead_price"),
        Property(id=3, name="Src", type="DROPDOWN", keyName="source", options=["Thumbtack"]),
        Property(
            id=4, name="Tags", type="DROPDOWN", keyName="tags", isMultiple=True, options=["hot"]
        ),
    ]
    kept, dropped = fit_custom(
        {
            "thumbtack_lead_id": 123,
            "lead_price": "$18.50",
            "source": "thumbtack",
            "tags": "hot",
            "nope": "x",
        },
        properties,
    )
    assert kept == {
        "thumbtack_lead_id": "123",
        "lead_price": 18.5,
        "source": "Thumbtack",  # the account's spelling of the option
        "tags": ["hot"],
    }
    assert dropped == ["nope"]


def test_fit_custom_leaves_out_an_unknown_option_unless_new_options_are_allowed() -> None:
    # Coperniq refuses a whole record for one unknown option (without allow_new_options): the
    # field is left out instead, so the lead still lands.
    lead_type = Property(
        id=5, name="Lead type", type="DROPDOWN", keyName="lead_type", options=["Direct"]
    )
    assert fit_custom({"lead_type": "Instant"}, [lead_type]) == ({}, ["lead_type"])
    assert fit_custom({"lead_type": "Instant"}, [lead_type], allow_new_options=True) == (
        {"lead_type": "Instant"},
        [],
    )
    properties = [Property(id=2, name="Price", type="NUMERIC", keyName="lead_price")]
    assert fit_custom({"lead_price": "n/a"}, properties) == ({}, ["lead_price"])
