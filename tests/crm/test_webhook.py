"""The signed generic webhook, verified by the ``standardwebhooks`` package on a real loopback
receiver: the id is the outbox key (the same on a retry), bodies and errors are typed."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from tackbridge.crm.destinations.webhook import (
    WebhookDestination,
    decode_secret,
    sign,
    signature_headers,
)
from tackbridge.crm.errors import CrmNetworkError, CrmRetryableError, WebhookRejectedError
from tackbridge.jobstatus.from_crm import CrmStatusChange
from tackbridge.leads.models import LeadInput, LeadUpdated, MessageReceived, ReviewReceived
from tackbridge.thumbtack.models import JobStatus
from tests.support.sandbox import Partner, partner_app
from tests.support.servers import free_port, serve

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def _receiver() -> Iterator[Partner]:
    found = Partner()
    with serve(partner_app(found)) as url:
        found.url = url
        yield found


@pytest.fixture
def receiver(_receiver: Partner) -> Partner:
    with _receiver.lock:
        _receiver.received.clear()
        _receiver.answers.clear()
    return _receiver


def verified(received: object, secret: str = SECRET) -> dict[str, object]:
    headers = {k: v for k, v in received.headers.items()}  # type: ignore[attr-defined]
    raw = json.dumps(received.body, separators=(",", ":"), ensure_ascii=False)  # type: ignore[attr-defined]
    result: dict[str, object] = Webhook(secret).verify(raw, headers)
    return result


async def test_every_event_kind_is_signed_and_verifies(receiver: Partner) -> None:
    destination = WebhookDestination(receiver.url + "/hooks/tackbridge", SECRET)
    now = datetime(2024, 6, 13, 17, 18, tzinfo=UTC)
    try:
        await destination.deliver_lead(
            LeadInput(lead_id="1", category="Kitchen Remodel"), idempotency_key="lead:1"
        )
        await destination.deliver_lead_update(
            LeadUpdated(
                lead_id="1", source="v2", charge_state="Charged", fields=frozenset({"chargeState"})
            ),
            idempotency_key="update:1",
        )
        await destination.deliver_message(
            MessageReceived(message_id="m", source="v4", lead_id="1", text="hé", sent_at=now),
            idempotency_key="message:m",
        )
        await destination.deliver_review(
            ReviewReceived(review_id="r", source="v2", rating=5), idempotency_key="review:r"
        )
        await destination.deliver_status(
            CrmStatusChange("9", JobStatus.JOB_COMPLETE, now, "e1", "DEAL_STATUS_MOVEMENT"),
            idempotency_key="status:e1",
        )
    finally:
        await destination.aclose()
    got = receiver.wait(5)
    assert [r.headers["webhook-id"] for r in got] == [
        "lead:1",
        "update:1",
        "message:m",
        "review:r",
        "status:e1",
    ]
    payloads = [verified(r) for r in got]
    assert [p["type"] for p in payloads] == [
        "lead.received",
        "lead.updated",
        "message.received",
        "review.received",
        "job_status.changed",
    ]
    lead = payloads[0]["data"]
    assert isinstance(lead, dict)
    assert lead["lead_id"] == "1"
    assert lead["inbox_link"] == "https://www.thumbtack.com/pro-inbox/messages/1"
    assert payloads[1]["data"]["fields"] == ["chargeState"]  # type: ignore[index]
    assert payloads[2]["data"]["sent_at"] == "2024-06-13T17:18:00Z"  # type: ignore[index]
    assert payloads[4]["data"]["status"] == "job_complete"  # type: ignore[index]
    assert got[0].headers["content-type"] == "application/json"


async def test_a_retry_carries_the_same_id_and_a_wrong_secret_fails(receiver: Partner) -> None:
    receiver.answers.extend([503])
    destination = WebhookDestination(receiver.url + "/hook", SECRET)
    lead = LeadInput(lead_id="2")
    try:
        with pytest.raises(CrmRetryableError) as failed:
            await destination.deliver_lead(lead, idempotency_key="lead:2")
        assert failed.value.status == 503
        await destination.deliver_lead(lead, idempotency_key="lead:2")
    finally:
        await destination.aclose()
    first, second = receiver.wait(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "lead:2"
    verified(second)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(Exception, match=r"(?i)signature"):
        verified(second, other)


async def test_receiver_answers_map_to_retry_or_dead(receiver: Partner) -> None:
    receiver.answers.extend([429, 400])
    destination = WebhookDestination(receiver.url + "/hook?token=abc123secret", SECRET)
    try:
        with pytest.raises(CrmRetryableError):
            await destination.deliver_lead(LeadInput(lead_id="3"), idempotency_key="a")
        with pytest.raises(WebhookRejectedError) as rejected:
            await destination.deliver_lead(LeadInput(lead_id="3"), idempotency_key="b")
    finally:
        await destination.aclose()
    assert "abc123secret" not in str(rejected.value)
    assert SECRET not in str(rejected.value)


async def test_unreachable_receiver_is_retryable() -> None:
    destination = WebhookDestination(f"http://127.0.0.1:{free_port()}/hook", SECRET)
    try:
        with pytest.raises(CrmNetworkError):
            await destination.deliver_lead(LeadInput(lead_id="4"), idempotency_key="a")
    finally:
        await destination.aclose()


def test_signature_matches_the_specification_example() -> None:
    # The example in the Standard Webhooks specification's reference implementation tests.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign(decode_secret(secret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    "secret",
    ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ="],
)
def test_bad_secrets_are_refused_without_being_echoed(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret") as error:
        WebhookDestination("https://hooks.example/x", secret)
    assert secret not in str(error.value)


def test_bad_ids_and_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        WebhookDestination("ftp://x/y", SECRET)
    destination = WebhookDestination("https://hooks.example/x", SECRET)
    assert SECRET not in repr(destination)
    key = decode_secret(SECRET)
    with pytest.raises(ValueError, match="webhook id"):
        signature_headers(key, "a\r\nb", 1, b"{}")
