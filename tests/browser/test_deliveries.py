"""The Deliveries page in Chromium: Thumbtack is down, so a lead's automatic reply dies (one
attempt allowed here); Thumbtack comes back, the pro retries the dead delivery from the page,
and the sandbox's Thumbtack receives the reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import Dashboard, axe_violations, dashboard_stack, screenshots, sign_in


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A stack whose jobs die after their first failed attempt."""
    with dashboard_stack(
        tmp_path_factory.mktemp("deliveries"), settings={"worker_max_attempts": 1}
    ) as found:
        yield found


def _dead_reply(stack: Dashboard, lead_id: str) -> dict[str, Any] | None:
    jobs = stack.operator.get(
        "/api/jobs", params={"state": "dead", "kind": "thumbtack.message"}
    ).json()["items"]
    return next((j for j in jobs if j["payload"].get("leadID") == lead_id), None)


def _replies(stack: Dashboard, lead_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = stack.inspect("messages", leadID=lead_id, **{"from": "Business"})
    return found


def test_retry_a_dead_delivery(page: Page, failing: Dashboard) -> None:
    business = failing.connect(failing.business_ids()[0])
    assert failing.sandbox.put("/_sandbox/faults", json={"error_rate": 1.0}).status_code == 200
    lead_id = failing.new_lead(business, description="Water heater pilot keeps going out")
    failing.wait(lambda: _dead_reply(failing, lead_id))
    job = _dead_reply(failing, lead_id)
    assert job is not None
    assert failing.sandbox.put("/_sandbox/faults", json={"error_rate": 0.0}).status_code == 200
    assert _replies(failing, lead_id) == []

    sign_in(page, failing.url, *failing.owner)
    page.get_by_role("link", name="Deliveries").click()
    expect(page.get_by_role("heading", name="Deliveries", level=1)).to_be_visible()
    row = page.locator(f'tr[data-job-id="{job["id"]}"]')
    expect(row).to_contain_text("thumbtack.message")
    expect(row).to_contain_text("Dead")
    expect(row).to_contain_text("503")
    screenshots(page, "deliveries")
    assert axe_violations(page) == []

    row.get_by_role("button", name=f"Retry job {job['id']}").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Job {job['id']} is queued again")
    failing.wait(lambda: len(_replies(failing, lead_id)) == 1)
    settled = failing.operator.get(f"/api/jobs/{job['id']}").json()
    failing.wait(lambda: failing.operator.get(f"/api/jobs/{job['id']}").json()["state"] == "done")
    assert len(settled["history"]) >= 1
    page.reload()
    expect(page.locator(f'tr[data-job-id="{job["id"]}"]')).to_have_count(0)
