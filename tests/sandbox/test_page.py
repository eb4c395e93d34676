"""The human page at /_sandbox/: it shows what happened on both sides, escapes everything it
shows, keeps secrets off the page, and lets a person move a Coperniq opportunity (which fires the
same automation webhooks as the API)."""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.sandbox import (
    COPERNIQ_KEY,
    Partner,
    Sandbox,
    bearer,
    is_problem,
    legacy_tokens,
    v4_tokens,
    wait_until,
)

EVIL = '<script>alert("x")</script>'
HOOK_SECRET = "hook-secret-8d1f"


def _opportunity(sb: Sandbox, title: str, **extra: Any) -> dict[str, Any]:
    created = sb.post(
        "/coperniq/v1/opportunities",
        json={
            # A unique title: opportunities match by title, and the module shares one sandbox.
            "title": f"{title} {secrets.token_hex(4)}",
            "address": ["1 Main St, Austin, TX 78701"],
            "trades": ["Remodeling"],
            **extra,
        },
        headers=COPERNIQ_KEY,
    )
    assert created.status_code in (200, 201), created.text
    body: dict[str, Any] = created.json()
    return body


def _section(page: str, heading: str) -> str:
    """The part of the page under one <h2>."""
    start = page.index(f"<h2>{heading}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start : end if end != -1 else len(page)]


def _page(sb: Sandbox) -> str:
    answer = sb.get("/_sandbox/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def test_page_escapes_what_partners_and_customers_wrote(sandbox: Sandbox) -> None:
    business = sandbox.post("/_sandbox/businesses", json={"name": EVIL + " Plumbing"})
    assert business.status_code == 201, business.text
    business_id = business.json()["businessID"]
    lead = sandbox.new_lead(business_id)
    tokens = legacy_tokens(sandbox, business_id, "messages")
    path = f"/v2/business/{business_id}/lead/{lead['leadID']}/message"
    sent = sandbox.post(path, json={"text": "Hi " + EVIL}, headers=bearer(tokens["access_token"]))
    assert sent.status_code == 200, sent.text
    _opportunity(sandbox, "Deck " + EVIL)

    page = _page(sandbox)
    assert EVIL not in page
    assert "<script" not in page
    escaped = html.escape(EVIL)
    assert escaped + " Plumbing" in _section(page, "Businesses")
    assert "Hi " + escaped in _section(page, "Messages")
    assert "Deck " + escaped in _section(page, "Coperniq opportunities")


def test_page_escapes_the_host_header(sandbox: Sandbox) -> None:
    host = 'x"><img src=y onerror=alert(1)>'
    answer = sandbox.get("/_sandbox/", headers={"Host": host})
    assert answer.status_code in (200, 400)
    assert "<img" not in answer.text


def test_page_shows_tokens_webhooks_job_statuses_and_deliveries(
    start: Callable[..., Sandbox], partner: Partner
) -> None:
    sb = start(partner_url=partner.url)
    business_id = sb.business_ids()[0]
    legacy = legacy_tokens(sb, business_id)
    v4 = v4_tokens(sb, business_id)
    auth = bearer(v4["access_token"])
    hook = sb.post(
        f"/api/v4/businesses/{business_id}/webhooks",
        json={
            "webhookURL": "https://partner.example/hooks/v4",
            "eventTypes": ["NegotiationCreatedV4"],
            "auth": {"type": "basic", "username": "u", "password": "webhook-password-77"},
        },
        headers=auth,
    )
    assert hook.status_code == 201, hook.text
    lead = sb.new_lead(business_id)
    status = sb.post(
        f"/api/v4/negotiations/{lead['leadID']}/job-status",
        json={"status": "appt_scheduled", "partnerStatusChangedAt": "2026-06-14T09:30:00Z"},
        headers=auth,
    )
    assert status.status_code == 200, status.text
    refreshed = sb.post(
        "/v2/tokens/access",
        params={
            "grant_type": "refresh_token",
            "refresh_token": legacy["refresh_token"],
            "token_type": "REFRESH",
        },
        auth=("tackbridge-dev", "dev-client-secret"),
    )
    assert refreshed.status_code == 200, refreshed.text
    partner.wait(1)
    wait_until(lambda: any(d["status"] == "delivered" for d in sb.deliveries()))

    page = _page(sb)
    tokens = _section(page, "Tokens issued and spent")
    spent = hashlib.sha256(legacy["refresh_token"].encode()).hexdigest()[:16]
    assert spent in tokens
    spent_row = next(row for row in tokens.split("<tr>") if spent in row)
    assert re.search(r"<td>\d{4}-\d\d-\d\dT[^<]*Z</td><td></td></tr>", spent_row), spent_row
    for secret in (legacy["access_token"], legacy["refresh_token"], v4["access_token"]):
        assert secret not in page
    assert "webhook-password-77" not in page
    webhooks = _section(page, "Webhooks registered")
    assert "https://partner.example/hooks/v4" in webhooks
    assert hook.json()["webhookID"] in webhooks
    statuses = _section(page, "Job statuses received")
    assert lead["leadID"] in statuses
    assert "appt_scheduled" in statuses
    deliveries = _section(page, "Deliveries")
    assert partner.url in deliveries
    assert "delivered" in deliveries


def test_moving_an_opportunity_on_the_page_fires_automations(
    start: Callable[..., Sandbox], partner: Partner
) -> None:
    sb = start(coperniq_webhook_url=f"{partner.url}/coperniq/{HOOK_SECRET}")
    created = _opportunity(sb, "Bathroom refresh", workflowId=1)
    partner.wait(1)  # REQUEST_CREATED
    page = _page(sb)
    section = _section(page, "Coperniq opportunities")
    action = f'action="/_sandbox/ui/coperniq/{created["id"]}"'
    assert action in section
    assert 'name="status"' in section
    assert 'name="phaseId"' in section
    assert 'name="startAt"' in section
    assert HOOK_SECRET not in page

    answer = sb.post(
        f"/_sandbox/ui/coperniq/{created['id']}",
        data={"status": "ON_HOLD", "phaseId": "13", "startAt": "2026-06-01T15:00"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/_sandbox/"

    def events() -> list[dict[str, Any]]:
        return [r.body["event"] for r in list(partner.received)]

    def fired(key: str, **fields: Any) -> bool:
        return any(
            e["triggerKey"] == key and all(e.get(k) == v for k, v in fields.items())
            for e in events()
        )

    # Deliveries run concurrently: wait for each change's event rather than for a count.
    wait_until(
        lambda: (
            fired("DEAL_STATUS_MOVEMENT", currentStatus="ON_HOLD")
            and fired("REQUEST_PHASE_STARTED", phaseTemplateId=13)
            and fired("APPOINTMENT_CREATED")
        )
    )
    received = list(partner.received)
    assert events()[0]["triggerKey"] == "REQUEST_CREATED"
    appointment = next(
        r.body["event"] for r in received if r.body["event"]["triggerKey"] == "APPOINTMENT_CREATED"
    )
    assert appointment["dueDate"] == "2026-06-01T15:00:00Z"
    assert all(r.path == f"/coperniq/{HOOK_SECRET}" for r in received)

    record = sb.get(f"/coperniq/v1/opportunities/{created['id']}", headers=COPERNIQ_KEY).json()
    assert record["status"] == "ON_HOLD"
    assert record["phaseId"] == 13
    after = _section(_page(sb), "Coperniq opportunities")
    assert "ON_HOLD" in after
    assert "2026-06-01T15:00:00Z" in after
    assert HOOK_SECRET not in _page(sb)


def test_phase_change_through_the_api_fires_automations(
    start: Callable[..., Sandbox], partner: Partner
) -> None:
    sb = start(coperniq_webhook_url=f"{partner.url}/coperniq/{HOOK_SECRET}")
    created = _opportunity(sb, "Roof", workflowId=1)
    moved = sb.patch(
        f"/coperniq/v1/opportunities/{created['id']}", json={"phaseId": 12}, headers=COPERNIQ_KEY
    )
    assert moved.status_code == 200, moved.text

    def phases(key: str) -> list[int]:
        return [
            r.body["event"]["phaseTemplateId"]
            for r in list(partner.received)
            if r.body["event"]["triggerKey"] == key
        ]

    wait_until(
        lambda: (
            {11, 12} <= set(phases("REQUEST_PHASE_STARTED"))
            and bool(phases("REQUEST_PHASE_COMPLETED"))
        )
    )
    assert sorted(phases("REQUEST_PHASE_STARTED")) == [11, 12]
    assert phases("REQUEST_PHASE_COMPLETED") == [11]


@pytest.mark.parametrize(
    ("form", "status", "field"),
    [
        ({"status": "DONE"}, 400, "status"),
        ({"phaseId": "twelve"}, 400, "phaseId"),
        ({"phaseId": "99"}, 400, "phaseId"),
        ({"startAt": "next tuesday"}, 400, "startAt"),
        ({}, 400, None),
        ({"status": "", "phaseId": "", "startAt": ""}, 400, None),
    ],
)
def test_page_actions_reject_bad_input(
    sandbox: Sandbox, form: dict[str, str], status: int, field: str | None
) -> None:
    created = _opportunity(sandbox, "Fence", workflowId=1)
    body = is_problem(sandbox.post(f"/_sandbox/ui/coperniq/{created['id']}", data=form), status)
    if field:
        assert [e["field"] for e in body["errors"]] == [field]
    after = sandbox.get(f"/coperniq/v1/opportunities/{created['id']}", headers=COPERNIQ_KEY)
    assert after.json()["status"] == created["status"]


def test_page_action_on_a_missing_opportunity_is_404(sandbox: Sandbox) -> None:
    is_problem(sandbox.post("/_sandbox/ui/coperniq/999999", data={"status": "ON_HOLD"}), 404)
    is_problem(sandbox.post("/_sandbox/ui/coperniq/abc", data={"status": "ON_HOLD"}), 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "startAt"),
        ({"startAt": "2026-06-01"}, "startAt"),
        ({"startAt": "2026-06-01T15:00:00"}, "startAt"),
        ({"startAt": "2026-06-01T15:00:00Z", "endAt": "soon"}, "endAt"),
        ({"startAt": "2026-06-01T15:00:00Z", "endAt": "2026-06-01T14:00:00Z"}, "endAt"),
    ],
)
def test_appointment_control_validates_times(
    sandbox: Sandbox, body: dict[str, Any], field: str
) -> None:
    created = _opportunity(sandbox, "Patio", workflowId=1)
    answer = sandbox.post(
        f"/_sandbox/coperniq/opportunities/{created['id']}/appointments", json=body
    )
    problem = is_problem(answer, 400)
    assert problem["errors"][0]["field"] == field


def test_control_on_missing_coperniq_records_answers_problem_json(sandbox: Sandbox) -> None:
    when = {"startAt": "2026-06-01T15:00:00+02:00"}
    is_problem(sandbox.post("/_sandbox/coperniq/opportunities/999999/appointments", json=when), 404)
    is_problem(sandbox.patch("/_sandbox/coperniq/appointments/999999", json=when), 404)
    is_problem(
        sandbox.post("/_sandbox/coperniq/opportunities/999999/status", json={"status": "ON_HOLD"}),
        404,
    )
    created = _opportunity(sandbox, "Garage", workflowId=1)
    made = sandbox.post(f"/_sandbox/coperniq/opportunities/{created['id']}/appointments", json=when)
    assert made.status_code == 201, made.text
    assert made.json()["start_at"] == "2026-06-01T13:00:00Z"
    bad_phase = sandbox.post(
        f"/_sandbox/coperniq/opportunities/{created['id']}/phase", json={"phaseId": 99}
    )
    assert is_problem(bad_phase, 400)["errors"][0]["field"] == "phaseId"


def test_page_links_the_json_inspection(sandbox: Sandbox) -> None:
    page = _page(sandbox)
    for link in ("/_sandbox/tokens", "/_sandbox/webhooks", "/_sandbox/deliveries", "/docs"):
        assert f'href="{link}"' in page
