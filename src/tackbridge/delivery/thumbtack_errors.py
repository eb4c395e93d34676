"""Typed Thumbtack errors mapped to what the outbox does next: retry later, or give up.

429 and 5xx, timeouts, dropped connections and the firewall's 202 challenge are retried (a 429's
``Retry-After`` sets the delay); a 401 has already had its one refresh when it gets here; every
other 4xx is permanent, with the problem detail kept for the operator. Messages come from the
client's errors, which never carry a token.
"""

from __future__ import annotations

from typing import Any

from tackbridge.delivery.errors import DeliveryError, PermanentError, RetryableError
from tackbridge.thumbtack.errors import (
    ChallengeError,
    NetworkError,
    ProblemError,
    ThumbtackConfigError,
    ThumbtackError,
    UnexpectedResponseError,
)


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


def classify(exc: ThumbtackError) -> DeliveryError:
    """The DeliveryError the worker should see for ``exc``."""
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
