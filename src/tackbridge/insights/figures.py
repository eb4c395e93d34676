"""The insights a pro's office reads, computed from one fact per lead: leads per day by
category, the share answered inside Price Assurance, what Thumbtack cost against what the jobs
invoiced (per category and per business), and the funnel new -> replied -> scheduled ->
complete -> paid. Pure: facts in, figures out; ``insights.facts`` reads the facts from the store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel

from tackbridge.insights.response_times import LeadResponse, ResponseTimeSummary, summarize

__all__ = [
    "FUNNEL",
    "UNCATEGORISED",
    "Breakdown",
    "BucketSplit",
    "DayCount",
    "Funnel",
    "FunnelStage",
    "Insights",
    "LeadFact",
    "LeadsPerDay",
    "PriceAssurance",
    "ReturnOnSpend",
    "answered_inside",
    "funnel",
    "insights",
    "invoiced_cents",
    "leads_per_day",
    "price_assurance",
    "response_buckets",
    "return_on_spend",
    "stage_of",
]

UNCATEGORISED = "(no category)"
#: The funnel's stages, in order; each counts the leads that reached it or a later one.
FUNNEL: tuple[str, ...] = ("new", "replied", "scheduled", "complete", "paid")
# The job statuses (pushed to Thumbtack) that put a lead at a stage.
_REACHES: dict[str, frozenset[str]] = {
    "scheduled": frozenset({"appt_scheduled", "job_complete", "invoice_paid"}),
    "complete": frozenset({"job_complete", "invoice_paid"}),
    "paid": frozenset({"invoice_paid"}),
}
# Days drawn at most, so one wide filter cannot make a huge table.
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class LeadFact:
    """What the figures need of one lead (Thumbtack's test leads are never facts)."""

    lead_id: str
    received_at: datetime  # aware
    business_id: str | None = None
    business_name: str | None = None
    category: str | None = None
    customer_name: str | None = None
    status: str | None = None
    job_status: str | None = None  # the last pushed
    first_reply_at: datetime | None = None
    first_reply_by: str | None = None  # auto | person
    lead_price_cents: int | None = None
    invoice_cents: int | None = None  # see invoiced_cents
    # Every job status pushed for the lead, whatever came after (a cancel keeps "complete").
    job_statuses: frozenset[str] = field(default_factory=frozenset)
    # When Price Assurance's 4 business hours ran (or run) out.
    price_assurance_due: datetime | None = None


def invoiced_cents(history: Iterable[tuple[str | None, int | None]]) -> int | None:
    """The invoice of a lead from its job-status changes in order ``(status, amount)``: the last
    ``invoice_paid`` amount, else the last ``job_complete`` one."""
    paid: int | None = None
    complete: int | None = None
    for status, amount in history:
        if amount is None:
            continue
        if status == "invoice_paid":
            paid = amount
        elif status == "job_complete":
            complete = amount
    return paid if paid is not None else complete


def answered_inside(first_reply_at: datetime | None, due: datetime, now: datetime) -> bool | None:
    """True: answered in time; False: answered late, or unanswered past ``due``; None: still
    unanswered with time left."""
    if first_reply_at is not None:
        return first_reply_at <= due
    return None if now < due else False


def stage_of(fact: LeadFact) -> str:
    """The furthest funnel stage the lead reached."""
    for stage in reversed(FUNNEL[2:]):
        if fact.job_statuses & _REACHES[stage]:
            return stage
    return "replied" if fact.first_reply_at is not None else "new"


# ------------------------------------------------------------------------------ models


class DayCount(BaseModel):
    day: date
    total: int
    byCategory: dict[str, int]


class LeadsPerDay(BaseModel):
    """Leads received per UTC day, by category; every day of the range, empty ones too."""

    categories: list[str]
    days: list[DayCount]


class BucketSplit(BaseModel):
    """One bucket of the first-reply histogram, split by who answered."""

    label: str
    upToSeconds: float | None
    auto: int
    person: int


class PriceAssurance(BaseModel):
    """First replies inside Price Assurance's 4 business hours. ``share`` = inside / decided,
    where decided leads were answered or ran out of time; pending ones still have time."""

    leads: int
    decided: int
    inside: int
    late: int
    pending: int
    share: float | None


class Breakdown(BaseModel):
    """Thumbtack spend (``leadPrice``) against invoiced revenue (``invoiceAmountInCents``)."""

    key: str
    name: str
    leads: int
    spendCents: int
    revenueCents: int
    netCents: int
    # Revenue per cent spent; None when nothing was spent.
    returnOnSpend: float | None


class ReturnOnSpend(BaseModel):
    total: Breakdown
    byCategory: list[Breakdown]
    byBusiness: list[Breakdown]


class FunnelStage(BaseModel):
    stage: str
    leads: int
    shareOfNew: float | None
    shareOfPrevious: float | None


class Funnel(BaseModel):
    stages: list[FunnelStage]


class Insights(BaseModel):
    """Every figure of the insights page, for the same leads."""

    leads: int
    since: datetime | None
    until: datetime | None
    leadsPerDay: LeadsPerDay
    responseTimes: ResponseTimeSummary
    responseBuckets: list[BucketSplit]
    priceAssurance: PriceAssurance
    returnOnSpend: ReturnOnSpend
    funnel: Funnel


# ----------------------------------------------------------------------------- figures


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _category(fact: LeadFact) -> str:
    return (fact.category or "").strip() or UNCATEGORISED


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def leads_per_day(
    facts: Sequence[LeadFact], first: date | None = None, last: date | None = None
) -> LeadsPerDay:
    """Counts per day from ``first`` to ``last`` (default: the facts' first and last day); at
    most ``MAX_DAYS`` days, the latest ones."""
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for fact in facts:
        counts[_day(fact.received_at)][_category(fact)] += 1
    if not counts and (first is None or last is None):
        return LeadsPerDay(categories=[], days=[])
    start = first or min(counts)
    end = last or max(counts)
    start = max(start, end - timedelta(days=MAX_DAYS - 1))
    categories = sorted({c for day in counts.values() for c in day})
    days = []
    day = start
    while day <= end:
        found = counts.get(day, Counter())
        days.append(
            DayCount(
                day=day, total=sum(found.values()), byCategory={c: found[c] for c in categories}
            )
        )
        day += timedelta(days=1)
    return LeadsPerDay(categories=categories, days=days)


def _responses(facts: Iterable[LeadFact]) -> ResponseTimeSummary:
    return summarize(LeadResponse(f.received_at, f.first_reply_at, f.first_reply_by) for f in facts)


def response_buckets(facts: Sequence[LeadFact]) -> list[BucketSplit]:
    """The first-reply histogram of ``response_times`` with a count for each author."""
    auto = _responses(f for f in facts if f.first_reply_by == "auto").buckets
    person = _responses(
        f for f in facts if f.first_reply_at is not None and f.first_reply_by != "auto"
    ).buckets
    return [
        BucketSplit(label=a.label, upToSeconds=a.upToSeconds, auto=a.count, person=p.count)
        for a, p in zip(auto, person, strict=True)
    ]


def price_assurance(facts: Iterable[LeadFact], now: datetime) -> PriceAssurance:
    leads = inside = late = pending = 0
    for fact in facts:
        leads += 1
        if fact.price_assurance_due is None:
            pending += 1
            continue
        verdict = answered_inside(fact.first_reply_at, fact.price_assurance_due, now)
        if verdict is None:
            pending += 1
        elif verdict:
            inside += 1
        else:
            late += 1
    decided = inside + late
    return PriceAssurance(
        leads=leads,
        decided=decided,
        inside=inside,
        late=late,
        pending=pending,
        share=_share(inside, decided),
    )


def _breakdown(key: str, name: str, facts: Sequence[LeadFact]) -> Breakdown:
    spend = sum(f.lead_price_cents or 0 for f in facts)
    revenue = sum(f.invoice_cents or 0 for f in facts)
    return Breakdown(
        key=key,
        name=name,
        leads=len(facts),
        spendCents=spend,
        revenueCents=revenue,
        netCents=revenue - spend,
        returnOnSpend=None if spend == 0 else revenue / spend,
    )


def _grouped(
    facts: Sequence[LeadFact], key: Callable[[LeadFact], str], name: Callable[[LeadFact], str]
) -> list[Breakdown]:
    groups: dict[str, list[LeadFact]] = defaultdict(list)
    names: dict[str, str] = {}
    for fact in facts:
        groups[key(fact)].append(fact)
        names.setdefault(key(fact), name(fact))
    rows = [_breakdown(k, names[k], group) for k, group in groups.items()]
    # Largest spend first: where the money goes is the question.
    return sorted(rows, key=lambda row: (-row.spendCents, -row.revenueCents, row.name))


def return_on_spend(facts: Sequence[LeadFact]) -> ReturnOnSpend:
    return ReturnOnSpend(
        total=_breakdown("all", "All leads", facts),
        byCategory=_grouped(facts, _category, _category),
        byBusiness=_grouped(
            facts,
            lambda f: f.business_id or "",
            lambda f: f.business_name or f.business_id or "(no business)",
        ),
    )


def funnel(facts: Iterable[LeadFact]) -> Funnel:
    reached = Counter(stage_of(fact) for fact in facts)
    stages: list[FunnelStage] = []
    # A lead at a stage has passed every earlier one.
    counts = [sum(reached[s] for s in FUNNEL[i:]) for i in range(len(FUNNEL))]
    for i, stage in enumerate(FUNNEL):
        stages.append(
            FunnelStage(
                stage=stage,
                leads=counts[i],
                shareOfNew=_share(counts[i], counts[0]),
                shareOfPrevious=None if i == 0 else _share(counts[i], counts[i - 1]),
            )
        )
    return Funnel(stages=stages)


def insights(
    facts: Sequence[LeadFact],
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Insights:
    """Every figure over ``facts`` (the leads received in ``since``..``until``)."""
    last = _day(until - timedelta(microseconds=1)) if until is not None else None
    if since is not None and last is None and facts:
        last = max(_day(f.received_at) for f in facts)
    return Insights(
        leads=len(facts),
        since=since,
        until=until,
        leadsPerDay=leads_per_day(facts, _day(since) if since else None, last),
        responseTimes=_responses(facts),
        responseBuckets=response_buckets(facts),
        priceAssurance=price_assurance(facts, now),
        returnOnSpend=return_on_spend(facts),
        funnel=funnel(facts),
    )
