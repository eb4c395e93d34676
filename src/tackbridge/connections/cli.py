"""``tackbridge connect``, ``tackbridge connections list`` and ``tackbridge disconnect``: the
same operations as the operator API, straight against the store and Thumbtack."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from tackbridge.connections import flow
from tackbridge.connections.config import NotConfiguredError, callback_url
from tackbridge.connections.service import Connections, open_connections
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.secrets import MissingSecretKeyError
from tackbridge.store.writer import Writer

__all__ = ["connect_command", "connections_app", "disconnect_command"]

T = TypeVar("T")

connections_app = typer.Typer(help="OAuth connections per business.", no_args_is_help=True)
console = Console()


def _run(work: Callable[[Connections], Awaitable[T]]) -> T:
    settings = Settings()
    db = open_database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    migrate.upgrade(db.writer)
    writer = Writer(db.writer, batch_size=settings.write_batch_size)
    writer.start()

    async def main() -> T:
        service = open_connections(settings, db, writer)
        try:
            return await work(service)
        finally:
            await service.aclose()

    try:
        return asyncio.run(main())
    except (flow.ConnectError, NotConfiguredError, MissingSecretKeyError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        writer.stop()
        db.dispose()


def connect_command(
    api: Annotated[
        str | None, typer.Option(help="v4 or legacy (default: TACKBRIDGE_THUMBTACK_API).")
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="A scope to ask for (repeat); default: ours.")
    ] = None,
    business: Annotated[
        str | None,
        typer.Option(help="The business connecting (needed without supply::businesses.list)."),
    ] = None,
) -> None:
    """Print the URL a pro opens to connect their business (valid 15 minutes, once)."""
    if api not in (None, "v4", "legacy"):
        console.print("[red]--api must be v4 or legacy[/red]")
        raise typer.Exit(2)

    async def work(service: Connections) -> str:
        chosen: Literal["v4", "legacy"] = (
            service.settings.thumbtack_api if api is None else ("v4" if api == "v4" else "legacy")
        )
        return await flow.start(
            service,
            api=chosen,
            scopes=scope,
            redirect_uri=callback_url(service.settings),
            business=business,
        )

    url = _run(work)
    # Echoed bare: a URL wrapped by rich's layout cannot be copied.
    typer.echo(url)


@connections_app.command("list")
def connections_list() -> None:
    """List connections: state, API, scopes, expiries and last error (never tokens)."""

    async def work(service: Connections) -> Table:
        table = Table(title="connections")
        columns = ("business", "name", "api", "state", "enabled", "access expires", "webhook")
        for column in (*columns, "error"):
            table.add_column(column, overflow="fold")
        rows = service.list()
        holders = {row.business_id: row for row in rows}
        for row in rows:
            holder = holders.get(row.grant_of or "", row)
            expires = holder.access_expires_at
            table.add_row(
                row.business_id,
                row.business_name or "",
                row.api,
                row.state,
                "yes" if row.enabled else "no",
                expires.strftime("%Y-%m-%d %H:%M:%S") if expires else "",
                row.webhook_id or row.webhook_error or "",
                (row.last_error or {}).get("detail", "")[:80],
            )
        return table

    console.print(_run(work))


def _toggle(business: str, enabled: bool) -> None:
    outcome = _run(lambda service: flow.set_enabled(service, business, enabled))
    word = "enabled" if enabled else "disabled"
    console.print(f"business {business} {word}" + ("" if outcome.changed else f" (already {word})"))


@connections_app.command("enable")
def connections_enable(
    business: Annotated[str, typer.Argument(help="The business ID to enable.")],
) -> None:
    """Enable a business: its webhook is registered and its leads are acted on."""
    _toggle(business, True)


@connections_app.command("disable")
def connections_disable(
    business: Annotated[str, typer.Argument(help="The business ID to disable.")],
) -> None:
    """Disable a business: its webhook is removed; its deliveries are stored, not acted on."""
    _toggle(business, False)


def disconnect_command(
    business: Annotated[str, typer.Argument(help="The business ID to disconnect.")],
) -> None:
    """Disconnect a business on Thumbtack, forget its tokens, schedule the purge of its data."""
    outcome = _run(lambda service: flow.disconnect(service, business))
    if outcome.already:
        console.print(f"business {business} was already disconnected")
        return
    console.print(f"business {business} disconnected; its data is purged after {outcome.purge_at}")
    if outcome.remote_error:
        console.print(f"[yellow]Thumbtack said: {outcome.remote_error['detail']}[/yellow]")
