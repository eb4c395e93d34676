"""``CoperniqStore``: one Coperniq account's records and every change to them, without HTTP.
It holds the records (``records``) and the lock, and runs each change through the rules
(``validation``), the look-ups (``matching``) and the automation events it fires (``events``):
creating with the match rule, patching, deleting, appointments, contacts, accounts, notes and
custom properties.

Every rule violation raises ``CoperniqError`` with the field it concerns.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from datetime import datetime
from typing import Any

from tackbridge.sandbox.clock import Clock
from tackbridge.sandbox.coperniq.events import AutomationEvents, EventListener
from tackbridge.sandbox.coperniq.matching import MATCH_BY, STRATEGIES, Indexes, matched_fields
from tackbridge.sandbox.coperniq.records import (
    DEFAULT_WORKFLOWS,
    WRITABLE,
    Appointment,
    Contact,
    Note,
    Opportunity,
    PhaseInstance,
    Property,
    Workflow,
    default_properties,
)
from tackbridge.sandbox.coperniq.validation import Validator, bad, note_body
from tackbridge.sandbox.errors import CoperniqError

__all__ = ["CoperniqStore"]


class CoperniqStore:
    def __init__(self, clock: Clock, *, seed: int) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.workflows: dict[int, Workflow] = {w.id: w for w in DEFAULT_WORKFLOWS}
        self.properties: dict[str, Property] = {p.key_name: p for p in default_properties()}
        self.opportunities: dict[int, Opportunity] = {}
        self.contacts: dict[int, Contact] = {}
        self.accounts: dict[int, Contact] = {}
        self.notes: dict[int, Note] = {}
        self.appointments: dict[int, Appointment] = {}
        self._rules = Validator(
            workflows=self.workflows,
            properties=self.properties,
            opportunities=self.opportunities,
            contacts=self.contacts,
            accounts=self.accounts,
        )
        self._indexes = Indexes()
        self._automation = AutomationEvents(clock)
        self._next_id = 5000 + seed % 1000 * 10
        self._next_number = 1
        self._next_account_number = 1

    def now(self) -> datetime:
        return self._clock.now()

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every automation event fired, oldest first."""
        return self._automation.log

    @property
    def listeners(self) -> list[EventListener]:
        """Called with each automation event as it fires."""
        return self._automation.listeners

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # opportunities ------------------------------------------------------------------------

    def create_opportunity(
        self,
        body: dict[str, Any],
        *,
        match_by: str = "title",
        strategy: str = "skip",
        allow_new_options: bool = False,
        kind: str = "opportunity",
    ) -> tuple[Opportunity, str]:
        """Creates or matches; returns the record and what happened (created/skipped/...)."""
        if match_by not in MATCH_BY:
            raise bad(f"match_by must be one of {', '.join(MATCH_BY)}", "match_by")
        if strategy not in STRATEGIES:
            raise bad(
                f"match_found_strategy must be one of {', '.join(STRATEGIES)}",
                "match_found_strategy",
            )
        if kind == "project" and "trades" not in body:
            body = {**body, "trades": ["Solar"]}  # a project's trades default to Solar
        with self._lock:
            clean = self._rules.clean_opportunity(
                body, partial=False, allow_new_options=allow_new_options
            )
            existing = self._find_match(match_by, clean.get(match_by), kind)
            if existing is not None:
                if strategy == "skip":
                    return existing, "skipped"
                before = dict(existing.fields)
                new_fields = matched_fields(existing.fields, clean, strategy)
                self._rules.add_options(new_fields.get("custom") or {})
                self._apply(existing, new_fields, before)
                self._link_contact(existing)
                return existing, "replaced" if strategy == "replace" else "enriched"
            self._rules.add_options(clean.get("custom") or {})
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
                kind=kind,
            )
            self._next_number += 1
            self.opportunities[opportunity.id] = opportunity
            self._indexes.reindex(opportunity, {})
            self._link_contact(opportunity)
            self._automation.emit(opportunity, "REQUEST_CREATED")
            self._sync_workflow(opportunity, None, None)
            return opportunity, "created"

    def _find_match(self, match_by: str, value: Any, kind: str) -> Opportunity | None:
        # The first live one of its kind in creation order, as a scan would find it.
        for opportunity_id in self._indexes.matching(match_by, value):
            opportunity = self.opportunities[opportunity_id]
            if opportunity.deleted_at is None and opportunity.kind == kind:
                return opportunity
        return None

    def _link_contact(self, opportunity: Opportunity) -> None:
        # Coperniq creates or matches a contact for primaryEmail/primaryPhone.
        email = opportunity.fields.get("primaryEmail")
        phone = opportunity.fields.get("primaryPhone")
        if not email and not phone:
            return
        # The first in creation order, as a scan would find it.
        found = self._indexes.contact_for(email, phone)
        contact = self.contacts[found] if found is not None else None
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
        self._indexes.reindex(opportunity, before)
        self._automation.fields_changed(opportunity, before, new_fields)
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
        if phase_id != old_phase:
            self._automation.move_to_phase(opportunity, phase_id)

    def get_opportunity(self, opportunity_id: int, kind: str | None = None) -> Opportunity:
        """The live record; of ``kind`` (opportunity or project) when given."""
        with self._lock:
            opportunity = self.opportunities.get(opportunity_id)
            if (
                opportunity is None
                or opportunity.deleted_at is not None
                or (kind is not None and opportunity.kind != kind)
            ):
                what = kind or "opportunity"
                raise CoperniqError(404, f"{what} {opportunity_id} not found", "NOT_FOUND")
            return opportunity

    def patch_opportunity(
        self,
        opportunity_id: int,
        body: dict[str, Any],
        *,
        allow_new_options: bool = False,
        kind: str | None = None,
    ) -> Opportunity:
        with self._lock:
            opportunity = self.get_opportunity(opportunity_id, kind)
            clean = self._rules.clean_opportunity(
                body, partial=True, allow_new_options=allow_new_options
            )
            self._rules.check_phase_of(opportunity, clean)
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
            self._rules.add_options(new_fields.get("custom") or {})
            self._apply(opportunity, new_fields, before)
            self._link_contact(opportunity)
            return opportunity

    def delete_opportunity(self, opportunity_id: int, kind: str | None = None) -> None:
        with self._lock:
            self.get_opportunity(opportunity_id, kind).deleted_at = self._clock.now()

    def with_custom_value(self, key: str, raw: str, kind: str | None = None) -> list[Opportunity]:
        """Live opportunities whose custom ``key`` may equal ``raw`` (a superset of the ``eq``
        matches, in creation order; the search still applies its full test)."""
        with self._lock:
            found = (self.opportunities[i] for i in self._indexes.with_custom_value(key, raw))
            return [o for o in found if o.deleted_at is None and kind in (None, o.kind)]

    def live_opportunities(self, kind: str | None = None) -> list[Opportunity]:
        with self._lock:
            return [
                o
                for o in self.opportunities.values()
                if o.deleted_at is None and kind in (None, o.kind)
            ]

    def add_appointment(
        self, opportunity_id: int, title: str, start_at: str, end_at: str | None
    ) -> Appointment:
        with self._lock:
            opportunity = self.get_opportunity(opportunity_id)
            appointment = Appointment(
                self._id(), opportunity_id, title, start_at, end_at, self._clock.now()
            )
            self.appointments[appointment.id] = appointment
            self._automation.emit(
                opportunity,
                "APPOINTMENT_CREATED",
                # The page's extra fields: the appointment and when it is due (its start).
                {"appointmentId": appointment.id, "dueDate": start_at},
            )
            return appointment

    def reschedule_appointment(
        self, appointment_id: int, start_at: str, end_at: str | None
    ) -> Appointment:
        with self._lock:
            appointment = self.appointments.get(appointment_id)
            if appointment is None:
                raise CoperniqError(404, f"appointment {appointment_id} not found", "NOT_FOUND")
            previous = appointment.start_at
            appointment.start_at, appointment.end_at = start_at, end_at
            self._automation.emit(
                self.get_opportunity(appointment.opportunity_id),
                "APPOINTMENT_RESCHEDULED",
                {"appointmentId": appointment.id, "dueDate": start_at, "previousDueDate": previous},
            )
            return appointment

    # contacts, accounts, notes, properties ------------------------------------------------

    def _new_contact(self, fields: dict[str, Any]) -> Contact:
        now = self._clock.now()
        contact = Contact(self._id(), fields, now, now)
        contact.fields.setdefault("projectIds", [])
        self.contacts[contact.id] = contact
        self._indexes.reindex_contact(contact, None, live=True)
        return contact

    def create_contact(self, body: dict[str, Any]) -> Contact:
        with self._lock:
            fields = self._rules.clean_contact(body, partial=False)
            return self._new_contact(fields)

    def patch_contact(self, contact_id: int, body: dict[str, Any]) -> Contact:
        with self._lock:
            contact = self.get_contact(contact_id)
            before = dict(contact.fields)
            contact.fields.update(self._rules.clean_contact(body, partial=True))
            self._indexes.reindex_contact(contact, before, live=True)
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
            self._indexes.reindex_contact(contact, contact.fields, live=False)

    def create_account(self, body: dict[str, Any]) -> Contact:
        with self._lock:
            fields = self._rules.clean_account(body)
            fields["number"] = self._next_account_number
            self._next_account_number += 1
            now = self._clock.now()
            account = Contact(self._id(), fields, now, now)
            self.accounts[account.id] = account
            return account

    def get_account(self, account_id: int) -> Contact:
        with self._lock:
            account = self.accounts.get(account_id)
            if account is None:
                raise CoperniqError(404, f"account {account_id} not found", "NOT_FOUND")
            return account

    def patch_account(self, account_id: int, body: dict[str, Any]) -> Contact:
        with self._lock:
            account = self.get_account(account_id)
            account.fields.update(self._rules.clean_account(body, partial=True))
            account.updated_at = self._clock.now()
            return account

    def delete_account(self, account_id: int) -> None:
        with self._lock:
            self.get_account(account_id)
            del self.accounts[account_id]

    def _record(self, record_id: int, kind: str | None) -> None:
        """The live record a note is on (``kind`` ``account``, or an opportunity/project)."""
        if kind == "account":
            self.get_account(record_id)
        else:
            self.get_opportunity(record_id, kind)

    def add_note(self, record_id: int, body: Any, kind: str | None = None) -> Note:
        with self._lock:
            self._record(record_id, kind)
            text = note_body(body)
            now = self._clock.now()
            note = Note(self._id(), record_id, text, now, now)
            self.notes[note.id] = note
            return note

    def notes_of(self, record_id: int, kind: str | None = None) -> list[Note]:
        with self._lock:
            self._record(record_id, kind)
            return [
                n
                for n in self.notes.values()
                if n.opportunity_id == record_id and n.deleted_at is None
            ]

    def get_note(self, note_id: int, record_id: int | None = None) -> Note:
        """The live note; on ``record_id`` when given (the legacy paths name the record)."""
        with self._lock:
            note = self.notes.get(note_id)
            if (
                note is None
                or note.deleted_at is not None
                or (record_id is not None and note.opportunity_id != record_id)
            ):
                raise CoperniqError(404, f"note {note_id} not found", "NOT_FOUND")
            return note

    def patch_note(self, note_id: int, body: Any, record_id: int | None = None) -> Note:
        with self._lock:
            note = self.get_note(note_id, record_id)
            note.body = note_body(body)
            note.updated_at = self._clock.now()
            return note

    def delete_note(self, note_id: int, record_id: int | None = None) -> None:
        with self._lock:
            self.get_note(note_id, record_id).deleted_at = self._clock.now()

    def add_property(self, body: dict[str, Any]) -> Property:
        with self._lock:
            prop = self._rules.new_property(body)
            self.properties[prop.key_name] = prop
            return prop
