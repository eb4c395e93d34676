"""The lead table as CSV, for a spreadsheet: one row per lead with what the insights count.

Cells a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage
return: a customer may be called ``=HYPERLINK(...)``) are prefixed with ``'`` (OWASP's advice).
Pure: facts in, text out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from tackbridge.insights.figures import LeadFact, answered_inside, stage_of

__all__ = ["COLUMNS", "csv_lines", "row_of"]

COLUMNS: tuple[str, ...] = (
    "leadID",
    "receivedAt",
    "businessID",
    "businessName",
    "category",
    "customer",
    "status",
    "jobStatus",
    "stage",
    "firstReplyAt",
    "firstReplyBy",
    "secondsToFirstReply",
    "priceAssuranceDue",
    "insidePriceAssurance",
    "leadPriceCents",
    "invoicedCents",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA):
        return "'" + text
    return text


def row_of(fact: LeadFact, now: datetime) -> list[str]:
    seconds = (
        None
        if fact.first_reply_at is None
        else round(max(0.0, (fact.first_reply_at - fact.received_at).total_seconds()))
    )
    inside = (
        None
        if fact.price_assurance_due is None
        else answered_inside(fact.first_reply_at, fact.price_assurance_due, now)
    )
    values: list[object] = [
        fact.lead_id,
        fact.received_at,
        fact.business_id,
        fact.business_name,
        fact.category,
        fact.customer_name,
        fact.status,
        fact.job_status,
        stage_of(fact),
        fact.first_reply_at,
        fact.first_reply_by,
        seconds,
        fact.price_assurance_due,
        "pending" if fact.price_assurance_due is not None and inside is None else inside,
        fact.lead_price_cents,
        fact.invoice_cents,
    ]
    return [_cell(v) for v in values]


def csv_lines(facts: Iterable[LeadFact], now: datetime) -> Iterator[str]:
    """The CSV, header first, a line at a time (for a streamed answer)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield flush()
    for fact in facts:
        writer.writerow(row_of(fact, now))
        yield flush()
