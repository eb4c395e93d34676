"""Job statuses on the command line: ``job-status`` records a lead's job status change and pushes
it to Thumbtack. Registered by ``tackbridge.cli``; runs in the session the top level puts in
typer's context (``tackbridge.outbox.cli``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from tackbridge.jobstatus.push import LeadNotFoundError, record_change
from tackbridge.jobstatus.rules import InvalidJobStatusError, validate
from tackbridge.outbox.cli import QUEUE_ONLY_HELP, deliver, run, session

__all__ = ["job_status_command"]

console = Console()


def job_status_command(
    ctx: typer.Context,
    lead: Annotated[str, typer.Argument(help="The lead (negotiation) ID.")],
    status: Annotated[
        str,
        typer.Argument(
            help="not_scheduled, appt_scheduled, job_complete, invoice_paid, customer_cancel "
            "or pro_cancel"
        ),
    ],
    invoice_cents: Annotated[
        int | None, typer.Option(help="Invoice amount in cents (job_complete, invoice_paid).")
    ] = None,
    at: Annotated[
        datetime | None, typer.Option(help="When it changed (default now; UTC if no zone).")
    ] = None,
    queue_only: Annotated[bool, typer.Option("--queue-only", help=QUEUE_ONLY_HELP)] = False,
) -> None:
    """Record a job status change for a lead and push it to Thumbtack."""
    now = datetime.now(UTC)
    changed = at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
    try:
        change = validate(
            lead, status, invoice_amount_cents=invoice_cents, changed_at=changed, now=now
        )
    except InvalidJobStatusError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from None

    async def main() -> None:
        async with session(ctx) as s:
            try:
                recorded = await s.write(lambda conn: record_change(conn, change, now=now))
            except LeadNotFoundError:
                console.print(f"[red]no lead {lead!r}[/red]")
                raise typer.Exit(1) from None
            if not recorded.created:
                console.print("this change was recorded before")
            await deliver(s, recorded.job_key, not queue_only)

    run(main())
