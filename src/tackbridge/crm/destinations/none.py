"""The ``none`` destination: the business keeps its leads in tackbridge only. No options, no
secret; the registry's fallback when the settings set no destination up."""

from __future__ import annotations

import httpx2
from pydantic import BaseModel, SecretStr

from tackbridge.crm.destination import DestinationType, Preset
from tackbridge.crm.receipt import DeliveryReceipt
from tackbridge.jobstatus.from_crm import CrmStatusChange
from tackbridge.leads.models import LeadInput, LeadUpdated, MessageReceived, ReviewReceived
from tackbridge.settings import Settings

__all__ = ["NONE", "NoDestination", "NoOptions"]


class NoDestination:
    """Every delivery is skipped (and recorded so: the lead's link says ``skipped``)."""

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


class NoOptions(BaseModel):
    pass


def _build(
    options: NoOptions,
    secret: SecretStr | None,
    http_client: httpx2.AsyncClient | None,
    settings: Settings,
) -> NoDestination:
    return NoDestination()


NONE: DestinationType[NoOptions] = DestinationType(
    kind="none",
    options=NoOptions,
    preset=lambda settings: Preset(NoOptions()),
    build=_build,
)
