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

from tackbridge.delivery.errors import PermanentError, RetryableError
from tackbridge.delivery.grants import Grant, is_unavailable, with_refresh
from tackbridge.delivery.outbound import Outbound
from tackbridge.delivery.outbox import enqueue
from tackbridge.delivery.thumbtack_errors import classify
from tackbridge.delivery.worker import Job
from tackbridge.leads.views import utc
from tackbridge.store.schema import leads, messages
from tackbridge.thumbtack.errors import ForbiddenError, ThumbtackError

REPLY_KIND = "thumbtack.message"
AUTHORS = ("person", "auto")
MAX_TEXT = 10_000
# Clocks differ: look a little before the job's creation for a reply that already arrived.
_LOOKBACK = timedelta(minutes=5)


# Built once: settling runs once per reply in the worker's hot path.
_SETTLE = update(messages).where(messages.c.message_id == bindparam("key_message_id"))


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
    lead = conn.execute(
        select(leads.c.lead_id, leads.c.business_id, leads.c.customer_id, leads.c.source).where(
            leads.c.lead_id == lead_id
        )
    ).first()
    if lead is None:
        raise LeadNotFoundError(lead_id)
    message_id = message_id or f"reply-{uuid.uuid4().hex}"
    key = f"{REPLY_KIND}:{message_id}"
    exists = conn.execute(select(messages.c.id).where(messages.c.message_id == message_id)).first()
    if exists is not None:
        return QueuedReply(message_id, key, created=False)
    conn.execute(
        messages.insert().values(
            message_id=message_id,
            lead_id=lead.lead_id,
            business_id=lead.business_id,
            customer_id=lead.customer_id,
            sender="Business",
            text=text,
            source="reply",
            delivery_state="queued",
            author=author,
            sent_at=None,
            received_at=now,
        )
    )
    enqueue(
        conn,
        kind=REPLY_KIND,
        key=key,
        payload={
            "messageID": message_id,
            "leadID": lead.lead_id,
            "businessID": lead.business_id,
            "leadSource": lead.source,
            "text": text,
        },
        now=now,
    )
    return QueuedReply(message_id, key, created=True)


def requeued(conn: Connection, payload: dict[str, Any]) -> None:
    """An operator retried or replayed the job: the reply is queued again."""
    conn.execute(
        update(messages)
        .where(messages.c.message_id == payload.get("messageID"))
        .values(delivery_state="queued")
    )


class ReplyHandler:
    """Sends one reply; ``settle`` records its fate on the message."""

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    async def __call__(self, job: Job) -> None:
        payload = job.payload
        lead_id = str(payload["leadID"])
        text = str(payload["text"])
        business_id = payload.get("businessID")
        if not business_id:
            raise PermanentError(f"lead {lead_id} has no business: nowhere to send a reply")
        grant = await self._grant(str(business_id))
        thumbtack = self.outbound.thumbtack
        if grant is None:
            try:
                await thumbtack.legacy.send_message_v1(business_id, lead_id, text)
            except ThumbtackError as exc:
                raise classify(exc) from None
            return
        tokens = self.outbound.tokens
        assert tokens is not None
        if grant.api == "v4":
            if job.attempt > 1 and await self._already_sent(grant, job, lead_id, text):
                return

            async def v4(g: Grant) -> None:
                await thumbtack.v4.send_message(lead_id, text, token=g.access_token)

            await with_refresh(tokens, grant, v4)
        else:

            async def v2(g: Grant) -> None:
                await thumbtack.legacy.send_message(
                    business_id, lead_id, text, token=g.access_token
                )

            await with_refresh(tokens, grant, v2)

    async def _grant(self, business_id: str) -> Grant | None:
        """The business's grant, or None to send with v1 Basic."""
        tokens = self.outbound.tokens
        if tokens is not None:
            try:
                return await tokens.access_token(business_id)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                if not self.outbound.has_v1:
                    raise RetryableError(
                        f"business {business_id} has no usable connection ({exc}) and no v1 "
                        "credentials are configured"
                    ) from None
                return None
        if not self.outbound.has_v1:
            raise RetryableError(
                f"business {business_id} has no connection and no v1 credentials are configured"
            )
        return None

    async def _already_sent(self, grant: Grant, job: Job, lead_id: str, text: str) -> bool:
        """Did an earlier attempt of this job get through? Looked up in the lead's messages."""
        tokens = self.outbound.tokens
        assert tokens is not None
        since = utc(job.created_at) - _LOOKBACK

        async def look(g: Grant) -> bool:
            page = await self.outbound.thumbtack.v4.list_messages(
                lead_id, limit=20, sent_after=since, token=g.access_token
            )
            return any(m.sender == "Business" and m.text == text for m in page.data)

        try:
            return await with_refresh(tokens, grant, look)
        except PermanentError as exc:
            if exc.status_code == 403:  # no messages.read scope: cannot look, send
                return False
            raise
        except ForbiddenError:
            return False

    def settle(self, conn: Connection, job: Job, outcome: str, at: datetime) -> None:
        message_id = job.payload.get("messageID")
        params: dict[str, Any] = {"key_message_id": message_id}
        if outcome == "done":
            params.update(delivery_state="sent", sent_at=at)
        else:
            params.update(delivery_state="failed")
        conn.execute(_SETTLE, params)
        if outcome == "done" and message_id:
            _sent(conn, str(message_id), str(job.payload["leadID"]), at)


def _sent(conn: Connection, message_id: str, lead_id: str, at: datetime) -> None:
    """A reply reached the customer: it may be the lead's first, and it belongs in the CRM."""
    from tackbridge.crm.jobs import MESSAGE_KIND
    from tackbridge.insights.first_reply import stamp_first_reply

    author = conn.execute(select(messages.c.author).where(messages.c.message_id == message_id))
    stamp_first_reply(conn, lead_id, at, author.scalar() or "person")
    enqueue(
        conn,
        kind=MESSAGE_KIND,
        key=f"{MESSAGE_KIND}:{message_id}",
        payload={"messageID": message_id},
        now=at,
    )
