"""v4 webhooks of a business: create/update bodies with their auth (``WebhookBasicAuth``,
``WebhookHeaderAuth``), the registered ``Webhook`` and its page, and the default event types."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from ._base import IdStr, WireSecret, _Request, _Response
from .pagination import _Page

__all__ = [
    "DEFAULT_BUSINESS_EVENT_TYPES",
    "Webhook",
    "WebhookAuth",
    "WebhookBasicAuth",
    "WebhookCreate",
    "WebhookHeaderAuth",
    "WebhookPage",
    "WebhookUpdate",
]

DEFAULT_BUSINESS_EVENT_TYPES: tuple[str, ...] = ("NegotiationCreatedV4", "MessageCreatedV4")

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _check_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError("webhookURL must be an absolute URL")
    # Thumbtack requires https; plain http is let through only for a local sandbox.
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ValueError("webhookURL must use https")
    return url


class WebhookBasicAuth(_Request):
    """Thumbtack calls the webhook with HTTP Basic ``username:password``."""

    username: str = Field(min_length=1)
    password: WireSecret


class WebhookHeaderAuth(_Request):
    """Thumbtack sends a custom header with every delivery.

    The field names are not in our documents (only "a custom header name/value" is); they are
    kept in this one model so a correction is a one-line change.
    """

    headerName: str = Field(min_length=1)
    headerValue: WireSecret


WebhookAuth = WebhookBasicAuth | WebhookHeaderAuth


class WebhookCreate(_Request):
    """Body of ``POST /api/v4/businesses/{businessID}/webhooks``; ``auth=None`` is no auth.

    There is no signature on deliveries: the shared secret in ``auth`` is the only proof, so
    a webhook without auth should stay a development convenience.
    """

    webhookURL: str
    eventTypes: list[str] = Field(min_length=1)
    enabled: bool = True
    auth: WebhookAuth | None = None

    @field_validator("webhookURL")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_webhook_url(value)


class WebhookUpdate(_Request):
    """Body of ``PUT /api/v4/businesses/{businessID}/webhooks/{webhookID}``; unset fields are
    left out of the body."""

    webhookURL: str | None = None
    eventTypes: list[str] | None = Field(default=None, min_length=1)
    enabled: bool | None = None
    auth: WebhookAuth | None = None

    @field_validator("webhookURL")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_webhook_url(value)


class Webhook(_Response):
    """A registered webhook as Thumbtack returns it (the secret is never echoed back)."""

    webhookID: IdStr
    webhookURL: str | None = None
    enabled: bool | None = None
    authType: str | None = None
    businessID: IdStr | None = None
    userID: IdStr | None = None
    eventTypes: list[str] = Field(default_factory=list)


class WebhookPage(_Page):
    data: list[Webhook]
