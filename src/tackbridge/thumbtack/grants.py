"""The grant vocabulary: what an authorised call to Thumbtack needs, whoever stores the tokens.

A :class:`Grant` is one business's access token and the API generation it was issued for. A
:class:`GrantSource` hands grants out per business and gives a fresh one after a 401 (the
``connections`` feature implements it over the store; tests use small fakes). ``TokenSource``
(in ``_http``) is something else: the ``token=`` argument of one call.

:func:`with_refresh` is the one place a 401 earns its single refresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from .errors import AuthError, MissingScopeError

__all__ = ["Api", "ConnectionUnavailableError", "Grant", "GrantSource", "with_refresh"]

T = TypeVar("T")
Api = Literal["legacy", "v4"]


@dataclass(frozen=True)
class Grant:
    business_id: str
    api: Api
    access_token: str = field(repr=False)  # plaintext, in memory only


class ConnectionUnavailableError(Exception):
    """No connection, disconnected, or ``needs_reconnect``: only the pro can fix it."""


class GrantSource(Protocol):
    async def access_token(self, business_id: str) -> Grant: ...
    async def refreshed_after_401(self, business_id: str, rejected: str) -> Grant: ...


async def with_refresh(
    grants: GrantSource, grant: Grant, call: Callable[[Grant], Awaitable[T]]
) -> T:
    """``call(grant)``; on a 401, one refresh and ``call`` again. A 401 that comes back after
    the refresh is raised as it is (``AuthError``), and so is every other error. A missing
    scope (``MissingScopeError``) is raised at once: a refreshed token has the same scopes."""
    try:
        return await call(grant)
    except MissingScopeError:
        raise
    except AuthError:
        pass
    fresh = await grants.refreshed_after_401(grant.business_id, grant.access_token)
    return await call(fresh)
