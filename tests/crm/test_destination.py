"""Building a business's destination through the registry: coperniq, webhook or none, and the
settings each needs."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from tackbridge.crm.destination import Destination, DestinationConfig
from tackbridge.crm.destinations import DESTINATION_TYPES
from tackbridge.crm.destinations.coperniq import CoperniqDestination
from tackbridge.crm.destinations.none import NoDestination
from tackbridge.crm.destinations.webhook import WebhookDestination
from tackbridge.leads.models import LeadInput
from tackbridge.settings import Settings

SECRET = SecretStr("whsec_" + base64.b64encode(b"k" * 32).decode())
SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]


def config(kind: str, settings: Settings = SETTINGS, **given: object) -> DestinationConfig:
    """``kind`` as a business choosing ``given`` (API fields) would have it."""
    secret = given.pop("secret", None)
    assert secret is None or isinstance(secret, SecretStr)
    return DESTINATION_TYPES.config(kind, settings, stored=given, secret=secret)


def build_destination(choice: DestinationConfig, settings: Settings = SETTINGS) -> Destination:
    return DESTINATION_TYPES.build(choice, settings)


async def test_each_kind_builds_its_destination() -> None:
    none = build_destination(config("none"))
    assert isinstance(none, NoDestination)
    receipt = await none.deliver_lead(LeadInput(lead_id="1"), idempotency_key="k")
    assert receipt.outcome == "skipped"
    coperniq = build_destination(config("coperniq", secret=SecretStr("abc-key")))
    assert isinstance(coperniq, CoperniqDestination)
    assert "abc-key" not in repr(coperniq.client)
    hook = build_destination(config("webhook", webhookUrl="https://x.example/h", secret=SECRET))
    assert isinstance(hook, WebhookDestination)
    await coperniq.client.aclose()
    await hook.aclose()


async def test_a_coperniq_key_is_paced_at_the_configured_limits() -> None:
    paced = Settings(  # type: ignore[call-arg]
        _env_file=None, coperniq_requests_per_second=7, coperniq_requests_per_day=70
    )
    choice = config("coperniq", paced, secret=SecretStr("limits-key"))
    coperniq = build_destination(choice, paced)
    assert isinstance(coperniq, CoperniqDestination)
    assert (coperniq.client.limiter.per_second, coperniq.client.limiter.per_day) == (7, 70)
    # Every client of one key (and limits) in the process shares the same budget.
    again = build_destination(choice, paced)
    assert isinstance(again, CoperniqDestination)
    assert again.client.limiter is coperniq.client.limiter
    await coperniq.client.aclose()
    await again.client.aclose()


@pytest.mark.parametrize(
    ("choice", "missing"),
    [
        (config("coperniq"), "coperniq_api_key"),
        (
            DestinationConfig("coperniq", config("coperniq").options, SecretStr("")),
            "coperniq_api_key",
        ),
        (config("webhook", secret=SECRET), "webhook_url"),
        (config("webhook", webhookUrl="https://x.example/h"), "webhook_secret"),
        (DestinationConfig("carrier-pigeon"), "destination kind must be one of"),
    ],
)
def test_missing_settings_are_named(choice: DestinationConfig, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        build_destination(choice)
