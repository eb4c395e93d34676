"""The demand side on the command line: ``request create`` submits a request for a customer to
businesses (``POST /api/v4/requests``) with a demand connection's grant, and names the
businesses Thumbtack did not contact (``contactErrors``). Registered by ``tackbridge.cli``;
runs in the session the top level puts in typer's context (``tackbridge.outbox.cli``).

Exit status: 0 when every business was contacted; 2 when the request was created but some
businesses were not (each named); 1 when nothing was created (refused, or nobody contacted)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from tackbridge.outbox.cli import run, session
from tackbridge.outbox.errors import JobError
from tackbridge.outbox.thumbtack import call_with_refresh, grant_for
from tackbridge.thumbtack.grants import Grant
from tackbridge.thumbtack.models import RequestCreate, RequestResult

__all__ = ["request_app"]

console = Console()

request_app = typer.Typer(help="Demand side: the Requests API.", no_args_is_help=True)


@request_app.command("create")
def request_create(
    ctx: typer.Context,
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
    extra: dict[str, Any] = {}
    if description is not None:
        extra["description"] = description
    if zip_code is not None:
        extra["zipCode"] = zip_code
    body = RequestCreate(searchID=search_id, businessIDs=business, categoryID=category, **extra)

    async def main() -> None:
        async with session(ctx) as s:
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
            for error in result.contactErrors:
                console.print(f"[yellow]not contacted: {error.businessID} {error.message}[/yellow]")
            if result.request is None:
                console.print("[red]no business could be sent the request[/red]")
                raise typer.Exit(1)
            console.print(f"request {result.request.requestID} created")
            if result.contactErrors:
                # A partial success is not a success to a script: some pros never got it.
                missed = len(result.contactErrors)
                console.print(f"[yellow]{missed} business(es) not contacted[/yellow]")
                raise typer.Exit(2)

    run(main())
