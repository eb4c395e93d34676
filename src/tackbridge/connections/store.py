"""Rows of ``connections`` and ``oauth_states`` to and from domain objects, and the small write
units (functions of a connection, run through the group-commit writer) that change them.

Token columns hold Fernet tokens (see :mod:`tackbridge.store.secrets`); this module never
sees plaintext. Every unit that changes tokens is a compare-and-swap on ``token_version`` and,
for refreshes, on ``refresh_owner``: that is what makes refresh single-flight across processes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Connection, bindparam, or_, select, update
from sqlalchemy.engine import RowMapping

from tackbridge.core.clock import utc
from tackbridge.store.schema import connections, oauth_states
from tackbridge.store.upsert import insert_ignore

__all__ = [
    "ConnectionRow",
    "OAuthState",
    "SealedTokens",
    "State",
    "claim_refresh",
    "consume_state",
    "disabled_among",
    "is_enabled",
    "load",
    "load_all",
    "mark_needs_reconnect",
    "members_of",
    "release_refresh",
    "save_connected",
    "save_disconnected",
    "save_refreshed",
    "save_state",
    "set_enabled",
    "set_webhook",
]

State = Literal["active", "needs_reconnect", "disconnected"]


@dataclass(frozen=True)
class ConnectionRow:
    business_id: str
    business_name: str | None
    api: Literal["legacy", "v4"]
    state: State
    scopes: tuple[str, ...]
    access_token: str | None  # sealed
    refresh_token: str | None  # sealed
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    token_version: int
    refresh_started_at: datetime | None
    refresh_owner: str | None
    webhook_id: str | None
    last_error: dict[str, Any] | None
    connected_at: datetime
    updated_at: datetime
    disconnected_at: datetime | None
    webhook_error: str | None = None
    enabled: bool = True
    grant_of: str | None = None  # the business whose row holds this one's tokens

    @classmethod
    def from_row(cls, row: RowMapping) -> ConnectionRow:
        return cls(
            business_id=row["business_id"],
            business_name=row["business_name"],
            api=cast(Literal["legacy", "v4"], row["api"]),
            state=cast(State, row["state"]),
            scopes=tuple(row["scopes"] or ()),
            access_token=row["access_token"],
            refresh_token=row["refresh_token"],
            access_expires_at=utc(row["access_expires_at"]),
            refresh_expires_at=utc(row["refresh_expires_at"]),
            token_version=int(row["token_version"]),
            refresh_started_at=utc(row["refresh_started_at"]),
            refresh_owner=row["refresh_owner"],
            webhook_id=row["webhook_id"],
            last_error=row["last_error"],
            connected_at=cast(datetime, utc(row["connected_at"])),
            updated_at=cast(datetime, utc(row["updated_at"])),
            disconnected_at=utc(row["disconnected_at"]),
            webhook_error=row["webhook_error"],
            enabled=bool(row["enabled"]),
            grant_of=row["grant_of"],
        )


def load(conn: Connection, business_id: str) -> ConnectionRow | None:
    row = (
        conn.execute(select(connections).where(connections.c.business_id == business_id))
        .mappings()
        .first()
    )
    return None if row is None else ConnectionRow.from_row(row)


def load_all(conn: Connection) -> list[ConnectionRow]:
    rows = conn.execute(select(connections).order_by(connections.c.id)).mappings().all()
    return [ConnectionRow.from_row(row) for row in rows]


def members_of(conn: Connection, holder: str) -> list[ConnectionRow]:
    """The other businesses served by ``holder``'s grant, active or not."""
    rows = (
        conn.execute(
            select(connections).where(connections.c.grant_of == holder).order_by(connections.c.id)
        )
        .mappings()
        .all()
    )
    return [ConnectionRow.from_row(row) for row in rows]


# Built once: asked for every new lead.
_ENABLED = select(connections.c.enabled).where(
    connections.c.business_id == bindparam("business_id")
)
_DISABLED_AMONG = select(connections.c.business_id).where(
    connections.c.business_id.in_(bindparam("ids", expanding=True)),
    connections.c.enabled.is_(False),
)


def is_enabled(conn: Connection, business_id: str) -> bool:
    """False only for a business an operator disabled: one without a connection (v1 Basic, a
    test delivery) is acted on as before."""
    enabled = conn.execute(_ENABLED, {"business_id": business_id}).scalar_one_or_none()
    return enabled is None or bool(enabled)


def disabled_among(conn: Connection, business_ids: Collection[str]) -> set[str]:
    """Those of ``business_ids`` an operator disabled (``is_enabled`` for many at once)."""
    if not business_ids:
        return set()
    return set(conn.execute(_DISABLED_AMONG, {"ids": list(business_ids)}).scalars())


def set_enabled(conn: Connection, business_id: str, enabled: bool, now: datetime) -> bool:
    done = conn.execute(
        update(connections)
        .where(connections.c.business_id == business_id)
        .values(enabled=enabled, updated_at=now)
    )
    return done.rowcount == 1


# ---------------------------------------------------------------------------- oauth states


@dataclass(frozen=True)
class OAuthState:
    state: str
    api: Literal["legacy", "v4"]
    scopes: tuple[str, ...]
    code_verifier: str | None  # sealed
    redirect_uri: str
    expires_at: datetime
    business_id: str | None = None  # named by the operator


def save_state(conn: Connection, state: OAuthState, now: datetime) -> None:
    conn.execute(
        oauth_states.insert().values(
            state=state.state,
            api=state.api,
            scopes=list(state.scopes),
            code_verifier=state.code_verifier,
            redirect_uri=state.redirect_uri,
            business_id=state.business_id,
            created_at=now,
            expires_at=state.expires_at,
        )
    )
    # Old states are of no use to anyone: dropping them here keeps the table small.
    conn.execute(oauth_states.delete().where(oauth_states.c.expires_at < now - timedelta(days=1)))


def consume_state(conn: Connection, state: str, now: datetime) -> OAuthState | None:
    """The state, marked used, if it exists, is unused and has not expired; else None."""
    used = conn.execute(
        update(oauth_states)
        .where(
            oauth_states.c.state == state,
            oauth_states.c.used_at.is_(None),
            oauth_states.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        return None
    row = conn.execute(select(oauth_states).where(oauth_states.c.state == state)).mappings().one()
    return OAuthState(
        state=row["state"],
        api=cast(Literal["legacy", "v4"], row["api"]),
        scopes=tuple(row["scopes"] or ()),
        code_verifier=row["code_verifier"],
        redirect_uri=row["redirect_uri"],
        expires_at=cast(datetime, utc(row["expires_at"])),
        business_id=row["business_id"],
    )


# ---------------------------------------------------------------------------- connections


@dataclass(frozen=True)
class SealedTokens:
    access_token: str
    refresh_token: str | None  # None: keep the stored one
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    scopes: tuple[str, ...] | None = None  # None: keep the stored ones


def save_connected(
    conn: Connection,
    *,
    business_id: str,
    business_name: str | None,
    api: Literal["legacy", "v4"],
    scopes: tuple[str, ...],
    tokens: SealedTokens | None,
    now: datetime,
    grant_of: str | None = None,
) -> int:
    """Create or replace the business's connection as active; returns its token version.

    The version moves on, so a refresh in flight for the previous tokens cannot overwrite these.
    A business served by another's grant (``grant_of``) keeps no tokens of its own. Whether the
    business is enabled survives a reconnect.
    """
    values: dict[str, Any] = {
        "business_name": business_name,
        "api": api,
        "state": "active",
        "scopes": list(scopes),
        "access_token": None if tokens is None else tokens.access_token,
        "refresh_token": None if tokens is None else tokens.refresh_token,
        "access_expires_at": None if tokens is None else tokens.access_expires_at,
        "refresh_expires_at": None if tokens is None else tokens.refresh_expires_at,
        "grant_of": grant_of,
        "webhook_error": None,
        "refresh_started_at": None,
        "refresh_owner": None,
        "last_error": None,
        "connected_at": now,
        "updated_at": now,
        "disconnected_at": None,
    }
    inserted = insert_ignore(
        conn,
        connections,
        {"business_id": business_id, "token_version": 1, "webhook_id": None, **values},
        ["business_id"],
    )
    if inserted:
        return 1
    conn.execute(
        update(connections)
        .where(connections.c.business_id == business_id)
        .values(token_version=connections.c.token_version + 1, **values)
    )
    version = conn.execute(
        select(connections.c.token_version).where(connections.c.business_id == business_id)
    ).scalar_one()
    return int(version)


def claim_refresh(
    conn: Connection,
    business_id: str,
    *,
    version: int,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> bool:
    """Take the refresh lease for ``version``: free, or held by someone whose lease ran out."""
    claimed = conn.execute(
        update(connections)
        .where(
            connections.c.business_id == business_id,
            connections.c.state == "active",
            connections.c.token_version == version,
            or_(
                connections.c.refresh_owner.is_(None),
                connections.c.refresh_started_at.is_(None),
                connections.c.refresh_started_at < now - lease,
            ),
        )
        .values(refresh_owner=owner, refresh_started_at=now)
    )
    return claimed.rowcount == 1


def _owned(business_id: str, version: int, owner: str) -> Any:
    return (
        (connections.c.business_id == business_id)
        & (connections.c.token_version == version)
        & (connections.c.refresh_owner == owner)
    )


def save_refreshed(
    conn: Connection,
    business_id: str,
    *,
    version: int,
    owner: str,
    tokens: SealedTokens,
    now: datetime,
) -> bool:
    """Store a refresh's answer if this owner still holds the lease on ``version``."""
    values: dict[str, Any] = {
        "access_token": tokens.access_token,
        "access_expires_at": tokens.access_expires_at,
        "token_version": version + 1,
        "refresh_owner": None,
        "refresh_started_at": None,
        "last_error": None,
        "updated_at": now,
    }
    if tokens.refresh_token is not None:
        # A refresh answer without a refresh token keeps the stored one (and its expiry).
        values["refresh_token"] = tokens.refresh_token
        values["refresh_expires_at"] = tokens.refresh_expires_at
    if tokens.scopes:
        values["scopes"] = list(tokens.scopes)
    done = conn.execute(
        update(connections).where(_owned(business_id, version, owner)).values(**values)
    )
    return done.rowcount == 1


def release_refresh(
    conn: Connection, business_id: str, *, owner: str, error: dict[str, Any], now: datetime
) -> None:
    """Give the lease back after a failure worth retrying; only its holder may."""
    conn.execute(
        update(connections)
        .where(connections.c.business_id == business_id, connections.c.refresh_owner == owner)
        .values(refresh_owner=None, refresh_started_at=None, last_error=error, updated_at=now)
    )


def mark_needs_reconnect(
    conn: Connection,
    business_id: str,
    *,
    version: int,
    owner: str | None,
    error: dict[str, Any],
    now: datetime,
) -> bool:
    """The tokens are dead for good: the pro has to connect again."""
    where = (connections.c.business_id == business_id) & (connections.c.token_version == version)
    if owner is not None:
        where = where & (connections.c.refresh_owner == owner)
    done = conn.execute(
        update(connections)
        .where(where, connections.c.state == "active")
        .values(
            state="needs_reconnect",
            refresh_owner=None,
            refresh_started_at=None,
            last_error=error,
            updated_at=now,
        )
    )
    return done.rowcount == 1


def save_disconnected(
    conn: Connection, business_id: str, *, error: dict[str, Any] | None, now: datetime
) -> bool:
    """Forget the tokens and mark the connection disconnected; False if there is none."""
    done = conn.execute(
        update(connections)
        .where(connections.c.business_id == business_id)
        .values(
            state="disconnected",
            access_token=None,
            refresh_token=None,
            access_expires_at=None,
            refresh_expires_at=None,
            token_version=connections.c.token_version + 1,
            refresh_owner=None,
            refresh_started_at=None,
            webhook_id=None,
            last_error=error,
            updated_at=now,
            disconnected_at=now,
        )
    )
    return done.rowcount == 1


def set_webhook(
    conn: Connection,
    business_id: str,
    webhook_id: str | None,
    error: dict[str, Any] | None,
    *,
    webhook_error: str | None = None,
) -> None:
    """Our webhook on the business (None: none), and why not when it could not be registered."""
    values: dict[str, Any] = {"webhook_id": webhook_id, "webhook_error": webhook_error}
    if error is not None:
        values["last_error"] = error
    conn.execute(
        update(connections)
        .where(connections.c.business_id == business_id, connections.c.state == "active")
        .values(**values)
    )
