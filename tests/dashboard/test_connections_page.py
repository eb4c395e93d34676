"""``/connections`` over HTTP against a real sandbox: connecting through Thumbtack's consent
page, enabling and disabling, disconnecting with the purge date, the CRM destination and the
automatic reply of a business, the reply template's preview; owners and admins only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx2
from sqlalchemy import create_engine, select

from tackbridge.dashboard.auth import SESSION_COOKIE
from tackbridge.store.schema import connections
from tests.support.connections import Stack, stack
from tests.support.dashboard_users import Member, session_for
from tests.support.sandbox import query_of

__all__ = ["stack"]


def _member(stack: Stack, email: str, role: str, businesses: tuple[str, ...] = ()) -> Member:
    token, csrf = session_for(stack.settings, email, role=role, businesses=businesses)
    client = httpx2.Client(
        base_url=stack.url,
        headers={"Cookie": f"{SESSION_COOKIE}={token}"},
        follow_redirects=False,
        timeout=30,
    )
    return Member(client, csrf)


def _connect(stack: Stack, owner: Member, business: str) -> None:
    start = owner.post("/connections/connect", {"api": "v4"})
    assert start.status_code == 303, start.text
    location = start.headers["location"]
    assert location.startswith(stack.sandbox.url + "/oauth2/auth")
    assert stack.browser.get(location).status_code == 200
    back = stack.browser.post(
        stack.sandbox.url + "/oauth2/auth",
        data={**query_of(location), "business_id": business, "action": "approve"},
    )
    assert back.status_code == 302, back.text
    done = stack.browser.get(back.headers["location"])
    assert done.status_code == 200, done.text
    assert "href='/connections'" in done.text  # the way back to the dashboard


def _row(html: str, business: str) -> str:
    found = re.search(rf'<tr data-business-id="{business}">(.*?)</tr>', html, re.S)
    assert found, business
    return found.group(1)


def test_connect_disable_enable_and_disconnect(stack: Stack) -> None:
    owner = _member(stack, "owner@example.com", "owner")
    first = owner.client.get("/connections")
    assert first.status_code == 200
    assert "No business is connected yet." in first.text
    policy = first.headers["content-security-policy"]
    assert f"form-action 'self' {stack.sandbox.url}" in policy

    business = stack.sandbox.business_ids()[0]
    _connect(stack, owner, business)
    html = owner.client.get("/connections").text
    row = _row(html, business)
    assert "Enabled" in row
    assert "access token valid" in row
    for sealed in _sealed_tokens(stack):
        assert sealed not in html

    assert owner.post(f"/connections/{business}/disable").status_code == 303
    assert stack.connection(business)["enabled"] is False
    html = owner.client.get(f"/connections?notice=disabled&business={business}").text
    assert "is disabled" in html
    assert "Disabled" in _row(html, business)
    assert owner.post(f"/connections/{business}/enable").status_code == 303
    assert stack.connection(business)["enabled"] is True

    # Before disconnecting, the page says when the data would be purged (5 days by default).
    row = _row(owner.client.get("/connections").text, business)
    purge = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d")
    assert f"Their customer data is purged on {purge}" in row
    assert owner.post(f"/connections/{business}/disconnect").status_code == 303
    assert stack.connection(business)["state"] == "disconnected"
    row = _row(owner.client.get("/connections").text, business)
    assert "Disconnected" in row
    assert "data purged" in row
    assert "Disable" not in row


def _sealed_tokens(stack: Stack) -> list[str]:
    engine = create_engine(stack.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(connections.c.access_token, connections.c.refresh_token))
            return [t for row in rows for t in row if t]
    finally:
        engine.dispose()


def test_destination_and_automatic_reply_of_a_business(stack: Stack) -> None:
    owner = _member(stack, "admin@example.com", "admin")
    business = stack.sandbox.business_ids()[0]
    _connect(stack, owner, business)

    missing = owner.post(f"/connections/{business}/destination", {"kind": "webhook"})
    assert missing.status_code == 422
    assert "webhookUrl is required for the webhook destination" in missing.text
    saved = owner.post(
        f"/connections/{business}/destination",
        {
            "kind": "webhook",
            "webhookUrl": "https://hooks.example.com/leads",
            "webhookSecret": "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTEyMzQ1Ng==",
        },
    )
    assert saved.status_code == 303, saved.text
    chosen = stack.operator.get(f"/api/businesses/{business}/destination").json()
    assert (chosen["kind"], chosen["secretSet"]) == ("webhook", True)
    html = owner.client.get("/connections").text
    assert "https://hooks.example.com/leads" in html
    assert "whsec_c2VjcmV0" not in html

    bad = owner.post(
        f"/connections/{business}/autoreply", {"template": "Hi {{ nope }}", "enabled": "on"}
    )
    assert bad.status_code == 422
    assert "unknown variable" in bad.text
    good = owner.post(
        f"/connections/{business}/autoreply",
        {"template": "Hi {{ customer_first_name }}!", "enabled": "on", "delay_seconds": "5"},
    )
    assert good.status_code == 303, good.text
    rules = stack.operator.get(f"/api/businesses/{business}/autoreply").json()
    assert rules["inherited"] is False
    assert rules["rules"]["default"]["template"] == "Hi {{ customer_first_name }}!"
    assert rules["rules"]["default"]["delay_seconds"] == 5
    hours = owner.client.post(
        f"/connections/{business}/autoreply",
        data={
            "csrf": owner.csrf,
            "template": "Hi {{ customer_first_name }}!",
            "enabled": "on",
            "hours_edit": "on",
            "hours_time_zone": "America/Chicago",
            "hours_start": "07:30",
            "hours_end": "16:00",
            "hours_days": ["sat", "mon", "tue"],
        },
    )
    assert hours.status_code == 303, hours.text
    rule = stack.operator.get(f"/api/businesses/{business}/autoreply").json()["rules"]["default"]
    assert rule["business_hours"] == {
        "time_zone": "America/Chicago",
        "windows": [{"days": ["mon", "tue", "sat"], "start": "07:30:00", "end": "16:00:00"}],
    }
    html = owner.client.get("/connections").text
    assert 'value="America/Chicago"' in html
    bad_zone = owner.post(
        f"/connections/{business}/autoreply",
        {"template": "Hi", "hours_edit": "on", "hours_time_zone": "Mars/Olympus"},
    )
    assert bad_zone.status_code == 422
    assert "is not an IANA time zone" in bad_zone.text
    none = owner.post(
        f"/connections/{business}/autoreply",
        {"template": "Hi", "enabled": "on", "hours_edit": "on", "hours_time_zone": ""},
    )
    assert none.status_code == 303
    rule = stack.operator.get(f"/api/businesses/{business}/autoreply").json()["rules"]["default"]
    assert rule.get("business_hours") is None
    back = owner.post(f"/connections/{business}/autoreply", {"action": "inherit"})
    assert back.status_code == 303
    assert stack.operator.get(f"/api/businesses/{business}/autoreply").json()["inherited"]


def test_template_preview(stack: Stack) -> None:
    owner = _member(stack, "owner@example.com", "owner")
    headers = {"X-CSRF-Token": owner.csrf}
    body = {"business": "nobody-yet", "template": "Hi {{ customer_first_name }} in {{ city }}"}
    answer = owner.client.post("/dashboard/autoreply/preview", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "text": "Hi Olivia in San Francisco",
        "error": None,
        "lead": "a sample lead",
    }
    wrong = owner.client.post(
        "/dashboard/autoreply/preview", json={"template": "{% for %}"}, headers=headers
    ).json()
    assert wrong["text"] is None
    assert "syntax error" in wrong["error"]
    assert owner.client.post("/dashboard/autoreply/preview", json=body).status_code == 403
    with httpx2.Client(base_url=stack.url) as anonymous:
        assert anonymous.post("/dashboard/autoreply/preview", json=body).status_code == 401


def test_members_do_not_get_in(stack: Stack) -> None:
    business = stack.sandbox.business_ids()[0]
    member = _member(stack, "m@example.com", "member", (business,))
    assert member.client.get("/connections").status_code == 404
    assert member.post(f"/connections/{business}/disable").status_code == 404
    assert member.post("/connections/connect").status_code == 404
    answer = member.client.post(
        "/dashboard/autoreply/preview", json={}, headers={"X-CSRF-Token": member.csrf}
    )
    assert answer.status_code == 404
