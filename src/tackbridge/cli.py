"""The ``tackbridge`` command line."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tackbridge import commands as outbound_commands
from tackbridge.connections.cli import connect_command, connections_app, disconnect_command
from tackbridge.core import logs
from tackbridge.sandbox.cli import sandbox_command
from tackbridge.settings import MissingSecretsError, Mode, Settings

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
app.add_typer(outbound_commands.deliveries_app, name="deliveries")
app.add_typer(outbound_commands.request_app, name="request")
for _name, _command in outbound_commands.COMMANDS.items():
    app.command(_name)(_command)

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
    import uvicorn

    from tackbridge.app import create_app

    settings = _settings()
    if dev:
        settings = settings.model_copy(update={"mode": Mode.DEV})
    logs.configure(settings.log_level)
    try:
        checked = settings.checked()
    except MissingSecretsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if checked.is_dev:
        _print_dev_credentials(checked, host, port)
    uvicorn.run(
        create_app(checked),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        access_log=False,
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
    import asyncio

    from tackbridge.devstack import Ports, run

    asyncio.run(run(Ports(tackbridge=port, sandbox=sandbox_port), lead_rate=lead_rate, seed=seed))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from tackbridge.store import migrate
    from tackbridge.store.database import open_database

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
    from tackbridge.leads.service import list_leads
    from tackbridge.store.database import open_database

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
    from sqlalchemy import select

    from tackbridge.store.database import open_database
    from tackbridge.store.schema import inbound_log

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
