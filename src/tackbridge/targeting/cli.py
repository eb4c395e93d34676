"""Targeting on the command line: ``targeting`` turns a service (or one of its categories) on or
off (legacy v3). Registered by ``tackbridge.cli``; runs in the session the top level puts in
typer's context (``tackbridge.outbox.cli``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from tackbridge.outbox.cli import QUEUE_ONLY_HELP, Session, deliver, run, session
from tackbridge.store.schema import connections
from tackbridge.targeting.service import queue_targeting

__all__ = ["targeting_command"]

console = Console()


def targeting_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="The service ID.")],
    state: Annotated[str, typer.Argument(help="on or off")],
    category: Annotated[str | None, typer.Option(help="Only this category of the service.")] = None,
    business: Annotated[
        str | None, typer.Option(help="Whose connection (default: the only legacy one).")
    ] = None,
    queue_only: Annotated[bool, typer.Option("--queue-only", help=QUEUE_ONLY_HELP)] = False,
) -> None:
    """Turn targeting on or off for a service, or one of its categories (legacy v3)."""
    if state not in ("on", "off"):
        console.print("[red]the state must be on or off[/red]")
        raise typer.Exit(2)

    async def main() -> None:
        async with session(ctx) as s:
            business_id = business or _only_legacy_business(s)
            now = datetime.now(UTC)
            key = await s.write(
                lambda conn: queue_targeting(
                    conn,
                    business_id=business_id,
                    service_id=service,
                    category_id=category,
                    enabled=state == "on",
                    now=now,
                )
            )
            await deliver(s, key, not queue_only)

    run(main())


def _only_legacy_business(s: Session) -> str:
    with s.services.db.reader.connect() as conn:
        found = list(
            conn.execute(
                select(connections.c.business_id).where(
                    connections.c.api == "legacy", connections.c.state == "active"
                )
            ).scalars()
        )
    if len(found) != 1:
        console.print(
            f"[red]{len(found)} active legacy connections: choose one with --business[/red]"
        )
        raise typer.Exit(2)
    return str(found[0])
