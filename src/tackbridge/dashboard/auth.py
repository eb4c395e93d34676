"""Who is signed in: server-side sessions and the throttling of sign-in failures.

A session is a row of ``user_sessions``; the browser holds its random token in a cookie that is
HttpOnly, SameSite=Lax and (outside dev mode) Secure, and the store keeps only the token's
SHA-256, so a copy of the database signs nobody in. Each session has its CSRF token
(``dashboard.csrf``). Signing out deletes the row; removing a user or changing their password
deletes all of theirs (``users.service``). A session lasts ``SESSION_LIFETIME``.

Pages depend on :func:`page_user` (signed out: 303 to ``/login?next=...``), the dashboard's
other endpoints on :func:`endpoint_user` (signed out: 401).

Sign-in failures are slowed per account and per client by the process's ``dashboard``
throttle (``Services.throttle``, ``core/throttle.FailureThrottle``, ``TACKBRIDGE_AUTH_*``): a
locked attempt is refused with 429 before the password is even checked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import HTTPException, Request
from sqlalchemy import Connection, delete, select
from starlette.responses import Response

from tackbridge.core.clock import now, utc
from tackbridge.services import services
from tackbridge.settings import Settings
from tackbridge.store.schema import user_sessions
from tackbridge.users.service import User, get_user

__all__ = [
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "SignInRequiredError",
    "SignedIn",
    "clear_session_cookie",
    "end_session",
    "endpoint_user",
    "load_session",
    "open_session",
    "page_user",
    "set_session_cookie",
    "signed_in",
]

SESSION_COOKIE = "tackbridge_session"
SESSION_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class SignedIn:
    """A signed-in request: its user and the session's CSRF token."""

    user: User
    csrf: str
    session_id: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user: User, *, at: datetime) -> str:
    """A new session for ``user``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        user_sessions.insert().values(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=at,
            expires_at=at + SESSION_LIFETIME,
        )
    )
    # Expired sessions of this user go as a new one starts: the table stays small.
    conn.execute(
        delete(user_sessions).where(
            user_sessions.c.user_id == user.id, user_sessions.c.expires_at < at
        )
    )
    return token


def end_session(conn: Connection, token: str) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.token_hash == _digest(token)))


def load_session(conn: Connection, token: str, *, at: datetime) -> SignedIn | None:
    row = conn.execute(
        select(user_sessions).where(user_sessions.c.token_hash == _digest(token))
    ).first()
    if row is None or utc(row.expires_at) <= at:
        return None
    user = get_user(conn, row.user_id)
    if user is None:
        return None
    return SignedIn(user=user, csrf=row.csrf_token, session_id=row.id)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=not settings.is_dev,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=not settings.is_dev
    )


def signed_in(request: Request) -> SignedIn | None:
    """The request's session, if it has a live one (looked up once per request)."""
    if hasattr(request.state, "signed_in"):
        found: SignedIn | None = request.state.signed_in
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token and len(token) < 200:
        with services(request).db.reader.connect() as conn:
            found = load_session(conn, token, at=now())
    request.state.signed_in = found
    return found


class SignInRequiredError(Exception):
    """A page asked for while signed out: the browser is sent to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def sign_in_url(next_url: str | None) -> str:
    if not next_url or next_url == "/" or not next_url.startswith("/") or next_url.startswith("//"):
        return "/login"
    return f"/login?next={quote(next_url, safe='/')}"


def page_user(request: Request) -> SignedIn:
    found = signed_in(request)
    if found is None:
        path = request.url.path
        if request.method == "GET" and request.url.query:
            path = f"{path}?{request.url.query}"
        raise SignInRequiredError(path if request.method == "GET" else "/")
    return found


def endpoint_user(request: Request) -> SignedIn:
    found = signed_in(request)
    if found is None:
        raise HTTPException(
            status_code=401,
            detail="sign in to the dashboard first (/login)",
            headers={"WWW-Authenticate": 'Cookie realm="tackbridge dashboard"'},
        )
    return found
