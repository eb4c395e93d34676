"""The inbound log's queries (``list_entries``, ``get_entry``) on a real store, and ``redacted``,
which masks secret-looking fields of a body for display."""

from __future__ import annotations

import json

from sqlalchemy import create_engine

from tackbridge.inbound.log_api import get_entry, list_entries, redacted
from tests.support.tackbridge import RunningServer


def test_refused_and_unrecognised_deliveries_listed_together(server: RunningServer) -> None:
    server.partner.post(
        "/v1/lead", content=b"{not json", headers={"content-type": "application/json"}
    )
    with server.client() as stranger:
        stranger.post("/v1/lead", json={"leadID": "L-x"}, auth=("thumbtack", "wrong"))
    server.partner.post(
        "/v4/webhooks",
        json={"event": {"eventType": "PresetJobMatchedV4", "webhookID": "w"}, "data": {}},
    )
    server.partner.post("/v1/lead", json={"leadID": "L-ok", "request": {"category": "x"}})
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            page = list_entries(conn, outcomes=("rejected", "unauthorized", "ignored"))
            outcomes = [e.outcome for e in page.items]
            assert outcomes == ["ignored", "unauthorized", "rejected"]
            assert list_entries(conn, outcomes=("rejected",), limit=1).nextCursor is None
            assert len(list_entries(conn).items) == 4
            rejected = get_entry(conn, page.items[-1].id)
            assert rejected is not None
            assert rejected.body == "{not json"
            assert get_entry(conn, 10**9) is None
    finally:
        engine.dispose()


def test_redacted_masks_secret_fields_at_any_depth_and_keeps_the_rest() -> None:
    body = json.dumps(
        {
            "leadID": "L1",
            "password": "hunter2",
            "login": {"accessToken": "tok", "refresh_token": "r", "apiKey": "k", "note": "keep"},
            "auth": {"whatever": "hidden-whole"},
            "items": [{"client_secret": "s"}, {"compass": "north"}],
            "token": None,
            "callback": "https://hooks.example/x?token=tok2&page=2",
            "accessCode": "RR-77",
        }
    )
    shown = redacted(body, extra=("accessCode",))
    assert shown is not None
    for secret in ("hunter2", '"tok"', '"r"', '"k"', '"s"', "tok2", "RR-77"):
        assert secret not in shown
    parsed = json.loads(shown)
    assert parsed["login"]["note"] == "keep"
    assert parsed["auth"] == "[redacted]"
    assert parsed["items"][1] == {"compass": "north"}
    assert parsed["token"] is None
    assert parsed["callback"] == "https://hooks.example/x?token=[redacted]&page=2"
    assert redacted("{not json") == "{not json"
    assert redacted(None) is None
