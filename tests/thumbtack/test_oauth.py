"""Wire format of v4 OAuth 2.0 (api-notes.md): authorize URL, PKCE, token, refresh, revoke."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tackbridge.thumbtack import (
    ClientCredentials,
    Environment,
    InvalidClientError,
    InvalidGrantError,
    Pkce,
    ServerError,
    ThumbtackClient,
    generate_pkce,
)

from .conftest import CLIENT_SECRET, REDIRECT_URI, TOKEN_ANSWER, Recorder, form

V4_BASIC = "Basic " + base64.b64encode(b"THUMBTACK+INTERNAL:" + CLIENT_SECRET.encode()).decode()


def params_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_pkce_matches_rfc7636_appendix_b() -> None:
    pkce = Pkce.from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    assert pkce.challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce.method == "S256"
    assert "dBjftJ" not in repr(pkce)


def test_generated_pkce_is_valid() -> None:
    pkce = generate_pkce()
    assert 43 <= len(pkce.verifier) <= 128
    assert Pkce.from_verifier(pkce.verifier).challenge == pkce.challenge
    assert generate_pkce().verifier != pkce.verifier


def test_authorization_request(client: ThumbtackClient) -> None:
    auth = client.oauth.authorization_request(
        redirect_uri="https://bridge.example/oauth/callback",
        scopes=["supply::negotiations.read", "supply::messages.write"],
        state="state-1234",
    )
    parts = urlsplit(auth.url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.thumbtack.com/oauth2/auth"
    )
    params = params_of(auth.url)
    assert params == {
        "response_type": ["code"],
        "client_id": ["THUMBTACK INTERNAL"],
        "redirect_uri": ["https://bridge.example/oauth/callback"],
        "scope": ["supply::negotiations.read supply::messages.write offline_access"],
        "state": ["state-1234"],
        "audience": ["urn:partner-api"],
        "code_challenge": [Pkce.from_verifier(auth.code_verifier or "").challenge],
        "code_challenge_method": ["S256"],
    }
    assert "+" not in parts.query  # spaces as %20
    assert auth.state == "state-1234"
    assert auth.scopes[-1] == "offline_access"
    assert auth.code_verifier is not None
    assert auth.code_verifier not in repr(auth)


def test_authorization_request_generates_state_and_keeps_offline_access_once(
    client: ThumbtackClient,
) -> None:
    auth = client.oauth.authorization_request(
        redirect_uri=REDIRECT_URI, scopes=["offline_access", "supply::negotiations.read"]
    )
    assert len(auth.state) >= 8
    assert params_of(auth.url)["scope"] == ["offline_access supply::negotiations.read"]


def test_short_state_is_refused(client: ThumbtackClient) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        client.oauth.authorization_request(redirect_uri=REDIRECT_URI, scopes=["x"], state="1234567")
    with pytest.raises(ValueError, match="at least 8"):
        client.oauth.authorize_url(redirect_uri=REDIRECT_URI, scopes=["x"], state="short")


def test_authorize_url_with_external_challenge(client: ThumbtackClient) -> None:
    url = client.oauth.authorize_url(
        redirect_uri=REDIRECT_URI, scopes=["openid"], state="abcdefgh", code_challenge="CH"
    )
    params = params_of(url)
    assert params["code_challenge"] == ["CH"]
    assert params["code_challenge_method"] == ["S256"]
    assert params["scope"] == ["openid offline_access"]


async def test_exchange_code(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({**TOKEN_ANSWER, "scope": "supply::negotiations.read offline_access"})
    tokens = await client.oauth.exchange_code(
        "the-code", redirect_uri="https://bridge.example/cb", code_verifier="v" * 43
    )

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == "https://auth.thumbtack.com/oauth2/token"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # RFC 6749 2.3.1: id and secret are form-encoded before Basic (the space becomes '+').
    assert request.headers["Authorization"] == V4_BASIC
    assert form(request) == [
        ("grant_type", "authorization_code"),
        ("code", "the-code"),
        ("redirect_uri", "https://bridge.example/cb"),
        ("code_verifier", "v" * 43),
    ]
    assert request.url.query == b""
    assert tokens.scope == ("supply::negotiations.read", "offline_access")
    assert tokens.expires_at is not None


async def test_refresh(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(TOKEN_ANSWER)
    tokens = await client.oauth.refresh("rotating-refresh-1")
    request = recorder.last
    assert str(request.url) == "https://auth.thumbtack.com/oauth2/token"
    assert request.headers["Authorization"] == V4_BASIC
    assert form(request) == [
        ("grant_type", "refresh_token"),
        ("refresh_token", "rotating-refresh-1"),
    ]
    assert tokens.refresh_token is not None


async def test_refresh_without_new_refresh_token(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"access_token": "new-access", "token_type": "bearer", "expires_in": 3600})
    tokens = await client.oauth.refresh("rotating-refresh-1")
    assert tokens.access_token.get_secret_value() == "new-access"
    assert tokens.refresh_token is None  # the caller keeps the one it has


async def test_refresh_invalid_grant(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {
            "error": "invalid_grant",
            "error_description": "The refresh token rotating-refresh-1 was already used.",
        },
        status=400,
    )
    with pytest.raises(InvalidGrantError) as info:
        await client.oauth.refresh("rotating-refresh-1")
    assert info.value.status == 400
    assert not info.value.retryable
    assert "rotating-refresh-1" not in str(info.value)
    assert "rotating-refresh-1" not in (info.value.detail or "")
    assert "[REDACTED]" in str(info.value)


async def test_invalid_client(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"error": "invalid_client"}, status=401)
    with pytest.raises(InvalidClientError):
        await client.oauth.refresh("r")


async def test_token_endpoint_server_error(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.raw(503, b"upstream down", "text/plain", **{"Retry-After": "7"})
    with pytest.raises(ServerError) as info:
        await client.oauth.exchange_code("c", redirect_uri=REDIRECT_URI)
    assert info.value.retry_after == 7
    assert info.value.retryable


async def test_client_credentials(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"access_token": "cc", "token_type": "bearer", "expires_in": 3600})
    await client.oauth.client_credentials(scopes=["demand::businesses/search.read"])
    assert form(recorder.last) == [
        ("grant_type", "client_credentials"),
        ("scope", "demand::businesses/search.read"),
        ("audience", "urn:partner-api"),
    ]


async def test_revoke(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.raw(200)
    await client.oauth.revoke("rotating-refresh-2")
    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == "https://auth.thumbtack.com/oauth2/revoke"
    assert request.headers["Authorization"] == V4_BASIC
    assert form(request) == [("token", "rotating-refresh-2"), ("token_type_hint", "refresh_token")]


async def test_separate_v4_client_and_staging_hosts(recorder: Recorder) -> None:
    async with ThumbtackClient(
        Environment.staging(),
        credentials=ClientCredentials("legacy-id", "legacy-secret"),
        v4_credentials=ClientCredentials("v4-id", "v4-secret"),
        transport=httpx2.MockTransport(recorder.handler),
    ) as staging:
        auth = staging.oauth.authorization_request(redirect_uri=REDIRECT_URI, scopes=["openid"])
        assert auth.url.startswith("https://staging-auth.thumbtack.com/oauth2/auth?")
        assert params_of(auth.url)["client_id"] == ["v4-id"]
        recorder.json(TOKEN_ANSWER)
        await staging.oauth.refresh("r")
    assert str(recorder.last.url) == "https://staging-auth.thumbtack.com/oauth2/token"
    assert (
        recorder.last.headers["Authorization"]
        == "Basic " + base64.b64encode(b"v4-id:v4-secret").decode()
    )
