"""The sandbox's own endpoints under ``/_sandbox``: JSON inspection of what the partner did
(messages the pro sent, job statuses, tokens issued and spent, webhooks registered, deliveries
attempted, leads, targeting, Coperniq records and events), control (create a lead, a customer
message or a review now, start/stop the scenario, set faults, move the clock, act in Coperniq's
UI), and a small human page at ``/_sandbox/``.

Secrets never appear here: tokens and codes are shown by fingerprint (``tokens.fingerprint``).
"""

from __future__ import annotations

import dataclasses
import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tackbridge.sandbox import render
from tackbridge.sandbox.config import Faults
from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.coperniq import opportunity_wire
from tackbridge.sandbox.coperniq_store import STATUSES
from tackbridge.sandbox.errors import ProblemError
from tackbridge.sandbox.httputil import form_or_query, iso, json_object, parse_timestamp
from tackbridge.sandbox.state import Delivery, Lead, Message, Review
from tackbridge.sandbox.tokens import fingerprint

# Ten years a step: far enough for any expiry, and the clock stays within datetime's range.
MAX_CLOCK_STEP_SECONDS = 10 * 366 * 24 * 3600

router = APIRouter(prefix="/_sandbox", tags=["Sandbox inspection and control"])


def _t(moment: Any) -> str | None:
    return iso(moment) if moment is not None else None


def recorded(moment: datetime) -> str:
    """When the sandbox recorded something, to the microsecond: the wire formats it mirrors
    carry whole seconds, which is too coarse to time a partner (``bench/speed_to_lead.py``)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def lead_json(box: Sandbox, lead: Lead) -> dict[str, Any]:
    return {
        "leadID": lead.lead_id,
        "businessID": lead.business_id,
        "source": lead.source,
        "isTest": lead.is_test,
        "status": lead.status,
        "createdAt": iso(lead.created_at),
        "lead": render.v4_lead(lead, box.state.business(lead.business_id)),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "messageID": message.message_id,
        "leadID": message.lead_id,
        "businessID": message.business_id,
        "from": message.sender,
        "text": message.text,
        "sentAt": iso(message.sent_at),
        "recordedAt": recorded(message.sent_at),
        "via": message.via,
    }


def review_json(review: Review) -> dict[str, Any]:
    return {"via": "sandbox", **render.v4_review(review)}


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    try:
        body: Any = json.loads(delivery.body)
    except ValueError:
        body = delivery.body.decode("utf-8", "replace")
    return {
        "deliveryID": delivery.delivery_id,
        "kind": delivery.kind,
        "eventType": delivery.event_type,
        "method": delivery.method,
        "url": delivery.url,
        "target": delivery.target,
        "recordID": delivery.record_id,
        "status": delivery.status,
        "duplicateOf": delivery.duplicate_of,
        "createdAt": iso(delivery.created_at),
        "body": body,
        "attempts": [
            {
                "number": a.number,
                "startedAt": iso(a.started_at),
                "recordedAt": recorded(a.started_at),
                "durationMs": a.duration_ms,
                "statusCode": a.status_code,
                "error": a.error,
                "outcome": a.outcome,
            }
            for a in delivery.attempts
        ],
    }


def _lead(box: Sandbox, lead_id: str) -> Lead:
    lead = box.state.lead(lead_id)
    if lead is None:
        raise ProblemError(404, f"lead {lead_id} not found")
    return lead


# inspection ---------------------------------------------------------------------------------


@router.get("/summary")
async def summary(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    state = box.state
    coperniq_requests = request.app.state.coperniq_limiter.used(state.clock.now().date())
    with state.lock:
        deliveries = list(state.deliveries.values())
        counts = {
            "businesses": len(state.businesses),
            "leads": len(state.leads),
            "messages": len(state.messages),
            "reviews": len(state.reviews),
            "jobStatuses": len(state.job_statuses),
            "webhooks": sum(1 for h in state.webhooks.values() if h.deleted_at is None),
            "opportunities": len(state.coperniq.live_opportunities()),
        }
    by_status = {
        s: sum(1 for d in deliveries if d.status == s) for s in ("pending", "delivered", "failed")
    }
    return {
        **counts,
        "deliveries": by_status,
        "coperniqRequestsToday": coperniq_requests,
        "scenario": {"running": box.scenario.running, "rate": box.scenario.rate},
        "clockOffsetSeconds": state.clock.offset_seconds,
        "now": iso(state.clock.now()),
    }


@router.get("/config")
async def config(box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    c = box.state.config
    return {
        "partnerURL": c.partner_url,
        "deliveryStyle": c.delivery_style,
        "partnerUsername": c.partner_username,
        "clientID": c.client_id,
        "redirectURIs": list(c.redirect_uris),
        "apiUsername": c.api_username,
        "coperniqWebhookURL": c.coperniq_webhook_url,
        "seed": c.seed,
        "leadRate": c.lead_rate,
        "faults": dataclasses.asdict(c.faults),
    }


@router.get("/businesses")
async def businesses(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    connected = set(box.state.connected_business_ids())
    with box.state.lock:
        items = list(box.state.businesses.values())
    return [
        {
            **render.business(b),
            "connected": b.business_id in connected,
            "serviceTargeting": b.service_targeting,
            "categoryTargeting": dict(b.category_targeting),
        }
        for b in items
    ]


@router.get("/leads")
async def leads(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    with box.state.lock:
        items = list(box.state.leads.values())
    return [lead_json(box, lead) for lead in items]


@router.get("/leads/{lead_id}")
async def lead(lead_id: str, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    return lead_json(box, _lead(box, lead_id))


@router.get("/messages")
async def messages(request: Request, box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    lead_id = request.query_params.get("leadID")
    sender = request.query_params.get("from")
    with box.state.lock:
        items = list(box.state.messages)
    return [
        message_json(m)
        for m in items
        if (lead_id is None or m.lead_id == lead_id) and (sender is None or m.sender == sender)
    ]


@router.get("/reviews")
async def reviews(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    with box.state.lock:
        items = list(box.state.reviews)
    return [review_json(r) for r in items]


@router.get("/job-statuses")
async def job_statuses(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    with box.state.lock:
        items = list(box.state.job_statuses)
    return [
        {
            "negotiationID": j.lead_id,
            "businessID": j.business_id,
            "status": j.status,
            "partnerStatusChangedAt": j.partner_status_changed_at,
            "invoiceAmountInCents": j.invoice_amount_in_cents,
            "receivedAt": iso(j.received_at),
            "clientID": j.client_id,
        }
        for j in items
    ]


@router.get("/targeting")
async def targeting(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    with box.state.lock:
        items = list(box.state.targeting)
    return [
        {
            "businessID": t.business_id,
            "categoryID": t.category_id,
            "enabled": t.enabled,
            "at": iso(t.at),
        }
        for t in items
    ]


@router.get("/tokens")
async def tokens(box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    codes, issued = box.state.tokens.snapshot()
    return {
        "codes": [
            {
                "fingerprint": fingerprint(c.value),
                "api": c.api,
                "clientID": c.client_id,
                "businessID": c.business_id,
                "scopes": list(c.scopes),
                "pkce": c.code_challenge is not None,
                "createdAt": iso(c.created_at),
                "expiresAt": iso(c.expires_at),
                "usedAt": _t(c.used_at),
            }
            for c in codes
        ],
        "tokens": [
            {
                "fingerprint": fingerprint(t.value),
                "kind": t.kind,
                "api": t.api,
                "clientID": t.client_id,
                "businessID": t.business_id,
                "scopes": list(t.scopes),
                "audience": t.audience,
                "grant": t.grant,
                "issuedAt": iso(t.issued_at),
                "expiresAt": iso(t.expires_at),
                "spentAt": _t(t.spent_at),
                "revokedAt": _t(t.revoked_at),
                "revokedWhy": t.revoked_why,
            }
            for t in issued
        ],
    }


@router.get("/webhooks")
async def webhooks(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    with box.state.lock:
        items = list(box.state.webhooks.values())
    return [
        {
            "webhookID": h.webhook_id,
            "businessID": h.business_id,
            "webhookURL": h.url,
            "eventTypes": list(h.event_types),
            "authType": h.auth_type,
            "enabled": h.enabled,
            "createdAt": iso(h.created_at),
            "updatedAt": iso(h.updated_at),
            "deletedAt": _t(h.deleted_at),
        }
        for h in items
    ]


@router.get("/deliveries")
async def deliveries(request: Request, box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    query = request.query_params
    with box.state.lock:
        items = list(box.state.deliveries.values())
    return [
        delivery_json(d)
        for d in items
        if all(
            query.get(name) in (None, value)
            for name, value in (("kind", d.kind), ("status", d.status), ("target", d.target))
        )
    ]


@router.get("/happenings")
async def happenings(box: Sandbox = Depends(sandbox)) -> list[dict[str, str]]:
    with box.state.lock:
        items = list(box.state.happenings)
    return [{"at": iso(h.at), "text": h.text} for h in items]


# control ------------------------------------------------------------------------------------


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ProblemError(400, f"{name} must be a string", errors=[{"field": name}])
    return str(value)


@router.post("/businesses", status_code=201)
async def create_business(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    body = await json_object(request)
    name = _optional_str(body, "name")
    if not name:
        raise ProblemError(400, "name is required", errors=[{"field": "name"}])
    return render.business(box.state.add_business(name, _optional_str(body, "businessID")))


@router.post("/leads", status_code=201)
async def create_lead(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    body = await json_object(request, required=False)
    business_id = _optional_str(body, "businessID")
    if business_id is not None and box.state.business(business_id) is None:
        raise ProblemError(404, f"business {business_id} not found")
    test = body.get("test", False)
    if not isinstance(test, bool):
        raise ProblemError(400, "test must be a boolean", errors=[{"field": "test"}])
    lead = box.scenario.create_lead(
        business_id,
        source="control",
        category_id=_optional_str(body, "categoryID"),
        lead_type=_optional_str(body, "leadType"),
        description=_optional_str(body, "description"),
        test=test,
        follow_up=False,
    )
    return lead_json(box, lead)


@router.post("/leads/{lead_id}/messages", status_code=201)
async def customer_message(
    lead_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    lead = _lead(box, lead_id)
    body = await json_object(request, required=False)
    sender = body.get("from", "Customer")
    text = _optional_str(body, "text")
    if sender == "Customer":
        return message_json(box.scenario.customer_message(lead, text))
    if sender == "Business":
        if not text:
            raise ProblemError(
                400, "text is required for a business message", errors=[{"field": "text"}]
            )
        return message_json(box.scenario.business_message_in_app(lead, text))
    raise ProblemError(400, "from must be Customer or Business", errors=[{"field": "from"}])


@router.post("/leads/{lead_id}/reviews", status_code=201)
async def review(lead_id: str, request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    lead = _lead(box, lead_id)
    body = await json_object(request, required=False)
    rating = body.get("rating")
    if rating is not None and (isinstance(rating, bool) or rating not in (1, 2, 3, 4, 5)):
        raise ProblemError(400, "rating must be 1 to 5", errors=[{"field": "rating"}])
    return review_json(box.scenario.review(lead, rating, _optional_str(body, "text")))


@router.post("/deliveries/retry")
async def retry_deliveries(box: Sandbox = Depends(sandbox)) -> dict[str, int]:
    return {"retried": box.dispatcher.retry_now()}


@router.get("/scenario")
async def scenario(box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    return {"running": box.scenario.running, "rate": box.scenario.rate}


@router.post("/scenario/start")
async def scenario_start(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    body = await json_object(request, required=False)
    rate = body.get("rate")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0
    ):
        raise ProblemError(
            400, "rate must be a positive number of leads per minute", errors=[{"field": "rate"}]
        )
    try:
        box.scenario.start(float(rate) if rate is not None else None)
    except ValueError as exc:
        raise ProblemError(400, str(exc), errors=[{"field": "rate"}]) from exc
    return {"running": True, "rate": box.scenario.rate}


@router.post("/scenario/stop")
async def scenario_stop(box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    await box.scenario.stop()
    return {"running": False, "rate": box.scenario.rate}


@router.get("/faults")
async def get_faults(box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    return dataclasses.asdict(box.state.faults)


@router.put("/faults")
async def set_faults(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    """Merges the given fields into the current faults; ``{}`` changes nothing."""
    body = await json_object(request, required=False)
    current = dataclasses.asdict(box.state.faults)
    known = {f.name: f.type for f in dataclasses.fields(Faults)}
    for name, value in body.items():
        if name not in known:
            raise ProblemError(400, f"unknown fault {name!r}", errors=[{"field": name}])
        expected: type = type(current[name])
        ok = (
            isinstance(value, bool)
            if expected is bool
            else (isinstance(value, int | float) and not isinstance(value, bool))
        )
        if expected is int and isinstance(value, float):
            ok = value.is_integer()
        if not ok:
            raise ProblemError(
                400, f"{name} must be a {expected.__name__}", errors=[{"field": name}]
            )
        current[name] = expected(value)
    try:
        box.state.set_faults(Faults(**current))
    except ValueError as exc:
        raise ProblemError(400, str(exc)) from exc
    return dataclasses.asdict(box.state.faults)


@router.post("/clock/advance")
async def advance_clock(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    body = await json_object(request)
    seconds = body.get("seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_CLOCK_STEP_SECONDS
    ):
        raise ProblemError(
            400,
            f"seconds must be a number from 0 to {MAX_CLOCK_STEP_SECONDS}",
            errors=[{"field": "seconds"}],
        )
    now = box.state.clock.advance(float(seconds))
    box.state.note(f"clock moved forward {seconds:g} s")
    return {"now": iso(now), "offsetSeconds": box.state.clock.offset_seconds}


# Coperniq: inspection and the contractor's UI -----------------------------------------------


@router.get("/coperniq/opportunities")
async def coperniq_opportunities(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    store = box.state.coperniq
    with box.state.lock:
        items = list(store.opportunities.values())
    return [
        {
            **opportunity_wire(store, o),
            "deletedAt": _t(o.deleted_at),
            "recordedAt": recorded(o.created_at),
        }
        for o in items
    ]


@router.get("/coperniq/events")
async def coperniq_events(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    return list(box.state.coperniq.events)


@router.get("/coperniq/notes")
async def coperniq_notes(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    return [
        {
            "id": n.id,
            "recordId": n.opportunity_id,
            "body": n.body,
            "deleted": n.deleted_at is not None,
        }
        for n in box.state.coperniq.notes.values()
    ]


@router.put("/coperniq/webhook")
async def coperniq_webhook(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    body = await json_object(request)
    url = body.get("url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise ProblemError(400, "url must be an http(s) URL or null", errors=[{"field": "url"}])
    box.state.set_config(coperniq_webhook_url=url)
    return {"url": url}


@router.post("/coperniq/opportunities/{opportunity_id}/status")
async def coperniq_status(
    opportunity_id: int, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    body = await json_object(request)
    status = body.get("status")
    if status not in STATUSES:
        raise ProblemError(
            400, f"status must be one of {', '.join(STATUSES)}", errors=[{"field": "status"}]
        )
    store = box.state.coperniq
    return opportunity_wire(store, store.patch_opportunity(opportunity_id, {"status": status}))


@router.post("/coperniq/opportunities/{opportunity_id}/phase")
async def coperniq_phase(
    opportunity_id: int, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    body = await json_object(request)
    store = box.state.coperniq
    changes: dict[str, Any] = {k: body[k] for k in ("workflowId", "phaseId") if k in body}
    if "phaseId" not in changes:
        raise ProblemError(400, "phaseId is required", errors=[{"field": "phaseId"}])
    return opportunity_wire(store, store.patch_opportunity(opportunity_id, changes))


@router.post("/coperniq/opportunities/{opportunity_id}/appointments", status_code=201)
async def coperniq_appointment(
    opportunity_id: int, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    body = await json_object(request)
    start, end = _appointment_times(body)
    title = _optional_str(body, "title") or "Appointment"
    appointment = box.state.coperniq.add_appointment(opportunity_id, title, start, end)
    return dataclasses.asdict(appointment) | {"createdAt": iso(appointment.created_at)}


@router.patch("/coperniq/appointments/{appointment_id}")
async def coperniq_reschedule(
    appointment_id: int, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    body = await json_object(request)
    start, end = _appointment_times(body)
    appointment = box.state.coperniq.reschedule_appointment(appointment_id, start, end)
    return dataclasses.asdict(appointment) | {"createdAt": iso(appointment.created_at)}


def _appointment_times(body: dict[str, Any]) -> tuple[str, str | None]:
    """``startAt`` (required) and ``endAt`` as RFC 3339 timestamps in UTC."""
    times: dict[str, str | None] = {}
    for name in ("startAt", "endAt"):
        raw = body.get(name)
        if raw is None and name == "endAt":
            times[name] = None
            continue
        moment = parse_timestamp(raw)
        if moment is None:
            raise ProblemError(
                400,
                f"{name} must be an RFC 3339 timestamp with a time zone",
                errors=[{"field": name}],
            )
        times[name] = iso(moment)
    start, end = times["startAt"], times["endAt"]
    assert start is not None
    if end is not None and end < start:
        raise ProblemError(400, "endAt must not be before startAt", errors=[{"field": "endAt"}])
    return start, end


@router.post("/coperniq/properties", status_code=201)
async def coperniq_property(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    return box.state.coperniq.add_property(await json_object(request)).wire()


# the human page -----------------------------------------------------------------------------


@router.post("/ui/lead", include_in_schema=False)
async def ui_lead(box: Sandbox = Depends(sandbox)) -> Response:
    box.scenario.create_lead(source="control", follow_up=False)
    return RedirectResponse("/_sandbox/", status_code=303)


@router.post("/ui/coperniq/{opportunity_id}", include_in_schema=False)
async def ui_coperniq(
    opportunity_id: int, request: Request, box: Sandbox = Depends(sandbox)
) -> Response:
    """The contractor moving an opportunity in Coperniq's UI: each change fires its automation
    webhooks exactly as the same change made through the API would."""
    params = {k: v.strip() for k, v in (await form_or_query(request)).items()}
    status, phase, start = params.get("status"), params.get("phaseId"), params.get("startAt")
    if status and status not in STATUSES:
        raise ProblemError(
            400, f"status must be one of {', '.join(STATUSES)}", errors=[{"field": "status"}]
        )
    if phase and not phase.isdigit():
        raise ProblemError(400, "phaseId must be a phase's ID", errors=[{"field": "phaseId"}])
    start_at: str | None = None
    if start:
        # <input type="datetime-local"> sends no time zone; the page says its times are UTC.
        moment = parse_timestamp(start) or parse_timestamp(start + "Z")
        if moment is None:
            raise ProblemError(
                400, "startAt must be a date and time", errors=[{"field": "startAt"}]
            )
        start_at = iso(moment)
    if not (status or phase or start_at):
        raise ProblemError(400, "choose a status, a phase or an appointment time")
    store = box.state.coperniq
    store.get_opportunity(opportunity_id)
    if status:
        store.patch_opportunity(opportunity_id, {"status": status})
    if phase:
        store.patch_opportunity(opportunity_id, {"phaseId": int(phase)})
    if start_at:
        store.add_appointment(opportunity_id, params.get("title") or "Appointment", start_at, None)
    return RedirectResponse("/_sandbox/", status_code=303)


def _rows(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{c if isinstance(c, _Raw) else html.escape(str(c))}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body or '<tr><td>nothing yet</td></tr>'}</table>"


def _origin(url: str | None) -> str:
    """Where a URL points without its path: Coperniq's webhook URLs carry their secret there."""
    if not url:
        return "nowhere (not set)"
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


class _Raw(str):
    """Trusted markup built here from escaped parts."""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request, box: Sandbox = Depends(sandbox)) -> HTMLResponse:
    state = box.state
    # The Host header is the caller's: escaped like everything else on the page.
    base = html.escape(str(request.base_url).rstrip("/"))
    store_hook = box.state.config.coperniq_webhook_url
    connected = set(state.connected_business_ids())
    with state.lock:
        businesses_ = list(state.businesses.values())
        leads_ = list(state.leads.values())[-15:][::-1]
        messages_ = list(state.messages)[-15:][::-1]
        deliveries_ = list(state.deliveries.values())[-15:][::-1]
        statuses_ = list(state.job_statuses)[-10:][::-1]
        happenings_ = list(state.happenings)[-25:][::-1]
        opportunities_ = state.coperniq.live_opportunities()[-10:][::-1]
        webhooks_ = list(state.webhooks.values())[-15:][::-1]
    codes_, tokens_ = state.tokens.snapshot()
    tokens_ = tokens_[-15:][::-1]
    store = state.coperniq
    appointments: dict[int, list[str]] = {}
    for a in list(store.appointments.values()):
        appointments.setdefault(a.opportunity_id, []).append(a.start_at)

    def opportunity_form(o: Any) -> _Raw:
        status_opts = "".join(f"<option>{s}</option>" for s in STATUSES)
        workflow = store.workflows.get(o.fields.get("workflowId") or 1) or store.workflows[1]
        phase_opts = "".join(
            f'<option value="{p.id}">{html.escape(p.name)}</option>' for p in workflow.phases
        )
        return _Raw(
            f'<form method="post" action="/_sandbox/ui/coperniq/{o.id}">'
            f'<select name="status"><option value="">status…</option>{status_opts}</select> '
            f'<select name="phaseId"><option value="">phase…</option>{phase_opts}</select> '
            '<label>appointment (UTC) <input type="datetime-local" name="startAt"></label> '
            f"<button>apply</button></form>"
        )

    sections = [
        "<h2>Businesses</h2>"
        + _rows(
            ("business", "ID", "connected"),
            [
                (b.name, b.business_id, "yes" if b.business_id in connected else "no")
                for b in businesses_
            ],
        ),
        "<h2>Latest leads</h2>"
        + _rows(
            ("lead", "business", "category", "customer", "source", "created"),
            [
                (
                    lead.lead_id,
                    lead.business_id,
                    lead.category_name,
                    lead.customer.name,
                    lead.source,
                    iso(lead.created_at),
                )
                for lead in leads_
            ],
        ),
        "<h2>Messages</h2>"
        + _rows(
            ("lead", "from", "text", "via"),
            [(m.lead_id, m.sender, m.text, m.via) for m in messages_],
        ),
        "<h2>Job statuses received</h2>"
        + _rows(
            ("lead", "status", "changed at", "invoice (cents)"),
            [
                (j.lead_id, j.status, j.partner_status_changed_at, j.invoice_amount_in_cents or "")
                for j in statuses_
            ],
        ),
        "<h2>Deliveries</h2>"
        + _rows(
            ("kind", "to", "status", "attempts", "last answer"),
            [
                (
                    d.kind,
                    _origin(d.url) if d.target == "coperniq" else d.url,
                    d.status,
                    len(d.attempts),
                    (d.attempts[-1].status_code or d.attempts[-1].error) if d.attempts else "",
                )
                for d in deliveries_
            ],
        ),
        "<h2>Tokens issued and spent</h2>"
        + _rows(
            ("token", "kind", "API", "business", "issued", "expires", "spent", "revoked"),
            [
                (
                    fingerprint(t.value),
                    t.kind,
                    t.api,
                    t.business_id,
                    iso(t.issued_at),
                    iso(t.expires_at),
                    _t(t.spent_at) or "",
                    f"{_t(t.revoked_at)} ({t.revoked_why})" if t.revoked_at else "",
                )
                for t in tokens_
            ],
        )
        + f"<p>{len(codes_)} authorization codes issued, "
        f"{sum(c.used_at is not None for c in codes_)} used.</p>",
        "<h2>Webhooks registered</h2>"
        + _rows(
            ("webhook", "business", "URL", "events", "auth", "state"),
            [
                (
                    h.webhook_id,
                    h.business_id,
                    h.url,
                    ", ".join(h.event_types),
                    h.auth_type,
                    "deleted" if h.deleted_at else ("enabled" if h.enabled else "disabled"),
                )
                for h in webhooks_
            ],
        ),
        "<h2>Coperniq opportunities</h2>"
        + f"<p>Automation webhooks go to: {html.escape(_origin(store_hook))}</p>"
        + _rows(
            ("#", "title", "status", "phase", "appointments", "change it (fires automations)"),
            [
                (
                    o.number,
                    o.fields.get("title"),
                    o.fields.get("status"),
                    o.fields.get("phaseId") or "",
                    ", ".join(appointments.get(o.id, [])),
                    opportunity_form(o),
                )
                for o in opportunities_
            ],
        ),
        "<h2>What happened</h2>"
        + _rows(("at", "what"), [(iso(h.at), h.text) for h in happenings_]),
    ]
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>tackbridge sandbox</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}
table{{border-collapse:collapse;margin-bottom:1rem;font-size:.9rem}}
td,th{{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}}
code{{background:#eee;padding:.1rem .3rem}}</style></head><body>
<h1>tackbridge sandbox</h1>
<p>A local Thumbtack and Coperniq. Legacy Pro API at <code>{base}/v1</code>…,
v4 at <code>{base}/api/v4</code>, OAuth at <code>{base}/oauth2/auth</code> and
<code>{base}/oauth2/token</code>, Coperniq at <code>{base}/coperniq/v1</code>.
JSON: <a href="/_sandbox/summary">summary</a>, <a href="/_sandbox/leads">leads</a>,
<a href="/_sandbox/messages">messages</a>, <a href="/_sandbox/job-statuses">job statuses</a>,
<a href="/_sandbox/tokens">tokens</a>, <a href="/_sandbox/webhooks">webhooks</a>,
<a href="/_sandbox/deliveries">deliveries</a>, <a href="/docs">API docs</a>.</p>
<form method="post" action="/_sandbox/ui/lead"><button>Create a lead now</button></form>
<p>Scenario: {"running" if box.scenario.running else "stopped"},
{box.scenario.rate:g} leads/min.</p>
{"".join(sections)}</body></html>"""
    return HTMLResponse(page)
