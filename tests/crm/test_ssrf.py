"""Destinations a business sets cannot reach inside the operator's network: refused when saved
(422 naming the field, never echoing the URL) and when called (a permanent job error, nothing
sent); the account-wide Coperniq key goes only to the account's base URL. Loopback only: the
listener stands for an internal service; the allow-list lets the tests reach it on purpose."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tackbridge.crm.destination import DestinationConfig
from tackbridge.crm.errors import DestinationRefusedError
from tackbridge.crm.handlers import crm_jobs
from tackbridge.crm.store import destination_for
from tackbridge.leads.models import LeadInput
from tackbridge.outbox.errors import PermanentError
from tackbridge.runtime import Runtime
from tackbridge.store.business_settings import put
from tackbridge.store.secrets import load_box
from tests.support.sandbox import wait_until
from tests.support.servers import serve
from tests.support.tackbridge import RunningServer, make_settings, running

WHSEC = "whsec_" + base64.b64encode(b"w" * 32).decode()
DESTINATION = "/api/businesses/{}/destination"


@dataclass
class Listener:
    url: str = ""
    hits: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    found = Listener()

    async def hit(request: Request) -> JSONResponse:
        found.hits.append(dict(request.headers))
        return JSONResponse({"id": 1, "title": "t", "custom": {}})

    with serve(Starlette(routes=[Route("/{p:path}", hit, methods=["GET", "POST"])])) as url:
        found.url = url
        yield found


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("srv"), secret_key="k" * 40, coperniq_api_key="account-key"
    )
    with running(settings) as server:
        yield server


HOSTILE = [
    "http://hooks.example.com/t0ken",
    "https://127.0.0.1/t0ken",
    "https://0x7f000001/t0ken",
    "https://2130706433/t0ken",
    "https://169.254.169.254/latest/meta-data/t0ken",
    "https://metadata.google.internal/computeMetadata/v1/t0ken",
    "https://[::ffff:127.0.0.1]/t0ken",
    "https://[::1]/t0ken",
    "https://192.168.0.10/t0ken",
    "https://localhost:8443/t0ken",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_a_webhook_url_inside_the_network_is_refused_when_saved(
    srv: RunningServer, url: str
) -> None:
    answer = srv.operator.put(
        DESTINATION.format("b-hostile"),
        json={"kind": "webhook", "webhookUrl": url, "webhookSecret": WHSEC},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"] == "urn:tackbridge:problem:unsafe-destination"
    assert body["errors"][0]["field"] == "webhookUrl"
    assert "t0ken" not in answer.text
    assert srv.operator.get(DESTINATION.format("b-hostile")).json()["inherited"] is True


@pytest.mark.parametrize(
    "base", ["file:///etc/passwd", "ftp://crm.example.com/v1", "not a url", *HOSTILE]
)
def test_a_coperniq_base_url_is_validated_like_any_url(srv: RunningServer, base: str) -> None:
    answer = srv.operator.put(
        DESTINATION.format("b-hostile"),
        json={"kind": "coperniq", "coperniq": {"baseUrl": base}, "coperniqApiKey": "own-key"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "coperniq.baseUrl"


def test_a_business_with_its_own_base_url_brings_its_own_key(srv: RunningServer) -> None:
    own = {"kind": "coperniq", "coperniq": {"baseUrl": "https://crm.other.example/v1"}}
    refused = srv.operator.put(DESTINATION.format("b-own"), json=own)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [{"field": "coperniqApiKey"}]
    assert "account's key" in refused.json()["detail"]
    # The account's own base URL keeps the account's key.
    same = {"kind": "coperniq", "coperniq": {"baseUrl": "https://api.coperniq.io/v1/"}}
    assert srv.operator.put(DESTINATION.format("b-same"), json=same).status_code == 200
    saved = srv.operator.put(DESTINATION.format("b-own"), json=own | {"coperniqApiKey": "own-key"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["secretSet"] is True
    # A later PUT of the same kind without the key keeps the business's own one.
    again = srv.operator.put(DESTINATION.format("b-own"), json=own)
    assert again.status_code == 200, again.text


@pytest.fixture
async def runtime(tmp_path: Path, listener: Listener) -> AsyncIterator[Runtime]:
    settings = make_settings(tmp_path, secret_key="k" * 40, coperniq_api_key="account-key")
    rt = Runtime.open(settings)
    rt.start()
    yield rt
    await rt.aclose()
    rt.close()


async def _store(rt: Runtime, business: str, row: dict[str, Any]) -> DestinationConfig:
    """A row written without the API (an older version's, or straight into the store)."""
    values = {"destination_secret": None, "updated_at": datetime(2026, 1, 1, tzinfo=UTC)} | row
    await rt.services.writer.run(lambda conn: put(conn, business, values))
    jobs = crm_jobs(rt.services)
    with rt.services.db.reader.connect() as conn:
        found: DestinationConfig = destination_for(
            conn, business, rt.settings, rt.services.box, jobs.destinations.types
        )
    return found


async def test_a_stored_loopback_url_is_refused_when_called_and_nothing_is_sent(
    runtime: Runtime, listener: Listener
) -> None:
    listener.hits.clear()
    sealed = runtime.services.box().seal(WHSEC)
    port = listener.url.rsplit(":", 1)[1]
    jobs = crm_jobs(runtime.services)
    lead = LeadInput(lead_id="1", category="Kitchen Remodel")
    for i, url in enumerate([listener.url, f"https://0x7f000001:{port}", f"http://[::1]:{port}"]):
        config = await _store(
            runtime,
            f"b-{i}",
            {
                "destination": "webhook",
                "destination_options": {"coperniq": {}, "webhookUrl": url + "/t0ken"},
                "destination_secret": sealed,
            },
        )
        with pytest.raises(DestinationRefusedError) as refused:
            await jobs.destinations.get(config).deliver_lead(lead, idempotency_key=f"k{i}")
        assert isinstance(refused.value, PermanentError)
        assert "t0ken" not in str(refused.value)
    assert listener.hits == []


async def test_the_account_key_never_goes_to_a_business_base_url(
    runtime: Runtime, listener: Listener
) -> None:
    config = await _store(
        runtime,
        "b-own",
        {"destination": "coperniq", "destination_options": {"coperniq": {"baseUrl": listener.url}}},
    )
    assert config.secret is None
    with pytest.raises(PermanentError, match="coperniqApiKey is required"):
        crm_jobs(runtime.services).destinations.get(config)
    assert not any("account-key" in h.values() for h in listener.hits)


async def test_an_allowed_host_is_reached(tmp_path: Path, listener: Listener) -> None:
    listener.hits.clear()
    allowed = f"http://{listener.url.removeprefix('http://')}"
    settings = make_settings(
        tmp_path, secret_key="k" * 40, destination_allowed_hosts=f"10.0.0.9 {allowed}"
    )
    with running(settings) as srv:
        answer = srv.operator.put(
            DESTINATION.format("b-1"),
            json={"kind": "webhook", "webhookUrl": listener.url + "/h", "webhookSecret": WHSEC},
        )
        assert answer.status_code == 200, answer.text
    rt = Runtime.open(settings)
    rt.start()
    try:
        jobs = crm_jobs(rt.services)
        with rt.services.db.reader.connect() as conn:
            config = destination_for(
                conn, "b-1", settings, rt.services.box, jobs.destinations.types
            )
        receipt = await jobs.destinations.get(config).deliver_lead(
            LeadInput(lead_id="1"), idempotency_key="k"
        )
    finally:
        await rt.aclose()
        rt.close()
    assert receipt.outcome == "sent"
    assert len(listener.hits) == 1


def test_the_worker_never_calls_a_stored_internal_url(tmp_path: Path, listener: Listener) -> None:
    """End to end: a lead for a business whose stored webhook URL is on loopback (written by an
    older version, or straight into the store) ends its CRM job dead, permanently, and the
    listener standing for an internal service is never called."""
    listener.hits.clear()
    settings = make_settings(tmp_path, secret_key="k" * 40, run_worker=True)
    engine = create_engine(settings.resolved_database_url)
    with running(settings) as srv:
        row = {
            "destination": "webhook",
            "destination_options": {"coperniq": {}, "webhookUrl": listener.url + "/t0ken"},
            "destination_secret": load_box(settings).seal(WHSEC),
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
        with engine.begin() as conn:
            put(conn, "b-old", row)
        lead = {"leadID": "7001", "business": {"businessID": "b-old"}, "request": {}}
        assert srv.partner.post("/v1/lead", json=lead).status_code == 200

        def crm_job() -> dict[str, Any] | None:
            items = srv.operator.get("/api/jobs", params={"kind": "crm.lead"}).json()["items"]
            return items[0] if items and items[0]["state"] == "dead" else None

        wait_until(lambda: crm_job() is not None, timeout=20)
        job = srv.operator.get(f"/api/jobs/{crm_job()['id']}").json()  # type: ignore[index]
    engine.dispose()
    assert job["attempts"] == 1  # permanent: not retried
    assert "refused" in str(job["lastError"])
    assert "t0ken" not in str(job)
    assert listener.hits == []
