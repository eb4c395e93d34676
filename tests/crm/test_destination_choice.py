"""A business's destination choice as the operator API shows it and the CRM jobs use it: the
settings' default until it chooses, its own options over the defaults, secrets that stay with
their kind, and one client per Coperniq key."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tackbridge.crm.handlers import crm_jobs
from tackbridge.runtime import Runtime
from tackbridge.store.business_settings import put
from tackbridge.store.database import open_database
from tackbridge.store.schema import business_settings
from tests.support.tackbridge import RunningServer, make_settings, running

WHSEC = "whsec_" + base64.b64encode(b"w" * 32).decode()
DESTINATION = "/api/businesses/{}/destination"


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path,
        secret_key="k" * 40,
        coperniq_api_key="account-key",
        coperniq_match_by="address",
        webhook_destination_url="https://default.example/hook",
    )
    with running(settings) as server:
        yield server


def test_a_business_without_a_choice_gets_the_settings_default(srv: RunningServer) -> None:
    got = srv.operator.get(DESTINATION.format("b-0")).json()
    assert got == {
        "businessID": "b-0",
        "kind": "coperniq",
        "inherited": True,
        "coperniq": {
            "baseUrl": "https://api.coperniq.io/v1",
            "matchBy": "address",
            "matchFoundStrategy": "skip",
            "allowNewOptions": False,
        },
        "webhookUrl": None,
        "secretSet": True,
    }


def test_own_options_override_the_defaults_and_are_stored_as_before(srv: RunningServer) -> None:
    put = srv.operator.put(
        DESTINATION.format("b-1"),
        json={"kind": "coperniq", "coperniq": {"matchFoundStrategy": "enrich"}},
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "businessID": "b-1",
        "kind": "coperniq",
        "inherited": False,
        "coperniq": {
            "baseUrl": "https://api.coperniq.io/v1",
            "matchBy": "address",
            "matchFoundStrategy": "enrich",
            "allowNewOptions": False,
        },
        "webhookUrl": None,
        "secretSet": True,  # the account-wide key
    }
    with running_db(srv) as rows:
        assert rows["b-1"] == (
            "coperniq",
            {"coperniq": {"matchFoundStrategy": "enrich"}, "webhookUrl": None},
            False,
        )


def test_a_webhook_choice_falls_back_to_the_default_url(srv: RunningServer) -> None:
    put = srv.operator.put(
        DESTINATION.format("b-2"),
        json={"kind": "webhook", "webhookSecret": WHSEC, "coperniq": {"matchBy": "title"}},
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "businessID": "b-2",
        "kind": "webhook",
        "inherited": False,
        # Another kind's options are kept as they were given.
        "coperniq": {
            "baseUrl": None,
            "matchBy": "title",
            "matchFoundStrategy": None,
            "allowNewOptions": None,
        },
        "webhookUrl": "https://default.example/hook",
        "secretSet": True,
    }
    with running_db(srv) as rows:
        kind, options, sealed = rows["b-2"]
        assert (kind, options, sealed) == (
            "webhook",
            {"coperniq": {"matchBy": "title"}, "webhookUrl": None},
            True,
        )


def test_a_secret_of_another_kind_does_not_carry_over(srv: RunningServer) -> None:
    srv.operator.put(
        DESTINATION.format("b-3"),
        json={"kind": "webhook", "webhookUrl": "https://own.example/h", "webhookSecret": WHSEC},
    )
    moved = srv.operator.put(DESTINATION.format("b-3"), json={"kind": "coperniq"}).json()
    assert moved["secretSet"] is True  # the account-wide key, not the webhook's secret
    with running_db(srv) as rows:
        assert rows["b-3"][2] is False
    # Kept when the kind stays: a secret left out keeps the stored one.
    srv.operator.put(
        DESTINATION.format("b-4"),
        json={"kind": "webhook", "webhookUrl": "https://own.example/h", "webhookSecret": WHSEC},
    )
    again = srv.operator.put(
        DESTINATION.format("b-4"), json={"kind": "webhook", "webhookUrl": "https://own.example/2"}
    ).json()
    assert again["webhookUrl"] == "https://own.example/2"
    with running_db(srv) as rows:
        assert rows["b-4"][2] is True


@contextmanager
def running_db(srv: RunningServer) -> Iterator[dict[str, tuple[str, object, bool]]]:
    """The stored rows (kind, options, whether a secret is sealed) of the server's store."""
    db = open_database(srv.settings.resolved_database_url)
    try:
        with db.reader.connect() as conn:
            rows = conn.execute(select(business_settings)).all()
        yield {
            r.business_id: (r.destination, r.destination_options, r.destination_secret is not None)
            for r in rows
        }
    finally:
        db.dispose()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(tmp_path, secret_key="k" * 40, coperniq_api_key="account-key")
    rt = Runtime.open(settings)
    rt.start()
    yield rt
    await rt.aclose()
    rt.close()


async def test_businesses_share_one_client_per_coperniq_key(runtime: Runtime) -> None:
    jobs = crm_jobs(runtime.services)
    first = jobs.opportunity_client("b-a")
    assert first is not None
    assert jobs.opportunity_client("b-b") is first  # both on the account-wide key
    assert jobs.opportunity_client(None) is first
    # A row as every version has stored it: a business with its own key gets its own client.
    sealed = runtime.services.box().seal("own-key")
    row = {
        "destination": "coperniq",
        "destination_options": {"coperniq": {}, "webhookUrl": None},
        "destination_secret": sealed,
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    await runtime.services.writer.run(lambda conn: put(conn, "b-c", row))
    own = jobs.opportunity_client("b-c")
    assert own is not None
    assert own is not first
    assert jobs.opportunity_client("b-c") is own
