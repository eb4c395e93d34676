"""Shared by the outbound tests: a token store over the real sandbox's OAuth endpoints, the worker
side of a tackbridge (its own writer on the server's SQLite file), and getting a sandbox lead
into tackbridge the way Thumbtack would (a v4 webhook)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx2
from pydantic import SecretStr
from sqlalchemy import select

from tackbridge import flows
from tackbridge.conversations.replies import REPLY, REPLY_KIND
from tackbridge.jobstatus.push import PUSH
from tackbridge.outbox.kinds import Bound, Registry
from tackbridge.outbox.service import JobDetail, get_job
from tackbridge.outbox.worker import Worker
from tackbridge.services import Services, open_http, open_thumbtack
from tackbridge.settings import Settings
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import outbox
from tackbridge.store.writer import Writer
from tackbridge.targeting.service import TARGETING
from tackbridge.thumbtack.grants import ConnectionUnavailableError, Grant
from tests.support.sandbox import CLIENT, Sandbox, legacy_tokens, v4_tokens
from tests.support.tackbridge import RunningServer

AccessGrant = Grant


def thumbtack_kinds(services: Services) -> dict[str, Bound[Any]]:
    """The Thumbtack-bound kinds (replies, job status, targeting) as a worker runs them, with
    what a sent reply sets in motion."""
    registry = Registry.of([REPLY, PUSH, TARGETING])
    registry.react(REPLY_KIND, flows.reply_sent)
    return registry.bind(services)


@dataclass
class SandboxTokens:
    """The TokenManager interface over tokens the sandbox issued through its real OAuth flow;
    a refresh is a real refresh-token grant."""

    sandbox_url: str
    business_id: str
    api: Literal["legacy", "v4"]
    access: str
    refresh: str
    refreshes: int = 0
    connected: bool = True

    @classmethod
    def connect(cls, sb: Sandbox, business_id: str, api: Literal["legacy", "v4"]) -> SandboxTokens:
        tokens = v4_tokens(sb, business_id) if api == "v4" else legacy_tokens(sb, business_id)
        return cls(sb.url, business_id, api, tokens["access_token"], tokens["refresh_token"])

    async def access_token(self, business_id: str) -> AccessGrant:
        if not self.connected or business_id != self.business_id:
            raise ConnectionUnavailableError(f"business {business_id} is not connected")
        return AccessGrant(business_id, self.api, self.access)

    async def refreshed_after_401(self, business_id: str, rejected: str) -> AccessGrant:
        self.refreshes += 1
        if rejected == self.access:
            async with httpx2.AsyncClient(timeout=10) as http:
                if self.api == "v4":
                    answer = await http.post(
                        f"{self.sandbox_url}/oauth2/token",
                        data={"grant_type": "refresh_token", "refresh_token": self.refresh},
                        auth=CLIENT,
                    )
                else:
                    answer = await http.post(
                        f"{self.sandbox_url}/v2/tokens/access",
                        params={
                            "grant_type": "refresh_token",
                            "refresh_token": self.refresh,
                            "token_type": "REFRESH",
                        },
                        auth=CLIENT,
                    )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            self.access = body["access_token"]
            self.refresh = body.get("refresh_token") or self.refresh
        return await self.access_token(business_id)


@dataclass
class WorkerSide:
    """What ``tackbridge worker`` runs, in-process: its own writer on the server's database."""

    db: Database
    writer: Writer
    services: Services
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def thumbtack(self) -> Any:
        return self.services.thumbtack

    def worker(self, **kw: Any) -> Worker:
        return Worker(self.writer, thumbtack_kinds(self.services), **kw)

    async def drain(self, **kw: Any) -> int:
        return await self.worker(**kw).drain()

    def job(self, key_prefix: str) -> JobDetail:
        with self.db.reader.connect() as conn:
            job_id = conn.execute(
                select(outbox.c.id)
                .where(outbox.c.idempotency_key.startswith(key_prefix))
                .order_by(outbox.c.id.desc())
            ).scalar()
            assert job_id is not None, f"no job {key_prefix}"
            detail = get_job(conn, job_id)
        assert detail is not None
        return detail


@asynccontextmanager
async def worker_side(
    settings: Settings,
    sb: Sandbox | str,
    tokens: Any = None,
    *,
    v1: bool = True,
) -> AsyncIterator[WorkerSide]:
    db = open_database(settings.resolved_database_url, sqlite_synchronous="NORMAL")
    writer = Writer(db.writer)
    writer.start()
    services = side_services(settings, sb, db, writer, tokens, v1=v1)
    try:
        yield WorkerSide(db, writer, services)
    finally:
        await services.aclose()
        writer.stop()
        db.dispose()


def side_services(
    settings: Settings,
    sb: Sandbox | str,
    db: Database,
    writer: Writer,
    tokens: Any = None,
    *,
    v1: bool = True,
) -> Services:
    """Services over the sandbox as Thumbtack (v1 credentials too, unless ``v1=False``)."""
    local = settings.model_copy(
        update={
            "thumbtack_environment": "sandbox",
            "thumbtack_base_url": sb if isinstance(sb, str) else sb.url,
            "thumbtack_api_username": "tackbridge-dev" if v1 else None,
            "thumbtack_api_password": SecretStr("dev-api-password") if v1 else None,
        }
    )
    return Services(local, db, writer, open_thumbtack(local), open_http(), grants=tokens)


def import_lead(server: RunningServer, sb: Sandbox, business_id: str) -> str:
    """A new sandbox lead, delivered to tackbridge as its v4 webhook; returns its ID."""
    lead = sb.new_lead(business_id)
    body = {
        "event": {"eventType": "NegotiationCreatedV4", "triggeredAt": "2026-11-01T12:00:00Z"},
        "data": lead["lead"],
    }
    answer = server.partner.post("/v4/webhooks", json=body)
    assert answer.status_code == 200, answer.text
    lead_id: str = lead["leadID"]
    return lead_id


def sandbox_messages(sb: Sandbox, lead_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sb.inspect(f"messages?leadID={lead_id}&from=Business")
    return found
