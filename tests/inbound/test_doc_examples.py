"""Every example payload in the reference documents goes in through its partner endpoint and
comes back out of ``GET /api/leads/{leadID}`` with every field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tackbridge.inbound import normalize
from tests.fixtures import doc_payload
from tests.support.tackbridge import RunningServer

Leaf = tuple[tuple[str | int, ...], Any]


def leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[Leaf]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def at(document: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


_TIMES = {"createTimestamp", "createTime", "createdAt", "modifyTime", "sentAt"}


def _same(expected: Any, actual: Any, key: str | int) -> bool:
    if key in _TIMES:
        return normalize.timestamp(expected) == normalize.timestamp(actual)
    return bool(expected == actual)


def lead_output_path(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Where a field of a lead delivery appears in the lead view."""
    head, rest = path[0], path[1:]
    if head == "negotiationID":
        return ("leadID",)
    if head in {"createTime", "createdAt"}:
        return ("createTimestamp",)
    if head in {"category", "details"}:  # v4 puts request fields at the top level
        return lead_output_path(("request", *path))
    if head == "customer" and rest[:1] == ("location",):
        return ("request", *rest)
    if head == "request" and rest[:1] == ("category",) and len(rest) == 2:
        return ("request", "categoryID") if rest[1] == "categoryID" else ("request", "category")
    return path


def assert_lead_round_trip(sent: dict[str, Any], lead: dict[str, Any]) -> None:
    for path, value in leaves(sent):
        out = lead_output_path(path)
        got = at(lead, out)
        assert _same(value, got, path[-1]), (
            f"{'.'.join(map(str, path))}: sent {value!r}, got {got!r}"
        )


LEAD_FIXTURES = [
    ("v1_lead", "/v1/lead", None),
    ("v2_lead", "/v1/lead", None),
    ("v2_test_create_lead", "/v1/lead", None),
    ("v4_negotiation_created", "/v4/webhooks", "data"),
    ("v4_request_lead_created", "/v4/webhooks", "data"),
]


@pytest.mark.parametrize(("name", "route", "inner"), LEAD_FIXTURES)
def test_lead_examples_round_trip(
    server: RunningServer, name: str, route: str, inner: str | None
) -> None:
    payload = doc_payload(name)
    response = server.partner.post(route, json=payload)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    sent = payload[inner] if inner else payload
    lead_id = str(sent.get("leadID") or sent.get("negotiationID"))
    lead = server.lead(lead_id)
    assert_lead_round_trip(sent, lead)
    assert lead["source"] == ("v4" if inner else "v1")
    assert lead["inboxLink"] == f"https://www.thumbtack.com/pro-inbox/messages/{lead_id}"


def test_v2_lead_normalised_fields(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    lead = server.lead("299614694480093245")
    assert lead["createTimestamp"] == "2017-06-29T18:18:14Z"
    assert lead["customer"]["firstName"] == "John"
    assert lead["customer"]["lastName"] == "Davis"
    assert lead["leadPriceCents"] is None
    assert lead["isTest"] is False
    assert [h["source"] for h in lead["statusHistory"]] == ["received"]


def test_v4_lead_money_and_names(server: RunningServer) -> None:
    server.partner.post("/v4/webhooks", json=doc_payload("v4_request_lead_created"))
    lead = server.lead("548955282027569999")
    assert lead["leadPriceCents"] == 2500
    assert lead["customer"]["name"] == "Olivia Young"
    assert lead["status"] == "Open"


@pytest.mark.parametrize(
    ("lead_name", "message_name", "route", "inner"),
    [
        ("v1_lead", "v1_message", "/v1/message", None),
        ("v2_lead", "v2_message", "/v1/message", None),
        ("v4_request_lead_created", "v4_message_created", "/v4/webhooks", "data"),
    ],
)
def test_message_examples_round_trip(
    server: RunningServer, lead_name: str, message_name: str, route: str, inner: str | None
) -> None:
    lead_route = "/v4/webhooks" if inner else "/v1/lead"
    assert server.partner.post(lead_route, json=doc_payload(lead_name)).status_code == 200
    payload = doc_payload(message_name)
    response = server.partner.post(route, json=payload)
    assert response.status_code == 200, response.text
    sent = payload[inner] if inner else payload
    lead_id = str(sent.get("leadID") or sent.get("negotiationID"))
    [message] = server.lead(lead_id)["messages"]
    body = sent if inner else sent["message"]
    for path, value in leaves(body):
        key = path[0]
        if key == "createTimestamp":
            assert normalize.timestamp(value) == normalize.timestamp(message["sentAt"])
        elif key == "negotiationID":
            assert message["leadID"] == value
        else:
            assert _same(value, at(message, path), path[-1]), path
    expected_sender = sent.get("from", "Customer")
    assert message["from"] == expected_sender


@pytest.mark.parametrize(
    ("name", "route", "inner"),
    [("v2_review", "/v1/review", "review"), ("v4_review_created", "/v4/webhooks", "data")],
)
def test_review_examples_round_trip(
    server: RunningServer, name: str, route: str, inner: str
) -> None:
    payload = doc_payload(name)
    lead_id = str(payload[inner].get("leadID") or payload[inner].get("negotiationID"))
    lead_payload = (
        doc_payload("v2_lead") if inner == "review" else doc_payload("v4_request_lead_created")
    )
    server.partner.post("/v1/lead" if inner == "review" else "/v4/webhooks", json=lead_payload)
    response = server.partner.post(route, json=payload)
    assert response.status_code == 200, response.text
    [review] = server.lead(lead_id)["reviews"]
    for path, value in leaves(payload[inner]):
        key = path[0]
        if key == "rating":
            assert review["rating"] == int(value)
        elif key == "negotiationID":
            assert review["leadID"] == value
        else:
            assert _same(value, at(review, path), path[-1]), path
    if inner == "review":
        assert review["reviewEventType"] == payload["reviewEventType"]
        assert review["createTime"] == "2018-02-07T06:56:38.726000Z"


def test_lead_update_example_applies(server: RunningServer) -> None:
    lead = doc_payload("v2_lead") | {"leadID": "465324000282984455"}
    server.partner.post("/v1/lead", json=lead)
    response = server.partner.put("/v1/lead/update", json=doc_payload("v2_lead_update"))
    assert response.status_code == 200, response.text
    stored = server.lead("465324000282984455")
    assert stored["leadPrice"] == "$26.00"
    assert stored["leadPriceCents"] == 2600
    assert stored["chargeState"] == "Charged"
    assert [h["source"] for h in stored["statusHistory"]] == ["received", "update"]
