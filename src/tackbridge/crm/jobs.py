"""The outbox jobs of the CRM side: a lead, a message (either direction), a lead update or a
review delivered to its business's destination, and a Coperniq automation event turned into a
job status for Thumbtack.

Each handler reads what it needs from the store when it runs (the job carries only IDs), so a
retry after an outage sends the record as it is now. Errors from the destinations are already
``RetryableError``/``PermanentError``; a destination that cannot be built (a missing key) is
permanent until an operator fixes it and retries the job.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
from sqlalchemy import Connection, select

from tackbridge.connections.crypto import SecretBox
from tackbridge.crm import store
from tackbridge.crm.coperniq import CoperniqDestination
from tackbridge.crm.coperniq_client import CoperniqClient
from tackbridge.crm.destination import Destination, DestinationConfig, build_destination
from tackbridge.crm.errors import NotReadyError
from tackbridge.crm.events import (
    DEFAULT_STATUS_MAPPING,
    CoperniqEventError,
    job_status_change,
    needs_opportunity,
)
from tackbridge.crm.lead import LeadInput, customer_name_of
from tackbridge.delivery.errors import PermanentError
from tackbridge.delivery.worker import Handler, Job
from tackbridge.inbound.events import AttachmentInfo, LeadUpdated, MessageReceived, ReviewReceived
from tackbridge.jobstatus import push as job_status
from tackbridge.jobstatus.rules import InvalidJobStatusError, validate
from tackbridge.leads.queries import business_of, get_lead
from tackbridge.leads.views import utc
from tackbridge.settings import Settings
from tackbridge.store.database import Database
from tackbridge.store.schema import attachments, customers, leads, messages, outbox, reviews
from tackbridge.store.writer import Writer

log = logging.getLogger("tackbridge.crm")

LEAD_KIND = "crm.lead"
MESSAGE_KIND = "crm.message"
LEAD_UPDATE_KIND = "crm.lead_update"
REVIEW_KIND = "crm.review"
EVENT_KIND = "crm.event"

# Thumbtack's field names in LeadUpdated.fields, by the column names lead.updated jobs carry.
_UPDATE_FIELDS = {
    "lead_price": "leadPrice",
    "lead_price_cents": "leadPrice",
    "charge_state": "chargeState",
    "status": "status",
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Destinations:
    """Builds each business's destination, sharing one client per Coperniq key so that the
    key's rate limits and the account's property list are kept per key, not per call."""

    http: httpx2.AsyncClient
    _built: dict[str, Destination] = field(default_factory=dict)

    def get(self, config: DestinationConfig) -> Destination:
        key = _fingerprint(config)
        found = self._built.get(key)
        if found is None:
            try:
                found = build_destination(config, http_client=self.http)
            except ValueError as exc:
                raise PermanentError(f"destination {config.kind}: {exc}") from None
            self._built[key] = found
        return found

    def coperniq_client(self, config: DestinationConfig) -> CoperniqClient | None:
        destination = self.get(config) if config.kind == "coperniq" else None
        return destination.client if isinstance(destination, CoperniqDestination) else None


def _fingerprint(config: DestinationConfig) -> str:
    secret = config.coperniq_api_key or config.webhook_secret
    raw = "|".join(
        (
            config.kind,
            config.coperniq_base_url,
            repr(config.coperniq),
            config.webhook_url or "",
            secret.get_secret_value() if secret is not None else "",
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class CrmJobs:
    settings: Settings
    db: Database
    writer: Writer
    box: Callable[[], SecretBox]
    destinations: Destinations
    clock: Callable[[], datetime] = _now

    def handlers(self) -> dict[str, Handler]:
        return {
            LEAD_KIND: self.lead,
            MESSAGE_KIND: self.message,
            LEAD_UPDATE_KIND: self.lead_update,
            REVIEW_KIND: self.review,
            EVENT_KIND: self.event,
        }

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        with self.db.reader.connect() as conn:
            return fn(conn)

    def _destination(self, business_id: str | None) -> tuple[DestinationConfig, Destination]:
        config = self._read(
            lambda conn: store.destination_for(conn, business_id, self.settings, self.box)
        )
        return config, self.destinations.get(config)

    async def lead(self, job: Job) -> None:
        lead_id = str(job.payload["leadID"])
        view = self._read(lambda conn: get_lead(conn, lead_id, related=False))
        if view is None:
            raise PermanentError(f"lead {lead_id} is not in the store")
        config, destination = self._destination(view.business.businessID if view.business else None)
        receipt = await destination.deliver_lead(
            LeadInput.from_view(view), idempotency_key=job.key, first_try=job.first_try
        )
        link = store.Link(lead_id, config.kind, receipt.external_id, receipt.outcome)
        now = self.clock()
        await self.writer.run(lambda conn: store.save_link(conn, link, now))

    async def message(self, job: Job) -> None:
        message_id = str(job.payload["messageID"])

        def read(conn: Connection) -> tuple[MessageReceived | None, Any, Any]:
            # One connection for all this job reads: the message, its business's destination,
            # and what is known of its lead there.
            found = _message(conn, message_id)
            if found is None or found.lead_id is None:
                return found, None, None
            business = found.business_id or business_of(conn, found.lead_id)
            config = store.destination_for(conn, business, self.settings, self.box)
            return found, config, _known(conn, found.lead_id)

        found, config, known = self._read(read)
        if found is None:
            raise PermanentError(f"message {message_id} is not in the store")
        if found.lead_id is None:
            raise NotReadyError(f"message {message_id} has no lead yet")
        lead_id = found.lead_id
        destination = self.destinations.get(config)
        link, customer_name, lead_waiting = known
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
            record_id=link.external_id if link and link.destination == config.kind else None,
            customer_name=customer_name,
        )

    async def lead_update(self, job: Job) -> None:
        payload = job.payload
        lead_id = str(payload["leadID"])
        carried = {name for column, name in _UPDATE_FIELDS.items() if column in payload}
        change = LeadUpdated(
            lead_id=lead_id,
            source="v1",
            lead_price=payload.get("lead_price"),
            lead_price_cents=payload.get("lead_price_cents"),
            charge_state=payload.get("charge_state"),
            status=payload.get("status"),
            fields=frozenset(carried),
        )
        _, destination = self._destination(self._business_of(lead_id))
        await destination.deliver_lead_update(change, idempotency_key=job.key)

    async def review(self, job: Job) -> None:
        review_id = str(job.payload["reviewID"])
        found = self._read(lambda conn: _review(conn, review_id))
        if found is None:
            raise PermanentError(f"review {review_id} is not in the store")
        if found.lead_id is None:
            log.info("review %s names no lead; nothing to attach it to", review_id)
            return
        _, destination = self._destination(found.business_id or self._business_of(found.lead_id))
        await destination.deliver_review(found, idempotency_key=job.key)

    def _business_of(self, lead_id: str | None) -> str | None:
        if lead_id is None:
            return None
        found: str | None = self._read(lambda conn: business_of(conn, lead_id))
        return found

    async def event(self, job: Job) -> None:
        """A Coperniq automation event: which lead, which job status, then record the push."""
        row_id = int(job.payload["eventRowID"])
        row = self._read(lambda conn: store.get_event(conn, row_id))
        if row is None:
            raise PermanentError(f"automation event {row_id} is not in the store")
        payload = row.payload
        lead_id = (
            self._read(lambda conn: store.lead_of_record(conn, str(row.record_id)))
            if row.record_id
            else None
        )
        opportunity = None
        try:
            if needs_opportunity(payload, DEFAULT_STATUS_MAPPING):
                opportunity = await self._opportunity(lead_id, row.record_id)
            change = job_status_change(payload, DEFAULT_STATUS_MAPPING, opportunity)
        except CoperniqEventError as exc:
            raise PermanentError(f"automation event {row.event_id}: {exc}") from None
        if change is None:
            await self.writer.run(lambda conn: store.settle_event(conn, row_id, "ignored"))
            return
        lead_id = lead_id or change.lead_id
        if lead_id is None:
            log.info("automation event %s: no lead for record %s", row.event_id, row.record_id)
            await self.writer.run(lambda conn: store.settle_event(conn, row_id, "unmatched"))
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
                store.settle_event(conn, row_id, "unmatched", lead_id=found_lead)
                return
            store.settle_event(
                conn, row_id, "applied", lead_id=found_lead, job_status=checked.status
            )

        await self.writer.run(apply)

    async def _opportunity(self, lead_id: str | None, record_id: str | None) -> Any:
        if record_id is None or not record_id.isdigit():
            return None
        config, _ = self._destination(self._business_of(lead_id))
        client = self.destinations.coperniq_client(config)
        if client is None:
            return None
        return await client.get_opportunity(int(record_id))


def _known(conn: Connection, lead_id: str) -> tuple[store.Link | None, str | None, bool]:
    """The record a lead became at its destination, its customer's name, and whether the
    lead's own delivery job is still to run."""
    c = conn.execute(
        select(
            customers.c.name,
            customers.c.display_name,
            customers.c.first_name,
            customers.c.last_name,
        )
        .select_from(leads.join(customers, leads.c.customer_id == customers.c.customer_id))
        .where(leads.c.lead_id == lead_id)
    ).first()
    name = customer_name_of(c.name, c.display_name, c.first_name, c.last_name) if c else None
    waiting = conn.execute(
        select(outbox.c.id).where(
            outbox.c.idempotency_key == f"{LEAD_KIND}:{lead_id}",
            outbox.c.state.in_(("pending", "running")),
        )
    ).first()
    return store.link_of_lead(conn, lead_id), name, waiting is not None


def _attachments(conn: Connection, kind: str, owner: str) -> tuple[AttachmentInfo, ...]:
    rows = conn.execute(
        select(attachments)
        .where(attachments.c.owner_kind == kind, attachments.c.owner_id == owner)
        .order_by(attachments.c.position)
    ).all()
    return tuple(
        AttachmentInfo(
            file_name=r.file_name,
            file_size=r.file_size,
            mime_type=r.mime_type,
            url=r.url,
            description=r.description,
        )
        for r in rows
    )


def _message(conn: Connection, message_id: str) -> MessageReceived | None:
    row = conn.execute(select(messages).where(messages.c.message_id == message_id)).first()
    if row is None:
        return None
    return MessageReceived(
        message_id=row.message_id,
        source=row.source,
        lead_id=row.lead_id,
        business_id=row.business_id,
        customer_id=row.customer_id,
        sender=row.sender,
        text=row.text,
        sent_at=utc(row.sent_at),
        attachments=_attachments(conn, "message", row.message_id),
    )


def _review(conn: Connection, review_id: str) -> ReviewReceived | None:
    row = conn.execute(select(reviews).where(reviews.c.review_id == review_id)).first()
    if row is None:
        return None
    return ReviewReceived(
        review_id=row.review_id,
        source=row.source,
        business_id=row.business_id,
        lead_id=row.lead_id,
        category_id=row.category_id,
        rating=row.rating,
        rating_raw=row.rating_raw,
        text=row.text,
        reviewer_name=row.reviewer_name,
        reviewer_nickname=row.reviewer_nickname,
        verified=row.verified,
        created_at=utc(row.created_at),
        modified_at=utc(row.modified_at),
        event_type=row.event_type,
        photos=_attachments(conn, "review", row.review_id),
    )
