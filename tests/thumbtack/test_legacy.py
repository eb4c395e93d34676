"""Wire format of the legacy Pro API (thumbtack-partner-api-v2.md / -v1.md)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest

from tackbridge.thumbtack import (
    AuthError,
    BadRequestError,
    ChallengeError,
    Environment,
    InvalidGrantError,
    NetworkError,
    NotFoundError,
    NullRefreshResponseError,
    ThumbtackClient,
    ThumbtackConfigError,
    UnexpectedResponseError,
)

from .conftest import (
    ACCESS_TOKEN,
    AUTH_CODE,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    REFRESH_TOKEN,
    TOKEN_ANSWER,
    V1_PASSWORD,
    V1_USER,
    Recorder,
    basic,
    body,
    query,
)

CLIENT_BASIC = "Basic VEhVTUJUQUNLIElOVEVSTkFMOlp4UnFMbnZZQUMzSERqVFlkem9sdFE="
DOC_SAMPLE_BASIC = "VEhVTUJUQUNLIElOVEVSTkFMOlp4UnFMbnZZQUMzSERqVFlkem9sdFEK="


def test_client_basic_header_is_the_documented_credentials() -> None:
    # The reference's sample header was made with `echo` and so encodes a trailing newline
    # (and carries a stray '='). We send base64("client_id:client_secret") exactly.
    decoded = base64.b64decode(DOC_SAMPLE_BASIC[:-1])
    assert decoded == f"{CLIENT_ID}:{CLIENT_SECRET}\n".encode()
    assert basic(CLIENT_ID, CLIENT_SECRET) == CLIENT_BASIC


def test_authorize_url_matches_the_documented_sample(client: ThumbtackClient) -> None:
    url = client.legacy.authorize_url(scopes=["messages"], redirect_uri=REDIRECT_URI)
    assert url == (
        "https://thumbtack.com/services/partner-connect/?client_id=THUMBTACK%20INTERNAL"
        "&redirect_uri=http://redirect.thumbtack.com&response_type=code&scope=messages"
    )
    with_state = client.legacy.authorize_url(
        scopes=["messages", "targeting"], redirect_uri=REDIRECT_URI, state="st&te 1"
    )
    params = parse_qsl(urlsplit(with_state).query)
    assert ("scope", "messages targeting") in params
    assert ("state", "st&te 1") in params


async def test_exchange_code(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(TOKEN_ANSWER)
    tokens = await client.legacy.exchange_code(AUTH_CODE, redirect_uri=REDIRECT_URI)

    request = recorder.last
    assert request.method == "POST"
    assert request.url.scheme == "https"
    assert request.url.host == "pro-api.thumbtack.com"
    assert request.url.path == "/v2/tokens/access"
    assert query(request) == [
        ("grant_type", "authorization_code"),
        ("code", AUTH_CODE),
        ("redirect_uri", REDIRECT_URI),
        ("token_type", "AUTH_CODE"),
    ]
    assert request.headers["Authorization"] == CLIENT_BASIC
    assert "Content-Type" not in request.headers
    assert request.content == b""

    assert tokens.access_token.get_secret_value() == TOKEN_ANSWER["access_token"]
    assert tokens.refresh_token is not None
    assert tokens.refresh_token.get_secret_value() == "_s3cnwGAb5VgBt-CmYFSOw"
    assert tokens.token_type == "bearer"
    assert tokens.expires_in == 3600
    assert tokens.expires_at is not None
    assert (tokens.expires_at - tokens.obtained_at).total_seconds() == 3600


async def test_refresh(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(TOKEN_ANSWER)
    tokens = await client.legacy.refresh_token(REFRESH_TOKEN)

    request = recorder.last
    assert request.method == "POST"
    assert request.url.host == "pro-api.thumbtack.com"
    assert request.url.path == "/v2/tokens/access"
    assert query(request) == [
        ("grant_type", "refresh_token"),
        ("refresh_token", REFRESH_TOKEN),
        ("token_type", "REFRESH"),
    ]
    assert request.headers["Authorization"] == CLIENT_BASIC
    assert tokens.access_token.get_secret_value() == TOKEN_ANSWER["access_token"]


async def test_null_refresh_is_retried_with_the_same_token(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.raw(200, b"null", "application/json")
    recorder.raw(200, b"null", "application/json")
    recorder.json(TOKEN_ANSWER)
    tokens = await client.legacy.refresh_token(REFRESH_TOKEN, retry_delays=(0, 0, 0))

    assert len(recorder.requests) == 3
    for request in recorder.requests:
        assert ("refresh_token", REFRESH_TOKEN) in query(request)
    assert tokens.refresh_token is not None


async def test_null_refresh_gives_up_after_bounded_retries(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    for _ in range(3):
        recorder.raw(200, b"null", "application/json")
    with pytest.raises(NullRefreshResponseError) as info:
        await client.legacy.refresh_token(REFRESH_TOKEN, retry_delays=(0, 0))
    assert len(recorder.requests) == 3
    assert REFRESH_TOKEN not in str(info.value)


async def test_null_refresh_is_not_retried_past_the_grace_period(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.raw(200, b"null", "application/json")
    with pytest.raises(NullRefreshResponseError):
        await client.legacy.refresh_token(REFRESH_TOKEN, grace_period=0.5, retry_delays=(1.0,))
    assert len(recorder.requests) == 1


async def test_refresh_timeout_is_retried_within_grace(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    def timeout(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    recorder.answer(timeout)
    recorder.json(TOKEN_ANSWER)
    tokens = await client.legacy.refresh_token(REFRESH_TOKEN, retry_delays=(0,))
    assert len(recorder.requests) == 2
    assert tokens.access_token.get_secret_value() == TOKEN_ANSWER["access_token"]


async def test_refresh_timeout_without_retries_left_raises(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    def timeout(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    recorder.answer(timeout)
    with pytest.raises(NetworkError) as info:
        await client.legacy.refresh_token(REFRESH_TOKEN, retry_delays=())
    assert info.value.timeout
    assert info.value.retryable


async def test_refresh_invalid_grant(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {"error": "invalid_grant", "error_description": "refresh token expired"}, status=400
    )
    with pytest.raises(InvalidGrantError) as info:
        await client.legacy.refresh_token(REFRESH_TOKEN, retry_delays=(0,))
    assert len(recorder.requests) == 1  # an error is not the grace-period case
    assert info.value.error == "invalid_grant"
    assert info.value.detail == "refresh token expired"
    assert REFRESH_TOKEN not in str(info.value)


async def test_get_thumbtack_info(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {
            "business_pk": "388006067351150595",
            "client_id": "THUMBTACK INTERNAL",
            "scope": ["messages"],
            "business_name": "cleaner business",
        }
    )
    info = await client.legacy.get_thumbtack_info(token=ACCESS_TOKEN)

    request = recorder.last
    assert request.method == "GET"
    assert str(request.url) == "https://pro-api.thumbtack.com/v2/get-thumbtack-info"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert info.business_pk == "388006067351150595"
    assert info.scope == ["messages"]
    assert info.business_name == "cleaner business"


async def test_disconnect(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"business_pk": "432428213655306241", "client_id": "THUMBTACK INTERNAL"})
    result = await client.legacy.disconnect("432428213655306241")

    request = recorder.last
    assert request.method == "POST"
    assert request.url.host == "pro-api.thumbtack.com"
    assert request.url.path == "/v2/disconnect-partner"
    assert query(request) == [("business_pk", "432428213655306241")]
    assert request.headers["Authorization"] == CLIENT_BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == b""
    assert result.business_pk == "432428213655306241"
    assert result.client_id == CLIENT_ID


async def test_send_message_v1_uses_basic(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    result = await client.legacy.send_message_v1(
        "380497492389642246", "380497493950742534", "Hello John, how can I help you?"
    )

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == (
        "https://api.thumbtack.com/v1/business/380497492389642246/lead/380497493950742534/message"
    )
    assert request.headers["Authorization"] == basic(V1_USER, V1_PASSWORD)
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"text": "Hello John, how can I help you?"}
    assert result.status == "success"


async def test_send_message_v1_staging_host(staging: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    await staging.legacy.send_message_v1("380497492389642246", "380497493950742534", "Hi")
    assert str(recorder.last.url) == (
        "https://staging-pro-api.thumbtack.com/v1/business/380497492389642246"
        "/lead/380497493950742534/message"
    )


async def test_send_message_v2_uses_bearer(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    await client.legacy.send_message(
        "395023207611023372", 123, "Hello, how can I help you?", token=ACCESS_TOKEN
    )

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == (
        "https://pro-api.thumbtack.com/v2/business/395023207611023372/lead/123/message"
    )
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"text": "Hello, how can I help you?"}


async def test_send_message_ids_cannot_escape_the_path(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"status": "success"})
    await client.legacy.send_message("1/../../v2/disconnect-partner", "2", "x", token="t")
    assert recorder.last.url.raw_path.startswith(b"/v2/business/1%2F..%2F..%2Fv2%2F")


async def test_send_message_failure_status_is_not_success(
    client: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"status": "failure"})
    with pytest.raises(UnexpectedResponseError):
        await client.legacy.send_message("1", "2", "Hi", token=ACCESS_TOKEN)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"<html><body>Checking your browser</body></html>", "text/html"), (b"", None)],
)
async def test_send_message_challenge(
    client: ThumbtackClient, recorder: Recorder, content: bytes, content_type: str | None
) -> None:
    recorder.raw(202, content, content_type)
    with pytest.raises(ChallengeError) as info:
        await client.legacy.send_message("1", "2", "Hi", token=ACCESS_TOKEN)
    assert info.value.status == 202
    assert info.value.retryable


async def test_service_targeting(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    await client.legacy.set_service_targeting("440370671984222213", True, token=ACCESS_TOKEN)

    request = recorder.last
    assert request.method == "PATCH"
    assert str(request.url) == (
        "https://pro-api.thumbtack.com/v3/accounts/~/services/440370671984222213"
        "/preferences/targeting"
    )
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"enabled": "true"}


async def test_category_targeting(client: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json({"status": "success"})
    await client.legacy.set_category_targeting(
        "440370671984222213", "109125193401647362", False, token=ACCESS_TOKEN
    )

    request = recorder.last
    assert request.method == "PATCH"
    assert str(request.url) == (
        "https://pro-api.thumbtack.com/v3/accounts/~/services/440370671984222213"
        "/categories/109125193401647362/preferences/targeting"
    )
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"enabled": "false"}


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (400, BadRequestError, "Invalid ServiceID type"),
        (401, AuthError, "Invalid auth header"),
        (404, NotFoundError, "Missing CategoryID"),
    ],
)
async def test_targeting_errors(
    client: ThumbtackClient,
    recorder: Recorder,
    status: int,
    error: type[Exception],
    text: str,
) -> None:
    recorder.raw(status, text.encode(), "text/plain")
    with pytest.raises(error) as info:
        await client.legacy.set_category_targeting("1", "2", True, token=ACCESS_TOKEN)
    message = str(info.value)
    assert "legacy.set_category_targeting" in message
    assert f"-> {status}" in message
    assert text in message
    assert ACCESS_TOKEN not in message
    assert not info.value.retryable


async def test_create_test_lead(staging: ThumbtackClient, recorder: Recorder) -> None:
    recorder.json(
        {
            "leadID": "380497493950742534",
            "createTimestamp": "1579643094",
            "price": "More information needed to give an estimate",
            "request": {"requestID": "380497492346044421", "category": "House Cleaning"},
            "customer": {"customerID": "380497491930800133", "name": "John Davis"},
            "business": {"businessID": "380497492389642246", "name": "Mr. Clean's"},
        }
    )
    lead = await staging.legacy.create_test_lead("380497492389642246")

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == "https://staging-pro-api.thumbtack.com/v1/test/create-lead"
    assert request.headers["Authorization"] == basic(V1_USER, V1_PASSWORD)
    assert request.headers["Content-Type"] == "application/json"
    assert body(request) == {"businessID": "380497492389642246"}
    assert lead.leadID == "380497493950742534"
    assert lead.business_id == "380497492389642246"


async def test_create_test_lead_without_business_sends_empty_object(
    staging: ThumbtackClient, recorder: Recorder
) -> None:
    recorder.json({"leadID": 1, "business": {"businessID": 2}})
    lead = await staging.legacy.create_test_lead()
    assert body(recorder.last) == {}
    assert lead.leadID == "1"


async def test_create_test_lead_does_not_exist_in_production(client: ThumbtackClient) -> None:
    with pytest.raises(ThumbtackConfigError):
        await client.legacy.create_test_lead()


async def test_calls_without_credentials_fail_clearly(recorder: Recorder) -> None:
    async with ThumbtackClient(
        Environment.production(), transport=httpx2.MockTransport(recorder.handler)
    ) as bare:
        with pytest.raises(ThumbtackConfigError):
            await bare.legacy.refresh_token(REFRESH_TOKEN)
        with pytest.raises(ThumbtackConfigError):
            await bare.legacy.send_message_v1("1", "2", "x")
    assert recorder.requests == []
