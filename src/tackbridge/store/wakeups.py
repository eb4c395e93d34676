"""Wake-ups across processes: a committed enqueue tells every listening worker at once.

On PostgreSQL ``enqueue`` adds a ``pg_notify`` to its transaction (once per transaction, however
many jobs it queues); the server delivers it when, and only if, that transaction commits. A
worker listens on a connection of its own (``listen``), outside the pool, and falls back on its
poll interval while that connection is down. SQLite has no such channel: a worker in another
process sees new jobs at its next poll; one in the same process is woken directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

__all__ = ["OUTBOX_CHANNEL", "listen", "notify_outbox"]

log = logging.getLogger("tackbridge.store")

OUTBOX_CHANNEL = "tackbridge_outbox"
_NOTIFY = text(f"SELECT pg_notify('{OUTBOX_CHANNEL}', '')")
# Where a connection notes the transaction that has notified already (``Connection.info`` is
# the pooled connection's: it outlives the transaction, hence the identity check).
_NOTIFIED = "tackbridge.notified"


def notify_outbox(conn: Connection) -> None:
    """Tell listening workers, when ``conn``'s transaction commits, that jobs were queued."""
    if conn.dialect.name != "postgresql":
        return
    transaction = conn.get_transaction()
    if transaction is not None and conn.info.get(_NOTIFIED) is transaction:
        return
    conn.execute(_NOTIFY)
    conn.info[_NOTIFIED] = transaction


def conninfo(url: str) -> str:
    """libpq's spelling of a SQLAlchemy PostgreSQL URL (its driver name dropped)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(
    url: str,
    wake: Callable[[], None],
    *,
    retry_seconds: float = 0.5,
    retry_cap_seconds: float = 30.0,
    on_listening: Callable[[bool], None] | None = None,
) -> None:
    """Call ``wake`` on every outbox notification until cancelled; reconnect with a bounded
    backoff when the connection drops. ``wake`` is also called each time listening (re)starts:
    what was queued while nobody listened is then claimed without waiting for a poll."""
    delay = retry_seconds
    failures = 0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo(url), autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                if failures:
                    log.warning("outbox wake-ups: listening again after %d failure(s)", failures)
                failures, delay = 0, retry_seconds
                if on_listening is not None:
                    on_listening(True)
                wake()
                async for _ in conn.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            if on_listening is not None:
                on_listening(False)
            if failures == 1:
                # The password is never in the message: psycopg names host and port only.
                log.warning(
                    "outbox wake-ups: not listening (%s: %s); polling until it is back",
                    type(exc).__name__,
                    exc,
                )
            await asyncio.sleep(delay)
            delay = min(retry_cap_seconds, delay * 2)
