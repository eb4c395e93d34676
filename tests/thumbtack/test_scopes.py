"""A missing scope is its own error: real Thumbtack's 401 ``required scope(s) [...] not found``
becomes ``MissingScopeError`` naming the scopes, and it earns no token refresh."""

from __future__ import annotations

import json

import pytest

from tackbridge.thumbtack import AuthError, MissingScopeError
from tackbridge.thumbtack.errors import error_from_answer, missing_scopes
from tackbridge.thumbtack.grants import Grant, with_refresh

BODY = {
    "type": "about:blank",
    "title": "Unauthorized",
    "status": 401,
    "detail": "required scope(s) [supply::businesses.list] not found",
    "traceID": "4bf92f3577b34da6",
    "errors": [],
}


def _answer(body: dict[str, object]) -> Exception:
    return error_from_answer(
        status=401,
        headers={},
        body=json.dumps(body).encode(),
        operation="v4.list_businesses",
        method="GET",
        path="/api/v4/businesses",
    )


def test_thumbtacks_missing_scope_answer_is_a_typed_error() -> None:
    error = _answer(BODY)
    assert isinstance(error, MissingScopeError)
    assert isinstance(error, AuthError)  # still a 401 to whoever only knows AuthError
    assert error.scopes == ("supply::businesses.list",)
    assert error.trace_id == "4bf92f3577b34da6"
    assert "supply::businesses.list" in str(error)
    assert "4bf92f3577b34da6" in str(error)


def test_other_401s_stay_auth_errors() -> None:
    error = _answer({**BODY, "detail": "the access token is unknown, expired or revoked"})
    assert type(error) is AuthError


@pytest.mark.parametrize(
    ("detail", "scopes"),
    [
        ("required scope(s) [a, b] not found", ("a", "b")),
        ("required scope [supply::webhooks.write] not found", ("supply::webhooks.write",)),
        ("Required scopes [x y] not found", ("x", "y")),
        ("token expired", None),
        (None, None),
    ],
)
def test_missing_scopes_reads_the_detail(detail: str | None, scopes: tuple[str, ...]) -> None:
    assert missing_scopes(detail) == scopes


class _Grants:
    def __init__(self) -> None:
        self.refreshes = 0

    async def access_token(self, business_id: str) -> Grant:
        return Grant(business_id, "v4", "t1")

    async def refreshed_after_401(self, business_id: str, rejected: str) -> Grant:
        self.refreshes += 1
        return Grant(business_id, "v4", "t2")


async def test_a_missing_scope_earns_no_refresh() -> None:
    grants = _Grants()
    error = _answer(BODY)

    async def call(grant: Grant) -> None:
        raise error

    with pytest.raises(MissingScopeError):
        await with_refresh(grants, Grant("b", "v4", "t1"), call)
    assert grants.refreshes == 0

    other = _answer({**BODY, "detail": "expired"})

    async def expired(grant: Grant) -> str:
        if grant.access_token == "t1":
            raise other
        return grant.access_token

    assert await with_refresh(grants, Grant("b", "v4", "t1"), expired) == "t2"
    assert grants.refreshes == 1
