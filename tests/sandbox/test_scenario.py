"""The scenario engine: reproducible lead content, traffic at a rate, customers who reply."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count

import pytest

from tackbridge.sandbox.scenario import make_lead
from tackbridge.sandbox.state import Business
from tests.support.sandbox import API_USER, Partner, Sandbox, basic, legacy_tokens, wait_until

BUSINESS = Business("1", "Robert's Remodeling", ["201565295100608806"])
NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _lead(seed: int, index: int) -> object:
    ids = count(10**17)
    lead = make_lead(seed=seed, index=index, ids=lambda: str(next(ids)), business=BUSINESS, now=NOW)
    return (
        lead.category_name,
        lead.description,
        lead.city,
        lead.lead_type,
        lead.details,
        lead.customer.name,
        lead.lead_price_cents,
        lead.schedule,
        lead.attachments,
    )


def test_same_seed_and_index_give_the_same_lead() -> None:
    assert _lead(7, 3) == _lead(7, 3)
    assert len({repr(_lead(7, i)) for i in range(20)}) == 20
    assert _lead(7, 3) != _lead(8, 3)


def test_leads_are_realistic() -> None:
    ids = count(10**17)
    for index in range(40):
        lead = make_lead(
            seed=1, index=index, ids=lambda: str(next(ids)), business=BUSINESS, now=NOW
        )
        assert len(lead.zip_code) == 5
        assert len(lead.state) == 2
        assert lead.details
        assert all(q and a for q, a in lead.details)
        assert len(lead.lead_id) == 18
        if lead.lead_type in ("INSTANT_BOOK", "BOOKING", "INSTANT_CONSULT", "SERVICE_CALL"):
            assert lead.address1
            assert lead.customer.phone


def test_scenario_runs_at_the_chosen_rate(start: Callable[..., Sandbox]) -> None:
    sb = start()
    bad = sb.post("/_sandbox/scenario/start", json={"rate": -1})
    assert bad.status_code == 400
    assert sb.post("/_sandbox/scenario/start", json={}).status_code == 400  # no rate configured
    assert sb.post("/_sandbox/scenario/start", json={"rate": 1200}).json()["running"] is True
    wait_until(lambda: len(sb.inspect("leads")) >= 3)
    assert sb.post("/_sandbox/scenario/stop").json()["running"] is False
    # The engine notes "scenario stopped" once its task has ended: no tick can come after it.
    wait_until(lambda: "scenario stopped" in _happened(sb))
    settled = len(sb.inspect("leads"))
    assert sb.inspect("scenario") == {"running": False, "rate": 1200}
    assert len(sb.inspect("leads")) == settled
    happened = _happened(sb)
    stopped = happened.index("scenario stopped")
    assert [t for t in happened[stopped:] if t.startswith("lead ")] == []
    assert settled == sum(1 for t in happened[:stopped] if t.endswith("(scenario)"))


def _happened(sb: Sandbox) -> list[str]:
    return [h["text"] for h in sb.inspect("happenings")]


def test_scenario_autostarts_from_config(start: Callable[..., Sandbox]) -> None:
    sb = start(lead_rate=1200.0, scenario_autostart=True)
    wait_until(lambda: len(sb.inspect("leads")) >= 2)


def test_customer_replies_to_the_pro(start: Callable[..., Sandbox], partner: Partner) -> None:
    sb = start(
        partner_url=partner.url, delivery_style="legacy", reply_rate=1.0, reply_delay_seconds=0.05
    )
    lead = sb.new_lead(leadType="PHONE_CONSULTATION")
    path = f"/v1/business/{lead['businessID']}/lead/{lead['leadID']}/message"
    assert (
        sb.post(path, json={"text": "Happy to help"}, headers=basic(*API_USER)).status_code == 200
    )
    received = partner.wait(2)
    reply = next(r for r in received if r.path == "/v1/message")
    assert reply.body["leadID"] == lead["leadID"]
    senders = [m["from"] for m in sb.inspect(f"messages?leadID={lead['leadID']}")]
    assert senders == ["Business", "Customer"]


def test_leads_go_to_connected_businesses_first(start: Callable[..., Sandbox]) -> None:
    sb = start()
    chosen = sb.business_ids()[1]
    legacy_tokens(sb, chosen)
    sb.post("/_sandbox/scenario/start", json={"rate": 1200})
    wait_until(lambda: len(sb.inspect("leads")) >= 3)
    sb.post("/_sandbox/scenario/stop")
    assert {lead["businessID"] for lead in sb.inspect("leads")} == {chosen}


@pytest.mark.parametrize("shapes", ["real", "docs"])
def test_same_seed_gives_the_same_traffic_over_http(
    start: Callable[..., Sandbox], shapes: str
) -> None:
    def first_leads(seed: int) -> list[object]:
        sb = start(seed=seed, delivery_shapes=shapes)
        business_id = sb.business_ids()[0]
        leads = [sb.new_lead(business_id)["lead"] for _ in range(3)]
        # Times come from the wall clock; everything else from the seed. The documents put
        # category and details at the top and name the customer for display; real Thumbtack
        # has them under request and names the customer first and last.
        if shapes == "docs":
            return [
                (
                    lead["category"],
                    lead["customer"]["displayName"],
                    lead["details"],
                    lead.get("location"),
                    lead.get("leadType"),
                )
                for lead in leads
            ]
        return [
            (
                lead["request"]["category"],
                (lead["customer"]["firstName"], lead["customer"]["lastName"]),
                lead["request"]["details"],
                lead.get("location"),
                lead.get("leadType"),
            )
            for lead in leads
        ]

    assert first_leads(11) == first_leads(11)
    assert first_leads(11) != first_leads(12)
