"""The inbox in Chromium against tackbridge and its sandbox: signing in by the labels, a lead
the sandbox sends appearing without a reload, the time left to answer, filters and search."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.browser import Dashboard, axe_violations, screenshots, sign_in


def test_signed_out_visitors_are_sent_to_sign_in(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshots(page, "login")
    assert axe_violations(page) == []


def test_a_wrong_password_is_refused_on_the_page(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/login")
    page.get_by_label("Email").fill(dashboard.owner[0])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail address or password.")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_a_sandbox_lead_appears_in_the_open_inbox_without_a_reload(
    page: Page, dashboard: Dashboard
) -> None:
    business = dashboard.connect(dashboard.business_ids()[0])
    dashboard.quiet(business)
    sign_in(page, dashboard.url, *dashboard.owner)
    expect(page.locator("body")).to_have_attribute("data-live", "on")
    page.evaluate("window.__sameDocument = true")

    lead_id = dashboard.new_lead(business, description="Leaky kitchen faucet, drips all night")

    row = page.locator(f'li[data-lead-id="{lead_id}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("left to answer")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    screenshots(page, "inbox")
    assert axe_violations(page) == []


def test_filters_and_search_narrow_the_list(page: Page, dashboard: Dashboard) -> None:
    business = dashboard.connect(dashboard.business_ids()[0])
    dashboard.quiet(business)
    wanted = dashboard.new_lead(business, description="Replace the zebrawood deck boards")
    other = dashboard.new_lead(business, description="Paint a bedroom")
    dashboard.wait(lambda: dashboard.stored(wanted) and dashboard.stored(other))
    sign_in(page, dashboard.url, *dashboard.owner)

    page.get_by_label("Search").fill("zebrawood")
    page.get_by_label("Unanswered only").check()
    page.get_by_role("button", name="Filter").click()

    expect(page.locator(f'li[data-lead-id="{wanted}"]')).to_be_visible()
    expect(page.locator(f'li[data-lead-id="{other}"]')).to_have_count(0)
    expect(page.get_by_label("Search")).to_have_value("zebrawood")
