"""Typed exceptions for every way a Thumbtack call can fail.

Messages carry the operation, method, path (never the query string: the legacy token call puts
codes and refresh tokens there), status, title, detail and Thumbtack's traceID, and never a
token or a client secret: text taken from a response is scrubbed of the secrets sent with the
request before it is stored.

Hierarchy::

    ThumbtackError
    ├── ProblemError                 an HTTP error answer (RFC 7807 problem+json when offered)
    │   ├── BadRequestError          400, 422
    │   ├── AuthError                401
    │   │   └── MissingScopeError    401 `required scope(s) [...] not found`
    │   ├── ForbiddenError           403
    │   │   └── UnavailableForLegalReasonsError   451
    │   ├── NotFoundError            404
    │   │   └── NotAvailableError    404 from an endpoint a client may not be offered
    │   ├── RateLimitedError         429, with retry_after
    │   ├── ServerError              5xx
    │   └── OAuthError               RFC 6749 error answer from a token endpoint
    │       ├── InvalidGrantError    invalid_grant: code or refresh token spent/expired/revoked
    │       └── InvalidClientError   invalid_client: our client id/secret are wrong
    ├── UnexpectedResponseError      a 2xx/3xx we cannot use (HTML, wrong JSON)
    │   ├── ChallengeError           a 202 without the expected body: the firewall's challenge
    │   └── NullRefreshResponseError legacy refresh still answered null after the grace period
    ├── NetworkError                 connect/read failures and timeouts
    └── ThumbtackConfigError         a call this client is not configured for
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "AuthError",
    "BadRequestError",
    "ChallengeError",
    "ForbiddenError",
    "InvalidClientError",
    "InvalidGrantError",
    "MissingScopeError",
    "NetworkError",
    "NotAvailableError",
    "NotFoundError",
    "NullRefreshResponseError",
    "OAuthError",
    "ProblemError",
    "RateLimitedError",
    "ServerError",
    "ThumbtackConfigError",
    "ThumbtackError",
    "UnavailableForLegalReasonsError",
    "UnexpectedResponseError",
    "missing_scopes",
    "parse_retry_after",
]

_EXCERPT_CHARS = 300


class ThumbtackError(Exception):
    """Base of every error raised by ``tackbridge.thumbtack``."""

    #: True when the same call may succeed later (the outbox uses it to pick retry vs dead).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.method = method
        self.path = path
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ThumbtackConfigError(ThumbtackError, ValueError):
    """The client lacks what this call needs (credentials, an endpoint of the environment)."""


class ProblemError(ThumbtackError):
    """Thumbtack answered with an HTTP error; RFC 7807 fields are parsed when present."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        title: str | None = None,
        detail: str | None = None,
        type: str | None = None,  # the RFC 7807 member name, kept for symmetry
        trace_id: str | None = None,
        errors: Sequence[Any] = (),
        retry_after: float | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(message, operation=operation, method=method, path=path, status=status)
        self.title = title
        self.detail = detail
        self.type = type
        self.trace_id = trace_id
        self.errors = list(errors)
        self.retry_after = retry_after
        self.body_excerpt = body_excerpt

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status is not None and (self.status in (408, 425, 429) or self.status >= 500)


class BadRequestError(ProblemError):
    """400/422: the request is wrong (bad ID type, invalid or missing body); do not retry."""


class AuthError(ProblemError):
    """401: the token or Basic credentials were refused (expired, revoked, wrong audience)."""


class MissingScopeError(AuthError):
    """401 because the grant lacks a scope (``required scope(s) [a, b] not found``): a refresh
    cannot help; the partner's client must be provisioned with ``scopes``."""

    def __init__(self, message: str, *, scopes: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.scopes = tuple(scopes)


_MISSING_SCOPES = re.compile(r"required scopes?(?:\(s\))?\s*\[([^\]]*)\]\s*not found", re.I)


def missing_scopes(detail: str | None) -> tuple[str, ...] | None:
    """The scopes a 401's detail names as missing, or None when it is another 401."""
    if not detail:
        return None
    found = _MISSING_SCOPES.search(detail)
    if found is None:
        return None
    return tuple(part for part in re.split(r"[\s,]+", found.group(1)) if part)


class ForbiddenError(ProblemError):
    """403: authenticated, but not allowed (missing scope, business not connected)."""


class UnavailableForLegalReasonsError(ForbiddenError):
    """451: Thumbtack withholds the resource for legal reasons."""


class NotFoundError(ProblemError):
    """404: the lead, business, webhook, service or category does not exist for this token."""


class NotAvailableError(NotFoundError):
    """404 from ``GET /api/v4/businesses/{id}/negotiations``: not offered to this client.

    Some partners report the endpoint missing; it cannot be told apart from an unknown business,
    so callers should treat it as "cannot list, rely on webhooks".
    """


class RateLimitedError(ProblemError):
    """429: slow down; ``retry_after`` holds the seconds Thumbtack asked for, when it did."""


class ServerError(ProblemError):
    """5xx: Thumbtack or its proxy failed (502 ``proxy_oauth_failed`` means a wrong audience)."""


class OAuthError(ProblemError):
    """An RFC 6749 error answer (``{"error": ..., "error_description": ...}``)."""

    def __init__(self, message: str, *, error: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = error

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status is not None and self.status >= 500


class InvalidGrantError(OAuthError):
    """The code or refresh token is spent, expired or revoked.

    For a rotated refresh token this is also what the loser of a refresh race gets: re-read
    the stored token before declaring the connection broken.
    """


class InvalidClientError(OAuthError):
    """Our client id/secret were refused by the token endpoint: a configuration problem."""


class UnexpectedResponseError(ThumbtackError):
    """A success or redirect status whose body is not what the endpoint returns."""

    def __init__(
        self,
        message: str,
        *,
        body_excerpt: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.body_excerpt = body_excerpt


class ChallengeError(UnexpectedResponseError):
    """A 202 whose body is not the expected one: the web application firewall's silent
    challenge. Nothing was done; try again later."""

    retryable = True


class NullRefreshResponseError(UnexpectedResponseError):
    """The legacy token endpoint kept answering ``null`` to a refresh for the whole 10 s grace
    period; the refresh token may be spent."""


class NetworkError(ThumbtackError):
    """No usable answer: connection failure or timeout. The call may or may not have happened."""

    retryable = True

    def __init__(self, message: str, *, timeout: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.timeout = timeout


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Returns None when absent or unparseable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN check
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of a non-trivial secret replaced."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "[REDACTED]")
    return text


def error_from_answer(
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    operation: str,
    method: str,
    path: str,
    secrets: Sequence[str] = (),
    oauth: bool = False,
    not_found: type[NotFoundError] = NotFoundError,
) -> ProblemError:
    """Map an HTTP error answer to the matching typed exception."""
    text = scrub(body.decode("utf-8", errors="replace"), secrets).strip()
    data = _json_object(text)

    title = _str(data.get("title"))
    detail = _str(data.get("detail"))
    problem_type = _str(data.get("type"))
    trace_id = _str(data.get("traceID") or data.get("traceId") or data.get("trace_id"))
    raw_errors = data.get("errors")
    errors: list[Any] = raw_errors if isinstance(raw_errors, list) else []
    oauth_error = _str(data.get("error")) if oauth else None
    if oauth_error:
        title = title or oauth_error
        detail = detail or _str(data.get("error_description")) or _str(data.get("error_hint"))
    if detail is None and not data:
        # Legacy endpoints answer plain text; a firewall answers HTML. Keep a short excerpt.
        detail = _excerpt(text) or None
    if detail is None:
        detail = _str(data.get("message"))

    retry_after = parse_retry_after(headers.get("retry-after"))
    summary = f"{operation}: {method} {path} -> {status}"
    if title:
        summary += f" {title}"
    if detail and detail != title:
        summary += f": {detail}"
    if trace_id:
        summary += f" (traceID {trace_id})"
    if retry_after is not None:
        summary += f" (retry after {retry_after:g}s)"

    kwargs: dict[str, Any] = {
        "operation": operation,
        "method": method,
        "path": path,
        "status": status,
        "title": title,
        "detail": detail,
        "type": problem_type,
        "trace_id": trace_id,
        "errors": errors,
        "retry_after": retry_after,
        "body_excerpt": _excerpt(text),
    }
    if oauth_error:
        cls: type[OAuthError] = OAuthError
        if oauth_error == "invalid_grant":
            cls = InvalidGrantError
        elif oauth_error == "invalid_client":
            cls = InvalidClientError
        return cls(summary, error=oauth_error, **kwargs)
    if status == 401:
        scopes = missing_scopes(detail) or missing_scopes(title)
        if scopes is not None:
            return MissingScopeError(summary, scopes=scopes, **kwargs)
    return _class_for(status, not_found)(summary, **kwargs)


def _class_for(status: int, not_found: type[NotFoundError]) -> type[ProblemError]:
    if status in (400, 422):
        return BadRequestError
    if status == 401:
        return AuthError
    if status == 403:
        return ForbiddenError
    if status == 404:
        return not_found
    if status == 429:
        return RateLimitedError
    if status == 451:
        return UnavailableForLegalReasonsError
    if status >= 500:
        return ServerError
    return ProblemError


def _json_object(text: str) -> dict[str, Any]:
    if not text.startswith("{"):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _excerpt(text: str) -> str:
    return text[:_EXCERPT_CHARS]
