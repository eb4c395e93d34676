"""How Coperniq finds records: the create's match rule (``match_by`` title, primaryEmail,
primaryPhone or address, then ``match_found_strategy`` skip, replace or enrich), contacts matched
by email or phone, the ``eq`` search on a custom property, and the comparable form searches use.

``Indexes`` keeps those look-ups from reading every record, as the real service's indexes would;
the store updates it on every change of a record.
"""

from __future__ import annotations

import re
from typing import Any

from tackbridge.sandbox.coperniq.records import WRITABLE, Contact, Opportunity
from tackbridge.sandbox.coperniq.validation import is_empty

__all__ = [
    "MATCH_BY",
    "STRATEGIES",
    "Indexes",
    "comparable",
    "contact_entries",
    "custom_entries",
    "digits",
    "match_entries",
    "match_key",
    "matched_fields",
    "norm",
]

MATCH_BY = ("title", "primaryEmail", "primaryPhone", "address")
STRATEGIES = ("skip", "replace", "enrich")


def digits(value: Any) -> str:
    """A phone number as it is matched: its last ten digits."""
    return re.sub(r"\D", "", str(value or ""))[-10:]


def norm(value: Any) -> str:
    """Text as it is matched: the first item of a list, lower case, spaces collapsed."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return " ".join(str(value or "").lower().split())


def match_key(match_by: str, value: Any) -> str:
    if match_by == "primaryPhone":
        return digits(value)
    return norm(value)


def matched_fields(
    existing: dict[str, Any], clean: dict[str, Any], strategy: str
) -> dict[str, Any]:
    """The fields a matched record gets from a create: ``replace`` takes the create's fields
    whole, ``enrich`` fills only what the record leaves empty (custom values one by one)."""
    if strategy == "replace":
        new_fields = {name: clean.get(name) for name in WRITABLE}
        new_fields["custom"] = clean.get("custom") or {}
        new_fields["contacts"] = clean.get("contacts") or []
        new_fields["status"] = clean.get("status") or "ACTIVE"
        return new_fields
    new_fields = dict(existing)
    for name, value in clean.items():
        if name == "custom":
            merged = dict(new_fields.get("custom") or {})
            for key, item in (value or {}).items():
                if is_empty(merged.get(key)):
                    merged[key] = item
            new_fields["custom"] = merged
        elif is_empty(new_fields.get(name)):
            new_fields[name] = value
    return new_fields


class Indexes:
    """Record IDs by what they are looked up by: (custom key, comparable value) for the ``eq``
    search, (match_by, match key) for the create's match rule, and (phones|emails, key) for
    contacts. Look-ups answer IDs in creation order (ascending), as a scan would find them."""

    def __init__(self) -> None:
        self._custom: dict[tuple[str, Any], set[int]] = {}
        self._match: dict[tuple[str, str], set[int]] = {}
        self._contacts: dict[tuple[str, str], set[int]] = {}

    def reindex(self, opportunity: Opportunity, before: dict[str, Any]) -> None:
        """After ``opportunity``'s fields changed from ``before`` (``{}`` for a new one)."""
        for entry in custom_entries(before.get("custom") or {}):
            self._custom.get(entry, set()).discard(opportunity.id)
        for entry in custom_entries(opportunity.fields.get("custom") or {}):
            self._custom.setdefault(entry, set()).add(opportunity.id)
        for entry in match_entries(before):
            self._match.get(entry, set()).discard(opportunity.id)
        for entry in match_entries(opportunity.fields):
            self._match.setdefault(entry, set()).add(opportunity.id)

    def reindex_contact(
        self, contact: Contact, before: dict[str, Any] | None, *, live: bool
    ) -> None:
        """After ``contact`` changed from ``before`` (``None`` for a new one); ``live`` is
        False once it is deleted."""
        for entry in contact_entries(before or {}):
            self._contacts.get(entry, set()).discard(contact.id)
        if live:
            for entry in contact_entries(contact.fields):
                self._contacts.setdefault(entry, set()).add(contact.id)

    def matching(self, match_by: str, value: Any) -> list[int]:
        """Opportunities a create with ``value`` in ``match_by`` may match, oldest first."""
        key = match_key(match_by, value)
        if not key:
            return []
        return sorted(self._match.get((match_by, key), ()))

    def with_custom_value(self, key: str, raw: str) -> list[int]:
        return sorted(self._custom.get((key, comparable(raw)), ()))

    def contact_for(self, email: str | None, phone: str | None) -> int | None:
        """The oldest contact with this email or phone, if any."""
        ids = self._contacts.get(("emails", email.lower()), set()) if email else set()
        if phone:
            ids = ids | self._contacts.get(("phones", digits(phone)), set())
        return min(ids) if ids else None


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


def custom_entries(custom: dict[str, Any]) -> set[tuple[str, Any]]:
    """(key, comparable value) of every custom value, each item of a multiple one apart."""
    entries: set[tuple[str, Any]] = set()
    for key, value in custom.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                entries.add((key, comparable(item)))
    return entries


def match_entries(fields: dict[str, Any]) -> set[tuple[str, str]]:
    """(match_by, match key) for every rule a create may match this record by."""
    entries = {(match_by, match_key(match_by, fields.get(match_by))) for match_by in MATCH_BY}
    return {(match_by, key) for match_by, key in entries if key}


def contact_entries(fields: dict[str, Any]) -> set[tuple[str, str]]:
    """("emails", address) and ("phones", last ten digits) of a contact."""
    entries = {("emails", str(e).lower()) for e in fields.get("emails") or []}
    entries |= {("phones", digits(p)) for p in fields.get("phones") or []}
    return {entry for entry in entries if entry[1]}
