"""Typed Thumbtack errors to retry-or-dead: the pure mapping."""

from __future__ import annotations

import pytest

from tackbridge.outbox.errors import PermanentError, RetryableError
from tackbridge.outbox.thumbtack import call_with_refresh, classify
from tackbridge.thumbtack.errors import (
    BadRequestError,
    ChallengeError,
    ForbiddenError,
    MissingScopeError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ThumbtackConfigError,
    ThumbtackError,
    UnexpectedResponseError,
)
from tackbridge.thumbtack.grants import Grant


def test_rate_limit_keeps_retry_after_and_problem() -> None:
    exc = RateLimitedError(
        "v4.send_message: POST /x -> 429",
        status=429,
        retry_after=7.0,
        title="Too Many",
        trace_id="t1",
    )
    mapped = classify(exc)
    assert isinstance(mapped, RetryableError)
    assert (mapped.retry_after, mapped.status_code) == (7.0, 429)
    assert mapped.problem == {"status": 429, "title": "Too Many", "traceID": "t1"}


@pytest.mark.parametrize(
    "exc",
    [
        ServerError("502", status=502),
        NetworkError("timed out", timeout=True),
        ChallengeError("202 challenge", status=202),
    ],
)
def test_transient_failures_are_retried(exc: ThumbtackError) -> None:
    assert isinstance(classify(exc), RetryableError)


@pytest.mark.parametrize(
    "exc",
    [
        BadRequestError("400", status=400, detail="text is required", errors=[{"field": "text"}]),
        ForbiddenError("403", status=403),
        NotFoundError("404", status=404),
        ThumbtackConfigError("no v1 credentials"),
        UnexpectedResponseError("200 but HTML", status=200),
    ],
)
def test_the_rest_is_permanent(exc: ThumbtackError) -> None:
    mapped = classify(exc)
    assert isinstance(mapped, PermanentError)
    if isinstance(exc, BadRequestError):
        assert mapped.problem == {
            "status": 400,
            "detail": "text is required",
            "errors": [{"field": "text"}],
        }


async def test_a_missing_scope_is_permanent_names_the_scope_and_earns_no_refresh() -> None:
    refreshes: list[str] = []

    class Grants:
        async def access_token(self, business_id: str) -> Grant:
            return Grant(business_id, "v4", "t")

        async def refreshed_after_401(self, business_id: str, rejected: str) -> Grant:
            refreshes.append(rejected)
            return Grant(business_id, "v4", "t2")

    async def call(grant: Grant) -> None:
        raise MissingScopeError(
            "required scope(s) [supply::messages.write] not found",
            status=401,
            scopes=["supply::messages.write"],
        )

    with pytest.raises(PermanentError) as raised:
        await call_with_refresh(Grants(), Grant("b", "v4", "t"), call)
    assert raised.value.status_code == 401
    assert "lacks supply::messages.write" in raised.value.detail
    assert "refresh" not in raised.value.detail
    assert refreshes == []
