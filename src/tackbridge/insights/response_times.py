"""The distribution of first-reply times: how fast each lead got its first answer, and from whom.

Thumbtack refunds a lead only when the pro replied within 4 business hours, and the first pro to
answer usually wins the job, so this is the figure a pro's office watches. Pure: rows in, summary
out; the query lives with the API route.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

# Upper bounds (seconds) of the histogram buckets; the last bucket is open-ended.
BUCKETS: tuple[tuple[str, float], ...] = (
    ("under 10 s", 10),
    ("10-60 s", 60),
    ("1-5 min", 300),
    ("5-60 min", 3600),
    ("1-4 h", 4 * 3600),
    ("over 4 h", math.inf),
)


@dataclass(frozen=True)
class LeadResponse:
    received_at: datetime
    first_reply_at: datetime | None
    first_reply_by: str | None  # auto | person | None while unanswered


class Bucket(BaseModel):
    label: str
    upToSeconds: float | None
    count: int


class Percentiles(BaseModel):
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None


class ResponseTimeSummary(BaseModel):
    leads: int
    answered: int
    unanswered: int
    byAuto: int
    byPerson: int
    secondsToFirstReply: Percentiles
    autoSeconds: Percentiles
    personSeconds: Percentiles
    buckets: list[Bucket]


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (``q`` in 0..100); None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _percentiles(values: list[float]) -> Percentiles:
    values.sort()
    return Percentiles(
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
    )


def summarize(rows: Iterable[LeadResponse]) -> ResponseTimeSummary:
    every: list[float] = []
    auto: list[float] = []
    person: list[float] = []
    counts = [0] * len(BUCKETS)
    leads = 0
    for row in rows:
        leads += 1
        if row.first_reply_at is None:
            continue
        # A reply stamped before the lead (clock skew between hosts) counts as instant.
        seconds = max(0.0, (row.first_reply_at - row.received_at).total_seconds())
        every.append(seconds)
        (auto if row.first_reply_by == "auto" else person).append(seconds)
        index = next(i for i, (_, bound) in enumerate(BUCKETS) if seconds < bound)
        counts[index] += 1
    return ResponseTimeSummary(
        leads=leads,
        answered=len(every),
        unanswered=leads - len(every),
        byAuto=len(auto),
        byPerson=len(person),
        secondsToFirstReply=_percentiles(every),
        autoSeconds=_percentiles(auto),
        personSeconds=_percentiles(person),
        buckets=[
            Bucket(label=label, upToSeconds=None if math.isinf(bound) else bound, count=count)
            for (label, bound), count in zip(BUCKETS, counts, strict=True)
        ],
    )
