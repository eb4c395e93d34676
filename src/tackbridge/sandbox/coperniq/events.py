"""Coperniq's automation events: what each change of an opportunity fires (created, status moved,
phase started or completed, custom property updated, appointment created or rescheduled), the
payload an automation webhook receives, the log ``/_sandbox/coperniq/events`` shows, and the
listeners (the dispatcher) told of each event as it fires.

Phase progression lives here too, because moving to a phase is what fires the phase events: the
phases before it complete, it starts, the ones after it are reset.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tackbridge.sandbox.clock import Clock
from tackbridge.sandbox.coperniq.records import API_USER, Opportunity, PhaseInstance

__all__ = ["TRIGGER_NAMES", "AutomationEvents", "EventListener", "record_of", "trigger_for"]

# The trigger keys of docs.coperniq.io's "Webhooks" page (Coperniq's OpenAPI document has no
# webhooks): an opportunity's (a "request", a "deal") and a project's differ. The names are
# the sandbox's own: the page gives none.
TRIGGER_NAMES = {
    "REQUEST_CREATED": "Opportunity created",
    "DEAL_STATUS_MOVEMENT": "Opportunity status changed",
    "REQUEST_PHASE_STARTED": "Opportunity phase started",
    "REQUEST_PHASE_COMPLETED": "Opportunity phase completed",
    "DEAL_PROPERTY_UPDATED": "Opportunity property updated",
    "PROJECT_CREATED": "Project created",
    "PROJECT_STATUS_MOVEMENT": "Project status changed",
    "PROJECT_PHASE_STARTED": "Project phase started",
    "PROJECT_PHASE_COMPLETED": "Project phase completed",
    "PROJECT_PROPERTY_UPDATED": "Project property updated",
    "APPOINTMENT_CREATED": "Appointment created",
    "APPOINTMENT_RESCHEDULED": "Appointment rescheduled",
}
_PROJECT_KEYS = {
    "REQUEST_CREATED": "PROJECT_CREATED",
    "DEAL_STATUS_MOVEMENT": "PROJECT_STATUS_MOVEMENT",
    "REQUEST_PHASE_STARTED": "PROJECT_PHASE_STARTED",
    "REQUEST_PHASE_COMPLETED": "PROJECT_PHASE_COMPLETED",
    "DEAL_PROPERTY_UPDATED": "PROJECT_PROPERTY_UPDATED",
}
# ``record.type`` there: "PROJECT", "DEAL" (an opportunity) or "ACCOUNT".
_RECORD_TYPES = {"opportunity": "DEAL", "project": "PROJECT"}

EventListener = Callable[[dict[str, Any]], object]


def trigger_for(o: Opportunity, trigger: str) -> str:
    """The key a change fires for this record: a project's own, else the opportunity's."""
    return _PROJECT_KEYS.get(trigger, trigger) if o.kind == "project" else trigger


def record_of(o: Opportunity) -> dict[str, Any]:
    """The record an automation webhook carries. The page names its fields (id, uid, type,
    title, status, stage, address, geoLocation, dealValue, owner, primary contact and
    timestamps) and types only the first three: ``uid`` is the record's number. The keys of
    the primary contact and the timestamps, and the shapes of ``stage`` and ``owner``, are the
    sandbox's reading (the API's: ``stage`` as an opportunity's ``phase``, ``owner`` as
    OpportunityOwner)."""
    f = o.fields
    current = next((i for i in o.phase_instances if i.phase.id == f.get("phaseId")), None)
    stage = (
        {"id": current.phase.id, "name": current.phase.name, "type": current.phase.type}
        if current
        else None
    )
    contact = (
        {"email": f.get("primaryEmail"), "phone": f.get("primaryPhone")}
        if f.get("primaryEmail") or f.get("primaryPhone")
        else None
    )
    return {
        "id": o.id,
        "uid": o.number,
        "type": _RECORD_TYPES[o.kind],
        "title": f.get("title"),
        "status": f.get("status"),
        "stage": stage,
        "address": list(f.get("address") or []),
        "geoLocation": [],
        "dealValue": f.get("value"),
        "owner": dict(API_USER),
        "primaryContact": contact,
        "createdAt": _iso(o.created_at),
        "updatedAt": _iso(o.updated_at),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


class AutomationEvents:
    """The event log and its listeners. Called with the store's lock held, so events are logged
    and handed to listeners in the order the changes happened."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.log: list[dict[str, Any]] = []
        self.listeners: list[EventListener] = []
        # Numbers, unique across restarts as real ones are (a receiver dedupes on them): each
        # run counts up from its own random start.
        self._next_event_id = secrets.randbelow(2**40) * 1000

    def emit(
        self, opportunity: Opportunity, trigger: str, extra: dict[str, Any] | None = None
    ) -> None:
        # ``trigger`` is the opportunity's key; a project fires its own. Event IDs are numbers.
        trigger = trigger_for(opportunity, trigger)
        self._next_event_id += 1
        payload = {
            "event": {
                "eventId": self._next_event_id,
                "recordId": opportunity.id,
                "triggerKey": trigger,
                "triggerName": TRIGGER_NAMES.get(trigger, trigger),
                "firedAt": self._clock.now().isoformat(timespec="seconds").replace("+00:00", "Z"),
                **(extra or {}),
            },
            "record": record_of(opportunity),
        }
        self.log.append(payload)
        for listener in list(self.listeners):
            listener(payload)

    def fields_changed(
        self, opportunity: Opportunity, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        """A status movement and a custom property update, whichever the change made. The page
        lists no extra field for a status movement (the record carries its new status); the
        sandbox adds the previous and current status under the names the page gives a work
        order's status movement, as Coperniq's support article says events carry both."""
        if before.get("status") != after.get("status"):
            self.emit(
                opportunity,
                "DEAL_STATUS_MOVEMENT",
                {"previousStatus": before.get("status"), "currentStatus": after.get("status")},
            )
        if (before.get("custom") or {}) != (after.get("custom") or {}):
            self.emit(opportunity, "DEAL_PROPERTY_UPDATED")

    def move_to_phase(self, opportunity: Opportunity, phase_id: int) -> None:
        """Walks the opportunity's phase instances to ``phase_id``, firing what changes."""
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
        self.emit(
            opportunity,
            trigger,
            {
                # The page's extra fields for a phase event: no phase name.
                "phaseInstanceId": instance.id,
                "phaseTemplateId": instance.phase.id,
                "phaseType": instance.phase.type,
                "status": instance.status,
            },
        )
