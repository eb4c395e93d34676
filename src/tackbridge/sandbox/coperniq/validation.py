"""Coperniq's rules for what a write may contain: known and writable fields, required ones,
types and ranges, workflows and their phases, accounts and contacts a record points at, custom
properties (types, dropdown options, ``allow_new_options``), contacts, accounts, notes and new
property definitions.

Every violation raises ``CoperniqError`` (``VALIDATION_ERROR``) with the field it concerns.
"""

from __future__ import annotations

import re
from typing import Any

from tackbridge.sandbox.coperniq.records import (
    STATUSES,
    WRITABLE,
    Contact,
    Opportunity,
    Property,
    Workflow,
)
from tackbridge.sandbox.errors import CoperniqError

__all__ = [
    "ACCOUNT_TYPES",
    "EMAIL",
    "PROPERTY_RECORD_TYPES",
    "REQUIRED",
    "Validator",
    "as_number",
    "bad",
    "is_empty",
    "note_body",
    "strings",
]

REQUIRED = ("title", "address", "trades")
ACCOUNT_TYPES = ("RESIDENTIAL", "COMMERCIAL")
PROPERTY_RECORD_TYPES = ("account", "opportunity", "project", "vendor", "ahj")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_empty(value: Any) -> bool:
    """What a required field may not be, and what ``enrich`` fills in."""
    return value is None or value == "" or value == [] or value == {}


def bad(message: str, field: str | None = None, status: int = 400) -> CoperniqError:
    """A rule violation on ``field``, as Coperniq answers it."""
    return CoperniqError(status, message, "VALIDATION_ERROR", field)


def as_number(value: Any, name: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"{name} must be a number", name)
    return value


def strings(value: Any, name: str, *, non_empty: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad(f"{name} must be an array of strings", name)
    if non_empty and not [v for v in value if v.strip()]:
        raise bad(f"{name} must not be empty", name)
    return list(value)


class Validator:
    """Checks writes against the account's workflows and custom properties and the records a
    write may point at; it holds the store's own dictionaries, so it always sees their current
    contents. ``add_options`` is the one change it makes: new dropdown options, once allowed."""

    def __init__(
        self,
        *,
        workflows: dict[int, Workflow],
        properties: dict[str, Property],
        opportunities: dict[int, Opportunity],
        contacts: dict[int, Contact],
        accounts: dict[int, Contact],
    ) -> None:
        self.workflows = workflows
        self.properties = properties
        self.opportunities = opportunities
        self.contacts = contacts
        self.accounts = accounts

    def clean_opportunity(
        self, body: dict[str, Any], *, partial: bool, allow_new_options: bool
    ) -> dict[str, Any]:
        # The document forbids no other fields: ones Coperniq does not write are ignored.
        if not partial:
            for name in REQUIRED:
                if is_empty(body.get(name)):
                    raise bad(f"{name} is required", name)
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name not in WRITABLE:
                continue
            out[name] = self._clean_field(name, value, allow_new_options)
        workflow_id = out.get("workflowId")
        phase_id = out.get("phaseId")
        if phase_id is not None and workflow_id is None and not partial:
            # A phase names its workflow: infer it rather than drop the phase.
            out["workflowId"] = workflow_id = self.workflow_of(phase_id)
        if phase_id is not None and workflow_id is not None:
            workflow = self.workflows[workflow_id]
            if phase_id not in {p.id for p in workflow.phases}:
                raise bad(f"phase {phase_id} is not a phase of workflow {workflow_id}", "phaseId")
        return out

    def workflow_of(self, phase_id: int) -> int:
        for workflow in self.workflows.values():
            if phase_id in {p.id for p in workflow.phases}:
                return workflow.id
        raise bad(f"phase {phase_id} does not exist", "phaseId")

    def _clean_field(self, name: str, value: Any, allow_new_options: bool) -> Any:
        if value is None:
            if name in REQUIRED:
                raise bad(f"{name} is required", name)
            return None
        if name in ("title", "description", "primaryPhone", "primaryEmail"):
            if not isinstance(value, str):
                raise bad(f"{name} must be a string", name)
            if name == "title" and not value.strip():
                raise bad("title is required", name)
            if name == "primaryEmail" and value and not EMAIL.match(value):
                raise bad("primaryEmail is not an email address", name)
            if name == "primaryPhone" and value and len(re.sub(r"\D", "", value)) < 7:
                raise bad("primaryPhone is not a phone number", name)
            return value
        if name == "address":
            items = strings(value, name, non_empty=True)
            if len(items) != 1:
                raise bad("address must be an array containing a single string", name)
            return items
        if name == "trades":
            return strings(value, name, non_empty=True)
        if name in ("value", "size"):
            return as_number(value, name)
        if name == "confidence":
            number = as_number(value, name)
            if not 0 <= number <= 100:
                raise bad("confidence must be between 0 and 100", name)
            return number
        if name == "status":
            if value not in STATUSES:
                raise bad(f"status must be one of {', '.join(STATUSES)}", name)
            return value
        if name == "workflowId":
            if isinstance(value, bool) or not isinstance(value, int) or value not in self.workflows:
                raise bad(f"workflow {value!r} does not exist", name)
            return value
        if name == "phaseId":
            phase_ids = {p.id for w in self.workflows.values() for p in w.phases}
            if isinstance(value, bool) or not isinstance(value, int) or value not in phase_ids:
                raise bad(f"phase {value!r} does not exist", name)
            return value
        if name == "accountId":
            if isinstance(value, bool) or not isinstance(value, int) or value not in self.accounts:
                raise bad(f"account {value!r} does not exist", name)
            return value
        if name == "contacts":
            if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                raise bad("contacts must be an array of contact IDs", name)
            for contact_id in value:
                if contact_id not in self.contacts:
                    raise bad(f"contact {contact_id} does not exist", name)
            return list(value)
        if name == "custom":
            if not isinstance(value, dict):
                raise bad("custom must be an object", name)
            return {k: self._clean_custom(k, v, allow_new_options) for k, v in value.items()}
        raise bad(f"unknown field {name}", name)  # pragma: no cover - WRITABLE is exhaustive

    def _clean_custom(self, key: str, value: Any, allow_new_options: bool) -> Any:
        where = f"custom.{key}"
        prop = self.properties.get(key)
        if prop is None or prop.record_type != "opportunity":
            raise bad(f"unknown custom property {key!r} (see GET /properties)", where)
        if value is None:
            return None
        if prop.type == "NUMERIC":
            return as_number(value, where)
        if prop.type in ("TEXT", "DATE"):
            if not isinstance(value, str):
                raise bad(f"{where} must be a string", where)
            return value
        values = value if prop.is_multiple else [value]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            shape = "an array of strings" if prop.is_multiple else "a string"
            raise bad(f"{where} must be {shape}", where)
        for option in values:
            if option not in prop.options and not allow_new_options:
                raise bad(
                    f"{option!r} is not an option of {key}; pass allow_new_options=true to add it",
                    where,
                )
        return value

    def add_options(self, custom: dict[str, Any]) -> None:
        for key, value in custom.items():
            prop = self.properties[key]
            if prop.type != "DROPDOWN" or value is None:
                continue
            for option in value if isinstance(value, list) else [value]:
                if option not in prop.options:
                    prop.options.append(option)

    def clean_contact(self, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        allowed = {"name", "phones", "emails", "title", "accountIds", "projectIds"}
        body = {k: v for k, v in body.items() if k in allowed}  # others are ignored
        if not partial and (not isinstance(body.get("name"), str) or not body["name"].strip()):
            raise bad("name is required", "name")
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name in ("name", "title"):
                if not isinstance(value, str):
                    raise bad(f"{name} must be a string", name)
                out[name] = value
            elif name in ("phones", "emails"):
                items = strings(value, name, non_empty=False)
                if name == "emails":
                    for item in items:
                        if not EMAIL.match(item):
                            raise bad(f"{item!r} is not an email address", name)
                out[name] = items
            else:
                if not isinstance(value, list) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value
                ):
                    raise bad(f"{name} must be an array of IDs", name)
                pool: dict[int, Any] = self.accounts if name == "accountIds" else self.opportunities
                for item in value:
                    if item not in pool:
                        raise bad(f"{name}: {item} does not exist", name)
                out[name] = list(value)
        return out

    def clean_account(self, body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        title = body.get("title")
        if not partial or "title" in body:
            if not isinstance(title, str) or not title.strip():
                raise bad("title is required", "title")
            out["title"] = title
        if not partial or "address" in body:
            address = body.get("address")
            if isinstance(address, str):
                address = [address]
            if is_empty(address):
                raise bad("address is required", "address")
            out["address"] = strings(address, "address", non_empty=True)
        for name in ("description", "primaryEmail", "primaryPhone"):
            if name in body:
                value = body[name]
                if value is not None and not isinstance(value, str):
                    raise bad(f"{name} must be a string", name)
                out[name] = value
        if "isActive" in body:
            if not isinstance(body["isActive"], bool):
                raise bad("isActive must be true or false", "isActive")
            out["isActive"] = body["isActive"]
        if "accountType" in body:
            # AccountUpsert's accountType is RESIDENTIAL or COMMERCIAL; AccountUpdate's may
            # also be null.
            kind = body["accountType"]
            if kind not in ACCOUNT_TYPES and not (partial and kind is None):
                raise bad(f"accountType must be one of {', '.join(ACCOUNT_TYPES)}", "accountType")
            out["accountType"] = kind
        if body.get("contacts") is not None:
            contacts = body["contacts"]
            if not isinstance(contacts, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in contacts
            ):
                raise bad("contacts must be an array of contact IDs", "contacts")
            for contact_id in contacts:
                if contact_id not in self.contacts:
                    raise bad(f"contact {contact_id} does not exist", "contacts")
            out["contacts"] = list(contacts)
        if "custom" in body:
            custom = body["custom"]
            if not isinstance(custom, dict):
                raise bad("custom must be an object", "custom")
            for key in custom:
                prop = self.properties.get(key)
                if prop is None or prop.record_type != "account":
                    raise bad(
                        f"unknown custom property {key!r} (see GET /properties)", f"custom.{key}"
                    )
            out["custom"] = dict(custom)
        return out

    def check_phase_of(self, opportunity: Opportunity, clean: dict[str, Any]) -> None:
        """A patch that moves the phase alone must stay within the record's workflow."""
        if "phaseId" in clean and clean["phaseId"] is not None and "workflowId" not in clean:
            workflow_id = opportunity.fields.get("workflowId")
            workflow = self.workflows.get(workflow_id) if workflow_id else None
            if workflow is None or clean["phaseId"] not in {p.id for p in workflow.phases}:
                raise bad("phaseId is not a phase of the opportunity's workflow", "phaseId")

    def new_property(self, body: dict[str, Any]) -> Property:
        """The property ``body`` defines (not yet stored): a redefined key keeps its ID."""
        key = body.get("keyName")
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise bad("keyName must be snake_case", "keyName")
        kind = body.get("type", "TEXT")
        if kind not in ("TEXT", "NUMERIC", "DROPDOWN", "DATE"):
            raise bad("type must be TEXT, NUMERIC, DROPDOWN or DATE", "type")
        options = body.get("options") or []
        # The document's record types; ``client`` and ``request`` are the old names of
        # ``account`` and ``opportunity`` (accepted as input, kept under the new name).
        record_type = body.get("recordType", "opportunity")
        record_type = {"client": "account", "request": "opportunity"}.get(record_type, record_type)
        if record_type not in PROPERTY_RECORD_TYPES:
            choices = ", ".join(PROPERTY_RECORD_TYPES)
            raise bad(f"recordType must be one of {choices}", "recordType")
        # A redefined key keeps its ID; a new one never reuses another's.
        existing = self.properties.get(key)
        last = max((p.id for p in self.properties.values()), default=0)
        return Property(
            id=existing.id if existing else last + 1,
            key_name=key,
            name=str(body.get("name") or key),
            type=kind,
            is_multiple=bool(body.get("isMultiple", False)),
            options=strings(options, "options", non_empty=False),
            record_type=record_type,
        )


def note_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise bad("body is required", "body")
    return body
