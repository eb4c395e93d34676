from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tackbridge.inbound import normalize as n


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("$25.00", 2500),
        ("18.50", 1850),
        ("$1,234.5", 123450),
        ("USD 7", 700),
        ("-$3.10", -310),
        (25, 2500),
        (18.5, 1850),
        (None, None),
        ("", None),
        ("free", None),
        (True, None),
        ({"amount": 1}, None),
    ],
)
def test_money_cents(raw: object, cents: int | None) -> None:
    assert n.money_cents(raw) == cents


@given(st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False))
def test_money_round_trips_dollar_strings(amount: Decimal) -> None:
    assert n.money_cents(f"${amount:,.2f}") == int(amount * 100)
    assert n.money_cents(f"{amount:.2f}") == int(amount * 100)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1498760294", datetime(2017, 6, 29, 18, 18, 14, tzinfo=UTC)),
        (1498760294, datetime(2017, 6, 29, 18, 18, 14, tzinfo=UTC)),
        ("1517986598726", datetime(2018, 2, 7, 6, 56, 38, 726000, tzinfo=UTC)),
        ("2024-06-13T17:18:01Z", datetime(2024, 6, 13, 17, 18, 1, tzinfo=UTC)),
        ("2024-06-13T10:18:01-07:00", datetime(2024, 6, 13, 17, 18, 1, tzinfo=UTC)),
        ("2024-06-13T17:18:01", datetime(2024, 6, 13, 17, 18, 1, tzinfo=UTC)),
        ("This week", None),
        ("", None),
        (None, None),
        ("99999999999999999999999", None),
    ],
)
def test_timestamp(raw: object, expected: datetime | None) -> None:
    assert n.timestamp(raw) == expected


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_timestamp_reads_its_own_rfc3339_and_epoch(moment: datetime) -> None:
    assert n.timestamp(moment.isoformat()) == moment
    whole = moment.replace(microsecond=0)
    assert n.timestamp(str(int(whole.timestamp()))) == whole


@given(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.lists(st.integers())
    )
)
def test_normalisers_never_raise(value: object) -> None:
    n.money_cents(value)
    n.timestamp(value)
    n.text(value)
    n.identifier(value)
    n.rating(value)
    n.integer(value)
    n.boolean(value)


def test_split_name() -> None:
    assert n.split_name("John Davis") == ("John", "Davis")
    assert n.split_name("Jay J.") == ("Jay", "J.")
    assert n.split_name("Cher") == ("Cher", None)
    assert n.split_name("  ") == (None, None)


def test_identifier_accepts_int64_numbers_and_strings() -> None:
    assert n.identifier(519153480500518912) == "519153480500518912"
    assert n.identifier(" 42 ") == "42"
    assert n.identifier(True) is None
    assert n.identifier(1.5) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (2048, 2048),
        ("2048", 2048),
        (2048.0, 2048),
        (2**63 - 1, 2**63 - 1),
        (2**63, None),
        (2**256, None),
        ("9" * 40, None),
        (float("inf"), None),
        (True, None),
        ("12kb", None),
    ],
)
def test_integer_keeps_only_what_a_64_bit_column_holds(raw: object, expected: int | None) -> None:
    assert n.integer(raw) == expected


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_timestamps_without_a_utc_instant_in_range_are_dropped(raw: str) -> None:
    assert n.timestamp(raw) is None


def test_text_drops_nul_characters_that_no_text_column_of_postgresql_holds() -> None:
    assert n.text("Ja\x00ne\x00") == "Jane"
    assert n.text("\x00") == ""
    assert n.text("plain") == "plain"


def test_identifier_longer_than_the_store_keeps_is_none() -> None:
    assert n.identifier("9" * n.MAX_ID_LENGTH) == "9" * n.MAX_ID_LENGTH
    assert n.identifier("9" * (n.MAX_ID_LENGTH + 1)) is None


def test_code_is_cut_to_its_column_width() -> None:
    assert n.code("94103-1234-extra-long", 16) == "94103-1234-extra"
    assert n.code("CA", 16) == "CA"
    assert n.code(None, 16) is None
    assert n.code("\x00CA", 16) == "CA"
