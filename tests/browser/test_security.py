"""What a signed-in page shows in Chromium: no secret or token of any kind in a page's HTML, and a
customer's name or text made of markup shown as text (nothing of it runs)."""

from __future__ import annotations

import copy
import re

import httpx2
from playwright.sync_api import Page, expect

from tackbridge.services import secret_value
from tests.fixtures import doc_payload
from tests.support.browser import Dashboard, sign_in

XSS_NAME = "<script>window.__xss = 'name'</script>Mallory"
XSS_TEXT = "<img src=x onerror=\"window.__xss='text'\"> call me <b>now</b>"


def _secrets(dashboard: Dashboard) -> list[str]:
    settings = dashboard.settings
    found = [
        secret_value(v)
        for v in (
            settings.api_token,
            settings.webhook_password,
            settings.thumbtack_client_secret,
            settings.coperniq_api_key,
            settings.coperniq_webhook_secret,
        )
    ]
    for token in dashboard.inspect("tokens")["tokens"]:
        found.extend(v for k, v in token.items() if "token" in k.lower() and isinstance(v, str))
    return [s for s in found if s and len(s) >= 8]


def test_no_secret_or_token_in_any_page(page: Page, dashboard: Dashboard) -> None:
    business = dashboard.connect(dashboard.business_ids()[0])
    lead_id = dashboard.new_lead(business)
    dashboard.wait(lambda: dashboard.stored(lead_id))
    secrets = _secrets(dashboard)
    assert len(secrets) >= 5  # the settings' and the sandbox's issued tokens
    sign_in(page, dashboard.url, *dashboard.owner)
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "tackbridge_session")
    pages = {}
    for path in ("/login", "/", f"/leads/{lead_id}", "/leads/unknown"):
        page.goto(dashboard.url + path)
        pages[path] = page.content()
    for path, html in pages.items():
        leaked = [s[:4] + "…" for s in [*secrets, session] if s in html]
        assert leaked == [], f"{path} shows {leaked}"


def test_markup_from_a_customer_is_shown_as_text(page: Page, dashboard: Dashboard) -> None:
    business = dashboard.connect(dashboard.business_ids()[0])
    dashboard.quiet(business)
    lead = copy.deepcopy(doc_payload("v1_lead"))
    lead["leadID"] = "990000000000000001"
    lead["customer"]["name"] = XSS_NAME
    lead["business"]["businessID"] = business
    lead["request"]["description"] = XSS_TEXT
    lead["request"]["attachments"] = [
        {"fileName": "evil.png", "url": "javascript:window.__xss='link'", "mimeType": "image/png"}
    ]
    auth = (
        dashboard.settings.webhook_username or "",
        secret_value(dashboard.settings.webhook_password) or "",
    )
    stored = httpx2.post(f"{dashboard.url}/v1/lead", json=lead, auth=auth, timeout=10)
    assert stored.status_code == 200, stored.text
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, dashboard.url, *dashboard.owner)

    row = page.locator(f'li[data-lead-id="{lead["leadID"]}"]')
    expect(row).to_contain_text(XSS_NAME)
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(XSS_NAME)
    expect(page.get_by_text(re.compile(r"onerror=")).first).to_be_visible()
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
