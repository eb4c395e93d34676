"""The identifier rule (``normalize.identifier``; README, "Partner endpoints"): Thumbtack's IDs
are int64s sent as decimal strings, so a JSON integer is its decimal text (``0`` and ``"0"`` are
one lead); a number with a fraction or exponent only when exact (at most 2**53); strings are
opaque once trimmed; no control characters, at most 64 characters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tackbridge.inbound import normalize as n
from tackbridge.inbound.parse import (
    InvalidPayloadError,
    parse_legacy_lead,
    parse_legacy_message,
    parse_legacy_review,
    parse_v4,
)
from tests.support.tackbridge import RunningServer, make_settings, running


@pytest.mark.parametrize(
    ("value", "ident"),
    [
        (0, "0"),
        (0.0, "0"),
        ("0", "0"),
        (1e3, "1000"),
        (" 42 ", "42"),
        ("007", "007"),
        (7, "7"),
        (519153480500518912, "519153480500518912"),
        (-(2**53) + 1.0, str(-(2**53) + 1)),
        ("m1", "m1"),
        (0.5, None),
        (3e20, None),  # a double this large stands for many int64s
        (float(2**53 + 2), None),
        ("a\x00b", None),
        ("\x1b[31m", None),
        ("a\u202eb", None),
        ("9" * 65, None),
        (True, None),
        ([], None),
    ],
)
def test_what_becomes_an_identifier(value: Any, ident: str | None) -> None:
    assert n.identifier(value) == ident
    assert (n.identifier_problem(value) is None) == (ident is not None)


@pytest.mark.parametrize(
    ("parse", "body", "field"),
    [
        (parse_legacy_lead, {"leadID": "1\x002"}, "leadID"),
        (parse_legacy_lead, {"leadID": 0.5}, "leadID"),
        (
            parse_legacy_lead,
            {"leadID": "1", "business": {"businessID": "b\x00"}},
            "business.businessID",
        ),
        (
            parse_legacy_message,
            {"leadID": "1", "message": {"messageID": "m\x00"}},
            "message.messageID",
        ),
        (parse_legacy_message, {"leadID": "1\x00", "message": {"messageID": "m"}}, "leadID"),
        (parse_legacy_message, {"leadID": 2.5, "message": {"messageID": "m"}}, "leadID"),
        (parse_legacy_review, {"review": {"reviewID": "r", "leadID": "l\x07"}}, "review.leadID"),
        (
            parse_v4,
            {
                "event": {"eventType": "MessageCreatedV4"},
                "data": {"messageID": "m", "negotiationID": "n\x00"},
            },
            "data.negotiationID",
        ),
        (
            parse_v4,
            {
                "event": {"eventType": "MessageCreatedV4"},
                "data": {"messageID": "m", "business": {"businessID": "\x00"}},
            },
            "data.business.businessID",
        ),
        (
            parse_v4,
            {
                "event": {"eventType": "NegotiationCreatedV4"},
                "data": {"negotiationID": "1", "business": {"businessID": "b" * 65}},
            },
            "data.business.businessID",
        ),
    ],
)
def test_a_delivery_naming_a_bad_identifier_is_refused_naming_it(
    parse: Any, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidPayloadError) as refused:
        parse(body)
    assert refused.value.field == field


def test_optional_identifiers_of_another_shape_are_still_tolerated() -> None:
    lead = parse_legacy_lead({"leadID": "1", "business": {"businessID": {"odd": 1}}})
    assert lead.business is None
    message = parse_legacy_message({"leadID": "", "message": {"messageID": "m"}})
    assert message.lead_id is None


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[RunningServer]:
    with running(make_settings(tmp_path_factory.mktemp("ids"))) as server:
        yield server


def test_zero_in_every_spelling_is_one_lead_and_nul_is_refused_but_kept(
    srv: RunningServer,
) -> None:
    outcomes = [
        srv.partner.post("/v1/lead", content=raw, headers={"content-type": "application/json"})
        for raw in (b'{"leadID": "0"}', b'{"leadID": 0}', b'{"leadID": 0.0}', b'{"leadID": 0e0}')
    ]
    assert [o.json()["status"] for o in outcomes] == ["accepted", *["duplicate"] * 3]
    assert {o.json()["leadID"] for o in outcomes} == {"0"}
    refused = srv.partner.post("/v1/lead", json={"leadID": "0\x00"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "leadID"
    assert "control characters" in refused.json()["detail"]
    log = srv.operator.get("/api/inbound", params={"outcome": "rejected"}).json()["items"]
    assert [e["statusCode"] for e in log] == [422]
    leads = srv.operator.get("/api/leads").json()["items"]
    assert [lead["leadID"] for lead in leads] == ["0"]
