"""The outbox jobs of the CRM side: a lead, a message (either direction), a lead update or a
review delivered to its business's destination.

Each handler reads what it needs from the store when it runs (the job carries only IDs), so a
retry after an outage sends the record as it is now. Errors from the destinations are already
``RetryableError``/``PermanentError``; a destination that cannot be built (a missing key) is
permanent until an operator fixes it and retries the job.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import Connection, bindparam, select, update

from tackbridge.core.clock import now as utc_now
from tackbridge.crm import store
from tackbridge.crm.coperniq_client import CoperniqClient
from tackbridge.crm.destination import Destination, DestinationConfig
from tackbridge.crm.destinations import DestinationRegistry, destination_types
from tackbridge.crm.destinations.coperniq import (
    COPERNIQ,
    CoperniqDestination,
    linked_record_type,
)
from tackbridge.crm.errors import NotReadyError
from tackbridge.leads.models import (
    LeadInput,
    LeadUpdated,
    MessageReceived,
    customer_name_of,
)
from tackbridge.leads.refs import LeadRef, LeadUpdateRef, MessageRef, ReviewRef, message_key
from tackbridge.leads.rows import read_lead_input, read_message, read_review
from tackbridge.leads.service import business_of
from tackbridge.outbox.errors import PermanentError
from tackbridge.outbox.kinds import Job, JobKind, Registration
from tackbridge.outbox.queue import enqueue
from tackbridge.services import Services
from tackbridge.settings import Settings
from tackbridge.store.database import Database
from tackbridge.store.schema import customers, leads, outbox
from tackbridge.store.secrets import SecretBox
from tackbridge.store.wakeups import notify_outbox
from tackbridge.store.writer import Writer

log = logging.getLogger("tackbridge.crm")

__all__ = [
    "CRM_LEAD",
    "CRM_LEAD_KIND",
    "CRM_LEAD_UPDATE",
    "CRM_LEAD_UPDATE_KIND",
    "CRM_MESSAGE",
    "CRM_MESSAGE_KIND",
    "CRM_REVIEW",
    "CRM_REVIEW_KIND",
    "CrmJobs",
    "Destinations",
    "crm_jobs",
    "queue_message",
    "release_messages",
]

CRM_LEAD_KIND = JobKind.of("crm.lead", LeadRef, lambda p: f"crm.lead:{p.leadID}")
CRM_MESSAGE_KIND = JobKind.of("crm.message", MessageRef, lambda p: message_key("crm.message", p))
CRM_LEAD_UPDATE_KIND = JobKind.of(
    "crm.lead_update", LeadUpdateRef, lambda p: f"crm.lead.updated:{p.leadID}:{p.updateID}"
)
CRM_REVIEW_KIND = JobKind.of("crm.review", ReviewRef, lambda p: f"crm.review:{p.reviewID}")

# Thumbtack's field names in LeadUpdated.fields, by the column names lead.updated jobs carry.
_UPDATE_FIELDS = {
    "lead_price": "leadPrice",
    "lead_price_cents": "leadPrice",
    "charge_state": "chargeState",
    "status": "status",
}


# A message for a lead whose own CRM job has yet to run is held this long at most: that job's
# settle makes it due at once (``release_messages``); the hold only covers a settle that never
# comes (the message job then waits on the lead with NotReadyError, as before).
_HOLD = timedelta(hours=1)
# FOR UPDATE (PostgreSQL; SQLite's one writer needs none): a settle of the lead's job in
# flight in another process is waited for and its outcome read, and a settle that begins after
# waits for this transaction, so its release sees this message; otherwise the message could be
# held behind a job that settled meanwhile, with no release to come.
_LEAD_JOB_WAITING = (
    select(outbox.c.id)
    .where(outbox.c.idempotency_key == bindparam("key"), outbox.c.state.in_(("pending", "running")))
    .with_for_update()
)
# The lead's message jobs: their keys are ``crm.message:{lead}:{message}``, a range of the
# unique index on idempotency_key.
_RELEASE = (
    update(outbox)
    .where(
        outbox.c.kind == CRM_MESSAGE_KIND.name,
        outbox.c.state == "pending",
        outbox.c.idempotency_key >= bindparam("low"),
        outbox.c.idempotency_key < bindparam("high"),
        outbox.c.next_attempt_at > bindparam("at"),
    )
    .values(next_attempt_at=bindparam("at"), updated_at=bindparam("at"))
)


def queue_message(conn: Connection, ref: MessageRef, now: datetime) -> None:
    """Queue the message's CRM delivery: due now, or, while its lead's own CRM job is still to
    run (a first reply is often faster than the lead's delivery), held until that job settles,
    so that it does not run only to find the lead not there yet."""
    due = None
    if ref.leadID is not None:
        key = CRM_LEAD_KIND.key_of(LeadRef(leadID=ref.leadID))
        if conn.execute(_LEAD_JOB_WAITING, {"key": key}).first() is not None:
            due = now + _HOLD
    enqueue(conn, CRM_MESSAGE_KIND, ref, now=now, due=due)


def release_messages(conn: Connection, job: Job[LeadRef], outcome: str, at: datetime) -> None:
    """The lead's CRM job settled (done or dead): its held message jobs are due now."""
    prefix = f"{CRM_MESSAGE_KIND.name}:{job.payload.leadID}:"
    released = conn.execute(_RELEASE, {"low": prefix, "high": prefix[:-1] + ";", "at": at})
    if released.rowcount:
        notify_outbox(conn)  # due now: wake the workers of other processes (PostgreSQL)


@dataclass
class Destinations:
    """Builds each business's destination through the registry, sharing one destination (so
    one client) per kind, options and secret: a Coperniq key's rate limits and the account's
    property list are kept per key, not per call."""

    http: httpx2.AsyncClient
    settings: Settings
    types: DestinationRegistry
    _built: dict[str, Destination] = field(default_factory=dict)

    def get(self, config: DestinationConfig) -> Destination:
        key = _fingerprint(config)
        found = self._built.get(key)
        if found is None:
            try:
                found = self.types.build(config, self.settings, http_client=self.http)
            except ValueError as exc:
                raise PermanentError(f"destination {config.kind}: {exc}") from None
            self._built[key] = found
        return found

    def coperniq_client(self, config: DestinationConfig) -> CoperniqClient | None:
        # Only Coperniq's automation events need this; another kind is not built for it.
        destination = self.get(config) if config.kind == COPERNIQ.kind else None
        return destination.client if isinstance(destination, CoperniqDestination) else None


def _link_name(config: DestinationConfig, destination: Destination) -> str:
    """``crm_links.destination`` for a lead delivered there: the kind, or for Coperniq the kind
    with the record type (``coperniq`` for an opportunity, ``coperniq:project``)."""
    if isinstance(destination, CoperniqDestination):
        return destination.link_destination
    return config.kind


def _as_linked(destination: Destination, link: store.Link | None) -> Destination:
    """The destination a lead's later jobs go to: for a lead already linked to a Coperniq
    record, that record's type (the link says), whatever the business chose since; a business
    switched from opportunities to projects keeps its earlier leads' notes and updates on their
    opportunities instead of searching projects for them."""
    if link is None or not isinstance(destination, CoperniqDestination):
        return destination
    record_type = linked_record_type(link.destination)
    return destination.as_record_type(record_type) if record_type else destination


def _fingerprint(config: DestinationConfig) -> str:
    options = config.options.model_dump(mode="json") if config.options is not None else None
    secret = config.secret.get_secret_value() if config.secret is not None else ""
    raw = json.dumps([config.kind, options, secret], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class CrmJobs:
    settings: Settings
    db: Database
    writer: Writer
    box: Callable[[], SecretBox]
    destinations: Destinations
    clock: Callable[[], datetime] = utc_now

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        with self.db.reader.connect() as conn:
            return fn(conn)

    def _destination(self, business_id: str | None) -> tuple[DestinationConfig, Destination]:
        config = self._read(
            lambda conn: store.destination_for(
                conn, business_id, self.settings, self.box, self.destinations.types
            )
        )
        return config, self.destinations.get(config)

    async def lead(self, job: Job[LeadRef]) -> None:
        lead_id = job.payload.leadID

        def read(conn: Connection) -> tuple[LeadInput | None, Any, store.Link | None]:
            # One connection for all this job reads: the lead, its business's destination,
            # and where it was delivered before (if it was).
            found = read_lead_input(conn, lead_id)
            if found is None:
                return None, None, None
            config = store.destination_for(
                conn, found.business_id, self.settings, self.box, self.destinations.types
            )
            return found, config, store.link_of_lead(conn, lead_id)

        lead, config, earlier = self._read(read)
        if lead is None:
            raise PermanentError(f"lead {lead_id} is not in the store")
        # A replay (an operator's retry) of a lead already delivered finds its record where
        # it was delivered, not a new one of the business's current record type.
        destination = _as_linked(self.destinations.get(config), earlier)
        receipt = await destination.deliver_lead(
            lead, idempotency_key=job.key, first_try=job.first_try
        )
        link = store.Link(
            lead_id, _link_name(config, destination), receipt.external_id, receipt.outcome
        )
        now = self.clock()
        await self.writer.run(lambda conn: store.save_link(conn, link, now))

    async def message(self, job: Job[MessageRef]) -> None:
        message_id = job.payload.messageID

        def read(conn: Connection) -> tuple[MessageReceived | None, Any, Any]:
            # One connection for all this job reads: the message, its business's destination,
            # and what is known of its lead there.
            found = read_message(conn, job.payload)
            if found is None or found.lead_id is None:
                return found, None, None
            business = found.business_id or business_of(conn, found.lead_id)
            config = store.destination_for(
                conn, business, self.settings, self.box, self.destinations.types
            )
            return found, config, _known(conn, found.lead_id)

        found, config, known = self._read(read)
        if found is None:
            raise PermanentError(f"message {message_id} is not in the store")
        if found.lead_id is None:
            raise NotReadyError(f"message {message_id} has no lead yet")
        lead_id = found.lead_id
        link, customer_name, lead_waiting = known
        destination = _as_linked(self.destinations.get(config), link)
        if link is None and lead_waiting:
            # The lead's own job has not delivered it yet (a first reply is often faster):
            # asking the destination now would only spend requests finding nothing. The usual
            # backoff, not a fixed pause: during a CRM outage this job must keep waiting as long
            # as the lead's own job keeps retrying, not run out of attempts first.
            raise NotReadyError(f"lead {lead_id} is not at its destination yet")
        await destination.deliver_message(
            found,
            idempotency_key=job.key,
            first_try=job.first_try,
            record_id=(
                link.external_id
                if link and link.destination == _link_name(config, destination)
                else None
            ),
            customer_name=customer_name,
        )

    async def lead_update(self, job: Job[LeadUpdateRef]) -> None:
        payload = job.payload
        lead_id = payload.leadID
        given = payload.model_fields_set
        carried = {name for column, name in _UPDATE_FIELDS.items() if column in given}
        change = LeadUpdated(
            lead_id=lead_id,
            source="v1",
            lead_price=payload.lead_price,
            lead_price_cents=payload.lead_price_cents,
            charge_state=payload.charge_state,
            status=payload.status,
            fields=frozenset(carried),
        )
        _, destination = self._destination(self._business_of(lead_id))
        destination = _as_linked(destination, self._link_of(lead_id))
        await destination.deliver_lead_update(change, idempotency_key=job.key)

    async def review(self, job: Job[ReviewRef]) -> None:
        review_id = job.payload.reviewID
        found = self._read(lambda conn: read_review(conn, review_id))
        if found is None:
            raise PermanentError(f"review {review_id} is not in the store")
        if found.lead_id is None:
            log.info("review %s names no lead; nothing to attach it to", review_id)
            return
        _, destination = self._destination(found.business_id or self._business_of(found.lead_id))
        destination = _as_linked(destination, self._link_of(found.lead_id))
        await destination.deliver_review(found, idempotency_key=job.key)

    def _link_of(self, lead_id: str) -> store.Link | None:
        found: store.Link | None = self._read(lambda conn: store.link_of_lead(conn, lead_id))
        return found

    def _business_of(self, lead_id: str | None) -> str | None:
        if lead_id is None:
            return None
        found: str | None = self._read(lambda conn: business_of(conn, lead_id))
        return found

    def opportunity_client(self, business_id: str | None) -> CoperniqClient | None:
        """The Coperniq client of the business's destination, if it goes to Coperniq."""
        config, _ = self._destination(business_id)
        return self.destinations.coperniq_client(config)


def crm_jobs(services: Services) -> CrmJobs:
    """The process's CRM jobs: one destination cache (one client per Coperniq key), over the
    process's destination registry."""
    return services.shared(
        "crm.jobs",
        lambda: CrmJobs(
            services.settings,
            services.db,
            services.writer,
            services.box,
            Destinations(services.http, services.settings, destination_types(services)),
        ),
    )


CRM_LEAD = Registration(
    CRM_LEAD_KIND, lambda services: crm_jobs(services).lead, settle=release_messages
)
CRM_MESSAGE = Registration(CRM_MESSAGE_KIND, lambda services: crm_jobs(services).message)
CRM_LEAD_UPDATE = Registration(
    CRM_LEAD_UPDATE_KIND, lambda services: crm_jobs(services).lead_update
)
CRM_REVIEW = Registration(CRM_REVIEW_KIND, lambda services: crm_jobs(services).review)


# Built once: every message's CRM job asks it.
_CUSTOMER_OF_LEAD = (
    select(
        customers.c.name, customers.c.display_name, customers.c.first_name, customers.c.last_name
    )
    .select_from(leads.join(customers, leads.c.customer_id == customers.c.customer_id))
    .where(leads.c.lead_id == bindparam("lead_id"))
)


def _known(conn: Connection, lead_id: str) -> tuple[store.Link | None, str | None, bool]:
    """The record a lead became at its destination, its customer's name, and whether the
    lead's own delivery job is still to run."""
    c = conn.execute(_CUSTOMER_OF_LEAD, {"lead_id": lead_id}).first()
    name = customer_name_of(c.name, c.display_name, c.first_name, c.last_name) if c else None
    key = CRM_LEAD_KIND.key_of(LeadRef(leadID=lead_id))
    waiting = conn.execute(_LEAD_JOB_WAITING, {"key": key}).first()
    return store.link_of_lead(conn, lead_id), name, waiting is not None
