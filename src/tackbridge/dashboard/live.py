"""Live pages: server-sent events (sse-starlette) telling an open page that what it shows has
changed, so its script fetches the page again and swaps the parts marked ``data-live``.

What a page shows is summed up in a *stamp* (a short hash of the rows it depends on). A page
is rendered with its stamp; its stream starts from that stamp (``?since=``), so a change made
between the render and the stream's start is not missed. The stream looks again whenever this
process's writer commits (``CommitFeed``; at most one look per ``GAP``) and at least every
``POLL`` (a worker in another process writes too), and says ``changed`` when the stamp moves.
A stream ends after ``LIFETIME`` (the browser reconnects by itself), so a server shutting down
never waits long.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Connection, func, select
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from tackbridge.dashboard.access import access_of
from tackbridge.dashboard.auth import SignedIn, endpoint_user
from tackbridge.dashboard.templating import SECURITY_HEADERS
from tackbridge.jobstatus.push import PUSH_KIND
from tackbridge.services import Services, services
from tackbridge.store.schema import lead_status_history, leads, messages, outbox
from tackbridge.store.writer import Writer

__all__ = [
    "GAP",
    "INBOX_WINDOW",
    "LIFETIME",
    "POLL",
    "CommitFeed",
    "commit_feed",
    "inbox_stamp",
    "lead_stamp",
    "router",
]

GAP = 0.5
POLL = 2.0
LIFETIME = 60.0
RETRY_MS = 1000

router = APIRouter(prefix="/dashboard/events", include_in_schema=False)


def _hash(parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


#: The inbox's stamp looks at the newest leads only (an index walk, not a table scan); a change
#: to an older lead reaches an open inbox with its next periodic refresh (dashboard.js).
INBOX_WINDOW = 500


def inbox_stamp(conn: Connection, businesses_in: Collection[str] | None) -> str:
    """Changes when a lead arrives, or one of the newest is updated or answered (among
    ``businesses_in``)."""
    newest = select(leads.c.id, leads.c.updated_at, leads.c.first_reply_at)
    if businesses_in is not None:
        newest = newest.where(leads.c.business_id.in_(sorted(businesses_in)))
    window = newest.order_by(leads.c.id.desc()).limit(INBOX_WINDOW).subquery()
    query = select(
        func.count(),
        func.max(window.c.id),
        func.max(window.c.updated_at),
        func.max(window.c.first_reply_at),
    )
    return _hash(tuple(conn.execute(query).one()))


def lead_stamp(conn: Connection, lead_id: str) -> str:
    """Changes with the lead's row, its messages and their delivery states, its timeline."""
    lead = conn.execute(
        select(
            leads.c.updated_at, leads.c.job_status, leads.c.first_reply_at, leads.c.status
        ).where(leads.c.lead_id == lead_id)
    ).first()
    thread = conn.execute(
        select(messages.c.id, messages.c.delivery_state)
        .where(messages.c.lead_id == lead_id)
        .order_by(messages.c.id)
    ).all()
    history = conn.execute(
        select(func.count(), func.max(lead_status_history.c.id)).where(
            lead_status_history.c.lead_id == lead_id
        )
    ).one()
    # The timeline shows whether each job status reached Thumbtack: its push job's state.
    # A range of the unique key's index (LIKE would scan the whole outbox).
    prefix = f"{PUSH_KIND.name}:{lead_id}:"
    pushes = conn.execute(
        select(outbox.c.id, outbox.c.state)
        .where(
            outbox.c.idempotency_key >= prefix,
            outbox.c.idempotency_key < prefix[:-1] + chr(ord(prefix[-1]) + 1),
        )
        .order_by(outbox.c.id)
    ).all()
    return _hash(
        (
            tuple(lead) if lead else None,
            [tuple(r) for r in thread],
            tuple(history),
            [tuple(r) for r in pushes],
        )
    )


class CommitFeed:
    """Wakes the process's open streams when its writer commits (the writer calls back from
    its own thread; each stream waits on an asyncio event of its own loop)."""

    def __init__(self, writer: Writer) -> None:
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        writer.add_listener(self._committed)

    def _committed(self) -> None:
        with self._lock:
            waiting = list(self._waiting)
        for loop, event in waiting:
            with contextlib.suppress(RuntimeError):  # a loop that has closed
                loop.call_soon_threadsafe(event.set)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Event]:
        """An event set by every commit from now on, until the block ends."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._waiting.discard(entry)


def commit_feed(services_: Services) -> CommitFeed:
    return services_.shared("dashboard.commit_feed", lambda: CommitFeed(services_.writer))


async def _changes(
    request: Request, stamp: Callable[[Connection], str], since: str | None
) -> AsyncIterator[ServerSentEvent]:
    svc = services(request)

    def look() -> str:
        with svc.db.reader.connect() as conn:
            return stamp(conn)

    with commit_feed(svc).subscribe() as committed:
        last = since or await run_in_threadpool(look)
        yield ServerSentEvent(data=last, event="ready", retry=RETRY_MS)
        ends = time.monotonic() + LIFETIME
        while time.monotonic() < ends:
            # A client that goes away cancels this generator (sse-starlette listens for it).
            with anyio.move_on_after(POLL):
                await committed.wait()
            # A busy store commits many times a second: one look per GAP at most.
            await anyio.sleep(GAP)
            committed.clear()
            current = await run_in_threadpool(look)
            if current != last:
                last = current
                yield ServerSentEvent(data=current, event="changed")


def _stream(request: Request, stamp: Callable[[Connection], str], since: str | None) -> Any:
    return EventSourceResponse(
        _changes(request, stamp, since),
        ping=15,
        headers={k: v for k, v in SECURITY_HEADERS.items() if k != "Cache-Control"},
    )


Since = Annotated[str | None, Query(max_length=64)]


@router.get("/inbox")
async def inbox_events(
    request: Request, user: Annotated[SignedIn, Depends(endpoint_user)], since: Since = None
) -> Any:
    scope = access_of(user).businesses
    return _stream(request, lambda conn: inbox_stamp(conn, scope), since)


@router.get("/leads/{lead_id}")
async def lead_events(
    request: Request,
    lead_id: str,
    user: Annotated[SignedIn, Depends(endpoint_user)],
    since: Since = None,
) -> Any:
    access = access_of(user)
    with services(request).db.reader.connect() as conn:
        access.require_lead(conn, lead_id)
    return _stream(request, lambda conn: lead_stamp(conn, lead_id), since)
