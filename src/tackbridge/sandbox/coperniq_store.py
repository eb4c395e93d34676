"""Coperniq's records and rules, without HTTP: opportunities (validation, matching by
title/primaryEmail/primaryPhone/address, skip/replace/enrich, dropdown options, sequential
``number``, workflow phases, appointments), contacts, accounts, notes, custom properties,
workflows, and the automation events their changes fire.

Every rule violation raises ``CoperniqError`` with the field it concerns.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tackbridge.sandbox.clock import Clock
from tackbridge.sandbox.errors import CoperniqError

STATUSES = ("ACTIVE", "ON_HOLD", "CANCELLED", "COMPLETED")
MATCH_BY = ("title", "primaryEmail", "primaryPhone", "address")
STRATEGIES = ("skip", "replace", "enrich")
WRITABLE = (
    "title",
    "description",
    "address",
    "trades",
    "accountId",
    "workflowId",
    "phaseId",
    "value",
    "size",
    "confidence",
    "status",
    "primaryEmail",
    "primaryPhone",
    "contacts",
    "custom",
)
REQUIRED = ("title", "address", "trades")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ZIP = re.compile(r"\b(\d{5})(?:-\d{4})?\b")

TRIGGER_NAMES = {
    "REQUEST_CREATED": "Opportunity created",
    "DEAL_STATUS_MOVEMENT": "Opportunity status changed",
    "REQUEST_PHASE_STARTED": "Opportunity phase started",
    "REQUEST_PHASE_COMPLETED": "Opportunity phase completed",
    "DEAL_PROPERTY_UPDATED": "Opportunity property updated",
    "APPOINTMENT_CREATED": "Appointment created",
    "APPOINTMENT_RESCHEDULED": "Appointment rescheduled",
}


@dataclass
class Property:
    id: int
    key_name: str
    name: str
    type: str  # TEXT, NUMERIC, DROPDOWN, DATE
    is_multiple: bool = False
    options: list[str] = field(default_factory=list)
    record_type: str = "opportunity"

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "keyName": self.key_name,
            "isMultiple": self.is_multiple,
            "options": list(self.options),
            "recordType": self.record_type,
        }


@dataclass(frozen=True)
class Phase:
    id: int
    name: str
    type: str


@dataclass(frozen=True)
class Workflow:
    id: int
    name: str
    phases: tuple[Phase, ...]

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "phases": [{"id": p.id, "name": p.name, "type": p.type} for p in self.phases],
        }


@dataclass
class PhaseInstance:
    id: int
    phase: Phase
    status: str = "NOT_STARTED"
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass
class Appointment:
    id: int
    opportunity_id: int
    title: str
    start_at: str
    end_at: str | None
    created_at: datetime


@dataclass
class Opportunity:
    id: int
    uid: str
    number: int
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    phase_instances: list[PhaseInstance] = field(default_factory=list)
    deleted_at: datetime | None = None


@dataclass
class Contact:
    id: int
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass
class Note:
    id: int
    opportunity_id: int
    body: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


DEFAULT_WORKFLOWS = (
    Workflow(
        1,
        "Thumbtack leads",
        (
            Phase(11, "New lead", "LEAD"),
            Phase(12, "Contacted", "SALES"),
            Phase(13, "Appointment scheduled", "SALES"),
            Phase(14, "Job in progress", "PRODUCTION"),
            Phase(15, "Job complete", "COMPLETE"),
            Phase(16, "Paid", "COMPLETE"),
        ),
    ),
    Workflow(
        2,
        "Service calls",
        (Phase(21, "Scheduled", "SALES"), Phase(22, "Done", "COMPLETE")),
    ),
)


# Thumbtack's documented lead types (thumbtack-partner-api-v2.md "Lead Type Values") and the
# v4 charge states (``chargeState``): the options an admin would give those dropdowns.
THUMBTACK_LEAD_TYPES = (
    "AVAILABILITY",
    "CONTACT",
    "ESTIMATION",
    "CALL",
    "BOOKING",
    "PHONE_CONSULTATION",
    "INSTANT_BOOK",
    "SPONSORED",
    "INSTANT_CONSULT",
    "SERVICE_CALL",
    "FULFILLMENT",
    "REQUEST_A_QUOTE",
    "MISMATCH_REQUEST_A_QUOTE",
)
THUMBTACK_CHARGE_STATES = ("Created", "Pending", "Charged", "Refunded")


def _default_properties() -> list[Property]:
    """The default account: a few properties of its own, and one for every custom field
    tackbridge writes by default (its ``CustomFieldKeys``; the names are repeated here because
    the sandbox imports nothing of the product). IDs as long as Thumbtack's (int64) are TEXT:
    a number would round them."""
    return [
        Property(1, "thumbtack_lead_id", "Thumbtack lead ID", "TEXT"),
        Property(2, "lead_source", "Lead source", "DROPDOWN", options=["Thumbtack", "Website"]),
        Property(
            3,
            "service_category",
            "Service category",
            "DROPDOWN",
            options=["Kitchen Remodel", "Interior Painting"],
        ),
        Property(4, "lead_price", "Lead price", "NUMERIC"),
        Property(
            5,
            "preferred_contact",
            "Preferred contact",
            "DROPDOWN",
            is_multiple=True,
            options=["Phone", "Text", "Email", "Thumbtack inbox"],
        ),
        Property(6, "first_reply_at", "First reply at", "DATE"),
        Property(7, "customer_name", "Customer name", "TEXT", record_type="opportunity"),
        Property(
            8,
            "thumbtack_lead_type",
            "Thumbtack lead type",
            "DROPDOWN",
            options=list(THUMBTACK_LEAD_TYPES),
        ),
        Property(
            9,
            "thumbtack_charge_state",
            "Thumbtack charge state",
            "DROPDOWN",
            options=list(THUMBTACK_CHARGE_STATES),
        ),
        Property(10, "thumbtack_category_id", "Thumbtack category ID", "TEXT"),
        Property(11, "thumbtack_inbox_link", "Thumbtack inbox", "TEXT"),
        # Free text: the documents disagree on the values (Open/Canceled/Picked vs "active").
        Property(12, "thumbtack_lead_status", "Thumbtack lead status", "TEXT"),
        Property(13, "thumbtack_rating", "Thumbtack review rating", "NUMERIC"),
    ]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))[-10:]


def _norm(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return " ".join(str(value or "").lower().split())


def _match_key(match_by: str, value: Any) -> str:
    if match_by == "primaryPhone":
        return _digits(value)
    return _norm(value)


def _bad(message: str, field: str | None = None, status: int = 400) -> CoperniqError:
    return CoperniqError(status, message, "VALIDATION_ERROR", field)


def _number(value: Any, name: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"{name} must be a number", name)
    return value


def _strings(value: Any, name: str, *, non_empty: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"{name} must be an array of strings", name)
    if non_empty and not [v for v in value if v.strip()]:
        raise _bad(f"{name} must not be empty", name)
    return list(value)


def split_address(address: str) -> dict[str, str | None]:
    """Street, city, state and ZIP out of a one-line US address ("1 Main St, Town, CA 94117")."""
    parts = [p.strip() for p in address.split(",")]
    zip_match = _ZIP.search(address)
    state: str | None = None
    if parts:
        tail = parts[-1].split()
        if tail and len(tail[0]) == 2 and tail[0].isalpha():
            state = tail[0].upper()
    return {
        "street": parts[0] if len(parts) > 2 else None,
        "city": parts[-2] if len(parts) >= 2 else None,
        "state": state,
        "zipcode": zip_match.group(1) if zip_match else None,
    }


EventListener = Callable[[dict[str, Any]], object]


class CoperniqStore:
    def __init__(self, clock: Clock, *, seed: int) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.workflows: dict[int, Workflow] = {w.id: w for w in DEFAULT_WORKFLOWS}
        self.properties: dict[str, Property] = {p.key_name: p for p in _default_properties()}
        self.opportunities: dict[int, Opportunity] = {}
        # (custom key, comparable value) -> opportunity IDs: the "eq" search on a custom property
        # (a lead-ID look-up) without reading every record, as the real service's index would.
        self._custom_index: dict[tuple[str, Any], set[int]] = {}
        # (match_by, match key) -> opportunity IDs, and (phones|emails, key) -> contact IDs: the
        # create's match rule and the contact matching without reading every record.
        self._match_index: dict[tuple[str, str], set[int]] = {}
        self._contact_index: dict[tuple[str, str], set[int]] = {}
        self.contacts: dict[int, Contact] = {}
        self.accounts: dict[int, Contact] = {}
        self.notes: dict[int, Note] = {}
        self.appointments: dict[int, Appointment] = {}
        self.events: list[dict[str, Any]] = []
        self.listeners: list[EventListener] = []
        self._next_id = 5000 + seed % 1000 * 10
        self._next_number = 1

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # validation ---------------------------------------------------------------------------

    def _clean(
        self, body: dict[str, Any], *, partial: bool, allow_new_options: bool
    ) -> dict[str, Any]:
        unknown = sorted(set(body) - set(WRITABLE) - {"id", "number", "createdAt", "updatedAt"})
        if unknown:
            raise _bad(f"unknown field {unknown[0]}", unknown[0])
        if not partial:
            for name in REQUIRED:
                if _empty(body.get(name)):
                    raise _bad(f"{name} is required", name)
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name not in WRITABLE:
                continue
            out[name] = self._clean_field(name, value, allow_new_options)
        workflow_id = out.get("workflowId")
        phase_id = out.get("phaseId")
        if phase_id is not None and workflow_id is None and not partial:
            # A phase names its workflow: infer it rather than drop the phase.
            out["workflowId"] = workflow_id = self._workflow_of(phase_id)
        if phase_id is not None and workflow_id is not None:
            workflow = self.workflows[workflow_id]
            if phase_id not in {p.id for p in workflow.phases}:
                raise _bad(f"phase {phase_id} is not a phase of workflow {workflow_id}", "phaseId")
        return out

    def _workflow_of(self, phase_id: int) -> int:
        for workflow in self.workflows.values():
            if phase_id in {p.id for p in workflow.phases}:
                return workflow.id
        raise _bad(f"phase {phase_id} does not exist", "phaseId")

    def _clean_field(self, name: str, value: Any, allow_new_options: bool) -> Any:
        if value is None:
            if name in REQUIRED:
                raise _bad(f"{name} is required", name)
            return None
        if name in ("title", "description", "primaryPhone", "primaryEmail"):
            if not isinstance(value, str):
                raise _bad(f"{name} must be a string", name)
            if name == "title" and not value.strip():
                raise _bad("title is required", name)
            if name == "primaryEmail" and value and not _EMAIL.match(value):
                raise _bad("primaryEmail is not an email address", name)
            if name == "primaryPhone" and value and len(re.sub(r"\D", "", value)) < 7:
                raise _bad("primaryPhone is not a phone number", name)
            return value
        if name == "address":
            items = _strings(value, name, non_empty=True)
            if len(items) != 1:
                raise _bad("address must be an array containing a single string", name)
            return items
        if name == "trades":
            return _strings(value, name, non_empty=True)
        if name in ("value", "size"):
            return _number(value, name)
        if name == "confidence":
            number = _number(value, name)
            if not 0 <= number <= 100:
                raise _bad("confidence must be between 0 and 100", name)
            return number
        if name == "status":
            if value not in STATUSES:
                raise _bad(f"status must be one of {', '.join(STATUSES)}", name)
            return value
        if name == "workflowId":
            if isinstance(value, bool) or not isinstance(value, int) or value not in self.workflows:
                raise _bad(f"workflow {value!r} does not exist", name)
            return value
        if name == "phaseId":
            phase_ids = {p.id for w in self.workflows.values() for p in w.phases}
            if isinstance(value, bool) or not isinstance(value, int) or value not in phase_ids:
                raise _bad(f"phase {value!r} does not exist", name)
            return value
        if name == "accountId":
            if isinstance(value, bool) or not isinstance(value, int) or value not in self.accounts:
                raise _bad(f"account {value!r} does not exist", name)
            return value
        if name == "contacts":
            if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                raise _bad("contacts must be an array of contact IDs", name)
            for contact_id in value:
                if contact_id not in self.contacts:
                    raise _bad(f"contact {contact_id} does not exist", name)
            return list(value)
        if name == "custom":
            if not isinstance(value, dict):
                raise _bad("custom must be an object", name)
            return {k: self._clean_custom(k, v, allow_new_options) for k, v in value.items()}
        raise _bad(f"unknown field {name}", name)  # pragma: no cover - WRITABLE is exhaustive

    def _clean_custom(self, key: str, value: Any, allow_new_options: bool) -> Any:
        where = f"custom.{key}"
        prop = self.properties.get(key)
        if prop is None or prop.record_type != "opportunity":
            raise _bad(f"unknown custom property {key!r} (see GET /properties)", where)
        if value is None:
            return None
        if prop.type == "NUMERIC":
            return _number(value, where)
        if prop.type in ("TEXT", "DATE"):
            if not isinstance(value, str):
                raise _bad(f"{where} must be a string", where)
            return value
        values = value if prop.is_multiple else [value]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            shape = "an array of strings" if prop.is_multiple else "a string"
            raise _bad(f"{where} must be {shape}", where)
        for option in values:
            if option not in prop.options and not allow_new_options:
                raise _bad(
                    f"{option!r} is not an option of {key}; pass allow_new_options=true to add it",
                    where,
                )
        return value

    def _add_options(self, custom: dict[str, Any]) -> None:
        for key, value in custom.items():
            prop = self.properties[key]
            if prop.type != "DROPDOWN" or value is None:
                continue
            for option in value if isinstance(value, list) else [value]:
                if option not in prop.options:
                    prop.options.append(option)

    # opportunities ------------------------------------------------------------------------

    def create_opportunity(
        self,
        body: dict[str, Any],
        *,
        match_by: str = "title",
        strategy: str = "skip",
        allow_new_options: bool = False,
    ) -> tuple[Opportunity, str]:
        """Creates or matches; returns the record and what happened (created/skipped/...)."""
        if match_by not in MATCH_BY:
            raise _bad(f"match_by must be one of {', '.join(MATCH_BY)}", "match_by")
        if strategy not in STRATEGIES:
            raise _bad(
                f"match_found_strategy must be one of {', '.join(STRATEGIES)}",
                "match_found_strategy",
            )
        with self._lock:
            clean = self._clean(body, partial=False, allow_new_options=allow_new_options)
            existing = self._find_match(match_by, clean.get(match_by))
            if existing is not None:
                if strategy == "skip":
                    return existing, "skipped"
                before = dict(existing.fields)
                if strategy == "replace":
                    new_fields = {name: clean.get(name) for name in WRITABLE}
                    new_fields["custom"] = clean.get("custom") or {}
                    new_fields["contacts"] = clean.get("contacts") or []
                    new_fields["status"] = clean.get("status") or "ACTIVE"
                else:
                    new_fields = dict(existing.fields)
                    for name, value in clean.items():
                        if name == "custom":
                            merged = dict(new_fields.get("custom") or {})
                            for key, item in (value or {}).items():
                                if _empty(merged.get(key)):
                                    merged[key] = item
                            new_fields["custom"] = merged
                        elif _empty(new_fields.get(name)):
                            new_fields[name] = value
                self._add_options(new_fields.get("custom") or {})
                self._apply(existing, new_fields, before)
                self._link_contact(existing)
                return existing, "replaced" if strategy == "replace" else "enriched"
            self._add_options(clean.get("custom") or {})
            now = self._clock.now()
            fields: dict[str, Any] = {name: None for name in WRITABLE}
            fields.update({"custom": {}, "contacts": [], "status": "ACTIVE"})
            fields.update({k: v for k, v in clean.items() if v is not None})
            opportunity = Opportunity(
                id=self._id(),
                uid=str(uuid.UUID(int=secrets.randbits(128), version=4)),
                number=self._next_number,
                fields=fields,
                created_at=now,
                updated_at=now,
            )
            self._next_number += 1
            self.opportunities[opportunity.id] = opportunity
            self._reindex(opportunity, {})
            self._link_contact(opportunity)
            self._emit(opportunity, "REQUEST_CREATED")
            self._sync_workflow(opportunity, None, None)
            return opportunity, "created"

    def _find_match(self, match_by: str, value: Any) -> Opportunity | None:
        key = _match_key(match_by, value)
        if not key:
            return None
        # The first live one in creation order, as a scan would find it.
        for opportunity_id in sorted(self._match_index.get((match_by, key), ())):
            opportunity = self.opportunities[opportunity_id]
            if opportunity.deleted_at is None:
                return opportunity
        return None

    def _link_contact(self, opportunity: Opportunity) -> None:
        # Coperniq creates or matches a contact for primaryEmail/primaryPhone.
        email = opportunity.fields.get("primaryEmail")
        phone = opportunity.fields.get("primaryPhone")
        if not email and not phone:
            return
        ids = self._contact_index.get(("emails", email.lower()), set()) if email else set()
        if phone:
            ids = ids | self._contact_index.get(("phones", _digits(phone)), set())
        # The first in creation order, as a scan would find it.
        contact = self.contacts[min(ids)] if ids else None
        if contact is None:
            title = opportunity.fields.get("title") or "Contact"
            custom = opportunity.fields.get("custom") or {}
            contact = self._new_contact(
                {
                    "name": custom.get("customer_name") or title,
                    "emails": [email] if email else [],
                    "phones": [phone] if phone else [],
                }
            )
        contacts: list[int] = opportunity.fields.setdefault("contacts", []) or []
        if contact.id not in contacts:
            contacts.append(contact.id)
        opportunity.fields["contacts"] = contacts
        projects: list[int] = contact.fields.setdefault("projectIds", [])
        if opportunity.id not in projects:
            projects.append(opportunity.id)

    def _apply(
        self, opportunity: Opportunity, new_fields: dict[str, Any], before: dict[str, Any]
    ) -> None:
        opportunity.fields = new_fields
        opportunity.updated_at = self._clock.now()
        self._reindex(opportunity, before)
        if before.get("status") != new_fields.get("status"):
            self._emit(
                opportunity,
                "DEAL_STATUS_MOVEMENT",
                {"fromStatus": before.get("status"), "toStatus": new_fields.get("status")},
            )
        if (before.get("custom") or {}) != (new_fields.get("custom") or {}):
            self._emit(opportunity, "DEAL_PROPERTY_UPDATED")
        self._sync_workflow(opportunity, before.get("workflowId"), before.get("phaseId"))

    def _sync_workflow(
        self, opportunity: Opportunity, old_workflow: int | None, old_phase: int | None
    ) -> None:
        workflow_id = opportunity.fields.get("workflowId")
        if workflow_id is None:
            opportunity.phase_instances = []
            opportunity.fields["phaseId"] = None
            return
        workflow = self.workflows[workflow_id]
        if workflow_id != old_workflow or not opportunity.phase_instances:
            opportunity.phase_instances = [PhaseInstance(self._id(), p) for p in workflow.phases]
            old_phase = None
        phase_id = opportunity.fields.get("phaseId") or workflow.phases[0].id
        opportunity.fields["phaseId"] = phase_id
        if phase_id == old_phase:
            return
        now = self._clock.now()
        reached = False
        for instance in opportunity.phase_instances:
            if instance.phase.id == phase_id:
                reached = True
                instance.status = "IN_PROGRESS"
                instance.started_at = now
                instance.completed_at = None
                self._emit_phase(opportunity, instance, "REQUEST_PHASE_STARTED")
            elif not reached:
                if instance.status != "COMPLETED":
                    instance.status = "COMPLETED"
                    instance.started_at = instance.started_at or now
                    instance.completed_at = now
                    self._emit_phase(opportunity, instance, "REQUEST_PHASE_COMPLETED")
            else:
                instance.status = "NOT_STARTED"
                instance.started_at = None
                instance.completed_at = None

    def _emit_phase(self, opportunity: Opportunity, instance: PhaseInstance, trigger: str) -> None:
        self._emit(
            opportunity,
            trigger,
            {
                "phaseInstanceId": instance.id,
                "phaseTemplateId": instance.phase.id,
                "phaseName": instance.phase.name,
                "phaseType": instance.phase.type,
                "status": instance.status,
            },
        )

    def _emit(
        self, opportunity: Opportunity, trigger: str, extra: dict[str, Any] | None = None
    ) -> None:
        payload = {
            "event": {
                "eventId": str(uuid.UUID(int=secrets.randbits(128), version=4)),
                "recordId": opportunity.id,
                "triggerKey": trigger,
                "triggerName": TRIGGER_NAMES.get(trigger, trigger),
                "firedAt": self._clock.now().isoformat(timespec="seconds").replace("+00:00", "Z"),
                **(extra or {}),
            },
            "record": {"id": opportunity.id, "uid": opportunity.uid, "type": "opportunity"},
        }
        self.events.append(payload)
        for listener in list(self.listeners):
            listener(payload)

    def get_opportunity(self, opportunity_id: int) -> Opportunity:
        with self._lock:
            opportunity = self.opportunities.get(opportunity_id)
            if opportunity is None or opportunity.deleted_at is not None:
                raise CoperniqError(404, f"opportunity {opportunity_id} not found", "NOT_FOUND")
            return opportunity

    def patch_opportunity(
        self, opportunity_id: int, body: dict[str, Any], *, allow_new_options: bool = False
    ) -> Opportunity:
        with self._lock:
            opportunity = self.get_opportunity(opportunity_id)
            clean = self._clean(body, partial=True, allow_new_options=allow_new_options)
            if "phaseId" in clean and clean["phaseId"] is not None and "workflowId" not in clean:
                workflow_id = opportunity.fields.get("workflowId")
                workflow = self.workflows.get(workflow_id) if workflow_id else None
                if workflow is None or clean["phaseId"] not in {p.id for p in workflow.phases}:
                    raise _bad("phaseId is not a phase of the opportunity's workflow", "phaseId")
            before = dict(opportunity.fields)
            new_fields = dict(opportunity.fields)
            for name, value in clean.items():
                if name == "custom":
                    merged = dict(new_fields.get("custom") or {})
                    merged.update(value or {})
                    new_fields["custom"] = merged
                else:
                    new_fields[name] = value
            if new_fields.get("status") is None:
                new_fields["status"] = before.get("status")
            self._add_options(new_fields.get("custom") or {})
            self._apply(opportunity, new_fields, before)
            self._link_contact(opportunity)
            return opportunity

    def delete_opportunity(self, opportunity_id: int) -> None:
        with self._lock:
            self.get_opportunity(opportunity_id).deleted_at = self._clock.now()

    def _reindex(self, opportunity: Opportunity, before: dict[str, Any]) -> None:
        for entry in _index_entries(before.get("custom") or {}):
            self._custom_index.get(entry, set()).discard(opportunity.id)
        for entry in _index_entries(opportunity.fields.get("custom") or {}):
            self._custom_index.setdefault(entry, set()).add(opportunity.id)
        for entry in _match_entries(before):
            self._match_index.get(entry, set()).discard(opportunity.id)
        for entry in _match_entries(opportunity.fields):
            self._match_index.setdefault(entry, set()).add(opportunity.id)

    def _reindex_contact(self, contact: Contact, before: dict[str, Any] | None) -> None:
        for entry in _contact_entries(before or {}):
            self._contact_index.get(entry, set()).discard(contact.id)
        if contact.id in self.contacts:
            for entry in _contact_entries(contact.fields):
                self._contact_index.setdefault(entry, set()).add(contact.id)

    def with_custom_value(self, key: str, raw: str) -> list[Opportunity]:
        """Live opportunities whose custom ``key`` may equal ``raw`` (a superset of the ``eq``
        matches, in creation order; the search still applies its full test)."""
        with self._lock:
            ids = sorted(self._custom_index.get((key, comparable(raw)), ()))
            found = (self.opportunities[i] for i in ids)
            return [o for o in found if o.deleted_at is None]

    def live_opportunities(self) -> list[Opportunity]:
        with self._lock:
            return [o for o in self.opportunities.values() if o.deleted_at is None]

    def add_appointment(
        self, opportunity_id: int, title: str, start_at: str, end_at: str | None
    ) -> Appointment:
        with self._lock:
            opportunity = self.get_opportunity(opportunity_id)
            appointment = Appointment(
                self._id(), opportunity_id, title, start_at, end_at, self._clock.now()
            )
            self.appointments[appointment.id] = appointment
            self._emit(
                opportunity,
                "APPOINTMENT_CREATED",
                {"appointmentId": appointment.id, "startAt": start_at, "endAt": end_at},
            )
            return appointment

    def reschedule_appointment(
        self, appointment_id: int, start_at: str, end_at: str | None
    ) -> Appointment:
        with self._lock:
            appointment = self.appointments.get(appointment_id)
            if appointment is None:
                raise CoperniqError(404, f"appointment {appointment_id} not found", "NOT_FOUND")
            appointment.start_at, appointment.end_at = start_at, end_at
            self._emit(
                self.get_opportunity(appointment.opportunity_id),
                "APPOINTMENT_RESCHEDULED",
                {"appointmentId": appointment.id, "startAt": start_at, "endAt": end_at},
            )
            return appointment

    # contacts, accounts, notes ------------------------------------------------------------

    def _new_contact(self, fields: dict[str, Any]) -> Contact:
        now = self._clock.now()
        contact = Contact(self._id(), fields, now, now)
        contact.fields.setdefault("projectIds", [])
        self.contacts[contact.id] = contact
        self._reindex_contact(contact, None)
        return contact

    def create_contact(self, body: dict[str, Any]) -> Contact:
        with self._lock:
            fields = self._clean_contact(body, partial=False)
            return self._new_contact(fields)

    def patch_contact(self, contact_id: int, body: dict[str, Any]) -> Contact:
        with self._lock:
            contact = self.get_contact(contact_id)
            before = dict(contact.fields)
            contact.fields.update(self._clean_contact(body, partial=True))
            self._reindex_contact(contact, before)
            contact.updated_at = self._clock.now()
            return contact

    def get_contact(self, contact_id: int) -> Contact:
        with self._lock:
            contact = self.contacts.get(contact_id)
            if contact is None:
                raise CoperniqError(404, f"contact {contact_id} not found", "NOT_FOUND")
            return contact

    def delete_contact(self, contact_id: int) -> None:
        with self._lock:
            contact = self.get_contact(contact_id)
            del self.contacts[contact_id]
            self._reindex_contact(contact, contact.fields)

    def _clean_contact(self, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        allowed = {"name", "phones", "emails", "title", "accountIds", "projectIds"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise _bad(f"unknown field {unknown[0]}", unknown[0])
        if not partial and (not isinstance(body.get("name"), str) or not body["name"].strip()):
            raise _bad("name is required", "name")
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name in ("name", "title"):
                if not isinstance(value, str):
                    raise _bad(f"{name} must be a string", name)
                out[name] = value
            elif name in ("phones", "emails"):
                items = _strings(value, name, non_empty=False)
                if name == "emails":
                    for item in items:
                        if not _EMAIL.match(item):
                            raise _bad(f"{item!r} is not an email address", name)
                out[name] = items
            else:
                if not isinstance(value, list) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value
                ):
                    raise _bad(f"{name} must be an array of IDs", name)
                pool: dict[int, Any] = self.accounts if name == "accountIds" else self.opportunities
                for item in value:
                    if item not in pool:
                        raise _bad(f"{name}: {item} does not exist", name)
                out[name] = list(value)
        return out

    def create_account(self, body: dict[str, Any]) -> Contact:
        with self._lock:
            title = body.get("title")
            if not isinstance(title, str) or not title.strip():
                raise _bad("title is required", "title")
            address = body.get("address")
            if isinstance(address, str):
                address = [address]
            if _empty(address):
                raise _bad("address is required", "address")
            items = _strings(address, "address", non_empty=True)
            now = self._clock.now()
            account = Contact(self._id(), {"title": title, "address": items}, now, now)
            self.accounts[account.id] = account
            return account

    def get_account(self, account_id: int) -> Contact:
        with self._lock:
            account = self.accounts.get(account_id)
            if account is None:
                raise CoperniqError(404, f"account {account_id} not found", "NOT_FOUND")
            return account

    def add_note(self, opportunity_id: int, body: Any) -> Note:
        with self._lock:
            self.get_opportunity(opportunity_id)
            if not isinstance(body, str) or not body.strip():
                raise _bad("body is required", "body")
            now = self._clock.now()
            note = Note(self._id(), opportunity_id, body, now, now)
            self.notes[note.id] = note
            return note

    def notes_of(self, opportunity_id: int) -> list[Note]:
        with self._lock:
            self.get_opportunity(opportunity_id)
            return [
                n
                for n in self.notes.values()
                if n.opportunity_id == opportunity_id and n.deleted_at is None
            ]

    def get_note(self, note_id: int) -> Note:
        with self._lock:
            note = self.notes.get(note_id)
            if note is None or note.deleted_at is not None:
                raise CoperniqError(404, f"note {note_id} not found", "NOT_FOUND")
            return note

    def patch_note(self, note_id: int, body: Any) -> Note:
        with self._lock:
            note = self.get_note(note_id)
            if not isinstance(body, str) or not body.strip():
                raise _bad("body is required", "body")
            note.body = body
            note.updated_at = self._clock.now()
            return note

    def delete_note(self, note_id: int) -> None:
        with self._lock:
            self.get_note(note_id).deleted_at = self._clock.now()

    def add_property(self, body: dict[str, Any]) -> Property:
        with self._lock:
            key = body.get("keyName")
            if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise _bad("keyName must be snake_case", "keyName")
            kind = body.get("type", "TEXT")
            if kind not in ("TEXT", "NUMERIC", "DROPDOWN", "DATE"):
                raise _bad("type must be TEXT, NUMERIC, DROPDOWN or DATE", "type")
            options = body.get("options") or []
            # A redefined key keeps its ID; a new one never reuses another's.
            existing = self.properties.get(key)
            last = max((p.id for p in self.properties.values()), default=0)
            prop = Property(
                id=existing.id if existing else last + 1,
                key_name=key,
                name=str(body.get("name") or key),
                type=kind,
                is_multiple=bool(body.get("isMultiple", False)),
                options=_strings(options, "options", non_empty=False),
                record_type=str(body.get("recordType", "opportunity")),
            )
            self.properties[key] = prop
            return prop


def comparable(value: Any) -> Any:
    """A value as searches compare it: booleans as text, numbers as numbers (whole numbers as
    ints: 18-digit Thumbtack IDs are beyond a float's precision and two different IDs must
    never compare equal), other text case-insensitively."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = str(value)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.lower()


def _index_entries(custom: dict[str, Any]) -> set[tuple[str, Any]]:
    entries: set[tuple[str, Any]] = set()
    for key, value in custom.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                entries.add((key, comparable(item)))
    return entries


def _match_entries(fields: dict[str, Any]) -> set[tuple[str, str]]:
    entries = {(match_by, _match_key(match_by, fields.get(match_by))) for match_by in MATCH_BY}
    return {(match_by, key) for match_by, key in entries if key}


def _contact_entries(fields: dict[str, Any]) -> set[tuple[str, str]]:
    entries = {("emails", str(e).lower()) for e in fields.get("emails") or []}
    entries |= {("phones", _digits(p)) for p in fields.get("phones") or []}
    return {entry for entry in entries if entry[1]}
