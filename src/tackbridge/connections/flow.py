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
from tackbridge.connections.config import Api, scopes_for
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
    "disconnect",
    "finish",
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


@dataclass(frozen=True)
class Disconnected:
    business_id: str
    already: bool
    purge_at: datetime | None
    remote_error: dict[str, Any] | None


async def start(
    service: Connections, *, api: Api, scopes: Sequence[str] | None, redirect_uri: str
) -> str:
    """A fresh authorize URL for ``api``; its state is stored before the URL is handed out."""
    box = service.tokens.box()
    chosen = scopes_for(api, scopes)
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
            business_id, business_name, granted = await _v4_business(service, answer)
        else:
            answer = await service.thumbtack.legacy.exchange_code(
                code, redirect_uri=record.redirect_uri
            )
            info = await service.thumbtack.legacy.get_thumbtack_info(token=answer.access_token)
            business_id, business_name = info.business_pk, info.business_name
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
    sealed = seal_tokens(box, answer, record.api, now)
    api = record.api

    def save(conn: Connection) -> int:
        version = store.save_connected(
            conn,
            business_id=business_id,
            business_name=business_name,
            api=api,
            scopes=tuple(scopes),
            tokens=sealed,
            now=now,
        )
        if api == "v4":
            job = RegisterWebhookJob(business_id=business_id, version=version)
            enqueue(conn, REGISTER_WEBHOOK_KIND, job, now=now)
        return version

    await service.writer.run(save)
    service.wake_worker()
    return Connected(business_id, business_name, api, tuple(scopes))


async def _v4_business(
    service: Connections, answer: TokenSet
) -> tuple[str, str | None, tuple[str, ...]]:
    page = await service.thumbtack.v4.list_businesses(token=answer.access_token)
    if not page.data:
        raise ConnectError(
            502, "no-business", "Thumbtack lists no business for the account that connected"
        )
    # A connection is one business: tokens rotate, so several rows could not share them.
    business = page.data[0]
    return business.businessID, business.name, answer.scope


async def disconnect(service: Connections, business_id: str) -> Disconnected:
    """Tell Thumbtack, forget the tokens, schedule the purge; a second call changes nothing."""
    row = await service.tokens.stored(business_id)
    if row is None:
        raise ConnectError(404, "not-connected", f"business {business_id} has no connection")
    if row.state == "disconnected":
        return Disconnected(business_id, True, None, None)
    remote_error: dict[str, Any] | None = None
    try:
        await _tell_thumbtack(service, row)
    except ThumbtackError as exc:
        # The pro asked to leave: the tokens go either way; the failure is kept for operators.
        remote_error = error_record(exc, service.clock(), during="disconnect")
    now = service.clock()
    purge_at = now + timedelta(days=service.settings.purge_delay_days)
    job = PurgeJob(business_id=business_id, disconnected_at=now.isoformat())

    def save(conn: Connection) -> None:
        store.save_disconnected(conn, business_id, error=remote_error, now=now)
        enqueue(conn, PURGE_KIND, job, now=now, due=purge_at)

    await service.writer.run(save)
    return Disconnected(business_id, False, purge_at, remote_error)


async def _tell_thumbtack(service: Connections, row: store.ConnectionRow) -> None:
    box = service.tokens.box()
    if row.api == "legacy":
        await service.thumbtack.legacy.disconnect(row.business_id)
        return
    if row.webhook_id and row.access_token:
        with contextlib.suppress(NotFoundError):
            await service.thumbtack.v4.delete_webhook(
                row.business_id, row.webhook_id, token=box.open(row.access_token)
            )
    if row.refresh_token:
        # A 404: revocation is not offered, and deleting our copy is all we can do.
        with contextlib.suppress(NotFoundError):
            await service.thumbtack.oauth.revoke(box.open(row.refresh_token))
