"""What the store keeps for the CRM side: each business's destination choice (secrets sealed),
the record each lead became at its destination, and the Coperniq automation events received.

A business without a choice of its own gets the settings' default (``DestinationRegistry``:
Coperniq when a Coperniq key is configured, else the signed webhook when a URL is, else none).
The row's shape is the registry's: ``destination`` (the kind), ``destination_options`` (every
type's fields of the request that chose it) and ``destination_secret`` (the kind's, sealed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy import Connection, bindparam, select, update

from tackbridge.crm.destination import DestinationConfig
from tackbridge.crm.destinations import Choice, DestinationRegistry
from tackbridge.crm.destinations.coperniq import link_destination
from tackbridge.crm.destinations.none import NONE
from tackbridge.payloads.coperniq import RecordType
from tackbridge.settings import Settings
from tackbridge.store import business_settings
from tackbridge.store.schema import crm_events, crm_links
from tackbridge.store.secrets import SecretBox
from tackbridge.store.upsert import insert_ignore

__all__ = [
    "Link",
    "describe_destination",
    "destination_for",
    "get_event",
    "has_destination",
    "lead_of_record",
    "link_of_lead",
    "own_secret_kind",
    "save_destination",
    "save_link",
    "settle_event",
]


def _own_config(
    row: Any, settings: Settings, box: Callable[[], SecretBox], types: DestinationRegistry
) -> DestinationConfig:
    secret = SecretStr(box().open(row.destination_secret)) if row.destination_secret else None
    return types.config(
        str(row.destination), settings, stored=row.destination_options, secret=secret
    )


def destination_for(
    conn: Connection,
    business_id: str | None,
    settings: Settings,
    box: Callable[[], SecretBox],
    types: DestinationRegistry,
) -> DestinationConfig:
    """The business's destination; ``box`` is asked for only when a sealed secret is read."""
    row = business_settings.get(conn, business_id) if business_id else None
    if row is None or row.destination is None:
        return types.default(settings)
    return _own_config(row, settings, box, types)


def has_destination(row: Any, settings: Settings, types: DestinationRegistry) -> bool:
    """Whether a business whose settings row is ``row`` (None: it has none) sends its records
    anywhere: False for the ``none`` destination, whose deliveries would all be skipped, so
    that a new lead queues no CRM job for it."""
    kind = row.destination if row is not None and row.destination else None
    return (kind or types.default_kind(settings)) != NONE.kind


def describe_destination(
    conn: Connection,
    business_id: str,
    settings: Settings,
    box: Callable[[], SecretBox],
    types: DestinationRegistry,
) -> BaseModel:
    """The business's choice as ``GET /api/businesses/{id}/destination`` answers it."""
    row = business_settings.get(conn, business_id)
    if row is None or row.destination is None:
        return types.answer(business_id, types.default(settings), stored=None, inherited=True)
    config = _own_config(row, settings, box, types)
    return types.answer(business_id, config, stored=row.destination_options, inherited=False)


def own_secret_kind(conn: Connection, business_id: str) -> str | None:
    """The kind whose secret the business stored (kept by a PUT of that kind without one)."""
    row = business_settings.get(conn, business_id)
    if row is None or not row.destination_secret:
        return None
    return str(row.destination)


def save_destination(
    conn: Connection,
    business_id: str,
    choice: Choice,
    box: SecretBox | None,
    now: datetime,
) -> None:
    """``box`` seals the secret ``choice`` carries (it is needed only then)."""
    row = business_settings.get(conn, business_id)
    sealed = row.destination_secret if row is not None else None
    if choice.secret is not None:
        if box is None:
            raise ValueError("a secret box is needed to store a secret")
        sealed = box.seal(choice.secret.get_secret_value())
    elif row is not None and row.destination != choice.kind:
        sealed = None  # a secret of another kind must not carry over
    values = {
        "destination": choice.kind,
        "destination_options": choice.options,
        "destination_secret": sealed,
        "updated_at": now,
    }
    business_settings.put(conn, business_id, values)


@dataclass(frozen=True)
class Link:
    lead_id: str
    destination: str
    external_id: str | None
    outcome: str


def save_link(conn: Connection, link: Link, now: datetime) -> None:
    inserted = insert_ignore(
        conn,
        crm_links,
        {
            "lead_id": link.lead_id,
            "destination": link.destination,
            "external_id": link.external_id,
            "outcome": link.outcome,
            "created_at": now,
        },
        ["lead_id"],
    )
    if not inserted:
        conn.execute(
            update(crm_links)
            .where(crm_links.c.lead_id == link.lead_id)
            .values(
                destination=link.destination, external_id=link.external_id, outcome=link.outcome
            )
        )


_LINK_OF_LEAD = select(crm_links).where(crm_links.c.lead_id == bindparam("lead_id"))


def link_of_lead(conn: Connection, lead_id: str) -> Link | None:
    row = conn.execute(_LINK_OF_LEAD, {"lead_id": lead_id}).first()
    return None if row is None else Link(row.lead_id, row.destination, row.external_id, row.outcome)


def lead_of_record(
    conn: Connection, external_id: str, record_type: RecordType = "opportunity"
) -> str | None:
    """The lead that became this Coperniq record (an opportunity or a project: their IDs are
    not told apart otherwise)."""
    row = conn.execute(
        select(crm_links.c.lead_id)
        .where(
            crm_links.c.external_id == external_id,
            crm_links.c.destination == link_destination(record_type),
        )
        .order_by(crm_links.c.id)
        .limit(1)
    ).first()
    return None if row is None else str(row.lead_id)


def get_event(conn: Connection, event_row_id: int) -> Any:
    return conn.execute(select(crm_events).where(crm_events.c.id == event_row_id)).first()


def settle_event(
    conn: Connection,
    event_row_id: int,
    outcome: str,
    *,
    lead_id: str | None = None,
    job_status: str | None = None,
) -> None:
    conn.execute(
        update(crm_events)
        .where(crm_events.c.id == event_row_id)
        .values(outcome=outcome, lead_id=lead_id, job_status=job_status)
    )
