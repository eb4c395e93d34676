"""The transport every resource shares: one httpx2 client, auth headers, error mapping.

Kept private so the resources (``legacy``, ``oauth``, ``v4``) stay thin and declarative.
"""

from __future__ import annotations

import base64
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from tackbridge.core.redact import redact_url

from .errors import (
    ChallengeError,
    NetworkError,
    NotFoundError,
    ThumbtackConfigError,
    UnexpectedResponseError,
    error_from_answer,
    scrub,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "ClientCredentials",
    "HttpCore",
    "TokenProvider",
    "TokenSource",
]

logger = logging.getLogger("tackbridge.thumbtack")

DEFAULT_TIMEOUT = 30.0
_EXCERPT = 300

M = TypeVar("M", bound=BaseModel)

#: An async callable returning a current access token (wired later to the token store).
TokenProvider = Callable[[], Awaitable["str | SecretStr"]]
TokenSource = str | SecretStr | TokenProvider


@dataclass(frozen=True, slots=True, init=False)
class ClientCredentials:
    """An id and secret sent as HTTP Basic: OAuth client credentials, or the v1 username and
    password Thumbtack issues for ``/v1`` endpoints. The secret never shows in ``repr``."""

    client_id: str
    client_secret: SecretStr = field(repr=False)

    def __init__(self, client_id: str, client_secret: str | SecretStr) -> None:
        if not client_id:
            raise ValueError("client_id must not be empty")
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "client_secret", secret)

    def basic_header(self, *, form_encode: bool = False) -> str:
        """``Basic base64(id:secret)``.

        ``form_encode`` applies RFC 6749 section 2.3.1 (each part form-urlencoded first), which
        standard OAuth servers expect; the legacy API documents the raw form
        (``THUMBTACK INTERNAL`` with its space), so legacy calls leave it off.
        """
        user, password = self.client_id, self.client_secret.get_secret_value()
        if form_encode:
            user, password = _form_encode(user), _form_encode(password)
        raw = f"{user}:{password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        return (
            self.client_secret.get_secret_value(),
            self.basic_header().split(" ", 1)[1],
            self.basic_header(form_encode=True).split(" ", 1)[1],
        )


def _form_encode(value: str) -> str:
    return quote(value, safe="").replace("%20", "+")


def segment(value: str | int) -> str:
    """One URL path segment; IDs are quoted so they can never add path components."""
    text = str(value)
    if not text:
        raise ValueError("an ID in a URL path must not be empty")
    return quote(text, safe="~")


async def resolve_token(source: TokenSource | None) -> str:
    if source is None:
        raise ThumbtackConfigError("this call needs an access token (token=...)")
    if isinstance(source, SecretStr):
        value = source.get_secret_value()
    elif isinstance(source, str):
        value = source
    else:
        produced = source()
        result = await produced if inspect.isawaitable(produced) else produced
        value = result.get_secret_value() if isinstance(result, SecretStr) else str(result)
    if not value:
        raise ThumbtackConfigError("the access token is empty")
    return value


class _RedactQueryFilter(logging.Filter):
    """httpx2 logs every request URL at INFO; the legacy token call carries the authorization
    code and refresh token in its query string, as Thumbtack's API requires."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, httpx2.URL) else arg for arg in record.args
            )
        return True


_filter_installed = False


def install_log_redaction() -> None:
    """Attach the redacting filter to httpx2's logger once per process."""
    global _filter_installed
    if not _filter_installed:
        logging.getLogger("httpx2").addFilter(_RedactQueryFilter())
        _filter_installed = True


_UNSET: Any = object()


class HttpCore:
    """Sends requests and turns answers into models or typed errors."""

    def __init__(
        self,
        *,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float | httpx2.Timeout | None = None,
        user_agent: str,
    ) -> None:
        install_log_redaction()
        self._owns_client = http_client is None
        if http_client is None:
            http_client = httpx2.AsyncClient(
                transport=transport,
                timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
                # A redirect from an API host is the firewall or a misconfiguration, never data.
                follow_redirects=False,
            )
            self._timeout: float | httpx2.Timeout | None = None
        elif transport is not None:
            raise ValueError("pass either http_client or transport, not both")
        else:
            self._timeout = timeout
        self._client = http_client
        self.user_agent = user_agent

    @property
    def client(self) -> httpx2.AsyncClient:
        return self._client

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        authorization: str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json: Any = _UNSET,
        form: Sequence[tuple[str, str]] | None = None,
        content_type_json: bool = False,
        secrets: Sequence[str] = (),
        oauth_errors: bool = False,
        not_found: type[NotFoundError] = NotFoundError,
    ) -> httpx2.Response:
        """One request; raises the mapped error for anything but a 2xx."""
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        kwargs: dict[str, Any] = {}
        if json is not _UNSET:
            kwargs["json"] = json
            headers["Content-Type"] = "application/json"
        elif form is not None:
            kwargs["data"] = dict(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif content_type_json:
            # The legacy API requires Content-Type on every call, bodiless ones included.
            headers["Content-Type"] = "application/json"
        if params:
            kwargs["params"] = list(params)
        if self._timeout is not None:
            kwargs["timeout"] = self._timeout

        all_secrets = [s for s in secrets if s]
        if authorization is not None:
            all_secrets.append(authorization.split(" ", 1)[-1])
        path = httpx2.URL(url).path
        try:
            response = await self._client.request(method, url, headers=headers, **kwargs)
        except httpx2.TimeoutException as exc:
            raise NetworkError(
                f"{operation}: {method} {path} timed out ({type(exc).__name__})",
                timeout=True,
                operation=operation,
                method=method,
                path=path,
            ) from None
        except httpx2.TransportError as exc:
            reason = scrub(str(exc), all_secrets)[:_EXCERPT] or type(exc).__name__
            raise NetworkError(
                f"{operation}: {method} {path} failed: {reason}",
                operation=operation,
                method=method,
                path=path,
            ) from None

        status = response.status_code
        logger.debug("thumbtack %s %s %s -> %s", operation, method, path, status)
        if status >= 400:
            raise error_from_answer(
                status=status,
                headers=response.headers,
                body=response.content,
                operation=operation,
                method=method,
                path=path,
                secrets=all_secrets,
                oauth=oauth_errors,
                not_found=not_found,
            )
        if status >= 300:
            raise UnexpectedResponseError(
                f"{operation}: {method} {path} -> {status}: a redirect, not an API answer",
                operation=operation,
                method=method,
                path=path,
                status=status,
            )
        response.extensions["tackbridge.secrets"] = all_secrets
        response.extensions["tackbridge.operation"] = operation
        return response


def body_json(response: httpx2.Response) -> Any:
    """The decoded JSON body, ``_UNSET`` when the body is empty or not JSON."""
    if not response.content.strip():
        return _UNSET
    try:
        return response.json()
    except ValueError:
        return _UNSET


def is_unset(value: Any) -> bool:
    return value is _UNSET


def unexpected(response: httpx2.Response, reason: str) -> UnexpectedResponseError:
    """The error for a 2xx whose body we cannot use; a 202 means the firewall's challenge."""
    secrets: Sequence[str] = response.extensions.get("tackbridge.secrets", ())
    operation: str = response.extensions.get("tackbridge.operation", "thumbtack")
    method, path = response.request.method, response.request.url.path
    excerpt = scrub(response.content.decode("utf-8", errors="replace"), secrets)[:_EXCERPT]
    status = response.status_code
    cls = ChallengeError if status == 202 else UnexpectedResponseError
    what = "a firewall challenge, not an API answer" if status == 202 else reason
    return cls(
        f"{operation}: {method} {path} -> {status}: {what}",
        operation=operation,
        method=method,
        path=path,
        status=status,
        body_excerpt=excerpt,
    )


def parse_model(response: httpx2.Response, model: type[M], *, data: Any = _UNSET) -> M:
    """Validate the body as ``model``; any failure is an UnexpectedResponseError.

    Pydantic's messages quote the input (tokens included), so only field locations and error
    types are kept.
    """
    payload = body_json(response) if data is _UNSET else data
    if payload is _UNSET or payload is None:
        raise unexpected(response, "empty or non-JSON body")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['type']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise unexpected(response, f"unexpected {model.__name__} shape ({problems})") from None


def expect_no_body(response: httpx2.Response) -> None:
    """For endpoints documented as a bare 200/204: a 202 is never their success."""
    if response.status_code == 202:
        raise unexpected(response, "202")
