"""The dashboard's pages, one router each. ``ROUTERS`` is the list ``dashboard.web`` installs:
a new page appends its router here. Every route of these routers needs a signed-in user
(``auth.page_user``; state-changing ones ``csrf.checked_user``) except those in ``PUBLIC``;
``tests/dashboard/test_security.py`` checks each route signed out."""

from __future__ import annotations

from fastapi import APIRouter

from tackbridge.dashboard.pages import (
    connections,
    deliveries,
    inbox,
    insights,
    lead,
    login,
    users,
)

__all__ = ["PUBLIC", "ROUTERS"]

ROUTERS: list[APIRouter] = [
    login.router,
    inbox.router,
    lead.router,
    insights.router,
    deliveries.router,
    connections.router,
    users.router,
]

#: (method, path) of the routes a signed-out visitor may use.
PUBLIC: frozenset[tuple[str, str]] = frozenset({("GET", "/login"), ("POST", "/login")})
