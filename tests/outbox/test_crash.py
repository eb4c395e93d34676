"""Done when: a real ``tackbridge worker`` process, SIGKILLed while the far side holds its
request, leaves the job to be completed after a restart, and the reply arrives once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import create_engine, select
from starlette.types import ASGIApp, Receive, Scope, Send

from tackbridge.sandbox import create_app
from tackbridge.store.schema import delivery_attempts, outbox
from tests.support.outbound import import_lead, sandbox_messages
from tests.support.sandbox import FAST, Sandbox, wait_until
from tests.support.servers import serve
from tests.support.tackbridge import RunningServer


@dataclass
class Calls:
    """The messages posted to a sandbox's API (replies to leads), and how many of those it has
    finished handling (answered, or given up on after the caller went away)."""

    received: int = 0
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settled(self) -> bool:
        with self.lock:
            return self.finished == self.received


class Counting:
    """Counts around the whole sandbox app, ahead of its latency fault: a message counts as
    received as soon as it reaches the sandbox."""

    def __init__(self, app: ASGIApp, calls: Calls) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path.endswith("/message") and scope.get("method") == "POST"):
            await self.app(scope, receive, send)
            return
        with self.calls.lock:
            self.calls.received += 1
        try:
            await self.app(scope, receive, send)
        finally:
            with self.calls.lock:
                self.calls.finished += 1


@pytest.fixture
def counted() -> Iterator[tuple[Sandbox, Calls]]:
    calls = Calls()
    with httpx2.Client(timeout=10.0) as http, serve(Counting(create_app(FAST), calls)) as url:
        yield Sandbox(url, http), calls


def start_worker(server: RunningServer, sb: Sandbox, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
    env.update(
        TACKBRIDGE_DATABASE_URL=server.settings.resolved_database_url,
        TACKBRIDGE_SQLITE_SYNCHRONOUS="NORMAL",
        TACKBRIDGE_THUMBTACK_ENVIRONMENT="sandbox",
        TACKBRIDGE_THUMBTACK_BASE_URL=sb.url,
        TACKBRIDGE_THUMBTACK_API_USERNAME="tackbridge-dev",
        TACKBRIDGE_THUMBTACK_API_PASSWORD="dev-api-password",
        TACKBRIDGE_WORKER_LEASE_SECONDS="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tackbridge", "worker"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def job_row(server: RunningServer) -> tuple[str, int, list[str]]:
    engine = create_engine(server.settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.kind == "thumbtack.message")).one()
            outcomes = conn.execute(
                select(delivery_attempts.c.outcome).where(delivery_attempts.c.job_id == row.id)
            ).scalars()
            return row.state, row.attempts, list(outcomes)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_killed_mid_delivery_completes_once_after_restart(
    live_server: RunningServer, counted: tuple[Sandbox, Calls], tmp_path: Path
) -> None:
    server = live_server  # beside a real ``tackbridge worker`` process
    fresh, calls = counted
    lead_id = import_lead(server, fresh, fresh.business_ids()[0])
    answer = server.operator.post(f"/api/leads/{lead_id}/messages", json={"text": "Once only"})
    assert answer.status_code == 202
    message_id = answer.json()["messageID"]
    fresh.faults(latency_ms=3000)  # Thumbtack sits on every call for 3 s

    first = start_worker(server, fresh, tmp_path)
    try:
        # The reply is with the sandbox now, waiting out the latency.
        wait_until(lambda: calls.received == 1, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert job_row(server)[:2] == ("running", 1)  # claimed, never settled
    assert sandbox_messages(fresh, lead_id) == []

    fresh.faults(latency_ms=0)
    second = start_worker(server, fresh, tmp_path)
    try:
        wait_until(lambda: job_row(server)[0] == "done", timeout=30)
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    finally:
        if second.poll() is None:
            second.kill()

    state, attempts, outcomes = job_row(server)
    assert (state, attempts, outcomes) == ("done", 2, ["done"])
    # The sandbox has finished what the killed worker left in flight (its request outlives it).
    wait_until(calls.settled, timeout=30)
    arrived = sandbox_messages(fresh, lead_id)
    assert [(m["text"], m["via"]) for m in arrived] == [("Once only", "v1")]
    thread = server.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"]
    assert [m["deliveryState"] for m in thread if m["messageID"] == message_id] == ["sent"]
