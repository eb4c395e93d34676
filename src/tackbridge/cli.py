"""The ``tackbridge`` command line: every feature's commands on one app, and the session they
run in.

Each feature exports its own commands (``outbox.cli``, ``conversations.cli``, ``jobstatus.cli``,
``targeting.cli``, ``demand.cli``, ``connections.cli``, ``users.cli``, and the sandbox's
``sandbox.cli``); this module registers them and, in the app's callback, puts in typer's context
(``ctx.obj``) the opener of a session on this process's :class:`~tackbridge.runtime.Runtime`
(:class:`RuntimeSession`), which the features' commands open without knowing the runtime. Its
own commands: ``serve``, ``dev`` (``devstack``), ``db``, ``leads`` and ``inbound``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, select

from tackbridge import flows
from tackbridge.app import create_app, server_options
from tackbridge.connections.cli import connect_command, connections_app, disconnect_command
from tackbridge.conversations.cli import BackfillSession, backfill_command, send_message_command
from tackbridge.core import logs
from tackbridge.demand.cli import request_app
from tackbridge.devstack import Ports, run
from tackbridge.inbound.reactions import Reactions
from tackbridge.jobstatus.cli import job_status_command
from tackbridge.leads.service import list_leads
from tackbridge.outbox.cli import deliveries_app, worker_command
from tackbridge.outbox.kinds import Bound
from tackbridge.outbox.worker import Worker
from tackbridge.runtime import Runtime
from tackbridge.sandbox.cli import sandbox_command
from tackbridge.services import Services
from tackbridge.settings import MissingSecretsError, Mode, Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.schema import inbound_log
from tackbridge.targeting.cli import targeting_command
from tackbridge.users.cli import users_app

__all__ = ["RuntimeSession", "app", "main", "open_session"]

T = TypeVar("T")

app = typer.Typer(
    help="tackbridge: Thumbtack leads, durably, into the tools pros use.", no_args_is_help=True
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
leads_app = typer.Typer(help="Leads received.", no_args_is_help=True)
inbound_app = typer.Typer(help="The verbatim inbound log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(leads_app, name="leads")
app.add_typer(inbound_app, name="inbound")
app.add_typer(connections_app, name="connections")
app.command("connect")(connect_command)
app.command("disconnect")(disconnect_command)
app.command("sandbox")(sandbox_command)
app.add_typer(deliveries_app, name="jobs")
# The earlier name of ``jobs``, kept for scripts that use it.
app.add_typer(deliveries_app, name="deliveries", hidden=True)
app.add_typer(request_app, name="request")
app.add_typer(users_app, name="users")
app.command("worker")(worker_command)
app.command("send-message")(send_message_command)
app.command("job-status")(job_status_command)
app.command("targeting")(targeting_command)
app.command("backfill")(backfill_command)


@dataclass
class RuntimeSession(BackfillSession):
    """A command's session on a started :class:`~tackbridge.runtime.Runtime`: its services, its
    writer, a worker over its whole registry, and the reactions the web app gives the front
    door. Subclassing the richest session protocol lets mypy check it implements them all."""

    runtime: Runtime
    front_door: Reactions

    @property
    def services(self) -> Services:
        return self.runtime.services

    @property
    def reactions(self) -> Reactions:
        return self.front_door

    async def write(self, unit: Callable[[Connection], T]) -> T:
        return await self.runtime.services.writer.run(unit)

    def worker(self, concurrency: int | None = None) -> Worker:
        return self.runtime.new_worker(concurrency)

    def requeue_kinds(self) -> Mapping[str, Bound[Any]]:
        return self.runtime.registry.requeue_hooks()


@asynccontextmanager
async def open_session() -> AsyncIterator[RuntimeSession]:
    """Open this process's runtime (settings from the environment, migrations applied, the
    writer started) for one command, and close it after."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format, secrets=settings.secret_values())
    runtime = Runtime.open(settings)
    runtime.start()
    try:
        yield RuntimeSession(runtime, flows.reactions(runtime.services))
    finally:
        await runtime.aclose()
        runtime.close()


@app.callback()
def _install_session(ctx: typer.Context) -> None:
    # The features' commands open their session from here (a test may pass its own obj).
    if ctx.obj is None:
        ctx.obj = open_session


console = Console()


def _settings() -> Settings:
    return Settings()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    dev: Annotated[bool, typer.Option("--dev", help="Dev mode: dev credentials allowed.")] = False,
) -> None:
    """Run the web server: partner endpoints, operator API, probes."""
    settings = _settings()
    if dev:
        settings = settings.model_copy(update={"mode": Mode.DEV})
    try:
        checked = settings.checked()
    except MissingSecretsError as exc:
        logs.configure(settings.log_level, settings.log_format)
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    logs.configure(checked.log_level, checked.log_format, secrets=checked.secret_values())
    if checked.is_dev:
        _print_dev_credentials(checked, host, port)
    uvicorn.run(
        create_app(checked),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        # uvicorn's own lines go through the root logger: the same format, scrubbed too.
        log_config=None,
        # Behind a reverse proxy, its X-Forwarded-For names the client (whose credential
        # failures are counted: core/throttle), but only from the proxies named.
        proxy_headers=bool(checked.trusted_proxies),
        forwarded_allow_ips=checked.trusted_proxies or None,
        access_log=False,
        # Open dashboards hold event streams: a shutdown does not wait on them for long.
        timeout_graceful_shutdown=10,
        **server_options(checked),
    )


def _print_dev_credentials(settings: Settings, host: str, port: int) -> None:
    password = settings.webhook_password.get_secret_value() if settings.webhook_password else ""
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    console.print(
        f"[bold]tackbridge (dev mode)[/bold] on http://{host}:{port}\n"
        f"  partner endpoints: Basic {settings.webhook_username}:{password}\n"
        f"  operator API:      Authorization: Bearer {token}\n"
        f"  API docs:          http://{host}:{port}/docs"
    )


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="tackbridge's port.")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="The sandbox's port.")] = 8700,
    lead_rate: Annotated[
        float, typer.Option(help="Leads per minute the sandbox's scenario sends (0: none).")
    ] = 12.0,
    seed: Annotated[int, typer.Option(help="Seed of the sandbox's generated traffic.")] = 1,
) -> None:
    """Run tackbridge (dev mode, SQLite under ./var) wired to the sandbox (what `make run` does).

    The sandbox stands in for Thumbtack and Coperniq; a demo business is connected through the
    real OAuth flow and leads start arriving within seconds. Ctrl-C stops both.
    """
    asyncio.run(run(Ports(tackbridge=port, sandbox=sandbox_port), lead_rate=lead_rate, seed=seed))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    settings = _settings()
    db = open_database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    try:
        migrate.upgrade(db.writer)
        console.print(f"database at revision {migrate.current_revision(db.writer)}")
    finally:
        db.dispose()


@leads_app.command("list")
def leads_list(
    business: Annotated[str | None, typer.Option(help="Only this business ID.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this lead status.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Received at or after.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List the newest leads."""
    settings = _settings()
    db = open_database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    try:
        with db.reader.connect() as conn:
            page = list_leads(conn, business_id=business, status=status, since=since, limit=limit)
    finally:
        db.dispose()
    table = Table(title=f"{len(page.items)} leads")
    for column in (
        "lead",
        "received",
        "business",
        "customer",
        "category",
        "where",
        "price",
        "status",
    ):
        table.add_column(column)
    for lead in page.items:
        price = f"${lead.leadPriceCents / 100:,.2f}" if lead.leadPriceCents is not None else ""
        table.add_row(
            lead.leadID + (" (test)" if lead.isTest else ""),
            lead.receivedAt.strftime("%Y-%m-%d %H:%M:%S"),
            lead.businessName or lead.businessID or "",
            lead.customerName or "",
            lead.category or "",
            ", ".join(p for p in (lead.city, lead.state, lead.zipCode) if p),
            price,
            lead.status or "",
        )
    console.print(table)


@inbound_app.command("list")
def inbound_list(
    outcome: Annotated[
        str | None,
        typer.Option(help="accepted, duplicate, pending, ignored, rejected, unauthorized"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """List the newest deliveries, refused ones included."""
    settings = _settings()
    db = open_database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    query = (
        select(*[c for c in inbound_log.c if c.name not in {"body", "headers"}])
        .order_by(inbound_log.c.id.desc())
        .limit(limit)
    )
    if outcome:
        query = query.where(inbound_log.c.outcome == outcome)
    try:
        with db.reader.connect() as conn:
            rows = conn.execute(query).all()
    finally:
        db.dispose()
    table = Table(title=f"{len(rows)} deliveries")
    for column in ("id", "received", "route", "status", "outcome", "event", "record"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{row.method} {row.route}",
            str(row.status_code),
            row.outcome,
            row.event_type or "",
            f"{row.record_kind}:{row.record_id}" if row.record_kind else "",
        )
    console.print(table)


def main() -> None:
    app()
