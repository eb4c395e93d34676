"""The partner endpoints' semantics over real HTTP: dedupe, ordering, refusals."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tackbridge.store.schema import businesses, customers, inbound_log, leads, messages, reviews
from tests.fixtures import doc_payload
from tests.support.store import count, outbox_keys
from tests.support.tackbridge import WITH_FOLLOWUPS, RunningServer, in_process, make_settings

LEAD_ID = "299614694480093245"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A tackbridge whose new leads have follow-ups (rules and a destination), so that the jobs
    a lead queues are there to count."""
    with in_process(make_settings(tmp_path, **WITH_FOLLOWUPS)) as srv:
        yield srv


def v4(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": {
            "eventType": event_type,
            "webhookID": "wh1",
            "triggeredAt": "2026-09-15T17:18:01Z",
        },
        "data": data,
    }


def test_duplicate_lead_creates_one_record_and_one_job(server: RunningServer) -> None:
    payload = doc_payload("v2_lead")
    first = server.partner.post("/v1/lead", json=payload)
    second = server.partner.post("/v1/lead", json=payload)
    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert (second.status_code, second.json()["status"]) == (200, "duplicate")
    assert count(server.settings, leads) == 1
    assert count(server.settings, businesses) == 1
    assert count(server.settings, customers) == 1
    assert outbox_keys(server.settings) == [f"autoreply.plan:{LEAD_ID}", f"crm.lead:{LEAD_ID}"]
    assert len(server.lead(LEAD_ID)["request"]["details"]) == 2
    assert count(server.settings, inbound_log) == 2  # both deliveries kept verbatim


def test_same_lead_on_legacy_and_v4_routes_is_one_lead(server: RunningServer) -> None:
    legacy = doc_payload("v2_lead")
    server.partner.post("/v1/lead", json=legacy)
    data = {
        "negotiationID": LEAD_ID,
        "business": legacy["business"],
        "customer": legacy["customer"],
    }
    response = server.partner.post("/v4/webhooks", json=v4("NegotiationCreatedV4", data))
    assert response.json()["status"] == "duplicate"
    assert count(server.settings, leads) == 1
    assert outbox_keys(server.settings) == [f"autoreply.plan:{LEAD_ID}", f"crm.lead:{LEAD_ID}"]


def test_duplicate_message_across_routes(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    legacy = doc_payload("v2_message")
    assert server.partner.post("/v1/message", json=legacy).json()["status"] == "accepted"
    again = v4("MessageCreatedV4", {"messageID": "8699842694484326245", "negotiationID": LEAD_ID})
    assert server.partner.post("/v4/webhooks", json=again).json()["status"] == "duplicate"
    assert count(server.settings, messages) == 1
    assert len(server.lead(LEAD_ID)["messages"]) == 1


def test_message_before_its_lead_answers_202_and_links_up(server: RunningServer) -> None:
    response = server.partner.post("/v1/message", json=doc_payload("v2_message"))
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert server.operator.get(f"/api/leads/{LEAD_ID}").status_code == 404
    assert server.partner.post("/v1/lead", json=doc_payload("v2_lead")).status_code == 200
    [message] = server.lead(LEAD_ID)["messages"]
    assert message["messageID"] == "8699842694484326245"
    assert message["attachments"][0]["fileName"] == "fridge.jpg"


def test_v4_message_before_lead_is_pending(server: RunningServer) -> None:
    payload = doc_payload("v4_message_created")
    assert server.partner.post("/v4/webhooks", json=payload).status_code == 202
    server.partner.post("/v4/webhooks", json=doc_payload("v4_request_lead_created"))
    assert [m["from"] for m in server.lead("548955282027569999")["messages"]] == ["Business"]


def test_thread_is_ordered_by_send_time(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    for message_id, sent in [("m3", "1498760400"), ("m1", "1498760300"), ("m2", "1498760350")]:
        body = {"leadID": LEAD_ID, "message": {"messageID": message_id, "createTimestamp": sent}}
        server.partner.post("/v1/message", json=body)
    assert [m["messageID"] for m in server.lead(LEAD_ID)["messages"]] == ["m1", "m2", "m3"]


def test_message_with_id_at_top_level(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    body = {
        "leadID": LEAD_ID,
        "messageID": "top-1",
        "text": "hello",
        "createTimestamp": "1498760294",
    }
    assert server.partner.post("/v1/message", json=body).status_code == 200
    assert server.lead(LEAD_ID)["messages"][0]["text"] == "hello"


def test_lead_update_before_lead_is_applied_when_it_arrives(server: RunningServer) -> None:
    update = {"leadID": LEAD_ID, "leadPrice": "$26.00", "chargeState": "Charged"}
    response = server.partner.put("/v1/lead/update", json=update)
    assert response.status_code == 202
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    lead = server.lead(LEAD_ID)
    assert (lead["leadPriceCents"], lead["chargeState"]) == (2600, "Charged")
    assert all(h["applied"] for h in lead["statusHistory"])
    assert outbox_keys(server.settings) == [f"autoreply.plan:{LEAD_ID}", f"crm.lead:{LEAD_ID}"]


def test_lead_update_applies_once(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    update = {"leadID": LEAD_ID, "leadPrice": "$26.00", "chargeState": "Charged"}
    assert server.partner.put("/v1/lead/update", json=update).json()["status"] == "accepted"
    assert server.partner.put("/v1/lead/update", json=update).json()["status"] == "duplicate"
    history = server.lead(LEAD_ID)["statusHistory"]
    assert [h["source"] for h in history] == ["received", "update"]
    updates = [k for k in outbox_keys(server.settings) if k.startswith("lead.updated")]
    assert len(updates) == 1
    # A later, different change is a new update, and so is a change back.
    refund = {"leadID": LEAD_ID, "leadPrice": "$26.00", "chargeState": "Refunded"}
    assert server.partner.put("/v1/lead/update", json=refund).json()["status"] == "accepted"
    assert server.partner.put("/v1/lead/update", json=update).json()["status"] == "accepted"
    assert server.lead(LEAD_ID)["chargeState"] == "Charged"


def test_review_duplicate(server: RunningServer) -> None:
    payload = doc_payload("v2_review")
    assert server.partner.post("/v1/review", json=payload).json()["status"] == "accepted"
    assert server.partner.post("/v1/review", json=payload).json()["status"] == "duplicate"
    assert count(server.settings, reviews) == 1


def test_webhook_test_lead_is_stored_and_flagged(server: RunningServer) -> None:
    payload = doc_payload("v2_lead") | {
        "leadID": "test-1",
        "business": {"businessID": "1", "name": "Test Business for Webhooks"},
        "customer": {"customerID": "2", "name": "Test Customer", "phone": "1234567890"},
    }
    assert server.partner.post("/v1/lead", json=payload).status_code == 200
    assert server.lead("test-1")["isTest"] is True
    summary = server.operator.get("/api/leads").json()["items"][0]
    assert summary["isTest"] is True


def test_unknown_v4_event_is_stored_acknowledged_and_visible(server: RunningServer) -> None:
    payload = v4("PresetJobMatchedV4", {"presetJobID": "p1"})
    response = server.partner.post("/v4/webhooks", json=payload)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    listed = server.operator.get("/api/inbound", params={"eventType": "PresetJobMatchedV4"}).json()
    [entry] = listed["items"]
    assert entry["outcome"] == "ignored"
    detail = server.operator.get(f"/api/inbound/{entry['id']}").json()
    assert '"presetJobID"' in detail["body"]


def test_event_type_with_another_version_suffix(server: RunningServer) -> None:
    payload = v4("NegotiationCreatedV5", {"negotiationID": 77, "customer": {"name": "A B"}})
    assert server.partner.post("/v4/webhooks", json=payload).json()["status"] == "accepted"
    assert server.lead("77")["customer"]["name"] == "A B"


# --- refusals -------------------------------------------------------------------------------


def assert_problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def kept(server: RunningServer, problem: dict[str, Any]) -> dict[str, Any]:
    entry = server.operator.get(f"/api/inbound/{problem['inboundID']}")
    assert entry.status_code == 200
    body: dict[str, Any] = entry.json()
    assert body["outcome"] == "rejected"
    return body


def test_malformed_json_is_400_and_kept(server: RunningServer) -> None:
    raw = b'{"leadID": "1",'
    response = server.partner.post(
        "/v1/lead", content=raw, headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 400)
    assert "JSON" in problem["detail"]
    assert kept(server, problem)["body"] == raw.decode()


@pytest.mark.parametrize(
    ("route", "method", "payload", "field"),
    [
        ("/v1/lead", "POST", {"request": {}}, "leadID"),
        ("/v1/lead", "POST", {"leadID": ""}, "leadID"),
        ("/v1/lead", "POST", {"leadID": {"nested": 1}}, "leadID"),
        ("/v1/message", "POST", {"leadID": "1", "message": {"text": "hi"}}, "message.messageID"),
        ("/v1/lead/update", "PUT", {"leadPrice": "$1"}, "leadID"),
        ("/v1/review", "POST", {"review": {"rating": "5"}}, "review.reviewID"),
        ("/v1/review", "POST", {"reviewEventType": "REVIEW_ADDED"}, "review"),
        ("/v4/webhooks", "POST", {"data": {}}, "event"),
        ("/v4/webhooks", "POST", {"event": {"eventType": ""}}, "event.eventType"),
        ("/v4/webhooks", "POST", v4("NegotiationCreatedV4", {}), "data.negotiationID"),
        ("/v4/webhooks", "POST", v4("MessageCreatedV4", {"text": "x"}), "data.messageID"),
        ("/v4/webhooks", "POST", v4("ReviewCreatedV4", {"rating": 5}), "data.reviewID"),
        ("/v1/lead", "POST", ["not", "an", "object"], "body"),
    ],
)
def test_missing_identifier_is_422_naming_the_field(
    server: RunningServer, route: str, method: str, payload: Any, field: str
) -> None:
    response = server.partner.request(method, route, json=payload)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == field
    assert field in problem["detail"]
    kept(server, problem)
    assert count(server.settings, leads) == 0


def test_wrong_content_type_is_415_and_kept(server: RunningServer) -> None:
    response = server.partner.post(
        "/v1/lead",
        content=b"leadID=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    problem = assert_problem(response, 415)
    assert kept(server, problem)["body"] == "leadID=1"


def test_json_content_type_variants_are_accepted(server: RunningServer) -> None:
    for index, content_type in enumerate(
        ["application/json; charset=utf-8", "application/vnd.thumbtack+json", None]
    ):
        headers = {"content-type": content_type} if content_type else {}
        body = b'{"leadID": "ct-%d"}' % index
        response = server.partner.post("/v1/lead", content=body, headers=headers)
        assert response.status_code == 200, (content_type, response.text)


def test_oversized_body_is_413_and_kept_truncated(server: RunningServer) -> None:
    big = b'{"leadID": "1", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    problem = assert_problem(
        server.partner.post("/v1/lead", content=big, headers={"content-type": "application/json"}),
        413,
    )
    entry = kept(server, problem)
    assert entry["bodyTruncated"] is True
    assert entry["bodySize"] >= len(big) - 1024  # declared or read size
    assert count(server.settings, leads) == 0


def test_oversized_chunked_body_is_413(live_server: RunningServer) -> None:
    # Over a real socket: the body arrives in chunks, without a declared length.
    def chunks() -> Any:
        yield b'{"leadID": "1", "pad": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = live_server.partner.post(
        "/v1/lead", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"thumbtack:wrong").decode(),
        "Basic " + base64.b64encode(b"someone:test-webhook-password").decode(),
    ],
)
def test_bad_credentials_are_401_with_challenge(
    server: RunningServer, authorization: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    with server.client() as anonymous:
        response = anonymous.post("/v1/lead", json=doc_payload("v2_lead"), headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert count(server.settings, leads) == 0
    refused = server.operator.get("/api/inbound", params={"outcome": "unauthorized"}).json()
    assert len(refused["items"]) == 1
    assert any("refused POST /v1/lead" in r.getMessage() for r in caplog.records)
    assert all("test-webhook-password" not in r.getMessage() for r in caplog.records)


def test_secrets_are_not_kept_in_the_inbound_log(server: RunningServer) -> None:
    response = server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    entry = server.operator.get(f"/api/inbound/{response.json()['inboundID']}").json()
    assert entry["headers"]["authorization"] == "[redacted]"
    assert "test-webhook-password" not in str(entry)


def test_headers_are_redacted_by_rule_and_by_configured_name(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, redact_names="X-Tenant-Pin")
    with in_process(settings) as srv:
        response = srv.partner.post(
            "/v1/lead",
            json=doc_payload("v2_lead"),
            headers={
                "X-Auth-Token": "tok-s3cr3t",
                "X-Api-Key": "key-s3cr3t",
                "Cookie": "session=cookie-s3cr3t",
                "X-Tenant-Pin": "pin-s3cr3t",
                "Referer": "https://user:pw-s3cr3t@partner.example/?token=ref-s3cr3t",
                "X-Request-ID": "req-1",
            },
        )
        entry = srv.operator.get(f"/api/inbound/{response.json()['inboundID']}").json()
    headers = entry["headers"]
    for name in ("authorization", "x-auth-token", "x-api-key", "cookie", "x-tenant-pin"):
        assert headers[name] == "[redacted]", name
    assert headers["referer"] == "https://[redacted]@partner.example/?token=[redacted]"
    assert headers["x-request-id"] == "req-1"
    assert "s3cr3t" not in str(entry)
