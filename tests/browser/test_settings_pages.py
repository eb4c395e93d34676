"""The Deliveries, Connections, Insights and Users pages in Chromium: screenshots at desktop and
phone width, axe-core without a serious or critical violation, no secret or token in their
HTML, nothing wider than a phone, signed-out visits sent to sign in, and the Users page used
with the keyboard only."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_security import _secrets
from tests.support.browser import PHONE, Dashboard, axe_violations, screenshots, sign_in

PAGES = ("/deliveries", "/connections", "/insights", "/users")


def _some_data(dashboard: Dashboard) -> str:
    business = dashboard.connect(dashboard.business_ids()[0])
    lead_id = dashboard.new_lead(business, description="Install a ceiling fan " * 10)
    dashboard.wait(lambda: dashboard.stored(lead_id))
    # A refused delivery for the Deliveries page.
    refused = dashboard.operator.post("/v1/lead", content=b"{not json")
    assert refused.status_code in (400, 401)
    return lead_id


def test_signed_out_visits_are_sent_to_sign_in(page: Page, dashboard: Dashboard) -> None:
    for path in (*PAGES, "/insights/leads.csv"):
        page.goto(dashboard.url + path)
        expect(page).to_have_url(re.compile(r"/login(\?next=.*)?$"))
        expect(page.get_by_label("Email")).to_be_visible()


def test_each_page_passes_axe_fits_a_phone_and_shows_no_secret(
    page: Page, dashboard: Dashboard
) -> None:
    _some_data(dashboard)
    secrets = _secrets(dashboard)
    assert len(secrets) >= 5
    sign_in(page, dashboard.url, *dashboard.owner)
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "tackbridge_session")
    for path in PAGES:
        answer = page.goto(dashboard.url + path)
        assert answer is not None
        assert answer.status == 200, path
        html = page.content()
        leaked = [s[:4] + "…" for s in [*secrets, session] if s in html]
        assert leaked == [], f"{path} shows {leaked}"
        assert axe_violations(page) == [], path
        screenshots(page, path.strip("/"))
        page.set_viewport_size(PHONE)
        page.reload()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide on a phone"
        page.set_viewport_size({"width": 1280, "height": 900})


def test_add_a_member_with_the_keyboard_only(page: Page, dashboard: Dashboard) -> None:
    business = dashboard.connect(dashboard.business_ids()[0])
    sign_in(page, dashboard.url, *dashboard.owner)
    page.goto(dashboard.url + "/users")
    page.get_by_label("Email", exact=True).focus()
    page.keyboard.type("kim@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("kim-password-1")
    page.keyboard.press("Tab")  # the hint is text: the role comes next
    expect(page.get_by_label("Role").last).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # the first business
    page.get_by_role("button", name="Add the user").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("kim@example.com is added.")
    card = page.locator('li[data-user-email="kim@example.com"]')
    expect(card).to_contain_text("Member")
    expect(card).to_contain_text(f"Sees {business}")
