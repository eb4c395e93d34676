"""Choosing a business's destination: coperniq, webhook or none, and the settings each needs."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from tackbridge.crm.coperniq import CoperniqDestination
from tackbridge.crm.destination import DestinationConfig, NoDestination, build_destination
from tackbridge.crm.webhook import WebhookDestination
from tackbridge.leads.models import LeadInput

SECRET = SecretStr("whsec_" + base64.b64encode(b"k" * 32).decode())


async def test_each_kind_builds_its_destination() -> None:
    none = build_destination(DestinationConfig())
    assert isinstance(none, NoDestination)
    receipt = await none.deliver_lead(LeadInput(lead_id="1"), idempotency_key="k")
    assert receipt.outcome == "skipped"
    coperniq = build_destination(
        DestinationConfig(kind="coperniq", coperniq_api_key=SecretStr("abc-key"))
    )
    assert isinstance(coperniq, CoperniqDestination)
    assert "abc-key" not in repr(coperniq.client)
    hook = build_destination(
        DestinationConfig(kind="webhook", webhook_url="https://x.example/h", webhook_secret=SECRET)
    )
    assert isinstance(hook, WebhookDestination)
    await coperniq.client.aclose()
    await hook.aclose()


async def test_a_coperniq_key_is_paced_at_the_configured_limits() -> None:
    config = DestinationConfig(
        kind="coperniq",
        coperniq_api_key=SecretStr("limits-key"),
        coperniq_requests_per_second=7,
        coperniq_requests_per_day=70,
    )
    coperniq = build_destination(config)
    assert isinstance(coperniq, CoperniqDestination)
    assert (coperniq.client.limiter.per_second, coperniq.client.limiter.per_day) == (7, 70)
    # Every client of one key (and limits) in the process shares the same budget.
    again = build_destination(config)
    assert isinstance(again, CoperniqDestination)
    assert again.client.limiter is coperniq.client.limiter
    await coperniq.client.aclose()
    await again.client.aclose()


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        (DestinationConfig(kind="coperniq"), "coperniq_api_key"),
        (DestinationConfig(kind="coperniq", coperniq_api_key=SecretStr("")), "coperniq_api_key"),
        (DestinationConfig(kind="webhook", webhook_secret=SECRET), "webhook_url"),
        (DestinationConfig(kind="webhook", webhook_url="https://x.example/h"), "webhook_secret"),
    ],
)
def test_missing_settings_are_named(config: DestinationConfig, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        build_destination(config)
