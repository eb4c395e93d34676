"""Error mapping helpers, environments, and the rule that secrets never leak."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx2
import pytest

from tackbridge.thumbtack import (
    ClientCredentials,
    Environment,
    ThumbtackClient,
    TokenSet,
    UnexpectedResponseError,
)
from tackbridge.thumbtack.errors import parse_retry_after

from .conftest import AUTH_CODE, CLIENT_SECRET, REDIRECT_URI, REFRESH_TOKEN, Recorder


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


def test_environments() -> None:
    prod = Environment.production()
    assert prod.legacy_base_url == "https://pro-api.thumbtack.com"
    assert prod.legacy_v1_message_base_url == "https://api.thumbtack.com"
    assert prod.api_base_url == "https://api.thumbtack.com"
    assert prod.oauth_authorize_url == "https://auth.thumbtack.com/oauth2/auth"
    assert prod.oauth_token_url == "https://auth.thumbtack.com/oauth2/token"
    assert not prod.has_test_endpoints

    staging = Environment.staging()
    assert staging.legacy_base_url == "https://staging-pro-api.thumbtack.com"
    assert staging.legacy_v1_message_base_url == "https://staging-pro-api.thumbtack.com"
    assert staging.api_base_url == "https://staging-api.thumbtack.com"
    assert staging.oauth_token_url == "https://staging-auth.thumbtack.com/oauth2/token"
    assert staging.has_test_endpoints

    sandbox = Environment.from_name("sandbox", base_url="http://localhost:8081/")
    assert sandbox.legacy_base_url == "http://localhost:8081"
    assert sandbox.api_base_url == "http://localhost:8081"
    assert sandbox.oauth_authorize_url == "http://localhost:8081/oauth2/auth"
    assert sandbox.oauth_token_url == "http://localhost:8081/oauth2/token"

    with pytest.raises(ValueError, match="base_url"):
        Environment.from_name("sandbox")
    with pytest.raises(ValueError, match="unknown"):
        Environment.from_name("moon")


async def test_sandbox_legacy_paths_at_root(recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    recorder.json({"leadID": "1"})
    async with ThumbtackClient(
        Environment.sandbox("http://127.0.0.1:9000"),
        credentials=ClientCredentials("id", "secret"),
        v1_credentials=ClientCredentials("u", "p"),
        transport=httpx2.MockTransport(recorder.handler),
    ) as sandbox:
        await sandbox.legacy.send_message_v1("1", "2", "hi")
        await sandbox.legacy.create_test_lead()
    assert [str(r.url) for r in recorder.requests] == [
        "http://127.0.0.1:9000/v1/business/1/lead/2/message",
        "http://127.0.0.1:9000/v1/test/create-lead",
    ]


def test_credentials_and_tokens_never_show_secrets() -> None:
    creds = ClientCredentials("THUMBTACK INTERNAL", CLIENT_SECRET)
    assert CLIENT_SECRET not in repr(creds)
    assert CLIENT_SECRET not in str(creds)

    tokens = TokenSet.model_validate(
        {"access_token": "acc-123456", "refresh_token": "ref-123456", "expires_in": 60}
    )
    for text in (repr(tokens), str(tokens), str(tokens.model_dump()), tokens.model_dump_json()):
        assert "acc-123456" not in text
        assert "ref-123456" not in text


async def test_malformed_token_answer_does_not_echo_the_token(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"access_token": "leaky-access-token", "expires_in": "soon"})
    with pytest.raises(UnexpectedResponseError) as info:
        await client.oauth.refresh("r")
    text = str(info.value)
    assert "expires_in" in text
    assert "leaky-access-token" not in text
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


async def test_httpx_request_log_hides_code_and_refresh_token(
    client: ThumbtackClient, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.json({"access_token": "a", "token_type": "bearer", "expires_in": 1})
    recorder.json({"access_token": "a", "token_type": "bearer", "expires_in": 1})
    # httpx2's own logger too: tackbridge.core.logs quiets it in the server, not here.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="httpx2"):
        await client.legacy.exchange_code(AUTH_CODE, redirect_uri=REDIRECT_URI)
        await client.legacy.refresh_token(REFRESH_TOKEN)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/v2/tokens/access" in logged
    assert AUTH_CODE not in logged
    assert REFRESH_TOKEN not in logged
    assert "grant_type=refresh_token" in logged


async def test_shared_http_client_is_not_closed(recorder: Recorder) -> None:
    shared = httpx2.AsyncClient(transport=httpx2.MockTransport(recorder.handler))
    recorder.json({"data": []})
    async with ThumbtackClient(
        Environment.production(), http_client=shared, timeout=5.0
    ) as thumbtack:
        assert thumbtack.http_client is shared
        await thumbtack.v4.list_businesses(token="t")
    assert not shared.is_closed
    await shared.aclose()
    assert "secret" not in repr(thumbtack)
