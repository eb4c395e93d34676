"""Wire format of the v4 API (thumbtack-v4-leads.txt, thumbtack-v4-requests.txt, api-notes.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx2
import pytest
from pydantic import ValidationError

from tackbridge.thumbtack import (
    AuthError,
    ChallengeError,
    Environment,
    ForbiddenError,
    JobStatus,
    JobStatusUpdate,
    NotAvailableError,
    NotFoundError,
    ProblemError,
    RateLimitedError,
    RequestCreate,
    ServerError,
    ThumbtackClient,
    ThumbtackConfigError,
    UnavailableForLegalReasonsError,
    UnexpectedResponseError,
    WebhookBasicAuth,
    WebhookCreate,
    WebhookHeaderAuth,
    WebhookUpdate,
)
from tackbridge.thumbtack.models import (
    AssociatePhoneNumberCreate,
    AssociatePhoneNumberUpdate,
    BusinessSearch,
)
from tests.support.job_statuses import JOB_STATUSES

from .conftest import Recorder, body, query

API = "https://api.thumbtack.com/api/v4"
TOKEN = "v4-access-token-abc"
BEARER = f"Bearer {TOKEN}"

NEGOTIATION = {
    "negotiationID": "519153480500518912",
    "status": "active",
    "category": {"categoryID": "201565295100608806", "name": "Kitchen Remodel"},
    "customer": {
        "customerID": "519153480034934784",
        "displayName": "Olivia Y.",
        "location": {"city": "San Francisco", "state": "CA", "zipCode": "94117"},
    },
    "business": {"businessID": "468046965846925323", "name": "Robert's Remodeling"},
    "details": [{"question": "Project scope", "answer": "Full kitchen renovation"}],
    "createTime": "2024-06-13T17:18:01Z",
}
MESSAGE = {
    "messageID": "519153481515696128",
    "negotiationID": "519153480500518912",
    "customer": {"customerID": "519153480034934784", "displayName": "Olivia Y."},
    "from": "Customer",
    "text": "Are you available on my date?",
    "attachments": [],
    "sentAt": "2024-06-13T17:18:01Z",
}


def assert_bearer_json(request: httpx2.Request, *, has_body: bool) -> None:
    assert request.headers["Authorization"] == BEARER
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == "tackbridge-tests/1"
    if has_body:
        assert request.headers["Content-Type"] == "application/json"
    else:
        assert "Content-Type" not in request.headers
        assert request.content == b""


# ---------------------------------------------------------------- negotiations


async def test_get_negotiation(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({**NEGOTIATION, "somethingNew": {"x": 1}})
    lead = await client.v4.get_negotiation("519153480500518912", token=TOKEN)

    request = recorder.last
    assert request.method == "GET"
    assert str(request.url) == f"{API}/negotiations/519153480500518912"
    assert_bearer_json(request, has_body=False)
    assert lead.negotiationID == "519153480500518912"
    assert lead.business_id == "468046965846925323"
    assert lead.category == {"categoryID": "201565295100608806", "name": "Kitchen Remodel"}
    assert lead.model_extra == {"somethingNew": {"x": 1}}


async def test_negotiation_is_liberal(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"negotiationID": 519153480500518912, "category": "Kitchen Remodel"})
    lead = await client.v4.get_negotiation(519153480500518912, token=TOKEN)
    assert lead.negotiationID == "519153480500518912"
    assert lead.category == "Kitchen Remodel"


async def test_list_negotiations_paginates(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {
            "data": [NEGOTIATION, {**NEGOTIATION, "negotiationID": "2"}],
            "pagination": {"limit": 2, "nextPageToken": "page-2"},
        }
    )
    recorder.json({"data": [{**NEGOTIATION, "negotiationID": "3"}], "pagination": {"limit": 2}})

    ids = [
        n.negotiationID
        async for n in client.v4.iter_negotiations("468046965846925323", limit=2, token=TOKEN)
    ]

    assert ids == ["519153480500518912", "2", "3"]
    first, second = recorder.requests
    assert first.method == "GET"
    assert first.url.path == "/api/v4/businesses/468046965846925323/negotiations"
    assert query(first) == [("limit", "2")]
    assert query(second) == [("limit", "2"), ("pageToken", "page-2")]
    assert_bearer_json(first, has_body=False)


async def test_list_negotiations_stops_on_a_repeated_cursor(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    page = {"data": [NEGOTIATION], "pagination": {"nextPageToken": "same"}}
    recorder.json(page)
    recorder.json(page)
    leads = [n async for n in client.v4.iter_negotiations("1", token=TOKEN)]
    assert len(leads) == 2
    assert len(recorder.requests) == 2


async def test_list_negotiations_404_means_not_available(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"title": "Not Found", "status": 404}, status=404)
    with pytest.raises(NotAvailableError) as info:
        await client.v4.list_negotiations("468046965846925323", token=TOKEN)
    assert isinstance(info.value, NotFoundError)


async def test_get_negotiation_404_is_plain_not_found(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"title": "Not Found", "status": 404}, status=404)
    with pytest.raises(NotFoundError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert not isinstance(info.value, NotAvailableError)


# ---------------------------------------------------------------- job status


async def test_job_status(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.raw(200)
    update = JobStatusUpdate(
        status=JobStatus.JOB_COMPLETE,
        partnerStatusChangedAt=datetime(2024, 6, 14, 9, 30, tzinfo=UTC),
        invoiceAmountInCents=125000,
    )
    await client.v4.update_job_status("519153480500518912", update, token=TOKEN)

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == f"{API}/negotiations/519153480500518912/job-status"
    assert_bearer_json(request, has_body=True)
    assert body(request) == {
        "status": "job_complete",
        "partnerStatusChangedAt": "2024-06-14T09:30:00Z",
        "invoiceAmountInCents": 125000,
    }


def test_job_status_timestamp_is_utc_z() -> None:
    pacific = timezone(timedelta(hours=-7))
    update = JobStatusUpdate(
        status="appt_scheduled",
        partnerStatusChangedAt=datetime(2024, 6, 14, 2, 30, 0, 250000, tzinfo=pacific),
    )
    assert update.to_wire() == {
        "status": "appt_scheduled",
        "partnerStatusChangedAt": "2024-06-14T09:30:00.250000Z",
    }


def test_job_status_refuses_naive_timestamps_and_unknown_statuses() -> None:
    with pytest.raises(ValidationError):
        JobStatusUpdate(status="job_complete", partnerStatusChangedAt=datetime(2024, 6, 14))
    with pytest.raises(ValidationError):
        JobStatusUpdate(status="completed", partnerStatusChangedAt=datetime.now(UTC))
    assert [s.value for s in JobStatus] == list(JOB_STATUSES)


@pytest.mark.parametrize(
    "status", ["not_scheduled", "appt_scheduled", "customer_cancel", "pro_cancel"]
)
def test_invoice_amount_only_with_invoiced_statuses(status: str) -> None:
    with pytest.raises(ValidationError, match="invoiceAmountInCents"):
        JobStatusUpdate(
            status=status, partnerStatusChangedAt=datetime.now(UTC), invoiceAmountInCents=1
        )


def test_invoice_amount_allowed_when_paid() -> None:
    update = JobStatusUpdate(
        status="invoice_paid", partnerStatusChangedAt=datetime.now(UTC), invoiceAmountInCents=0
    )
    assert update.to_wire()["invoiceAmountInCents"] == 0
    with pytest.raises(ValidationError):
        JobStatusUpdate(
            status="invoice_paid", partnerStatusChangedAt=datetime.now(UTC), invoiceAmountInCents=-5
        )


async def test_job_status_202_is_a_challenge(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.raw(202, b"<html>challenge</html>", "text/html")
    update = JobStatusUpdate(status="not_scheduled", partnerStatusChangedAt=datetime.now(UTC))
    with pytest.raises(ChallengeError):
        await client.v4.update_job_status("1", update, token=TOKEN)


# ---------------------------------------------------------------- messages


async def test_list_messages(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"data": [MESSAGE], "pagination": {"limit": 3}})
    page = await client.v4.list_messages(
        "519153480500518912",
        limit=3,
        sent_before=datetime(2024, 6, 14, tzinfo=UTC),
        sent_after=datetime(2024, 6, 13, tzinfo=UTC),
        token=TOKEN,
    )

    request = recorder.last
    assert request.method == "GET"
    assert request.url.path == "/api/v4/negotiations/519153480500518912/messages"
    assert query(request) == [
        ("limit", "3"),
        ("sentBefore", "2024-06-14T00:00:00Z"),
        ("sentAfter", "2024-06-13T00:00:00Z"),
    ]
    assert_bearer_json(request, has_body=False)
    message = page.data[0]
    assert message.sender == "Customer"
    assert message.sent_at == datetime(2024, 6, 13, 17, 18, 1, tzinfo=UTC)
    assert page.pagination is not None
    assert page.pagination.limit == 3


async def test_list_messages_without_params(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"data": []})
    await client.v4.list_messages("1", token=TOKEN)
    assert recorder.last.url.query == b""


@pytest.mark.parametrize("limit", [0, 21, -1])
async def test_list_messages_limit_is_validated(
    client: ThumbtackClient, recorder: Recorder, limit: int
) -> None:
    with pytest.raises(ValueError, match="between 1 and 20"):
        await client.v4.list_messages("1", limit=limit, token=TOKEN)
    assert recorder.requests == []


async def test_iter_messages_pages_back_with_sent_before(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    start = datetime(2024, 6, 13, 12, tzinfo=UTC)
    first = [
        {
            **MESSAGE,
            "messageID": str(100 + i),
            "sentAt": f"{(start + timedelta(minutes=i)).isoformat()}",
        }
        for i in range(20)
    ]
    recorder.json({"data": first})
    recorder.json({"data": [{**MESSAGE, "messageID": "1", "sentAt": "2024-06-13T11:00:00Z"}]})

    ids = [m.messageID async for m in client.v4.iter_messages("9", token=TOKEN)]

    assert len(ids) == 21
    assert query(recorder.requests[0]) == [("limit", "20")]
    assert query(recorder.requests[1]) == [("limit", "20"), ("sentBefore", "2024-06-13T12:00:00Z")]


async def test_send_message(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(MESSAGE, status=201)
    echoed = await client.v4.send_message("519153480500518912", "Hello world", token=TOKEN)

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == f"{API}/negotiations/519153480500518912/messages"
    assert_bearer_json(request, has_body=True)
    assert body(request) == {"text": "Hello world"}
    assert echoed is not None
    assert echoed.messageID == "519153481515696128"


async def test_send_message_with_empty_answer(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.raw(200)
    assert await client.v4.send_message("1", "Hello", token=TOKEN) is None


async def test_send_message_with_html_200_is_unexpected(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.raw(200, b"<html>sign in</html>", "text/html")
    with pytest.raises(UnexpectedResponseError):
        await client.v4.send_message("1", "Hello", token=TOKEN)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"<!doctype html><title>Just a moment...</title>", "text/html"), (b"", None)],
)
async def test_send_message_challenge(
    client: ThumbtackClient, recorder: Recorder, content: bytes, content_type: str | None
) -> None:
    recorder.raw(202, content, content_type)
    with pytest.raises(ChallengeError) as info:
        await client.v4.send_message("1", "Hello", token=TOKEN)
    assert info.value.retryable
    assert "challenge" in str(info.value)


# ---------------------------------------------------------------- businesses, users


async def test_list_businesses(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {
            "data": [
                {
                    "businessID": "1337",
                    "name": "Robert's Aerial Photography",
                    "imageURL": "https://production-next-images-cdn.thumbtack.com/i/1",
                }
            ],
            "pagination": {"limit": 20},
        }
    )
    page = await client.v4.list_businesses(token=TOKEN)
    request = recorder.last
    assert request.method == "GET"
    assert str(request.url) == f"{API}/businesses"
    assert_bearer_json(request, has_body=False)
    assert page.data[0].businessID == "1337"


async def test_get_current_user(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {"userID": "1337", "email": "hello@world.com", "firstName": "Hello", "lastName": "World"}
    )
    user = await client.v4.get_current_user(token=TOKEN)
    assert str(recorder.last.url) == f"{API}/users/self"
    assert recorder.last.method == "GET"
    assert user.userID == "1337"


# ---------------------------------------------------------------- webhooks

WEBHOOK = {
    "webhookID": "wh-1",
    "webhookURL": "https://bridge.example/v4/webhooks",
    "enabled": True,
    "authType": "Basic",
    "businessID": "468046965846925323",
    "eventTypes": ["MessageCreatedV4", "NegotiationCreatedV4"],
}


async def test_create_webhook_with_basic_auth(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(WEBHOOK, status=201)
    webhook = await client.v4.create_webhook(
        "468046965846925323",
        WebhookCreate(
            webhookURL="https://bridge.example/v4/webhooks",
            eventTypes=["MessageCreatedV4", "NegotiationCreatedV4"],
            enabled=False,
            auth=WebhookBasicAuth(username="hello", password="world-secret"),
        ),
        token=TOKEN,
    )

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == f"{API}/businesses/468046965846925323/webhooks"
    assert_bearer_json(request, has_body=True)
    assert body(request) == {
        "webhookURL": "https://bridge.example/v4/webhooks",
        "eventTypes": ["MessageCreatedV4", "NegotiationCreatedV4"],
        "enabled": False,
        "auth": {"username": "hello", "password": "world-secret"},
    }
    assert webhook.webhookID == "wh-1"
    assert webhook.authType == "Basic"


def test_webhook_auth_variants_and_secrecy() -> None:
    none = WebhookCreate(webhookURL="https://x.example/h", eventTypes=["NegotiationCreatedV4"])
    assert none.to_wire() == {
        "webhookURL": "https://x.example/h",
        "eventTypes": ["NegotiationCreatedV4"],
        "enabled": True,
    }
    header = WebhookCreate(
        webhookURL="https://x.example/h",
        eventTypes=["NegotiationCreatedV4"],
        auth=WebhookHeaderAuth(headerName="X-Tackbridge-Key", headerValue="hdr-secret"),
    )
    assert header.to_wire()["auth"] == {
        "headerName": "X-Tackbridge-Key",
        "headerValue": "hdr-secret",
    }
    assert "hdr-secret" not in repr(header)
    assert "hdr-secret" not in str(header.model_dump())
    assert "hdr-secret" not in header.model_dump_json()


def test_webhook_url_must_be_https_except_loopback() -> None:
    with pytest.raises(ValidationError, match="https"):
        WebhookCreate(webhookURL="http://bridge.example/h", eventTypes=["NegotiationCreatedV4"])
    local = WebhookCreate(webhookURL="http://127.0.0.1:8080/h", eventTypes=["NegotiationCreatedV4"])
    assert local.webhookURL.startswith("http://127.0.0.1")
    with pytest.raises(ValidationError):
        WebhookCreate(webhookURL="https://x.example/h", eventTypes=[])


async def test_webhook_list_get_update_delete(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"data": [WEBHOOK]})
    recorder.json(WEBHOOK)
    recorder.json({**WEBHOOK, "enabled": False})
    recorder.raw(204)

    listed = await client.v4.list_webhooks("468046965846925323", token=TOKEN)
    got = await client.v4.get_webhook("468046965846925323", "wh-1", token=TOKEN)
    updated = await client.v4.update_webhook(
        "468046965846925323", "wh-1", WebhookUpdate(enabled=False), token=TOKEN
    )
    await client.v4.delete_webhook("468046965846925323", "wh-1", token=TOKEN)

    base = f"{API}/businesses/468046965846925323/webhooks"
    assert [(r.method, str(r.url)) for r in recorder.requests] == [
        ("GET", base),
        ("GET", f"{base}/wh-1"),
        ("PUT", f"{base}/wh-1"),
        ("DELETE", f"{base}/wh-1"),
    ]
    assert body(recorder.requests[2]) == {"enabled": False}
    assert_bearer_json(recorder.requests[3], has_body=False)
    assert listed.data[0].webhookID == got.webhookID == "wh-1"
    assert updated is not None
    assert updated.enabled is False


async def test_test_negotiation(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"negotiationID": "42"})
    result = await client.v4.create_test_negotiation("468046965846925323", token=TOKEN)
    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == f"{API}/businesses/468046965846925323/webhooks/test-negotiation"
    assert_bearer_json(request, has_body=True)
    assert body(request) == {}
    assert result == {"negotiationID": "42"}


# ---------------------------------------------------------------- phone numbers


async def test_phone_numbers_crud(client: ThumbtackClient, recorder: Recorder) -> None:
    phone = {"associatePhoneNumberID": "p1", "phoneNumber": "+14155550123", "name": "John"}
    recorder.json(phone, status=201)
    recorder.json({"data": [phone]})
    recorder.json({**phone, "name": "Johnny"})
    recorder.raw(204)

    created = await client.v4.create_phone_number(
        "468046965846925323",
        AssociatePhoneNumberCreate(phoneNumber="+14155550123", name="John"),
        token=TOKEN,
    )
    listed = await client.v4.list_phone_numbers("468046965846925323", token=TOKEN)
    await client.v4.update_phone_number(
        "468046965846925323", "p1", AssociatePhoneNumberUpdate(name="Johnny"), token=TOKEN
    )
    await client.v4.delete_phone_number("468046965846925323", "p1", token=TOKEN)

    base = f"{API}/businesses/468046965846925323/associate-phone-numbers"
    assert [(r.method, str(r.url)) for r in recorder.requests] == [
        ("POST", base),
        ("GET", base),
        ("PUT", f"{base}/p1"),
        ("DELETE", f"{base}/p1"),
    ]
    assert body(recorder.requests[0]) == {"phoneNumber": "+14155550123", "name": "John"}
    assert body(recorder.requests[2]) == {"name": "Johnny"}
    assert created is not None
    assert created.id == "p1"
    assert listed.data[0].phoneNumber == "+14155550123"


@pytest.mark.parametrize(
    "number", ["+1234567890", "4155550123", "+442071838750", "+1 415 555 0123"]
)
def test_phone_numbers_must_be_us_e164(number: str) -> None:
    with pytest.raises(ValidationError, match=r"E\.164"):
        AssociatePhoneNumberCreate(phoneNumber=number)


# ---------------------------------------------------------------- demand side

REQUEST_ANSWER: dict[str, Any] = {
    "request": {
        "requestID": "548955282027569156",
        "customerID": "498954473003245570",
        "description": "Nothing",
        "category": {"categoryID": "201565295100608806", "name": "Kitchen Remodel"},
        "proposedTimes": [],
        "location": {"city": "San Francisco", "state": "CA", "zipCode": "94117"},
        "travelPreferences": ["Professional must travel to my address."],
        "details": [{"question": "Zip code", "answer": "94117"}],
        "attachments": [],
    },
    "contactErrors": [],
}


async def test_create_request(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(REQUEST_ANSWER)
    result = await client.v4.create_request(
        RequestCreate(
            searchID="548954743629463556",
            businessIDs=["468046965846925323"],
            categoryID="201565295100608806",
            utmData={"utm_source": "cma-admin"},
        ),
        token=TOKEN,
    )
    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == f"{API}/requests"
    assert_bearer_json(request, has_body=True)
    assert body(request) == {
        "searchID": "548954743629463556",
        "businessIDs": ["468046965846925323"],
        "categoryID": "201565295100608806",
        "utmData": {"utm_source": "cma-admin"},
    }
    assert result.request.requestID == "548955282027569156"
    assert not result.has_contact_errors


async def test_create_request_surfaces_contact_errors(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json(
        {
            **REQUEST_ANSWER,
            "contactErrors": [
                {"businessID": "468046965846925323", "message": "business is not accepting"},
                "unknown business 1",
            ],
        }
    )
    result = await client.v4.create_request(RequestCreate(businessIDs=["1"]), token=TOKEN)
    assert result.has_contact_errors
    assert result.contactErrors[0].businessID == "468046965846925323"
    assert result.contactErrors[1].message == "unknown business 1"


async def test_search_businesses(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {"searchID": "545691258236567552", "data": [{"businessID": "479288677004124167"}]}
    )
    result = await client.v4.search_businesses(
        BusinessSearch(
            searchQuery="handyman", zipCode="90210", utmData={"utm_source": "x"}, limit=1
        ),
        token=TOKEN,
    )
    assert str(recorder.last.url) == f"{API}/businesses/search"
    assert body(recorder.last) == {
        "searchQuery": "handyman",
        "zipCode": "90210",
        "utmData": {"utm_source": "x"},
        "limit": 1,
    }
    assert result.searchID == "545691258236567552"


# ---------------------------------------------------------------- errors


async def test_problem_json_is_parsed(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.answer(
        httpx2.Response(
            403,
            json={
                "type": "https://developers.thumbtack.com/errors/forbidden",
                "title": "Forbidden",
                "status": 403,
                "detail": "missing scope supply::messages.write",
                "traceID": "7f1c2d3e4b5a",
                "errors": [{"field": "scope", "message": "missing"}],
            },
            headers={"Content-Type": "application/problem+json"},
        )
    )
    with pytest.raises(ForbiddenError) as info:
        await client.v4.send_message("1", "Hi", token=TOKEN)
    error = info.value
    assert error.status == 403
    assert error.title == "Forbidden"
    assert error.detail == "missing scope supply::messages.write"
    assert error.type == "https://developers.thumbtack.com/errors/forbidden"
    assert error.trace_id == "7f1c2d3e4b5a"
    assert error.errors == [{"field": "scope", "message": "missing"}]
    assert "traceID 7f1c2d3e4b5a" in str(error)
    assert error.operation == "v4.send_message"
    assert error.path == "/api/v4/negotiations/1/messages"
    assert not error.retryable


async def test_401(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"title": "Unauthorized", "status": 401, "traceID": "t1"}, status=401)
    with pytest.raises(AuthError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert info.value.trace_id == "t1"
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)


async def test_429_with_retry_after_seconds(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {"title": "Too Many Requests", "status": 429}, status=429, **{"Retry-After": "30"}
    )
    with pytest.raises(RateLimitedError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert info.value.retry_after == 30
    assert info.value.retryable


async def test_429_with_retry_after_http_date(client: ThumbtackClient, recorder: Recorder) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    recorder.raw(429, b"", None, **{"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(RateLimitedError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert info.value.retry_after is not None
    assert 110 <= info.value.retry_after <= 120


async def test_451_and_502(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"title": "Unavailable For Legal Reasons", "status": 451}, status=451)
    recorder.json({"type": "proxy_oauth_failed", "title": "Bad Gateway", "status": 502}, status=502)
    with pytest.raises(UnavailableForLegalReasonsError):
        await client.v4.get_negotiation("1", token=TOKEN)
    with pytest.raises(ServerError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert info.value.type == "proxy_oauth_failed"


async def test_other_4xx_is_a_problem_error(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"title": "Conflict", "status": 409}, status=409)
    with pytest.raises(ProblemError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert info.value.status == 409
    assert not info.value.retryable


async def test_200_with_html_is_unexpected(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.raw(200, b"<html>login</html>", "text/html")
    with pytest.raises(UnexpectedResponseError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert not isinstance(info.value, ChallengeError)


async def test_redirect_is_unexpected(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.raw(302, b"", None, Location="https://www.thumbtack.com/login")
    with pytest.raises(UnexpectedResponseError):
        await client.v4.list_businesses(token=TOKEN)
    assert len(recorder.requests) == 1


async def test_202_with_json_but_not_the_expected_shape(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"challenge": "abc"}, status=202)
    with pytest.raises(ChallengeError):
        await client.v4.list_businesses(token=TOKEN)


# ---------------------------------------------------------------- tokens and environments


async def test_token_provider(recorder: Recorder) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return f"provided-{calls}"

    recorder.json({"data": []})
    recorder.json({"data": []})
    async with ThumbtackClient(
        Environment.production(),
        token_provider=provider,
        transport=httpx2.MockTransport(recorder.handler),
    ) as thumbtack:
        await thumbtack.v4.list_businesses()
        await thumbtack.v4.list_businesses(token="explicit")
    assert recorder.requests[0].headers["Authorization"] == "Bearer provided-1"
    assert recorder.requests[1].headers["Authorization"] == "Bearer explicit"


async def test_missing_token_is_a_config_error(client: ThumbtackClient, recorder: Recorder) -> None:
    with pytest.raises(ThumbtackConfigError):
        await client.v4.list_businesses()
    assert recorder.requests == []


async def test_sandbox_and_staging_hosts(recorder: Recorder) -> None:
    for _ in range(3):
        recorder.json({"data": []})
    transport = httpx2.MockTransport(recorder.handler)
    async with ThumbtackClient(
        Environment.sandbox("http://127.0.0.1:9999/"), transport=transport
    ) as sandbox:
        await sandbox.v4.list_businesses(token=TOKEN)
    async with ThumbtackClient(Environment.staging(), transport=transport) as staging:
        await staging.v4.list_businesses(token=TOKEN)
    async with ThumbtackClient(Environment.from_name("production"), transport=transport) as prod:
        await prod.v4.list_businesses(token=TOKEN)
    assert [str(r.url) for r in recorder.requests] == [
        "http://127.0.0.1:9999/api/v4/businesses",
        "https://staging-api.thumbtack.com/api/v4/businesses",
        "https://api.thumbtack.com/api/v4/businesses",
    ]


async def test_network_error(client: ThumbtackClient, recorder: Recorder) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    recorder.answer(refuse)
    from tackbridge.thumbtack import NetworkError

    with pytest.raises(NetworkError) as info:
        await client.v4.get_negotiation("1", token=TOKEN)
    assert not info.value.timeout
    assert info.value.retryable
    assert "connection refused" in str(info.value)
