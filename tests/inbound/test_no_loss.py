"""No loss at the front door, across the delivery shapes (legacy and v4, the documents' and
real Thumbtack's): for any accepted delivery, a text, a customer name or an amount present in it
is visible afterwards at ``GET /api/leads/{id}``."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures import doc_payload, real_payload
from tests.support.tackbridge import RunningServer

_IDS = count(700_000_000_000_000_000)

WORDS = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=12)
TEXTS = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)
NAMES = st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=16)
CENTS = st.integers(min_value=1, max_value=10_000_000)

Delivery = tuple[str, dict[str, Any]]


def _money(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def _legacy(shape: str, lead_id: str, name: str, cents: int, text: str) -> list[Delivery]:
    lead = doc_payload("v2_lead")
    lead["leadID"] = lead_id
    lead["customer"]["name"] = name
    lead["leadPrice"] = _money(cents)
    lead["chargeState"] = "Charged"
    if shape == "docs":
        message = doc_payload("v2_message")
        message["message"]["text"] = text
        message["message"]["messageID"] = f"m-{lead_id}"
    else:
        message = real_payload("legacy_message_top_level")
        message["message"] = text
    message["leadID"] = lead_id
    return [("/v1/lead", lead), ("/v1/message", message)]


def _v4(shape: str, lead_id: str, name: str, cents: int, text: str) -> list[Delivery]:
    if shape == "docs":
        lead = doc_payload("v4_negotiation_created")
        lead["data"]["customer"]["displayName"] = name
        message = doc_payload("v4_message_created")
    else:
        lead = real_payload("v4_negotiation_created_real")
        lead["data"]["customer"]["firstName"] = name
        lead["data"]["leadPriceBreakdown"] = {"salesTax": "$0.00", "subtotal": _money(cents)}
        message = real_payload("v4_message_created_real")
        message["data"]["customer"]["displayName"] = name
    lead["data"]["negotiationID"] = lead_id
    lead["data"]["leadPrice"] = _money(cents)
    message["data"]["negotiationID"] = lead_id
    message["data"]["messageID"] = f"m-{lead_id}"
    message["data"]["text"] = text
    return [("/v4/webhooks", lead), ("/v4/webhooks", message)]


ROUTES: dict[str, Callable[[str, str, str, int, str], list[Delivery]]] = {
    "legacy": _legacy,
    "v4": _v4,
}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(sorted(ROUTES)),
    shape=st.sampled_from(["docs", "real"]),
    name=NAMES,
    cents=CENTS,
    text=TEXTS,
    message_first=st.booleans(),
)
def test_what_is_delivered_is_shown(
    server: RunningServer,
    route: str,
    shape: str,
    name: str,
    cents: int,
    text: str,
    message_first: bool,
) -> None:
    lead_id = str(next(_IDS))
    deliveries = ROUTES[route](shape, lead_id, name, cents, text)
    if message_first:
        deliveries.reverse()
    for path, body in deliveries:
        response = server.partner.post(path, json=body)
        assert response.status_code in (200, 202), response.text
    shown = server.lead(lead_id)
    assert shown["leadPrice"] == _money(cents)
    assert shown["leadPriceCents"] == cents
    assert [m["text"] for m in shown["messages"]] == [text]
    visible = json.dumps(shown["customer"], ensure_ascii=False)
    assert name in visible, (name, shown["customer"])
