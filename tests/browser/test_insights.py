"""The insights page in Chromium: the numbers it shows are the API's for the same leads."""

from __future__ import annotations

from typing import Any

import httpx2
from playwright.sync_api import Page, expect

from tackbridge.dashboard.templating import money
from tests.support.browser import Dashboard, axe_violations, screenshots, sign_in
from tests.support.insight_data import EXPECTED, seed_with


def _cell(page: Page, table: str, key: str, field: str) -> str:
    return page.locator(f'#{table} tr[data-key="{key}"] [data-field="{field}"]').inner_text()


def test_the_insights_page_shows_the_numbers_of_the_data(page: Page, dashboard: Dashboard) -> None:
    password = dashboard.settings.webhook_password
    assert password is not None
    with httpx2.Client(
        base_url=dashboard.url,
        auth=(dashboard.settings.webhook_username or "", password.get_secret_value()),
        timeout=10,
    ) as partner:
        seed_with(partner, dashboard.operator)
    sign_in(page, dashboard.url, *dashboard.owner)
    page.get_by_role("link", name="Insights").click()
    expect(page.get_by_role("heading", name="Insights", level=1)).to_be_visible()
    since = page.get_by_label("From").input_value()
    until = page.get_by_label("To").input_value()
    api: dict[str, Any] = dashboard.operator.get(
        "/api/stats/insights",
        params={"since": f"{since}T00:00:00Z", "until": f"{until}T23:59:59.999999Z"},
    ).json()
    assert api["leads"] == EXPECTED["leads"]

    summary = page.locator("#summary")
    assert summary.locator('[data-field="leads"]').inner_text() == str(api["leads"])
    total = api["returnOnSpend"]["total"]
    assert summary.locator('[data-field="spendCents"]').inner_text() == money(total["spendCents"])
    for kind, table in (("byBusiness", "spend-by-business"), ("byCategory", "spend-by-category")):
        for row in api["returnOnSpend"][kind]:
            assert _cell(page, table, row["key"], "leads") == str(row["leads"])
            assert _cell(page, table, row["key"], "spendCents") == money(row["spendCents"])
            assert _cell(page, table, row["key"], "revenueCents") == money(row["revenueCents"])
    for stage in api["funnel"]["stages"]:
        assert _cell(page, "funnel", stage["stage"], "leads") == str(stage["leads"])
    pa = api["priceAssurance"]
    for key in ("inside", "late", "pending"):
        assert _cell(page, "price-assurance", key, "count") == str(pa[key])
    for bucket in api["responseBuckets"]:
        assert _cell(page, "response-buckets", bucket["label"], "auto") == str(bucket["auto"])
    page.get_by_text("The numbers").click()
    for day in api["leadsPerDay"]["days"]:
        assert _cell(page, "leads-per-day", day["day"], "total") == str(day["total"])
    # The charts are drawn and loaded (images with a width once decoded).
    charts = page.locator("img.chart")
    expect(charts).to_have_count(6)
    assert all(charts.nth(i).evaluate("i => i.naturalWidth > 0") for i in range(6))

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the leads (CSV)").click()
    lines = download.value.path().read_text().strip().splitlines()
    assert len(lines) == 1 + EXPECTED["leads"]

    screenshots(page, "insights")
    assert axe_violations(page) == []
