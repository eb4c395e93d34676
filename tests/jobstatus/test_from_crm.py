"""Coperniq automation webhooks -> Thumbtack job status: events the sandbox's Coperniq fires,
hand-written examples of the documented shape, and properties over arbitrary payloads."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tackbridge.jobstatus.from_crm import (
    CoperniqEventError,
    PhaseRule,
    StatusMapping,
    job_status_change,
    needs_opportunity,
)
from tackbridge.thumbtack.models import JobStatus
from tests.support.sandbox import COPERNIQ_KEY, Sandbox

API = "/coperniq/v1"


def event(trigger: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": {
            "eventId": "evt-1",
            "recordId": 5001,
            "triggerKey": trigger,
            "triggerName": trigger.title(),
            "firedAt": "2024-06-14T09:30:00Z",
            **extra,
        },
        "record": {"id": 5001, "uid": "u-1", "type": "opportunity"},
    }


def opportunity(**extra: Any) -> dict[str, Any]:
    return {
        "id": 5001,
        "createdAt": "2024-06-13T00:00:00Z",
        "updatedAt": "2024-06-14T00:00:00Z",
        "title": "Kitchen Remodel - Olivia Y.",
        "number": 1,
        "custom": {"thumbtack_lead_id": "519153480500518912"},
        **extra,
    }


def test_sandbox_events_map_with_the_default_mapping(sandbox: Sandbox) -> None:
    made = sandbox.post(
        f"{API}/opportunities",
        headers=COPERNIQ_KEY,
        json={
            "title": f"Kitchen Remodel {secrets.token_hex(4)}",
            "address": ["1450 Haight Street, San Francisco, CA 94117"],
            "trades": ["Remodeling"],
            "workflowId": 1,
            "value": 1250.5,
            "custom": {"thumbtack_lead_id": "77"},
        },
    ).json()
    oid = made["id"]
    base = f"/_sandbox/coperniq/opportunities/{oid}"
    answer = sandbox.post(f"{base}/appointments", json={"startAt": "2024-06-20T15:00:00Z"})
    assert answer.status_code == 201, answer.text
    assert sandbox.post(f"{base}/phase", json={"phaseId": 16}).status_code == 200
    assert sandbox.post(f"{base}/status", json={"status": "COMPLETED"}).status_code == 200
    fetched = sandbox.get(f"{API}/opportunities/{oid}", headers=COPERNIQ_KEY).json()
    mine = [e for e in sandbox.inspect("coperniq/events") if e["record"]["id"] == oid]
    changes = [job_status_change(e, opportunity=fetched) for e in mine]
    mapped = [(c.status, c.changed_at, c.invoice_amount_cents) for c in changes if c]
    fired = {e["event"]["triggerKey"]: e["event"]["firedAt"] for e in mine}
    at = {k: datetime.fromisoformat(v.replace("Z", "+00:00")) for k, v in fired.items()}
    assert mapped == [
        (JobStatus.APPT_SCHEDULED, at["APPOINTMENT_CREATED"], None),
        (JobStatus.INVOICE_PAID, at["REQUEST_PHASE_STARTED"], 125050),
        (JobStatus.JOB_COMPLETE, at["DEAL_STATUS_MOVEMENT"], None),
    ]
    assert {c.lead_id for c in changes if c} == {"77"}
    assert {c.opportunity_id for c in changes if c} == {str(oid)}


def test_documented_shape_examples() -> None:
    completed = job_status_change(event("DEAL_STATUS_MOVEMENT", toStatus="COMPLETED"))
    assert completed is not None
    assert completed.status is JobStatus.JOB_COMPLETE
    assert completed.changed_at == datetime(2024, 6, 14, 9, 30, tzinfo=UTC)
    update = completed.to_update()
    assert update.to_wire() == {
        "status": "job_complete",
        "partnerStatusChangedAt": "2024-06-14T09:30:00Z",
    }
    cancelled = job_status_change(event("DEAL_STATUS_MOVEMENT", toStatus="CANCELLED"))
    assert cancelled is not None
    assert cancelled.status is JobStatus.PRO_CANCEL
    assert job_status_change(event("DEAL_STATUS_MOVEMENT", toStatus="ON_HOLD")) is None
    assert job_status_change(event("REQUEST_CREATED")) is None
    assert job_status_change(event("SOMETHING_NEW")) is None


def test_status_move_without_to_status_reads_the_fetched_opportunity() -> None:
    payload = event("DEAL_STATUS_MOVEMENT")
    assert needs_opportunity(payload)
    assert job_status_change(payload) is None
    change = job_status_change(payload, opportunity=opportunity(status="COMPLETED"))
    assert change is not None
    assert change.status is JobStatus.JOB_COMPLETE
    assert change.lead_id == "519153480500518912"


def test_phase_events_by_name_or_template_and_the_invoice_amount() -> None:
    phase = event(
        "REQUEST_PHASE_STARTED", phaseInstanceId=9, phaseTemplateId=16, phaseType="COMPLETE"
    )
    assert needs_opportunity(phase)
    fetched = opportunity(
        value=980,
        phaseInstances=[
            {"id": 9, "phaseTemplateId": 16, "name": "Invoice paid", "type": "X", "status": "S"}
        ],
    )
    change = job_status_change(phase, opportunity=fetched)
    assert change is not None
    assert change.status is JobStatus.INVOICE_PAID
    assert change.invoice_amount_cents == 98000
    assert change.to_update().invoiceAmountInCents == 98000
    by_id = StatusMapping(phases=(PhaseRule(JobStatus.JOB_COMPLETE, phase_template_id=16),))
    other = job_status_change(phase, by_id)
    assert other is not None
    assert other.status is JobStatus.JOB_COMPLETE
    assert other.invoice_amount_cents is None
    unpaid = event("REQUEST_PHASE_STARTED", phaseName="Unpaid invoice follow-up")
    assert job_status_change(unpaid) is None
    assert job_status_change(event("REQUEST_PHASE_COMPLETED", phaseName="Paid")) is None


def test_a_rescheduled_appointment_is_still_appt_scheduled() -> None:
    moved = event(
        "APPOINTMENT_RESCHEDULED",
        appointmentId=7,
        startAt="2024-06-21T15:00:00Z",
        endAt=None,
        firedAt="2024-06-15T08:00:00+02:00",
    )
    assert not needs_opportunity(moved)
    change = job_status_change(moved)
    assert change is not None
    assert change.status is JobStatus.APPT_SCHEDULED
    assert change.trigger_key == "APPOINTMENT_RESCHEDULED"
    assert change.opportunity_id == "5001"
    assert change.invoice_amount_cents is None
    # When it was moved, not when the appointment starts nor when it was first booked.
    assert change.changed_at == datetime(2024, 6, 15, 6, 0, tzinfo=UTC)
    assert change.to_update().to_wire() == {
        "status": "appt_scheduled",
        "partnerStatusChangedAt": "2024-06-15T06:00:00Z",
    }
    created = job_status_change(event("APPOINTMENT_CREATED"))
    assert created is not None
    assert created.status is change.status
    with_lead = job_status_change(moved, opportunity=opportunity())
    assert with_lead is not None
    assert with_lead.lead_id == "519153480500518912"


def test_rescheduled_follows_the_appointment_mapping() -> None:
    moved = event("APPOINTMENT_RESCHEDULED")
    assert job_status_change(moved, StatusMapping(appointment=None)) is None
    other = job_status_change(moved, StatusMapping(appointment=JobStatus.NOT_SCHEDULED))
    assert other is not None
    assert other.status is JobStatus.NOT_SCHEDULED
    project = event("APPOINTMENT_RESCHEDULED")
    project["record"]["type"] = "project"
    assert job_status_change(project) is None


def test_the_sandbox_fires_rescheduled_and_it_maps(sandbox: Sandbox) -> None:
    made = sandbox.post(
        f"{API}/opportunities",
        headers=COPERNIQ_KEY,
        json={
            "title": f"Roof repair {secrets.token_hex(4)}",
            "address": ["1450 Haight Street, San Francisco, CA 94117"],
            "trades": ["Roofing"],
            "custom": {"thumbtack_lead_id": "78"},
        },
    ).json()
    oid = made["id"]
    booked = sandbox.post(
        f"/_sandbox/coperniq/opportunities/{oid}/appointments",
        json={"startAt": "2024-06-20T15:00:00Z"},
    )
    assert booked.status_code == 201, booked.text
    moved = sandbox.patch(
        f"/_sandbox/coperniq/appointments/{booked.json()['id']}",
        json={"startAt": "2024-06-21T15:00:00Z"},
    )
    assert moved.status_code == 200, moved.text
    mine = [
        e
        for e in sandbox.inspect("coperniq/events")
        if e["record"]["id"] == oid and e["event"]["triggerKey"].startswith("APPOINTMENT_")
    ]
    assert [e["event"]["triggerKey"] for e in mine] == [
        "APPOINTMENT_CREATED",
        "APPOINTMENT_RESCHEDULED",
    ]
    changes = [job_status_change(e, opportunity=made) for e in mine]
    assert [c.status if c else None for c in changes] == [JobStatus.APPT_SCHEDULED] * 2
    assert {c.lead_id for c in changes if c} == {"78"}
    fired = mine[1]["event"]["firedAt"]
    assert changes[1] is not None
    assert changes[1].changed_at == datetime.fromisoformat(fired.replace("Z", "+00:00"))


def test_mapping_is_configurable() -> None:
    mapping = StatusMapping(
        appointment=None,
        statuses={"ON_HOLD": JobStatus.NOT_SCHEDULED},
        phases=(),
    )
    assert job_status_change(event("APPOINTMENT_CREATED"), mapping) is None
    held = job_status_change(event("DEAL_STATUS_MOVEMENT", toStatus="on_hold"), mapping)
    assert held is not None
    assert held.status is JobStatus.NOT_SCHEDULED


def documented(trigger: str, kind: str, record: dict[str, Any] | None = None, **extra: Any) -> Any:
    """An event as docs.coperniq.io "Webhooks" shapes it: numeric event ID and record number,
    record types PROJECT, DEAL or ACCOUNT, the record's status and dealValue in the record."""
    payload = event(trigger, **extra)
    payload["event"]["eventId"] = 881234
    payload["record"] = {"id": 5001, "uid": 42, "type": kind, **(record or {})}
    return payload


def test_the_documented_webhook_shape_maps() -> None:
    done = job_status_change(
        documented("DEAL_STATUS_MOVEMENT", "DEAL", {"status": "COMPLETED"}),
    )
    assert done is not None
    assert done.status is JobStatus.JOB_COMPLETE
    assert done.event_id == "881234"
    assert done.record_type == "opportunity"
    # Without the status in the event, the record's own says it: no fetch needed.
    assert not needs_opportunity(documented("DEAL_STATUS_MOVEMENT", "DEAL", {"status": "X"}))
    moved = documented("DEAL_STATUS_MOVEMENT", "DEAL", currentStatus="CANCELLED")
    cancelled = job_status_change(moved)
    assert cancelled is not None
    assert cancelled.status is JobStatus.PRO_CANCEL
    # A project's own trigger keys, read as the opportunity's twins.
    everything = frozenset({"opportunity", "project"})
    project = job_status_change(
        documented("PROJECT_STATUS_MOVEMENT", "PROJECT", {"status": "COMPLETED"}),
        record_types=everything,
    )
    assert project is not None
    assert project.status is JobStatus.JOB_COMPLETE
    assert project.record_type == "project"
    paid = documented(
        "PROJECT_PHASE_STARTED",
        "PROJECT",
        {"dealValue": 1250.5},
        phaseInstanceId=9,
        phaseTemplateId=16,
        phaseType="COMPLETE",
        status="IN_PROGRESS",
    )
    by_id = StatusMapping(phases=(PhaseRule(JobStatus.INVOICE_PAID, phase_template_id=16),))
    change = job_status_change(paid, by_id, record_types=everything)
    assert change is not None
    assert change.status is JobStatus.INVOICE_PAID
    assert change.invoice_amount_cents == 125050
    # Projects only when asked for; an account's events never.
    assert (
        job_status_change(documented("PROJECT_STATUS_MOVEMENT", "PROJECT", {"status": "COMPLETED"}))
        is None
    )
    account = documented("DEAL_STATUS_MOVEMENT", "ACCOUNT", {"status": "COMPLETED"})
    assert job_status_change(account, record_types=everything) is None


def test_other_record_types_are_ignored() -> None:
    payload = event("APPOINTMENT_CREATED")
    payload["record"]["type"] = "project"
    assert job_status_change(payload) is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "body"),
        ({"record": {"id": 1}}, "event"),
        ({"event": {"eventId": "e", "recordId": 1, "triggerKey": "APPOINTMENT_CREATED"}}, "record"),
        (event("APPOINTMENT_CREATED", firedAt=None), "event.firedAt"),
        (event("APPOINTMENT_CREATED", firedAt="yesterday"), "event.firedAt"),
        (event("APPOINTMENT_CREATED", firedAt="2024-06-14T09:30:00"), "event.firedAt"),
    ],
)
def test_bad_payloads_raise_a_typed_error_naming_the_field(payload: Any, field: str) -> None:
    with pytest.raises(CoperniqEventError) as error:
        job_status_change(payload)
    assert error.value.field == field


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
triggers = st.sampled_from(
    [
        "APPOINTMENT_CREATED",
        "APPOINTMENT_RESCHEDULED",
        "DEAL_STATUS_MOVEMENT",
        "REQUEST_PHASE_STARTED",
        "REQUEST_PHASE_COMPLETED",
        "X",
    ]
)
near_valid = st.fixed_dictionaries(
    {
        "event": st.fixed_dictionaries(
            {"eventId": st.text(max_size=5), "recordId": st.integers() | st.text(max_size=5)},
            optional={
                "triggerKey": triggers,
                "firedAt": st.text(max_size=30) | st.just("2024-06-14T09:30:00+02:00"),
                "toStatus": json_values,
                "phaseName": json_values,
                "phaseInstanceId": json_values,
                "phaseTemplateId": json_values,
                "value": json_values,
            },
        ),
        "record": st.fixed_dictionaries({"id": json_values}, optional={"type": json_values}),
    }
)
opportunities = (
    st.none()
    | json_values
    | st.fixed_dictionaries(
        {
            "id": st.integers(),
            "createdAt": st.just("x"),
            "updatedAt": st.just("x"),
            "title": st.just("t"),
            "number": st.integers(),
        },
        optional={"value": json_values, "status": json_values, "custom": json_values},
    )
)


@settings(max_examples=300, deadline=None)
@given(payload=json_values | near_valid, fetched=opportunities)
def test_arbitrary_payloads_never_raise_anything_but_the_typed_error(
    payload: Any, fetched: Any
) -> None:
    try:
        needs_opportunity(payload)
        change = job_status_change(payload, opportunity=fetched)
    except CoperniqEventError:
        return
    if change is not None:
        assert change.changed_at.tzinfo is not None
        assert change.invoice_amount_cents is None or change.invoice_amount_cents >= 0
        change.to_update()
