"""The product against its sandbox, both on real loopback ports, as `make run` wires them: a
pro connects through the sandbox's OAuth consent page, the sandbox delivers a lead, and
tackbridge has stored it."""

from __future__ import annotations

from tests.e2e.conftest import Stack
from tests.support.sandbox import wait_until


def test_connect_through_consent_then_a_delivered_lead_is_stored(stack: Stack) -> None:
    businesses = stack.sandbox.get("/_sandbox/businesses").json()
    chosen = businesses[1]["businessID"]

    connected = stack.connect(chosen)

    assert connected == chosen
    [connection] = [
        c
        for c in stack.operator.get("/api/connections").json()["items"]
        if c["businessID"] == chosen
    ]
    assert connection["state"] == "active"
    assert "accessToken" not in connection
    assert "refreshToken" not in connection
    issued = stack.sandbox.get("/_sandbox/tokens").json()["tokens"]
    assert any(t["businessID"] == chosen and t["grant"] for t in issued), issued

    created = stack.sandbox.post("/_sandbox/leads", json={"businessID": chosen})
    assert created.status_code == 201, created.text
    lead_id = created.json()["leadID"]

    wait_until(lambda: stack.lead(lead_id) is not None, timeout=15)
    lead = stack.lead(lead_id)
    assert lead is not None
    assert lead["business"]["businessID"] == chosen
    sent = stack.sandbox.get("/_sandbox/deliveries", params={"kind": "lead"}).json()
    mine = [d for d in sent if d["recordID"] == lead_id]
    assert mine, sent
    assert all(d["attempts"][-1]["statusCode"] == 200 for d in mine), mine
