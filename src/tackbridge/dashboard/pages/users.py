"""The Users page (``/users``, owners only): every user with their role and businesses; adding
one (e-mail, password, role, businesses), changing a user's role, businesses or password, and
removing a user. Every change is ``users.service``'s (as ``tackbridge users`` does it): the last
owner can be neither removed nor demoted, a new password signs the user out everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from sqlalchemy import Connection
from starlette.responses import Response

from tackbridge.connections.service import connections_of
from tackbridge.core.clock import now
from tackbridge.dashboard.auth import SignedIn
from tackbridge.dashboard.staff import owner_form, owner_page
from tackbridge.dashboard.templating import redirect, render
from tackbridge.leads.service import lead_facets
from tackbridge.services import services
from tackbridge.users.passwords import MIN_LENGTH, PasswordError
from tackbridge.users.service import (
    ROLES,
    InvalidUserError,
    UnknownUserError,
    User,
    add_user,
    get_user,
    list_users,
    remove_user,
    set_businesses,
    set_password,
    set_role,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
UserID = Annotated[int, Path(ge=1, le=2**63 - 1)]
Notice = Literal["added", "saved", "removed"]
NOTICES = {"added": "is added.", "saved": "is saved.", "removed": "is removed."}


def _businesses(request: Request, conn: Connection) -> list[tuple[str, str | None]]:
    """Every business a member could be given: connected ones and those with leads."""
    names: dict[str, str | None] = {
        row.business_id: row.business_name for row in connections_of(request).list()
    }
    for business_id, name in lead_facets(conn).businesses:
        names.setdefault(business_id, name)
    return sorted(names.items(), key=lambda item: ((item[1] or item[0]).lower(), item[0]))


def _page(
    request: Request,
    user: SignedIn,
    *,
    notice: str | None = None,
    who: int | None = None,
    error: str | None = None,
    error_user: int | None = None,
    form: Mapping[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        users = list_users(conn)
        businesses = _businesses(request, conn)
    named = {u.id: u.email for u in users}
    message = None
    if notice == "removed":
        message = "The user is removed."
    elif notice in NOTICES and who in named:  # never text from the address alone
        message = f"{named[who]} {NOTICES[notice]}"
    return render(
        request,
        "users.html",
        {
            "user": user.user,
            "csrf": user.csrf,
            "active": "users",
            "users": users,
            "roles": ROLES,
            "businesses": businesses,
            "min_length": MIN_LENGTH,
            "message": message,
            "error": error,
            "error_user": error_user,
            "form": form or {},
        },
        status_code=status_code,
    )


@router.get("/users")
def users_page(
    request: Request,
    user: Annotated[SignedIn, Depends(owner_page)],
    notice: Notice | None = None,
    who: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    return _page(request, user, notice=notice, who=who)


def _redirect(notice: str, user_id: int | None = None) -> Response:
    values: dict[str, str | int] = {"notice": notice}
    if user_id is not None:
        values["who"] = user_id
    return redirect("/users?" + urlencode(values))


@router.post("/users")
async def add(
    request: Request,
    user: Annotated[SignedIn, Depends(owner_form)],
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    role: Annotated[str, Form(max_length=16)] = "member",
    business: Annotated[list[str] | None, Form()] = None,
) -> Response:
    svc = services(request)
    chosen = business or []
    try:
        added = await svc.writer.run(
            lambda conn: add_user(conn, email, password, role=role, businesses=chosen, now=now())
        )
    except (InvalidUserError, PasswordError) as exc:
        form = {"email": email, "role": role, "businesses": chosen}
        return _page(request, user, error=str(exc), form=form, status_code=422)
    return _redirect("added", added.id)


def _stored_user(request: Request, user_id: int) -> User | None:
    with services(request).db.reader.connect() as conn:
        return get_user(conn, user_id)


@router.post("/users/{user_id}")
async def change(
    request: Request,
    user_id: UserID,
    user: Annotated[SignedIn, Depends(owner_form)],
    role: Annotated[str, Form(max_length=16)] = "member",
    business: Annotated[list[str] | None, Form()] = None,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    svc = services(request)
    found = _stored_user(request, user_id)
    if found is None:
        return _page(request, user, error=f"there is no user {user_id}", status_code=404)
    chosen = business or []
    at = now()

    def save(conn: Connection) -> None:
        set_role(conn, found.email, role, now=at)
        set_businesses(conn, found.email, chosen, now=at)
        if password:
            set_password(conn, found.email, password, now=at)

    try:
        await svc.writer.run(save)
    except (InvalidUserError, PasswordError, UnknownUserError) as exc:
        return _page(request, user, error=str(exc), error_user=user_id, status_code=422)
    return _redirect("saved", found.id)


@router.post("/users/{user_id}/remove")
async def remove(
    request: Request, user_id: UserID, user: Annotated[SignedIn, Depends(owner_form)]
) -> Response:
    svc = services(request)
    found = _stored_user(request, user_id)
    if found is None:
        return _page(request, user, error=f"there is no user {user_id}", status_code=404)
    try:
        await svc.writer.run(lambda conn: remove_user(conn, found.email))
    except (InvalidUserError, UnknownUserError) as exc:
        return _page(request, user, error=str(exc), error_user=user_id, status_code=422)
    return _redirect("removed")
