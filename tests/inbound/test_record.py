"""Recording deliveries the way the group-commit writer does: many in one transaction, through
statements built once and reused for every delivery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tackbridge.crm.destinations import DESTINATION_TYPES
from tackbridge.flows import REACTIONS, FollowupPolicy, NewLeadReactions
from tackbridge.inbound.parse import (
    parse_legacy_lead,
    parse_legacy_lead_update,
    parse_legacy_message,
)
from tackbridge.inbound.record import (
    InboundRequest,
    Outcome,
    record_deliveries,
    record_delivery,
)
from tackbridge.leads.models import Delivery
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.schema import (
    attachments,
    businesses,
    inbound_log,
    lead_details,
    lead_status_history,
    leads,
    outbox,
)
from tests.support import stores
from tests.support.tackbridge import make_settings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(stores.url(tmp_path / "r.db"))
    migrate.upgrade(database.writer)
    return database


def _lead(lead_id: str, **fields: Any) -> Delivery:
    body = {
        "leadID": lead_id,
        "request": {
            "details": [{"question": "Rooms", "answer": lead_id}],
            "attachments": [{"fileName": f"{lead_id}.jpg", "url": "https://x.test/a.jpg"}],
        },
        "customer": {"customerID": f"c-{lead_id}", "name": f"Customer {lead_id}"},
        "business": {"businessID": "b1", "name": "Painting"},
        **fields,
    }
    return Delivery(parse_legacy_lead(body))


Recorder = Callable[..., list[Outcome]]


def _one_by_one(db: Database, *deliveries: Delivery) -> list[Outcome]:
    with db.writer.begin() as conn:
        return [
            record_delivery(
                conn, InboundRequest("/v1/lead", "POST", {}, b"{}", 2, NOW), d, REACTIONS
            )
            for d in deliveries
        ]


def _batched(db: Database, *deliveries: Delivery) -> list[Outcome]:
    """As the front door records them: a batched unit of the writer (``record_deliveries``)."""
    request = InboundRequest("/v1/lead", "POST", {}, b"{}", 2, NOW)
    with db.writer.begin() as conn:
        return record_deliveries(conn, [(request, d, REACTIONS) for d in deliveries])


@pytest.fixture(params=[_one_by_one, _batched], ids=["one-by-one", "batched"])
def record(request: pytest.FixtureRequest) -> Recorder:
    """Both paths must store the same rows and answer the same outcomes."""
    found: Recorder = request.param
    return found


def _scalars(db: Database, stmt: Any) -> list[Any]:
    with db.reader.connect() as conn:
        return list(conn.execute(stmt).scalars())


def test_each_delivery_in_a_batch_gets_its_own_values(db: Database, record: Recorder) -> None:
    outcomes = record(db, *(_lead(f"L{i}", status="Lead", chargeState=f"s{i}") for i in range(4)))
    assert [o.outcome for o in outcomes] == ["accepted"] * 4
    assert [o.record_id for o in outcomes] == [f"L{i}" for i in range(4)]
    assert len({o.inbound_id for o in outcomes}) == 4
    with db.reader.connect() as conn:
        rows = conn.execute(select(leads.c.lead_id, leads.c.customer_id, leads.c.charge_state))
        assert sorted(rows.all()) == [(f"L{i}", f"c-L{i}", f"s{i}") for i in range(4)]
        answers = conn.execute(select(lead_details.c.lead_id, lead_details.c.answer)).all()
        assert sorted(answers) == [(f"L{i}", f"L{i}") for i in range(4)]
        files = conn.execute(select(attachments.c.owner_id, attachments.c.file_name)).all()
        assert sorted(files) == [(f"L{i}", f"L{i}.jpg") for i in range(4)]
    assert sorted(_scalars(db, select(outbox.c.idempotency_key))) == sorted(
        f"{kind}:L{i}" for i in range(4) for kind in ("autoreply.plan", "crm.lead")
    )


def test_the_same_lead_twice_in_one_batch_is_stored_once(db: Database, record: Recorder) -> None:
    first, second = record(db, _lead("L1"), _lead("L1"))
    assert (first.outcome, first.status_code) == ("accepted", 200)
    assert (second.outcome, second.status_code) == ("duplicate", 200)
    assert _scalars(db, select(func.count()).select_from(leads)) == [1]
    assert _scalars(db, select(func.count()).select_from(lead_details)) == [1]
    assert _scalars(db, select(outbox.c.idempotency_key)) == ["autoreply.plan:L1", "crm.lead:L1"]
    assert _scalars(db, select(inbound_log.c.outcome).order_by(inbound_log.c.id)) == [
        "accepted",
        "duplicate",
    ]


def test_updates_and_a_message_before_the_lead_apply_when_it_arrives(
    db: Database, record: Recorder
) -> None:
    early = [
        Delivery(parse_legacy_lead_update({"leadID": "L1", "leadPrice": "$10.00"})),
        Delivery(parse_legacy_lead_update({"leadID": "L1", "status": "Won"})),
        Delivery(parse_legacy_message({"leadID": "L1", "message": {"messageID": "M1"}})),
    ]
    outcomes = [*record(db, *early), *record(db, _lead("L1", status="Lead", leadPrice="$5.00"))]
    assert [o.outcome for o in outcomes] == ["pending", "pending", "pending", "accepted"]
    assert [o.status_code for o in outcomes] == [202, 202, 202, 200]
    with db.reader.connect() as conn:
        lead = conn.execute(select(leads).where(leads.c.lead_id == "L1")).one()
        history = conn.execute(
            select(lead_status_history.c.source, lead_status_history.c.applied).order_by(
                lead_status_history.c.id
            )
        ).all()
    assert (lead.status, lead.lead_price, lead.lead_price_cents) == ("Won", "$10.00", 1000)
    assert history == [("update", True), ("update", True), ("received", True)]
    # The pending updates were applied, not announced; the message and the lead were.
    assert sorted(_scalars(db, select(outbox.c.idempotency_key))) == [
        "autoreply.plan:L1",
        "crm.lead:L1",
        "message.received:L1:M1",  # message IDs are unique within their lead
    ]
    # Once the lead is known, a message for it is accepted straight away.
    (late,) = record(
        db, Delivery(parse_legacy_message({"leadID": "L1", "message": {"messageID": "M2"}}))
    )
    assert (late.outcome, late.status_code) == ("accepted", 200)


def test_a_batch_records_in_one_order_and_answers_in_its_own(db: Database) -> None:
    """Concurrent requests in one group commit are recorded leads first, then by kind and ID
    (the same lock order in every process), and each request gets its own outcome back."""
    message = Delivery(parse_legacy_message({"leadID": "L2", "message": {"messageID": "M1"}}))
    update = Delivery(parse_legacy_lead_update({"leadID": "L1", "status": "Won"}))
    outcomes = _batched(db, message, update, _lead("L2"), _lead("L1"))
    assert [(o.record_kind, o.record_id, o.outcome) for o in outcomes] == [
        ("message", "M1", "accepted"),  # its lead, later in the batch, was recorded first
        ("lead_update", "L1", "accepted"),
        ("lead", "L2", "accepted"),
        ("lead", "L1", "accepted"),
    ]
    with db.reader.connect() as conn:
        logged = conn.execute(select(inbound_log.c.record_id).order_by(inbound_log.c.id)).scalars()
        assert list(logged) == ["L1", "L2", "L1", "M1"]
        status = conn.execute(select(leads.c.status).where(leads.c.lead_id == "L1")).scalar()
    assert status == "Won"


def test_a_lead_without_waiting_updates_keeps_its_own_state(db: Database, record: Recorder) -> None:
    record(db, _lead("L2", status="Lead", leadPrice="$5.00"))
    (update,) = record(db, Delivery(parse_legacy_lead_update({"leadID": "L2", "status": "Hired"})))
    assert update.outcome == "accepted"
    with db.reader.connect() as conn:
        lead = conn.execute(select(leads).where(leads.c.lead_id == "L2")).one()
    assert (lead.status, lead.lead_price) == ("Hired", "$5.00")
    assert sorted(_scalars(db, select(outbox.c.kind))) == [
        "autoreply.plan",
        "crm.lead",
        "lead.updated",
    ]


def test_a_batch_of_new_and_known_leads_stores_what_one_by_one_stores(
    db: Database, tmp_path: Path
) -> None:
    """The same deliveries through both paths, into two stores: the same rows everywhere."""
    other = open_database(stores.url(tmp_path / "other.db"))  # the same kind of store
    migrate.upgrade(other.writer)
    first = [_lead("K1"), Delivery(parse_legacy_lead_update({"leadID": "W1", "status": "Won"}))]
    batch = [
        _lead("N1"),
        _lead("K1"),
        _lead("W1", status="Lead"),
        _lead("N1"),
        _lead("N2"),
        _lead("N3", business=None),  # no business: followed up all the same
    ]
    answers = []
    for store, recorder in ((db, _one_by_one), (other, _batched)):
        recorder(store, *first)
        answers.append([(o.outcome, o.status_code, o.record_id) for o in recorder(store, *batch)])
    assert answers[0] == answers[1]
    assert [a[0] for a in answers[0]] == [
        "accepted",
        "duplicate",
        "accepted",
        "duplicate",
        "accepted",
        "accepted",
    ]
    tables = (leads, lead_details, attachments, lead_status_history, outbox, inbound_log)
    for table in tables:
        columns = [c for c in table.c if c.name not in ("id", "job_id")]
        stmt = select(*columns)  # in Python's order: PostgreSQL cannot order by a JSON column
        with db.reader.connect() as a, other.reader.connect() as b:
            assert sorted(a.execute(stmt).all(), key=repr) == sorted(
                b.execute(stmt).all(), key=repr
            ), table.name
    other.dispose()


def test_only_a_lead_that_queued_jobs_asks_for_the_worker(db: Database, tmp_path: Path) -> None:
    """The front door wakes the worker for an outcome that says it queued jobs: a new lead
    whose business's configuration gives its follow-ups nothing to do queues none, and its
    worker is spared a claim that could find nothing; a duplicate queues nothing either."""
    request = InboundRequest("/v1/lead", "POST", {}, b"{}", 2, NOW)
    idle = NewLeadReactions(
        FollowupPolicy(make_settings(tmp_path, mode="production"), DESTINATION_TYPES)
    )
    with db.writer.begin() as conn:
        quiet = record_deliveries(conn, [(request, _lead(f"Q{i}"), idle) for i in range(3)])
    assert [(o.outcome, o.queued) for o in quiet] == [("accepted", False)] * 3
    assert _scalars(db, select(outbox.c.id)) == []
    with db.writer.begin() as conn:
        busy = record_deliveries(
            conn, [(request, d, REACTIONS) for d in (_lead("B1"), _lead("Q0"), _lead("B2"))]
        )
    assert [(o.outcome, o.queued) for o in busy] == [
        ("accepted", True),
        ("duplicate", False),
        ("accepted", True),
    ]
    assert len(_scalars(db, select(outbox.c.id))) == 4


@pytest.mark.postgres_only
def test_leads_of_a_known_business_do_not_lock_its_row(db: Database) -> None:
    """Two serve processes' batches of one busy business's leads would otherwise take turns on
    its row (an upsert locks it until commit, changed or not). Held by another transaction, the
    row does not stop a batch of leads that leaves it as it is; a rename still lands."""
    _batched(db, _lead("L0"))
    with db.writer.connect() as holder, holder.begin():
        # The lock another process's upsert of the row holds until its commit.
        holder.execute(text("SELECT 1 FROM businesses WHERE business_id = 'b1' FOR NO KEY UPDATE"))
        with db.writer.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            request = InboundRequest("/v1/lead", "POST", {}, b"{}", 2, NOW)
            outcomes = record_deliveries(
                conn, [(request, _lead(f"L{i}"), REACTIONS) for i in (1, 2)]
            )
        assert [o.outcome for o in outcomes] == ["accepted", "accepted"]
    renamed = _lead("L3", business={"businessID": "b1", "name": "Painting & Drywall"})
    _batched(db, renamed)
    assert _scalars(db, select(businesses.c.name)) == ["Painting & Drywall"]
