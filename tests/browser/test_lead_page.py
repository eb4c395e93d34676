"""A lead's page in Chromium against tackbridge and its sandbox: replying (the sandbox's Thumbtack
receives it, the delivery state turns to Sent without a reload), a customer's answer appearing
live, pushing job_complete with an invoice, and what a member may see."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.browser import Dashboard, axe_violations, screenshots, sign_in


def _open_lead(page: Page, dashboard: Dashboard) -> tuple[str, str]:
    business = dashboard.connect(dashboard.business_ids()[0])
    dashboard.quiet(business)
    lead_id = dashboard.new_lead(business, description="Two bathrooms to retile before June")
    sign_in(page, dashboard.url, *dashboard.owner)
    page.locator(f'li[data-lead-id="{lead_id}"] a').click()
    expect(page).to_have_url(re.compile(rf"/leads/{lead_id}$"))
    expect(page.locator("body")).to_have_attribute("data-live", "on")
    return business, lead_id


def test_reply_reaches_the_sandbox_and_its_state_turns_sent_live(
    page: Page, dashboard: Dashboard
) -> None:
    _, lead_id = _open_lead(page, dashboard)
    expect(page.get_by_text("Two bathrooms to retile before June")).to_be_visible()

    page.get_by_label("Reply").fill("Happy to help! Can we come by Thursday at 10?")
    page.get_by_role("button", name="Send").click()

    mine = page.locator("#thread li.mine").filter(has_text="come by Thursday at 10")
    expect(mine).to_be_visible()
    expect(mine.locator(".state")).to_have_text("Sent")
    dashboard.wait(
        lambda: any(
            m["text"] == "Happy to help! Can we come by Thursday at 10?"
            for m in dashboard.inspect("messages", leadID=lead_id, **{"from": "Business"})
        )
    )
    screenshots(page, "lead")
    assert axe_violations(page) == []


def test_a_customer_answer_appears_without_a_reload(page: Page, dashboard: Dashboard) -> None:
    _, lead_id = _open_lead(page, dashboard)
    page.evaluate("window.__sameDocument = true")

    sent = dashboard.sandbox.post(
        f"/_sandbox/leads/{lead_id}/messages",
        json={"from": "Customer", "text": "Thursday works, the gate code is 4417"},
    )
    assert sent.status_code == 201, sent.text

    expect(page.locator("#thread li.theirs").filter(has_text="gate code is 4417")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True


def test_job_complete_with_an_invoice_reaches_the_sandbox(page: Page, dashboard: Dashboard) -> None:
    _, lead_id = _open_lead(page, dashboard)

    page.get_by_label("Job status").select_option("job_complete")
    page.get_by_label("Invoice amount (dollars)").fill("1,250.00")
    page.get_by_role("button", name="Push status").click()

    step = page.locator("#timeline-steps li").filter(has_text="Job complete")
    expect(step).to_contain_text("$1,250.00")
    expect(step.locator(".state")).to_have_text("Sent to Thumbtack")
    pushed = [j for j in dashboard.inspect("job-statuses") if j["negotiationID"] == lead_id]
    assert [(j["status"], j["invoiceAmountInCents"]) for j in pushed] == [("job_complete", 125000)]


def test_an_invoice_with_the_wrong_status_is_explained(page: Page, dashboard: Dashboard) -> None:
    _, lead_id = _open_lead(page, dashboard)

    page.get_by_label("Job status").select_option("appt_scheduled")
    page.get_by_label("Invoice amount (dollars)").fill("80")
    page.get_by_role("button", name="Push status").click()

    expect(page.get_by_role("alert")).to_contain_text("only allowed with job_complete")
    assert [j for j in dashboard.inspect("job-statuses") if j["negotiationID"] == lead_id] == []


def test_a_member_sees_only_their_business(page: Page, dashboard: Dashboard) -> None:
    first, second = dashboard.business_ids()[:2]
    dashboard.connect(first)
    dashboard.connect(second)
    dashboard.quiet(first)
    dashboard.quiet(second)
    theirs = dashboard.new_lead(first, description="Member's own lead")
    other = dashboard.new_lead(second, description="Another business's lead")
    dashboard.wait(lambda: dashboard.stored(theirs) and dashboard.stored(other))
    dashboard.add_user(
        "member@example.com", "member-password-1", role="member", businesses=(first,)
    )

    sign_in(page, dashboard.url, "member@example.com", "member-password-1")

    expect(page.locator(f'li[data-lead-id="{theirs}"]')).to_be_visible()
    expect(page.locator(f'li[data-lead-id="{other}"]')).to_have_count(0)
    options = page.get_by_label("Business").locator("option").all_inner_texts()
    assert len(options) == 2  # "All businesses" and theirs
    expect(page.get_by_role("link", name="Users")).to_have_count(0)

    answer = page.goto(f"{dashboard.url}/leads/{other}")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    reply = page.request.post(
        f"{dashboard.url}/leads/{other}/reply", form={"text": "hi", "csrf": "x"}
    )
    assert reply.status in (403, 404)
    events = page.request.get(f"{dashboard.url}/dashboard/events/leads/{other}")
    assert events.status == 404


def test_a_review_shows_on_its_lead_and_updates_are_announced(
    page: Page, dashboard: Dashboard
) -> None:
    _, lead_id = _open_lead(page, dashboard)

    sent = dashboard.sandbox.post(
        f"/_sandbox/leads/{lead_id}/reviews", json={"rating": 5, "text": "Spotless tiles!"}
    )
    assert sent.status_code == 201, sent.text
    dashboard.wait(lambda: dashboard.operator.get(f"/api/leads/{lead_id}").json()["reviews"])
    page.reload()
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    expect(page.get_by_text("Spotless tiles!")).to_be_visible()
    expect(page.get_by_text("5 of 5")).to_be_visible()

    dashboard.sandbox.post(
        f"/_sandbox/leads/{lead_id}/messages", json={"from": "Customer", "text": "Thanks again"}
    )
    expect(page.locator("#live-status")).to_contain_text("Updated at")
