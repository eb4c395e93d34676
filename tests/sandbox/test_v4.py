"""The v4 API: negotiations, job status, messages, businesses, webhooks, requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.job_statuses import JOB_STATUSES
from tests.support.sandbox import (
    Partner,
    Sandbox,
    basic,
    bearer,
    is_problem,
    v4_tokens,
)

DEMAND = "demand::negotiations.read demand::messages.write offline_access"


@pytest.fixture(scope="module")
def ids(sandbox: Sandbox) -> list[str]:
    return sandbox.business_ids()


@pytest.fixture(scope="module")
def auth(sandbox: Sandbox, ids: list[str]) -> dict[str, str]:
    return bearer(v4_tokens(sandbox, ids[0])["access_token"])


@pytest.fixture(params=["real", "docs"])
def shapes(request: pytest.FixtureRequest, sandbox: Sandbox) -> Iterator[str]:
    """The module's sandbox in each delivery shape, back to the default afterwards."""
    value: str = request.param
    assert sandbox.put("/_sandbox/config/delivery-shapes", json={"shapes": value}).is_success
    yield value
    sandbox.put("/_sandbox/config/delivery-shapes", json={"shapes": "real"})


def test_get_and_list_negotiations(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str], shapes: str
) -> None:
    lead = sandbox.new_lead(ids[0])
    got = sandbox.get(f"/api/v4/negotiations/{lead['leadID']}", headers=auth)
    assert got.status_code == 200
    body = got.json()
    assert body["negotiationID"] == lead["leadID"]
    assert body["business"]["businessID"] == ids[0]
    if shapes == "docs":
        assert {"customer", "request", "category", "createTime", "status"} <= set(body)
    else:
        assert {"customer", "request", "createdAt", "status"} <= set(body)
        assert "createTime" not in body
        assert "category" not in body
        assert isinstance(body["request"]["travelPreferences"], list)
        assert "category" in body["request"]
    listed = sandbox.get(f"/api/v4/businesses/{ids[0]}/negotiations", headers=auth).json()["data"]
    assert lead["leadID"] in [n["negotiationID"] for n in listed]


def test_negotiation_access_rules(sandbox: Sandbox, ids: list[str], auth: dict[str, str]) -> None:
    foreign = sandbox.new_lead(ids[1])
    is_problem(sandbox.get(f"/api/v4/negotiations/{foreign['leadID']}", headers=auth), 404)
    is_problem(sandbox.get("/api/v4/negotiations/123", headers=auth), 404)
    is_problem(sandbox.get(f"/api/v4/businesses/{ids[1]}/negotiations", headers=auth), 403)
    missing = sandbox.get(f"/api/v4/negotiations/{foreign['leadID']}")
    assert is_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    is_problem(sandbox.get("/api/v4/businesses", headers=bearer("made-up")), 401)
    narrow = bearer(v4_tokens(sandbox, ids[0], scope="supply::messages.read")["access_token"])
    own = sandbox.new_lead(ids[0])
    # Real Thumbtack answers a missing scope with 401 (api-notes.md, 2026-12-01), not 403.
    refused = is_problem(sandbox.get(f"/api/v4/negotiations/{own['leadID']}", headers=narrow), 401)
    assert refused["detail"] == "required scope(s) [supply::negotiations.read] not found"


def test_token_without_audience_is_refused_with_502(sandbox: Sandbox, ids: list[str]) -> None:
    token = v4_tokens(sandbox, ids[0], audience="")["access_token"]
    body = is_problem(sandbox.get("/api/v4/businesses", headers=bearer(token)), 502)
    assert "proxy_oauth_failed" in body["detail"]


def test_expired_access_token(fresh: Sandbox) -> None:
    token = bearer(v4_tokens(fresh, fresh.business_ids()[0])["access_token"])
    assert fresh.get("/api/v4/businesses", headers=token).status_code == 200
    fresh.advance(3601)
    is_problem(fresh.get("/api/v4/businesses", headers=token), 401)


@pytest.mark.parametrize("status", JOB_STATUSES)
def test_job_status_accepts_the_six_statuses(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str], status: str
) -> None:
    lead = sandbox.new_lead(ids[0])
    body: dict[str, Any] = {"status": status, "partnerStatusChangedAt": "2026-06-14T09:30:00Z"}
    if status in ("job_complete", "invoice_paid"):
        body["invoiceAmountInCents"] = 125000
    answer = sandbox.post(
        f"/api/v4/negotiations/{lead['leadID']}/job-status", json=body, headers=auth
    )
    assert answer.status_code == 200, answer.text
    received = [j for j in sandbox.inspect("job-statuses") if j["negotiationID"] == lead["leadID"]]
    assert received[0]["status"] == status
    assert received[0]["invoiceAmountInCents"] == body.get("invoiceAmountInCents")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"partnerStatusChangedAt": "2026-06-14T09:30:00Z"}, "status"),
        ({"status": "done", "partnerStatusChangedAt": "2026-06-14T09:30:00Z"}, "status"),
        ({"status": "job_complete"}, "partnerStatusChangedAt"),
        (
            {"status": "job_complete", "partnerStatusChangedAt": "yesterday"},
            "partnerStatusChangedAt",
        ),
        (
            {"status": "job_complete", "partnerStatusChangedAt": "2026-06-14T09:30:00"},
            "partnerStatusChangedAt",
        ),
        (
            {
                "status": "appt_scheduled",
                "partnerStatusChangedAt": "2026-06-14T09:30:00Z",
                "invoiceAmountInCents": 5,
            },
            "invoiceAmountInCents",
        ),
        (
            {
                "status": "invoice_paid",
                "partnerStatusChangedAt": "2026-06-14T09:30:00Z",
                "invoiceAmountInCents": -1,
            },
            "invoiceAmountInCents",
        ),
        (
            {
                "status": "invoice_paid",
                "partnerStatusChangedAt": "2026-06-14T09:30:00Z",
                "invoiceAmountInCents": "12",
            },
            "invoiceAmountInCents",
        ),
    ],
)
def test_job_status_validation(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    lead = sandbox.new_lead(ids[0])
    answer = sandbox.post(
        f"/api/v4/negotiations/{lead['leadID']}/job-status", json=body, headers=auth
    )
    assert is_problem(answer, 400)["errors"][0]["field"] == field


def test_job_status_needs_write_scope(sandbox: Sandbox, ids: list[str]) -> None:
    read_only = bearer(
        v4_tokens(sandbox, ids[0], scope="supply::negotiations.read")["access_token"]
    )
    lead = sandbox.new_lead(ids[0])
    body = {"status": "appt_scheduled", "partnerStatusChangedAt": "2026-06-14T09:30:00Z"}
    is_problem(
        sandbox.post(
            f"/api/v4/negotiations/{lead['leadID']}/job-status", json=body, headers=read_only
        ),
        401,
    )


def test_messages_post_and_get_with_paging(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str]
) -> None:
    lead = sandbox.new_lead(ids[0])
    path = f"/api/v4/negotiations/{lead['leadID']}/messages"
    for n in range(3):
        answer = sandbox.post(path, json={"text": f"reply {n}"}, headers=auth)
        assert answer.status_code == 200
        assert answer.json()["from"] == "Business"
    sandbox.post(f"/_sandbox/leads/{lead['leadID']}/messages", json={"text": "thanks!"})
    got = sandbox.get(path, headers=auth).json()["data"]
    assert next(m["text"] for m in got) == "thanks!"
    assert len(got) == 4
    assert len(sandbox.get(path, params={"limit": 2}, headers=auth).json()["data"]) == 2
    cutoff = got[0]["sentAt"]
    older = sandbox.get(path, params={"sentBefore": cutoff}, headers=auth).json()["data"]
    assert all(m["sentAt"] < cutoff for m in older)
    newer = sandbox.get(path, params={"sentAfter": "2000-01-01T00:00:00Z"}, headers=auth).json()[
        "data"
    ]
    assert len(newer) == 4
    pro_sent = sandbox.inspect(f"messages?leadID={lead['leadID']}&from=Business")
    assert [m["via"] for m in pro_sent] == ["v4", "v4", "v4"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "21"},
        {"limit": "ten"},
        {"sentBefore": "now"},
        {"sentAfter": "2026-13-01T00:00:00Z"},
    ],
)
def test_messages_query_validation(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str], params: dict[str, str]
) -> None:
    lead = sandbox.new_lead(ids[0])
    answer = sandbox.get(
        f"/api/v4/negotiations/{lead['leadID']}/messages", params=params, headers=auth
    )
    is_problem(answer, 400)


def test_message_post_validation(sandbox: Sandbox, ids: list[str], auth: dict[str, str]) -> None:
    lead = sandbox.new_lead(ids[0])
    path = f"/api/v4/negotiations/{lead['leadID']}/messages"
    is_problem(sandbox.post(path, json={"text": "  "}, headers=auth), 400)
    is_problem(sandbox.post(path, json={}, headers=auth), 400)
    is_problem(sandbox.post(path, json=["text"], headers=auth), 400)
    is_problem(sandbox.post(path, json={"text": "x" * 10_001}, headers=auth), 400)


def test_businesses(sandbox: Sandbox, ids: list[str], auth: dict[str, str]) -> None:
    data = sandbox.get("/api/v4/businesses", headers=auth).json()["data"]
    assert [b["businessID"] for b in data] == [ids[0]]
    assert data[0]["name"] == "Robert's Remodeling"


def _hook(url: str, **extra: Any) -> dict[str, Any]:
    return {"webhookURL": url, "eventTypes": ["NegotiationCreatedV4", "MessageCreatedV4"], **extra}


def test_webhook_crud(sandbox: Sandbox, ids: list[str], auth: dict[str, str]) -> None:
    base = f"/api/v4/businesses/{ids[0]}/webhooks"
    created = sandbox.post(
        base,
        json=_hook(
            "https://partner.example/v4/webhooks",
            auth={"type": "basic", "username": "u", "password": "secret"},
        ),
        headers=auth,
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["auth"] == {"type": "basic", "username": "u"}
    assert "secret" not in created.text
    webhook_id = hook["webhookID"]
    assert webhook_id in [h["webhookID"] for h in sandbox.get(base, headers=auth).json()["data"]]
    assert (
        sandbox.get(f"{base}/{webhook_id}", headers=auth)
        .json()["webhookURL"]
        .endswith("/v4/webhooks")
    )
    updated = sandbox.put(
        f"{base}/{webhook_id}",
        json={
            "webhookURL": "https://partner.example/other",
            "eventTypes": ["ReviewCreatedV4"],
            "auth": {"type": "header", "headerName": "X-Token", "headerValue": "t"},
        },
        headers=auth,
    )
    assert updated.json()["eventTypes"] == ["ReviewCreatedV4"]
    assert updated.json()["auth"] == {"type": "header", "headerName": "X-Token"}
    assert sandbox.delete(f"{base}/{webhook_id}", headers=auth).status_code == 204
    is_problem(sandbox.get(f"{base}/{webhook_id}", headers=auth), 404)
    is_problem(sandbox.delete(f"{base}/{webhook_id}", headers=auth), 404)
    registered = [h for h in sandbox.inspect("webhooks") if h["webhookID"] == webhook_id]
    assert registered[0]["deletedAt"] is not None


@pytest.mark.parametrize(
    "body",
    [
        {"eventTypes": ["NegotiationCreatedV4"]},
        _hook("http://partner.example/hook"),
        _hook("not a url"),
        {"webhookURL": "https://p.example/", "eventTypes": []},
        {"webhookURL": "https://p.example/", "eventTypes": ["LeadHappened"]},
        _hook("https://p.example/", auth={"type": "basic", "username": "u"}),
        _hook("https://p.example/", auth={"type": "magic"}),
        _hook("https://p.example/", auth="basic"),
        _hook("https://p.example/", enabled="yes"),
    ],
)
def test_webhook_validation(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str], body: dict[str, Any]
) -> None:
    is_problem(sandbox.post(f"/api/v4/businesses/{ids[0]}/webhooks", json=body, headers=auth), 400)


def test_webhooks_of_another_business_are_forbidden(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str]
) -> None:
    is_problem(sandbox.get(f"/api/v4/businesses/{ids[1]}/webhooks", headers=auth), 403)


def test_test_negotiation_reaches_a_registered_webhook(
    sandbox: Sandbox, ids: list[str], auth: dict[str, str], partner: Partner
) -> None:
    hook = sandbox.post(
        f"/api/v4/businesses/{ids[0]}/webhooks",
        json=_hook(
            partner.url + "/v4/webhooks", auth={"basic": {"username": "tt", "password": "pw"}}
        ),
        headers=auth,
    ).json()
    created = sandbox.post(f"/api/v4/businesses/{ids[0]}/webhooks/test-negotiation", headers=auth)
    assert created.status_code == 200
    lead = created.json()
    assert lead["business"]["name"] == "Test Business for Webhooks"
    (delivery,) = partner.wait(1)
    assert delivery.path == "/v4/webhooks"
    assert delivery.headers["authorization"] == basic("tt", "pw")["Authorization"]
    assert delivery.body["event"]["eventType"] == "NegotiationCreatedV4"
    assert delivery.body["event"]["webhookID"] == hook["webhookID"]
    assert delivery.body["event"]["triggeredAt"].endswith("Z")
    assert delivery.body["data"]["negotiationID"] == lead["negotiationID"]
    assert delivery.body["data"]["customer"]["phone"] == "1234567890"
    sandbox.delete(f"/api/v4/businesses/{ids[0]}/webhooks/{hook['webhookID']}", headers=auth)


def test_requests_create_leads_for_chosen_businesses(sandbox: Sandbox, ids: list[str]) -> None:
    demand = bearer(v4_tokens(sandbox, ids[2], scope=DEMAND)["access_token"])
    body = {
        "searchID": "548954743629463556",
        "businessIDs": [ids[0], ids[1], "999"],
        "categoryID": "201565295100608806",
        "utmData": {"utm_source": "cma-admin"},
    }
    answer = sandbox.post("/api/v4/requests", json=body, headers=demand)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["request"]["category"] == {
        "categoryID": "201565295100608806",
        "name": "Kitchen Remodel",
    }
    assert result["contactErrors"] == [{"businessID": "999", "error": "business not found"}]
    # The document's answer, nothing more: the request and the contact errors.
    assert set(result) == {"request", "contactErrors"}
    assert set(result["request"]) == {
        "requestID", "customerID", "description", "category", "proposedTimes", "location",
        "travelPreferences", "details", "attachments",
    }  # fmt: skip
    assert all(isinstance(p, str) for p in result["request"]["travelPreferences"])
    assert set(result["request"]["location"]) == {
        "address1", "address2", "city", "state", "zipCode",
    }  # fmt: skip
    assert all(set(d) == {"question", "answer"} for d in result["request"]["details"])
    of_request = {
        lead["businessID"]
        for lead in sandbox.inspect("leads")
        if lead["lead"]["request"]["requestID"] == result["request"]["requestID"]
    }
    assert of_request == {ids[0], ids[1]}


def test_requests_validation(sandbox: Sandbox, ids: list[str], auth: dict[str, str]) -> None:
    demand = bearer(v4_tokens(sandbox, ids[2], scope=DEMAND)["access_token"])
    is_problem(
        sandbox.post(
            "/api/v4/requests",
            json={"businessIDs": [ids[0]], "categoryID": "201565295100608806"},
            headers=auth,
        ),
        403,
    )
    for body in (
        {"categoryID": "201565295100608806"},
        {"businessIDs": [], "categoryID": "201565295100608806"},
        {"businessIDs": [ids[0]]},
        {"businessIDs": [ids[0]], "categoryID": "1"},
        {"businessIDs": [ids[0]], "categoryID": "201565295100608806", "zipCode": "abc"},
        {"businessIDs": [ids[0]], "categoryID": "201565295100608806", "zipCode": "941170"},
        {"businessIDs": [ids[0]], "categoryID": "201565295100608806", "zipCode": "٩٤١١٧"},
    ):
        is_problem(sandbox.post("/api/v4/requests", json=body, headers=demand), 400)


ENDPOINT_SCOPES = [
    ("GET", "/api/v4/negotiations/{lead}", None, "supply::negotiations.read"),
    ("GET", "/api/v4/businesses/{business}/negotiations", None, "supply::negotiations.read"),
    (
        "POST",
        "/api/v4/negotiations/{lead}/job-status",
        {"status": "appt_scheduled", "partnerStatusChangedAt": "2026-06-14T09:30:00Z"},
        "supply::negotiations.write",
    ),
    ("GET", "/api/v4/negotiations/{lead}/messages", None, "supply::messages.read"),
    ("POST", "/api/v4/negotiations/{lead}/messages", {"text": "Hello"}, "supply::messages.write"),
    ("GET", "/api/v4/businesses", None, "supply::businesses.list"),
    (
        "POST",
        "/api/v4/businesses/{business}/webhooks",
        {"webhookURL": "http://127.0.0.1:9/hook", "eventTypes": ["NegotiationCreatedV4"]},
        "supply::webhooks.write",
    ),
]
SUPPLY_SCOPES = sorted({scope for *_, scope in ENDPOINT_SCOPES})


@pytest.mark.parametrize(("method", "path", "body", "needed"), ENDPOINT_SCOPES)
def test_each_endpoint_enforces_its_scope(
    sandbox: Sandbox,
    ids: list[str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    needed: str,
) -> None:
    lead = sandbox.new_lead(ids[0])
    url = path.format(lead=lead["leadID"], business=ids[0])
    others = " ".join(s for s in SUPPLY_SCOPES if s != needed)
    without = bearer(v4_tokens(sandbox, ids[0], scope=others)["access_token"])
    refused = sandbox.http.request(method, sandbox.url + url, json=body, headers=without)
    problem = is_problem(refused, 401)  # real Thumbtack's status and detail (api-notes.md)
    assert needed in problem["detail"]
    assert problem["detail"] == f"required scope(s) [{needed}] not found"
    assert problem["traceID"]
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    only = bearer(v4_tokens(sandbox, ids[0], scope=needed)["access_token"])
    allowed = sandbox.http.request(method, sandbox.url + url, json=body, headers=only)
    assert allowed.status_code in (200, 201), allowed.text
