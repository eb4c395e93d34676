"""Connecting and disconnecting a business: the OAuth round trip and what follows it.

``start`` remembers a random single-use ``state`` (with the PKCE verifier, sealed) and returns
the authorize URL; ``finish`` checks the state, trades the code for tokens at once (a legacy
code lives 5 minutes), asks Thumbtack which business connected, and stores the connection in
the same transaction as its follow-up job (webhook registration, v4). ``disconnect`` tells
Thumbtack, forgets the tokens and schedules the purge of the business's data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from tackbridge.connections import store
from tackbridge.connections.config import BUSINESSES_SCOPE, Api, scopes_for
from tackbridge.connections.kinds import (
    PURGE_KIND,
    REGISTER_WEBHOOK_KIND,
    PurgeJob,
    RegisterWebhookJob,
)
from tackbridge.connections.service import Connections
from tackbridge.connections.tokens import error_record, seal_tokens
from tackbridge.outbox.queue import enqueue
from tackbridge.thumbtack import (
    InvalidGrantError,
    MissingScopeError,
    NotFoundError,
    ThumbtackConfigError,
    ThumbtackError,
    TokenSet,
    generate_state,
)

__all__ = [
    "STATE_TTL",
    "ConnectError",
    "Connected",
    "Disconnected",
    "Toggled",
    "disconnect",
    "finish",
    "set_enabled",
    "start",
]

#: How long a pro has between opening the connect link and coming back.
STATE_TTL = timedelta(minutes=15)


class ConnectError(Exception):
    """Something the operator or the pro can act on; becomes a problem answer."""

    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail


@dataclass(frozen=True)
class Connected:
    business_id: str
    business_name: str | None
    api: Api
    scopes: tuple[str, ...]
    # Every business the grant serves, the first holding the tokens: (ID, name).
    businesses: tuple[tuple[str, str | None], ...] = ()
    # Scopes asked for and not granted: the features that need them say so per business.
    missing_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Toggled:
    business_id: str
    enabled: bool
    changed: bool


@dataclass(frozen=True)
class Disconnected:
    business_id: str
    already: bool
    purge_at: datetime | None
    remote_error: dict[str, Any] | None


async def start(
    service: Connections,
    *,
    api: Api,
    scopes: Sequence[str] | None,
    redirect_uri: str,
    business: str | None = None,
) -> str:
    """A fresh authorize URL for ``api``; its state is stored before the URL is handed out.

    ``business``: the business connecting, for a client that may not list the account's
    businesses (no ``supply::businesses.list``)."""
    box = service.tokens.box()
    chosen = scopes_for(api, scopes, service.settings)
    state = generate_state()
    verifier: str | None = None
    try:
        if api == "v4":
            request = service.thumbtack.oauth.authorization_request(
                redirect_uri=redirect_uri, scopes=chosen, state=state
            )
            url, chosen, verifier = request.url, request.scopes, request.code_verifier
        else:
            url = service.thumbtack.legacy.authorize_url(
                scopes=chosen, redirect_uri=redirect_uri, state=state
            )
    except ThumbtackConfigError as exc:
        raise ConnectError(
            503, "not-configured", f"{exc} (TACKBRIDGE_THUMBTACK_CLIENT_ID)"
        ) from None
    now = service.clock()
    record = store.OAuthState(
        state=state,
        api=api,
        scopes=chosen,
        code_verifier=None if verifier is None else box.seal(verifier),
        redirect_uri=redirect_uri,
        expires_at=now + STATE_TTL,
        business_id=business or None,
    )
    await service.writer.run(lambda conn: store.save_state(conn, record, now))
    return url


async def finish(
    service: Connections,
    *,
    state: str | None,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> Connected:
    """Complete the flow Thumbtack redirected back from."""
    if not state:
        raise ConnectError(
            400, "invalid-state", "the callback has no state: start connecting again"
        )
    now = service.clock()
    record = await service.writer.run(lambda conn: store.consume_state(conn, state, now))
    if record is None:
        raise ConnectError(
            400,
            "invalid-state",
            "unknown, expired or already used state: start connecting again",
        )
    if error:
        why = f": {error_description[:200]}" if error_description else ""
        raise ConnectError(400, "authorization-refused", f"Thumbtack answered {error[:64]}{why}")
    if not code:
        raise ConnectError(400, "missing-code", "the callback has no authorization code")
    box = service.tokens.box()
    try:
        if record.api == "v4":
            verifier = None if record.code_verifier is None else box.open(record.code_verifier)
            answer = await service.thumbtack.oauth.exchange_code(
                code, redirect_uri=record.redirect_uri, code_verifier=verifier
            )
            found, granted = await _v4_businesses(service, answer, record)
        else:
            answer = await service.thumbtack.legacy.exchange_code(
                code, redirect_uri=record.redirect_uri
            )
            info = await service.thumbtack.legacy.get_thumbtack_info(token=answer.access_token)
            found = ((info.business_pk, info.business_name),)
            granted = tuple(info.scope)
    except InvalidGrantError:
        raise ConnectError(
            400,
            "invalid-code",
            "Thumbtack refused the authorization code (expired or already used): connect again",
        ) from None
    except ThumbtackConfigError as exc:
        raise ConnectError(503, "not-configured", str(exc)) from None
    except ThumbtackError as exc:
        raise ConnectError(502, "thumbtack-failed", f"Thumbtack failed: {exc}"[:500]) from None
    scopes = answer.scope or granted or record.scopes
    missing = tuple(s for s in record.scopes if s not in scopes)
    sealed = seal_tokens(box, answer, record.api, now)
    api = record.api
    holder = found[0][0]

    def save(conn: Connection) -> None:
        # One grant for every business of the account: tokens rotate, so they live in one row
        # (the first business's), and the others name it.
        for business_id, business_name in found:
            mine = business_id == holder
            version = store.save_connected(
                conn,
                business_id=business_id,
                business_name=business_name,
                api=api,
                scopes=tuple(scopes),
                tokens=sealed if mine else None,
                now=now,
                grant_of=None if mine else holder,
            )
            if api == "v4":
                job = RegisterWebhookJob(business_id=business_id, version=version)
                enqueue(conn, REGISTER_WEBHOOK_KIND, job, now=now)

    await service.writer.run(save)
    service.wake_worker()
    return Connected(found[0][0], found[0][1], api, tuple(scopes), found, missing)


async def _v4_businesses(
    service: Connections, answer: TokenSet, record: store.OAuthState
) -> tuple[tuple[tuple[str, str | None], ...], tuple[str, ...]]:
    """Every business of the account that connected; without ``supply::businesses.list`` the
    one the operator named, else the one the token answer names."""
    granted = answer.scope or record.scopes
    supply = any(scope.startswith("supply::") for scope in granted)
    if BUSINESSES_SCOPE in granted or not supply:  # a demand client: its scope is undocumented
        try:
            page = await service.thumbtack.v4.list_businesses(token=answer.access_token)
        except MissingScopeError:
            pass
        else:
            if not page.data:
                raise ConnectError(
                    502, "no-business", "Thumbtack lists no business for the account that connected"
                )
            found = tuple(dict.fromkeys((b.businessID, b.name) for b in page.data))
            return found, answer.scope
    named = record.business_id or answer.business_id
    if named is None:
        raise ConnectError(
            400,
            "missing-scope",
            f"missing scope {BUSINESSES_SCOPE}: Thumbtack does not tell which business connected;"
            " name it (/connect/thumbtack?business=ID or tackbridge connect --business ID)",
        )
    return ((named, None),), answer.scope


async def set_enabled(service: Connections, business_id: str, enabled: bool) -> Toggled:
    """Enable or disable one business: its webhook is (re)registered or removed by the webhook
    job; a disabled business's deliveries are stored but start nothing."""
    row = await service.tokens.stored(business_id)
    if row is None:
        raise ConnectError(404, "not-connected", f"business {business_id} has no connection")
    now = service.clock()
    changed = row.enabled != enabled
    job = RegisterWebhookJob(
        business_id=business_id, version=row.token_version, toggle=int(now.timestamp() * 1e6)
    )

    def save(conn: Connection) -> None:
        store.set_enabled(conn, business_id, enabled, now)
        if row.api == "v4" and row.state == "active":
            enqueue(conn, REGISTER_WEBHOOK_KIND, job, now=now)

    await service.writer.run(save)
    service.wake_worker()
    return Toggled(business_id, enabled, changed)


async def disconnect(service: Connections, business_id: str) -> Disconnected:
    """Tell Thumbtack, forget the tokens, schedule the purge; a second call changes nothing.

    A grant serves every business of an account: disconnecting the business holding it revokes
    it, and so disconnects the others too; disconnecting another only removes its webhook."""
    row = await service.tokens.stored(business_id)
    if row is None:
        raise ConnectError(404, "not-connected", f"business {business_id} has no connection")
    if row.state == "disconnected":
        return Disconnected(business_id, True, None, None)
    leaving = [row]
    if row.grant_of is None:
        with service.db.reader.connect() as conn:
            members = store.members_of(conn, business_id)
        leaving += [member for member in members if member.state != "disconnected"]
    remote_error: dict[str, Any] | None = None
    try:
        await _tell_thumbtack(service, row, leaving)
    except ThumbtackError as exc:
        # The pro asked to leave: the tokens go either way; the failure is kept for operators.
        remote_error = error_record(exc, service.clock(), during="disconnect")
    now = service.clock()
    purge_at = now + timedelta(days=service.settings.purge_delay_days)

    def save(conn: Connection) -> None:
        for gone in leaving:
            job = PurgeJob(business_id=gone.business_id, disconnected_at=now.isoformat())
            store.save_disconnected(conn, gone.business_id, error=remote_error, now=now)
            enqueue(conn, PURGE_KIND, job, now=now, due=purge_at)

    await service.writer.run(save)
    return Disconnected(business_id, False, purge_at, remote_error)


async def _tell_thumbtack(
    service: Connections, row: store.ConnectionRow, leaving: list[store.ConnectionRow]
) -> None:
    box = service.tokens.box()
    if row.api == "legacy":
        await service.thumbtack.legacy.disconnect(row.business_id)
        return
    holder = row if row.grant_of is None else await service.tokens.stored(row.grant_of)
    access = None if holder is None else holder.access_token
    for gone in leaving:
        if gone.webhook_id and access:
            with contextlib.suppress(NotFoundError):
                await service.thumbtack.v4.delete_webhook(
                    gone.business_id, gone.webhook_id, token=box.open(access)
                )
    if row.grant_of is not None:
        return  # the grant stays: it serves the account's other businesses
    if row.refresh_token:
        # A 404: revocation is not offered, and deleting our copy is all we can do.
        with contextlib.suppress(NotFoundError):
            await service.thumbtack.oauth.revoke(box.open(row.refresh_token))
