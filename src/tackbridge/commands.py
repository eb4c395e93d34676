"""The outbound commands of the ``tackbridge`` CLI: the worker, the outbox (``deliveries``), and
talking back to Thumbtack (``send-message``, ``job-status``, ``targeting``, ``backfill``,
``request create``). Registered on the main app by ``tackbridge.cli``.

Commands that cause an effect write it (and its outbox job) in one transaction, then run the due
outbound jobs once in this process so the operator sees the result; a ``tackbridge worker`` or
``serve`` running beside them is harmless (leases keep each job to one worker at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # for start-up time, this command-line module imports the product lazily
    from sqlalchemy import Connection

    from tackbridge.outbox.worker import Worker
    from tackbridge.runtime import Runtime
    from tackbridge.services import Services

console = Console()
log = logging.getLogger("tackbridge.outbox")
T = TypeVar("T")

deliveries_app = typer.Typer(help="The outbox: every outbound effect.", no_args_is_help=True)
request_app = typer.Typer(help="Demand side: the Requests API.", no_args_is_help=True)


@dataclass
class Session:
    runtime: Runtime

    @property
    def services(self) -> Services:
        return self.runtime.services

    async def write(self, unit: Callable[[Connection], T]) -> T:
        return await self.runtime.services.writer.run(unit)

    def worker(self, concurrency: int | None = None) -> Worker:
        """A worker for every job kind (the CLI's effects, and what ``serve`` would run)."""
        return self.runtime.new_worker(concurrency)


@asynccontextmanager
async def session() -> AsyncIterator[Session]:
    from tackbridge.core import logs
    from tackbridge.runtime import Runtime
    from tackbridge.settings import Settings

    settings = Settings()
    logs.configure(settings.log_level)
    runtime = Runtime.open(settings)
    runtime.start()
    try:
        yield Session(runtime)
    finally:
        await runtime.aclose()
        runtime.close()


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _job_line(session_: Session, key: str) -> str:
    from sqlalchemy import select

    from tackbridge.store.schema import outbox

    with session_.services.db.reader.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.idempotency_key == key)).first()
    if row is None:
        return "no job"
    line = f"job {row.id} ({row.kind}): {row.state} after {row.attempts} attempt(s)"
    if row.state == "pending" and row.attempts:
        line += f", next attempt at {row.next_attempt_at:%Y-%m-%d %H:%M:%S}"
    if row.last_error and row.state != "done":
        line += f"\n  last error: {row.last_error.get('detail')}"
    return line


async def _deliver(session_: Session, key: str, run: bool) -> None:
    if run:
        await session_.worker().drain()
    console.print(_job_line(session_, key))


# ------------------------------------------------------------------------------ worker


def worker_command(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs at once (default TACKBRIDGE_WORKER_CONCURRENCY)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run what is due, then exit.")] = False,
) -> None:
    """Run the outbox worker for Thumbtack-bound jobs until SIGTERM or Ctrl-C."""

    async def main() -> None:
        async with session() as s:
            worker = s.worker(concurrency)
            if once:
                ran = await worker.drain()
                console.print(f"{ran} attempt(s) run, {worker.completed} job(s) done")
                return
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, lambda: asyncio.ensure_future(worker.stop()))
            console.print(f"outbox worker {worker.name} running ({', '.join(worker.handlers)})")
            await worker.run()

    _run(main())


# ------------------------------------------------------------------------------ deliveries


@deliveries_app.command("list")
def deliveries_list(
    state: Annotated[str | None, typer.Option(help="pending, running, done or dead")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this job kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List outbox jobs, newest first."""
    from tackbridge.outbox.service import STATES, list_jobs
    from tackbridge.settings import Settings
    from tackbridge.store.database import open_database

    if state is not None and state not in STATES:
        console.print(f"[red]state must be one of {', '.join(STATES)}[/red]")
        raise typer.Exit(2)
    settings = Settings()
    db = open_database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    try:
        with db.reader.connect() as conn:
            page = list_jobs(conn, state=state, kind=kind, limit=limit)
    finally:
        db.dispose()
    table = Table(title=f"{len(page.items)} jobs")
    for column in ("id", "kind", "state", "attempts", "next attempt", "key", "last error"):
        table.add_column(column)
    for job in page.items:
        error = (job.lastError or {}).get("detail", "") if job.state != "done" else ""
        table.add_row(
            str(job.id),
            job.kind,
            job.state,
            str(job.attempts),
            job.nextAttemptAt.strftime("%Y-%m-%d %H:%M:%S") if job.state == "pending" else "",
            job.idempotencyKey,
            str(error)[:80],
        )
    console.print(table)


@deliveries_app.command("retry")
def deliveries_retry(
    job_id: Annotated[int, typer.Argument(help="The job's id (see `deliveries list`).")],
) -> None:
    """Retry a dead job now, or replay a done one (the worker picks it up)."""
    from tackbridge.outbox.service import RetryRefusedError, retry_job

    async def main() -> None:
        async with session() as s:
            now = datetime.now(UTC)
            try:
                kinds = s.runtime.registry.requeue_hooks()
                found = await s.write(lambda conn: retry_job(conn, job_id, now, kinds))
            except RetryRefusedError as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from None
            if not found:
                console.print(f"[red]no delivery {job_id}[/red]")
                raise typer.Exit(1)
            console.print(f"job {job_id} is due now")

    _run(main())


# ------------------------------------------------------------------------------ effects

_NOW_HELP = "Queue only; a running worker sends it."


def send_message_command(
    lead: Annotated[str, typer.Argument(help="The lead (negotiation) ID.")],
    text: Annotated[str, typer.Argument(help="The reply to the customer.")],
    queue_only: Annotated[bool, typer.Option("--queue-only", help=_NOW_HELP)] = False,
) -> None:
    """Reply to a lead's customer (stored in the thread, sent through the outbox)."""
    from tackbridge.conversations.replies import MAX_TEXT, LeadNotFoundError, queue_reply

    if not text.strip() or len(text) > MAX_TEXT:
        console.print(f"[red]the text must be 1 to {MAX_TEXT} characters, not blank[/red]")
        raise typer.Exit(2)

    async def main() -> None:
        async with session() as s:
            now = datetime.now(UTC)
            try:
                queued = await s.write(lambda conn: queue_reply(conn, lead, text, now=now))
            except LeadNotFoundError:
                console.print(f"[red]no lead {lead!r}[/red]")
                raise typer.Exit(1) from None
            console.print(f"reply {queued.message_id} queued")
            await _deliver(s, queued.job_key, not queue_only)

    _run(main())


def job_status_command(
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
    queue_only: Annotated[bool, typer.Option("--queue-only", help=_NOW_HELP)] = False,
) -> None:
    """Record a job status change for a lead and push it to Thumbtack."""
    from tackbridge.jobstatus.push import LeadNotFoundError, record_change
    from tackbridge.jobstatus.rules import InvalidJobStatusError, validate

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
        async with session() as s:
            try:
                recorded = await s.write(lambda conn: record_change(conn, change, now=now))
            except LeadNotFoundError:
                console.print(f"[red]no lead {lead!r}[/red]")
                raise typer.Exit(1) from None
            if not recorded.created:
                console.print("this change was recorded before")
            await _deliver(s, recorded.job_key, not queue_only)

    _run(main())


def targeting_command(
    service: Annotated[str, typer.Argument(help="The service ID.")],
    state: Annotated[str, typer.Argument(help="on or off")],
    category: Annotated[str | None, typer.Option(help="Only this category of the service.")] = None,
    business: Annotated[
        str | None, typer.Option(help="Whose connection (default: the only legacy one).")
    ] = None,
    queue_only: Annotated[bool, typer.Option("--queue-only", help=_NOW_HELP)] = False,
) -> None:
    """Turn targeting on or off for a service, or one of its categories (legacy v3)."""
    from tackbridge.targeting.service import queue_targeting

    if state not in ("on", "off"):
        console.print("[red]the state must be on or off[/red]")
        raise typer.Exit(2)

    async def main() -> None:
        async with session() as s:
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
            await _deliver(s, key, not queue_only)

    _run(main())


def _only_legacy_business(s: Session) -> str:
    from sqlalchemy import select

    from tackbridge.store.schema import connections

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


def backfill_command(
    business: Annotated[str, typer.Argument(help="The business ID.")],
) -> None:
    """Import a business's leads from Thumbtack (idempotent with the webhooks)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tackbridge.conversations.backfill import BackfillNotAvailableError, backfill
    from tackbridge.flows import REACTIONS
    from tackbridge.outbox.errors import JobError

    async def main() -> None:
        async with session() as s:
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
                        reactions=REACTIONS,
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

    _run(main())


@request_app.command("create")
def request_create(
    connection: Annotated[
        str, typer.Option("--as", help="The demand connection (its ID) to submit with.")
    ],
    business: Annotated[list[str], typer.Option("--business", help="Business ID (repeat).")],
    category: Annotated[str, typer.Option(help="Category ID.")],
    description: Annotated[str | None, typer.Option(help="The project.")] = None,
    zip_code: Annotated[str | None, typer.Option("--zip", help="Five-digit ZIP code.")] = None,
    search_id: Annotated[str | None, typer.Option(help="searchID from a business search.")] = None,
) -> None:
    """Submit a request for a customer to businesses (``POST /api/v4/requests``)."""
    from tackbridge.outbox.errors import JobError
    from tackbridge.outbox.thumbtack import call_with_refresh, grant_for
    from tackbridge.thumbtack.grants import Grant
    from tackbridge.thumbtack.models import RequestCreate, RequestResult

    extra: dict[str, Any] = {}
    if description is not None:
        extra["description"] = description
    if zip_code is not None:
        extra["zipCode"] = zip_code
    body = RequestCreate(searchID=search_id, businessIDs=business, categoryID=category, **extra)

    async def main() -> None:
        async with session() as s:
            tokens = s.services.grants
            if tokens is None:
                console.print("[red]requests need a demand connection; no token store[/red]")
                raise typer.Exit(1)

            async def create(g: Grant) -> RequestResult:
                return await s.services.thumbtack.v4.create_request(body, token=g.access_token)

            try:
                result = await call_with_refresh(
                    tokens, await grant_for(tokens, connection), create
                )
            except JobError as exc:
                console.print(f"[red]{exc.detail}[/red]")
                raise typer.Exit(1) from None
            console.print(f"request {result.request.requestID} created")
            for error in result.contactErrors:
                console.print(f"[yellow]not contacted: {error.businessID} {error.message}[/yellow]")

    _run(main())


COMMANDS: dict[str, Callable[..., None]] = {
    "worker": worker_command,
    "send-message": send_message_command,
    "job-status": job_status_command,
    "targeting": targeting_command,
    "backfill": backfill_command,
}
