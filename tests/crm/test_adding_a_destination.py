"""ARCHITECTURE.md's recipe for a new CRM destination, followed to the letter: a module declares a
``DestinationType`` (kind, options model, secret field, preset, factory), a registry lists it,
a business chooses it, and the real ``crm.lead`` job delivers a lead through it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import httpx2
import pytest
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import Connection

from tackbridge.crm import store
from tackbridge.crm.destination import DestinationType, Preset
from tackbridge.crm.destinations import (
    DESTINATION_TYPES,
    DestinationRegistry,
    destination_types,
    use_destination_types,
)
from tackbridge.crm.destinations.none import NoDestination
from tackbridge.crm.handlers import CRM_LEAD
from tackbridge.crm.receipt import DeliveryReceipt
from tackbridge.leads.models import LeadInput
from tackbridge.outbox.kinds import Registry
from tackbridge.runtime import Runtime
from tackbridge.settings import Settings
from tests.fixtures import doc_payload
from tests.support.tackbridge import make_settings, running

LEAD_ID = "299614694480093245"
BUSINESS_ID = "286845156044809661"  # the business of the v2_lead fixture
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


# The destination module: an options model, a factory, and its DestinationType.
class MemoryOptions(BaseModel):
    memoryLabel: str | None = Field(default=None, min_length=1)


class MemoryDestination(NoDestination):
    """Records what it is given (and what built it) instead of calling a CRM."""

    kind = "memory"
    delivered: ClassVar[list[tuple[str, str, str | None, str | None]]] = []

    def __init__(self, label: str | None, token: SecretStr | None) -> None:
        self.label = label
        self.token = token.get_secret_value() if token is not None else None

    async def deliver_lead(
        self, lead: LeadInput, *, idempotency_key: str, first_try: bool = False
    ) -> DeliveryReceipt:
        self.delivered.append((lead.lead_id, idempotency_key, self.label, self.token))
        return await super().deliver_lead(lead, idempotency_key=idempotency_key)


def _build(
    options: MemoryOptions,
    secret: SecretStr | None,
    http_client: httpx2.AsyncClient | None,
    settings: Settings,
) -> MemoryDestination:
    return MemoryDestination(options.memoryLabel, secret)


MEMORY: DestinationType[MemoryOptions] = DestinationType(
    kind="memory",
    options=MemoryOptions,
    preset=lambda settings: Preset(MemoryOptions(memoryLabel="from-settings")),
    build=_build,
    secret_field="memoryToken",
)

# The registry entry.
TYPES = DestinationRegistry(*DESTINATION_TYPES, MEMORY)


def test_the_registry_makes_its_api_models_of_every_type() -> None:
    body = TYPES.request_model.model_validate(
        {"kind": "memory", "memoryLabel": "crm-a", "memoryToken": "t0ken"}
    )
    choice = TYPES.choice(body)
    assert (choice.kind, choice.options["memoryLabel"]) == ("memory", "crm-a")
    assert choice.secret is not None
    assert choice.secret.get_secret_value() == "t0ken"
    assert "memory" not in DESTINATION_TYPES  # the product's registry is left alone
    with pytest.raises(ValueError, match="memoryLabel"):
        TYPES.request_model.model_validate({"kind": "memory", "memoryLabel": ""})


async def test_a_lead_reaches_a_destination_added_the_documented_way(tmp_path: Path) -> None:
    MemoryDestination.delivered.clear()
    settings = make_settings(tmp_path, secret_key="k" * 40)
    runtime = Runtime.open(settings, registry=Registry.of([CRM_LEAD]))
    use_destination_types(runtime.services, TYPES)
    runtime.start()
    try:
        services = runtime.services
        body = TYPES.request_model.model_validate(
            {"kind": "memory", "memoryLabel": "crm-a", "memoryToken": "t0ken"}
        )
        box = services.box()

        def choose(conn: Connection) -> None:
            store.save_destination(conn, BUSINESS_ID, TYPES.choice(body), box, NOW)

        await services.writer.run(choose)
        with services.db.reader.connect() as conn:
            shown = store.describe_destination(
                conn, BUSINESS_ID, settings, services.box, destination_types(services)
            ).model_dump()
        assert shown["kind"] == "memory"
        assert (shown["memoryLabel"], shown["secretSet"], shown["inherited"]) == (
            "crm-a",
            True,
            False,
        )
        # The lead arrives as Thumbtack sends it, once its business has a destination (a lead
        # of a business without one queues no CRM job).
        with running(settings) as server:
            assert server.partner.post("/v1/lead", json=doc_payload("v2_lead")).status_code == 200
        assert await runtime.new_worker().drain() == 1
        with services.db.reader.connect() as conn:
            link = store.link_of_lead(conn, LEAD_ID)
    finally:
        await runtime.aclose()
        runtime.close()
    assert MemoryDestination.delivered == [(LEAD_ID, f"crm.lead:{LEAD_ID}", "crm-a", "t0ken")]
    assert link == store.Link(LEAD_ID, "memory", None, "skipped")
