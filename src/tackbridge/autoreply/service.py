"""The outbox jobs of the automatic first reply.

``autoreply.plan`` runs as soon as a lead is stored: it picks the business's rule and renders the
reply. A reply due now is queued at once (one ``thumbtack.message`` job, the same path as a
pro's reply); a delayed one becomes an ``autoreply.send`` job due at its time, which checks once
more that nobody has answered meanwhile. The reply's message ID is derived from the lead, so a
lead gets one automatic reply however often these jobs run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from tackbridge.autoreply.rules import RuleSetError, choose_reply
from tackbridge.autoreply.store import rules_for
from tackbridge.conversations.replies import queue_reply
from tackbridge.core.clock import now as utc_now
from tackbridge.leads.rows import read_lead_input
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import FIRST, Job, JobKind, Payload, Registration
from tackbridge.outbox.queue import enqueue
from tackbridge.services import Services
from tackbridge.settings import Settings
from tackbridge.store.database import Database
from tackbridge.store.schema import messages
from tackbridge.store.writer import Writer

log = logging.getLogger("tackbridge.autoreply")

__all__ = [
    "PLAN",
    "PLAN_KIND",
    "SEND",
    "SEND_KIND",
    "AutoReplyJobs",
    "PlanJob",
    "SendJob",
    "already_replied",
    "reply_id",
]


class PlanJob(Payload):
    leadID: str


class SendJob(Payload):
    leadID: str
    text: str
    rule: str | None = None


# Both on the reply path, claimed first: the customer is waiting.
PLAN_KIND = JobKind.of(
    "autoreply.plan", PlanJob, lambda p: f"autoreply.plan:{p.leadID}", priority=FIRST
)
SEND_KIND = JobKind.of(
    "autoreply.send", SendJob, lambda p: f"autoreply.send:{p.leadID}", priority=FIRST
)
# A reply due within this is sent now rather than scheduled.
_NOW_WINDOW = timedelta(seconds=1)


def reply_id(lead_id: str) -> str:
    return f"auto-{lead_id}"


def already_replied(conn: Connection, lead_id: str) -> bool:
    """Whether the business has answered: through tackbridge, or in Thumbtack's own app."""
    found = conn.execute(_REPLIED, {"lead_id": lead_id, "own": reply_id(lead_id)}).first()
    return found is not None


# Built once: every lead's auto-reply asks it, twice.
_REPLIED = (
    select(messages.c.id)
    .where(
        messages.c.lead_id == bindparam("lead_id"),
        messages.c.sender == "Business",
        messages.c.message_id != bindparam("own"),
    )
    .limit(1)
)


@dataclass
class AutoReplyJobs:
    settings: Settings
    db: Database
    writer: Writer
    wake: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] = utc_now

    async def plan(self, job: Job[PlanJob]) -> None:
        lead_id = job.payload.leadID
        now = self.clock()
        with self.db.reader.connect() as conn:
            lead = read_lead_input(conn, lead_id)
            if lead is None:
                raise PermanentError(f"lead {lead_id} is not in the store")
            business_id = lead.business_id
            try:
                rules = rules_for(conn, business_id, self.settings)
            except (RuleSetError, ValueError) as exc:
                raise PermanentError(f"auto-reply rules of {business_id}: {exc}") from None
            replied = already_replied(conn, lead_id)
        if rules is None:
            return
        planned = choose_reply(lead, rules, now, already_replied=replied)
        if planned is None:
            return
        payload = SendJob(leadID=lead_id, text=planned.text, rule=planned.rule)
        if planned.send_at - now <= _NOW_WINDOW:
            await self.writer.run(lambda conn: _queue(conn, lead_id, planned.text, now))
        else:
            send_at = planned.send_at
            await self.writer.run(lambda conn: _schedule(conn, payload, now, send_at))
        self.wake()

    async def send(self, job: Job[SendJob]) -> None:
        lead_id = job.payload.leadID
        text = job.payload.text
        now = self.clock()
        await self.writer.run(lambda conn: _queue(conn, lead_id, text, now))
        self.wake()


def _queue(conn: Connection, lead_id: str, text: str, now: datetime) -> bool:
    """Queue the automatic reply unless someone answered meanwhile; True if queued."""
    if already_replied(conn, lead_id):
        log.info("lead %s: the pro already replied; no automatic reply", lead_id)
        return False
    return queue_reply(
        conn, lead_id, text, now=now, author="auto", message_id=reply_id(lead_id)
    ).created


def _schedule(conn: Connection, payload: SendJob, now: datetime, send_at: datetime) -> None:
    enqueue(conn, SEND_KIND, payload, now=now, due=send_at)


def _jobs(services: Services) -> AutoReplyJobs:
    return services.shared(
        "autoreply.jobs",
        lambda: AutoReplyJobs(
            services.settings, services.db, services.writer, wake=services.wake_worker
        ),
    )


PLAN = Registration(PLAN_KIND, lambda services: _jobs(services).plan)
SEND = Registration(SEND_KIND, lambda services: _jobs(services).send)
