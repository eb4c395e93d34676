"""Dashboard users for HTTP tests: a user added straight to the store and a client holding a
session of theirs (its cookie set by hand: a production-mode cookie is Secure, which a test
client on plain http would not send back), with the session's CSRF token at hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
from sqlalchemy import select

from tackbridge.core.clock import now
from tackbridge.dashboard.auth import SESSION_COOKIE, open_session
from tackbridge.settings import Settings
from tackbridge.store.database import open_database
from tackbridge.store.schema import user_sessions
from tackbridge.users.service import add_user
from tests.support.tackbridge import RunningServer

__all__ = ["Member", "session_for", "signed_in_as"]


@dataclass
class Member:
    client: httpx2.Client
    csrf: str

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx2.Response:
        """A form post with the session's CSRF token (unless ``data`` names one)."""
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})}, **kwargs)


def signed_in_as(
    server: RunningServer, email: str, *, role: str, businesses: tuple[str, ...] = ()
) -> Member:
    token, csrf = session_for(server.settings, email, role=role, businesses=businesses)
    client = server.client(headers={"Cookie": f"{SESSION_COOKIE}={token}"}, follow_redirects=False)
    return Member(client, csrf)


def session_for(
    settings: Settings, email: str, *, role: str, businesses: tuple[str, ...] = ()
) -> tuple[str, str]:
    """A new user and a session of theirs: the session cookie's value and its CSRF token."""
    db = open_database(settings.resolved_database_url)
    try:
        with db.writer.begin() as conn:
            user = add_user(
                conn, email, "password-123456", role=role, businesses=businesses, now=now()
            )
            token = open_session(conn, user, at=now())
            csrf = conn.execute(
                select(user_sessions.c.csrf_token).where(user_sessions.c.user_id == user.id)
            ).scalar_one()
    finally:
        db.dispose()
    return token, csrf
