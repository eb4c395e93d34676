"""Every number, date and identifier an operator or a partner sends is held to what the store and
the wire formats hold: out of bounds is a 4xx problem naming the field at the door, never a 500,
nor accepted and then failing on every attempt (a real server on loopback, production mode)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tackbridge.core.bounds import MAX_CENTS, check_moment, id_problem
from tests.support.tackbridge import RunningServer, make_settings, running


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path_factory.mktemp("bounds"), coperniq_webhook_secret="cw")
    with running(settings) as server:
        lead = server.partner.post("/v1/lead", json={"leadID": "100", "request": {"category": "X"}})
        assert lead.status_code == 200, lead.text
        yield server


def _refused(answer: Any, field: str) -> None:
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in answer.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "job_complete", "invoiceAmountInCents": 10**31}, "invoiceAmountInCents"),
        ({"status": "job_complete", "invoiceAmountInCents": MAX_CENTS + 1}, "invoiceAmountInCents"),
        ({"status": "job_complete", "invoiceAmountInCents": -1}, "invoiceAmountInCents"),
        ({"status": "job_complete", "changedAt": "0999-01-01T00:00:00Z"}, "changedAt"),
        ({"status": "job_complete", "changedAt": "0001-01-01T00:00:00+01:00"}, "changedAt"),
        ({"status": "job_complete", "changedAt": "9999-12-31T23:59:59-01:00"}, "changedAt"),
        ({"status": "job_complete", "changedAt": "2999-01-01T00:00:00Z"}, "changedAt"),
    ],
)
def test_job_status_out_of_bounds_is_refused_at_the_door(
    srv: RunningServer, body: dict[str, Any], field: str
) -> None:
    answer = srv.operator.post("/api/leads/100/job-status", json=body)
    _refused(answer, field)
    assert (
        srv.operator.get("/api/jobs", params={"kind": "thumbtack.job_status"}).json()["items"] == []
    )


def test_the_largest_exact_amount_is_taken(srv: RunningServer) -> None:
    answer = srv.operator.post(
        "/api/leads/100/job-status",
        json={"status": "invoice_paid", "invoiceAmountInCents": MAX_CENTS},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["invoiceAmountInCents"] == MAX_CENTS


@pytest.mark.parametrize(
    "path",
    [
        "/api/leads?since=0001-01-01T00:00:00%2B01:00",
        "/api/leads?since=9999-12-31T23:59:59-01:00",
        "/api/stats/response-times?since=0001-01-01T00:00:00%2B01:00",
        "/api/stats/response-times?until=9999-12-31T23:59:59-01:00",
    ],
)
def test_query_times_without_a_utc_instant_are_refused(srv: RunningServer, path: str) -> None:
    _refused(srv.operator.get(path), "query.")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/leads/100/messages", {"text": "hi", "messageID": "a\u0000b"}),
        ("post", "/api/leads/a%00b/messages", {"text": "hi"}),
        ("put", "/api/businesses/a%01b/destination", {"kind": "none"}),
        ("put", "/api/businesses/a%00b/autoreply", None),
        ("post", "/api/leads/a%1Fb/job-status", {"status": "job_complete"}),
        # Filters too: PostgreSQL cannot even compare a text holding NUL.
        ("get", "/api/leads?business=a%00b", None),
        ("get", "/api/leads?status=%00", None),
        ("get", "/api/jobs?kind=crm%00", None),
        ("get", "/api/inbound?eventType=%07x", None),
        ("get", "/api/stats/response-times?business=%00", None),
        ("get", "/connect/thumbtack?business=a%00b", None),
    ],
)
def test_operator_identifiers_refuse_control_characters(
    srv: RunningServer, method: str, path: str, body: Any
) -> None:
    answer = srv.operator.request(method, path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "event": {"eventId": "e" * 129, "recordId": 1, "triggerKey": "T"},
                "record": {"id": 1},
            },
            "event.eventId",
        ),
        (
            {
                "event": {"eventId": "e1", "recordId": 10**30, "triggerKey": "T"},
                "record": {"id": 1},
            },
            "event.recordId",
        ),
        (
            {
                "event": {"eventId": "e\u0000", "recordId": 1, "triggerKey": "T"},
                "record": {"id": 1},
            },
            "event.eventId",
        ),
        (
            {
                "event": {"eventId": "e2", "recordId": 1, "triggerKey": "T" * 65},
                "record": {"id": 1},
            },
            "event.triggerKey",
        ),
    ],
)
def test_coperniq_events_are_held_to_what_the_store_keeps(
    srv: RunningServer, body: dict[str, Any], field: str
) -> None:
    answer = srv.partner.post("/coperniq/webhooks/cw", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_the_rules_themselves() -> None:
    assert id_problem("519153480500518912") is None
    assert id_problem("a\x00b") == "must not contain control characters"
    assert id_problem("a\u202eb") is not None  # a format character (bidi override)
    assert id_problem("9" * 65) is not None
    with pytest.raises(ValueError, match="UTC instant"):
        check_moment(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
