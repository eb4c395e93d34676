"""Coperniq's records as the sandbox keeps them, without rules: opportunities (with their phase
instances), contacts and accounts, notes, appointments, custom properties and workflows, the
default account's properties and workflows, and the vocabulary they use (statuses, writable
fields, Thumbtack's dropdown options). Validation, matching and events build on these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "API_USER",
    "DEFAULT_WORKFLOWS",
    "STATUSES",
    "THUMBTACK_CHARGE_STATES",
    "THUMBTACK_LEAD_TYPES",
    "WRITABLE",
    "Appointment",
    "Contact",
    "Note",
    "Opportunity",
    "Phase",
    "PhaseInstance",
    "Property",
    "Workflow",
    "default_properties",
    "split_address",
]

STATUSES = ("ACTIVE", "ON_HOLD", "CANCELLED", "COMPLETED")
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
_ZIP = re.compile(r"\b(\d{5})(?:-\d{4})?\b")


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
            "defaultValue": [],
            "isCustom": True,
            "recordType": self.record_type,
        }


# The one user the sandbox's API key acts as: it creates, edits and (as Coperniq makes the
# creator the owner) owns every record written through the API, and writes every note.
API_USER: dict[str, Any] = {
    "id": 1,
    "firstName": "Sandbox",
    "lastName": "User",
    "email": "api@coperniq.test",
    "phone": None,
    "avatarUrl": None,
}


@dataclass(frozen=True)
class Phase:
    """A workflow's phase template (the document's WorkflowPhasesItems): SLAs in days."""

    id: int
    name: str
    type: str
    yellow_sla: int | None = None
    red_sla: int | None = None
    description: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "redSla": self.red_sla,
            "yellowSla": self.yellow_sla,
        }

    def template(self) -> dict[str, Any]:
        """As a phase instance names it (PhaseTemplateSummary)."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "redSla": self.red_sla,
            "yellowSla": self.yellow_sla,
        }


WORKFLOWS_CREATED_AT = "2024-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Workflow:
    id: int
    name: str
    phases: tuple[Phase, ...]

    def wire(self) -> dict[str, Any]:
        # The document's Workflow: every workflow is of type PROJECT; the sandbox's are seeded,
        # so they carry a fixed creation time and no creator.
        return {
            "id": self.id,
            "name": self.name,
            "description": None,
            "type": "PROJECT",
            "createdAt": WORKFLOWS_CREATED_AT,
            "updatedAt": WORKFLOWS_CREATED_AT,
            "createdBy": None,
            "phases": [p.wire() for p in self.phases],
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
    kind: str = "opportunity"  # or "project": the two share ids, rules and events


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
            Phase(11, "New lead", "LEAD", 1, 2, "Reply within the hour"),
            Phase(12, "Contacted", "SALES", 2, 4),
            Phase(13, "Appointment scheduled", "SALES", 3, 7),
            Phase(14, "Job in progress", "PRODUCTION", 7, 14),
            Phase(15, "Job complete", "COMPLETE", 3, 7, "Invoice sent"),
            Phase(16, "Paid", "COMPLETE"),
        ),
    ),
    Workflow(
        2,
        "Service calls",
        (Phase(21, "Scheduled", "SALES", 1, 3), Phase(22, "Done", "COMPLETE")),
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


def default_properties() -> list[Property]:
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
