"""Replies to the customer: written to the lead's thread and queued as one outbox job in the same
transaction, then sent to the endpoint the business's connection calls for.

Routing: a v4 connection posts to ``/api/v4/negotiations/{id}/messages``; a legacy one to the v2
endpoint with its Bearer token; a business with no OAuth connection gets the v1 endpoint with the
partner's username/password. The message's ``delivery_state`` follows the job: ``queued``, then
``sent`` or ``failed`` in the very transaction that settles the job.

A worker killed after Thumbtack took a reply but before the job settled leaves it to be sent
again when the lease expires. On v4, a re-run first looks for the reply among the lead's
messages (same text, from the business, since the job was created) and settles it without
sending; the legacy API offers no way to look, so there a crash in that window can repeat it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from tackbridge.core.clock import utc
from tackbridge.outbox.errors import PermanentError, RetryableError
from tackbridge.outbox.kinds import FIRST, Job, JobKind, Payload, Registration
from tackbridge.outbox.queue import enqueue
from tackbridge.outbox.thumbtack import call_with_refresh, classify
from tackbridge.services import Services
from tackbridge.store.schema import leads, messages
from tackbridge.thumbtack import ThumbtackClient
from tackbridge.thumbtack.errors import ForbiddenError, ThumbtackError
from tackbridge.thumbtack.grants import ConnectionUnavailableError, Grant, GrantSource

__all__ = [
    "AUTHORS",
    "MAX_TEXT",
    "REPLY",
    "REPLY_KIND",
    "LeadNotFoundError",
    "QueuedReply",
    "ReplyHandler",
    "ReplyJob",
    "queue_reply",
]


class ReplyJob(Payload):
    messageID: str
    leadID: str
    businessID: str | None = None
    leadSource: str | None = None
    text: str


# Claimed first: it is what the customer is waiting for.
REPLY_KIND = JobKind.of(
    "thumbtack.message",
    ReplyJob,
    lambda p: f"thumbtack.message:{p.leadID}:{p.messageID}",
    priority=FIRST,
)
AUTHORS = ("person", "auto")
MAX_TEXT = 10_000
# Clocks differ: look a little before the job's creation for a reply that already arrived.
_LOOKBACK = timedelta(minutes=5)


# Built once: settling runs once per reply in the worker's hot path.
# A reply's ID is ours, but another lead's message may carry the same: a reply is its lead's.
_SETTLE = update(messages).where(
    messages.c.message_id == bindparam("key_message_id"),
    messages.c.lead_id == bindparam("key_lead_id"),
    messages.c.source == "reply",
)


# Built once too: every automatic reply is queued through these.
_LEAD = select(leads.c.lead_id, leads.c.business_id, leads.c.customer_id, leads.c.source).where(
    leads.c.lead_id == bindparam("lead_id")
)
_REPLY_EXISTS = select(messages.c.id).where(
    messages.c.message_id == bindparam("message_id"),
    messages.c.lead_id == bindparam("lead_id"),
    messages.c.source == "reply",
)
_REPLY_INSERT = messages.insert()


class LeadNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class QueuedReply:
    message_id: str
    job_key: str
    created: bool


def queue_reply(
    conn: Connection,
    lead_id: str,
    text: str,
    *,
    now: datetime,
    author: str = "person",
    message_id: str | None = None,
) -> QueuedReply:
    """Store the reply (``queued``) and its send job; raises LeadNotFoundError.

    ``message_id`` makes a retried request (same ID) a no-op instead of a second reply.
    """
    lead = conn.execute(_LEAD, {"lead_id": lead_id}).first()
    if lead is None:
        raise LeadNotFoundError(lead_id)
    message_id = message_id or f"reply-{uuid.uuid4().hex}"
    job = ReplyJob(
        messageID=message_id,
        leadID=lead.lead_id,
        businessID=lead.business_id,
        leadSource=lead.source,
        text=text,
    )
    key = REPLY_KIND.key_of(job)
    exists = conn.execute(
        _REPLY_EXISTS, {"message_id": message_id, "lead_id": lead.lead_id}
    ).first()
    if exists is not None:
        return QueuedReply(message_id, key, created=False)
    conn.execute(
        _REPLY_INSERT,
        {
            "message_id": message_id,
            "lead_id": lead.lead_id,
            "business_id": lead.business_id,
            "customer_id": lead.customer_id,
            "sender": "Business",
            "text": text,
            "source": "reply",
            "delivery_state": "queued",
            "author": author,
            "sent_at": None,
            "received_at": now,
        },
    )
    enqueue(conn, REPLY_KIND, job, now=now)
    return QueuedReply(message_id, key, created=True)


def requeued(conn: Connection, job: ReplyJob) -> None:
    """An operator retried or replayed the job: the reply is queued again."""
    conn.execute(
        update(messages)
        .where(
            messages.c.message_id == job.messageID,
            messages.c.lead_id == job.leadID,
            messages.c.source == "reply",
        )
        .values(delivery_state="queued")
    )


class ReplyHandler:
    """Sends one reply."""

    def __init__(
        self, thumbtack: ThumbtackClient, grants: GrantSource | None, *, has_v1: bool
    ) -> None:
        self.thumbtack = thumbtack
        self.grants = grants
        self.has_v1 = has_v1

    async def __call__(self, job: Job[ReplyJob]) -> None:
        payload = job.payload
        lead_id = payload.leadID
        text = payload.text
        business_id = payload.businessID
        if not business_id:
            raise PermanentError(f"lead {lead_id} has no business: nowhere to send a reply")
        grant = await self._grant(business_id)
        thumbtack = self.thumbtack
        if grant is None:
            try:
                await thumbtack.legacy.send_message_v1(business_id, lead_id, text)
            except ThumbtackError as exc:
                raise classify(exc) from None
            return
        grants = self.grants
        assert grants is not None
        if grant.api == "v4":
            if job.attempt > 1 and await self._already_sent(grant, job, lead_id, text):
                return

            async def v4(g: Grant) -> None:
                await thumbtack.v4.send_message(lead_id, text, token=g.access_token)

            await call_with_refresh(grants, grant, v4)
        else:

            async def v2(g: Grant) -> None:
                await thumbtack.legacy.send_message(
                    business_id, lead_id, text, token=g.access_token
                )

            await call_with_refresh(grants, grant, v2)

    async def _grant(self, business_id: str) -> Grant | None:
        """The business's grant, or None to send with v1 Basic."""
        if self.grants is not None:
            try:
                return await self.grants.access_token(business_id)
            except ConnectionUnavailableError as exc:
                if not self.has_v1:
                    raise RetryableError(
                        f"business {business_id} has no usable connection ({exc}) and no v1 "
                        "credentials are configured"
                    ) from None
                return None
        if not self.has_v1:
            raise RetryableError(
                f"business {business_id} has no connection and no v1 credentials are configured"
            )
        return None

    async def _already_sent(
        self, grant: Grant, job: Job[ReplyJob], lead_id: str, text: str
    ) -> bool:
        """Did an earlier attempt of this job get through? Looked up in the lead's messages."""
        grants = self.grants
        assert grants is not None
        since = utc(job.created_at) - _LOOKBACK

        async def look(g: Grant) -> bool:
            page = await self.thumbtack.v4.list_messages(
                lead_id, limit=20, sent_after=since, token=g.access_token
            )
            return any(m.sender == "Business" and m.text == text for m in page.data)

        try:
            return await call_with_refresh(grants, grant, look)
        except PermanentError as exc:
            if exc.status_code == 403:  # no messages.read scope: cannot look, send
                return False
            raise
        except ForbiddenError:
            return False


def settle_reply(conn: Connection, job: Job[ReplyJob], outcome: str, at: datetime) -> None:
    """The message's delivery state follows its job, in the transaction that settles it."""
    params: dict[str, Any] = {
        "key_message_id": job.payload.messageID,
        "key_lead_id": job.payload.leadID,
    }
    if outcome == "done":
        params.update(delivery_state="sent", sent_at=at)
    else:
        params.update(delivery_state="failed")
    conn.execute(_SETTLE, params)


def _handler(services: Services) -> ReplyHandler:
    return ReplyHandler(services.thumbtack, services.grants, has_v1=services.has_v1)


REPLY = Registration(REPLY_KIND, _handler, settle=settle_reply, on_requeue=requeued)
