"""What each stored record sets in motion, once it is committed.

A new lead's jobs are enqueued by the front door in the transaction that stores it
(``lead_followups``): its automatic first reply and its delivery to the business's destination,
independent of each other, so that a slow or failing CRM never delays the customer's first reply,
and without a job in between (one lead, one hop less on the way to its reply).

For the other records the front door enqueues one job each (``message.received``,
``lead.updated``, ``review.received``), and these handlers fan it out: a message, lead update or
review goes to the destination; a pro's own reply typed in Thumbtack's app counts as the lead's
first reply. ``lead.received`` jobs queued by earlier versions are still fanned out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from tackbridge.autoreply.jobs import PLAN_KIND
from tackbridge.crm.jobs import LEAD_KIND, LEAD_UPDATE_KIND, MESSAGE_KIND, REVIEW_KIND
from tackbridge.delivery.outbox import enqueue
from tackbridge.delivery.worker import Handler, Job
from tackbridge.insights.first_reply import stamp_first_reply
from tackbridge.leads.views import utc
from tackbridge.store.schema import messages
from tackbridge.store.writer import Writer


def _now() -> datetime:
    return datetime.now(UTC)


def lead_followups(lead_id: str) -> list[tuple[str, str, dict[str, object]]]:
    """The jobs a new lead starts: (kind, idempotency key, payload)."""
    return [
        # The reply first: it is what the customer is waiting for.
        (PLAN_KIND, f"{PLAN_KIND}:{lead_id}", {"leadID": lead_id}),
        (LEAD_KIND, f"{LEAD_KIND}:{lead_id}", {"leadID": lead_id}),
    ]


@dataclass
class Followups:
    writer: Writer
    wake: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] = _now

    def handlers(self) -> dict[str, Handler]:
        return {
            "lead.received": self.lead_received,
            "message.received": self.message_received,
            "lead.updated": self.lead_updated,
            "review.received": self.review_received,
        }

    async def _fan_out(self, jobs: list[tuple[str, str, dict[str, object]]]) -> None:
        now = self.clock()

        def unit(conn: Connection) -> None:
            for kind, key, payload in jobs:
                enqueue(conn, kind=kind, key=key, payload=dict(payload), now=now)

        await self.writer.run(unit)
        self.wake()

    async def lead_received(self, job: Job) -> None:
        await self._fan_out(lead_followups(str(job.payload["leadID"])))

    async def message_received(self, job: Job) -> None:
        message_id = str(job.payload["messageID"])
        now = self.clock()

        def unit(conn: Connection) -> None:
            row = conn.execute(
                select(messages.c.lead_id, messages.c.sender, messages.c.sent_at).where(
                    messages.c.message_id == message_id
                )
            ).first()
            if row is not None and row.sender == "Business" and row.lead_id:
                stamp_first_reply(conn, row.lead_id, utc(row.sent_at) or now, "person")
            enqueue(
                conn,
                kind=MESSAGE_KIND,
                key=f"{MESSAGE_KIND}:{message_id}",
                payload={"messageID": message_id},
                now=now,
            )

        await self.writer.run(unit)
        self.wake()

    async def lead_updated(self, job: Job) -> None:
        await self._fan_out([(LEAD_UPDATE_KIND, f"crm.{job.key}", dict(job.payload))])

    async def review_received(self, job: Job) -> None:
        review_id = str(job.payload["reviewID"])
        await self._fan_out([(REVIEW_KIND, f"{REVIEW_KIND}:{review_id}", {"reviewID": review_id})])
