"""``/api/stats/insights`` and ``/api/stats/leads.csv`` over a real store."""

from __future__ import annotations

import csv
import io

from tackbridge.insights.export import COLUMNS
from tests.support.insight_data import EXPECTED, LEADS, seed
from tests.support.tackbridge import RunningServer


def test_the_figures_of_a_known_book_of_leads(server: RunningServer) -> None:
    seed(server)
    figures = server.operator.get("/api/stats/insights").json()
    assert figures["leads"] == EXPECTED["leads"]
    money = figures["returnOnSpend"]
    assert money["total"]["spendCents"] == EXPECTED["spendCents"]
    assert money["total"]["revenueCents"] == EXPECTED["revenueCents"]
    assert {
        b["key"]: (b["leads"], b["spendCents"], b["revenueCents"]) for b in money["byBusiness"]
    } == EXPECTED["byBusiness"]
    assert {
        b["name"]: (b["leads"], b["spendCents"], b["revenueCents"]) for b in money["byCategory"]
    } == EXPECTED["byCategory"]
    stages = {s["stage"]: s["leads"] for s in figures["funnel"]["stages"]}
    assert {k: stages[k] for k in EXPECTED["funnel"]} == EXPECTED["funnel"]
    [today] = figures["leadsPerDay"]["days"]
    assert today["total"] == 5
    assert today["byCategory"]["House Cleaning"] == 2
    # Nobody answered yet, and 4 hours have not passed: every lead still has time.
    assert figures["priceAssurance"]["pending"] == 5
    assert figures["responseTimes"]["unanswered"] == 5


def test_scoped_to_businesses_and_time(server: RunningServer) -> None:
    seed(server)
    one = server.operator.get("/api/stats/insights", params={"business": "B-sparkle"}).json()
    assert one["leads"] == 2
    assert one["returnOnSpend"]["total"]["spendCents"] == 2250
    both = server.operator.get(
        "/api/stats/insights", params=[("business", "B-sparkle"), ("business", "B-ace")]
    ).json()
    assert both["leads"] == 5
    later = server.operator.get("/api/stats/insights", params={"since": "2100-01-01T00:00:00Z"})
    assert later.json()["leads"] == 0


def test_csv_export_of_the_lead_table(server: RunningServer) -> None:
    seed(server)
    answer = server.operator.get("/api/stats/leads.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == COLUMNS
    assert sorted(r["leadID"] for r in rows) == sorted(lead[0] for lead in LEADS)
    paid = next(r for r in rows if r["leadID"] == "ins-1")
    assert (paid["stage"], paid["leadPriceCents"], paid["invoicedCents"]) == (
        "paid",
        "2500",
        "125000",
    )


def test_operator_token_required(server: RunningServer) -> None:
    with server.client() as anonymous:
        assert anonymous.get("/api/stats/insights").status_code == 401
        assert anonymous.get("/api/stats/leads.csv").status_code == 401


def test_a_period_out_of_this_era_is_refused_not_a_crash(server: RunningServer) -> None:
    for params in (
        {"since": "0001-01-01T00:00:00Z"},
        {"until": "9999-12-31T23:59:59-01:00"},
        {"since": "0001-01-01T00:30:00+01:00"},
    ):
        for path in ("/api/stats/insights", "/api/stats/leads.csv"):
            answer = server.operator.get(path, params=params)
            assert answer.status_code == 422, (path, params, answer.text)
            assert answer.json()["detail"] == "since and until must be between 1970 and 9000"
