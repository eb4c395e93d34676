"""The Connections page in Chromium: an account of two businesses connected through the
sandbox's consent page, one of them disabled (its webhook removed at the sandbox), and the
automatic reply's template previewed as it is typed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tackbridge.sandbox.config import BusinessSeed
from tests.support.browser import Dashboard, axe_violations, dashboard_stack, screenshots, sign_in

ACCOUNT = (
    BusinessSeed("Ace Plumbing", account="ace"),
    BusinessSeed("Ace Drains", account="ace"),
    BusinessSeed("Solo Painting"),
)


@pytest.fixture(scope="module")
def two_of_one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with dashboard_stack(tmp_path_factory.mktemp("connections"), businesses=ACCOUNT) as found:
        yield found


def _ids(stack: Dashboard) -> dict[str, str]:
    return {b["name"]: b["businessID"] for b in stack.inspect("businesses")}


def _live_webhooks(stack: Dashboard, business_id: str) -> list[dict[str, Any]]:
    return [
        h
        for h in stack.inspect("webhooks")
        if h["businessID"] == business_id and h["deletedAt"] is None
    ]


def test_connect_an_account_of_two_businesses_and_disable_one(
    page: Page, two_of_one: Dashboard
) -> None:
    ids = _ids(two_of_one)
    sign_in(page, two_of_one.url, *two_of_one.owner)
    page.get_by_role("link", name="Connections").click()
    expect(page.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    expect(page.get_by_text("No business is connected yet.")).to_be_visible()

    page.get_by_role("button", name="Connect to Thumbtack").click()
    # Thumbtack's (the sandbox's) consent page: the pro picks the business and approves.
    expect(page).to_have_url(re.compile(r"/oauth2/auth"))
    page.get_by_label("Business").select_option(ids["Ace Plumbing"])
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    expect(page.get_by_text("Ace Drains")).to_be_visible()
    page.get_by_role("link", name="open the connections").click()

    expect(
        page.get_by_role("heading", name="Account of Ace Plumbing (2 businesses)")
    ).to_be_visible()
    for name in ("Ace Plumbing", "Ace Drains"):
        row = page.locator(f'tr[data-business-id="{ids[name]}"]')
        expect(row.locator('[data-field="state"]')).to_have_text("Enabled")
    expect(page.locator(f'tr[data-business-id="{ids["Solo Painting"]}"]')).to_have_count(0)
    two_of_one.wait(lambda: _live_webhooks(two_of_one, ids["Ace Drains"]))

    page.get_by_role("button", name="Disable Ace Drains").click()
    expect(page.get_by_role("status").first).to_contain_text("Ace Drains is disabled")
    drains = page.locator(f'tr[data-business-id="{ids["Ace Drains"]}"]')
    expect(drains.locator('[data-field="state"]')).to_have_text("Disabled")
    plumbing = page.locator(f'tr[data-business-id="{ids["Ace Plumbing"]}"]')
    expect(plumbing.locator('[data-field="state"]')).to_have_text("Enabled")
    expect(drains.get_by_role("button", name="Enable Ace Drains")).to_be_visible()
    states = {
        c["businessID"]: c["enabled"]
        for c in two_of_one.operator.get("/api/connections").json()["items"]
    }
    assert states == {ids["Ace Plumbing"]: True, ids["Ace Drains"]: False}
    two_of_one.wait(lambda: not _live_webhooks(two_of_one, ids["Ace Drains"]))
    assert _live_webhooks(two_of_one, ids["Ace Plumbing"])

    screenshots(page, "connections")
    assert axe_violations(page) == []


def test_the_reply_template_is_previewed_as_it_is_typed(page: Page, two_of_one: Dashboard) -> None:
    business = _ids(two_of_one)["Solo Painting"]
    lead_id = two_of_one.new_lead(business, description="Paint the fence")
    two_of_one.wait(lambda: two_of_one.stored(lead_id))
    customer = two_of_one.operator.get(f"/api/leads/{lead_id}").json()["customer"]
    sign_in(page, two_of_one.url, *two_of_one.owner)
    page.goto(two_of_one.url + "/connections")
    card = page.locator(f'article[data-business-id="{business}"]')
    template = card.get_by_label("Reply template")
    template.fill("Hello {{ customer_first_name }}, about your {{ category }} job!")
    preview = card.locator("[data-preview-output]")
    first = (customer.get("firstName") or customer.get("name") or "").split(" ")[0]
    expect(preview).to_contain_text(f"Hello {first}, about your")
    expect(card.locator("[data-preview-lead]")).to_contain_text(lead_id)
    template.fill("Hello {{ nobody }}")
    expect(preview).to_contain_text("unknown variable 'nobody'")
