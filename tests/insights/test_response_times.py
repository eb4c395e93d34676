from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tackbridge.insights.response_times import LeadResponse, percentile, summarize

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def row(seconds: float | None, by: str | None = "auto") -> LeadResponse:
    reply = None if seconds is None else T0 + timedelta(seconds=seconds)
    return LeadResponse(T0, reply, by if seconds is not None else None)


def test_summary_splits_by_who_answered_and_buckets_the_times() -> None:
    summary = summarize(
        [row(3), row(5), row(45, "person"), row(600, "person"), row(None), row(5 * 3600, "person")]
    )
    assert (summary.leads, summary.answered, summary.unanswered) == (6, 5, 1)
    assert (summary.byAuto, summary.byPerson) == (2, 3)
    assert summary.autoSeconds.p50 == 3
    assert summary.personSeconds.p50 == 600
    assert summary.secondsToFirstReply.p99 == 5 * 3600
    assert [b.count for b in summary.buckets] == [2, 1, 0, 1, 0, 1]
    assert summary.buckets[-1].upToSeconds is None


def test_empty_and_skewed_clocks() -> None:
    assert summarize([]).secondsToFirstReply.p50 is None
    assert summarize([row(-2)]).secondsToFirstReply.p50 == 0


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7


@given(st.lists(st.one_of(st.none(), st.floats(0, 10**7)), max_size=50))
def test_counts_always_add_up(times: list[float | None]) -> None:
    summary = summarize([row(t) for t in times])
    assert sum(b.count for b in summary.buckets) == summary.answered
    assert summary.answered + summary.unanswered == len(times)
    p = summary.secondsToFirstReply
    if summary.answered:
        assert p.p50 is not None
        assert p.p99 is not None
        assert p.p50 <= p.p99
