"""The app's lean path: the partner endpoints are answered ahead of the framework's routing,
with the same answers, and behind the app's own middleware (trace ID, body limit, refusal
gate); everything else takes the framework's way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tackbridge.app import create_app
from tests.fixtures import doc_payload
from tests.support.tackbridge import RunningServer, in_process, make_settings

LEAD_ID = "299614694480093245"


class _Seen:
    """A middleware inside the lean path: notes the paths that reach the framework's routing."""

    paths: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    def with_middleware(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        app.user_middleware.append(Middleware(_Seen))  # the innermost
        return app

    monkeypatch.setattr("tests.support.tackbridge.create_app", with_middleware)
    _Seen.paths = []
    with in_process(make_settings(tmp_path)) as srv:
        yield srv


def test_partner_deliveries_skip_the_framework_and_answer_the_same(server: RunningServer) -> None:
    first = server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    again = server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    refused = server.client().post("/v1/lead", json=doc_payload("v2_lead"))  # no credentials
    bad = server.partner.post(
        "/v1/lead", content=b"{", headers={"content-type": "application/json"}
    )
    assert (first.status_code, first.json()["status"], first.json()["leadID"]) == (
        200,
        "accepted",
        LEAD_ID,
    )
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert (bad.status_code, bad.headers["content-type"]) == (400, "application/problem+json")
    assert server.lead(LEAD_ID)["leadID"] == LEAD_ID  # the operator API: the framework's way
    assert _Seen.paths == [f"GET /api/leads/{LEAD_ID}"]


def test_the_lean_path_stays_behind_the_app_s_middleware(server: RunningServer) -> None:
    traced = server.partner.post(
        "/v1/lead", json=doc_payload("v2_lead"), headers={"x-request-id": "trace-lean-1"}
    )
    assert traced.status_code == 200
    assert traced.headers["x-request-id"] == "trace-lean-1"  # TraceMiddleware ran
    too_big = server.partner.post(
        "/v1/lead",
        content=b"{" + b" " * (2 * server.settings.max_body_bytes) + b"}",
        headers={"content-type": "application/json"},
    )
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    assert "x-request-id" in too_big.headers
    assert _Seen.paths == []


def test_other_methods_on_a_partner_path_take_the_framework_s_way(server: RunningServer) -> None:
    answer = server.partner.get("/v1/lead")
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert _Seen.paths == ["GET /v1/lead"]
