"""Coperniq's answers, as its public OpenAPI document (api-evangelist/coperniq,
openapi/_original/coperniq-openapi.yml) shapes them: an opportunity (Opportunity), a project
(Project, and ProjectWithPhaseInstances from ``GET /projects/{id}``), a contact (Contact), an
account (Account) and a note. Records are validated against the shared model the product reads
(``tackbridge.payloads.coperniq``), which keeps the two in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tackbridge.payloads.coperniq import Opportunity as OpportunityModel
from tackbridge.sandbox.coperniq.records import (
    API_USER,
    Contact,
    Note,
    Opportunity,
    PhaseInstance,
    split_address,
)
from tackbridge.sandbox.coperniq.store import CoperniqStore
from tackbridge.sandbox.httputil import iso

__all__ = ["AUTHOR", "account_wire", "contact_wire", "note_wire", "opportunity_wire"]

# UserSummary (createdBy, updatedBy): the API key's user.
_USER = {k: API_USER[k] for k in ("id", "firstName", "lastName", "email", "avatarUrl")}


def opportunity_wire(
    store: CoperniqStore, o: Opportunity, *, detail: bool = False
) -> dict[str, Any]:
    """The record as the API answers it: an opportunity's shape, or a project's (with its
    phase instances when ``detail``, as ``GET /projects/{id}`` answers)."""
    wire = _project(store, o, detail=detail) if o.kind == "project" else _opportunity(store, o)
    # The shared model is the contract the product reads; validating here keeps them in step.
    return OpportunityModel.model_validate(wire).model_dump(mode="json", exclude_unset=True)


def _common(store: CoperniqStore, o: Opportunity) -> dict[str, Any]:
    """The fields Opportunity and Project share."""
    f = o.fields
    workflow = store.workflows.get(f["workflowId"]) if f.get("workflowId") else None
    return {
        "id": o.id,
        "createdAt": iso(o.created_at),
        "updatedAt": iso(o.updated_at),
        "title": f.get("title"),
        "description": f.get("description"),
        "address": list(f.get("address") or []),
        "isActive": f.get("status") in ("ACTIVE", "ON_HOLD"),
        "primaryEmail": f.get("primaryEmail"),
        "primaryPhone": f.get("primaryPhone"),
        "number": o.number,
        "createdBy": dict(_USER),
        # The last edit's user: never edited since its creation, null.
        "updatedBy": dict(_USER) if o.updated_at != o.created_at else None,
        "custom": dict(f.get("custom") or {}),
        "trades": list(f.get("trades") or []),
        "value": f.get("value"),
        "size": f.get("size"),
        "workflowId": f.get("workflowId"),
        "accountId": f.get("accountId"),
        # The document's Opportunity has no ``status`` (only its create body); the project's
        # does (ProjectStatus). Both answer it: it is what the status events move.
        "status": f.get("status"),
        "workflowName": workflow.name if workflow else "",
        "contacts": list(f.get("contacts") or []),
    }


def _current(o: Opportunity) -> PhaseInstance | None:
    return next((i for i in o.phase_instances if i.phase.id == o.fields.get("phaseId")), None)


def _opportunity(store: CoperniqStore, o: Opportunity) -> dict[str, Any]:
    f = o.fields
    address: list[str] = f.get("address") or []
    # city, zipcode, state and street are strings in the document (not nullable): a part the
    # address does not have is empty.
    parts = split_address(address[0]) if address else {}
    current = _current(o)
    return {
        **_common(store, o),
        "uid": o.uid,
        "confidence": f.get("confidence"),
        "geoLocation": [],
        "imageUrl": None,
        "streetViewUrl": None,
        **{part: parts.get(part) or "" for part in ("city", "zipcode", "state", "street")},
        "phaseId": f.get("phaseId"),
        # OpportunityPhase: the phase template's id, name and type.
        "phase": (
            {"id": current.phase.id, "name": current.phase.name, "type": current.phase.type}
            if current
            else None
        ),
        # PhaseInstance (the sandbox adds when each started and ended, as a project's do).
        "phaseInstances": [
            {**_instance(i, n), "phaseTemplate": i.phase.template()}
            for n, i in enumerate(o.phase_instances, start=1)
        ],
        "owner": dict(API_USER),  # OpportunityOwner: its creator
        "salesRep": None,
        "projectManager": None,
        "jurisdiction": None,
        "lastActivity": iso(o.updated_at),
    }


def _instance(i: PhaseInstance, position: int) -> dict[str, Any]:
    return {
        "id": i.id,
        "phaseTemplateId": i.phase.id,
        "name": i.phase.name,
        "type": i.phase.type,
        "status": i.status,
        "position": position,
        "startedAt": iso(i.started_at) if i.started_at else None,
        "completedAt": iso(i.completed_at) if i.completed_at else None,
    }


def _project(store: CoperniqStore, o: Opportunity, *, detail: bool) -> dict[str, Any]:
    wire = _common(store, o)
    current = _current(o)
    if current is not None:
        # ProjectPhase (Workflows 2.0, which the sandbox's workflows are): it replaces
        # ``stage``, which is then left out. Its SLAs are integers, so a phase without one
        # leaves them out; the SLA status compares the days in the phase with the red SLA.
        days = _days_since(current.started_at, store.now()) if current.started_at else 0
        phase: dict[str, Any] = {
            "instanceId": current.id,
            "templateId": current.phase.id,
            "name": current.phase.name,
            "status": current.status,
            "type": current.phase.type,
            "timeInStageDays": days,
        }
        if current.phase.red_sla is not None:
            phase["redSla"] = current.phase.red_sla
            phase["slaStatus"] = "VIOLATED" if days > current.phase.red_sla else "NON_VIOLATED"
        if current.phase.yellow_sla is not None:
            phase["yellowSla"] = current.phase.yellow_sla
        wire["phase"] = phase
    if detail:
        # ProjectWithPhaseInstancesPhaseInstancesItems.
        wire["phaseInstances"] = [
            {**_instance(i, n), "phaseTemplate": i.phase.template()}
            for n, i in enumerate(o.phase_instances, start=1)
        ]
    return wire


def _days_since(start: datetime, now: datetime) -> int:
    return max(0, (now - start).days)


def contact_wire(store: CoperniqStore, c: Contact) -> dict[str, Any]:
    # A contact always answers its phones and emails, if only empty, and (the document's
    # Contact) its creator and the accounts and projects it is linked to, by ID and title.
    extra: dict[str, Any] = {}
    if "name" in c.fields:
        extra = {
            "phones": [],
            "emails": [],
            "createdByUser": {"id": API_USER["id"]},
            "accounts": [
                _titled(store.accounts.get(i), i) for i in c.fields.get("accountIds") or []
            ],
            "projects": [
                _titled(store.opportunities.get(i), i) for i in c.fields.get("projectIds") or []
            ],
        }
    return {
        "id": c.id,
        **extra,
        **{k: v for k, v in c.fields.items() if k not in ("accounts", "projects")},
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
    }


def _titled(record: Opportunity | Contact | None, record_id: int) -> dict[str, Any]:
    title = record.fields.get("title") if record is not None else None
    return {"id": record_id, "title": title or ""}


def account_wire(store: CoperniqStore, a: Contact) -> dict[str, Any]:
    """The document's Account: its number, custom values, type and contacts (each with its
    emails and phones) beside the fields an opportunity has too."""
    f = a.fields
    contacts = [store.contacts.get(i) for i in f.get("contacts") or []]
    return {
        "id": a.id,
        "createdAt": iso(a.created_at),
        "updatedAt": iso(a.updated_at),
        "title": f.get("title"),
        "description": f.get("description"),
        "address": list(f.get("address") or []),
        "isActive": f.get("isActive", True),
        "primaryEmail": f.get("primaryEmail"),
        "primaryPhone": f.get("primaryPhone"),
        "number": f.get("number"),
        "createdBy": dict(_USER),
        "updatedBy": dict(_USER) if a.updated_at != a.created_at else None,
        "custom": dict(f.get("custom") or {}),
        "accountType": f.get("accountType"),
        "contacts": [
            {
                "id": c.id,
                "emails": list(c.fields.get("emails") or []),
                "phones": list(c.fields.get("phones") or []),
            }
            for c in contacts
            if c is not None
        ],
    }


# Every note the sandbox's API key writes is authored by its one user (NoteAuthor).
AUTHOR = {k: API_USER[k] for k in ("id", "firstName", "lastName", "email")}


def note_wire(n: Note) -> dict[str, Any]:
    return {
        "id": n.id,
        "recordId": n.opportunity_id,
        "note": n.body,
        "body": n.body,
        "author": dict(AUTHOR),  # the document's Note (PATCH /notes/{noteId})
        "createdByUser": dict(AUTHOR),  # the document's NoteListItem (the notes list)
        "createdAt": iso(n.created_at),
        "updatedAt": iso(n.updated_at),
    }
