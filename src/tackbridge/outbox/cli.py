"""The outbox on the command line, and the session every feature's commands run in.

Owns :class:`Session`, what a feature's command needs of the process it runs in (the shared
services, one write transaction, a worker over every job kind, the kinds as an operator's retry
needs them), and how a command reaches it: the top-level ``tackbridge.cli`` puts an
:class:`Opener` in typer's context object (``ctx.obj``) and a command opens it with
:func:`session`. Features never see the runtime that implements it.

Commands that cause an effect write it (and its outbox job) in one transaction, then run the due
jobs once in this process (:func:`deliver`) so the operator sees the result; a
``tackbridge worker`` or ``serve`` running beside them is harmless (leases keep each job to one
worker at a time).

The outbox's own commands: ``worker``, ``deliveries list`` and ``deliveries retry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, select

from tackbridge.outbox.kinds import Bound
from tackbridge.outbox.service import STATES, RetryRefusedError, list_jobs, retry_job
from tackbridge.outbox.worker import Worker
from tackbridge.services import Services
from tackbridge.settings import Settings
from tackbridge.store.database import open_database
from tackbridge.store.schema import outbox

__all__ = [
    "QUEUE_ONLY_HELP",
    "Opener",
    "Session",
    "deliver",
    "deliveries_app",
    "opener",
    "run",
    "session",
    "worker_command",
]

T = TypeVar("T")
S_co = TypeVar("S_co", covariant=True)

console = Console()

deliveries_app = typer.Typer(help="The outbox: every outbound effect.", no_args_is_help=True)

#: The help of every effect command's ``--queue-only``.
QUEUE_ONLY_HELP = "Queue only; a running worker sends it."


class Session(Protocol):
    """What a command needs of the process it runs in."""

    @property
    def services(self) -> Services: ...

    async def write(self, unit: Callable[[Connection], T]) -> T:
        """Run ``unit`` in one transaction of the store's writer."""
        ...

    def worker(self, concurrency: int | None = None) -> Worker:
        """A worker for every job kind (the CLI's effects, and what ``serve`` would run)."""
        ...

    def requeue_kinds(self) -> Mapping[str, Bound[Any]]:
        """Every kind as an operator's retry needs it (its requeue hooks; no handler built)."""
        ...


class Opener(Protocol[S_co]):
    """Opens a session (for one command) and closes it."""

    def __call__(self) -> AbstractAsyncContextManager[S_co]: ...


def opener(ctx: typer.Context) -> Opener[Any]:
    """The opener the top-level CLI put in the context (a feature's command may need a session
    richer than :class:`Session`; the top level's implements every feature's)."""
    found: Opener[Any] | None = ctx.obj
    if not callable(found):
        raise RuntimeError("no session opener in the context: run commands from tackbridge.cli")
    return found


def session(ctx: typer.Context) -> AbstractAsyncContextManager[Session]:
    """A session for this command (``async with session(ctx) as s``)."""
    open_session: Opener[Session] = opener(ctx)
    return open_session()


def run(main: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(main)


def _job_line(s: Session, key: str) -> str:
    with s.services.db.reader.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.idempotency_key == key)).first()
    if row is None:
        return "no job"
    line = f"job {row.id} ({row.kind}): {row.state} after {row.attempts} attempt(s)"
    if row.state == "pending" and row.attempts:
        line += f", next attempt at {row.next_attempt_at:%Y-%m-%d %H:%M:%S}"
    if row.last_error and row.state != "done":
        line += f"\n  last error: {row.last_error.get('detail')}"
    return line


async def deliver(s: Session, key: str, run_jobs: bool) -> None:
    """Run the due jobs once (unless ``run_jobs`` is false), then print the job of ``key``."""
    if run_jobs:
        await s.worker().drain()
    console.print(_job_line(s, key))


# ------------------------------------------------------------------------------ worker


def worker_command(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs at once (default TACKBRIDGE_WORKER_CONCURRENCY)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run what is due, then exit.")] = False,
) -> None:
    """Run the outbox worker for Thumbtack-bound jobs until SIGTERM or Ctrl-C."""

    async def main() -> None:
        async with session(ctx) as s:
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

    run(main())


# ------------------------------------------------------------------------------ deliveries


@deliveries_app.command("list")
def deliveries_list(
    state: Annotated[str | None, typer.Option(help="pending, running, done or dead")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this job kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List outbox jobs, newest first."""
    if state is not None and state not in STATES:
        console.print(f"[red]state must be one of {', '.join(STATES)}[/red]")
        raise typer.Exit(2)
    # Read-only: the store as it is, no session (no migration, no writer).
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
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(help="The job's id (see `deliveries list`).")],
) -> None:
    """Retry a dead job now, or replay a done one (the worker picks it up)."""

    async def main() -> None:
        async with session(ctx) as s:
            now = datetime.now(UTC)
            try:
                kinds = s.requeue_kinds()
                found = await s.write(lambda conn: retry_job(conn, job_id, now, kinds))
            except RetryRefusedError as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from None
            if not found:
                console.print(f"[red]no delivery {job_id}[/red]")
                raise typer.Exit(1)
            console.print(f"job {job_id} is due now")

    run(main())
