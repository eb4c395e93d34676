"""Pure: a Coperniq automation webhook (``{"event": {...}, "record": {...}}``), plus the
opportunity as fetched when the event alone does not say enough, -> the Thumbtack job status it
means, or None. Which triggers mean what is a ``StatusMapping``; the default is issue 5's:
an appointment created or rescheduled -> appt_scheduled, status COMPLETED -> job_complete,
CANCELLED -> pro_cancel, an "invoice paid" phase -> invoice_paid with the opportunity value as the
invoice amount. Events about a project (``record.type`` ``PROJECT``, triggers ``PROJECT_*``,
each read as its opportunity twin: ``PROJECT_STATUS_MOVEMENT`` as ``DEAL_STATUS_MOVEMENT``,
``PROJECT_PHASE_STARTED`` as ``REQUEST_PHASE_STARTED``...) map the same way
when the caller takes projects (``record_types``; the default takes opportunities only), and
``record_type_of`` tells which record an event is about.

A rescheduled appointment is still a scheduled job, so it says appt_scheduled again, stamped with
when it was moved: Thumbtack's job-status call takes any of its statuses at any time (there is no
transition rule to break), and the reschedule is also the first word of an appointment whose
APPOINTMENT_CREATED automation was never set up or never arrived.

Any input either maps, maps to None, or raises ``CoperniqEventError`` naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from tackbridge.payloads.coperniq import (
    CoperniqEventError,
    Opportunity,
    RecordType,
    Webhook,
    event_error,
    parse_webhook,
)
from tackbridge.thumbtack.models import JobStatus, JobStatusUpdate

__all__ = [
    "ALL_RECORD_TYPES",
    "DEFAULT_STATUS_MAPPING",
    "CrmStatusChange",
    "PhaseRule",
    "StatusMapping",
    "job_status_change",
    "needs_opportunity",
    "record_type_of",
]

# Both mean "an appointment is booked": ``StatusMapping.appointment`` says what that is.
APPOINTMENT_TRIGGERS = frozenset({"APPOINTMENT_CREATED", "APPOINTMENT_RESCHEDULED"})
STATUS_TRIGGER = "DEAL_STATUS_MOVEMENT"
PHASE_TRIGGERS = frozenset({"REQUEST_PHASE_STARTED", "REQUEST_PHASE_COMPLETED"})
# A project's events have their own keys (docs.coperniq.io, "Webhooks"): each means what the
# opportunity's does, so rules are written once, in the opportunity's keys.
PROJECT_TRIGGERS = {
    "PROJECT_CREATED": "REQUEST_CREATED",
    "PROJECT_STATUS_MOVEMENT": STATUS_TRIGGER,
    "PROJECT_PHASE_STARTED": "REQUEST_PHASE_STARTED",
    "PROJECT_PHASE_COMPLETED": "REQUEST_PHASE_COMPLETED",
    "PROJECT_PROPERTY_UPDATED": "DEAL_PROPERTY_UPDATED",
}
OPPORTUNITY_TYPES = frozenset({"opportunity", "request", "deal"})
PROJECT_TYPES = frozenset({"project"})
OPPORTUNITIES_ONLY: frozenset[RecordType] = frozenset({"opportunity"})
ALL_RECORD_TYPES: frozenset[RecordType] = frozenset({"opportunity", "project"})
_INVOICED = frozenset({JobStatus.JOB_COMPLETE, JobStatus.INVOICE_PAID})


@dataclass(frozen=True)
class PhaseRule:
    """A phase whose name matches ``pattern`` (case-insensitive regular expression), or whose
    template ID is ``phase_template_id``, means ``status`` when the event is ``trigger``."""

    status: JobStatus
    pattern: str | None = None
    phase_template_id: int | None = None
    trigger: str = "REQUEST_PHASE_STARTED"

    def matches(self, trigger: str, name: str | None, template_id: int | None) -> bool:
        if trigger != self.trigger:
            return False
        if self.phase_template_id is not None and template_id == self.phase_template_id:
            return True
        return bool(self.pattern and name and re.search(self.pattern, name, re.IGNORECASE))


@dataclass(frozen=True)
class StatusMapping:
    # For APPOINTMENT_CREATED and APPOINTMENT_RESCHEDULED alike; None ignores appointments.
    appointment: JobStatus | None = JobStatus.APPT_SCHEDULED
    statuses: Mapping[str, JobStatus] = field(
        default_factory=lambda: {
            "COMPLETED": JobStatus.JOB_COMPLETE,
            "CANCELLED": JobStatus.PRO_CANCEL,
        }
    )
    phases: tuple[PhaseRule, ...] = (
        PhaseRule(JobStatus.INVOICE_PAID, pattern=r"^\s*(invoice\s+)?paid\b|\binvoice\s+paid\b"),
    )
    # Which statuses carry the opportunity's value as invoiceAmountInCents.
    invoice_amount_for: frozenset[JobStatus] = frozenset({JobStatus.INVOICE_PAID})


DEFAULT_STATUS_MAPPING = StatusMapping()


@dataclass(frozen=True)
class CrmStatusChange:
    """The job status a CRM event means for one opportunity (not yet tied to a lead)."""

    opportunity_id: str
    status: JobStatus
    changed_at: datetime
    event_id: str
    trigger_key: str
    invoice_amount_cents: int | None = None
    # The Thumbtack lead, when the fetched opportunity carries it in its custom field.
    lead_id: str | None = None
    # Which Coperniq record ``opportunity_id`` names: an opportunity or a project.
    record_type: RecordType = "opportunity"

    def to_update(self) -> JobStatusUpdate:
        return JobStatusUpdate(
            status=self.status,
            partnerStatusChangedAt=self.changed_at,
            invoiceAmountInCents=self.invoice_amount_cents,
        )


def _opportunity(value: Opportunity | Mapping[str, Any] | None) -> Opportunity | None:
    if value is None or isinstance(value, Opportunity):
        return value
    if not isinstance(value, Mapping):
        raise CoperniqEventError("opportunity", "must be an object")
    try:
        return Opportunity.model_validate(dict(value))
    except ValidationError as exc:
        raise event_error(exc, "opportunity") from None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fired_at(raw: str | None) -> datetime:
    if raw is None:
        raise CoperniqEventError("event.firedAt", "is required")
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CoperniqEventError("event.firedAt", "must be an ISO 8601 timestamp") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CoperniqEventError("event.firedAt", "must carry a time zone")
    return moment


def _phase(webhook: Webhook, opportunity: Opportunity | None) -> tuple[str | None, int | None]:
    event = webhook.event
    extra = event.model_extra or {}
    name = _text(extra.get("phaseName"))
    template_id = event.phaseTemplateId
    if (name is None or template_id is None) and opportunity is not None:
        for instance in opportunity.phaseInstances:
            if instance.id == event.phaseInstanceId or (
                event.phaseInstanceId is None and instance.phaseTemplateId == template_id
            ):
                name = name or instance.name
                template_id = template_id if template_id is not None else instance.phaseTemplateId
                break
    return name, template_id


def _trigger(webhook: Webhook) -> str:
    """The event's trigger, a project's in the opportunity's key."""
    key = webhook.event.triggerKey
    return PROJECT_TRIGGERS.get(key, key)


def _to_status(webhook: Webhook, opportunity: Opportunity | None) -> str | None:
    extra = webhook.event.model_extra or {}
    # The event may say the new status (``currentStatus``, as a work order's status movement
    # does; older payloads ``toStatus``); the record carries its status in any case.
    raw = (
        _text(extra.get("currentStatus"))
        or _text(extra.get("toStatus"))
        or _text(extra.get("newStatus"))
        or _text(webhook.record.status)
    )
    if raw is None and opportunity is not None:
        raw = opportunity.status
    return raw.upper() if raw else None


def _record_type(webhook: Webhook) -> RecordType | None:
    kind = webhook.record.type
    if kind is None and webhook.event.triggerKey in PROJECT_TRIGGERS:
        return "project"
    if kind is None or kind.strip().lower() in OPPORTUNITY_TYPES:
        return "opportunity"
    return "project" if kind.strip().lower() in PROJECT_TYPES else None


def _is_opportunity(webhook: Webhook, record_types: frozenset[RecordType]) -> bool:
    """A record of the types taken (an opportunity, and a project when asked for)."""
    return _record_type(webhook) in record_types


def record_type_of(payload: Any) -> RecordType | None:
    """The Coperniq record an automation event is about (no type: an opportunity), or None for
    another record (an account, a vendor)."""
    return _record_type(parse_webhook(payload))


def _status_for(
    webhook: Webhook, mapping: StatusMapping, opportunity: Opportunity | None
) -> JobStatus | None:
    trigger = _trigger(webhook)
    if trigger in APPOINTMENT_TRIGGERS:
        return mapping.appointment
    if trigger == STATUS_TRIGGER:
        to_status = _to_status(webhook, opportunity)
        return mapping.statuses.get(to_status) if to_status else None
    if trigger in PHASE_TRIGGERS:
        name, template_id = _phase(webhook, opportunity)
        for rule in mapping.phases:
            if rule.matches(trigger, name, template_id):
                return rule.status
    return None


def needs_opportunity(
    payload: Any,
    mapping: StatusMapping = DEFAULT_STATUS_MAPPING,
    *,
    record_types: frozenset[RecordType] = OPPORTUNITIES_ONLY,
) -> bool:
    """Whether ``job_status_change`` needs the opportunity fetched to decide (a status move
    without ``toStatus``, a phase without its name, an invoice needing the value)."""
    webhook = parse_webhook(payload)
    if not _is_opportunity(webhook, record_types):
        return False
    trigger = _trigger(webhook)
    if trigger == STATUS_TRIGGER and _to_status(webhook, None) is None:
        return True
    if trigger in PHASE_TRIGGERS and _phase(webhook, None)[0] is None:
        return bool(mapping.phases)
    status = _status_for(webhook, mapping, None)
    return status in mapping.invoice_amount_for and _value_of(webhook) is None


def _value_of(webhook: Webhook) -> Any:
    """The record's value the event carries: ``value`` in the event (older payloads), else
    the record's ``dealValue``."""
    extra = webhook.event.model_extra or {}
    return extra.get("value", webhook.record.dealValue)


def _cents(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        amount = Decimal(str(value).replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount > 10**12:
        return None
    return int((amount * 100).to_integral_value())


def job_status_change(
    payload: Any,
    mapping: StatusMapping = DEFAULT_STATUS_MAPPING,
    opportunity: Opportunity | Mapping[str, Any] | None = None,
    *,
    lead_id_key: str = "thumbtack_lead_id",
    record_types: frozenset[RecordType] = OPPORTUNITIES_ONLY,
) -> CrmStatusChange | None:
    webhook = parse_webhook(payload)
    fetched = _opportunity(opportunity)
    if not _is_opportunity(webhook, record_types):
        return None
    status = _status_for(webhook, mapping, fetched)
    if status is None:
        return None
    event = webhook.event
    amount: int | None = None
    if status in mapping.invoice_amount_for and status in _INVOICED:
        raw = _value_of(webhook)
        amount = _cents(raw if raw is not None or fetched is None else fetched.value)
    lead_id: str | None = None
    if fetched is not None:
        raw_lead = fetched.custom.get(lead_id_key)
        if isinstance(raw_lead, str | int) and not isinstance(raw_lead, bool) and str(raw_lead):
            lead_id = str(raw_lead)
    return CrmStatusChange(
        opportunity_id=str(webhook.record.id if webhook.record.id != "" else event.recordId),
        status=status,
        changed_at=_fired_at(event.firedAt),
        event_id=event.eventId,
        trigger_key=event.triggerKey,
        invoice_amount_cents=amount,
        lead_id=lead_id,
        record_type=_record_type(webhook) or "opportunity",
    )
