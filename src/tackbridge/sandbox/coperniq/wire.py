"""Coperniq's answers: an opportunity (validated against the shared model the product reads,
``tackbridge.payloads.coperniq``), a contact or account, and a note, as the API returns them.
"""

from __future__ import annotations

from typing import Any

from tackbridge.payloads.coperniq import Opportunity as OpportunityModel
from tackbridge.sandbox.coperniq.records import Contact, Note, Opportunity, split_address
from tackbridge.sandbox.coperniq.store import CoperniqStore
from tackbridge.sandbox.httputil import iso

__all__ = ["contact_wire", "note_wire", "opportunity_wire"]


def opportunity_wire(store: CoperniqStore, o: Opportunity) -> dict[str, Any]:
    f = o.fields
    address: list[str] = f.get("address") or []
    parts = split_address(address[0]) if address else {}
    workflow = store.workflows.get(f["workflowId"]) if f.get("workflowId") else None
    current = next((i for i in o.phase_instances if i.phase.id == f.get("phaseId")), None)
    wire = {
        "id": o.id,
        "uid": o.uid,
        "createdAt": iso(o.created_at),
        "updatedAt": iso(o.updated_at),
        "title": f.get("title"),
        "description": f.get("description"),
        "address": address,
        "isActive": f.get("status") in ("ACTIVE", "ON_HOLD"),
        "primaryEmail": f.get("primaryEmail"),
        "primaryPhone": f.get("primaryPhone"),
        "number": o.number,
        "custom": dict(f.get("custom") or {}),
        "trades": list(f.get("trades") or []),
        "value": f.get("value"),
        "size": f.get("size"),
        "confidence": f.get("confidence"),
        "status": f.get("status"),
        "workflowId": f.get("workflowId"),
        "workflowName": workflow.name if workflow else "",
        "accountId": f.get("accountId"),
        "createdById": 1,
        "geoLocation": [],
        "imageUrl": None,
        "streetViewUrl": None,
        "city": parts.get("city"),
        "zipcode": parts.get("zipcode"),
        "state": parts.get("state"),
        "street": parts.get("street"),
        "phaseId": f.get("phaseId"),
        "phase": (
            {"id": current.phase.id, "name": current.phase.name, "type": current.phase.type}
            if current
            else None
        ),
        "phaseInstances": [
            {
                "id": i.id,
                "phaseTemplateId": i.phase.id,
                "name": i.phase.name,
                "type": i.phase.type,
                "status": i.status,
                "startedAt": iso(i.started_at) if i.started_at else None,
                "completedAt": iso(i.completed_at) if i.completed_at else None,
            }
            for i in o.phase_instances
        ],
        "contacts": list(f.get("contacts") or []),
        "owner": None,
        "salesRep": None,
        "projectManager": None,
        "jurisdiction": None,
        "lastActivity": iso(o.updated_at),
    }
    # The shared model is the contract the product reads; validating here keeps them in step.
    return OpportunityModel.model_validate(wire).model_dump(mode="json")


def contact_wire(c: Contact) -> dict[str, Any]:
    # A contact always answers its phones and emails, if only empty, and (the document's
    # Contact) its creator and the accounts and projects it is linked to.
    extra: dict[str, Any] = {}
    if "name" in c.fields:
        extra = {
            "phones": [],
            "emails": [],
            "createdByUser": {"id": AUTHOR["id"]},
            "accounts": [{"id": i} for i in c.fields.get("accountIds") or []],
            "projects": [{"id": i} for i in c.fields.get("projectIds") or []],
        }
    return {
        "id": c.id,
        **extra,
        **{k: v for k, v in c.fields.items()},
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
    }


# Every note the sandbox's API key writes is authored by its one user.
AUTHOR = {"id": 1, "firstName": "Sandbox", "lastName": "User", "email": "api@coperniq.test"}


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
