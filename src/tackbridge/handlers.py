"""Every outbox job kind this service runs, and its handler: assembled from each capability's
own handlers, for the worker inside ``tackbridge serve`` and for ``tackbridge worker``.

| kinds | capability |
|---|---|
| ``message.received``, ``lead.updated``, ``review.received`` (and ``lead.received`` queued by
earlier versions) | followups |
| ``autoreply.plan``, ``autoreply.send`` | autoreply |
| ``crm.lead``, ``crm.message``, ``crm.lead_update``, ``crm.review``, ``crm.event`` | crm |
| ``thumbtack.message``, ``thumbtack.job_status``, ``thumbtack.targeting`` | delivery |
| ``connection.purge``, ``connection.register_webhook`` | connections |
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx2

from tackbridge.autoreply.jobs import PLAN_KIND, SEND_KIND, AutoReplyJobs
from tackbridge.connections.crypto import load_box
from tackbridge.conversations.replies import REPLY_KIND
from tackbridge.crm.jobs import CrmJobs, Destinations
from tackbridge.delivery.outbound import (
    Outbound,
    OutboundSettings,
    ShardedTransport,
    open_outbound,
    outbound_handlers,
)
from tackbridge.delivery.worker import Handler
from tackbridge.followups import Followups
from tackbridge.runtime import Runtime
from tackbridge.settings import Settings


def outbound_settings(settings: Settings) -> OutboundSettings:
    return OutboundSettings(
        thumbtack_environment=settings.thumbtack_environment,
        thumbtack_base_url=settings.thumbtack_base_url,
        thumbtack_api_username=settings.thumbtack_api_username,
        thumbtack_api_password=settings.thumbtack_api_password,
    )


@dataclass
class JobHandlers:
    """The handlers, and the network clients they share (closed with ``aclose``)."""

    handlers: dict[str, Handler]
    outbound: Outbound
    http: httpx2.AsyncClient
    # Claimed first when due: the automatic first reply, from its plan to Thumbtack.
    first_kinds: frozenset[str] = frozenset({PLAN_KIND, SEND_KIND, REPLY_KIND})
    _closed: bool = field(default=False, repr=False)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self.outbound.aclose()
            await self.http.aclose()


def open_handlers(runtime: Runtime, *, outbound: Outbound | None = None) -> JobHandlers:
    settings = runtime.settings
    outbound = outbound or open_outbound(outbound_settings(settings), tokens=runtime.tokens)
    # The CRM's calls get small connection pools too (see ShardedTransport): with hundreds of
    # jobs in flight one pool would grow to scan and probe ~100 sockets on every request.
    http = httpx2.AsyncClient(timeout=30.0, transport=ShardedTransport())
    wake = runtime.wake_worker
    handlers: dict[str, Handler] = {}
    handlers.update(Followups(runtime.writer, wake=wake).handlers())
    handlers.update(AutoReplyJobs(settings, runtime.db, runtime.writer, wake=wake).handlers())
    handlers.update(
        CrmJobs(
            settings, runtime.db, runtime.writer, lambda: load_box(settings), Destinations(http)
        ).handlers()
    )
    handlers.update(outbound_handlers(outbound))
    if runtime.connections is not None:
        handlers.update(runtime.connections.handlers())
    return JobHandlers(handlers, outbound, http)
