"""The Coperniq webhook receiver and the destination API, over HTTP on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.tackbridge import RunningServer, make_settings, running

SECRET = "s3cret-path-token"


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path, coperniq_webhook_secret=SECRET, run_worker=False, secret_key="k" * 40
    )
    with running(settings) as server:
        yield server


def event(event_id: str = "ev-1", trigger: str = "DEAL_STATUS_MOVEMENT") -> dict[str, Any]:
    return {
        "event": {
            "eventId": event_id,
            "recordId": 42,
            "triggerKey": trigger,
            "firedAt": "2026-11-23T10:00:00Z",
        },
        "record": {"id": 42, "type": "opportunity"},
    }


def inbound(srv: RunningServer) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = srv.operator.get("/api/inbound").json()["items"]
    return items


def test_an_event_is_stored_once_and_queued_once(srv: RunningServer) -> None:
    first = srv.partner.post(f"/coperniq/webhooks/{SECRET}", json=event())
    again = srv.partner.post(f"/coperniq/webhooks/{SECRET}", json=event())
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted"
    assert again.json()["status"] == "duplicate"
    jobs = srv.operator.get("/api/jobs", params={"kind": "crm.event"}).json()["items"]
    assert len(jobs) == 1
    logged = [e for e in inbound(srv) if e["route"] == "/coperniq/webhooks/{secret}"]
    assert [e["outcome"] for e in logged] == ["duplicate", "accepted"]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status"),
    [
        ("/coperniq/webhooks/wrong", b"{}", "application/json", 404),
        (f"/coperniq/webhooks/{SECRET}", b"{not json", "application/json", 400),
        (f"/coperniq/webhooks/{SECRET}", b"{}", "text/plain", 415),
        (f"/coperniq/webhooks/{SECRET}", b'{"event": {}}', "application/json", 422),
    ],
)
def test_bad_deliveries_are_refused_kept_and_never_leak_the_secret(
    srv: RunningServer, path: str, body: bytes, content_type: str, status: int
) -> None:
    answer = srv.partner.post(path, content=body, headers={"content-type": content_type})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert SECRET not in answer.text
    [entry] = [e for e in inbound(srv) if e["route"] == "/coperniq/webhooks/{secret}"]
    assert entry["statusCode"] == status
    detail = srv.operator.get(f"/api/inbound/{entry['id']}").text
    assert SECRET not in detail


def test_destination_choice_never_shows_its_secret(srv: RunningServer) -> None:
    put = srv.operator.put(
        "/api/businesses/b-1/destination",
        json={
            "kind": "webhook",
            "webhookUrl": "https://hooks.example/x",
            "webhookSecret": "whsec_abc",
        },
    )
    assert put.status_code == 200, put.text
    got = srv.operator.get("/api/businesses/b-1/destination").json()
    assert got == put.json()
    assert got["kind"] == "webhook"
    assert got["secretSet"] is True
    assert got["inherited"] is False
    assert "whsec_abc" not in srv.operator.get("/api/businesses/b-1/destination").text
    other = srv.operator.get("/api/businesses/b-2/destination").json()
    assert other["inherited"] is True
    assert other["kind"] == "none"


def test_a_webhook_destination_needs_a_url(srv: RunningServer) -> None:
    answer = srv.operator.put("/api/businesses/b-1/destination", json={"kind": "webhook"})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "webhookUrl"}]


def test_destination_urls_are_shown_without_userinfo_or_query_secrets(srv: RunningServer) -> None:
    put = srv.operator.put(
        "/api/businesses/b-1/destination",
        json={
            "kind": "webhook",
            "webhookUrl": "https://zap:pw-987@hooks.example/catch/1?token=tok-987&page=2",
            "webhookSecret": "whsec_abc",
        },
    )
    assert put.status_code == 200, put.text
    shown = "https://[redacted]@hooks.example/catch/1?token=[redacted]&page=2"
    assert put.json()["webhookUrl"] == shown
    got = srv.operator.get("/api/businesses/b-1/destination")
    assert got.json()["webhookUrl"] == shown
    assert "987" not in got.text
    coperniq = srv.operator.put(
        "/api/businesses/b-2/destination",
        json={
            "kind": "coperniq",
            "coperniqApiKey": "ck-1",
            "coperniq": {"baseUrl": "https://proxy.example/v1?key=k-987"},
        },
    )
    assert coperniq.status_code == 200, coperniq.text
    got = srv.operator.get("/api/businesses/b-2/destination")
    assert got.json()["coperniq"]["baseUrl"] == "https://proxy.example/v1?key=[redacted]"
    assert "987" not in got.text
