"""Done when: a delivery whose body is shorter than its Content-Length is a logged, recorded
refusal: answered 408 when the client waits past the body deadline, recorded with its reason
when the client goes away (before: held until the client gave up, an unhandled
ClientDisconnect logged, nothing in the inbound log)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.raw import basic, connect, head, read_answer
from tests.support.tackbridge import WEBHOOK_AUTH, RunningServer, make_settings, running

PARTNER = {"Authorization": basic(*WEBHOOK_AUTH), "Content-Type": "application/json"}
START = b'{"leadID": "short-body", "request": {"description": "'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("incomplete"),
        body_timeout_seconds=0.5,
        coperniq_webhook_secret="hook-secret",
    )
    with running(settings) as srv:
        yield srv


def _entries(server: RunningServer, slug: str) -> list[dict[str, Any]]:
    items = server.operator.get("/api/inbound", params={"outcome": "rejected"}).json()["items"]
    return [i for i in items if (i["problem"] or {}).get("type", "").endswith(slug)]


def _until_entry(server: RunningServer, slug: str, within: float = 10.0) -> dict[str, Any]:
    # Polled: the server records it on its own time, after the client left; bounded.
    deadline = time.monotonic() + within
    while not (found := _entries(server, slug)):
        assert time.monotonic() < deadline, f"no {slug} entry"
        time.sleep(0.02)
    return found[0]


def test_a_short_body_past_the_deadline_is_408_and_kept(live: RunningServer) -> None:
    with connect(live.url) as sock:
        sock.sendall(head("POST", "/v1/lead", {**PARTNER, "Content-Length": "1000"}) + START)
        answer = read_answer(sock)
    assert answer.status == 408
    assert answer.headers["content-type"] == "application/problem+json"
    problem = json.loads(answer.body)
    entry = live.operator.get(f"/api/inbound/{problem['inboundID']}").json()
    assert (entry["statusCode"], entry["outcome"]) == (408, "rejected")
    assert entry["bodySize"] == len(START)
    assert entry["bodyTruncated"] is True
    assert entry["body"] == START.decode()
    assert "did not arrive within 0.5 s" in entry["problem"]["detail"]


def test_a_client_that_leaves_mid_body_is_recorded(
    live: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(live.url) as sock:
        sock.sendall(head("PUT", "/v1/lead/update", {**PARTNER, "Content-Length": "900"}) + START)
        time.sleep(0.05)  # a client's pause before it gives up; not a wait on the server
    entry = _until_entry(live, "incomplete-body")
    assert entry["route"] == "/v1/lead/update"
    assert entry["bodySize"] == len(START)
    assert f"after {len(START)} of 900 bytes" in entry["problem"]["detail"]
    assert not [r for r in caplog.records if "ClientDisconnect" in (r.exc_text or "")]
    assert not [r for r in caplog.records if "Exception in ASGI" in r.getMessage()]


def test_the_coperniq_webhook_records_a_short_body_too(live: RunningServer) -> None:
    with connect(live.url) as sock:
        path = "/coperniq/webhooks/hook-secret"
        headers = {"Content-Type": "application/json", "Content-Length": "500"}
        sock.sendall(head("POST", path, headers) + b'{"eventId": "e')
        answer = read_answer(sock)
    assert answer.status == 408
    items = live.operator.get("/api/inbound", params={"route": "/coperniq/webhooks/{secret}"})
    [entry] = items.json()["items"]
    assert (entry["statusCode"], entry["outcome"]) == (408, "rejected")
    assert "did not arrive" in entry["problem"]["detail"]
