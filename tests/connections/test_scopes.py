"""Issue 11 over HTTP, tackbridge and the sandbox wired as `make run` wires them: the scopes a
connection asks for, a partner client provisioned without some of them (each degrading as
described, per business), and an account of several businesses sharing one grant, each enabled
or disabled on its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx2
import pytest
from typer.testing import CliRunner

from tackbridge.app import create_app
from tackbridge.cli import app as cli_app
from tackbridge.connections.config import DEFAULT_SCOPES, configured_scopes, scopes_for
from tackbridge.connections.service import open_connections
from tackbridge.devstack import Ports, product_settings, sandbox_config
from tackbridge.sandbox import create_app as create_sandbox
from tackbridge.sandbox.config import BusinessSeed
from tackbridge.settings import Settings
from tackbridge.store.database import open_database
from tackbridge.store.writer import Writer
from tests.support.connections import expire_access_token
from tests.support.sandbox import query_of, wait_until
from tests.support.servers import free_port, serve
from tests.support.tackbridge import API_TOKEN, make_settings

WORKER = {
    "run_worker": True,
    "worker_backoff_base_seconds": 0.05,
    "worker_backoff_cap_seconds": 0.5,
    "worker_max_attempts": 200,
}
NO_WEBHOOK = "webhook not registered: missing scope supply::webhooks.write"
ACCOUNT = (
    BusinessSeed("One Remodeling", "b-1", account="acct"),
    BusinessSeed("Two Painting", "b-2", account="acct"),
    BusinessSeed("Three Cleaning", "b-3", account="acct"),
)


@dataclass
class Stack:
    settings: Settings
    operator: httpx2.Client
    sandbox: httpx2.Client
    browser: httpx2.Client
    sandbox_url: str

    def connections(self) -> dict[str, dict[str, Any]]:
        answer = self.operator.get("/api/connections")
        assert answer.status_code == 200, answer.text
        return {c["businessID"]: c for c in answer.json()["items"]}

    def connect(self, business_id: str, **query: str) -> httpx2.Response:
        """The pro's part: tackbridge's connect link, approve on the sandbox, back to tackbridge."""
        start = self.operator.get("/connect/thumbtack", params=query)
        assert start.status_code == 307, start.text
        location = start.headers["location"]
        form = {**query_of(location), "business_id": business_id, "action": "approve"}
        approved = self.browser.post(self.sandbox_url + "/oauth2/auth", data=form)
        assert approved.status_code == 302, approved.text
        return self.browser.get(approved.headers["location"])

    def inspect(self, what: str, **params: str) -> Any:
        answer = self.sandbox.get(f"/_sandbox/{what}", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def live_webhooks(self, business_id: str) -> list[dict[str, Any]]:
        return [
            h
            for h in self.inspect("webhooks")
            if h["businessID"] == business_id and h["deletedAt"] is None
        ]

    def jobs(self, kind: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.operator.get(
            "/api/jobs", params={"kind": kind, "limit": 200}
        ).json()["items"]
        return found

    def new_lead(self, business_id: str) -> str:
        created = self.sandbox.post("/_sandbox/leads", json={"businessID": business_id})
        assert created.status_code == 201, created.text
        return str(created.json()["leadID"])

    def lead(self, lead_id: str) -> dict[str, Any] | None:
        answer = self.operator.get(f"/api/leads/{lead_id}")
        return None if answer.status_code == 404 else dict(answer.json())


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """tackbridge and a sandbox; ``sandbox`` overrides the sandbox's config fields."""
    with ExitStack() as stack:

        def start(**sandbox: Any) -> Stack:
            ports = Ports(tackbridge=free_port(), sandbox=free_port())
            settings = product_settings(ports, base=make_settings(tmp_path / "data", **WORKER))
            config = replace(sandbox_config(ports, settings, lead_rate=0, seed=7), **sandbox)
            stack.enter_context(serve(create_sandbox(config), port=ports.sandbox))
            stack.enter_context(serve(create_app(settings), port=ports.tackbridge))
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            clients = [
                httpx2.Client(base_url=ports.tackbridge_url, headers=headers, timeout=10),
                httpx2.Client(base_url=ports.sandbox_url, timeout=10),
                httpx2.Client(base_url=ports.tackbridge_url, timeout=10),
            ]
            for client in clients:
                stack.enter_context(client)
            return Stack(settings, *clients, ports.sandbox_url)

        yield start


def test_a_connection_asks_for_every_scope_its_features_need(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    start = stack.operator.get("/connect/thumbtack")
    asked = query_of(start.headers["location"])["scope"].split()
    assert asked == list(DEFAULT_SCOPES["v4"])
    assert {"supply::businesses.list", "supply::webhooks.write"} <= set(asked)

    business = stack.inspect("businesses")[0]["businessID"]
    assert stack.connect(business).status_code == 200
    connection = stack.connections()[business]
    assert connection["state"] == "active"
    assert set(DEFAULT_SCOPES["v4"]) <= set(connection["scopes"])
    assert connection["enabled"] is True
    wait_until(lambda: stack.connections()[business]["webhookID"], timeout=15)
    assert stack.connections()[business]["webhookError"] is None
    [hook] = stack.live_webhooks(business)
    assert hook["webhookID"] == stack.connections()[business]["webhookID"]


def test_scopes_are_configurable(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, thumbtack_scopes="supply::messages.write, offline_access  supply::messages.write"
    )
    assert configured_scopes(settings, "v4") == ("supply::messages.write", "offline_access")
    assert scopes_for("v4", None, settings) == ("supply::messages.write", "offline_access")
    assert scopes_for("v4", ["messages"], settings) == ("messages",)  # the operator's choice
    assert configured_scopes(make_settings(tmp_path), "v4") == DEFAULT_SCOPES["v4"]
    assert configured_scopes(settings, "legacy") == DEFAULT_SCOPES["legacy"]


def test_without_businesses_list_the_named_business_connects(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(businesses=ACCOUNT)
    stack.sandbox.put("/_sandbox/oauth/scopes", json={"without": ["supply::businesses.list"]})

    unnamed = stack.connect("b-2")
    assert unnamed.status_code == 400
    problem = unnamed.json()
    assert problem["detail"].startswith("missing scope supply::businesses.list")
    assert "business=" in problem["detail"]
    assert stack.connections() == {}

    named = stack.connect("b-2", business="b-2")
    assert named.status_code == 200, named.text
    connections = stack.connections()
    assert list(connections) == ["b-2"]
    assert "supply::businesses.list" not in connections["b-2"]["scopes"]
    wait_until(lambda: stack.connections()["b-2"]["webhookID"], timeout=15)
    assert len(stack.live_webhooks("b-2")) == 1


def test_without_webhooks_write_the_connection_says_so_and_nothing_retries(
    make_stack: Callable[..., Stack], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack = make_stack(businesses=ACCOUNT[:2])
    stack.sandbox.put("/_sandbox/oauth/scopes", json={"without": ["supply::webhooks.write"]})
    assert stack.connect("b-1").status_code == 200

    def noted() -> bool:
        found = stack.connections()
        return all(found[b]["webhookError"] == NO_WEBHOOK for b in ("b-1", "b-2"))

    wait_until(noted, timeout=15)
    connections = stack.connections()
    assert [connections[b]["state"] for b in ("b-1", "b-2")] == ["active", "active"]
    assert connections["b-2"]["grantOf"] == "b-1"
    assert all(c["webhookID"] is None for c in connections.values())
    assert stack.inspect("webhooks") == []
    jobs = stack.jobs("connection.register_webhook")
    assert len(jobs) == 2
    assert {job["state"] for job in jobs} == {"done"}
    assert all(job["attempts"] == 1 for job in jobs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TACKBRIDGE_DATABASE_URL", stack.settings.resolved_database_url)
    monkeypatch.setenv("TACKBRIDGE_SQLITE_SYNCHRONOUS", "NORMAL")
    monkeypatch.setenv("COLUMNS", "400")
    listed = CliRunner().invoke(cli_app, ["connections", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count(NO_WEBHOOK) == 2


def test_an_account_of_three_businesses_one_disabled(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(businesses=ACCOUNT)
    assert stack.connect("b-1").status_code == 200
    connections = stack.connections()
    assert list(connections) == ["b-1", "b-2", "b-3"]
    assert [connections[b]["grantOf"] for b in ("b-1", "b-2", "b-3")] == [None, "b-1", "b-1"]

    def registered(*businesses: str) -> Callable[[], bool]:
        return lambda: all(stack.connections()[b]["webhookID"] for b in businesses)

    wait_until(registered("b-1", "b-2", "b-3"), timeout=15)
    disabled = stack.operator.post("/api/connections/b-3/disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {"businessID": "b-3", "enabled": False, "changed": True}
    wait_until(lambda: stack.connections()["b-3"]["webhookID"] is None, timeout=15)
    wait_until(lambda: stack.live_webhooks("b-3") == [], timeout=15)
    assert stack.connections()["b-3"]["enabled"] is False

    leads = {business: stack.new_lead(business) for business in ("b-1", "b-2", "b-3")}

    def replied(lead_id: str) -> bool:
        return bool(stack.inspect("messages", leadID=lead_id, **{"from": "Business"})) and bool(
            (stack.lead(lead_id) or {}).get("firstReplyBy") == "auto"
        )

    def in_crm(lead_id: str) -> bool:
        return any(
            o.get("custom", {}).get("thumbtack_lead_id") == lead_id
            for o in stack.inspect("coperniq/opportunities")
        )

    for business in ("b-1", "b-2"):
        wait_until(lambda b=business: replied(leads[b]) and in_crm(leads[b]), timeout=20)
    wait_until(lambda: stack.lead(leads["b-3"]) is not None, timeout=15)
    # The enabled ones' follow-ups are done; the disabled one's lead is stored and started none.
    assert stack.inspect("messages", leadID=leads["b-3"], **{"from": "Business"}) == []
    assert not in_crm(leads["b-3"])
    for kind in ("autoreply.plan", "crm.lead", "thumbtack.message"):
        mine = [j for j in stack.jobs(kind) if leads["b-3"] in json.dumps(j)]
        assert mine == [], (kind, mine)

    enabled = stack.operator.post("/api/connections/b-3/enable")
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["changed"] is True
    wait_until(registered("b-3"), timeout=15)
    [hook] = stack.live_webhooks("b-3")
    assert hook["webhookID"] == stack.connections()["b-3"]["webhookID"]
    assert stack.operator.post("/api/connections/nope/enable").status_code == 404

    # Re-enabled: its new leads are acted on; what arrived while disabled is not replayed (no
    # late automatic reply), but a customer writing again on such a lead brings the lead and
    # the message to the CRM instead of leaving the note waiting for a record nobody creates.
    later = stack.new_lead("b-3")
    wait_until(lambda: replied(later) and in_crm(later), timeout=20)
    text = "Still interested, are you free next week?"
    sent = stack.sandbox.post(
        f"/_sandbox/leads/{leads['b-3']}/messages", json={"from": "Customer", "text": text}
    )
    assert sent.status_code == 201, sent.text
    wait_until(lambda: in_crm(leads["b-3"]), timeout=20)

    def noted() -> bool:
        return any(
            n["body"].find(text) >= 0 and n["recordId"] == record["id"]
            for n in stack.inspect("coperniq/notes")
            for record in stack.inspect("coperniq/opportunities")
            if record.get("custom", {}).get("thumbtack_lead_id") == leads["b-3"]
        )

    wait_until(noted, timeout=20)
    assert stack.inspect("messages", leadID=leads["b-3"], **{"from": "Business"}) == []

    def message_states() -> list[str]:
        return [j["state"] for j in stack.jobs("crm.message") if leads["b-3"] in json.dumps(j)]

    # The note is in the CRM before its job settles: wait for the settle, not just the note.
    wait_until(lambda: message_states() != ["running"], timeout=10)
    assert message_states() == ["done"]


async def test_one_grant_one_refresh_for_every_business_of_the_account(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(businesses=ACCOUNT)
    assert stack.connect("b-1").status_code == 200
    # The server's worker is done with the account (webhooks registered) before we look.
    wait_until(lambda: all(c["webhookID"] for c in stack.connections().values()), timeout=15)
    expire_access_token(stack.settings, "b-1")
    db = open_database(stack.settings.resolved_database_url, sqlite_synchronous="NORMAL")
    writer = Writer(db.writer)
    writer.start()
    service = open_connections(stack.settings, db, writer)
    try:
        before = refreshes_of(stack)
        grants = await asyncio.gather(
            *(service.tokens.access_token(b) for b in ("b-1", "b-2", "b-3", "b-2", "b-3"))
        )
        assert [g.business_id for g in grants] == ["b-1", "b-2", "b-3", "b-2", "b-3"]
        assert len({g.access_token for g in grants}) == 1
        assert refreshes_of(stack) == before + 1
        assert service.tokens.refreshes == 1
        # The refreshed token serves every business of the account at Thumbtack.
        for business in ("b-2", "b-3"):
            listed = stack.sandbox.get(
                f"/api/v4/businesses/{business}/webhooks",
                headers={"Authorization": f"Bearer {grants[0].access_token}"},
            )
            assert listed.status_code == 200, listed.text
        rows = {row.business_id: row for row in service.list()}
        assert rows["b-2"].access_token is None
        assert rows["b-2"].refresh_token is None
    finally:
        await service.aclose()
        writer.stop()
        db.dispose()


def refreshes_of(stack: Stack) -> int:
    return sum(
        1
        for h in stack.inspect("happenings")
        if h["text"].startswith("v4 tokens issued") and h["text"].endswith("(refresh_token)")
    )
