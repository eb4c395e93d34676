"""The Coperniq destination against the sandbox over HTTP: one opportunity and one contact per
lead whatever is repeated or fails on the way; updates, notes and reviews on that opportunity."""

from __future__ import annotations

import secrets
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tackbridge.crm.destinations.coperniq import CoperniqDestination, CoperniqSettings
from tackbridge.crm.errors import CrmRetryableError, NotReadyError
from tackbridge.crm.opportunity import CustomFieldKeys, OpportunityMapping
from tackbridge.leads.models import Detail, LeadInput, LeadUpdated, MessageReceived, ReviewReceived
from tests.crm.conftest import client_for
from tests.support.sandbox import COPERNIQ_KEY, Sandbox

API = "/coperniq/v1"


def lead(**changes: Any) -> LeadInput:
    base = LeadInput(
        lead_id=str(10**17 + secrets.randbelow(10**17)),
        category="Kitchen Remodel",
        category_id="201565295100608806",
        description="Full kitchen renovation",
        schedule="This week",
        address1="1450 Haight Street",
        city="San Francisco",
        state="CA",
        zip_code="94117",
        customer_name=f"Olivia {secrets.token_hex(2)}",
        customer_first_name="Olivia",
        customer_phone=f"415{secrets.randbelow(10**7):07d}",
        lead_type="REQUEST_A_QUOTE",
        lead_price="$25.00",
        charge_state="Charged",
        details=(Detail("Project scope", "Full kitchen renovation"),),
    )
    return replace(base, **changes)


def opportunities_of(sb: Sandbox, lead_id: str) -> list[dict[str, Any]]:
    return [
        o
        for o in sb.inspect("coperniq/opportunities")
        if o["custom"].get("thumbtack_lead_id") == lead_id and o["deletedAt"] is None
    ]


def contacts_with(sb: Sandbox, phone: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        batch = sb.get(
            f"{API}/contacts", params={"page": page, "page_size": 100}, headers=COPERNIQ_KEY
        ).json()
        found += [c for c in batch if phone in c.get("phones", [])]
        if len(batch) < 100:
            return found
        page += 1


async def test_lead_becomes_one_opportunity_and_contact_even_twice(sandbox: Sandbox) -> None:
    new = lead()
    async with client_for(sandbox) as client:
        destination = CoperniqDestination(client)
        first = await destination.deliver_lead(new, idempotency_key="lead:1")
        second = await destination.deliver_lead(new, idempotency_key="lead:1")
    assert first.outcome == "created"
    assert second.outcome == "found"
    assert first.external_id == second.external_id
    [opportunity] = opportunities_of(sandbox, new.lead_id)
    assert str(opportunity["id"]) == first.external_id
    assert opportunity["title"] == f"Kitchen Remodel - {new.customer_name}"
    assert opportunity["address"] == ["1450 Haight Street, San Francisco, CA 94117"]
    assert opportunity["trades"] == ["Remodeling"]
    assert opportunity["custom"]["lead_price"] == 25.0
    assert opportunity["custom"]["customer_name"] == new.customer_name
    assert opportunity["custom"]["thumbtack_charge_state"] == "Charged"
    assert "- Project scope: Full kitchen renovation" in opportunity["description"]
    [contact] = contacts_with(sandbox, new.customer_phone or "")
    assert contact["name"] == new.customer_name
    assert opportunity["contacts"] == [contact["id"]]


async def test_the_default_account_takes_every_mapped_custom_field(fresh: Sandbox) -> None:
    new = lead(status="Open")
    async with client_for(fresh) as client:
        destination = CoperniqDestination(client)
        properties = {p.keyName: p for p in await destination.properties()}
        await destination.deliver_lead(new, idempotency_key="k")
    [opportunity] = opportunities_of(fresh, new.lead_id)
    assert opportunity["custom"] == {
        "thumbtack_lead_id": new.lead_id,
        "thumbtack_lead_type": "REQUEST_A_QUOTE",
        "lead_price": 25.0,
        "thumbtack_charge_state": "Charged",
        "thumbtack_category_id": "201565295100608806",
        "thumbtack_inbox_link": f"https://www.thumbtack.com/pro-inbox/messages/{new.lead_id}",
        "thumbtack_lead_status": "Open",
        "customer_name": new.customer_name,
    }
    keys = CustomFieldKeys()
    written = {getattr(keys, f.name) for f in fields(keys)} - {None}
    assert written <= set(properties), "the default account lacks a property tackbridge writes"
    assert properties["thumbtack_lead_type"].type == "DROPDOWN"
    assert properties["thumbtack_charge_state"].type == "DROPDOWN"
    assert properties["lead_price"].type == properties["thumbtack_rating"].type == "NUMERIC"


async def test_properties_the_account_lacks_are_left_out(fresh: Sandbox) -> None:
    keys = CustomFieldKeys(charge_state="tt_charge_not_in_account", rating="tt_rating_not_there")
    settings = CoperniqSettings(mapping=OpportunityMapping(keys=keys))
    new = lead()
    async with client_for(fresh) as client:
        destination = CoperniqDestination(client, settings)
        await destination.deliver_lead(new, idempotency_key="k")
        review = ReviewReceived(review_id="r1", source="v2", lead_id=new.lead_id, rating=4)
        await destination.record_review(review, idempotency_key="review:r1")
    [opportunity] = opportunities_of(fresh, new.lead_id)
    assert "tt_charge_not_in_account" not in opportunity["custom"]
    assert "thumbtack_charge_state" not in opportunity["custom"]
    assert "tt_rating_not_there" not in opportunity["custom"]
    assert opportunity["custom"]["thumbtack_lead_type"] == "REQUEST_A_QUOTE"


async def test_an_undocumented_lead_type_is_left_out_not_the_lead(fresh: Sandbox) -> None:
    # Thumbtack does send lead types outside its list (api-notes.md); the dropdown lacks them.
    new = lead(lead_type="SOMETHING_NEW")
    async with client_for(fresh) as client:
        receipt = await CoperniqDestination(client).deliver_lead(new, idempotency_key="k")
    assert receipt.outcome == "created"
    [opportunity] = opportunities_of(fresh, new.lead_id)
    assert "thumbtack_lead_type" not in opportunity["custom"]
    assert opportunity["custom"]["thumbtack_charge_state"] == "Charged"


async def test_allow_new_options_adds_an_undocumented_lead_type(fresh: Sandbox) -> None:
    new = lead(lead_type="SOMETHING_NEW")
    settings = CoperniqSettings(allow_new_options=True)
    async with client_for(fresh) as client:
        await CoperniqDestination(client, settings).deliver_lead(new, idempotency_key="k")
    [opportunity] = opportunities_of(fresh, new.lead_id)
    assert opportunity["custom"]["thumbtack_lead_type"] == "SOMETHING_NEW"


async def test_exactly_one_when_coperniq_fails_for_a_while(fresh: Sandbox) -> None:
    new = lead()
    fresh.faults(error_rate=1.0)
    async with client_for(fresh) as client:
        destination = CoperniqDestination(client)
        with pytest.raises(CrmRetryableError):
            await destination.deliver_lead(new, idempotency_key="k")
        fresh.faults(error_rate=0.0, rate_limit_rate=1.0)
        with pytest.raises(CrmRetryableError):
            await destination.deliver_lead(new, idempotency_key="k")
        # Half the calls fail: retry as the outbox would until one attempt gets through.
        fresh.faults(rate_limit_rate=0.25, error_rate=0.25, retry_after_seconds=0)
        receipts = []
        for _ in range(60):
            try:
                receipts.append(await destination.deliver_lead(new, idempotency_key="k"))
            except CrmRetryableError:
                continue
            if len(receipts) == 3:
                break
        fresh.faults(rate_limit_rate=0.0, error_rate=0.0)
    assert len(receipts) == 3
    assert len({r.external_id for r in receipts}) == 1
    assert len(opportunities_of(fresh, new.lead_id)) == 1
    assert len(contacts_with(fresh, new.customer_phone or "")) == 1


async def test_same_customer_and_category_twice_gives_two_opportunities(
    sandbox: Sandbox,
) -> None:
    first = lead()
    second = replace(first, lead_id=str(int(first.lead_id) + 1))
    async with client_for(sandbox) as client:
        destination = CoperniqDestination(client)
        a = await destination.deliver_lead(first, idempotency_key="a")
        b = await destination.deliver_lead(second, idempotency_key="b")
        again = await destination.deliver_lead(second, idempotency_key="b")
    assert a.external_id != b.external_id == again.external_id
    [other] = opportunities_of(sandbox, second.lead_id)
    assert other["title"].endswith(f"(Thumbtack lead {second.lead_id})")
    assert len(contacts_with(sandbox, first.customer_phone or "")) == 1


async def test_match_settings_are_passed_and_a_foreign_record_is_linked(
    sandbox: Sandbox,
) -> None:
    new = lead()
    made = sandbox.post(
        f"{API}/opportunities",
        headers=COPERNIQ_KEY,
        json={
            "title": "Call back Olivia",
            "address": ["1 Main St, Town, CA 94000"],
            "trades": ["Remodeling"],
            "primaryPhone": new.customer_phone,
        },
    ).json()
    # skip leaves the matched record as it was: the lead's ID is then added by a patch.
    settings = CoperniqSettings(match_by="primaryPhone", match_found_strategy="skip")
    async with client_for(sandbox) as client:
        receipt = await CoperniqDestination(client, settings).deliver_lead(new, idempotency_key="k")
    assert receipt.external_id == str(made["id"])
    assert receipt.outcome == "linked"
    [linked] = opportunities_of(sandbox, new.lead_id)
    assert linked["title"] == "Call back Olivia"
    assert linked["description"] is None


async def test_updates_notes_and_reviews_land_on_the_opportunity(fresh: Sandbox) -> None:
    new = lead()
    async with client_for(fresh) as client:
        destination = CoperniqDestination(client)
        message = MessageReceived(
            message_id="m1",
            source="v4",
            lead_id=new.lead_id,
            text="Can you come Tuesday?",
            sent_at=datetime(2024, 6, 13, 17, 18, tzinfo=UTC),
        )
        with pytest.raises(NotReadyError) as waiting:
            await destination.deliver_message(message, idempotency_key="message:m1")
        # No fixed pause: the worker's backoff, so that the note outlasts its lead's own
        # retries through a CRM outage instead of running out of attempts first.
        assert waiting.value.retry_after is None
        receipt = await destination.deliver_lead(new, idempotency_key="lead")
        opportunity_id = int(receipt.external_id or 0)
        update = LeadUpdated(
            lead_id=new.lead_id,
            source="v2",
            charge_state="Refunded",
            lead_price="$0.00",
            lead_price_cents=0,
            fields=frozenset({"chargeState", "leadPrice"}),
        )
        await destination.apply_lead_update(update, idempotency_key="update:1")
        first = await destination.deliver_message(message, idempotency_key="message:m1")
        again = await destination.deliver_message(message, idempotency_key="message:m1")
        review = ReviewReceived(review_id="r1", source="v2", lead_id=new.lead_id, rating=5)
        await destination.record_review(review, idempotency_key="review:r1")
        await destination.record_review(review, idempotency_key="review:r1")
    assert first.external_id == again.external_id
    [opportunity] = opportunities_of(fresh, new.lead_id)
    assert opportunity["custom"]["thumbtack_charge_state"] == "Refunded"
    assert opportunity["custom"]["lead_price"] == 0
    assert opportunity["custom"]["thumbtack_rating"] == 5
    notes = [n for n in fresh.inspect("coperniq/notes") if n["recordId"] == opportunity_id]
    assert len(notes) == 2
    assert notes[0]["body"].startswith(
        f"Thumbtack message from {new.customer_name} (customer), 2024-06-13 17:18 UTC:"
    )
    assert "Can you come Tuesday?" in notes[0]["body"]
    assert notes[1]["body"].startswith("Thumbtack review from a customer: 5/5")


async def test_without_the_lead_id_property_the_inbox_link_finds_the_lead(
    fresh: Sandbox,
) -> None:
    keys = CustomFieldKeys(lead_id="tt_lead_not_in_account")
    settings = CoperniqSettings(mapping=OpportunityMapping(keys=keys))
    new = lead()
    async with client_for(fresh) as client:
        destination = CoperniqDestination(client, settings)
        a = await destination.deliver_lead(new, idempotency_key="k")
        b = await destination.deliver_lead(new, idempotency_key="k")
    assert a.outcome == "created"
    assert b.outcome == "found"
    assert a.external_id == b.external_id
    assert len(fresh.inspect("coperniq/opportunities")) == 1


async def test_what_is_known_saves_requests_and_a_stale_record_falls_back(fresh: Sandbox) -> None:
    new = lead()

    def requests() -> int:
        used: int = fresh.inspect("summary")["coperniqRequestsToday"]
        return used

    message = MessageReceived(
        message_id="m2",
        source="v4",
        lead_id=new.lead_id,
        text="Tuesday works",
        sent_at=datetime(2024, 6, 13, 17, 18, tzinfo=UTC),
    )
    async with client_for(fresh) as client:
        destination = CoperniqDestination(client)
        await destination.properties()  # read once per destination, not per lead
        before = requests()
        created = await destination.deliver_lead(new, idempotency_key="lead", first_try=True)
        assert requests() - before == 1  # no look-up: the create alone
        # Even a wrong first_try cannot duplicate it: the create's title match returns it.
        again = await destination.deliver_lead(new, idempotency_key="lead", first_try=True)
        assert again.external_id == created.external_id

        before = requests()
        noted = await destination.deliver_message(
            message,
            idempotency_key="message:m2",
            first_try=True,
            record_id=created.external_id,
            customer_name=new.customer_name,
        )
        assert requests() - before == 1  # no search, no list of notes: the note alone
        # A repeat (not a first try) looks for its note first and finds it.
        repeat = await destination.deliver_message(
            message, idempotency_key="message:m2", record_id=created.external_id
        )
        assert repeat.external_id == noted.external_id
        assert repeat.outcome == "found"
        # A record deleted in Coperniq meanwhile: the lead is looked up instead.
        fresh.delete(f"{API}/opportunities/{created.external_id}", headers=COPERNIQ_KEY)
        with pytest.raises(NotReadyError):
            await destination.deliver_message(
                message, idempotency_key="message:m3", record_id=created.external_id
            )
    assert len(opportunities_of(fresh, new.lead_id)) == 0
    notes = [
        n for n in fresh.inspect("coperniq/notes") if str(n["recordId"]) == created.external_id
    ]
    assert len(notes) == 1
    assert notes[0]["body"].startswith(f"Thumbtack message from {new.customer_name} (customer)")
