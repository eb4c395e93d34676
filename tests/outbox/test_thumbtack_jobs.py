"""How Thumbtack-bound jobs meet failure, against the real sandbox: an expired token is
refreshed once, a 429 waits exactly its Retry-After, a permanent 4xx dead-letters with the
problem detail, and operators list, retry and replay jobs over the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tackbridge.outbox.backoff import Backoff
from tackbridge.outbox.worker import Worker
from tests.support.outbound import (
    AccessGrant,
    SandboxTokens,
    import_lead,
    sandbox_messages,
    worker_side,
)
from tests.support.sandbox import Sandbox
from tests.support.tackbridge import RunningServer


def reply(server: RunningServer, lead_id: str, text: str) -> dict[str, Any]:
    answer = server.operator.post(f"/api/leads/{lead_id}/messages", json={"text": text})
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


def state_of(server: RunningServer, lead_id: str, message_id: str) -> str:
    thread = server.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"]
    return str(next(m["deliveryState"] for m in thread if m["messageID"] == message_id))


async def test_a_token_that_expired_is_refreshed_once_and_the_job_succeeds(
    server: RunningServer, fresh: Sandbox
) -> None:
    business = fresh.business_ids()[0]
    lead_id = import_lead(server, fresh, business)
    tokens = SandboxTokens.connect(fresh, business, "v4")
    expired = tokens.access
    fresh.advance(3601)  # the access token's hour is over; the refresh token lives on
    queued = reply(server, lead_id, "Still here after an hour")

    async with worker_side(server.settings, fresh, tokens, v1=False) as side:
        await side.drain()
        job = side.job("thumbtack.message:")
    assert (job.state, job.attempts) == ("done", 1)
    assert tokens.refreshes == 1
    assert tokens.access != expired
    assert [m["text"] for m in sandbox_messages(fresh, lead_id)] == ["Still here after an hour"]
    assert state_of(server, lead_id, queued["messageID"]) == "sent"


@dataclass
class RefusedTokens:
    """A connection whose every token is refused (revoked on Thumbtack's side)."""

    business_id: str
    refreshes: int = 0

    async def access_token(self, business_id: str) -> AccessGrant:
        return AccessGrant(business_id, "v4", f"revoked-{self.refreshes}")

    async def refreshed_after_401(self, business_id: str, rejected: str) -> AccessGrant:
        self.refreshes += 1
        return AccessGrant(business_id, "v4", f"revoked-{self.refreshes}")


async def test_a_second_401_after_the_refresh_is_permanent(
    server: RunningServer, sandbox: Sandbox
) -> None:
    business = sandbox.business_ids()[0]
    lead_id = import_lead(server, sandbox, business)
    tokens = RefusedTokens(business)
    queued = reply(server, lead_id, "Nobody will read this")
    async with worker_side(server.settings, sandbox, tokens, v1=False) as side:
        await side.drain()
        job = side.job("thumbtack.message:")
    assert (job.state, job.attempts, tokens.refreshes) == ("dead", 1, 1)
    assert job.lastError is not None
    assert job.lastError["status"] == 401
    assert "revoked-" not in str(job.model_dump())  # no token in what operators see
    assert state_of(server, lead_id, queued["messageID"]) == "failed"


async def test_429_waits_exactly_its_retry_after(server: RunningServer, fresh: Sandbox) -> None:
    business = fresh.business_ids()[0]
    lead_id = import_lead(server, fresh, business)
    tokens = SandboxTokens.connect(fresh, business, "v4")
    reply(server, lead_id, "Rate limited at first")
    fresh.faults(rate_limit_rate=1.0, retry_after_seconds=7)
    async with worker_side(server.settings, fresh, tokens, v1=False) as side:
        await side.drain()
        job = side.job("thumbtack.message:")
        assert job.state == "pending"
        (attempt,) = job.history
        assert (attempt.outcome, attempt.statusCode) == ("retry", 429)
        assert job.nextAttemptAt - attempt.finishedAt == timedelta(seconds=7)

        fresh.faults(rate_limit_rate=0.0)
        early = job.nextAttemptAt - timedelta(seconds=1)
        assert await side.worker(clock=lambda: early).drain() == 0  # not due yet
        assert await side.worker(clock=lambda: job.nextAttemptAt).drain() == 1
        assert side.job("thumbtack.message:").state == "done"
    assert len(sandbox_messages(fresh, lead_id)) == 1


async def test_a_permanent_4xx_dead_letters_with_the_problem_then_an_operator_retries(
    server: RunningServer, sandbox: Sandbox
) -> None:
    mine, other = sandbox.business_ids()[:2]
    lead_id = import_lead(server, sandbox, other)
    # Connected as the wrong business: Thumbtack answers 404 for a lead that is not ours.
    tokens = SandboxTokens.connect(sandbox, mine, "v4")
    tokens.business_id = other
    answer = server.operator.post(f"/api/leads/{lead_id}/job-status", json={"status": "pro_cancel"})
    assert answer.status_code == 202
    async with worker_side(server.settings, sandbox, tokens) as side:
        await side.drain()
        job = side.job("thumbtack.job_status:")
        assert (job.state, job.attempts) == ("dead", 1)
        assert job.lastError is not None
        problem = job.lastError["problem"]
        assert problem["status"] == 404
        assert "not found" in problem["detail"]
        assert problem["traceID"]

        dead = server.operator.get("/api/jobs", params={"state": "dead"}).json()["items"]
        assert job.id in [j["id"] for j in dead]
        shown = server.operator.get(f"/api/jobs/{job.id}").json()
        assert shown["history"][0]["statusCode"] == 404

        retried = server.operator.post(f"/api/jobs/{job.id}/retry")
        assert retried.status_code == 200, retried.text
        assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
        await side.drain()
        again = side.job("thumbtack.job_status:")
    assert (again.state, len(again.history)) == ("dead", 2)


async def test_retry_and_replay_of_a_reply(server: RunningServer, sandbox: Sandbox) -> None:
    business = sandbox.business_ids()[0]
    lead_id = import_lead(server, sandbox, business)
    tokens = SandboxTokens.connect(sandbox, business, "v4")
    tokens.connected = False
    queued = reply(server, lead_id, "Eventually")
    async with worker_side(server.settings, sandbox, tokens, v1=False) as side:
        # No connection yet: retried until the schedule runs out, then dead and "failed".
        now = [datetime.now(UTC)]
        worker = side.worker(clock=lambda: now[0], backoff=Backoff(max_attempts=2))
        await worker.drain()
        now[0] += timedelta(hours=2)
        await worker.drain()
        job = side.job("thumbtack.message:")
        assert (job.state, job.attempts) == ("dead", 2)
        assert state_of(server, lead_id, queued["messageID"]) == "failed"

        tokens.connected = True  # the pro reconnected; the operator retries
        assert server.operator.post(f"/api/jobs/{job.id}/retry").status_code == 200
        assert state_of(server, lead_id, queued["messageID"]) == "queued"
        await side.drain()
        assert state_of(server, lead_id, queued["messageID"]) == "sent"
        assert side.job("thumbtack.message:").state == "done"


async def test_deliveries_api_refuses_what_it_cannot_do(
    server: RunningServer, sandbox: Sandbox
) -> None:
    lead_id = import_lead(server, sandbox, sandbox.business_ids()[0])
    reply(server, lead_id, "Claimed and held")
    async with worker_side(server.settings, sandbox) as side:
        holder: Worker = side.worker(lease_seconds=600)
        (claimed,) = await holder.claim(1)
        running = server.operator.post(f"/api/jobs/{claimed.id}/retry")
        assert running.status_code == 409
        assert running.headers["content-type"].startswith("application/problem+json")
    for path in ("/api/jobs/999999", "/api/jobs/999999/retry"):
        method = server.operator.post if path.endswith("retry") else server.operator.get
        assert method(path).status_code == 404
    assert server.operator.get("/api/jobs", params={"state": "lost"}).status_code == 422
    assert server.partner.get("/api/jobs").status_code == 401
