"""``tackbridge users add|list|remove|set-password``: the dashboard's users, straight against the
store. A password is read from standard input when it is not a terminal (one line: scripts and
secrets managers pipe it in), and asked for twice, hidden, when it is."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, select

from tackbridge.core.clock import now
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.schema import businesses, connections
from tackbridge.users import service
from tackbridge.users.passwords import PasswordError, check_strength

__all__ = ["users_app"]

T = TypeVar("T")

users_app = typer.Typer(help="People who sign in to the dashboard.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _write(unit: Callable[[Connection], T]) -> T:
    settings = Settings()
    db = open_database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    try:
        migrate.upgrade(db.writer)
        with db.writer.begin() as conn:
            return unit(conn)
    except (service.InvalidUserError, service.UnknownUserError, PasswordError) as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        db.dispose()


def read_password() -> str:
    """The new password: a line of standard input, or typed twice at a terminal."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            errors.print("[red]no password on standard input[/red]")
            raise typer.Exit(2)
        return password
    while True:
        password = str(typer.prompt("Password", hide_input=True))
        try:
            check_strength(password)
        except PasswordError as exc:
            errors.print(f"[red]{exc}[/red]")
            continue
        if typer.prompt("Repeat the password", hide_input=True) == password:
            return password
        errors.print("[red]the passwords differ; try again[/red]")


def unknown_businesses(conn: Connection, business_ids: Sequence[str]) -> list[str]:
    """The IDs the store knows no business of (a typo, or a business not connected yet)."""
    if not business_ids:
        return []
    known = set(
        conn.execute(
            select(businesses.c.business_id).where(businesses.c.business_id.in_(business_ids))
        ).scalars()
    ) | set(
        conn.execute(
            select(connections.c.business_id).where(connections.c.business_id.in_(business_ids))
        ).scalars()
    )
    return [b for b in business_ids if b not in known]


@users_app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="The e-mail address they sign in with.")],
    role: Annotated[str, typer.Option(help="owner, admin or member.")],
    business: Annotated[
        list[str] | None,
        typer.Option(help="A business a member may see (repeat for several)."),
    ] = None,
) -> None:
    """Add a user; the password comes from standard input (or is asked for twice)."""
    if role not in service.ROLES:
        errors.print(f"[red]--role must be one of {', '.join(service.ROLES)}[/red]")
        raise typer.Exit(2)
    if role == "member" and not business:
        errors.print("[yellow]a member without --business sees no leads yet[/yellow]")
    password = read_password()
    user = _write(
        lambda conn: service.add_user(
            conn, email, password, role=role, businesses=business or (), now=now()
        )
    )
    console.print(f"added {user.email} ({user.role})")
    unknown = _write(lambda conn: unknown_businesses(conn, user.businesses))
    if unknown:
        errors.print(
            f"[yellow]no lead or connection names {', '.join(unknown)} yet: check the ID "
            "(`tackbridge connections list`)[/yellow]"
        )


@users_app.command("list")
def list_command() -> None:
    """List the users with their roles and businesses."""
    found = _write(service.list_users)
    table = Table(title=f"{len(found)} users")
    for column in ("email", "role", "businesses", "added"):
        table.add_column(column)
    for user in found:
        table.add_row(
            user.email,
            user.role,
            "every business" if user.sees_every_business else ", ".join(user.businesses) or "-",
            user.created_at.strftime("%Y-%m-%d"),
        )
    console.print(table)


@users_app.command("remove")
def remove_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
) -> None:
    """Remove a user (and sign them out); the last owner stays."""
    user = _write(lambda conn: service.remove_user(conn, email))
    console.print(f"removed {user.email}")


@users_app.command("set-password")
def set_password_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
) -> None:
    """Set a user's password (from standard input, or asked for twice); signs them out."""
    password = read_password()
    user = _write(lambda conn: service.set_password(conn, email, password, now=now()))
    console.print(f"password set for {user.email}; their sessions are signed out")
