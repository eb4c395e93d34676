"""The custom-header alternative to Basic (v4 webhooks allow either)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import doc_payload
from tests.support.tackbridge import RunningServer, in_process, make_settings


@pytest.fixture
def header_server(tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path, webhook_header_name="X-Tackbridge-Secret", webhook_header_value="s3cret-value"
    )
    with in_process(settings) as srv:
        yield srv


def test_custom_header_authenticates(header_server: RunningServer) -> None:
    with header_server.client() as client:
        payload = doc_payload("v4_negotiation_created")
        ok = client.post(
            "/v4/webhooks", json=payload, headers={"X-Tackbridge-Secret": "s3cret-value"}
        )
        wrong = client.post("/v4/webhooks", json=payload, headers={"X-Tackbridge-Secret": "nope"})
    assert ok.status_code == 200
    assert wrong.status_code == 401
    entry = header_server.operator.get(f"/api/inbound/{ok.json()['inboundID']}").json()
    assert entry["headers"]["x-tackbridge-secret"] == "[redacted]"


def test_basic_still_works_beside_the_header(header_server: RunningServer) -> None:
    response = header_server.partner.post("/v1/lead", json=doc_payload("v2_lead"))
    assert response.status_code == 200
