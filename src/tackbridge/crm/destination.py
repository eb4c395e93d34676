"""Where a business's leads go: the ``Destination`` interface the outbox handlers call, and the
choice per business among ``coperniq``, ``webhook`` (signed, generic) and ``none``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx2
from pydantic import SecretStr

from tackbridge.crm.coperniq import CoperniqDestination, CoperniqSettings
from tackbridge.crm.coperniq_client import DEFAULT_BASE_URL, CoperniqClient
from tackbridge.crm.limiter import PER_DAY, PER_SECOND, shared_limiter
from tackbridge.crm.receipt import DeliveryReceipt
from tackbridge.crm.webhook import WebhookDestination
from tackbridge.jobstatus.from_crm import CrmStatusChange
from tackbridge.leads.models import LeadInput, LeadUpdated, MessageReceived, ReviewReceived

__all__ = [
    "DESTINATION_KINDS",
    "Destination",
    "DestinationConfig",
    "DestinationKind",
    "NoDestination",
    "build_destination",
]

DestinationKind = Literal["coperniq", "webhook", "none"]
DESTINATION_KINDS: tuple[DestinationKind, ...] = ("coperniq", "webhook", "none")


class Destination(Protocol):
    """Each call is one outbox job: safe to repeat with the same ``idempotency_key``; raises
    ``CrmRetryableError`` or ``CrmPermanentError`` (``crm.errors``) when it did not happen.

    ``first_try``: no earlier attempt of this job can have written anything, so a destination
    may skip the look-ups that make a repeat safe. ``record_id`` and ``customer_name``: what
    tackbridge already knows of the lead at this destination (the record it became), so a
    destination need not look them up.
    """

    kind: str

    async def deliver_lead(
        self, lead: LeadInput, *, idempotency_key: str, first_try: bool = False
    ) -> DeliveryReceipt: ...

    async def deliver_lead_update(
        self, update: LeadUpdated, *, idempotency_key: str
    ) -> DeliveryReceipt: ...

    async def deliver_message(
        self,
        message: MessageReceived,
        *,
        idempotency_key: str,
        first_try: bool = False,
        record_id: str | None = None,
        customer_name: str | None = None,
    ) -> DeliveryReceipt: ...

    async def deliver_review(
        self, review: ReviewReceived, *, idempotency_key: str
    ) -> DeliveryReceipt: ...

    async def deliver_status(
        self, change: CrmStatusChange, *, idempotency_key: str
    ) -> DeliveryReceipt: ...


class NoDestination:
    """``none``: the business keeps its leads in tackbridge only."""

    kind = "none"

    def _skip(self) -> DeliveryReceipt:
        return DeliveryReceipt(self.kind, None, "skipped")

    async def deliver_lead(
        self, lead: LeadInput, *, idempotency_key: str, first_try: bool = False
    ) -> DeliveryReceipt:
        return self._skip()

    async def deliver_lead_update(
        self, update: LeadUpdated, *, idempotency_key: str
    ) -> DeliveryReceipt:
        return self._skip()

    async def deliver_message(
        self,
        message: MessageReceived,
        *,
        idempotency_key: str,
        first_try: bool = False,
        record_id: str | None = None,
        customer_name: str | None = None,
    ) -> DeliveryReceipt:
        return self._skip()

    async def deliver_review(
        self, review: ReviewReceived, *, idempotency_key: str
    ) -> DeliveryReceipt:
        return self._skip()

    async def deliver_status(
        self, change: CrmStatusChange, *, idempotency_key: str
    ) -> DeliveryReceipt:
        return self._skip()


@dataclass(frozen=True)
class DestinationConfig:
    """One business's choice. Secrets are ``SecretStr`` so they never print."""

    kind: DestinationKind = "none"
    coperniq_api_key: SecretStr | None = None
    coperniq_base_url: str = DEFAULT_BASE_URL
    coperniq: CoperniqSettings = field(default_factory=CoperniqSettings)
    coperniq_requests_per_second: int = PER_SECOND
    coperniq_requests_per_day: int = PER_DAY
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None


def build_destination(
    config: DestinationConfig, *, http_client: httpx2.AsyncClient | None = None
) -> Destination:
    """The destination of ``config``; a ValueError naming the missing setting otherwise."""
    if config.kind == "none":
        return NoDestination()
    if config.kind == "coperniq":
        if config.coperniq_api_key is None or not config.coperniq_api_key.get_secret_value():
            raise ValueError("coperniq_api_key is required for the coperniq destination")
        limiter = shared_limiter(
            config.coperniq_api_key.get_secret_value(),
            config.coperniq_requests_per_second,
            config.coperniq_requests_per_day,
        )
        client = CoperniqClient(
            config.coperniq_api_key,
            base_url=config.coperniq_base_url,
            http_client=http_client,
            limiter=limiter,
        )
        return CoperniqDestination(client, config.coperniq)
    if config.kind == "webhook":
        if not config.webhook_url:
            raise ValueError("webhook_url is required for the webhook destination")
        if config.webhook_secret is None:
            raise ValueError("webhook_secret is required for the webhook destination")
        return WebhookDestination(
            config.webhook_url, config.webhook_secret, http_client=http_client
        )
    raise ValueError(f"destination kind must be one of {', '.join(DESTINATION_KINDS)}")
