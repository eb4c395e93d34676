"""The generic destination (kind ``webhook``): each lead, lead update, message, review and job
status event is POSTed as JSON, signed per Standard Webhooks (https://www.standardwebhooks.com),
so Zapier, n8n or any other tool can consume it.

Headers: ``webhook-id`` (the outbox idempotency key, so a retry carries the same id and the
receiver can deduplicate), ``webhook-timestamp`` (seconds, when this attempt is sent) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with the
bytes of the ``whsec_`` base64 secret). The body is ``{"type", "timestamp", "data"}``.

``WEBHOOK`` declares it to the registry: a business may set ``webhookUrl`` and its own
``webhookSecret``; ``TACKBRIDGE_WEBHOOK_DESTINATION_URL``/``_SECRET`` are the defaults.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx2
from pydantic import BaseModel, Field, SecretStr

from tackbridge.core.redact import redact_url
from tackbridge.crm.destination import DestinationType, Preset
from tackbridge.crm.errors import (
    CrmNetworkError,
    CrmServerError,
    WebhookRejectedError,
)
from tackbridge.crm.receipt import DeliveryReceipt
from tackbridge.jobstatus.from_crm import CrmStatusChange
from tackbridge.leads.models import LeadInput, LeadUpdated, MessageReceived, ReviewReceived
from tackbridge.settings import Settings
from tackbridge.thumbtack.errors import parse_retry_after

__all__ = [
    "SECRET_PREFIX",
    "WEBHOOK",
    "WebhookAnswer",
    "WebhookDestination",
    "WebhookOptions",
    "decode_secret",
    "sign",
    "signature_headers",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
DEFAULT_TIMEOUT = 15.0
USER_AGENT = "tackbridge-webhooks/1"


def decode_secret(secret: str | SecretStr) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; a clear error (never echoing it) if bad."""
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not raw.startswith(SECRET_PREFIX):
        raise ValueError(f"the webhook secret must start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(raw[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not valid base64 after whsec_") from None
    if len(key) < 24:
        raise ValueError("the webhook secret must hold at least 24 random bytes")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    if not msg_id or not (msg_id.isascii() and msg_id.isprintable()):
        raise ValueError("a webhook id must be non-empty printable ASCII")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
    }


def _plain(value: Any) -> Any:
    """JSON-ready copy of the domain records (dataclasses, datetimes, enums, tuples)."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def lead_data(lead: LeadInput) -> dict[str, Any]:
    data: dict[str, Any] = _plain(lead)
    data["inbox_link"] = lead.inbox_link
    return data


class WebhookDestination:
    kind = "webhook"

    def __init__(
        self,
        url: str,
        secret: str | SecretStr,
        *,
        http_client: httpx2.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the webhook URL must be an absolute http(s) URL")
        self._url = url
        # Receiver URLs often embed a token (Zapier, n8n): messages name only the host.
        self._where = f"webhook {parts.scheme}://{parts.hostname}"
        self._key = decode_secret(secret)
        self._owns_client = http_client is None
        self._client = http_client or httpx2.AsyncClient(timeout=timeout, follow_redirects=False)
        self._clock = clock

    def __repr__(self) -> str:
        return f"WebhookDestination({self._where!r})"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send(
        self, event_type: str, data: Mapping[str, Any], *, idempotency_key: str
    ) -> DeliveryReceipt:
        now = self._clock()
        body = json.dumps(
            {
                "type": event_type,
                "timestamp": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
                "data": _plain(data),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        headers = signature_headers(self._key, idempotency_key, int(now), body)
        headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
        where = f"{self._where} {event_type}"
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx2.TimeoutException:
            raise CrmNetworkError(f"{where}: timed out") from None
        except httpx2.TransportError as exc:
            raise CrmNetworkError(f"{where}: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return DeliveryReceipt("webhook", idempotency_key, "sent")
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status in (408, 409, 425, 429) or status >= 500:
            raise CrmServerError(
                f"{where}: receiver answered {status}", status=status, retry_after=retry_after
            )
        raise WebhookRejectedError(f"{where}: receiver answered {status}", status=status)

    async def deliver_lead(
        self, lead: LeadInput, *, idempotency_key: str, first_try: bool = False
    ) -> DeliveryReceipt:
        return await self.send("lead.received", lead_data(lead), idempotency_key=idempotency_key)

    async def deliver_lead_update(
        self, update: LeadUpdated, *, idempotency_key: str
    ) -> DeliveryReceipt:
        data = _plain(update)
        data["fields"] = sorted(update.fields)
        return await self.send("lead.updated", data, idempotency_key=idempotency_key)

    async def deliver_message(
        self,
        message: MessageReceived,
        *,
        idempotency_key: str,
        first_try: bool = False,
        record_id: str | None = None,
        customer_name: str | None = None,
    ) -> DeliveryReceipt:
        return await self.send("message.received", _plain(message), idempotency_key=idempotency_key)

    async def deliver_review(
        self, review: ReviewReceived, *, idempotency_key: str
    ) -> DeliveryReceipt:
        return await self.send("review.received", _plain(review), idempotency_key=idempotency_key)

    async def deliver_status(
        self, change: CrmStatusChange, *, idempotency_key: str
    ) -> DeliveryReceipt:
        data = _plain(change)
        return await self.send("job_status.changed", data, idempotency_key=idempotency_key)


class WebhookOptions(BaseModel):
    webhookUrl: str | None = Field(default=None, pattern=r"^https?://[^/\s]+")


class WebhookAnswer(BaseModel):
    # Not held to the request's pattern: the default URL comes from the settings.
    webhookUrl: str | None = None


def _preset(settings: Settings) -> Preset[WebhookOptions]:
    return Preset(
        WebhookOptions.model_construct(webhookUrl=settings.webhook_destination_url),
        secret=settings.webhook_destination_secret,
        configured=bool(settings.webhook_destination_url),
    )


def _build(
    options: WebhookOptions,
    secret: SecretStr | None,
    http_client: httpx2.AsyncClient | None,
    settings: Settings,
) -> WebhookDestination:
    if not options.webhookUrl:
        raise ValueError("webhook_url is required for the webhook destination")
    if secret is None:
        raise ValueError("webhook_secret is required for the webhook destination")
    return WebhookDestination(options.webhookUrl, secret, http_client=http_client)


def _show(options: WebhookOptions, active: bool) -> dict[str, str | None]:
    # Another kind's answer never names a URL, even one the request carried; the URL is shown
    # without its userinfo and query secrets (a receiver's token often rides there).
    url = options.webhookUrl
    return {"webhookUrl": redact_url(url) if active and url else None}


WEBHOOK: DestinationType[WebhookOptions] = DestinationType(
    kind="webhook",
    options=WebhookOptions,
    preset=_preset,
    build=_build,
    secret_field="webhookSecret",  # noqa: S106 - a field name, not a secret
    required=("webhookUrl",),
    answer=WebhookAnswer,
    show=_show,
)
