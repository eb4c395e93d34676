"""``/insights`` and ``/insights/leads.csv`` over HTTP: the figures of a known book of leads,
a member's scoped to their business, charts as images with their numbers as tables."""

from __future__ import annotations

import base64
import csv
import io
import re

from tests.support.dashboard_users import signed_in_as
from tests.support.insight_data import EXPECTED, seed
from tests.support.tackbridge import RunningServer


def _row(html: str, table: str, key: str) -> str:
    found = re.search(rf'<table id="{table}">.*?</table>', html, re.S)
    assert found, table
    row = re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', found.group(0), re.S)
    assert row, (table, key)
    return row.group(1)


def _cell(html: str, table: str, key: str, field: str) -> str:
    cell = re.search(rf'data-field="{field}">([^<]*)<', _row(html, table, key))
    assert cell, (table, key, field)
    return cell.group(1)


def test_an_owner_sees_every_figure_with_its_table(server: RunningServer) -> None:
    seed(server)
    owner = signed_in_as(server, "owner@example.com", role="owner")
    page = owner.client.get("/insights")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Content-Security-Policy" in page.headers
    assert _cell(html, "spend-by-business", "B-ace", "spendCents") == "$80.00"
    assert _cell(html, "spend-by-business", "B-ace", "revenueCents") == "$1,850.00"
    assert _cell(html, "spend-by-business", "B-ace", "returnOnSpend") == "23.12×"
    assert _cell(html, "spend-by-category", "House Cleaning", "leads") == "2"
    for stage, count in EXPECTED["funnel"].items():
        assert _cell(html, "funnel", stage, "leads") == str(count)
    assert _cell(html, "price-assurance", "pending", "count") == "5"
    # Charts are SVG images drawn by pygal, with no script, and an alt text.
    images = re.findall(
        r'<img class="chart" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', html
    )
    assert len(images) == 6
    svg = base64.b64decode(images[0][0]).decode()
    assert "pygal" in svg
    assert "<script" not in svg
    # A customer's name is data, never markup; the chart's text is escaped too.
    assert "<script>x</script>" not in html


def test_a_member_sees_only_their_business(server: RunningServer) -> None:
    seed(server)
    member = signed_in_as(server, "m@example.com", role="member", businesses=("B-sparkle",))
    html = member.client.get("/insights").text
    assert 'data-key="B-ace"' not in html
    assert _cell(html, "spend-by-business", "B-sparkle", "spendCents") == "$22.50"
    # Asking for another business's figures shows theirs, not the other's.
    other = member.client.get("/insights", params={"business": "B-ace"}).text
    assert 'data-key="B-ace"' not in other
    rows = list(csv.DictReader(io.StringIO(member.client.get("/insights/leads.csv").text)))
    assert {r["businessID"] for r in rows} == {"B-sparkle"}
    # The menu shows them neither Deliveries nor Connections nor Users.
    assert 'href="/deliveries"' not in html
    assert 'href="/users"' not in html


def test_the_period_and_the_csv(server: RunningServer) -> None:
    seed(server)
    owner = signed_in_as(server, "owner@example.com", role="owner")
    past = owner.client.get("/insights", params={"since": "2020-01-01", "until": "2020-01-31"})
    assert _cell(past.text, "funnel", "new", "leads") == "0"
    assert past.text.count('<tr data-key="2020-01-') == 31
    answer = owner.client.get("/insights/leads.csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == EXPECTED["leads"]
    script = next(r for r in rows if r["leadID"] == "ins-5")
    assert script["customer"] == "<script>x</script>"  # CSV is data; only formulas are defused


def test_signed_out_is_sent_to_sign_in(server: RunningServer) -> None:
    with server.client(follow_redirects=False) as anonymous:
        for path in ("/insights", "/insights/leads.csv"):
            answer = anonymous.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/login")


def test_a_period_out_of_this_era_is_brought_back(server: RunningServer) -> None:
    owner = signed_in_as(server, "owner@example.com", role="owner")
    for params in ({"since": "0001-01-01", "until": "0001-01-05"}, {"until": "9999-12-31"}):
        page = owner.client.get("/insights", params=params)
        assert page.status_code == 200, params
        assert owner.client.get("/insights/leads.csv", params=params).status_code == 200
