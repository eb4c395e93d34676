"""Rendering the dashboard's pages: one Jinja2 environment (autoescaped), the context every page
gets (the signed-in user, the CSRF token, the navigation), the headers every page carries
(a strict Content-Security-Policy: our own scripts and styles only), and small filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

__all__ = [
    "NAV",
    "SECURITY_HEADERS",
    "TEMPLATES",
    "NavItem",
    "duration",
    "money",
    "redirect",
    "render",
]

HERE = Path(__file__).resolve().parent
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: "
        "data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str
    owners_only: bool = False
    staff_only: bool = False  # owners and admins (every business and all settings)


#: The navigation of every page; pages name theirs by ``key`` (``active``).
NAV: tuple[NavItem, ...] = (
    NavItem("inbox", "Inbox", "/"),
    NavItem("deliveries", "Deliveries", "/deliveries", staff_only=True),
    NavItem("connections", "Connections", "/connections", staff_only=True),
    NavItem("insights", "Insights", "/insights"),
    NavItem("users", "Users", "/users", owners_only=True),
)


def money(cents: int | None) -> str:
    if cents is None:
        return "—"
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:,.2f}"


def duration(span: timedelta) -> str:
    """``2 h 05 min``, ``12 min``, ``under a minute``."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return "under a minute"
    hours, rest = divmod(seconds // 60, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours:
        return f"{hours} h {rest:02d} min"
    return f"{rest} min"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat()


def label(value: str | None) -> str:
    """``job_complete`` -> ``Job complete``."""
    if not value:
        return "—"
    text = value.replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


def labelled(values: Iterable[str]) -> list[tuple[str, str]]:
    """Each value with its ``label``: the choices of a select (``_macros.html``)."""
    return [(value, label(value)) for value in values]


TEMPLATES.filters.update(
    money=money, duration=duration, when=when, iso=iso, label=label, labelled=labelled
)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` with ``context`` (plus ``request`` and ``nav``)."""
    body = TEMPLATES.get_template(template).render(
        {"request": request, "nav": NAV, "active": None, **context}
    )
    return HTMLResponse(
        body, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})}
    )


def redirect(url: str, *, headers: Mapping[str, str] | None = None) -> Response:
    """See Other: where a form's POST goes next (a reload does not post again)."""
    return RedirectResponse(url, status_code=303, headers={**SECURITY_HEADERS, **(headers or {})})
