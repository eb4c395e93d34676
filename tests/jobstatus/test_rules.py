"""The pure rules of a job-status change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tackbridge.jobstatus.push import push_key
from tackbridge.jobstatus.rules import (
    INVOICE_STATUSES,
    STATUSES,
    InvalidJobStatusError,
    validate,
)
from tests.support.job_statuses import JOB_STATUSES

NOW = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)


def test_the_six_statuses_and_nothing_else() -> None:
    assert set(STATUSES) == set(JOB_STATUSES)
    for status in STATUSES:
        assert validate("1", status, now=NOW).status == status
    for status in ("JOB_COMPLETE", "completed", "", "job_complete ", "scheduled"):
        with pytest.raises(InvalidJobStatusError) as caught:
            validate("1", status, now=NOW)
        assert caught.value.field == "status"


@pytest.mark.parametrize("status", STATUSES)
def test_invoice_amount_only_with_complete_or_paid(status: str) -> None:
    if status in INVOICE_STATUSES:
        change = validate("1", status, invoice_amount_cents=125000, now=NOW)
        assert change.wire()["invoiceAmountInCents"] == 125000
    else:
        with pytest.raises(InvalidJobStatusError) as caught:
            validate("1", status, invoice_amount_cents=125000, now=NOW)
        assert caught.value.field == "invoiceAmountInCents"


@pytest.mark.parametrize("amount", [-1, True, 1.5])
def test_invoice_amount_must_be_whole_non_negative_cents(amount: object) -> None:
    with pytest.raises(InvalidJobStatusError):
        validate("1", "job_complete", invoice_amount_cents=amount, now=NOW)  # type: ignore[arg-type]


def test_changed_at_defaults_to_now_and_is_sent_as_utc() -> None:
    assert validate("1", "appt_scheduled", now=NOW).wire() == {
        "status": "appt_scheduled",
        "partnerStatusChangedAt": "2026-11-02T15:30:00Z",
    }
    paris = timezone(timedelta(hours=1))
    change = validate(
        "1", "pro_cancel", changed_at=datetime(2026, 11, 1, 9, 0, tzinfo=paris), now=NOW
    )
    assert change.wire()["partnerStatusChangedAt"] == "2026-11-01T08:00:00Z"
    with pytest.raises(InvalidJobStatusError) as caught:
        validate("1", "pro_cancel", changed_at=datetime(2026, 11, 1, 9, 0), now=NOW)
    assert caught.value.field == "changedAt"


@given(
    status=st.sampled_from(STATUSES),
    cents=st.none() | st.integers(min_value=0, max_value=10**12),
    # A change happened between 1970 and now (later ones are refused: core.bounds).
    at=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)
    ),
)
def test_the_key_is_one_per_change(status: str, cents: int | None, at: datetime) -> None:
    if cents is not None and status not in INVOICE_STATUSES:
        cents = None
    change = validate("42", status, invoice_amount_cents=cents, changed_at=at, now=NOW)
    same = validate("42", status, invoice_amount_cents=cents, changed_at=at, now=NOW)
    assert push_key(change) == push_key(same)
    later = validate(
        "42", status, invoice_amount_cents=cents, changed_at=at + timedelta(seconds=1), now=NOW
    )
    assert push_key(later) != push_key(change)
