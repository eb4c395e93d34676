"""The long-lived parts one tackbridge process shares, as every feature sees them.

One :class:`Services` per process: the settings, the store and its writer, the one Thumbtack
client, the HTTP client of the CRM calls, the grants of every business, the box that seals
secrets, and a way to wake the worker. The runtime (at the top) builds it; routes reach it with
:func:`services`, job handlers are built from it, and ``shared`` keeps per-process state a
feature owns (a cache, a client per API key) without a global.

Operator routes depend on :func:`require_operator` (``TACKBRIDGE_API_TOKEN``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx2
from fastapi import HTTPException, Request

from tackbridge.core.http import AiohttpTransport
from tackbridge.core.metrics import REFUSALS
from tackbridge.core.netguard import AddressPolicy, GuardedResolver, GuardedTransport
from tackbridge.core.throttle import FailureThrottle, retry_after
from tackbridge.settings import Settings
from tackbridge.store.database import Database
from tackbridge.store.secrets import SecretBox, load_box
from tackbridge.store.writer import Writer
from tackbridge.thumbtack import ClientCredentials, Environment, ThumbtackClient
from tackbridge.thumbtack.grants import GrantSource

__all__ = [
    "OPERATOR_ACCOUNT",
    "NotConfiguredError",
    "Services",
    "client_address",
    "client_credentials",
    "destination_policy",
    "open_http",
    "open_thumbtack",
    "require_operator",
    "secret_value",
    "services",
    "thumbtack_environment",
    "v1_credentials",
]

T = TypeVar("T")

#: The account the operator token's failures count against (there is one token).
OPERATOR_ACCOUNT = "operator"


class NotConfiguredError(RuntimeError):
    """A setting a feature needs is missing or wrong."""


def secret_value(value: Any) -> str | None:
    """The plaintext of a setting that may hold a SecretStr or, after ``model_copy``, a str."""
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    text = str(reveal() if callable(reveal) else value)
    return text or None


def thumbtack_environment(settings: Settings) -> Environment:
    try:
        return Environment.from_name(
            str(settings.thumbtack_environment), base_url=settings.thumbtack_base_url
        )
    except ValueError as exc:
        raise NotConfiguredError(f"TACKBRIDGE_THUMBTACK_ENVIRONMENT: {exc}") from None


def client_credentials(settings: Settings) -> ClientCredentials | None:
    """Our OAuth client at Thumbtack (connect, refresh, disconnect)."""
    secret = secret_value(settings.thumbtack_client_secret)
    if not settings.thumbtack_client_id or secret is None:
        return None
    return ClientCredentials(settings.thumbtack_client_id, secret)


def v1_credentials(settings: Settings) -> ClientCredentials | None:
    """The partner's v1 username/password: v1 Basic replies for businesses without an OAuth
    connection."""
    password = secret_value(settings.thumbtack_api_password)
    if not settings.thumbtack_api_username or password is None:
        return None
    return ClientCredentials(settings.thumbtack_api_username, password)


def open_thumbtack(settings: Settings, **client: Any) -> ThumbtackClient:
    """The process's one Thumbtack client (``client`` goes to ThumbtackClient, e.g. a
    transport in tests); its calls go over aiohttp's pool (``AiohttpTransport``)."""
    if "http_client" not in client and "transport" not in client:
        client["transport"] = AiohttpTransport()
    return ThumbtackClient(
        thumbtack_environment(settings),
        credentials=client_credentials(settings),
        v1_credentials=v1_credentials(settings),
        **client,
    )


def destination_policy(settings: Settings) -> AddressPolicy:
    """Where the CRM calls may go (``core.netguard``): the URLs the environment sets are
    trusted, ``TACKBRIDGE_DESTINATION_ALLOWED_HOSTS`` are allowed, dev mode allows anything."""
    return AddressPolicy.of(
        allowed=settings.destination_allowed_host_list,
        trusted_urls=(
            settings.coperniq_base_url,
            settings.webhook_destination_url,
            settings.thumbtack_base_url,
        ),
        open=settings.is_dev,
    )


def open_http(settings: Settings | None = None) -> httpx2.AsyncClient:
    """The HTTP client of the CRM calls, over aiohttp's pool (``AiohttpTransport``: half the
    CPU per call of httpcore's, which would also scan and probe every pooled socket per
    request). With ``settings`` (as a process runs) its calls go only where
    ``destination_policy`` allows, checked as they connect (``GuardedResolver``); without (a
    test's client), anywhere."""
    if settings is None:
        return httpx2.AsyncClient(timeout=30.0, transport=AiohttpTransport())
    policy = destination_policy(settings)
    inner = AiohttpTransport(resolver=lambda: GuardedResolver(policy))
    return httpx2.AsyncClient(timeout=30.0, transport=GuardedTransport(inner, policy))


def _no_wake() -> None:
    return None


@dataclass
class Services:
    settings: Settings
    db: Database
    writer: Writer
    thumbtack: ThumbtackClient
    http: httpx2.AsyncClient
    # Who hands out each business's access token (the connections feature); None: no OAuth.
    grants: GrantSource | None = None
    wake: Callable[[], None] = _no_wake
    box_loader: Callable[[], SecretBox] | None = None
    _box: SecretBox | None = field(default=None, repr=False)
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def has_v1(self) -> bool:
        """Whether v1 Basic replies can be sent (the partner's v1 credentials are set)."""
        return v1_credentials(self.settings) is not None

    def box(self) -> SecretBox:
        """The box sealing secrets at rest; loaded on first use, so a missing key only matters
        to what needs one (raises ``MissingSecretKeyError``)."""
        if self._box is None:
            self._box = (self.box_loader or (lambda: load_box(self.settings)))()
        return self._box

    def shared(self, name: str, build: Callable[[], T]) -> T:
        """Per-process state a feature owns, built once under ``name``."""
        if name not in self._shared:
            self._shared[name] = build()
        return cast(T, self._shared[name])

    def throttle(self, surface: str) -> FailureThrottle:
        """The process's slowing of credential failures on one surface (``partner``,
        ``operator``, ``coperniq``, ``dashboard``...), configured by ``TACKBRIDGE_AUTH_*``."""
        settings = self.settings
        return self.shared(
            f"throttle.{surface}",
            lambda: FailureThrottle(
                allowed=settings.auth_failures_allowed,
                window=settings.auth_failure_window_seconds,
                max_wait=settings.auth_lockout_max_seconds,
            ),
        )

    def wake_worker(self) -> None:
        self.wake()

    async def aclose(self) -> None:
        """Close the network clients."""
        await self.thumbtack.aclose()
        await self.http.aclose()


def services(request: Request) -> Services:
    """The process's Services, as the application holds them."""
    found: Services = request.app.state.services
    return found


def client_address(request: Request) -> str | None:
    """The peer's address (the real client's behind a proxy uvicorn is told to trust)."""
    return request.client.host if request.client else None


def require_operator(request: Request) -> None:
    """Bearer-token protection of the operator API (``TACKBRIDGE_API_TOKEN``); repeated wrong
    tokens are slowed per client and for the one operator account (429 with Retry-After)."""
    svc = services(request)
    token = svc.settings.api_token
    throttle = svc.throttle("operator")
    client = client_address(request)
    wait = throttle.check(client, OPERATOR_ACCOUNT)
    if wait:
        REFUSALS.labels("operator", "too-many-failures").inc()
        raise HTTPException(
            status_code=429,
            detail=f"too many wrong operator tokens; retry after {retry_after(wait)} s",
            headers={"Retry-After": retry_after(wait)},
        )
    authorization = request.headers.get("authorization", "")
    scheme, _, presented = authorization.partition(" ")
    if (
        token is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(presented.strip().encode(), token.get_secret_value().encode())
    ):
        if authorization:  # a request without credentials is not a guess
            throttle.failure(client, OPERATOR_ACCOUNT)
        REFUSALS.labels("operator", "unauthorized").inc()
        raise HTTPException(
            status_code=401,
            detail="a valid operator API token is required (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": 'Bearer realm="tackbridge"'},
        )
    throttle.success(client, OPERATOR_ACCOUNT)
