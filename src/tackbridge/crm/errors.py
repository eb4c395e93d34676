"""Typed errors of the CRM destinations, already sorted the way the outbox worker needs:
``CrmRetryableError`` (429, 5xx, network, the daily budget, a record not there yet) or
``CrmPermanentError`` (validation, a missing record). Messages never carry an API key or a
webhook secret: they name the operation, method and path only.

Hierarchy::

    CrmError
    ├── CrmPermanentError  (outbox.errors.PermanentError)
    │   ├── CoperniqValidationError   400/422 VALIDATION_ERROR, INVALID_JSON, PREPROCESSING_ERROR
    │   ├── CoperniqNotFoundError     404
    │   ├── WebhookRejectedError      a webhook receiver's 4xx
    │   └── DestinationRefusedError   an address the SSRF guard refuses (core.netguard)
    └── CrmRetryableError  (outbox.errors.RetryableError)
        ├── CoperniqAuthError         401: the key is wrong until an operator fixes it
        ├── CoperniqRateLimitedError  429, Retry-After / X-RateLimit-* honoured
        │   └── DailyBudgetExhaustedError   our own limiter: the 5,000/day budget is spent
        ├── CrmServerError            5xx
        ├── CrmNetworkError           connect/read failure or timeout
        ├── CrmUnexpectedResponseError a 2xx whose body is not what the endpoint returns
        └── NotReadyError             e.g. a message whose lead has no opportunity yet
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tackbridge.outbox.errors import JobError, NotYetError, PermanentError, RetryableError


class CrmError(JobError):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        problem: dict[str, Any] | None = None
        if code is not None or field is not None:
            problem = {"code": code, "field": field}
        JobError.__init__(self, message, status_code=status, problem=problem)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class CrmPermanentError(CrmError, PermanentError):
    pass


class CrmRetryableError(CrmError, RetryableError):
    retryable = True


class CoperniqValidationError(CrmPermanentError):
    pass


class CoperniqNotFoundError(CrmPermanentError):
    pass


class WebhookRejectedError(CrmPermanentError):
    pass


class DestinationRefusedError(CrmPermanentError):
    """The destination's URL is not one tackbridge may call: an https URL resolving to public
    addresses, or a host TACKBRIDGE_DESTINATION_ALLOWED_HOSTS lists."""


class CoperniqAuthError(CrmRetryableError):
    pass


class CoperniqRateLimitedError(CrmRetryableError):
    def __init__(
        self,
        message: str,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.limit = limit
        self.remaining = remaining


class DailyBudgetExhaustedError(CoperniqRateLimitedError):
    def __init__(self, message: str, *, resets_at: datetime, retry_after: float) -> None:
        super().__init__(message, status=429, code="DAILY_BUDGET", retry_after=retry_after)
        self.resets_at = resets_at


class CrmServerError(CrmRetryableError):
    pass


class CrmNetworkError(CrmRetryableError):
    pass


class CrmUnexpectedResponseError(CrmRetryableError):
    pass


class NotReadyError(CrmRetryableError, NotYetError):
    """Raised before anything was written: the record a message, update or review belongs to is
    not at the destination yet."""
