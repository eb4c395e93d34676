"""The sandbox's control endpoints under ``/_sandbox``: create a business, a lead, a customer
message or a review now, retry deliveries, start and stop the scenario, read and set faults, move
the clock forward, and act in Coperniq's UI through JSON (set the automation webhook URL, move an
opportunity's status or phase, book or reschedule an appointment, define a custom property).

Every change goes through the same state, scenario and store methods the partner-facing APIs use,
so it is delivered and fires automations exactly as a real one would.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request

from tackbridge.sandbox import render
from tackbridge.sandbox.config import DELIVERY_SHAPES, Faults
from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.coperniq.records import STATUSES
from tackbridge.sandbox.coperniq.wire import opportunity_wire
from tackbridge.sandbox.errors import ProblemError
from tackbridge.sandbox.httputil import iso, json_object, parse_timestamp
from tackbridge.sandbox.inspect_json import find_lead, lead_json, message_json, review_json

__all__ = ["MAX_CLOCK_STEP_SECONDS", "router"]

# Ten years a step: far enough for any expiry, and the clock stays within datetime's range.
MAX_CLOCK_STEP_SECONDS = 10 * 366 * 24 * 3600

router = APIRouter(prefix="/_sandbox", tags=["Sandbox inspection and control"])


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
    lead = find_lead(box, lead_id)
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
    lead = find_lead(box, lead_id)
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


@router.put("/config/delivery-shapes")
async def delivery_shapes(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    """``{"shapes": "real" | "docs"}``: the shapes of the v4 records sent from now on."""
    body = await json_object(request)
    shapes = body.get("shapes")
    if shapes not in DELIVERY_SHAPES:
        raise ProblemError(400, "shapes must be 'real' or 'docs'", errors=[{"field": "shapes"}])
    box.state.set_config(delivery_shapes=shapes)
    box.state.note(f"delivery shapes: {shapes}")
    return {"shapes": shapes}


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
