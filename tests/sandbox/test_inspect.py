"""The /_sandbox inspection and control endpoints and the human page."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.sandbox import Sandbox, is_problem, legacy_tokens


def test_summary_and_config_hide_secrets(sandbox: Sandbox) -> None:
    summary = sandbox.inspect("summary")
    assert {"leads", "messages", "deliveries", "scenario", "jobStatuses"} <= set(summary)
    config = sandbox.get("/_sandbox/config").text
    assert "dev-client-secret" not in config
    assert "dev-api-password" not in config
    assert "dev-coperniq-key" not in config
    assert sandbox.get("/_sandbox/config").json()["deliveryShapes"] == "real"


def test_delivery_shapes_can_be_changed(start: Callable[..., Sandbox]) -> None:
    sandbox = start()
    lead = sandbox.new_lead()
    assert "createdAt" in lead["lead"]
    assert "createTime" not in lead["lead"]
    is_problem(sandbox.put("/_sandbox/config/delivery-shapes", json={"shapes": "other"}), 400)
    changed = sandbox.put("/_sandbox/config/delivery-shapes", json={"shapes": "docs"})
    assert changed.json() == {"shapes": "docs"}
    assert sandbox.get("/_sandbox/config").json()["deliveryShapes"] == "docs"
    shown = sandbox.inspect(f"leads/{lead['leadID']}")["lead"]
    assert "createTime" in shown
    assert "createdAt" not in shown


@pytest.mark.parametrize("shapes", ["real", "docs"])
def test_control_creates_leads_messages_reviews(start: Callable[..., Sandbox], shapes: str) -> None:
    sandbox = start(delivery_shapes=shapes)
    lead = sandbox.new_lead(
        sandbox.business_ids()[0], categoryID="122681972262289742", leadType="INSTANT_BOOK"
    )
    # The documents put the category at the top too; real Thumbtack only under request.
    where = lead["lead"] if shapes == "docs" else lead["lead"]["request"]
    assert where["category"]["name"] == "Interior Painting"
    assert lead["lead"]["request"]["category"]["name"] == "Interior Painting"
    assert lead["lead"]["leadType"] == "INSTANT_BOOK"
    assert sandbox.inspect(f"leads/{lead['leadID']}")["leadID"] == lead["leadID"]
    message = sandbox.post(f"/_sandbox/leads/{lead['leadID']}/messages", json={"text": "hello"})
    assert message.status_code == 201
    assert message.json()["from"] == "Customer"
    [shown] = [
        m for m in sandbox.inspect("messages") if m["messageID"] == message.json()["messageID"]
    ]
    # Whole seconds as the wire has them, and the sandbox's own instant to the microsecond.
    assert shown["recordedAt"].startswith(shown["sentAt"][:-1])
    assert len(shown["recordedAt"]) == len("2026-11-23T12:00:00.000000Z")
    review = sandbox.post(f"/_sandbox/leads/{lead['leadID']}/reviews", json={"rating": 4})
    assert review.json()["rating"] == 4
    assert any(r["reviewID"] == review.json()["reviewID"] for r in sandbox.inspect("reviews"))
    test_lead = sandbox.new_lead(test=True)
    assert test_lead["isTest"]
    assert test_lead["lead"]["business"]["name"] == "Test Business for Webhooks"


def test_control_errors(sandbox: Sandbox) -> None:
    is_problem(sandbox.post("/_sandbox/leads", json={"businessID": "1"}), 404)
    is_problem(sandbox.post("/_sandbox/leads", json={"test": "yes"}), 400)
    is_problem(sandbox.post("/_sandbox/leads/1/messages", json={}), 404)
    lead = sandbox.new_lead()
    is_problem(
        sandbox.post(f"/_sandbox/leads/{lead['leadID']}/messages", json={"from": "Robot"}), 400
    )
    is_problem(
        sandbox.post(f"/_sandbox/leads/{lead['leadID']}/messages", json={"from": "Business"}), 400
    )
    is_problem(sandbox.post(f"/_sandbox/leads/{lead['leadID']}/reviews", json={"rating": 9}), 400)
    for seconds in (-1, 1e308, "60", None, True):
        is_problem(sandbox.post("/_sandbox/clock/advance", json={"seconds": seconds}), 400)
    nan = sandbox.post(
        "/_sandbox/clock/advance",
        content=b'{"seconds": NaN}',
        headers={"content-type": "application/json"},
    )
    is_problem(nan, 400)
    is_problem(sandbox.post("/_sandbox/businesses", json={}), 400)
    is_problem(sandbox.put("/_sandbox/coperniq/webhook", json={"url": "ftp://x"}), 400)
    is_problem(sandbox.post("/_sandbox/coperniq/opportunities/1/status", json={"status": "X"}), 400)


def test_businesses_show_connection(fresh: Sandbox) -> None:
    created = fresh.post("/_sandbox/businesses", json={"name": "Ana's Plumbing"}).json()
    assert not next(
        b for b in fresh.inspect("businesses") if b["businessID"] == created["businessID"]
    )["connected"]
    legacy_tokens(fresh, created["businessID"])
    assert next(b for b in fresh.inspect("businesses") if b["businessID"] == created["businessID"])[
        "connected"
    ]


def test_tokens_and_happenings(fresh: Sandbox) -> None:
    legacy_tokens(fresh, fresh.business_ids()[0])
    tokens = fresh.inspect("tokens")
    assert [c["usedAt"] is not None for c in tokens["codes"]] == [True]
    assert sorted(t["kind"] for t in tokens["tokens"]) == ["access", "refresh"]
    assert any("legacy tokens issued" in h["text"] for h in fresh.inspect("happenings"))


def test_human_page(sandbox: Sandbox) -> None:
    lead = sandbox.new_lead()
    page = sandbox.get("/_sandbox/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert lead["leadID"] in page.text
    assert "Create a lead now" in page.text
    assert sandbox.post("/_sandbox/ui/lead").status_code == 303
    assert sandbox.get("/").headers["location"] == "/_sandbox/"
    assert sandbox.get("/docs").status_code == 200
