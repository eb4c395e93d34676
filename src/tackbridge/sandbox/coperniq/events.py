"""Coperniq's automation events: what each change of an opportunity fires (created, status moved,
phase started or completed, custom property updated, appointment created or rescheduled), the
payload an automation webhook receives, the log ``/_sandbox/coperniq/events`` shows, and the
listeners (the dispatcher) told of each event as it fires.

Phase progression lives here too, because moving to a phase is what fires the phase events: the
phases before it complete, it starts, the ones after it are reset.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tackbridge.sandbox.clock import Clock
from tackbridge.sandbox.coperniq.records import Opportunity, PhaseInstance

__all__ = ["TRIGGER_NAMES", "AutomationEvents", "EventListener"]

TRIGGER_NAMES = {
    "REQUEST_CREATED": "Opportunity created",
    "DEAL_STATUS_MOVEMENT": "Opportunity status changed",
    "REQUEST_PHASE_STARTED": "Opportunity phase started",
    "REQUEST_PHASE_COMPLETED": "Opportunity phase completed",
    "DEAL_PROPERTY_UPDATED": "Opportunity property updated",
    "APPOINTMENT_CREATED": "Appointment created",
    "APPOINTMENT_RESCHEDULED": "Appointment rescheduled",
}

EventListener = Callable[[dict[str, Any]], object]


def record_of(o: Opportunity) -> dict[str, Any]:
    """The record an automation webhook carries: its identity, title, status, stage, address,
    value, owner, primary contact and timestamps."""
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
        "uid": o.uid,
        "type": o.kind,
        "title": f.get("title"),
        "status": f.get("status"),
        "stage": stage,
        "address": list(f.get("address") or []),
        "value": f.get("value"),
        "owner": None,
        "contact": contact,
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

    def emit(
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
            "record": record_of(opportunity),
        }
        self.log.append(payload)
        for listener in list(self.listeners):
            listener(payload)

    def fields_changed(
        self, opportunity: Opportunity, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        """A status movement and a custom property update, whichever the change made."""
        if before.get("status") != after.get("status"):
            self.emit(
                opportunity,
                "DEAL_STATUS_MOVEMENT",
                {"fromStatus": before.get("status"), "toStatus": after.get("status")},
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
                "phaseInstanceId": instance.id,
                "phaseTemplateId": instance.phase.id,
                "phaseName": instance.phase.name,
                "phaseType": instance.phase.type,
                "status": instance.status,
            },
        )
