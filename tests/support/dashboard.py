"""The dashboard over HTTP without a browser: a tackbridge in dev mode (cookies without Secure,
as over plain http), users added straight to its store, and clients signed in through the
sign-in form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from tackbridge.core.clock import now
from tackbridge.settings import Settings
from tackbridge.store.database import open_database
from tackbridge.users.service import add_user
from tests.support.tackbridge import RunningServer, in_process, make_settings

__all__ = ["OWNER", "add", "csrf_of", "dev_server", "sign_in", "signed_in_client"]

OWNER = ("owner@example.com", "owner-password-1")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def dev_server(data_dir: Path, **overrides: Any) -> Iterator[RunningServer]:
    settings = make_settings(data_dir, mode="dev", **overrides)
    with in_process(settings) as srv:
        add(srv.settings, *OWNER, role="owner")
        yield srv


def add(
    settings: Settings, email: str, password: str, *, role: str, businesses: tuple[str, ...] = ()
) -> None:
    db = open_database(settings.resolved_database_url)
    try:
        with db.writer.begin() as conn:
            add_user(conn, email, password, role=role, businesses=businesses, now=now())
    finally:
        db.dispose()


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html[:500]
    return found.group(1)


def sign_in(
    client: httpx2.Client,
    email: str,
    password: str,
    *,
    page: str = "/login",
    next_url: str | None = None,
) -> httpx2.Response:
    """Posts the sign-in form read from ``page`` (its CSRF token), with ``next_url`` if given."""
    form = client.get(page)
    data = {"csrf": csrf_of(form.text), "email": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


@contextmanager
def signed_in_client(
    srv: RunningServer, email: str = OWNER[0], password: str = OWNER[1]
) -> Iterator[httpx2.Client]:
    with srv.client(follow_redirects=False) as client:
        answer = sign_in(client, email, password)
        assert answer.status_code == 303, answer.text
        yield client
