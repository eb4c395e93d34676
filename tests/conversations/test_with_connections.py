"""Replies and job statuses through the real token store (tackbridge.connections): a business
connected through the real OAuth flow against the sandbox, the worker in "another process"."""

from __future__ import annotations

from typing import Any

from tackbridge.connections.service import Connections
from tackbridge.outbox.worker import Worker
from tackbridge.store.database import open_database
from tackbridge.store.writer import Writer
from tests.support.connections import Stack, local, stack
from tests.support.outbound import sandbox_messages, side_services, thumbtack_kinds
from tests.support.sandbox import wait_until

__all__ = ["local", "stack"]


def lead_arrived(s: Stack, lead_id: str) -> bool:
    return s.operator.get(f"/api/leads/{lead_id}").status_code == 200


async def test_v4_reply_and_job_status_with_the_token_store(
    stack: Stack, local: Connections
) -> None:
    business = stack.sandbox.business_ids()[0]
    stack.connect(business, "v4")
    lead: dict[str, Any] = stack.sandbox.new_lead(business)
    lead_id = lead["leadID"]
    wait_until(lambda: lead_arrived(stack, lead_id), timeout=15)

    sent = stack.operator.post(f"/api/leads/{lead_id}/messages", json={"text": "Via the store"})
    assert sent.status_code == 202, sent.text
    status = stack.operator.post(
        f"/api/leads/{lead_id}/job-status", json={"status": "appt_scheduled"}
    )
    assert status.status_code == 202, status.text

    db = open_database(stack.settings.resolved_database_url, sqlite_synchronous="NORMAL")
    writer = Writer(db.writer)
    writer.start()
    services = side_services(stack.settings, stack.sandbox, db, writer, local.tokens, v1=False)
    try:
        await Worker(writer, thumbtack_kinds(services)).drain()
    finally:
        await services.aclose()
        writer.stop()
        db.dispose()

    assert [(m["text"], m["via"]) for m in sandbox_messages(stack.sandbox, lead_id)] == [
        ("Via the store", "v4")
    ]
    pushed = [j for j in stack.sandbox.inspect("job-statuses") if j["negotiationID"] == lead_id]
    assert [j["status"] for j in pushed] == ["appt_scheduled"]
    thread = stack.operator.get(f"/api/leads/{lead_id}/messages").json()["messages"]
    assert [m["deliveryState"] for m in thread if m["source"] == "reply"] == ["sent"]
