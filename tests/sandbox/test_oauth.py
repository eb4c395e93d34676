"""The v4 OAuth 2.0 server: consent page, codes with PKCE, refresh rotation, client auth, and a
standard client library (authlib) completing the whole flow."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from tackbridge.sandbox.config import DEV_TOKEN_SIGNING_KEY, BusinessSeed
from tests.support.sandbox import (
    CLIENT,
    REDIRECT,
    SUPPLY,
    Sandbox,
    authorize_params,
    bearer,
    is_problem,
    pkce_pair,
    query_of,
    v4_code,
    v4_tokens,
)


def _exchange(sb: Sandbox, code: str, **extra: str) -> Any:
    return sb.post(
        "/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra},
        auth=CLIENT,
    )


def _refresh(sb: Sandbox, refresh_token: str, **extra: str) -> Any:
    return sb.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
        auth=CLIENT,
    )


def test_consent_page_has_a_business_picker_and_approve(sandbox: Sandbox) -> None:
    page = sandbox.get("/oauth2/auth", params=authorize_params())
    assert page.status_code == 200
    assert 'name="business_id"' in page.text
    assert "Approve" in page.text
    for business_id in sandbox.business_ids():
        assert business_id in page.text
    assert "supply::negotiations.read" in page.text


def test_approve_redirects_with_code_scope_and_state(sandbox: Sandbox) -> None:
    query = v4_code(sandbox, sandbox.business_ids()[0])
    assert query["state"] == "state-12345"
    assert query["scope"] == SUPPLY
    assert query["code"]


def test_deny_redirects_with_access_denied(sandbox: Sandbox) -> None:
    params = authorize_params()
    answer = sandbox.post("/oauth2/auth", data={**params, "action": "deny"})
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"state": "short"}, "invalid_state"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": ""}, "invalid_scope"),
        ({"scope": "supply::everything"}, "invalid_scope"),
        ({"scope": "supply::negotiations.read demand::users.read"}, "invalid_scope"),
        ({"audience": "urn:other"}, "invalid_request"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ],
)
def test_authorize_errors_redirect_back(
    sandbox: Sandbox, change: dict[str, str], error: str
) -> None:
    answer = sandbox.get("/oauth2/auth", params=authorize_params(**change))
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(REDIRECT)
    assert query_of(answer.headers["location"])["error"] == error


@pytest.mark.parametrize(
    "change",
    [{"client_id": "stranger"}, {"redirect_uri": ""}, {"redirect_uri": "javascript:alert(1)"}],
)
def test_authorize_errors_about_client_or_redirect_are_shown_not_redirected(
    sandbox: Sandbox, change: dict[str, str]
) -> None:
    is_problem(sandbox.get("/oauth2/auth", params=authorize_params(**change)), 400)


def test_registered_redirect_uris_are_enforced(start: Any) -> None:
    sb: Sandbox = start(redirect_uris=("https://partner.example/cb",))
    is_problem(sb.get("/oauth2/auth", params=authorize_params()), 400)
    ok = sb.get("/oauth2/auth", params=authorize_params(redirect_uri="https://partner.example/cb"))
    assert ok.status_code == 200


def test_code_exchange_with_pkce(sandbox: Sandbox) -> None:
    business_id = sandbox.business_ids()[0]
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    code = v4_code(sandbox, business_id, **pkce)["code"]
    assert is_problem(_exchange(sandbox, code), 400)["error"] == "invalid_grant"
    code = v4_code(sandbox, business_id, **pkce)["code"]
    assert (
        is_problem(_exchange(sandbox, code, code_verifier="x" * 50), 400)["error"]
        == "invalid_grant"
    )
    code = v4_code(sandbox, business_id, **pkce)["code"]
    answer = _exchange(sandbox, code, code_verifier=verifier)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == SUPPLY
    assert body["refresh_token"]
    assert answer.headers["cache-control"] == "no-store"
    assert (
        is_problem(_exchange(sandbox, code, code_verifier=verifier), 400)["error"]
        == "invalid_grant"
    )


def test_token_endpoint_client_authentication(sandbox: Sandbox) -> None:
    code = v4_code(sandbox, sandbox.business_ids()[0])["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    missing = sandbox.post("/oauth2/token", data=data)
    assert is_problem(missing, 401)["error"] == "invalid_client"
    assert missing.headers["www-authenticate"].startswith("Basic")
    wrong = sandbox.post("/oauth2/token", data=data, auth=(CLIENT[0], "wrong"))
    assert is_problem(wrong, 401)["error"] == "invalid_client"
    posted = sandbox.post(
        "/oauth2/token", data={**data, "client_id": CLIENT[0], "client_secret": CLIENT[1]}
    )
    assert posted.status_code == 200
    bad_grant = sandbox.post("/oauth2/token", data={"grant_type": "password"}, auth=CLIENT)
    assert is_problem(bad_grant, 400)["error"] == "unsupported_grant_type"
    no_code = sandbox.post("/oauth2/token", data={"grant_type": "authorization_code"}, auth=CLIENT)
    assert is_problem(no_code, 400)["error"] == "invalid_request"


def test_no_refresh_token_without_offline_access(sandbox: Sandbox) -> None:
    tokens = v4_tokens(sandbox, sandbox.business_ids()[0], scope="supply::negotiations.read")
    assert "refresh_token" not in tokens


def test_refresh_is_single_use_with_a_sixty_second_grace(fresh: Sandbox) -> None:
    tokens = v4_tokens(fresh, fresh.business_ids()[0])
    rotated = _refresh(fresh, tokens["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert _refresh(fresh, tokens["refresh_token"]).json() == new
    fresh.advance(61)
    reused = _refresh(fresh, tokens["refresh_token"])
    assert is_problem(reused, 400)["error"] == "invalid_grant"
    assert is_problem(_refresh(fresh, new["refresh_token"]), 400)["error"] == "invalid_grant"
    spent = [t for t in fresh.inspect("tokens")["tokens"] if t["spentAt"]]
    assert len(spent) == 1


def test_refresh_can_narrow_but_not_widen_scope(sandbox: Sandbox) -> None:
    tokens = v4_tokens(sandbox, sandbox.business_ids()[0])
    narrowed = _refresh(sandbox, tokens["refresh_token"], scope="supply::negotiations.read")
    assert narrowed.json()["scope"] == "supply::negotiations.read"
    again = v4_tokens(sandbox, sandbox.business_ids()[0])
    widened = _refresh(sandbox, again["refresh_token"], scope="demand::users.read")
    assert is_problem(widened, 400)["error"] == "invalid_scope"


def test_expired_codes_fault(fresh: Sandbox) -> None:
    fresh.faults(expired_codes=True)
    code = v4_code(fresh, fresh.business_ids()[0])["code"]
    assert "expired" in is_problem(_exchange(fresh, code), 400)["detail"]


def test_metadata_document(sandbox: Sandbox) -> None:
    meta = sandbox.get("/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"] == sandbox.url + "/oauth2/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_authlib_completes_authorization_code_pkce_and_refresh(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http
    client = OAuth2Session(
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
        scope=SUPPLY,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = "v" * 64
    url, state = client.create_authorization_url(
        sandbox.url + "/oauth2/auth", code_verifier=verifier, audience="urn:partner-api"
    )
    page = sandbox.http.get(url)
    assert page.status_code == 200
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    fields.update(business_id=sandbox.business_ids()[2], action="approve")
    approved = sandbox.post("/oauth2/auth", data=fields)
    assert approved.status_code == 302
    token = client.fetch_token(
        sandbox.url + "/oauth2/token",
        authorization_response=approved.headers["location"],
        code_verifier=verifier,
    )
    assert token["access_token"]
    assert token["refresh_token"]
    assert len(state) >= 8
    businesses = client.get(sandbox.url + "/api/v4/businesses")
    assert businesses.status_code == 200, businesses.text
    assert businesses.json()["data"][0]["businessID"] == sandbox.business_ids()[2]
    refreshed = client.refresh_token(sandbox.url + "/oauth2/token")
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert client.get(sandbox.url + "/api/v4/businesses").status_code == 200

    # The sandbox really checks the S256 pair authlib sent: a wrong verifier is refused.
    url, _ = client.create_authorization_url(
        sandbox.url + "/oauth2/auth", code_verifier=verifier, audience="urn:partner-api"
    )
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', sandbox.http.get(url).text))
    fields.update(business_id=sandbox.business_ids()[2], action="approve")
    approved = sandbox.post("/oauth2/auth", data=fields)
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(
            sandbox.url + "/oauth2/token",
            authorization_response=approved.headers["location"],
            code_verifier="w" * 64,
        )
    assert refused.value.error == "invalid_grant"


# scopes, provisioning, JWT-shaped tokens, accounts -------------------------------------------

FULL = (
    "supply::negotiations.read supply::negotiations.write supply::messages.read "
    "supply::messages.write supply::businesses.list supply::webhooks.read supply::webhooks.write "
    "supply::users.read supply::users.disconnect supply::associate-phone-numbers.read "
    "supply::associate-phone-numbers.write supply::businesses/associate-phone-numbers.read "
    "supply::businesses/associate-phone-numbers.write messages openid profile offline_access"
)


def _claims(token: str) -> dict[str, Any]:
    header, body, _signature = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"] == "HS256"
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def test_every_scope_of_the_api_notes_is_known(sandbox: Sandbox) -> None:
    tokens = v4_tokens(sandbox, sandbox.business_ids()[0], scope=FULL)
    assert tokens["scope"].split() == FULL.split()


def test_v4_access_tokens_are_signed_jwts_with_sub_exp_aud_scope(sandbox: Sandbox) -> None:
    business = sandbox.business_ids()[0]
    token = v4_tokens(sandbox, business)["access_token"]
    header, body, signature = token.split(".")
    expected = hmac.new(
        DEV_TOKEN_SIGNING_KEY.encode(), f"{header}.{body}".encode(), hashlib.sha256
    ).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    claims = _claims(token)
    assert claims["sub"] == business
    assert claims["aud"] == ["urn:partner-api"]
    assert claims["scope"] == SUPPLY
    assert claims["exp"] - claims["iat"] == 3600


def test_a_client_gets_only_its_provisioned_scopes(fresh: Sandbox) -> None:
    business = fresh.business_ids()[0]
    answer = fresh.http.put(
        fresh.url + "/_sandbox/oauth/scopes", json={"without": ["supply::businesses.list"]}
    )
    assert answer.status_code == 200, answer.text
    assert "supply::businesses.list" not in answer.json()["provisioned"]
    redirect = v4_code(fresh, business, scope=SUPPLY)
    assert "supply::businesses.list" not in redirect["scope"].split()
    tokens = v4_tokens(fresh, business)
    assert "supply::businesses.list" not in tokens["scope"].split()
    assert "supply::webhooks.write" in tokens["scope"].split()
    refused = fresh.get("/api/v4/businesses", headers=bearer(tokens["access_token"]))
    problem = is_problem(refused, 401)
    assert problem["detail"] == "required scope(s) [supply::businesses.list] not found"
    assert problem["traceID"]
    unknown = fresh.http.put(fresh.url + "/_sandbox/oauth/scopes", json={"scopes": ["x"]})
    assert is_problem(unknown, 400)
    every = fresh.http.put(fresh.url + "/_sandbox/oauth/scopes", json={"scopes": []})
    assert every.json()["all"] is True


def test_provisioned_scopes_from_the_config(start: Any) -> None:
    sb = start(provisioned_scopes=("supply::messages.read", "offline_access"))
    tokens = v4_tokens(sb, sb.business_ids()[0])
    assert tokens["scope"] == "supply::messages.read offline_access"


def test_a_grant_covers_every_business_of_the_account(start: Any) -> None:
    sb = start(
        businesses=(
            BusinessSeed("One", "b-1", account="acct"),
            BusinessSeed("Two", "b-2", account="acct"),
            BusinessSeed("Three", "b-3", account="acct"),
            BusinessSeed("Elsewhere", "b-4"),
        )
    )
    auth = bearer(v4_tokens(sb, "b-2")["access_token"])
    listed = sb.get("/api/v4/businesses", headers=auth).json()["data"]
    assert [b["businessID"] for b in listed] == ["b-2", "b-1", "b-3"]
    lead = sb.new_lead("b-3")
    assert sb.get(f"/api/v4/negotiations/{lead['leadID']}", headers=auth).status_code == 200
    assert sb.get("/api/v4/businesses/b-1/webhooks", headers=auth).status_code == 200
    is_problem(sb.get("/api/v4/businesses/b-4/webhooks", headers=auth), 403)
