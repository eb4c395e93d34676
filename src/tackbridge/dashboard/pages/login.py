"""``/login`` (the sign-in form: Email, Password, Sign in) and ``/logout``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import Connection
from starlette.responses import Response

from tackbridge.core.clock import now
from tackbridge.core.metrics import REFUSALS
from tackbridge.core.throttle import retry_after
from tackbridge.dashboard.auth import (
    SESSION_COOKIE,
    SignedIn,
    clear_session_cookie,
    end_session,
    open_session,
    set_session_cookie,
    signed_in,
)
from tackbridge.dashboard.csrf import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    check_login_token,
    checked_user,
    new_login_token,
)
from tackbridge.dashboard.templating import redirect, render
from tackbridge.services import client_address, services
from tackbridge.users.service import authenticate, rehash_if_needed

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
THROTTLE = "dashboard"  # the surface of Services.throttle: failed sign-ins


def _next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _form(
    request: Request,
    *,
    next_url: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = new_login_token()
    response = render(
        request,
        "login.html",
        {"csrf": token, "csrf_field": CSRF_FIELD, "next": next_url, "email": email, "error": error},
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=not services(request).settings.is_dev,
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if signed_in(request) is not None:
        return redirect(_next(next))
    return _form(request, next_url=_next(next))


@router.post("/login", dependencies=[Depends(check_login_token)])
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    svc = services(request)
    account = email.strip().lower()
    client = client_address(request)
    limiter = svc.throttle(THROTTLE)
    wait = limiter.check(client, account)
    if wait > 0:
        REFUSALS.labels(THROTTLE, "too-many-failures").inc()
        seconds = retry_after(wait)
        return _form(
            request,
            next_url=_next(next),
            email=email,
            error=f"Too many failed sign-ins. Try again in {seconds} seconds.",
            status_code=429,
            headers={"Retry-After": seconds},
        )
    with svc.db.reader.connect() as conn:
        user = authenticate(conn, account, password)
    if user is None:
        limiter.failure(client, account)
        REFUSALS.labels(THROTTLE, "wrong-password").inc()
        return _form(
            request,
            next_url=_next(next),
            email=email,
            error="Wrong e-mail address or password.",
            status_code=401,
        )
    limiter.success(client, account)
    at = now()

    def start(conn: Connection) -> str:
        rehash_if_needed(conn, user, password, now=at)
        return open_session(conn, user, at=at)

    token = await svc.writer.run(start)
    response = redirect(_next(next))
    set_session_cookie(response, token, svc.settings)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, user: Annotated[SignedIn, Depends(checked_user)]) -> Response:
    svc = services(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    await svc.writer.run(lambda conn: end_session(conn, token))
    response = redirect("/login")
    clear_session_cookie(response, svc.settings)
    return response
