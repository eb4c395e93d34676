"""The lead page over HTTP: the invoice amount read as dollars, a reply's text checked, the
member's scope, attachments shown as thumbnails or links (http(s) only)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sqlalchemy import update

from tackbridge.core.clock import now
from tackbridge.crm.store import Link, save_link
from tackbridge.dashboard.pages.lead import describe_estimate, describe_times, parse_dollars
from tackbridge.store.database import open_database
from tackbridge.store.schema import messages, outbox
from tests.fixtures import doc_payload
from tests.support.dashboard import add, csrf_of, dev_server, signed_in_client
from tests.support.tackbridge import RunningServer


@pytest.mark.parametrize(
    ("text", "cents"),
    [("1250", 125000), ("$1,250.50", 125050), (" 0.99 ", 99), ("", None), ("  ", None)],
)
def test_dollars_to_cents(text: str, cents: int | None) -> None:
    assert parse_dollars(text) == cents


@pytest.mark.parametrize("text", ["abc", "-5", "1.234", "NaN", "1e400", "Infinity"])
def test_amounts_that_are_not_dollars(text: str) -> None:
    with pytest.raises(ValueError, match="invoice amount"):
        parse_dollars(text)


def _lead(dash: RunningServer, lead_id: str, business: str, **request: object) -> str:
    payload = copy.deepcopy(doc_payload("v1_lead"))
    payload["leadID"] = lead_id
    payload["business"]["businessID"] = business
    payload["request"].update(request)
    assert dash.partner.post("/v1/lead", json=payload).status_code == 200
    return lead_id


def test_the_page_shows_the_request(dash: RunningServer) -> None:
    lead_id = _lead(
        dash,
        "700",
        "b1",
        attachments=[
            {
                "fileName": "door.jpg",
                "url": "https://img.example/door.jpg",
                "mimeType": "image/jpeg",
            },
            {
                "fileName": "quote.pdf",
                "url": "https://img.example/quote.pdf",
                "mimeType": "application/pdf",
            },
        ],
    )
    with signed_in_client(dash) as client:
        page = client.get(f"/leads/{lead_id}")
    assert page.status_code == 200
    html = page.text
    assert "Jay J." in html
    assert "There is a stain on the door" in html
    assert "Number of rooms" in html
    assert "4 rooms" in html
    assert '<img src="https://img.example/door.jpg"' in html
    assert '<a href="https://img.example/quote.pdf"' in html
    assert "Tim&#39;s Painting Business" in html
    assert "left to answer" in html


def test_a_blank_reply_is_explained_and_sends_nothing(dash: RunningServer) -> None:
    lead_id = _lead(dash, "701", "b1")
    with signed_in_client(dash) as client:
        token = csrf_of(client.get(f"/leads/{lead_id}").text)
        answer = client.post(f"/leads/{lead_id}/reply", data={"csrf": token, "text": "   "})
    assert answer.status_code == 422
    assert "Write a reply first." in answer.text
    assert dash.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"] == []


def test_a_job_status_is_recorded_through_jobstatus(dash: RunningServer) -> None:
    lead_id = _lead(dash, "702", "b1")
    with signed_in_client(dash) as client:
        token = csrf_of(client.get(f"/leads/{lead_id}").text)
        answer = client.post(
            f"/leads/{lead_id}/job-status",
            data={"csrf": token, "status": "invoice_paid", "invoice": "980.10"},
        )
        assert answer.status_code == 303
        page = client.get(f"/leads/{lead_id}")
    assert "$980.10" in page.text
    history = dash.lead(lead_id)["statusHistory"]
    assert [(h["jobStatus"], h["invoiceAmountInCents"]) for h in history if h["jobStatus"]] == [
        ("invoice_paid", 98010)
    ]


def test_a_member_gets_404_for_another_business(dash: RunningServer) -> None:
    mine = _lead(dash, "703", "b1")
    other = _lead(dash, "704", "b2")
    add(dash.settings, "m@example.com", "member-password-1", role="member", businesses=("b1",))
    with signed_in_client(dash, "m@example.com", "member-password-1") as client:
        assert client.get(f"/leads/{mine}").status_code == 200
        token = csrf_of(client.get(f"/leads/{mine}").text)
        assert client.get(f"/leads/{other}").status_code == 404
        assert client.get("/leads/does-not-exist").status_code == 404
        assert client.get(f"/dashboard/events/leads/{other}").status_code == 404
        for path, form in (
            (f"/leads/{other}/reply", {"text": "hi"}),
            (f"/leads/{other}/job-status", {"status": "appt_scheduled"}),
        ):
            assert client.post(path, data={**form, "csrf": token}).status_code == 404
        inbox = client.get("/").text
        filtered = client.get("/", params={"business": "b2"}).text
    assert 'data-lead-id="703"' in inbox
    assert 'data-lead-id="704"' not in inbox
    assert 'data-lead-id="704"' not in filtered
    assert dash.operator.get(f"/api/leads/{other}/messages").json()["messages"] == []


def test_the_crm_record_is_linked_when_its_url_is_configured(tmp_path: Path) -> None:
    template = "https://app.coperniq.example/42/{type}s/{id}"
    with dev_server(tmp_path, crm_record_url=template) as dash:
        lead_id = _lead(dash, "705", "b1")
        db = open_database(dash.settings.resolved_database_url)
        with db.writer.begin() as conn:
            save_link(conn, Link(lead_id, "coperniq:project", "9917", "created"), now())
        db.dispose()
        with signed_in_client(dash) as client:
            html = client.get(f"/leads/{lead_id}").text
    assert '<a href="https://app.coperniq.example/42/projects/9917"' in html
    assert "record 9917" in html


def test_estimates_and_proposed_times_read_as_lines() -> None:
    assert (
        describe_estimate(
            {"total": "$150.00", "type": "Fixed", "unitName": "job", "unitQuantity": 1}
        )
        == "$150.00 (Fixed, 1 job)"
    )
    assert describe_estimate({"type": "MoreInfo"}) == "MoreInfo"
    assert describe_estimate(None) is None
    assert describe_times(
        [
            {"start": "2026-09-20T16:00:00Z", "end": "2026-09-20T18:00:00Z"},
            {"start": "2026-09-21T23:00:00-07:00"},
            "Weekday evenings",
            {"start": "not a time"},
        ]
    ) == ["2026-09-20 16:00-18:00 UTC", "2026-09-22 06:00 UTC", "Weekday evenings"]
    assert describe_times("Flexible") == ["Flexible"]


def test_a_failed_reply_says_why(dash: RunningServer) -> None:
    lead_id = _lead(dash, "706", "b1")
    sent = dash.operator.post(f"/api/leads/{lead_id}/messages", json={"text": "Hello there"})
    assert sent.status_code == 202
    message_id = sent.json()["messageID"]
    db = open_database(dash.settings.resolved_database_url)
    with db.writer.begin() as conn:  # as the worker settles a dead job
        conn.execute(
            update(outbox)
            .where(outbox.c.idempotency_key == f"thumbtack.message:{lead_id}:{message_id}")
            .values(state="dead", last_error={"detail": "missing scope supply::messages.write"})
        )
        conn.execute(
            update(messages)
            .where(messages.c.message_id == message_id)
            .values(delivery_state="failed")
        )
    db.dispose()
    with signed_in_client(dash) as client:
        html = client.get(f"/leads/{lead_id}").text
    assert 'data-state="failed">Failed</p>' in html
    assert "missing scope supply::messages.write" in html
