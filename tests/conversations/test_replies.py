"""Replies end to end: the operator API stores and queues them, the worker sends them to the
endpoint the business's connection calls for (against the real sandbox), and the message's
delivery state follows the job."""

from __future__ import annotations

from typing import Any

from tackbridge.outbox.kinds import Job
from tests.support.outbound import (
    SandboxTokens,
    import_lead,
    sandbox_messages,
    worker_side,
)
from tests.support.sandbox import Sandbox
from tests.support.tackbridge import RunningServer


def thread(server: RunningServer, lead_id: str) -> list[dict[str, Any]]:
    answer = server.operator.get(f"/api/leads/{lead_id}/messages")
    assert answer.status_code == 200, answer.text
    messages: list[dict[str, Any]] = answer.json()["messages"]
    return messages


def reply(server: RunningServer, lead_id: str, text: str, **extra: Any) -> dict[str, Any]:
    answer = server.operator.post(f"/api/leads/{lead_id}/messages", json={"text": text, **extra})
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_v4_reply_is_queued_then_sent(server: RunningServer, sandbox: Sandbox) -> None:
    business = sandbox.business_ids()[0]
    lead_id = import_lead(server, sandbox, business)
    tokens = SandboxTokens.connect(sandbox, business, "v4")

    queued = reply(server, lead_id, "Thanks, I can come Tuesday.")
    assert queued["source"] == "reply"
    assert queued["deliveryState"] == "queued"
    assert queued["author"] == "person"
    assert queued["from"] == "Business"
    assert sandbox_messages(sandbox, lead_id) == []

    async with worker_side(server.settings, sandbox, tokens, v1=False) as side:
        assert await side.drain() == 1
        job = side.job("thumbtack.message:")
    assert job.state == "done"
    arrived = sandbox_messages(sandbox, lead_id)
    assert [(m["text"], m["via"]) for m in arrived] == [("Thanks, I can come Tuesday.", "v4")]
    mine = [m for m in thread(server, lead_id) if m["messageID"] == queued["messageID"]]
    assert mine[0]["deliveryState"] == "sent"
    assert mine[0]["sentAt"] is not None


async def test_legacy_connection_uses_v2_bearer(server: RunningServer, sandbox: Sandbox) -> None:
    business = sandbox.business_ids()[1]
    lead_id = import_lead(server, sandbox, business)
    tokens = SandboxTokens.connect(sandbox, business, "legacy")
    reply(server, lead_id, "Legacy hello")
    async with worker_side(server.settings, sandbox, tokens, v1=False) as side:
        await side.drain()
    assert [m["via"] for m in sandbox_messages(sandbox, lead_id)] == ["v2"]


async def test_no_connection_uses_v1_basic(server: RunningServer, sandbox: Sandbox) -> None:
    business = sandbox.business_ids()[2]
    lead_id = import_lead(server, sandbox, business)
    tokens = SandboxTokens.connect(sandbox, business, "v4")
    tokens.connected = False  # the token store knows no connection for this business
    reply(server, lead_id, "Hello over v1")
    async with worker_side(server.settings, sandbox, tokens, v1=True) as side:
        await side.drain()
    assert [m["via"] for m in sandbox_messages(sandbox, lead_id)] == ["v1"]


async def test_no_connection_and_no_v1_waits(server: RunningServer, sandbox: Sandbox) -> None:
    business = sandbox.business_ids()[0]
    lead_id = import_lead(server, sandbox, business)
    reply(server, lead_id, "Nobody can send me")
    async with worker_side(server.settings, sandbox, None, v1=False) as side:
        await side.drain()
        job = side.job("thumbtack.message:")
    assert job.state == "pending"
    assert "no connection" in (job.lastError or {})["detail"]
    assert thread(server, lead_id)[-1]["deliveryState"] == "queued"
    assert sandbox_messages(sandbox, lead_id) == []


async def test_a_rerun_does_not_repeat_a_reply_that_got_through(
    server: RunningServer, sandbox: Sandbox
) -> None:
    """A worker died after Thumbtack took the reply: the next attempt finds it and sends
    nothing."""
    business = sandbox.business_ids()[0]
    lead_id = import_lead(server, sandbox, business)
    tokens = SandboxTokens.connect(sandbox, business, "v4")
    reply(server, lead_id, "Sent before the crash")
    async with worker_side(server.settings, sandbox, tokens) as side:
        job = side.job("thumbtack.message:")
        bound = side.worker().kinds[job.kind]
        payload = bound.kind.parse(job.payload)
        first = Job(job.id, job.kind, job.idempotencyKey, payload, 1, job.createdAt)
        await bound.handler(first)  # the attempt whose outcome was lost
        assert len(sandbox_messages(sandbox, lead_id)) == 1
        await bound.handler(Job(job.id, job.kind, job.idempotencyKey, payload, 2, job.createdAt))
    assert len(sandbox_messages(sandbox, lead_id)) == 1


def test_bad_replies_are_problems(server: RunningServer) -> None:
    missing = server.operator.post("/api/leads/nope/messages", json={"text": "hi"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    for body in ({"text": ""}, {"text": "   "}, {}, {"text": "x" * 10_001}, {"text": 5}):
        answer = server.operator.post("/api/leads/nope/messages", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    unauthorized = server.partner.post("/api/leads/nope/messages", json={"text": "hi"})
    assert unauthorized.status_code == 401


async def test_same_message_id_is_one_reply(server: RunningServer, sandbox: Sandbox) -> None:
    business = sandbox.business_ids()[0]
    lead_id = import_lead(server, sandbox, business)
    first = reply(server, lead_id, "Only once", messageID="client-1")
    again = reply(server, lead_id, "Only once", messageID="client-1")
    assert first["messageID"] == again["messageID"]
    assert len([m for m in thread(server, lead_id) if m["source"] == "reply"]) == 1


async def test_one_client_message_id_on_two_leads_sends_both(
    server: RunningServer, sandbox: Sandbox
) -> None:
    """A client's retry ID is per lead: reusing it on another lead is another reply."""
    business = sandbox.business_ids()[0]
    first, second = (import_lead(server, sandbox, business) for _ in range(2))
    tokens = SandboxTokens.connect(sandbox, business, "v4")
    reply(server, first, "For the first lead", messageID="retry-1")
    reply(server, second, "For the second lead", messageID="retry-1")
    reply(server, first, "For the first lead", messageID="retry-1")  # a retry: nothing new
    async with worker_side(server.settings, sandbox, tokens, v1=False) as side:
        assert await side.drain() == 2
    assert [m["text"] for m in sandbox_messages(sandbox, first)] == ["For the first lead"]
    assert [m["text"] for m in sandbox_messages(sandbox, second)] == ["For the second lead"]
