"""The pages with a keyboard only and at phone width: signing in, opening a lead and replying
without a mouse; nothing wider than a 390-pixel screen; the not-found page passes axe too."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.browser import PHONE, Dashboard, axe_violations, screenshots, sign_in


def _tab_to(page: Page, selector: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_sign_in_open_a_lead_and_reply_with_the_keyboard_only(
    page: Page, dashboard: Dashboard
) -> None:
    business = dashboard.connect(dashboard.business_ids()[0])
    dashboard.quiet(business)
    lead_id = dashboard.new_lead(business, description="Keyboard-only customer")
    dashboard.wait(lambda: dashboard.stored(lead_id))

    page.goto(dashboard.url + "/login")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(dashboard.owner[0])
    page.keyboard.press("Tab")
    page.keyboard.type(dashboard.owner[1])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()

    _tab_to(page, f'li[data-lead-id="{lead_id}"] a')
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/leads/{lead_id}$"))
    _tab_to(page, "#reply")
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#thread li.mine").filter(has_text="Typed without a mouse")).to_be_visible()


def test_the_pages_fit_a_phone(page: Page, dashboard: Dashboard) -> None:
    business = dashboard.connect(dashboard.business_ids()[0])
    lead_id = dashboard.new_lead(business, description="A very long description " * 20)
    dashboard.wait(lambda: dashboard.stored(lead_id))
    page.set_viewport_size(PHONE)
    sign_in(page, dashboard.url, *dashboard.owner)
    for path in ("/", f"/leads/{lead_id}", "/login"):
        page.goto(dashboard.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide"


def test_the_not_found_page(page: Page, dashboard: Dashboard) -> None:
    sign_in(page, dashboard.url, *dashboard.owner)
    answer = page.goto(dashboard.url + "/leads/no-such-lead")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("link", name="Back to the inbox")).to_be_visible()
    screenshots(page, "not-found")
    assert axe_violations(page) == []
