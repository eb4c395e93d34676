"""Access tokens per business: read from the store, refreshed ahead of expiry, single-flight.

Single-flight on two levels. In a process, an ``asyncio.Lock`` per business lets one coroutine
refresh while the others wait and then read what it stored. Across processes, a refresh first
takes a lease on the row by compare-and-swap on ``token_version`` (``store.claim_refresh``) and
stores its answer only if it still holds that lease on that version; everyone else waits for
the version to move. A rotated refresh token is therefore spent once, and a holder whose lease
ran out can never overwrite or release what a newer holder did.

Refresh answers without a refresh token keep the stored one. ``invalid_grant`` is final only
after a second look at the store; then the connection becomes ``needs_reconnect``.

Several businesses of one account share one grant: their rows name the row holding the tokens
(``grant_of``), and everything here (reads, the lock, the lease, the refresh) happens on that
row, so one refresh serves them all. The grant handed out names the business asked for.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from tackbridge.connections import store
from tackbridge.core.clock import now as utc_now
from tackbridge.core.metrics import TOKEN_REFRESHES
from tackbridge.store.database import Database
from tackbridge.store.secrets import InvalidSecretError, MissingSecretKeyError, SecretBox
from tackbridge.store.writer import Writer
from tackbridge.thumbtack import InvalidGrantError, ThumbtackClient, TokenSet
from tackbridge.thumbtack.grants import Api, ConnectionUnavailableError, Grant

__all__ = [
    "TokenManager",
    "error_record",
    "seal_tokens",
]

log = logging.getLogger("tackbridge.connections")

#: How long a refresh token lives from its issue (api-notes.md); shown to operators only.
REFRESH_LIFETIME: dict[Api, timedelta] = {
    "legacy": timedelta(hours=720),
    "v4": timedelta(days=180),
}


def error_record(exc: BaseException, now: datetime, *, during: str) -> dict[str, Any]:
    """What ``last_error`` keeps: never a token (Thumbtack errors are scrubbed already)."""
    record: dict[str, Any] = {
        "at": now.isoformat(),
        "during": during,
        "error": type(exc).__name__,
        "detail": str(exc)[:500],
    }
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        record["status"] = status
    oauth_error = getattr(exc, "error", None)
    if isinstance(oauth_error, str):
        record["oauthError"] = oauth_error
    return record


def seal_tokens(box: SecretBox, answer: TokenSet, api: Api, now: datetime) -> store.SealedTokens:
    """A token answer, encrypted, with its expiries; a missing refresh token stays None."""
    refresh = answer.refresh_token
    return store.SealedTokens(
        access_token=box.seal(answer.access_token.get_secret_value()),
        refresh_token=None if refresh is None else box.seal(refresh.get_secret_value()),
        access_expires_at=(
            None if answer.expires_in is None else now + timedelta(seconds=answer.expires_in)
        ),
        refresh_expires_at=None if refresh is None else now + REFRESH_LIFETIME[api],
        scopes=answer.scope or None,
    )


class TokenManager:
    """Hands out each business's access token, refreshing it when it is about to expire.

    :param box_loader: returns the Fernet box; called lazily so a missing key only affects
        the businesses that need one.
    :param refresh_ahead: refresh when the access token expires within this long.
    :param lease: how long a refresh may hold the row before others may take over; shorter than
        v4's 60 s refresh grace, so a taker-over replays a crashed holder's answer.
    """

    def __init__(
        self,
        db: Database,
        writer: Writer,
        thumbtack: ThumbtackClient,
        box_loader: Callable[[], SecretBox],
        *,
        clock: Callable[[], datetime] = utc_now,
        refresh_ahead: timedelta = timedelta(minutes=5),
        lease: timedelta = timedelta(seconds=45),
        poll_seconds: float = 0.05,
    ) -> None:
        self._db = db
        self._writer = writer
        self._thumbtack = thumbtack
        self._box_loader = box_loader
        self._box: SecretBox | None = None
        self._clock = clock
        self._refresh_ahead = refresh_ahead
        self._lease = lease
        self._poll = poll_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._name = f"{socket.gethostname()[:24]}:{os.getpid()}"
        self.refreshes = 0  # refresh calls this manager made (for operators and tests)

    @property
    def thumbtack(self) -> ThumbtackClient:
        return self._thumbtack

    def box(self) -> SecretBox:
        if self._box is None:
            self._box = self._box_loader()
        return self._box

    # ------------------------------------------------------------------ public surface

    async def access_token(self, business_id: str) -> Grant:
        """The business's access token, refreshed first if it expires soon."""
        row = self._usable(business_id, await self._read(business_id))
        if not self._expires_within(row, self._refresh_ahead):
            return _named(self._grant(row), business_id)
        try:
            return _named(await self._refresh(row.business_id, row.token_version), business_id)
        except ConnectionUnavailableError:
            raise
        except Exception:
            # Refreshing early failed for now; the token we have still works for a while.
            if not self._expires_within(row, timedelta(0)):
                log.warning("early token refresh for business %s failed", business_id)
                return _named(self._grant(row), business_id)
            raise

    async def refreshed_after_401(self, business_id: str, rejected: str) -> Grant:
        """Thumbtack refused ``rejected``: refresh once, unless someone already replaced it."""
        row = self._usable(business_id, await self._read(business_id))
        current = self._grant(row)
        if current.access_token != rejected:
            return _named(current, business_id)
        return _named(await self._refresh(row.business_id, row.token_version), business_id)

    async def scopes(self, business_id: str) -> tuple[str, ...]:
        """The scopes of the grant serving the business (as Thumbtack answered, else asked)."""
        row = await self._read(business_id)
        return () if row is None else row.scopes

    async def stored(self, business_id: str) -> store.ConnectionRow | None:
        """The business's own connection row as stored (tokens sealed)."""
        return await asyncio.to_thread(self._read_own, business_id)

    # ------------------------------------------------------------------ refresh

    async def _refresh(self, business_id: str, version: int) -> Grant:
        """Move the tokens past ``version``: by refreshing, or by waiting for whoever is."""
        lock = self._locks.setdefault(business_id, asyncio.Lock())
        async with lock:
            owner = f"{self._name}:{uuid.uuid4().hex[:8]}"
            while True:
                row = self._usable(business_id, await self._read(business_id))
                if row.token_version != version:
                    return self._grant(row)
                if await self._claim(business_id, version, owner):
                    # Shielded: a caller that gives up must not abandon a spent refresh token
                    # before its successor is stored.
                    return await asyncio.shield(self._spend(row, owner))
                await asyncio.sleep(self._poll)

    async def _claim(self, business_id: str, version: int, owner: str) -> bool:
        now = self._clock()
        return await self._writer.run(
            lambda conn: store.claim_refresh(
                conn, business_id, version=version, owner=owner, now=now, lease=self._lease
            )
        )

    async def _spend(self, row: store.ConnectionRow, owner: str) -> Grant:
        try:
            grant = await self._spend_once(row, owner)
        except ConnectionUnavailableError:
            TOKEN_REFRESHES.labels("revoked").inc()
            raise
        except Exception:
            TOKEN_REFRESHES.labels("failed").inc()
            raise
        TOKEN_REFRESHES.labels("refreshed").inc()
        return grant

    async def _spend_once(self, row: store.ConnectionRow, owner: str) -> Grant:
        business_id, version = row.business_id, row.token_version
        if row.refresh_token is None:
            raise await self._give_up(
                row, owner, ConnectionUnavailableError("the connection has no refresh token")
            )
        spent = self._open(row.refresh_token)
        try:
            answer = await self._call_refresh(row.api, spent)
        except InvalidGrantError as exc:
            # Possibly a lost race with a process that ignored the lease: look again first.
            fresh = await self._read(business_id)
            if fresh is not None and fresh.state == "active" and fresh.token_version != version:
                return self._grant(fresh)
            stored = None if fresh is None or fresh.refresh_token is None else fresh.refresh_token
            if stored is None or self._open(stored) == spent:
                raise await self._give_up(row, owner, exc) from None
            try:
                answer = await self._call_refresh(row.api, self._open(stored))
            except InvalidGrantError as again:
                raise await self._give_up(row, owner, again) from None
            except Exception as failure:
                await self._release(business_id, owner, failure)
                raise
        except Exception as exc:
            await self._release(business_id, owner, exc)
            raise
        now = self._clock()
        sealed = seal_tokens(self.box(), answer, row.api, now)
        stored_it = await self._writer.run(
            lambda conn: store.save_refreshed(
                conn, business_id, version=version, owner=owner, tokens=sealed, now=now
            )
        )
        if not stored_it:
            log.warning("refresh lease on business %s was taken over mid-refresh", business_id)
        return Grant(business_id, row.api, answer.access_token.get_secret_value())

    async def _call_refresh(self, api: Api, refresh_token: str) -> TokenSet:
        self.refreshes += 1
        if api == "legacy":
            return await self._thumbtack.legacy.refresh_token(refresh_token)
        return await self._thumbtack.oauth.refresh(refresh_token)

    async def _give_up(
        self, row: store.ConnectionRow, owner: str, exc: BaseException
    ) -> ConnectionUnavailableError:
        now = self._clock()
        error = error_record(exc, now, during="refresh")
        await self._writer.run(
            lambda conn: store.mark_needs_reconnect(
                conn,
                row.business_id,
                version=row.token_version,
                owner=owner,
                error=error,
                now=now,
            )
        )
        log.warning(
            "business %s needs to reconnect: token refresh failed for good (%s)",
            row.business_id,
            error["error"],
        )
        return ConnectionUnavailableError(
            f"business {row.business_id} must reconnect: the token refresh failed for good"
        )

    async def _release(self, business_id: str, owner: str, exc: BaseException) -> None:
        now = self._clock()
        error = error_record(exc, now, during="refresh")
        await self._writer.run(
            lambda conn: store.release_refresh(conn, business_id, owner=owner, error=error, now=now)
        )

    # ------------------------------------------------------------------ helpers

    async def _read(self, business_id: str) -> store.ConnectionRow | None:
        return await asyncio.to_thread(self._read_now, business_id)

    def _read_now(self, business_id: str) -> store.ConnectionRow | None:
        """The row holding the business's tokens: its own, or the one its grant is of. A
        business that is itself disconnected or waiting for the pro is that row."""
        with self._db.reader.connect() as conn:
            row = _load(conn, business_id)
            if row is None or row.grant_of is None or row.state != "active":
                return row
            holder = _load(conn, row.grant_of)
            return row if holder is None else holder

    def _read_own(self, business_id: str) -> store.ConnectionRow | None:
        with self._db.reader.connect() as conn:
            return _load(conn, business_id)

    def _usable(self, business_id: str, row: store.ConnectionRow | None) -> store.ConnectionRow:
        if row is None:
            raise ConnectionUnavailableError(f"business {business_id} is not connected")
        if row.state != "active" or row.access_token is None:
            raise ConnectionUnavailableError(f"business {business_id} is {row.state}")
        return row

    def _expires_within(self, row: store.ConnectionRow, margin: timedelta) -> bool:
        if row.access_expires_at is None:
            return False
        return row.access_expires_at - margin <= self._clock()

    def _grant(self, row: store.ConnectionRow) -> Grant:
        assert row.access_token is not None
        return Grant(row.business_id, row.api, self._open(row.access_token))

    def _open(self, sealed: str) -> str:
        try:
            box = self.box()
        except MissingSecretKeyError as exc:
            raise ConnectionUnavailableError(str(exc)) from None
        try:
            return box.open(sealed)
        except InvalidSecretError:
            raise ConnectionUnavailableError(
                "a stored token cannot be decrypted: was TACKBRIDGE_SECRET_KEY changed?"
            ) from None


def _load(conn: Connection, business_id: str) -> store.ConnectionRow | None:
    return store.load(conn, business_id)


def _named(grant: Grant, business_id: str) -> Grant:
    return grant if grant.business_id == business_id else replace(grant, business_id=business_id)
