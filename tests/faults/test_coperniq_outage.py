"""Coperniq refusing connections, then answering 5xx, then 429 for a while: afterwards every
lead is delivered once (one opportunity), its CRM jobs settled in order (the lead before its
messages), and no job is dead.

tackbridge reaches the sandbox's Coperniq through a forwarding proxy on a port of its own: while
the proxy is not listening, connections are refused; the 5xx and 429 come from the sandbox's
fault injection (``sandbox/faults.py``). The proxy counts what it forwarded, which is how each
phase waits for tackbridge to have met its fault."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import Response

from tackbridge.app import create_app
from tackbridge.devstack import Ports, product_settings, sandbox_config
from tackbridge.sandbox import create_app as create_sandbox
from tests.e2e.conftest import Stack
from tests.support.servers import free_port, serve
from tests.support.tackbridge import dev_clients, make_settings

LEADS = 4
FAST = {
    "worker_backoff_base_seconds": 0.05,
    "worker_backoff_cap_seconds": 0.5,
    "worker_max_attempts": 500,
    "worker_lease_seconds": 3.0,
}
LEAD_KEY = "thumbtack_lead_id"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class Proxy:
    """Forwards every request to ``upstream``; counts the answers' statuses."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        async with httpx2.AsyncClient(timeout=10) as client:
            answer = await client.request(
                request.method,
                self.upstream + request.url.path,
                params=request.query_params.multi_items(),
                headers=[(k, v) for k, v in request.headers.items() if k != "host"],
                content=await request.body(),
            )
        with self.lock:
            self.statuses[answer.status_code] += 1
        headers = {
            k: v
            for k, v in answer.headers.items()
            if k not in ("content-length", "content-encoding", "transfer-encoding")
        }
        await Response(answer.content, answer.status_code, headers)(scope, receive, send)

    def seen(self, status: int) -> int:
        with self.lock:
            return self.statuses[status]


def _jobs(stack: Stack) -> list[dict[str, Any]]:
    answer = stack.operator.get("/api/jobs", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    found: list[dict[str, Any]] = body["items"]
    return found


def _crm_jobs(stack: Stack, lead_ids: set[str]) -> list[dict[str, Any]]:
    return [
        j
        for j in _jobs(stack)
        if j["kind"].startswith("crm.") and j["payload"].get("leadID") in lead_ids
    ]


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[Stack, Proxy, int]]:
    with ExitStack() as stack:
        ports = Ports(tackbridge=free_port(), sandbox=free_port())
        proxy_port = free_port()  # nothing listens there yet: connections are refused
        base = make_settings(tmp_path / "data", run_worker=True, **FAST)
        settings = product_settings(ports, base=base)
        proxy = Proxy(settings.coperniq_base_url or "")
        settings = settings.model_copy(
            update={"coperniq_base_url": f"http://127.0.0.1:{proxy_port}"}
        )
        config = sandbox_config(ports, settings, lead_rate=0, seed=11)
        stack.enter_context(serve(create_sandbox(config), port=ports.sandbox))
        stack.enter_context(serve(create_app(settings), port=ports.tackbridge))
        operator, sandbox = dev_clients(stack, ports)
        yield (
            Stack(ports, settings, operator, sandbox, lambda: None, lambda: None),
            proxy,
            proxy_port,
        )


def test_leads_land_once_and_in_order_after_refused_5xx_and_429(
    outage: tuple[Stack, Proxy, int],
) -> None:
    stack, proxy, proxy_port = outage
    business = stack.business_ids()[0]
    stack.connect(business)
    lead_ids = {stack.new_lead(business) for _ in range(LEADS)}
    stack.wait(lambda: all(stack.lead(lead_id) for lead_id in lead_ids))

    # 1. Refused: every lead's CRM job has failed to connect and is waiting to retry.
    def retried() -> bool:
        jobs = [j for j in _crm_jobs(stack, lead_ids) if j["kind"] == "crm.lead"]
        return len(jobs) == LEADS and all(j["attempts"] >= 2 for j in jobs)

    stack.wait(retried, timeout=30)
    assert all(j["state"] != "done" for j in _crm_jobs(stack, lead_ids))

    with serve(proxy, port=proxy_port):
        # 2. 5xx, then 3. 429, each until tackbridge has met it on several calls.
        for fault, status in (
            ({"error_rate": 1.0, "rate_limit_rate": 0.0}, 503),
            ({"error_rate": 0.0, "rate_limit_rate": 1.0}, 429),
        ):
            put = stack.sandbox.put("/_sandbox/faults", json={"retry_after_seconds": 1, **fault})
            assert put.status_code == 200, put.text
            before = proxy.seen(status)
            stack.wait(lambda: proxy.seen(status) >= before + LEADS, timeout=30)  # noqa: B023
        calm = {"error_rate": 0.0, "rate_limit_rate": 0.0}
        assert stack.sandbox.put("/_sandbox/faults", json=calm).status_code == 200
        assert proxy.seen(200) + proxy.seen(201) == 0, "no call got through during the faults"

        # 4. Recovered: every CRM job of these leads settles done, none dead.
        def settled() -> bool:
            jobs = _crm_jobs(stack, lead_ids)
            return bool(jobs) and all(j["state"] in ("done", "dead") for j in jobs)

        stack.wait(settled, timeout=60)

    jobs = _crm_jobs(stack, lead_ids)
    assert [j for j in jobs if j["state"] != "done"] == []
    assert [j for j in _jobs(stack) if j["state"] == "dead"] == []
    opportunities = [
        o for o in stack.inspect("coperniq/opportunities") if o.get("deletedAt") is None
    ]
    per_lead = Counter(o.get("custom", {}).get(LEAD_KEY) for o in opportunities)
    assert {lead_id: per_lead[lead_id] for lead_id in lead_ids} == dict.fromkeys(lead_ids, 1)
    # In order per lead: its record landed before any later CRM job of it settled.
    for lead_id in lead_ids:
        mine = [j for j in jobs if j["payload"].get("leadID") == lead_id]
        landed = [datetime.fromisoformat(j["updatedAt"]) for j in mine if j["kind"] == "crm.lead"]
        assert len(landed) == 1, mine
        later = [datetime.fromisoformat(j["updatedAt"]) for j in mine if j["kind"] != "crm.lead"]
        assert all(landed[0] <= t for t in later), mine
