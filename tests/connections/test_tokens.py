"""Refresh single-flight inside one process, rotation, and the refresh that fails for good."""

from __future__ import annotations

import asyncio

import pytest

from tackbridge.connections.service import Connections
from tackbridge.thumbtack.grants import ConnectionUnavailableError
from tests.support.connections import Stack, expire_access_token, refreshes
from tests.support.sandbox import bearer


def _spent_once(stack: Stack, business_id: str) -> list[dict[str, object]]:
    tokens = [
        t
        for t in stack.sandbox.inspect("tokens")["tokens"]
        if t["businessID"] == business_id and t["kind"] == "refresh"
    ]
    assert all(t["revokedAt"] is None for t in tokens), tokens
    return [t for t in tokens if t["spentAt"] is not None]


@pytest.mark.parametrize("api", ["v4", "legacy"])
async def test_twenty_callers_after_a_401_refresh_once(
    stack: Stack, local: Connections, api: str
) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id, api=api)
    first = await local.tokens.access_token(business_id)

    grants = await asyncio.gather(
        *(local.tokens.refreshed_after_401(business_id, first.access_token) for _ in range(20))
    )

    assert len({g.access_token for g in grants}) == 1
    assert grants[0].access_token != first.access_token
    assert refreshes(stack.sandbox, api) == 1
    assert len(_spent_once(stack, business_id)) == 1
    assert stack.connection(business_id)["tokenVersion"] == 2
    # The stored token is the new one, and the far side accepts it.
    assert (await local.tokens.access_token(business_id)).access_token == grants[0].access_token
    path = "/api/v4/businesses" if api == "v4" else "/v2/get-thumbtack-info"
    assert stack.sandbox.get(path, headers=bearer(grants[0].access_token)).status_code == 200


async def test_an_expiring_token_is_refreshed_ahead_once_for_twenty_callers(
    stack: Stack, local: Connections
) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id)
    old = await local.tokens.access_token(business_id)
    for round_ in range(1, 4):
        expire_access_token(stack.settings, business_id)
        grants = await asyncio.gather(*(local.tokens.access_token(business_id) for _ in range(20)))
        assert len({g.access_token for g in grants}) == 1
        assert grants[0].access_token != old.access_token
        old = grants[0]
        assert refreshes(stack.sandbox) == round_
    assert len(_spent_once(stack, business_id)) == 3


async def test_a_refresh_that_fails_for_good_needs_reconnect(
    stack: Stack, local: Connections
) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id)
    grant = await local.tokens.access_token(business_id)
    stack.sandbox.advance(181 * 24 * 3600)  # past the refresh token's 180 days

    with pytest.raises(ConnectionUnavailableError):
        await local.tokens.refreshed_after_401(business_id, grant.access_token)

    view = stack.connection(business_id)
    assert view["state"] == "needs_reconnect"
    assert view["lastError"]["oauthError"] == "invalid_grant"
    assert grant.access_token not in str(view)
    # Nobody tries the dead token again: callers learn at once.
    with pytest.raises(ConnectionUnavailableError):
        await local.tokens.access_token(business_id)
    assert local.tokens.refreshes == 1
    # Connecting again brings it back.
    stack.connect(business_id)
    assert stack.connection(business_id)["state"] == "active"
    assert stack.connection(business_id)["lastError"] is None


async def test_unknown_businesses_are_unavailable(local: Connections) -> None:
    with pytest.raises(ConnectionUnavailableError):
        await local.tokens.access_token("999")
