"""Token expiry and rotation with 2 ``serve`` and 2 ``worker`` processes on one store: each
round the business's access token has expired, replies are queued through both servers, and
both workers race to send them; the sandbox sees one refresh per round (no refresh token spent
twice), every reply once, and no job dead.

The processes take the store's URL (``tests/faults/processes.py``): SQLite here; a PostgreSQL
URL runs the same test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.faults.processes import Processes, processes
from tests.support import stores
from tests.support.connections import (
    Stack,
    expire_access_token,
    refreshes,
    stack_clients,
    stack_sandbox,
    stack_settings,
)
from tests.support.outbound import sandbox_messages
from tests.support.sandbox import wait_until
from tests.support.servers import free_port
from tests.support.tackbridge import API_TOKEN

ROUNDS = 2
LEADS = 3

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The store the four processes share: the run's store (SQLite's file, or PostgreSQL)."""
    return stores.url(tmp_path / "tackbridge.db")


@pytest.fixture
def four(tmp_path: Path, database_url: str) -> Iterator[tuple[Stack, list[str], Processes]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with stack_sandbox(url) as sandbox:
        sandbox_url = sandbox.url
        settings = stack_settings(tmp_path, sandbox_url, url, database_url=database_url)
        key = settings.secret_key
        assert key is not None
        assert settings.thumbtack_client_secret is not None
        env = {
            "TACKBRIDGE_THUMBTACK_ENVIRONMENT": "sandbox",
            "TACKBRIDGE_THUMBTACK_BASE_URL": sandbox_url,
            "TACKBRIDGE_THUMBTACK_CLIENT_ID": settings.thumbtack_client_id or "",
            "TACKBRIDGE_THUMBTACK_CLIENT_SECRET": (
                settings.thumbtack_client_secret.get_secret_value()
            ),
            "TACKBRIDGE_PUBLIC_URL": url,
            "TACKBRIDGE_SECRET_KEY": key.get_secret_value(),
            "TACKBRIDGE_WORKER_LEASE_SECONDS": "2",
            "TACKBRIDGE_WORKER_BACKOFF_BASE_SECONDS": "0.05",
            "TACKBRIDGE_WORKER_BACKOFF_CAP_SECONDS": "0.5",
        }
        with processes(database_url, tmp_path, **env) as procs:
            _, first = procs.serve(port=port)
            _, second = procs.serve()
            procs.worker()
            procs.worker()
            with stack_clients(first) as (operator, browser):
                yield Stack(sandbox, url, settings, operator, browser), [first, second], procs


def _jobs(operator: httpx2.Client, kind: str) -> list[dict[str, Any]]:
    answer = operator.get("/api/jobs", params={"kind": kind, "limit": 200})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["items"]
    return found


def _arrived(stack: Stack, lead_ids: list[str]) -> bool:
    return all(stack.operator.get(f"/api/leads/{i}").status_code == 200 for i in lead_ids)


def test_two_servers_and_two_workers_refresh_once_per_expiry(
    four: tuple[Stack, list[str], Processes],
) -> None:
    stack, urls, _ = four
    business = stack.sandbox.business_ids()[0]
    stack.connect(business, "v4")
    clients = [
        httpx2.Client(base_url=u, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30)
        for u in urls
    ]
    sent: dict[str, list[str]] = {}
    try:
        for round_ in range(1, ROUNDS + 1):
            lead_ids = [stack.sandbox.new_lead(business)["leadID"] for _ in range(LEADS)]
            wait_until(lambda ids=lead_ids: _arrived(stack, ids), timeout=20)
            expire_access_token(stack.settings, business)
            for lead_id in lead_ids:
                for n, client in enumerate(clients):
                    text = f"round {round_} via server {n}"
                    answer = client.post(f"/api/leads/{lead_id}/messages", json={"text": text})
                    assert answer.status_code == 202, answer.text
                    sent.setdefault(lead_id, []).append(text)

            def settled() -> bool:
                jobs = _jobs(stack.operator, "thumbtack.message")
                return all(j["state"] in ("done", "dead") for j in jobs)

            wait_until(settled, timeout=40)
            assert refreshes(stack.sandbox) == round_
        assert [j for j in _jobs(stack.operator, "thumbtack.message") if j["state"] != "done"] == []
        for lead_id, texts in sent.items():
            got = sorted(m["text"] for m in sandbox_messages(stack.sandbox, lead_id))
            assert got == sorted(texts), lead_id
    finally:
        for client in clients:
            client.close()
