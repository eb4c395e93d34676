"""Writing a delivery: the verbatim inbound log, the domain rows and the outbox jobs they cause,
all in the caller's transaction (one unit of work for the group-commit writer).

Every write is keyed on Thumbtack's identifiers, so a redelivery, or the same event arriving on
both the legacy and the v4 route, creates nothing new and enqueues nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Executable, bindparam, exists, select, update

from tackbridge.inbound.batch_insert import insert_numbered, prepared, query
from tackbridge.inbound.reactions import QUEUE_ONLY, Reactions
from tackbridge.leads.models import (
    AttachmentInfo,
    Delivery,
    LeadReceived,
    LeadUpdated,
    MessageReceived,
    ReviewReceived,
)
from tackbridge.leads.refs import LeadRef, LeadUpdateRef, MessageRef, ReviewRef
from tackbridge.store.schema import (
    MESSAGE_WITHOUT_LEAD,
    attachments,
    businesses,
    crm_events,
    customers,
    inbound_log,
    lead_details,
    lead_status_history,
    leads,
    messages,
    reviews,
)
from tackbridge.store.upsert import insert_ignore, insert_ignore_many_statement, upsert_statement

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
PENDING = "pending"  # stored, waiting for its lead
IGNORED = "ignored"  # stored and acknowledged, nothing to do (e.g. an unhandled v4 event type)
REJECTED = "rejected"
UNAUTHORIZED = "unauthorized"
FAILED = "failed"  # kept verbatim, but its records could not be written

_STATUS = {ACCEPTED: 200, DUPLICATE: 200, PENDING: 202, IGNORED: 200}

# Every statement is built once and executed with parameters: building Core statements per
# delivery cost several times what executing them does (see bench/RESULTS.md).
_LOG_INSERT = inbound_log.insert()
_HISTORY_INSERT = lead_status_history.insert()
_DETAILS_INSERT = lead_details.insert()
_ATTACHMENTS_INSERT = attachments.insert()
# A message without its lead has no (lead, ID) key the unique constraint can hold to (NULLs
# differ): the writer looks for it first, and a partial unique index on its ID holds two
# processes' concurrent inserts to one (``MESSAGE_WITHOUT_LEAD``).
_LEADLESS_MESSAGE = (
    select(messages.c.id)
    .where(messages.c.lead_id.is_(None), messages.c.message_id == bindparam("message_id"))
    .limit(1)
)
_LEAD_EXISTS = select(leads.c.id).where(leads.c.lead_id == bindparam("lead_id")).limit(1)
# A batch of new leads: which are stored already, which have updates waiting for them.
_KNOWN_AMONG = select(leads.c.lead_id).where(leads.c.lead_id.in_(bindparam("ids", expanding=True)))
_WAITING_AMONG = (
    select(lead_status_history.c.lead_id)
    .where(
        lead_status_history.c.lead_id.in_(bindparam("ids", expanding=True)),
        lead_status_history.c.applied.is_(False),
    )
    .distinct()
)
# The batch's inbound log rows, their IDs in the order of the rows.
_LOG_INSERT_MANY = inbound_log.insert().returning(inbound_log.c.id, sort_by_parameter_order=True)
# One round trip for a new lead: is it a duplicate, and has an update for it arrived first?
_LEAD_STATE = select(
    exists().where(leads.c.lead_id == bindparam("lead_id")),
    exists().where(
        lead_status_history.c.lead_id == bindparam("lead_id"),
        lead_status_history.c.applied.is_(False),
    ),
)
_PENDING_UPDATES = (
    select(lead_status_history)
    .where(
        lead_status_history.c.lead_id == bindparam("lead_id"),
        lead_status_history.c.applied.is_(False),
    )
    .order_by(lead_status_history.c.id)
)
_MARK_APPLIED = (
    update(lead_status_history)
    .where(lead_status_history.c.id.in_(bindparam("ids", expanding=True)))
    .values(applied=True)
)
_LATEST_UPDATE = (
    select(lead_status_history)
    .where(
        lead_status_history.c.lead_id == bindparam("lead_id"),
        lead_status_history.c.source == "update",
    )
    .order_by(lead_status_history.c.id.desc())
    .limit(1)
)
_FILL_CUSTOMER = (
    update(customers)
    .where(customers.c.customer_id == bindparam("key_id"), customers.c.display_name.is_(None))
    .values(display_name=bindparam("fill"))
)
_FILL_BUSINESS = (
    update(businesses)
    .where(businesses.c.business_id == bindparam("key_id"), businesses.c.name.is_(None))
    .values(name=bindparam("fill"))
)
_BUSINESS_UPDATE = ("name", "access_code", "updated_at")
_CUSTOMER_UPDATE = ("name", "first_name", "last_name", "display_name", "phone", "updated_at")


def _business_upsert(conn: Connection) -> Executable:
    return upsert_statement(conn.dialect.name, businesses, ("business_id",), _BUSINESS_UPDATE)


def _customer_upsert(conn: Connection) -> Executable:
    return upsert_statement(conn.dialect.name, customers, ("customer_id",), _CUSTOMER_UPDATE)


@cache
def _leads_insert_for(dialect: str) -> Executable:
    return insert_ignore_many_statement(dialect, leads, ("lead_id",), "lead_id")


def _leads_insert(conn: Connection) -> Executable:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING lead_id: the leads it inserted."""
    return _leads_insert_for(conn.dialect.name)


@cache
def _leads_insert_plain(dialect: str) -> Executable:
    return insert_ignore_many_statement(dialect, leads, ("lead_id",))


def _on_sqlite(conn: Connection) -> bool:
    """Whether a batch's rows go to the driver's cursor (``inbound.batch_insert``)."""
    return conn.dialect.name == "sqlite"


def _insert_many(conn: Connection, statement: Executable, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if _on_sqlite(conn):
        prepared(statement, conn, list(rows[0])).executemany(conn, rows)
    else:
        conn.execute(statement, rows)


_BUSINESSES_KNOWN = select(
    businesses.c.business_id, businesses.c.name, businesses.c.access_code
).where(businesses.c.business_id.in_(bindparam("ids", expanding=True)))


def _changed_businesses(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The business rows that would change what is stored: on PostgreSQL an upsert locks its
    row until the transaction commits, even when it changes nothing, and every lead of a busy
    business names it, so two ``serve`` processes' batches would take turns on that one row.
    Read first, without a lock; upsert only what is new or differs (a business renamed, or
    given an access code). SQLite's write lock is the whole file's anyway: it upserts them all."""
    if _on_sqlite(conn) or not rows:
        return rows
    known = {
        row.business_id: (row.name, row.access_code)
        for row in conn.execute(
            _BUSINESSES_KNOWN, {"ids": sorted({r["business_id"] for r in rows})}
        )
    }
    changed = []
    for row in rows:
        stored = known.get(row["business_id"])
        # The upsert keeps a stored value where the new one is null (upsert_statement).
        if stored is None or any(
            new is not None and new != old
            for new, old in zip((row["name"], row["access_code"]), stored, strict=True)
        ):
            changed.append(row)
    return changed


def _insert_new_leads(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """The leads of ``rows`` that went in (another process may have stored one first)."""
    if not _on_sqlite(conn):
        return set(conn.execute(_leads_insert(conn), rows).scalars())
    # The writer's transaction holds the file's write lock and the rows are new in it: every
    # one goes in. Should one not, the batch fails and the writer records item by item.
    statement = _leads_insert_plain(conn.dialect.name)
    changed = prepared(statement, conn, list(rows[0])).executemany(conn, rows)
    if changed != len(rows):
        raise RuntimeError(f"{changed} of {len(rows)} new leads inserted")
    return {row["lead_id"] for row in rows}


def _lead_states(conn: Connection, ids: list[str]) -> tuple[set[str], set[str]]:
    """Which of ``ids`` are stored leads, and which have updates waiting for them."""
    if not _on_sqlite(conn):
        params = {"ids": ids}
        known = set(conn.execute(_KNOWN_AMONG, params).scalars())
        return known, set(conn.execute(_WAITING_AMONG, params).scalars())
    marks = ", ".join("?" * len(ids))
    # One read for both (the same as _KNOWN_AMONG and _WAITING_AMONG), on the driver's cursor.
    rows = query(
        conn,
        f"SELECT lead_id, 0 FROM leads WHERE lead_id IN ({marks}) "  # noqa: S608 - marks only
        f"UNION ALL SELECT DISTINCT lead_id, 1 FROM lead_status_history "
        f"WHERE applied = 0 AND lead_id IN ({marks})",
        [*ids, *ids],
    )
    return {r[0] for r in rows if not r[1]}, {r[0] for r in rows if r[1]}


def _insert_log_rows(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """The inbound log's rows, their IDs in the order of the rows."""
    if not _on_sqlite(conn):
        return [int(i) for i in conn.execute(_LOG_INSERT_MANY, rows).scalars().all()]
    return insert_numbered(conn, inbound_log, _LOG_INSERT, rows)


# UPDATE without values takes its SET columns from the parameters; a bind named like a column
# is reserved for SET, hence ``key_lead_id``.
_UPDATE_LEAD = update(leads).where(leads.c.lead_id == bindparam("key_lead_id"))


def _set_lead(conn: Connection, lead_id: str, changes: dict[str, Any], now: datetime) -> None:
    conn.execute(_UPDATE_LEAD, {**changes, "updated_at": now, "key_lead_id": lead_id})


@dataclass(frozen=True)
class InboundRequest:
    """What arrived, as the inbound log keeps it."""

    route: str
    method: str
    headers: dict[str, str]
    body: bytes | None
    body_size: int
    received_at: datetime
    body_truncated: bool = False


@dataclass(frozen=True)
class Outcome:
    outcome: str
    status_code: int
    record_kind: str | None
    record_id: str | None
    inbound_id: int
    #: Whether storing it may have queued jobs: only then is the worker woken for it.
    queued: bool = True


def record_delivery(
    conn: Connection,
    request: InboundRequest,
    delivery: Delivery,
    reactions: Reactions = QUEUE_ONLY,
) -> Outcome:
    record = delivery.record
    now = request.received_at
    kind: str | None
    record_id: str | None
    if isinstance(record, LeadReceived):
        kind, record_id, outcome = "lead", record.lead_id, _lead(conn, record, now, reactions)
    elif isinstance(record, MessageReceived):
        kind, record_id, outcome = (
            "message",
            record.message_id,
            _message(conn, record, now, reactions),
        )
    elif isinstance(record, LeadUpdated):
        kind, record_id, outcome = (
            "lead_update",
            record.lead_id,
            _lead_update(conn, record, now, reactions),
        )
    elif isinstance(record, ReviewReceived):
        kind, record_id, outcome = "review", record.review_id, _review(conn, record, now, reactions)
    else:
        kind, record_id, outcome = None, None, IGNORED
    status = _STATUS[outcome]
    lead_id, business_id = _owner_of(record)
    inbound_id = log_request(
        conn,
        request,
        status_code=status,
        outcome=outcome,
        event_type=delivery.event_type,
        record_kind=kind,
        record_id=record_id,
        lead_id=lead_id,
        business_id=business_id,
    )
    return Outcome(outcome, status, kind, record_id, inbound_id, outcome in (ACCEPTED, PENDING))


def _owner_of(record: object) -> tuple[str | None, str | None]:
    """The lead and business a delivered record names, for its log row (a message ID alone
    does not say whose message it is)."""
    if isinstance(record, LeadReceived):
        business = record.business
        return record.lead_id, business.business_id if business else None
    if isinstance(record, MessageReceived | ReviewReceived):
        return record.lead_id, record.business_id
    if isinstance(record, LeadUpdated):
        return record.lead_id, None
    return None, None


#: One item of ``record_deliveries``: what arrived, what it is, and what it sets in motion.
DeliveryItem = tuple[InboundRequest, Delivery, Reactions]


def record_deliveries(conn: Connection, items: Sequence[DeliveryItem]) -> list[Outcome]:
    """``record_delivery`` for each item as one batched unit of the group-commit writer
    (``Writer.run_many``), the outcomes in the items' order: each run of new leads (of one or
    more) executes each of its statements once for the whole run; other records go one by one.

    The items are recorded in ``_lock_order``, not as they came: they are concurrent requests,
    so any order is one they could have had, and one order for every process means two
    processes' batches take their rows' locks in the same order (on PostgreSQL, the same
    deliveries recorded in opposite orders by two ``serve`` processes deadlock until the server
    breaks the tie, ``deadlock_timeout``, 1 s by default)."""
    order = sorted(range(len(items)), key=lambda k: _lock_order(items[k][1]))
    outcomes: dict[int, Outcome] = {}
    i = 0
    while i < len(order):
        request, delivery, reactions = items[order[i]]
        j = i
        while (
            j < len(order)
            and isinstance(items[order[j]][1].record, LeadReceived)
            and items[order[j]][2] is reactions
        ):
            j += 1
        if j > i:  # one new lead too: its statements are the batch's, cheaper than _lead's
            run = order[i:j]
            outcomes.update(zip(run, _leads(conn, [items[k] for k in run], reactions), strict=True))
            i = j
        else:
            outcomes[order[i]] = record_delivery(conn, request, delivery, reactions)
            i += 1
    return [outcomes[k] for k in range(len(items))]


def _lock_order(delivery: Delivery) -> tuple[int, str]:
    """Where a delivery goes in a batch: leads first (a later record of the batch finds its
    lead stored), then lead updates, messages, reviews and the rest, each by its record's ID."""
    record = delivery.record
    if isinstance(record, LeadReceived):
        return 0, record.lead_id
    if isinstance(record, LeadUpdated):
        return 1, record.lead_id
    if isinstance(record, MessageReceived):
        return 2, record.message_id
    if isinstance(record, ReviewReceived):
        return 3, record.review_id
    return 4, ""


def log_request(
    conn: Connection,
    request: InboundRequest,
    *,
    status_code: int,
    outcome: str,
    event_type: str | None = None,
    record_kind: str | None = None,
    record_id: str | None = None,
    lead_id: str | None = None,
    business_id: str | None = None,
    problem: dict[str, Any] | None = None,
) -> int:
    result = conn.execute(
        _LOG_INSERT,
        _log_row(
            request,
            status_code=status_code,
            outcome=outcome,
            event_type=event_type,
            record_kind=record_kind,
            record_id=record_id,
            lead_id=lead_id,
            business_id=business_id,
            problem=problem,
        ),
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _log_row(
    request: InboundRequest,
    *,
    status_code: int,
    outcome: str,
    event_type: str | None,
    record_kind: str | None,
    record_id: str | None,
    lead_id: str | None = None,
    business_id: str | None = None,
    problem: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "received_at": request.received_at,
        "route": request.route,
        "method": request.method,
        "headers": request.headers,
        "body": request.body,
        "body_size": request.body_size,
        "body_truncated": request.body_truncated,
        "status_code": status_code,
        "outcome": outcome,
        "event_type": event_type,
        "record_kind": record_kind,
        "record_id": record_id,
        "lead_id": lead_id,
        "business_id": business_id,
        "problem": problem,
    }


def _lead_exists(conn: Connection, lead_id: str) -> bool:
    return conn.execute(_LEAD_EXISTS, {"lead_id": lead_id}).first() is not None


def _lead(conn: Connection, lead: LeadReceived, now: datetime, reactions: Reactions) -> str:
    known, updates_waiting = conn.execute(_LEAD_STATE, {"lead_id": lead.lead_id}).one()
    if known:
        return DUPLICATE
    if lead.business is not None:
        conn.execute(_business_upsert(conn), _business_row(lead, now))
    if lead.customer is not None:
        conn.execute(_customer_upsert(conn), _customer_row(lead, now))
    if not insert_ignore(conn, leads, _lead_row(lead, now), ("lead_id",)):
        return DUPLICATE  # a concurrent writer (another process) stored it first
    if lead.details:
        conn.execute(
            _DETAILS_INSERT,
            [
                {"lead_id": lead.lead_id, "position": i, "question": q, "answer": a}
                for i, (q, a) in enumerate(lead.details)
            ],
        )
    _attachments(conn, "lead", lead.lead_id, lead.attachments)
    conn.execute(_HISTORY_INSERT, _received_row(lead, now))
    if updates_waiting:
        _apply_pending_updates(conn, lead.lead_id, now)
    reactions.lead_stored(conn, LeadRef(leadID=lead.lead_id), now)
    return ACCEPTED


def _business_row(lead: LeadReceived, now: datetime) -> dict[str, Any]:
    business = lead.business
    assert business is not None
    return {
        "business_id": business.business_id,
        "name": business.name,
        "access_code": business.access_code,
        "created_at": now,
        "updated_at": now,
    }


def _customer_row(lead: LeadReceived, now: datetime) -> dict[str, Any]:
    customer = lead.customer
    assert customer is not None
    return {
        "customer_id": customer.customer_id,
        "name": customer.name,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "display_name": customer.display_name,
        "phone": customer.phone,
        "created_at": now,
        "updated_at": now,
    }


def _received_row(lead: LeadReceived, now: datetime) -> dict[str, Any]:
    """The lead's first line in its status history: as it was received."""
    return {
        "lead_id": lead.lead_id,
        "source": "received",
        "status": lead.status,
        "charge_state": lead.charge_state,
        "lead_price": lead.lead_price,
        "lead_price_cents": lead.lead_price_cents,
        "applied": True,
        "occurred_at": lead.created_at,
        "recorded_at": now,
    }


def _business_id(lead: LeadReceived) -> str | None:
    return lead.business.business_id if lead.business else None


def _lead_row(lead: LeadReceived, now: datetime) -> dict[str, Any]:
    return {
        "lead_id": lead.lead_id,
        "business_id": _business_id(lead),
        "customer_id": lead.customer.customer_id if lead.customer else None,
        "source": lead.source,
        "is_test": lead.is_test,
        "request_id": lead.request_id,
        "category": lead.category,
        "category_id": lead.category_id,
        "title": lead.title,
        "description": lead.description,
        "schedule": lead.schedule,
        "address1": lead.address1,
        "address2": lead.address2,
        "city": lead.city,
        "state": lead.state,
        "zip_code": lead.zip_code,
        "travel_preferences": lead.travel_preferences,
        "proposed_times": lead.proposed_times,
        "price": lead.price,
        "lead_type": lead.lead_type,
        "lead_price": lead.lead_price,
        "lead_price_cents": lead.lead_price_cents,
        "lead_price_breakdown": lead.lead_price_breakdown,
        "charge_state": lead.charge_state,
        "status": lead.status,
        "estimate": lead.estimate,
        "request_review_link": lead.request_review_link,
        "refund_request_link": lead.refund_request_link,
        "extra": lead.extra or None,
        "created_at": lead.created_at,
        "received_at": now,
        "updated_at": now,
    }


def _leads(conn: Connection, items: Sequence[DeliveryItem], reactions: Reactions) -> list[Outcome]:
    """``_lead`` and ``log_request`` for many new leads at once: what ``_lead`` executes per
    lead, executed once per statement for all of them (the same rows, the same outcomes)."""
    received = [cast(LeadReceived, delivery.record) for _, delivery, _ in items]
    ids = [lead.lead_id for lead in received]
    known, waiting = _lead_states(conn, ids)
    new: dict[str, tuple[LeadReceived, datetime]] = {}
    for (request, _, _), lead in zip(items, received, strict=True):
        if lead.lead_id not in known and lead.lead_id not in new:
            new[lead.lead_id] = (lead, request.received_at)
    inserted: set[str] = set()
    queued = 0
    if new:
        stored = [*new.values()]
        # In key order, as every process does (record_deliveries: the locks' order).
        bodies = sorted(
            (_business_row(lead, now) for lead, now in stored if lead.business is not None),
            key=lambda row: str(row["business_id"]),
        )
        _insert_many(conn, _business_upsert(conn), _changed_businesses(conn, bodies))
        people = sorted(
            (_customer_row(lead, now) for lead, now in stored if lead.customer is not None),
            key=lambda row: str(row["customer_id"]),
        )
        _insert_many(conn, _customer_upsert(conn), people)
        # A concurrent writer (another process) may have stored one first.
        inserted = _insert_new_leads(conn, [_lead_row(lead, now) for lead, now in stored])
        stored = [(lead, now) for lead, now in stored if lead.lead_id in inserted]
        details = [
            {"lead_id": lead.lead_id, "position": i, "question": q, "answer": a}
            for lead, _ in stored
            for i, (q, a) in enumerate(lead.details)
        ]
        _insert_many(conn, _DETAILS_INSERT, details)
        files = [
            _attachment_row("lead", lead.lead_id, "", i, item)
            for lead, _ in stored
            for i, item in enumerate(lead.attachments)
        ]
        _insert_many(conn, _ATTACHMENTS_INSERT, files)
        _insert_many(conn, _HISTORY_INSERT, [_received_row(lead, now) for lead, now in stored])
        for lead, now in stored:
            if lead.lead_id in waiting:
                _apply_pending_updates(conn, lead.lead_id, now)
        if stored:
            queued = reactions.leads_stored(
                conn,
                [(LeadRef(leadID=lead.lead_id), now) for lead, now in stored],
                # As _lead_row stored them: no look-up of what was just written.
                {lead.lead_id: _business_id(lead) for lead, _ in stored},
            )
    outcomes: list[str] = []
    seen: set[str] = set()
    for lead in received:
        first = lead.lead_id in inserted and lead.lead_id not in seen
        seen.add(lead.lead_id)
        outcomes.append(ACCEPTED if first else DUPLICATE)
    logged = [
        _log_row(
            request,
            status_code=_STATUS[outcome],
            outcome=outcome,
            event_type=delivery.event_type,
            record_kind="lead",
            record_id=lead.lead_id,
            lead_id=lead.lead_id,
            business_id=lead.business.business_id if lead.business else None,
            problem=None,
        )
        for (request, delivery, _), lead, outcome in zip(items, received, outcomes, strict=True)
    ]
    log_ids = _insert_log_rows(conn, logged)
    return [
        Outcome(
            outcome,
            _STATUS[outcome],
            "lead",
            lead.lead_id,
            int(inbound_id),
            queued > 0 and outcome == ACCEPTED,
        )
        for lead, outcome, inbound_id in zip(received, outcomes, log_ids, strict=True)
    ]


def _apply_pending_updates(conn: Connection, lead_id: str, now: datetime) -> None:
    pending = conn.execute(_PENDING_UPDATES, {"lead_id": lead_id}).all()
    for row in pending:
        fields = {
            "lead_price": row.lead_price,
            "lead_price_cents": row.lead_price_cents,
            "charge_state": row.charge_state,
            "status": row.status,
        }
        changes = {k: v for k, v in fields.items() if v is not None}
        if changes:
            _set_lead(conn, lead_id, changes, now)
    if pending:
        conn.execute(_MARK_APPLIED, {"ids": [row.id for row in pending]})


def _attachments(
    conn: Connection,
    owner_kind: str,
    owner_id: str,
    items: tuple[AttachmentInfo, ...],
    owner_lead: str = "",
) -> None:
    if not items:
        return
    conn.execute(
        _ATTACHMENTS_INSERT,
        [
            _attachment_row(owner_kind, owner_id, owner_lead, i, item)
            for i, item in enumerate(items)
        ],
    )


def _attachment_row(
    owner_kind: str, owner_id: str, owner_lead: str, position: int, item: AttachmentInfo
) -> dict[str, Any]:
    return {
        "owner_kind": owner_kind,
        "owner_id": owner_id,
        "owner_lead": owner_lead,
        "position": position,
        "file_name": item.file_name,
        "file_size": item.file_size,
        "mime_type": item.mime_type,
        "url": item.url,
        "description": item.description,
    }


def _message(
    conn: Connection, message: MessageReceived, now: datetime, reactions: Reactions
) -> str:
    """A message is its lead and its ID: the same ID under another lead is another message."""
    if (
        message.lead_id is None
        and conn.execute(_LEADLESS_MESSAGE, {"message_id": message.message_id}).first()
    ):
        return DUPLICATE
    inserted = insert_ignore(
        conn,
        messages,
        {
            "message_id": message.message_id,
            "lead_id": message.lead_id,
            "business_id": message.business_id,
            "customer_id": message.customer_id,
            "sender": message.sender,
            "customer_name": message.customer_name,
            "business_name": message.business_name,
            "text": message.text,
            "source": message.source,
            "sent_at": message.sent_at,
            "received_at": now,
        },
        ("lead_id", "message_id") if message.lead_id is not None else ("message_id",),
        None if message.lead_id is not None else MESSAGE_WITHOUT_LEAD,
    )
    if not inserted:
        return DUPLICATE
    _names(conn, message, now)
    _attachments(conn, "message", message.message_id, message.attachments, message.lead_id or "")
    reactions.message_stored(
        conn, MessageRef(messageID=message.message_id, leadID=message.lead_id), now
    )
    if message.lead_id is None or not _lead_exists(conn, message.lead_id):
        return PENDING
    return ACCEPTED


def _names(conn: Connection, message: MessageReceived, now: datetime) -> None:
    """The names a message gives its customer and business fill theirs where still empty (the
    lead's own delivery names them as it does, whenever it arrives)."""
    if message.customer_id is not None and message.customer_name is not None:
        row = {"customer_id": message.customer_id, "display_name": message.customer_name}
        stamped = {**row, "created_at": now, "updated_at": now}
        insert_ignore(conn, customers, stamped, ("customer_id",))
        conn.execute(_FILL_CUSTOMER, {"key_id": message.customer_id, "fill": message.customer_name})
    if message.business_id is not None and message.business_name is not None:
        row = {"business_id": message.business_id, "name": message.business_name}
        stamped = {**row, "created_at": now, "updated_at": now}
        insert_ignore(conn, businesses, stamped, ("business_id",))
        conn.execute(_FILL_BUSINESS, {"key_id": message.business_id, "fill": message.business_name})


_UPDATE_FIELDS = {
    "leadPrice": ("lead_price", "lead_price_cents"),
    "chargeState": ("charge_state",),
    "status": ("status",),
}


def _lead_update(conn: Connection, change: LeadUpdated, now: datetime, reactions: Reactions) -> str:
    values = {
        "lead_price": change.lead_price,
        "lead_price_cents": change.lead_price_cents,
        "charge_state": change.charge_state,
        "status": change.status,
    }
    carried = {col for key in change.fields for col in _UPDATE_FIELDS[key]}
    # Updates carry no identifier: a redelivery is an update equal to the latest one received.
    latest = conn.execute(_LATEST_UPDATE, {"lead_id": change.lead_id}).first()
    if latest is not None and all(getattr(latest, k) == v for k, v in values.items()):
        return DUPLICATE
    lead_known = _lead_exists(conn, change.lead_id)
    result = conn.execute(
        _HISTORY_INSERT,
        {
            "lead_id": change.lead_id,
            "source": "update",
            "applied": lead_known,
            "occurred_at": change.occurred_at,
            "recorded_at": now,
            **values,
        },
    )
    if not lead_known:
        return PENDING
    changes = {k: v for k, v in values.items() if k in carried}
    if changes:
        _set_lead(conn, change.lead_id, changes, now)
    key = result.inserted_primary_key
    assert key is not None
    update = LeadUpdateRef(
        leadID=change.lead_id, updateID=key[0], **{k: values[k] for k in sorted(carried)}
    )
    reactions.lead_updated(conn, update, now)
    return ACCEPTED


def _review(conn: Connection, review: ReviewReceived, now: datetime, reactions: Reactions) -> str:
    row = asdict(review)
    row.pop("photos")
    inserted = insert_ignore(conn, reviews, {**row, "received_at": now}, ("review_id",))
    if not inserted:
        return DUPLICATE
    _attachments(conn, "review", review.review_id, review.photos)
    reactions.review_stored(conn, ReviewRef(reviewID=review.review_id, leadID=review.lead_id), now)
    return ACCEPTED


def record_crm_event(
    conn: Connection,
    *,
    event_id: str,
    trigger_key: str,
    record_id: str | None,
    fired_at: datetime | None,
    payload: dict[str, Any],
    outcome: str,
    now: datetime,
) -> int | None:
    """Store a Coperniq automation event once; its row ID, or None when it was stored before."""
    inserted = insert_ignore(
        conn,
        crm_events,
        {
            "event_id": event_id,
            "trigger_key": trigger_key,
            "record_id": record_id,
            "fired_at": fired_at,
            "payload": payload,
            "outcome": outcome,
            "received_at": now,
        },
        ["event_id"],
    )
    if not inserted:
        return None
    row = conn.execute(select(crm_events.c.id).where(crm_events.c.event_id == event_id)).one()
    return int(row.id)
