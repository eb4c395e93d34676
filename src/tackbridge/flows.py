"""Reactions that cross features: what a stored record or a finished job sets in motion.

- A new lead, in the transaction that stores it: its automatic first reply (``autoreply``) and
  its delivery to the business's destination (``crm``), independent of each other, so a slow
  or failing CRM never delays the customer's first reply; no job in between (one hop less).
- A new message, lead update or review: the front door queues one job each; their handlers
  here fan it out. A message goes to the destination, and a pro's own reply typed in
  Thumbtack's app counts as the lead's first reply (``insights``). ``lead.received`` jobs
  queued by earlier versions are still fanned out.
- A reply sent through tackbridge (its job settles ``done``): the lead's first reply is stamped
  and the message goes to the destination, in the settling transaction.
- A Coperniq automation event: which lead it is about (``crm``'s records), which job status it
  means (``jobstatus.from_crm``), then the push to Thumbtack (``jobstatus.push``).

The registry (``tackbridge.registry``) takes ``REGISTRATIONS`` and ``SETTLE_REACTIONS`` from
here; the runtime passes ``REACTIONS`` to the front door.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from tackbridge.autoreply.service import PLAN_KIND, PlanJob
from tackbridge.autoreply.store import replies_to_leads
from tackbridge.connections.store import disabled_among, is_enabled
from tackbridge.conversations.replies import REPLY_KIND, ReplyJob
from tackbridge.core.clock import now as utc_now
from tackbridge.core.clock import utc
from tackbridge.crm import store as crm_store
from tackbridge.crm.destinations import DestinationRegistry, destination_types
from tackbridge.crm.handlers import (
    CRM_LEAD_KIND,
    CRM_LEAD_UPDATE_KIND,
    CRM_REVIEW_KIND,
    crm_jobs,
    queue_message,
)
from tackbridge.inbound.kinds import (
    COPERNIQ_EVENT,
    LEAD_RECEIVED,
    LEAD_UPDATED,
    MESSAGE_RECEIVED,
    REVIEW_RECEIVED,
    CoperniqEventRef,
)
from tackbridge.inbound.reactions import QueueOwnJobs, Reactions
from tackbridge.insights.first_reply import stamp_first_reply
from tackbridge.jobstatus import push as job_status
from tackbridge.jobstatus.from_crm import (
    ALL_RECORD_TYPES,
    DEFAULT_STATUS_MAPPING,
    job_status_change,
    needs_opportunity,
    record_type_of,
)
from tackbridge.jobstatus.rules import InvalidJobStatusError, validate
from tackbridge.leads.refs import LeadRef, LeadUpdateRef, MessageRef, ReviewRef
from tackbridge.leads.rows import message_row
from tackbridge.leads.service import business_of, businesses_of
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import Job, JobKind, Registration, Settle
from tackbridge.outbox.queue import enqueue, enqueue_many
from tackbridge.payloads.coperniq import CoperniqEventError, RecordType
from tackbridge.services import Services
from tackbridge.settings import Settings
from tackbridge.store import business_settings
from tackbridge.store.database import Database
from tackbridge.store.schema import leads
from tackbridge.store.writer import Writer

__all__ = [
    "REACTIONS",
    "REGISTRATIONS",
    "SETTLE_REACTIONS",
    "CoperniqEvents",
    "FollowupPolicy",
    "Followups",
    "NewLeadReactions",
    "into_crm",
    "lead_followups",
    "reactions",
    "reply_sent",
]

log = logging.getLogger("tackbridge.flows")


def _acted_on(conn: Connection, lead_id: str | None) -> bool:
    """False for a lead of a business an operator disabled: stored, but it starts nothing."""
    business_id = None if lead_id is None else business_of(conn, lead_id)
    return business_id is None or is_enabled(conn, business_id)


@dataclass(frozen=True)
class FollowupPolicy:
    """Which of a new lead's follow-ups its business's configuration gives anything to do: no
    ``autoreply.plan`` job without auto-reply rules, no ``crm.lead`` job for the ``none``
    destination. Decided when the lead is stored (a business configured later gets its later
    leads followed up); a job that cannot do anything is never queued nor claimed."""

    settings: Settings
    types: DestinationRegistry

    def wanted(self, conn: Connection, business_id: str | None) -> tuple[bool, bool]:
        """(auto-reply, CRM) for a lead of ``business_id``."""
        row = business_settings.get(conn, business_id) if business_id else None
        return self.wanted_by_row(row)

    def wanted_by_row(self, row: Any) -> tuple[bool, bool]:
        """``wanted`` for a business whose settings row is ``row`` (None: it has none)."""
        return (
            replies_to_leads(row, self.settings),
            crm_store.has_destination(row, self.settings, self.types),
        )


def lead_followups(
    conn: Connection, lead_id: str, now: datetime, policy: FollowupPolicy | None = None
) -> None:
    """Queue what a new lead starts (nothing for a disabled business's lead); with ``policy``,
    only the follow-ups the business's configuration gives something to do."""
    business_id = business_of(conn, lead_id)
    if business_id is not None and not is_enabled(conn, business_id):
        return
    reply, crm = policy.wanted(conn, business_id) if policy is not None else (True, True)
    # The reply first: it is what the customer is waiting for.
    if reply:
        enqueue(conn, PLAN_KIND, PlanJob(leadID=lead_id), now=now)
    if crm:
        enqueue(conn, CRM_LEAD_KIND, LeadRef(leadID=lead_id), now=now)


def into_crm(conn: Connection, lead_id: str | None, now: datetime) -> None:
    """Activity on a stored lead brings it to the CRM if it never went there: a lead stored
    while its business was disabled started nothing, and once the business is enabled again a
    message, update or review of it would otherwise wait for a CRM record nobody creates. Only
    the CRM delivery: an automatic first reply that late is not sent. A no-op for a lead
    already queued (the key), and for one not stored yet (its own arrival queues it)."""
    if lead_id is not None and conn.execute(_STORED, {"lead_id": lead_id}).first():
        enqueue(conn, CRM_LEAD_KIND, LeadRef(leadID=lead_id), now=now)


_STORED = select(leads.c.id).where(leads.c.lead_id == bindparam("lead_id"))


@dataclass(frozen=True)
class NewLeadReactions(QueueOwnJobs):
    """The front door's reactions: a new lead's follow-ups at once, the rest fanned out."""

    policy: FollowupPolicy | None = None

    def lead_stored(self, conn: Connection, lead: LeadRef, now: datetime) -> None:
        lead_followups(conn, lead.leadID, now, self.policy)

    def leads_stored(
        self,
        conn: Connection,
        stored: Sequence[tuple[LeadRef, datetime]],
        businesses: Mapping[str, str | None] | None = None,
    ) -> int:
        """``lead_followups`` for a batch of new leads: each look-up and the enqueue once; how
        many jobs it queued (none: nothing for the worker to claim). ``businesses``: each
        lead's business as just stored, when the caller has it (else it is looked up)."""
        business = (
            businesses
            if businesses is not None
            else businesses_of(conn, [lead.leadID for lead, _ in stored])
        )
        ids = {b for b in business.values() if b is not None}
        disabled = disabled_among(conn, ids)
        rows = business_settings.get_many(conn, ids) if self.policy is not None else {}
        jobs: list[tuple[JobKind[Any], Any, datetime]] = []
        for lead, now in stored:
            business_id = business.get(lead.leadID)
            if business_id in disabled:
                continue
            reply, crm = (
                self.policy.wanted_by_row(rows.get(business_id) if business_id else None)
                if self.policy is not None
                else (True, True)
            )
            if reply:
                jobs.append((PLAN_KIND, PlanJob(leadID=lead.leadID), now))
            if crm:
                jobs.append((CRM_LEAD_KIND, LeadRef(leadID=lead.leadID), now))
        enqueue_many(conn, jobs)
        return len(jobs)


REACTIONS: Reactions = NewLeadReactions()
"""Every follow-up of a new lead, whatever its business's configuration (tools, tests)."""


def reactions(services: Services) -> Reactions:
    """The process's front-door reactions: a new lead's follow-ups as its configuration asks."""
    return services.shared(
        "flows.reactions",
        lambda: NewLeadReactions(FollowupPolicy(services.settings, destination_types(services))),
    )


@dataclass
class Followups:
    """The fan-out of the front door's own jobs."""

    writer: Writer
    wake: Callable[[], None] = lambda: None
    clock: Callable[[], datetime] = utc_now

    async def _run(self, unit: Callable[[Connection], object]) -> None:
        await self.writer.run(unit)
        self.wake()

    async def lead_received(self, job: Job[LeadRef]) -> None:
        lead_id, now = job.payload.leadID, self.clock()
        await self._run(lambda conn: lead_followups(conn, lead_id, now))

    async def message_received(self, job: Job[MessageRef]) -> None:
        ref = job.payload
        now = self.clock()

        def unit(conn: Connection) -> None:
            row = message_row(conn, ref)
            if row is not None and not _acted_on(conn, row.lead_id):
                return
            if row is not None and row.sender == "Business" and row.lead_id:
                stamp_first_reply(conn, row.lead_id, utc(row.sent_at) or now, "person")
            lead_id = row.lead_id if row is not None else ref.leadID
            into_crm(conn, lead_id, now)
            crm = MessageRef(messageID=ref.messageID, leadID=lead_id)
            queue_message(conn, crm, now)

        await self._run(unit)

    async def lead_updated(self, job: Job[LeadUpdateRef]) -> None:
        update = job.payload
        if update.updateID is None:  # queued before the payload carried it: it is in the key
            update = update.model_copy(update={"updateID": int(job.key.rsplit(":", 1)[1])})
        now = self.clock()

        def unit(conn: Connection) -> None:
            if _acted_on(conn, update.leadID):
                into_crm(conn, update.leadID, now)
                enqueue(conn, CRM_LEAD_UPDATE_KIND, update, now=now)

        await self._run(unit)

    async def review_received(self, job: Job[ReviewRef]) -> None:
        review = ReviewRef(reviewID=job.payload.reviewID)
        lead_id = job.payload.leadID
        now = self.clock()

        def unit(conn: Connection) -> None:
            if _acted_on(conn, lead_id):
                into_crm(conn, lead_id, now)
                enqueue(conn, CRM_REVIEW_KIND, review, now=now)

        await self._run(unit)


def reply_sent(conn: Connection, job: Job[ReplyJob], outcome: str, at: datetime) -> None:
    """A reply reached the customer: it may be the lead's first, and it belongs in the CRM."""
    if outcome != "done":
        return
    ref = MessageRef(messageID=job.payload.messageID, leadID=job.payload.leadID)
    row = message_row(conn, ref)
    stamp_first_reply(conn, job.payload.leadID, at, (row.author if row else None) or "person")
    queue_message(conn, ref, at)


@dataclass
class CoperniqEvents:
    """A Coperniq automation event: which lead, which job status, then record the push."""

    services: Services
    clock: Callable[[], datetime] = utc_now

    @property
    def db(self) -> Database:
        return self.services.db

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        with self.db.reader.connect() as conn:
            return fn(conn)

    async def __call__(self, job: Job[CoperniqEventRef]) -> None:
        writer = self.services.writer
        row_id = job.payload.eventRowID
        row = self._read(lambda conn: crm_store.get_event(conn, row_id))
        if row is None:
            raise PermanentError(f"automation event {row_id} is not in the store")
        payload = row.payload
        try:
            # An opportunity's or a project's (their IDs are told apart by the type).
            record_type = record_type_of(payload) or "opportunity"
        except CoperniqEventError as exc:
            raise PermanentError(f"automation event {row.event_id}: {exc}") from None
        lead_id = (
            self._read(lambda conn: crm_store.lead_of_record(conn, str(row.record_id), record_type))
            if row.record_id
            else None
        )
        opportunity = None
        try:
            # Projects too: a business may have its leads become projects.
            if needs_opportunity(payload, DEFAULT_STATUS_MAPPING, record_types=ALL_RECORD_TYPES):
                opportunity = await self._opportunity(lead_id, row.record_id, record_type)
            change = job_status_change(
                payload, DEFAULT_STATUS_MAPPING, opportunity, record_types=ALL_RECORD_TYPES
            )
        except CoperniqEventError as exc:
            raise PermanentError(f"automation event {row.event_id}: {exc}") from None
        if change is None:
            await writer.run(lambda conn: crm_store.settle_event(conn, row_id, "ignored"))
            return
        lead_id = lead_id or change.lead_id
        if lead_id is None:
            log.info("automation event %s: no lead for record %s", row.event_id, row.record_id)
            await writer.run(lambda conn: crm_store.settle_event(conn, row_id, "unmatched"))
            return
        try:
            checked = validate(
                lead_id,
                change.status.value,
                invoice_amount_cents=change.invoice_amount_cents,
                changed_at=change.changed_at,
                now=self.clock(),
            )
        except InvalidJobStatusError as exc:
            raise PermanentError(f"automation event {row.event_id}: {exc.detail}") from None
        now = self.clock()
        found_lead = lead_id

        def apply(conn: Connection) -> None:
            try:
                job_status.record_change(conn, checked, now=now)
            except job_status.LeadNotFoundError:
                crm_store.settle_event(conn, row_id, "unmatched", lead_id=found_lead)
                return
            crm_store.settle_event(
                conn, row_id, "applied", lead_id=found_lead, job_status=checked.status
            )

        await writer.run(apply)
        self.services.wake_worker()

    async def _opportunity(
        self, lead_id: str | None, record_id: str | None, record_type: RecordType
    ) -> Any:
        if record_id is None or not record_id.isdigit():
            return None
        business = self._read(lambda conn: business_of(conn, lead_id)) if lead_id else None
        client = crm_jobs(self.services).opportunity_client(business)
        if client is None:
            return None
        return await client.get_opportunity(int(record_id), record_type=record_type)


def _followups(services: Services) -> Followups:
    return services.shared(
        "flows.followups", lambda: Followups(services.writer, wake=services.wake_worker)
    )


REGISTRATIONS: tuple[Registration[Any], ...] = (
    Registration(LEAD_RECEIVED, lambda services: _followups(services).lead_received),
    Registration(MESSAGE_RECEIVED, lambda services: _followups(services).message_received),
    Registration(LEAD_UPDATED, lambda services: _followups(services).lead_updated),
    Registration(REVIEW_RECEIVED, lambda services: _followups(services).review_received),
    Registration(COPERNIQ_EVENT, CoperniqEvents),
)

SETTLE_REACTIONS: tuple[tuple[JobKind[Any], Settle[Any]], ...] = ((REPLY_KIND, reply_sent),)
