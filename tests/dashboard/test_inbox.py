"""The inbox over HTTP: newest first, filters and search, the time left to answer turning
urgent near the end of Price Assurance's window, and the business hours it runs on."""

from __future__ import annotations

import copy
import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from tackbridge.core.clock import now
from tackbridge.dashboard.pages import inbox
from tackbridge.store.database import open_database
from tackbridge.store.schema import leads
from tests.fixtures import doc_payload
from tests.support.dashboard import signed_in_client
from tests.support.tackbridge import RunningServer


def _lead(dash: RunningServer, lead_id: str, **changes: object) -> None:
    payload = copy.deepcopy(doc_payload("v1_lead"))
    payload["leadID"] = lead_id
    customer = changes.pop("customer", None)
    if customer:
        payload["customer"] = {"customerID": f"c-{lead_id}", "name": customer}
    business = changes.pop("business", None)
    if business:
        payload["business"]["businessID"] = business
    payload["request"].update(changes)
    assert dash.partner.post("/v1/lead", json=payload).status_code == 200


def _shown(html: str) -> list[str]:
    return re.findall(r'data-lead-id="([^"]+)"', html)


def _age(dash: RunningServer, lead_id: str, by: timedelta) -> None:
    db = open_database(dash.settings.resolved_database_url)
    with db.writer.begin() as conn:
        conn.execute(update(leads).where(leads.c.lead_id == lead_id).values(received_at=now() - by))
    db.dispose()


def test_newest_first_filters_and_search(dash: RunningServer) -> None:
    _lead(dash, "801", category="Plumbing", customer="Ana Lopez", description="Leaky pipe")
    _lead(dash, "802", category="Painting", customer="Bo Chen", description="100% matte walls")
    _lead(dash, "803", category="Plumbing", customer="Cy Diaz", business="b2", description="Drain")
    with signed_in_client(dash) as client:
        assert _shown(client.get("/").text) == ["803", "802", "801"]
        assert _shown(client.get("/", params={"category": "Plumbing"}).text) == ["803", "801"]
        assert _shown(client.get("/", params={"business": "b2"}).text) == ["803"]
        assert _shown(client.get("/", params={"q": "bo ch"}).text) == ["802"]
        assert _shown(client.get("/", params={"q": "100%"}).text) == ["802"]
        assert _shown(client.get("/", params={"q": "_"}).text) == []  # a wildcard is a character
        assert _shown(client.get("/", params={"q": "leaky"}).text) == ["801"]
        reply = dash.operator.post("/api/leads/801/messages", json={"text": "On my way"})
        assert reply.status_code == 202
        # The stamp of the first reply comes with its send; a person's reply counts at once
        # only when it is sent, so mark this one answered as the worker would.
        db = open_database(dash.settings.resolved_database_url)
        with db.writer.begin() as conn:
            conn.execute(update(leads).where(leads.c.lead_id == "801").values(first_reply_at=now()))
        db.dispose()
        assert _shown(client.get("/", params={"unanswered": "true"}).text) == ["803", "802"]
        page = client.get("/", params={"category": "Plumbing", "unanswered": "true"}).text
    assert _shown(page) == ["803"]
    assert 'option value="Plumbing" selected' in page
    assert 'id="f-unanswered" name="unanswered" type="checkbox" value="true" checked' in page


def test_the_time_left_turns_urgent_near_the_end(dash: RunningServer) -> None:
    _lead(dash, "811")
    _lead(dash, "812")
    _lead(dash, "813")
    _age(dash, "812", timedelta(hours=3, minutes=30))
    _age(dash, "813", timedelta(hours=5))
    with signed_in_client(dash) as client:
        html = client.get("/").text
    by_id = {v: k for k, v in re.findall(r'<li class="([^"]*)" data-lead-id="([^"]+)"', html)}
    assert by_id["811"] == "lead"
    assert by_id["812"] == "lead urgent"
    assert by_id["813"] == "lead late"
    assert "3 h 59 min left to answer" in html or "3 h 58 min left to answer" in html
    assert "Price Assurance window passed" in html


def test_the_clock_runs_on_the_business_hours_of_its_auto_reply_rules(dash: RunningServer) -> None:
    _lead(dash, "821", business="b7")
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    another_day = days[(now().weekday() + 3) % 7]
    one_hour_a_week = {
        "default": {
            "enabled": False,
            "template": "Thanks!",
            "business_hours": {
                "time_zone": "UTC",
                "windows": [{"days": [another_day], "start": "09:00", "end": "10:00"}],
            },
        }
    }
    saved = dash.operator.put("/api/businesses/b7/autoreply", json=one_hour_a_week)
    assert saved.status_code == 200, saved.text
    with signed_in_client(dash) as client:
        html = client.get("/").text
    assert "no business hours set" not in html
    # One open hour a week, not today: four weeks to go, and the clock stands still today.
    assert "1 h 00 min left to answer" not in html
    assert "4 h 00 min left to answer (clock paused outside business hours, due" in html


def test_older_leads_page_on_with_the_filters_kept(
    dash: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    for n in range(5):
        _lead(dash, f"83{n}", category="Roofing")
    with signed_in_client(dash) as client:
        first = client.get("/", params={"category": "Roofing"}).text
        assert _shown(first) == ["834", "833"]
        more = re.search(r'<a href="(/\?[^"]+)">Older leads</a>', first)
        assert more is not None
        second = client.get(html.unescape(more.group(1))).text
        assert _shown(second) == ["832", "831"]
        assert 'option value="Roofing" selected' in second
        broken = client.get("/", params={"cursor": "not-a-cursor"})
    assert broken.status_code == 200
    assert _shown(broken.text) == ["834", "833"]
