"""A lead's thread is built once and served twice: inside ``GET /api/leads/{id}`` (with each
message's attachments) and as ``GET /api/leads/{id}/messages`` (with reply delivery state).
These pin what both put on the wire: the fields, their order and the order of the messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, insert

from tackbridge.leads.service import get_lead
from tackbridge.leads.thread import thread
from tackbridge.store.schema import attachments, leads, messages, metadata
from tests.fixtures import doc_payload
from tests.support.tackbridge import RunningServer

LEAD = "L1"
T0 = datetime(2024, 5, 1, 12, 0, 0)  # naive, as SQLite hands it back


def _at(minute: int) -> datetime:
    return T0.replace(minute=minute)


@pytest.fixture
def conn() -> Iterator[Connection]:
    """An in-memory store holding one lead with the messages below."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        _seed(connection)
        yield connection
    engine.dispose()


def _message(conn: Connection, message_id: str, **values: Any) -> None:
    row: dict[str, Any] = {
        "message_id": message_id,
        "lead_id": LEAD,
        "sender": "Customer",
        "text": f"text {message_id}",
        "source": "v1",
        "sent_at": None,
        "received_at": _at(59),
    }
    conn.execute(insert(messages).values(row | values))


def _seed(conn: Connection) -> None:
    conn.execute(
        insert(leads).values(
            lead_id=LEAD, source="v1", is_test=False, received_at=T0, updated_at=T0, extra={}
        )
    )
    # Stored (arrival) order differs from send order; "late" has no send time and sorts by
    # arrival; "tie-a" and "tie-b" share a send time and sort by arrival; "same-1" and
    # "same-2" share both and keep their stored order.
    _message(conn, "m3", sent_at=_at(30), received_at=_at(31))
    _message(conn, "m1", sent_at=_at(10), received_at=_at(40))
    _message(conn, "late", received_at=_at(20))
    _message(conn, "tie-b", sent_at=_at(25), received_at=_at(27))
    _message(conn, "tie-a", sent_at=_at(25), received_at=_at(26))
    _message(conn, "same-2", sent_at=_at(5), received_at=_at(6))
    _message(conn, "same-1", sent_at=_at(5), received_at=_at(6))
    _message(conn, "other", lead_id="L2", sent_at=_at(1))
    _message(
        conn,
        "reply",
        sender="Business",
        source="reply",
        delivery_state="queued",
        author="person",
        received_at=_at(28),
    )
    for position, name in enumerate(["b.jpg", "a.jpg"]):
        conn.execute(
            insert(attachments).values(
                owner_kind="message",
                owner_id="m1",
                owner_lead=LEAD,  # a message is its lead and its ID
                position=position,
                file_name=name,
                file_size=10 + position,
                mime_type="image/jpeg",
                url=f"https://example.test/{name}",
                description=None,
            )
        )


ORDER = ["same-2", "same-1", "m1", "late", "tie-a", "tie-b", "reply", "m3"]


def test_lead_view_messages_are_unchanged(conn: Connection) -> None:
    view = get_lead(conn, LEAD)
    assert view is not None
    wire = view.model_dump(mode="json", by_alias=True)["messages"]
    assert [m["messageID"] for m in wire] == ORDER
    fields = ["messageID", "leadID", "from", "text", "sentAt", "receivedAt", "source"]
    assert all(list(m) == [*fields, "attachments"] for m in wire)
    by_id = {m["messageID"]: m for m in wire}
    assert by_id["m1"] == {
        "messageID": "m1",
        "leadID": LEAD,
        "from": "Customer",
        "text": "text m1",
        "sentAt": by_id["m1"]["sentAt"],
        "receivedAt": by_id["m1"]["receivedAt"],
        "source": "v1",
        "attachments": [
            {
                "fileName": "b.jpg",
                "fileSize": 10,
                "mimeType": "image/jpeg",
                "url": "https://example.test/b.jpg",
                "description": None,
            },
            {
                "fileName": "a.jpg",
                "fileSize": 11,
                "mimeType": "image/jpeg",
                "url": "https://example.test/a.jpg",
                "description": None,
            },
        ],
    }
    assert view.messages[2].sentAt == _at(10).replace(tzinfo=UTC)
    assert by_id["late"]["sentAt"] is None
    assert by_id["late"]["attachments"] == []
    assert "deliveryState" not in by_id["reply"]


def test_messages_endpoint_thread_is_unchanged(conn: Connection) -> None:
    result = thread(conn, LEAD)
    wire = result.model_dump(mode="json", by_alias=True)
    assert list(wire) == ["leadID", "messages"]
    assert wire["leadID"] == LEAD
    assert [m["messageID"] for m in wire["messages"]] == ORDER
    fields = ["messageID", "leadID", "from", "text", "source", "deliveryState", "author"]
    assert all(list(m) == [*fields, "sentAt", "receivedAt"] for m in wire["messages"])
    by_id = {m["messageID"]: m for m in wire["messages"]}
    assert by_id["reply"] == {
        "messageID": "reply",
        "leadID": LEAD,
        "from": "Business",
        "text": "text reply",
        "source": "reply",
        "deliveryState": "queued",
        "author": "person",
        "sentAt": None,
        "receivedAt": by_id["reply"]["receivedAt"],
    }
    assert result.messages[6].receivedAt == _at(28).replace(tzinfo=UTC)
    assert result.messages[0].sentAt == _at(5).replace(tzinfo=UTC)


def test_empty_thread(conn: Connection) -> None:
    assert thread(conn, "none").messages == []


def test_both_endpoints_agree(server: RunningServer) -> None:
    server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    lead_id = doc_payload("v2_lead")["leadID"]
    server.partner.post("/v1/message", json=doc_payload("v2_message"))
    for message_id, sent in [("m3", "1498760400"), ("m1", "1498760300"), ("m2", "1498760350")]:
        body = {"leadID": lead_id, "message": {"messageID": message_id, "createTimestamp": sent}}
        server.partner.post("/v1/message", json=body)
    in_lead = server.lead(lead_id)["messages"]
    own = server.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"]
    order = ["8699842694484326245", "m1", "m2", "m3"]
    assert [m["messageID"] for m in in_lead] == order
    assert [m["messageID"] for m in own] == order
    assert in_lead[0]["attachments"][0]["fileName"] == "fridge.jpg"
    assert "attachments" not in own[0]
    assert [m["receivedAt"] for m in in_lead] == [m["receivedAt"] for m in own]
