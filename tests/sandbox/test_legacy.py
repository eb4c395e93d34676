"""The legacy Pro API (v1/v2/v3), driven over HTTP as a partner would."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

import httpx2
import pytest

from tests.support.sandbox import (
    API_USER,
    CLIENT,
    REDIRECT,
    Partner,
    Sandbox,
    basic,
    bearer,
    is_problem,
    legacy_code,
    legacy_tokens,
    query_of,
)

CONNECT = {
    "client_id": CLIENT[0],
    "redirect_uri": REDIRECT,
    "response_type": "code",
    "scope": "messages",
}


def test_partner_connect_page_lists_businesses_and_confirms(sandbox: Sandbox) -> None:
    page = sandbox.get("/services/partner-connect/", params=CONNECT)
    assert page.status_code == 200
    assert "Confirm Connection" in page.text
    for business_id in sandbox.business_ids():
        assert business_id in page.text
    business_id = sandbox.business_ids()[0]
    answer = sandbox.post(
        "/services/partner-connect/", data={**CONNECT, "state": "xyz", "business_id": business_id}
    )
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert answer.headers["location"].startswith(REDIRECT + "?")
    assert query["scope"] == "messages"
    assert query["state"] == "xyz"
    assert query["code"]


def test_partner_connect_without_redirect_shows_the_code(sandbox: Sandbox) -> None:
    params = {k: v for k, v in CONNECT.items() if k != "redirect_uri"}
    answer = sandbox.post(
        "/services/partner-connect/", data={**params, "business_id": sandbox.business_ids()[0]}
    )
    assert answer.status_code == 200
    assert 'id="code"' in answer.text


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"client_id": "someone-else"}, "client_id"),
        ({"client_id": ""}, "client_id"),
        ({"response_type": "token"}, "response_type"),
        ({"scope": ""}, "scope"),
        ({"scope": "messages everything"}, "scope"),
        ({"redirect_uri": "ftp://x"}, "redirect_uri"),
    ],
)
def test_partner_connect_rejects_bad_parameters(
    sandbox: Sandbox, change: dict[str, str], detail: str
) -> None:
    body = is_problem(sandbox.get("/services/partner-connect/", params={**CONNECT, **change}), 400)
    assert detail in body["detail"]


def test_partner_connect_rejects_unknown_business(sandbox: Sandbox) -> None:
    answer = sandbox.post("/services/partner-connect/", data={**CONNECT, "business_id": "1"})
    is_problem(answer, 400)


def test_token_exchange_and_thumbtack_info(sandbox: Sandbox) -> None:
    business_id = sandbox.business_ids()[1]
    tokens = legacy_tokens(sandbox, business_id, "messages targeting")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["access_token"].startswith("1.")
    assert tokens["refresh_token"]
    info = sandbox.get("/v2/get-thumbtack-info", headers=bearer(tokens["access_token"]))
    assert info.status_code == 200
    body = info.json()
    assert body["business_pk"] == business_id
    assert body["client_id"] == CLIENT[0]
    assert body["scope"] == ["messages", "targeting"]
    assert body["business_name"] == "Tim's Painting Business"


def test_token_exchange_accepts_a_form_body(sandbox: Sandbox) -> None:
    code = legacy_code(sandbox, sandbox.business_ids()[0])
    answer = sandbox.post(
        "/v2/tokens/access",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "token_type": "AUTH_CODE",
        },
        auth=CLIENT,
    )
    assert answer.status_code == 200


def test_token_endpoint_errors(sandbox: Sandbox) -> None:
    code = legacy_code(sandbox, sandbox.business_ids()[0])
    params = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "token_type": "AUTH_CODE",
    }
    missing_auth = sandbox.post("/v2/tokens/access", params=params)
    assert is_problem(missing_auth, 401)
    assert "WWW-Authenticate" in missing_auth.headers
    is_problem(sandbox.post("/v2/tokens/access", params=params, auth=("x", "y")), 401)
    wrong_type = sandbox.post(
        "/v2/tokens/access", params={**params, "token_type": "REFRESH"}, auth=CLIENT
    )
    assert is_problem(wrong_type, 400)["error"] == "invalid_request"
    wrong_redirect = sandbox.post(
        "/v2/tokens/access", params={**params, "redirect_uri": "http://other/"}, auth=CLIENT
    )
    assert is_problem(wrong_redirect, 400)["error"] == "invalid_grant"
    unknown_grant = sandbox.post(
        "/v2/tokens/access", params={**params, "grant_type": "password"}, auth=CLIENT
    )
    assert is_problem(unknown_grant, 400)["error"] == "unsupported_grant_type"
    assert sandbox.post("/v2/tokens/access", params=params, auth=CLIENT).status_code == 200
    reused = sandbox.post("/v2/tokens/access", params=params, auth=CLIENT)
    assert is_problem(reused, 400)["error"] == "invalid_grant"


def test_code_expires_after_five_minutes(fresh: Sandbox) -> None:
    sandbox = fresh
    code = legacy_code(sandbox, sandbox.business_ids()[0])
    sandbox.advance(301)
    answer = sandbox.post(
        "/v2/tokens/access",
        params={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "token_type": "AUTH_CODE",
        },
        auth=CLIENT,
    )
    assert "expired" in is_problem(answer, 400)["detail"]


def _refresh(sb: Sandbox, refresh_token: str) -> httpx2.Response:
    return sb.post(
        "/v2/tokens/access",
        params={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "token_type": "REFRESH",
        },
        auth=CLIENT,
    )


def test_refresh_rotates_with_a_ten_second_grace(fresh: Sandbox) -> None:
    sandbox = fresh
    tokens = legacy_tokens(sandbox, sandbox.business_ids()[0])
    first = _refresh(sandbox, tokens["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    again = _refresh(sandbox, tokens["refresh_token"])
    assert again.json() == rotated
    sandbox.advance(11)
    late = _refresh(sandbox, tokens["refresh_token"])
    assert is_problem(late, 400)["error"] == "invalid_grant"
    # Reuse after the grace revokes the whole chain, the rotated tokens included.
    assert _refresh(sandbox, rotated["refresh_token"]).status_code == 400
    info = sandbox.get("/v2/get-thumbtack-info", headers=bearer(rotated["access_token"]))
    is_problem(info, 401)


def test_access_token_expires_after_an_hour(fresh: Sandbox) -> None:
    sandbox = fresh
    tokens = legacy_tokens(sandbox, sandbox.business_ids()[0])
    sandbox.advance(3601)
    is_problem(sandbox.get("/v2/get-thumbtack-info", headers=bearer(tokens["access_token"])), 401)
    assert _refresh(sandbox, tokens["refresh_token"]).status_code == 200


def test_refresh_token_lives_720_hours(fresh: Sandbox) -> None:
    sandbox = fresh
    tokens = legacy_tokens(sandbox, sandbox.business_ids()[0])
    sandbox.advance(720 * 3600 - 60)
    renewed = _refresh(sandbox, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    # Rotation gives the new refresh token 720 hours of its own.
    issued = {
        t["fingerprint"]: t for t in sandbox.inspect("tokens")["tokens"] if t["api"] == "legacy"
    }
    lifetimes = {
        t["kind"]: (
            datetime.fromisoformat(t["expiresAt"]) - datetime.fromisoformat(t["issuedAt"])
        ).total_seconds()
        for t in issued.values()
    }
    assert lifetimes == {"access": 3600, "refresh": 720 * 3600}
    sandbox.advance(720 * 3600 + 1)
    expired = _refresh(sandbox, renewed.json()["refresh_token"])
    assert is_problem(expired, 400)["error"] == "invalid_grant"


def test_null_answer_fault_and_retry_within_grace(fresh: Sandbox) -> None:
    sandbox = fresh
    tokens = legacy_tokens(sandbox, sandbox.business_ids()[0])
    sandbox.faults(null_token_rate=1.0)
    lost = _refresh(sandbox, tokens["refresh_token"])
    assert lost.status_code == 200
    assert lost.text == "null"
    retried = _refresh(sandbox, tokens["refresh_token"])
    assert retried.status_code == 200
    assert retried.json()["access_token"]


def test_disconnect_revokes_tokens(fresh: Sandbox) -> None:
    sandbox = fresh
    business_id = sandbox.business_ids()[0]
    tokens = legacy_tokens(sandbox, business_id)
    assert is_problem(
        sandbox.post("/v2/disconnect-partner", params={"business_pk": business_id}), 401
    )
    is_problem(sandbox.post("/v2/disconnect-partner", auth=CLIENT), 400)
    is_problem(
        sandbox.post("/v2/disconnect-partner", params={"business_pk": "9"}, auth=CLIENT), 404
    )
    answer = sandbox.post(
        "/v2/disconnect-partner", params={"business_pk": business_id}, auth=CLIENT
    )
    assert answer.json() == {"business_pk": business_id, "client_id": CLIENT[0]}
    is_problem(sandbox.get("/v2/get-thumbtack-info", headers=bearer(tokens["access_token"])), 401)
    is_problem(_refresh(sandbox, tokens["refresh_token"]), 400)
    revoked = [t for t in sandbox.inspect("tokens")["tokens"] if t["revokedWhy"] == "disconnected"]
    assert len(revoked) == 2


def test_send_message_v1_with_basic_auth(sandbox: Sandbox) -> None:
    lead = sandbox.new_lead()
    path = f"/v1/business/{lead['businessID']}/lead/{lead['leadID']}/message"
    answer = sandbox.post(path, json={"text": "Hello, how can I help?"}, headers=basic(*API_USER))
    assert answer.json() == {"status": "success"}
    sent = sandbox.inspect(f"messages?from=Business&leadID={lead['leadID']}")
    assert [m["text"] for m in sent] == ["Hello, how can I help?"]
    assert sent[0]["via"] == "v1"
    is_problem(sandbox.post(path, json={"text": "hi"}), 401)
    is_problem(sandbox.post(path, json={"text": "hi"}, headers=basic("a", "b")), 401)
    is_problem(sandbox.post(path, json={"text": ""}, headers=basic(*API_USER)), 400)
    is_problem(
        sandbox.post(
            path, content=b"{", headers={**basic(*API_USER), "content-type": "application/json"}
        ),
        400,
    )
    is_problem(
        sandbox.post(
            path, content=b"text", headers={**basic(*API_USER), "content-type": "text/plain"}
        ),
        415,
    )
    other = f"/v1/business/{lead['businessID']}/lead/12345/message"
    is_problem(sandbox.post(other, json={"text": "hi"}, headers=basic(*API_USER)), 404)


def test_send_message_v2_with_bearer_and_scope(sandbox: Sandbox) -> None:
    lead = sandbox.new_lead()
    business_id = lead["businessID"]
    path = f"/v2/business/{business_id}/lead/{lead['leadID']}/message"
    tokens = legacy_tokens(sandbox, business_id, "messages")
    answer = sandbox.post(path, json={"text": "On my way"}, headers=bearer(tokens["access_token"]))
    assert answer.json() == {"status": "success"}
    assert sandbox.inspect("messages")[-1]["via"] == "v2"
    is_problem(sandbox.post(path, json={"text": "x"}), 401)
    is_problem(sandbox.post(path, json={"text": "x"}, headers=bearer("nope")), 401)
    targeting_only = legacy_tokens(sandbox, business_id, "targeting")
    is_problem(
        sandbox.post(path, json={"text": "x"}, headers=bearer(targeting_only["access_token"])), 403
    )
    other = next(b for b in sandbox.business_ids() if b != business_id)
    foreign = legacy_tokens(sandbox, other, "messages")
    is_problem(sandbox.post(path, json={"text": "x"}, headers=bearer(foreign["access_token"])), 403)


def test_targeting_service_and_category(fresh: Sandbox) -> None:
    sandbox = fresh
    business = sandbox.inspect("businesses")[0]
    service = business["businessID"]
    category = business["categories"][0]
    token = bearer(legacy_tokens(sandbox, service, "targeting")["access_token"])
    base = f"/v3/accounts/~/services/{service}"
    ok = sandbox.patch(f"{base}/preferences/targeting", json={"enabled": "false"}, headers=token)
    assert ok.json() == {"status": "success"}
    ok = sandbox.patch(
        f"{base}/categories/{category}/preferences/targeting", json={"enabled": True}, headers=token
    )
    assert ok.status_code == 200
    after = sandbox.inspect("businesses")[0]
    assert after["serviceTargeting"] is False
    assert after["categoryTargeting"] == {category: True}
    assert len(sandbox.inspect("targeting")) == 2


def test_targeting_error_cases(fresh: Sandbox) -> None:
    sandbox = fresh
    business = sandbox.inspect("businesses")[0]
    service = business["businessID"]
    token = bearer(legacy_tokens(sandbox, service, "targeting")["access_token"])
    messages_only = bearer(legacy_tokens(sandbox, service, "messages")["access_token"])
    other = sandbox.business_ids()[1]
    url = f"/v3/accounts/~/services/{service}/preferences/targeting"
    is_problem(sandbox.patch(url, json={"enabled": "true"}), 401)
    is_problem(sandbox.patch(url, json={"enabled": "true"}, headers=bearer("bad")), 401)
    bad_type = "/v3/accounts/~/services/abc/preferences/targeting"
    is_problem(sandbox.patch(bad_type, json={"enabled": "true"}, headers=token), 400)
    wrong_service = f"/v3/accounts/~/services/{other}/preferences/targeting"
    is_problem(sandbox.patch(wrong_service, json={"enabled": "true"}, headers=token), 401)
    is_problem(sandbox.patch(url, headers=token), 400)
    is_problem(sandbox.patch(url, json={"enabled": "maybe"}, headers=token), 400)
    is_problem(sandbox.patch(url, json={"enabled": "true"}, headers=messages_only), 403)
    missing = "/v3/accounts/~/services//preferences/targeting"
    is_problem(sandbox.patch(missing, json={"enabled": "true"}, headers=token), 404)
    categories = f"/v3/accounts/~/services/{service}/categories"
    is_problem(
        sandbox.patch(
            f"{categories}/x1/preferences/targeting", json={"enabled": "true"}, headers=token
        ),
        400,
    )
    is_problem(
        sandbox.patch(
            f"{categories}/42/preferences/targeting", json={"enabled": "true"}, headers=token
        ),
        404,
    )
    is_problem(
        sandbox.patch(
            f"{categories}//preferences/targeting", json={"enabled": "true"}, headers=token
        ),
        404,
    )


def test_create_test_lead_is_delivered_to_legacy_partner(
    start: Callable[..., Sandbox], partner: Partner
) -> None:
    sb: Sandbox = start(
        partner_url=partner.url,
        delivery_style="legacy",
        partner_username="tt",
        partner_password="pw",
    )
    is_problem(sb.post("/v1/test/create-lead", json={}), 401)
    created = sb.post("/v1/test/create-lead", json={}, headers=basic(*API_USER))
    assert created.status_code == 200
    lead = created.json()
    assert set(lead) >= {"leadID", "createTimestamp", "request", "customer", "business"}
    assert lead["business"]["name"] == "Mr. Clean's Sparkly Cleaning Service"
    chosen = sb.business_ids()[0]
    again = sb.post("/v1/test/create-lead", json={"businessID": chosen}, headers=basic(*API_USER))
    assert again.json()["business"]["businessID"] == chosen
    is_problem(
        sb.post("/v1/test/create-lead", json={"businessID": [1]}, headers=basic(*API_USER)), 400
    )
    received = partner.wait(2)
    first = next(r for r in received if r.path == "/v1/lead")
    assert first.method == "POST"
    assert first.headers["authorization"] == basic("tt", "pw")["Authorization"]
    assert first.body["leadID"] in {lead["leadID"], again.json()["leadID"]}


def test_token_values_never_appear_in_inspection(sandbox: Sandbox) -> None:
    tokens = legacy_tokens(sandbox, sandbox.business_ids()[0])
    shown = sandbox.get("/_sandbox/tokens").text
    assert tokens["access_token"] not in shown
    assert tokens["refresh_token"] not in shown
    fingerprint = hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()[:16]
    assert fingerprint in shown
