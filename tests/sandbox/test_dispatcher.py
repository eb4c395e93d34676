"""Deliveries to the partner: legacy paths and v4 envelope, auth, retries, and delivery faults."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.sandbox import (
    COPERNIQ_KEY,
    Partner,
    Sandbox,
    basic,
    bearer,
    v4_tokens,
    wait_until,
)

Start = Callable[..., Sandbox]


def legacy(start: Start, partner: Partner, **extra: object) -> Sandbox:
    return start(
        partner_url=partner.url,
        delivery_style="legacy",
        partner_username="thumbtack",
        partner_password="pw",
        **extra,
    )


def test_legacy_lead_message_update_and_review(start: Start, partner: Partner) -> None:
    sb = legacy(start, partner)
    lead = sb.new_lead(sb.business_ids()[0], leadType="REQUEST_A_QUOTE")
    lead_id = lead["leadID"]
    sb.post(f"/_sandbox/leads/{lead_id}/messages", json={"text": "Is Friday ok?"})
    sb.post(f"/_sandbox/leads/{lead_id}/reviews", json={"rating": 5})
    received = partner.wait(3)
    by_path = {(r.method, r.path): r for r in received}
    new = by_path["POST", "/v1/lead"]
    assert new.headers["authorization"] == basic("thumbtack", "pw")["Authorization"]
    assert new.headers["content-type"] == "application/json"
    assert new.body["leadID"] == lead_id
    assert new.body["leadPrice"] is None
    assert new.body["chargeState"] is None
    assert set(new.body["request"]) >= {"requestID", "category", "categoryID", "title", "location"}
    message = by_path["POST", "/v1/message"].body
    assert message["leadID"] == lead_id
    assert message["message"]["text"] == "Is Friday ok?"
    review = by_path["POST", "/v1/review"].body
    assert review["reviewEventType"] == "REVIEW_ADDED"
    assert review["review"]["rating"] == "5"
    if lead["lead"]["leadPrice"] is not None:
        partner.wait(4)
        update = next(r for r in partner.received if r.path == "/v1/lead/update")
        assert update.method == "PUT"
        assert update.body == {
            "leadID": lead_id,
            "leadPrice": lead["lead"]["leadPrice"],
            "chargeState": "Charged",
        }


def test_v4_envelope_to_partner_url(start: Start, partner: Partner) -> None:
    sb = start(partner_url=partner.url, partner_username="u", partner_password="p")
    lead = sb.new_lead()
    (received,) = partner.wait(1)
    assert received.path == "/v4/webhooks"
    event = received.body["event"]
    assert event["eventType"] == "NegotiationCreatedV4"
    assert set(event) == {"eventType", "webhookID", "triggeredAt", "description"}
    assert received.body["data"]["negotiationID"] == lead["leadID"]
    sb.post(
        f"/_sandbox/leads/{lead['leadID']}/messages",
        json={"from": "Business", "text": "typed in app"},
    )
    message = partner.wait(2)[1].body
    assert message["event"]["eventType"] == "MessageCreatedV4"
    assert message["data"]["from"] == "Business"


def test_deliveries_go_out_side_by_side_with_precise_times(start: Start, partner: Partner) -> None:
    # Thumbtack does not wait for one answer before sending the next event: a slow partner
    # answer must not hold every later lead back.
    sb = legacy(start, partner)
    partner.hold = True
    business = sb.business_ids()[0]
    leads = [sb.new_lead(business)["leadID"] for _ in range(3)]
    try:
        received = partner.wait(3)  # all three in flight, none answered yet
    finally:
        partner.release.set()
    assert sorted(r.body["leadID"] for r in received) == sorted(leads)  # type: ignore[index]
    wait_until(lambda: all(d["status"] == "delivered" for d in sb.inspect("deliveries")))
    for delivery in sb.inspect("deliveries"):
        # To the microsecond, for timing a partner (bench/speed_to_lead.py).
        assert len(delivery["attempts"][0]["recordedAt"]) == len("2026-11-23T12:00:00.000000Z")


def test_failed_deliveries_are_retried_with_every_attempt_recorded(
    start: Start, partner: Partner
) -> None:
    sb = legacy(start, partner)
    partner.answers.extend([500, 503])
    lead = sb.new_lead(leadType="PHONE_CONSULTATION")
    received = partner.wait(3)
    assert [r.body["leadID"] for r in received] == [lead["leadID"]] * 3
    wait_until(lambda: sb.deliveries(kind="lead")[0]["status"] == "delivered")
    attempts = sb.deliveries(kind="lead")[0]["attempts"]
    assert [(a["statusCode"], a["outcome"]) for a in attempts] == [
        (500, "retry"),
        (503, "retry"),
        (200, "delivered"),
    ]


def test_delivery_gives_up_after_max_attempts(start: Start, partner: Partner) -> None:
    sb = legacy(start, partner, delivery_max_attempts=2)
    partner.answers.extend([500] * 5)
    sb.new_lead(leadType="PHONE_CONSULTATION")
    wait_until(lambda: sb.deliveries(kind="lead")[0]["status"] == "failed")
    assert [a["outcome"] for a in sb.deliveries(kind="lead")[0]["attempts"]] == ["retry", "failed"]


def test_unreachable_partner_is_recorded_as_transport_error(start: Start) -> None:
    sb = start(partner_url="http://127.0.0.1:9", delivery_max_attempts=1)
    sb.new_lead()
    wait_until(lambda: sb.deliveries()[0]["status"] == "failed")
    attempt = sb.deliveries()[0]["attempts"][0]
    assert attempt["statusCode"] is None
    assert "Error" in attempt["error"]


def test_duplicate_fault_sends_twice(start: Start, partner: Partner) -> None:
    sb = legacy(start, partner, delivery_backoff_seconds=5.0)
    sb.faults(duplicate_rate=1.0)
    lead = sb.new_lead(leadType="PHONE_CONSULTATION")
    received = partner.wait(2)
    assert [r.body["leadID"] for r in received] == [lead["leadID"]] * 2
    deliveries = sb.deliveries(kind="lead")
    assert deliveries[1]["duplicateOf"] == deliveries[0]["deliveryID"]


def test_delivery_drop_fault_resends(start: Start, partner: Partner) -> None:
    sb = legacy(start, partner)
    sb.faults(delivery_drop_rate=1.0)
    sb.new_lead(leadType="PHONE_CONSULTATION")
    partner.wait(2)
    sb.faults(delivery_drop_rate=0.0)
    wait_until(lambda: sb.deliveries(kind="lead")[0]["status"] == "delivered")
    attempts = sb.deliveries(kind="lead")[0]["attempts"]
    assert "dropped" in attempts[0]["error"]


def test_message_before_lead_fault(start: Start, partner: Partner) -> None:
    sb = legacy(start, partner)
    sb.faults(message_before_lead=True)
    lead = sb.new_lead(leadType="PHONE_CONSULTATION")
    received = partner.wait(2)
    assert [r.path for r in received] == ["/v1/message", "/v1/lead"]
    assert received[0].body["leadID"] == lead["leadID"]


def test_retry_now_makes_pending_deliveries_due(start: Start, partner: Partner) -> None:
    sb = legacy(start, partner, delivery_backoff_seconds=30.0)
    partner.answers.append(500)
    sb.new_lead(leadType="PHONE_CONSULTATION")
    partner.wait(1)
    wait_until(lambda: len(sb.deliveries(kind="lead")[0]["attempts"]) == 1)
    assert sb.post("/_sandbox/deliveries/retry").json() == {"retried": 1}
    partner.wait(2)


def test_registered_v4_webhook_gets_its_header_auth_and_only_its_events(
    start: Start, partner: Partner
) -> None:
    sb = start(allow_http_webhooks=True)
    business_id, other = sb.business_ids()[:2]
    auth = bearer(v4_tokens(sb, business_id)["access_token"])
    hook = sb.post(
        f"/api/v4/businesses/{business_id}/webhooks",
        json={
            "webhookURL": partner.url + "/hooks/tt",
            "eventTypes": ["NegotiationCreatedV4"],
            "auth": {"type": "header", "headerName": "X-Partner-Key", "headerValue": "k-123"},
        },
        headers=auth,
    )
    assert hook.status_code == 201, hook.text
    assert "k-123" not in hook.text
    sb.new_lead(other)  # another business's lead: not this webhook's
    lead = sb.new_lead(business_id)
    (received,) = partner.wait(1)
    assert received.path == "/hooks/tt"
    assert received.headers["x-partner-key"] == "k-123"
    assert "authorization" not in received.headers
    assert received.body["data"]["negotiationID"] == lead["leadID"]
    assert received.body["event"]["webhookID"] == hook.json()["webhookID"]
    # The partner has the request a moment before the sandbox has its answer: waited for.
    target = "webhook:" + hook.json()["webhookID"]
    wait_until(lambda: [d["status"] for d in sb.deliveries(target=target)] != ["pending"])
    assert [d["status"] for d in sb.deliveries(target=target)] == ["delivered"]


def test_coperniq_automation_webhooks_are_retried_on_failure(
    start: Start, partner: Partner
) -> None:
    sb = start(coperniq_webhook_url=partner.url + "/coperniq/hook-token")
    partner.answers.extend([500, 429])
    created = sb.post(
        "/coperniq/v1/opportunities",
        json={"title": "Porch", "address": ["1 Main St, Austin, TX 78701"], "trades": ["Deck"]},
        headers=COPERNIQ_KEY,
    )
    assert created.status_code == 200, created.text
    received = partner.wait(3)
    assert [r.body["event"]["triggerKey"] for r in received] == ["REQUEST_CREATED"] * 3
    assert len({r.body["event"]["eventId"] for r in received}) == 1
    wait_until(lambda: sb.deliveries(target="coperniq")[0]["status"] == "delivered")
    attempts = sb.deliveries(target="coperniq")[0]["attempts"]
    assert [a["statusCode"] for a in attempts] == [500, 429, 200]
