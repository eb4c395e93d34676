"""Cross-site request forgery: every form and state-changing request of the dashboard carries a
token the attacker's page cannot read; without the right one it is refused with 403.

Signed in, the token is the session's (``user_sessions.csrf_token``), in a hidden ``csrf``
field or an ``X-CSRF-Token`` header. The sign-in form, before there is a session, uses a
double-submit token: a random value in an HttpOnly cookie that must come back in the form.
SameSite=Lax cookies are a second line, not the only one.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request

from tackbridge.dashboard.auth import SignedIn, page_user

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "check_login_token",
    "checked_user",
    "new_login_token",
    "tokens_match",
]

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOGIN_COOKIE = "tackbridge_login_csrf"


def tokens_match(expected: str | None, presented: str | None) -> bool:
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def _refused() -> HTTPException:
    return HTTPException(
        status_code=403, detail="missing or wrong CSRF token: reload the page and try again"
    )


async def _presented(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def checked_user(request: Request) -> SignedIn:
    """Dependency of every state-changing dashboard route: signed in (else to the sign-in
    page) and carrying the session's CSRF token (else 403)."""
    user = page_user(request)
    if not tokens_match(user.csrf, await _presented(request)):
        raise _refused()
    return user


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


async def check_login_token(request: Request) -> None:
    """The sign-in form's double-submit check (403 without it)."""
    if not tokens_match(request.cookies.get(LOGIN_COOKIE), await _presented(request)):
        raise _refused()
