"""The conversations on the command line: ``send-message`` (a reply to a lead's customer) and
``backfill`` (a business's leads imported from Thumbtack). Registered by ``tackbridge.cli``;
each runs in the session the top level puts in typer's context (``tackbridge.outbox.cli``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tackbridge.conversations.backfill import BackfillNotAvailableError, backfill
from tackbridge.conversations.replies import MAX_TEXT, LeadNotFoundError, queue_reply
from tackbridge.inbound.reactions import Reactions
from tackbridge.outbox.cli import (
    QUEUE_ONLY_HELP,
    Opener,
    Session,
    deliver,
    opener,
    run,
    session,
)
from tackbridge.outbox.errors import JobError

__all__ = ["BackfillSession", "backfill_command", "send_message_command"]

console = Console()


class BackfillSession(Session, Protocol):
    """A session that also knows what a new lead sets in motion in this process."""

    @property
    def reactions(self) -> Reactions: ...


def send_message_command(
    ctx: typer.Context,
    lead: Annotated[str, typer.Argument(help="The lead (negotiation) ID.")],
    text: Annotated[str, typer.Argument(help="The reply to the customer.")],
    queue_only: Annotated[bool, typer.Option("--queue-only", help=QUEUE_ONLY_HELP)] = False,
) -> None:
    """Reply to a lead's customer (stored in the thread, sent through the outbox)."""
    if not text.strip() or len(text) > MAX_TEXT:
        console.print(f"[red]the text must be 1 to {MAX_TEXT} characters, not blank[/red]")
        raise typer.Exit(2)

    async def main() -> None:
        async with session(ctx) as s:
            now = datetime.now(UTC)
            try:
                queued = await s.write(lambda conn: queue_reply(conn, lead, text, now=now))
            except LeadNotFoundError:
                console.print(f"[red]no lead {lead!r}[/red]")
                raise typer.Exit(1) from None
            console.print(f"reply {queued.message_id} queued")
            await deliver(s, queued.job_key, not queue_only)

    run(main())


def backfill_command(
    ctx: typer.Context,
    business: Annotated[str, typer.Argument(help="The business ID.")],
) -> None:
    """Import a business's leads from Thumbtack (idempotent with the webhooks)."""

    async def main() -> None:
        open_session: Opener[BackfillSession] = opener(ctx)
        async with open_session() as s:
            grants = s.services.grants
            if grants is None:
                console.print("[red]backfill needs a v4 connection; no token store[/red]")
                raise typer.Exit(1)
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed} leads"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(f"business {business}", total=None)
                try:
                    result = await backfill(
                        s.services.writer,
                        s.services.thumbtack,
                        grants,
                        business,
                        on_lead=lambda r: progress.update(task, completed=r.seen),
                        reactions=s.reactions,
                    )
                except BackfillNotAvailableError:
                    progress.stop()
                    console.print(
                        "[yellow]listing leads is not available to this client (404): leads "
                        "arrive through webhooks only[/yellow]"
                    )
                    raise typer.Exit(3) from None
                except JobError as exc:
                    progress.stop()
                    console.print(f"[red]{exc.detail}[/red]")
                    raise typer.Exit(1) from None
            console.print(
                f"{result.seen} leads: {result.imported} imported, "
                f"{result.duplicates} already known, {len(result.failed)} failed"
            )
            if result.failed:
                console.print(f"[red]failed: {', '.join(result.failed)}[/red]")
                raise typer.Exit(1)

    run(main())
