from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tackbridge.insights.export import COLUMNS, csv_lines
from tackbridge.insights.figures import (
    UNCATEGORISED,
    LeadFact,
    funnel,
    insights,
    invoiced_cents,
    leads_per_day,
    price_assurance,
    response_buckets,
    return_on_spend,
    stage_of,
)

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)


def fact(n: int, **values: object) -> LeadFact:
    base: dict[str, object] = {
        "lead_id": f"L{n}",
        "received_at": T0,
        "business_id": "B1",
        "business_name": "Ace Plumbing",
        "category": "Plumbing",
        "price_assurance_due": T0 + timedelta(hours=4),
    }
    base.update(values)
    return LeadFact(**base)  # type: ignore[arg-type]


def test_invoice_is_the_last_paid_amount_else_the_last_completed_one() -> None:
    assert invoiced_cents([]) is None
    assert invoiced_cents([("job_complete", 100), ("job_complete", 120)]) == 120
    assert invoiced_cents([("invoice_paid", 90), ("job_complete", 120)]) == 90
    assert invoiced_cents([("appt_scheduled", None), ("job_complete", None)]) is None


def test_leads_per_day_fills_empty_days_and_splits_categories() -> None:
    facts = [
        fact(1, category="Plumbing"),
        fact(2, category="Plumbing"),
        fact(3, category=None),
        fact(4, category="Cleaning", received_at=T0 + timedelta(days=2)),
    ]
    figure = leads_per_day(facts)
    assert figure.categories == [UNCATEGORISED, "Cleaning", "Plumbing"]
    assert [d.day for d in figure.days] == [date(2026, 11, d) for d in (2, 3, 4)]
    assert [d.total for d in figure.days] == [3, 0, 1]
    assert figure.days[0].byCategory == {UNCATEGORISED: 1, "Cleaning": 0, "Plumbing": 2}
    ranged = leads_per_day(facts, date(2026, 11, 1), date(2026, 11, 5))
    assert [d.total for d in ranged.days] == [0, 3, 0, 1, 0]
    assert leads_per_day([]).days == []


def test_price_assurance_share_counts_decided_leads_only() -> None:
    due = T0 + timedelta(hours=4)
    facts = [
        fact(1, first_reply_at=T0 + timedelta(seconds=5), first_reply_by="auto"),
        fact(2, first_reply_at=due + timedelta(minutes=1), first_reply_by="person"),
        fact(3),  # unanswered, past its deadline at NOW
        fact(4, received_at=NOW, price_assurance_due=NOW + timedelta(hours=4)),  # time left
    ]
    figure = price_assurance(facts, NOW)
    assert (figure.leads, figure.inside, figure.late, figure.pending) == (4, 1, 2, 1)
    assert figure.decided == 3
    assert figure.share == 1 / 3
    assert price_assurance([], NOW).share is None


def test_return_on_spend_per_category_and_business() -> None:
    facts = [
        fact(1, lead_price_cents=2500, invoice_cents=100_000),
        fact(2, lead_price_cents=1500),
        fact(3, category="Cleaning", business_id="B2", business_name=None, lead_price_cents=1000),
        fact(4, category="Cleaning", business_id="B2", lead_price_cents=None, invoice_cents=5000),
    ]
    figure = return_on_spend(facts)
    assert figure.total.spendCents == 5000
    assert figure.total.revenueCents == 105_000
    assert figure.total.netCents == 100_000
    assert figure.total.returnOnSpend == 21.0
    plumbing, cleaning = figure.byCategory
    assert (plumbing.name, plumbing.leads, plumbing.spendCents) == ("Plumbing", 2, 4000)
    assert plumbing.returnOnSpend == 25.0
    assert (cleaning.spendCents, cleaning.revenueCents, cleaning.returnOnSpend) == (1000, 5000, 5)
    assert [(b.key, b.name) for b in figure.byBusiness] == [("B1", "Ace Plumbing"), ("B2", "B2")]
    nothing_spent = return_on_spend([fact(1, invoice_cents=10)])
    assert nothing_spent.total.returnOnSpend is None


def test_funnel_stages_include_every_later_stage() -> None:
    facts = [
        fact(1),
        fact(2, first_reply_at=T0),
        fact(3, first_reply_at=T0, job_statuses=frozenset({"appt_scheduled"})),
        fact(4, first_reply_at=T0, job_statuses=frozenset({"appt_scheduled", "job_complete"})),
        # Paid without a recorded reply (answered by phone): it still passed every stage.
        fact(5, job_statuses=frozenset({"invoice_paid"})),
        fact(6, first_reply_at=T0, job_statuses=frozenset({"not_scheduled", "pro_cancel"})),
    ]
    assert [stage_of(f) for f in facts] == [
        "new", "replied", "scheduled", "complete", "paid", "replied"
    ]  # fmt: skip
    stages = funnel(facts).stages
    assert [(s.stage, s.leads) for s in stages] == [
        ("new", 6), ("replied", 5), ("scheduled", 3), ("complete", 2), ("paid", 1)
    ]  # fmt: skip
    assert stages[0].shareOfPrevious is None
    assert stages[2].shareOfNew == 0.5
    assert stages[4].shareOfPrevious == 0.5
    assert [s.leads for s in funnel([]).stages] == [0] * 5


def test_insights_cover_the_range_asked_for() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    until = datetime(2026, 11, 8, tzinfo=UTC)
    figures = insights([fact(1, first_reply_at=T0, first_reply_by="auto")], NOW, since, until)
    assert len(figures.leadsPerDay.days) == 7
    assert figures.leadsPerDay.days[-1].day == date(2026, 11, 7)
    assert figures.responseTimes.byAuto == 1
    assert figures.funnel.stages[1].leads == 1


def test_csv_has_a_row_per_lead_and_defuses_formulas() -> None:
    facts = [
        fact(1, customer_name='=HYPERLINK("http://x")', first_reply_at=T0 + timedelta(seconds=7)),
        fact(2, customer_name='Ann, "the" plumber', lead_price_cents=2500, invoice_cents=9900),
    ]
    rows = list(csv.reader(io.StringIO("".join(csv_lines(facts, NOW)))))
    assert tuple(rows[0]) == COLUMNS
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["customer"] == '\'=HYPERLINK("http://x")'
    assert first["secondsToFirstReply"] == "7"
    assert first["insidePriceAssurance"] == "yes"
    second = dict(zip(COLUMNS, rows[2], strict=True))
    assert second["customer"] == 'Ann, "the" plumber'
    assert (second["leadPriceCents"], second["invoicedCents"]) == ("2500", "9900")
    assert second["insidePriceAssurance"] == "no"
    assert len(rows) == 3


@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),
            st.sampled_from(["Plumbing", "Cleaning", None]),
            st.one_of(st.none(), st.integers(0, 10_000)),
            st.one_of(st.none(), st.integers(0, 1_000_000)),
        ),
        max_size=40,
    )
)
def test_figures_always_add_up(rows: list[tuple[int, str | None, int | None, int | None]]) -> None:
    facts = [
        fact(i, received_at=T0 + timedelta(days=d), category=c, lead_price_cents=p, invoice_cents=r)
        for i, (d, c, p, r) in enumerate(rows)
    ]
    figures = insights(facts, NOW)
    assert sum(d.total for d in figures.leadsPerDay.days) == len(facts)
    money = figures.returnOnSpend
    assert sum(b.spendCents for b in money.byCategory) == money.total.spendCents
    assert sum(b.revenueCents for b in money.byBusiness) == money.total.revenueCents
    counts = [s.leads for s in figures.funnel.stages]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == len(facts)


def test_response_buckets_split_by_who_answered() -> None:
    facts = [
        fact(1, first_reply_at=T0 + timedelta(seconds=3), first_reply_by="auto"),
        fact(2, first_reply_at=T0 + timedelta(seconds=4), first_reply_by="auto"),
        fact(3, first_reply_at=T0 + timedelta(minutes=30), first_reply_by="person"),
        fact(4),
    ]
    split = response_buckets(facts)
    assert [(b.label, b.auto, b.person) for b in split if b.auto or b.person] == [
        ("under 10 s", 2, 0),
        ("5-60 min", 0, 1),
    ]
    assert split[-1].upToSeconds is None
