"""The app's lean path: the partner endpoints are answered ahead of the framework's middleware
and routing, with the same answers; everything else takes the framework's way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tackbridge.app import create_app
from tests.fixtures import doc_payload
from tests.support.tackbridge import RunningServer, in_process, make_settings

LEAD_ID = "299614694480093245"


class _Seen:
    """A middleware that notes the paths that reach the framework's stack."""

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
        app.add_middleware(_Seen)
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


def test_other_methods_on_a_partner_path_take_the_framework_s_way(server: RunningServer) -> None:
    answer = server.partner.get("/v1/lead")
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    assert _Seen.paths == ["GET /v1/lead"]
