"""Thumbtack calls as outbox jobs make them: typed Thumbtack errors mapped to what the outbox
does next (retry later, or give up), and the grant of a business fetched and refreshed the way
every Thumbtack-bound job needs.

429 and 5xx, timeouts, dropped connections and the firewall's 202 challenge are retried (a 429's
``Retry-After`` sets the delay); a 401 has already had its one refresh when it gets here; every
other 4xx is permanent, with the problem detail kept for the operator. Messages come from the
client's errors, which never carry a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tackbridge.outbox.errors import JobError, PermanentError, RetryableError
from tackbridge.thumbtack.errors import (
    AuthError,
    ChallengeError,
    MissingScopeError,
    NetworkError,
    ProblemError,
    ThumbtackConfigError,
    ThumbtackError,
    UnexpectedResponseError,
)
from tackbridge.thumbtack.grants import ConnectionUnavailableError, Grant, GrantSource, with_refresh

__all__ = ["call_with_refresh", "classify", "grant_for", "problem_of"]

T = TypeVar("T")


def problem_of(exc: ProblemError) -> dict[str, Any]:
    """The far side's problem details, as the operator should see them."""
    found: dict[str, Any] = {"status": exc.status}
    for name, value in (
        ("title", exc.title),
        ("detail", exc.detail),
        ("type", exc.type),
        ("traceID", exc.trace_id),
    ):
        if value:
            found[name] = value
    if exc.errors:
        found["errors"] = exc.errors
    return found


def classify(exc: ThumbtackError) -> JobError:
    """The JobError the worker should see for ``exc``."""
    if isinstance(exc, ProblemError):
        problem = problem_of(exc)
        if exc.retryable:
            return RetryableError(
                exc.message, retry_after=exc.retry_after, status_code=exc.status, problem=problem
            )
        return PermanentError(exc.message, status_code=exc.status, problem=problem)
    if isinstance(exc, NetworkError | ChallengeError):
        return RetryableError(exc.message, status_code=exc.status)
    if isinstance(exc, ThumbtackConfigError):
        return PermanentError(f"not configured: {exc.message}")
    if isinstance(exc, UnexpectedResponseError):
        # A 2xx we cannot read: the effect may well have happened, so sending again could
        # repeat it. An operator decides (retry from /api/deliveries).
        return PermanentError(exc.message, status_code=exc.status)
    return RetryableError(exc.message, status_code=exc.status)


async def grant_for(grants: GrantSource, business_id: str) -> Grant:
    """The business's current grant; no connection is worth retrying (it may be reconnected)."""
    try:
        return await grants.access_token(business_id)
    except ConnectionUnavailableError as exc:
        raise RetryableError(f"business {business_id} has no usable connection: {exc}") from None


async def call_with_refresh(
    grants: GrantSource, grant: Grant, call: Callable[[Grant], Awaitable[T]]
) -> T:
    """``call(grant)`` with the one refresh a 401 earns (``thumbtack.with_refresh``); what still
    fails becomes the JobError the worker expects."""
    try:
        return await with_refresh(grants, grant, call)
    except MissingScopeError as exc:
        # No refresh was tried: a new token would carry the same scopes.
        needed = ", ".join(exc.scopes) or "a scope"
        raise PermanentError(
            f"the partner's client lacks {needed}: {exc.message}",
            status_code=401,
            problem=problem_of(exc),
        ) from None
    except AuthError as exc:
        raise PermanentError(
            f"refused after a token refresh: {exc.message}", status_code=401
        ) from None
    except ConnectionUnavailableError as exc:
        raise RetryableError(
            f"business {grant.business_id} must be reconnected: {exc}", status_code=401
        ) from None
    except ThumbtackError as exc:
        raise classify(exc) from None
