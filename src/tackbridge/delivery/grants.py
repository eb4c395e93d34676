"""Access tokens for outbound calls, and the one refresh a 401 earns.

The token store lives in ``tackbridge.connections``; this module codes against its interface
(``TokenManager``) through a Protocol, so the outbox works with any implementation, including
the small fakes tests use.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar

from tackbridge.delivery.errors import PermanentError, RetryableError
from tackbridge.delivery.thumbtack_errors import classify
from tackbridge.thumbtack.errors import AuthError, ThumbtackError

T = TypeVar("T")


class Grant(Protocol):
    @property
    def business_id(self) -> str: ...
    @property
    def api(self) -> Literal["legacy", "v4"]: ...
    @property
    def access_token(self) -> str: ...


class TokenManager(Protocol):
    async def access_token(self, business_id: str) -> Grant: ...
    async def refreshed_after_401(self, business_id: str, rejected: str) -> Grant: ...


class ConnectionUnavailableError(Exception):
    """Local stand-in for ``tackbridge.connections.ConnectionUnavailableError`` (fakes raise
    it); both are recognised."""


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the business has no usable connection."""
    if isinstance(exc, ConnectionUnavailableError):
        return True
    for module in ("tackbridge.connections", "tackbridge.connections.tokens"):
        try:
            real = getattr(importlib.import_module(module), "ConnectionUnavailableError", None)
        except ImportError:
            continue
        if isinstance(real, type) and isinstance(exc, real):
            return True
    return False


async def grant_for(tokens: TokenManager, business_id: str) -> Grant:
    """The business's current grant; no connection is worth retrying (it may be reconnected)."""
    try:
        return await tokens.access_token(business_id)
    except Exception as exc:
        if is_unavailable(exc):
            raise RetryableError(
                f"business {business_id} has no usable connection: {exc}"
            ) from None
        raise


async def with_refresh(
    tokens: TokenManager,
    grant: Grant,
    call: Callable[[Grant], Awaitable[T]],
) -> T:
    """``call(grant)``; on a 401 refresh once and call again. Thumbtack errors become the
    DeliveryError the worker expects."""
    try:
        return await call(grant)
    except AuthError:
        pass
    except ThumbtackError as exc:
        raise classify(exc) from None
    try:
        fresh = await tokens.refreshed_after_401(grant.business_id, grant.access_token)
    except Exception as exc:
        if is_unavailable(exc):
            raise RetryableError(
                f"business {grant.business_id} must be reconnected: {exc}", status_code=401
            ) from None
        raise
    try:
        return await call(fresh)
    except AuthError as exc:
        raise PermanentError(
            f"refused after a token refresh: {exc.message}", status_code=401
        ) from None
    except ThumbtackError as exc:
        raise classify(exc) from None
