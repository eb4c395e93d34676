"""How a connection is doing, in words a pro's office can act on: its token's health, its
webhook's registration, the scopes it lacks, and when a disconnected business's data is
purged. Pure: a stored connection (never its tokens' plaintext: only whether they are there),
the settings' purge delay and now in, a verdict out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tackbridge.connections.store import ConnectionRow

__all__ = ["Verdict", "missing_scopes", "purge_at", "token_health", "webhook_health"]

Level = Literal["ok", "warn", "bad", "off"]


@dataclass(frozen=True)
class Verdict:
    level: Level
    text: str


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def purge_at(row: ConnectionRow, purge_delay_days: float) -> datetime | None:
    """When a disconnected business's customer data is purged (None while connected)."""
    if row.state != "disconnected" or row.disconnected_at is None:
        return None
    return row.disconnected_at + timedelta(days=purge_delay_days)


def token_health(row: ConnectionRow, now: datetime, holder: ConnectionRow | None = None) -> Verdict:
    """The health of the tokens ``row`` uses: its own, or its account's ``holder``'s."""
    if row.state == "disconnected":
        return Verdict("off", "disconnected: no tokens kept")
    if row.state == "needs_reconnect":
        why = (row.last_error or {}).get("detail")
        return Verdict("bad", "needs reconnecting" + (f": {why}" if why else ""))
    if row.grant_of is not None:
        if holder is None or holder.state != "active":
            return Verdict("bad", f"the account's grant (business {row.grant_of}) is gone")
        shared = token_health(holder, now)
        return Verdict(shared.level, f"{shared.text} (the account's grant)")
    if row.refresh_owner is not None:
        return Verdict("warn", "refreshing now")
    if row.access_token is None:
        return Verdict("bad", "no access token: reconnect")
    access = row.access_expires_at
    if access is None or access > now:
        left = "" if access is None else f", {_span(access - now)} left"
        return Verdict("ok", f"access token valid{left}")
    if row.refresh_token is None:
        return Verdict("bad", "access token expired, no refresh token (offline_access): reconnect")
    if row.refresh_expires_at is not None and row.refresh_expires_at <= now:
        return Verdict("bad", "refresh token expired: reconnect")
    return Verdict("ok", "access token expired; refreshed on the next call")


def webhook_health(row: ConnectionRow) -> Verdict:
    """Whether our ``/v4/webhooks`` URL is registered on the business (v4 only)."""
    if row.api != "v4":
        return Verdict("off", "not used (legacy API: Thumbtack posts to the partner endpoints)")
    if row.state == "disconnected":
        return Verdict("off", "removed (disconnected)")
    if not row.enabled:
        return Verdict("off", "removed (business disabled)")
    if row.webhook_id:
        return Verdict("ok", f"registered ({row.webhook_id})")
    if row.webhook_error:
        return Verdict("bad", row.webhook_error)
    return Verdict("warn", "registering")


def missing_scopes(row: ConnectionRow, wanted: Sequence[str]) -> list[str]:
    """The scopes of ``wanted`` the connection was not granted."""
    granted = set(row.scopes)
    return [scope for scope in wanted if scope not in granted]
