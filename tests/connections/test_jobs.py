"""The outbox jobs connections contribute, run with ``Worker.drain()``: v4 webhook registration
(idempotent), and the purge a disconnect schedules; plus disconnect itself.

Time is a :class:`FakeClock` shared by the served app's connections, ``local`` and the workers:
it moves only when a test advances it, so when a purge is due is exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tackbridge.connections.kinds import PURGE_KIND, REGISTER_WEBHOOK_KIND
from tackbridge.connections.service import Connections
from tackbridge.outbox.worker import Worker
from tackbridge.store.schema import inbound_log, outbox
from tackbridge.thumbtack.grants import ConnectionUnavailableError
from tests.support.connections import FakeClock, Stack, connection_kinds
from tests.support.sandbox import wait_until
from tests.support.store import count, outbox_keys

START = datetime(2030, 6, 14, 9, 30, 0, 250_000, tzinfo=UTC)
PURGE_DELAY = timedelta(days=5)  # TACKBRIDGE_PURGE_DELAY_DAYS's default


@pytest.fixture
def clock() -> FakeClock:
    """Found by the ``stack`` and ``local`` fixtures, which run tackbridge on it."""
    return FakeClock(START)


def _worker(local: Connections) -> Worker:
    """A worker on ``local``'s clock: the shared fake one."""
    return Worker(local.writer, connection_kinds(local), clock=local.clock)


def _live_hooks(stack: Stack, business_id: str) -> list[dict[str, object]]:
    return [
        h
        for h in stack.sandbox.inspect("webhooks")
        if h["businessID"] == business_id and h["deletedAt"] is None
    ]


def _lead(stack: Stack, business_id: str) -> str:
    lead_id = str(stack.sandbox.new_lead(business_id)["leadID"])
    wait_until(lambda: stack.operator.get(f"/api/leads/{lead_id}").status_code == 200, 10)
    return lead_id


async def test_a_v4_connection_registers_our_webhook_once(stack: Stack, local: Connections) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id)
    assert [k for k in outbox_keys(stack.settings) if k.startswith(REGISTER_WEBHOOK_KIND.name)] == [
        f"{REGISTER_WEBHOOK_KIND}:{business_id}:1"
    ]
    assert await _worker(local).drain() == 1
    hooks = _live_hooks(stack, business_id)
    assert len(hooks) == 1
    assert hooks[0]["webhookURL"] == stack.url + "/v4/webhooks"
    assert hooks[0]["authType"] == "basic"
    assert "NegotiationCreatedV4" in hooks[0]["eventTypes"]  # type: ignore[operator]
    assert stack.connection(business_id)["webhookID"] == hooks[0]["webhookID"]

    stack.connect(business_id)  # connecting again registers again: still one webhook
    assert await _worker(local).drain() == 1
    again = _live_hooks(stack, business_id)
    assert [h["webhookID"] for h in again] == [hooks[0]["webhookID"]]
    assert count(stack.settings, outbox, outbox.c.state == "done") == 2

    # Thumbtack now delivers leads to the registered URL, and our Basic credentials pass.
    lead_id = _lead(stack, business_id)

    def accepted_on_our_webhook() -> bool:
        return any(
            d["target"] == f"webhook:{hooks[0]['webhookID']}"
            and d["recordID"] == lead_id
            and any(a["statusCode"] == 200 for a in d["attempts"])
            for d in stack.sandbox.deliveries()
        )

    wait_until(accepted_on_our_webhook, 10)


async def test_legacy_connections_register_no_webhook(stack: Stack, local: Connections) -> None:
    stack.connect(stack.sandbox.business_ids()[0], api="legacy")
    assert not [k for k in outbox_keys(stack.settings) if k.startswith(REGISTER_WEBHOOK_KIND.name)]
    assert await _worker(local).drain() == 0


async def test_disconnect_v4_forgets_tokens_removes_webhook_and_schedules_purge(
    stack: Stack, local: Connections, clock: FakeClock
) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id)
    await _worker(local).drain()
    clock.advance(timedelta(hours=1))
    disconnected_at = clock()

    answer = stack.operator.post(f"/api/connections/{business_id}/disconnect")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "disconnected"
    assert body["alreadyDisconnected"] is False
    purge_at = datetime.fromisoformat(body["purgeAt"])
    assert purge_at == disconnected_at + PURGE_DELAY
    view = stack.connection(business_id)
    assert (view["state"], view["accessExpiresAt"], view["webhookID"]) == (
        "disconnected",
        None,
        None,
    )
    assert _live_hooks(stack, business_id) == []
    with pytest.raises(ConnectionUnavailableError):
        await local.tokens.access_token(business_id)
    assert [k for k in outbox_keys(stack.settings) if k.startswith(PURGE_KIND.name)]

    again = stack.operator.post(f"/api/connections/{business_id}/disconnect")
    assert again.json()["alreadyDisconnected"] is True
    assert len([k for k in outbox_keys(stack.settings) if k.startswith(PURGE_KIND.name)]) == 1
    missing = stack.operator.post("/api/connections/404404/disconnect")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_disconnect_legacy_tells_thumbtack(stack: Stack) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id, api="legacy")
    assert stack.operator.post(f"/api/connections/{business_id}/disconnect").status_code == 200
    tokens = [
        t for t in stack.sandbox.inspect("tokens")["tokens"] if t["businessID"] == business_id
    ]
    assert tokens
    assert all(t["revokedWhy"] == "disconnected" for t in tokens)
    assert stack.connection(business_id)["lastError"] is None


async def test_the_purge_runs_after_the_delay_and_only_for_that_business(
    stack: Stack, local: Connections, clock: FakeClock
) -> None:
    gone, kept = stack.sandbox.business_ids()[:2]
    stack.connect(gone, api="legacy")
    stack.connect(kept, api="legacy")
    gone_lead, kept_lead = _lead(stack, gone), _lead(stack, kept)
    disconnected_at = clock()
    stack.operator.post(f"/api/connections/{gone}/disconnect")

    clock.advance(timedelta(days=4))
    assert await _worker(local).drain() == 0  # not due yet
    assert stack.operator.get(f"/api/leads/{gone_lead}").status_code == 200
    clock.now = disconnected_at + PURGE_DELAY - timedelta(microseconds=1)
    assert await _worker(local).drain() == 0  # still not due, by a microsecond
    assert stack.operator.get(f"/api/leads/{gone_lead}").status_code == 200

    clock.now = disconnected_at + PURGE_DELAY
    assert await _worker(local).drain() == 1
    assert stack.operator.get(f"/api/leads/{gone_lead}").status_code == 404
    assert stack.operator.get(f"/api/leads/{kept_lead}").status_code == 200
    assert count(stack.settings, inbound_log, inbound_log.c.record_id == gone_lead) == 0
    assert count(stack.settings, inbound_log, inbound_log.c.record_id == kept_lead) >= 1


async def test_a_business_that_reconnected_keeps_its_data(
    stack: Stack, local: Connections, clock: FakeClock
) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id, api="legacy")
    lead_id = _lead(stack, business_id)
    stack.operator.post(f"/api/connections/{business_id}/disconnect")
    clock.advance(timedelta(seconds=1))  # the pro comes back a moment later
    stack.connect(business_id, api="legacy")
    clock.advance(timedelta(days=6))
    assert await _worker(local).drain() == 1
    assert stack.operator.get(f"/api/leads/{lead_id}").status_code == 200
