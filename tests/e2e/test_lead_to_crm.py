"""Issue 5 end to end, both sides over HTTP: a lead the sandbox delivers becomes exactly one
Coperniq opportunity and contact, gets its automatic first reply at Thumbtack, its customer's
messages become notes, and moving the opportunity in Coperniq reaches Thumbtack as a job status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Stack

LEAD_KEY = "thumbtack_lead_id"
FAST = {
    "worker_backoff_base_seconds": 0.05,
    "worker_backoff_cap_seconds": 0.5,
    "worker_max_attempts": 200,
    "worker_lease_seconds": 3.0,
}


def opportunities_of(stack: Stack, lead_id: str) -> list[dict[str, Any]]:
    return [
        o
        for o in stack.inspect("coperniq/opportunities")
        if o.get("custom", {}).get(LEAD_KEY) == lead_id and o.get("deletedAt") is None
    ]


def business_messages(stack: Stack, lead_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stack.inspect("messages", leadID=lead_id, **{"from": "Business"})
    return found


def assert_mapped_custom_fields(opportunity: dict[str, Any], lead: dict[str, Any]) -> None:
    """The custom fields crm/opportunity.py maps, as the sandbox's default account (which has
    a property for each) holds them, against what ``GET /api/leads/{id}`` says of the lead."""
    custom = opportunity["custom"]
    assert lead["leadType"], "the sandbox always gives a lead type"
    expected: dict[str, Any] = {
        LEAD_KEY: lead["leadID"],
        "thumbtack_lead_type": lead["leadType"],
        "thumbtack_category_id": lead["request"]["categoryID"],
        "thumbtack_inbox_link": lead["inboxLink"],
        "thumbtack_lead_status": lead["status"],
    }
    assert lead["inboxLink"] == f"https://www.thumbtack.com/pro-inbox/messages/{lead['leadID']}"
    assert lead["request"]["categoryID"]
    # The price in dollars from the cents, and the charge state, only when the lead has them.
    if lead["leadPriceCents"] is not None:
        expected["lead_price"] = lead["leadPriceCents"] / 100
    else:
        assert "lead_price" not in custom
    if lead["chargeState"] is not None:
        expected["thumbtack_charge_state"] = lead["chargeState"]
    else:
        assert "thumbtack_charge_state" not in custom
    assert {key: custom.get(key) for key in expected} == expected
    assert custom.get("customer_name")
    assert lead["leadID"] in opportunity["description"]


@pytest.fixture
def connected(make_stack: Callable[..., Stack]) -> tuple[Stack, str]:
    stack = make_stack(**FAST)
    business = stack.business_ids()[0]
    assert stack.connect(business) == business
    return stack, business


def test_a_duplicated_lead_becomes_one_opportunity_and_one_auto_reply(
    connected: tuple[Stack, str],
) -> None:
    stack, business = connected
    stack.sandbox.put("/_sandbox/faults", json={"duplicate_rate": 1.0})
    # An instant booking: a street address, a phone, and (at seed 7) a price already charged.
    lead_id = stack.new_lead(business, leadType="INSTANT_BOOK")

    stack.wait(lambda: opportunities_of(stack, lead_id))
    stack.wait(lambda: business_messages(stack, lead_id))
    stack.wait(lambda: (stack.lead(lead_id) or {}).get("firstReplyBy") == "auto", timeout=10)
    sent = stack.inspect("deliveries", kind="lead")
    assert len([d for d in sent if d["recordID"] == lead_id]) >= 2, "the fault did not duplicate"

    [opportunity] = opportunities_of(stack, lead_id)
    lead = stack.lead(lead_id)
    assert lead is not None
    assert lead["request"]["category"] in opportunity["title"]
    assert opportunity["custom"][LEAD_KEY] == lead_id
    assert lead["request"]["description"] in opportunity["description"]
    assert lead["leadPriceCents"] is not None
    assert lead["chargeState"] == "Charged"
    assert_mapped_custom_fields(opportunity, lead)
    phone = (lead["customer"] or {}).get("phone")
    if phone:
        digits = "".join(c for c in phone if c.isdigit())
        contacts = stack.sandbox.get(
            "/coperniq/v1/contacts",
            params={"page_size": 100},
            headers={"x-api-key": "dev-coperniq-key"},
        ).json()
        mine = [
            c
            for c in contacts
            if any(digits in "".join(x for x in p if x.isdigit()) for p in c.get("phones") or [])
        ]
        assert len(mine) == 1, mine
        assert opportunity.get("contacts") == [mine[0]["id"]] or mine[0]["id"] in (
            opportunity.get("contacts") or []
        )
    [reply] = business_messages(stack, lead_id)
    assert reply["text"]
    thread = stack.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"]
    [ours] = [m for m in thread if m["from"] == "Business"]
    assert ours["author"] == "auto"
    assert ours["deliveryState"] == "sent"
    # Still one of each a little later: nothing is retried into a second copy.
    stack.wait(lambda: len(opportunities_of(stack, lead_id)) == 1)
    assert len(business_messages(stack, lead_id)) == 1

    stats = stack.operator.get("/api/stats/response-times").json()
    assert stats["byAuto"] >= 1
    assert stats["autoSeconds"]["p50"] is not None


@pytest.mark.slow
def test_the_crm_failing_for_a_while_still_gives_one_opportunity(
    connected: tuple[Stack, str],
) -> None:
    stack, business = connected
    stack.sandbox.put("/_sandbox/faults", json={"error_rate": 0.5, "rate_limit_rate": 0.3})
    lead_id = stack.new_lead(business)
    stack.wait(lambda: stack.lead(lead_id) is not None)
    stack.wait(lambda: stack.operator.get("/api/jobs", params={"kind": "crm.lead"}).json()["items"])
    stack.sandbox.put("/_sandbox/faults", json={})
    stack.wait(lambda: opportunities_of(stack, lead_id), timeout=30)
    job = stack.operator.get("/api/jobs", params={"kind": "crm.lead"}).json()["items"][0]
    stack.wait(lambda: stack.operator.get(f"/api/jobs/{job['id']}").json()["state"] == "done")
    assert len(opportunities_of(stack, lead_id)) == 1


@pytest.mark.slow
def test_a_restart_mid_delivery_still_gives_one_opportunity(
    connected: tuple[Stack, str],
) -> None:
    stack, business = connected
    # Every Coperniq and Thumbtack call takes a while: the restart lands while one is in flight.
    stack.sandbox.put("/_sandbox/faults", json={"latency_ms": 800})
    lead_id = stack.new_lead(business)
    stack.wait(lambda: stack.lead(lead_id) is not None)
    stack.stop_product()
    stack.sandbox.put("/_sandbox/faults", json={})
    stack.start_product()
    stack.wait(lambda: opportunities_of(stack, lead_id), timeout=30)
    stack.wait(lambda: business_messages(stack, lead_id), timeout=30)
    stack.wait(
        lambda: all(
            j["state"] == "done"
            for j in stack.operator.get("/api/jobs", params={"kind": "crm.lead"}).json()["items"]
        ),
        timeout=30,
    )
    assert len(opportunities_of(stack, lead_id)) == 1
    assert len(business_messages(stack, lead_id)) == 1


def test_a_customer_message_becomes_a_note(connected: tuple[Stack, str]) -> None:
    stack, business = connected
    lead_id = stack.new_lead(business)
    stack.wait(lambda: opportunities_of(stack, lead_id))
    [opportunity] = opportunities_of(stack, lead_id)
    text = "Could you come Thursday morning instead?"
    answer = stack.sandbox.post(
        f"/_sandbox/leads/{lead_id}/messages", json={"from": "Customer", "text": text}
    )
    assert answer.status_code == 201, answer.text

    def notes() -> list[dict[str, Any]]:
        return [
            n
            for n in stack.inspect("coperniq/notes")
            if n["recordId"] == opportunity["id"] and text in n["body"]
        ]

    stack.wait(notes)
    assert len(notes()) == 1


def test_a_lead_and_its_first_reply_spend_few_coperniq_requests(
    connected: tuple[Stack, str],
) -> None:
    # Coperniq allows 5,000 requests a day per key: each one a lead costs is a lead less.
    stack, business = connected
    before = stack.inspect("summary")["coperniqRequestsToday"]
    lead_id = stack.new_lead(business)
    stack.wait(lambda: opportunities_of(stack, lead_id))
    [opportunity] = opportunities_of(stack, lead_id)

    def settled() -> bool:
        items = stack.operator.get("/api/jobs", params={"kind": "crm.message"}).json()
        return bool(items["items"]) and all(j["state"] == "done" for j in items["items"])

    stack.wait(settled, timeout=30)
    notes = [n for n in stack.inspect("coperniq/notes") if n["recordId"] == opportunity["id"]]
    assert len(notes) == 1, notes  # the auto-reply, once
    used = stack.inspect("summary")["coperniqRequestsToday"] - before
    # The account's properties (read once), the create, the note; at most one look-up of the
    # note more if the reply was faster than the opportunity. Searching the lead for every
    # message, or the contacts page by page, would cost more.
    assert used <= 4, used


def test_completed_in_coperniq_is_one_job_complete_at_thumbtack(
    connected: tuple[Stack, str],
) -> None:
    stack, business = connected
    lead_id = stack.new_lead(business)
    stack.wait(lambda: opportunities_of(stack, lead_id))
    [opportunity] = opportunities_of(stack, lead_id)

    moved = stack.sandbox.post(
        f"/_sandbox/coperniq/opportunities/{opportunity['id']}/status",
        json={"status": "COMPLETED"},
    )
    assert moved.status_code == 200, moved.text

    def pushed() -> list[dict[str, Any]]:
        return [j for j in stack.inspect("job-statuses") if j["negotiationID"] == lead_id]

    stack.wait(pushed)
    [event] = [
        e
        for e in stack.inspect("coperniq/events")
        if e["event"]["triggerKey"] == "DEAL_STATUS_MOVEMENT"
        and str(e["event"]["recordId"]) == str(opportunity["id"])
    ]
    [status] = pushed()
    assert status["status"] == "job_complete"
    assert _same_instant(status["partnerStatusChangedAt"], event["event"]["firedAt"])
    lead = stack.lead(lead_id)
    assert lead is not None
    history = [h for h in lead["statusHistory"] if h.get("jobStatus")]
    assert [h["jobStatus"] for h in history] == ["job_complete"]


def test_a_rescheduled_appointment_is_appt_scheduled_again_at_thumbtack(
    connected: tuple[Stack, str],
) -> None:
    stack, business = connected
    lead_id = stack.new_lead(business)
    stack.wait(lambda: opportunities_of(stack, lead_id))
    [opportunity] = opportunities_of(stack, lead_id)

    def pushed() -> list[dict[str, Any]]:
        return [j for j in stack.inspect("job-statuses") if j["negotiationID"] == lead_id]

    booked = stack.sandbox.post(
        f"/_sandbox/coperniq/opportunities/{opportunity['id']}/appointments",
        json={"startAt": "2030-06-20T15:00:00Z"},
    )
    assert booked.status_code == 201, booked.text
    stack.wait(pushed)
    # A move a minute later: a change at the same second would be the same change, sent once.
    assert stack.sandbox.post("/_sandbox/clock/advance", json={"seconds": 60}).status_code == 200
    moved = stack.sandbox.patch(
        f"/_sandbox/coperniq/appointments/{booked.json()['id']}",
        json={"startAt": "2030-06-21T15:00:00Z"},
    )
    assert moved.status_code == 200, moved.text
    stack.wait(lambda: len(pushed()) == 2)

    fired = {
        e["event"]["triggerKey"]: e["event"]["firedAt"]
        for e in stack.inspect("coperniq/events")
        if str(e["event"]["recordId"]) == str(opportunity["id"])
    }
    first, second = pushed()
    assert first["status"] == second["status"] == "appt_scheduled"
    assert _same_instant(first["partnerStatusChangedAt"], fired["APPOINTMENT_CREATED"])
    assert _same_instant(second["partnerStatusChangedAt"], fired["APPOINTMENT_RESCHEDULED"])
    lead = stack.lead(lead_id)
    assert lead is not None
    assert lead["jobStatus"] == "appt_scheduled"
    history = [h["jobStatus"] for h in lead["statusHistory"] if h.get("jobStatus")]
    assert history == ["appt_scheduled", "appt_scheduled"]


def _same_instant(a: str, b: str) -> bool:
    from datetime import datetime

    def parse(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    return parse(a) == parse(b)


def projects_of(stack: Stack, lead_id: str, collection: str = "projects") -> list[dict[str, Any]]:
    found = stack.sandbox.get(
        f"/coperniq/v1/{collection}",
        params={"page_size": 100, "order_by": "desc"},
        headers={"x-api-key": "dev-coperniq-key"},
    ).json()
    return [o for o in found if (o.get("custom") or {}).get(LEAD_KEY) == lead_id]


def test_a_business_set_to_project_gets_a_project_its_notes_and_job_statuses(
    connected: tuple[Stack, str],
) -> None:
    stack, business = connected
    put = stack.operator.put(
        f"/api/businesses/{business}/destination",
        json={"kind": "coperniq", "coperniq": {"recordType": "project"}},
    )
    assert put.status_code == 200, put.text
    assert put.json()["coperniq"]["recordType"] == "project"
    lead_id = stack.new_lead(business)
    stack.wait(lambda: projects_of(stack, lead_id))
    [project] = projects_of(stack, lead_id)
    assert projects_of(stack, lead_id, "opportunities") == []

    # The automatic first reply becomes a note on the project.
    def notes() -> list[dict[str, Any]]:
        answer = stack.sandbox.get(
            f"/coperniq/v1/projects/{project['id']}/notes",
            headers={"x-api-key": "dev-coperniq-key"},
        )
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["notes"]
        return found

    stack.wait(lambda: business_messages(stack, lead_id))
    [reply] = business_messages(stack, lead_id)
    stack.wait(lambda: [n for n in notes() if reply["text"] in n["note"]])

    # A replay of the lead's delivery finds the project: no second one.
    jobs = stack.operator.get("/api/jobs", params={"kind": "crm.lead"}).json()["items"]
    [job] = [j for j in jobs if lead_id in j["idempotencyKey"]]
    stack.wait(lambda: stack.operator.get(f"/api/jobs/{job['id']}").json()["state"] == "done")
    replay = stack.operator.post(f"/api/jobs/{job['id']}/retry")
    assert replay.status_code == 200, replay.text
    stack.wait(lambda: stack.operator.get(f"/api/jobs/{job['id']}").json()["state"] == "done")
    assert len(projects_of(stack, lead_id)) == 1
    assert projects_of(stack, lead_id, "opportunities") == []

    # COMPLETED on the project is job_complete at Thumbtack.
    moved = stack.sandbox.post(
        f"/_sandbox/coperniq/opportunities/{project['id']}/status",
        json={"status": "COMPLETED"},
    )
    assert moved.status_code == 200, moved.text

    def pushed() -> list[dict[str, Any]]:
        return [j for j in stack.inspect("job-statuses") if j["negotiationID"] == lead_id]

    stack.wait(pushed)
    [status] = pushed()
    assert status["status"] == "job_complete"
    [event] = [
        e
        for e in stack.inspect("coperniq/events")
        if e["event"]["triggerKey"] == "PROJECT_STATUS_MOVEMENT"
        and str(e["event"]["recordId"]) == str(project["id"])
    ]
    assert event["record"]["type"] == "PROJECT"
    assert _same_instant(status["partnerStatusChangedAt"], event["event"]["firedAt"])
