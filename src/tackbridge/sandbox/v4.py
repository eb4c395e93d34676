"""The v4 API under ``/api/v4``: negotiations (leads) get and list per business, job status with
validation, messages (get with limit/sentBefore/sentAfter, post), businesses, webhook management,
test-negotiation, and the demand side's ``POST /api/v4/requests``.

Every call needs a live v4 access token carrying ``audience=urn:partner-api`` (else 502
``proxy_oauth_failed``, as seen in the wild) and the endpoint's scope (else 403). Errors are
problem details.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tackbridge.sandbox import render
from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.errors import ProblemError
from tackbridge.sandbox.httputil import bearer_token, iso, json_object, parse_timestamp
from tackbridge.sandbox.legacy import record_pro_message
from tackbridge.sandbox.oauth import AUDIENCE
from tackbridge.sandbox.scenario import category
from tackbridge.sandbox.state import JobStatus, Lead, Message, Webhook
from tackbridge.sandbox.tokens import Token

JOB_STATUSES = (
    "not_scheduled",
    "appt_scheduled",
    "job_complete",
    "invoice_paid",
    "customer_cancel",
    "pro_cancel",
)
INVOICE_STATUSES = ("job_complete", "invoice_paid")
EVENT_TYPES = frozenset(
    {
        "NegotiationCreatedV4",
        "MessageCreatedV4",
        "ReviewCreatedV4",
        "PresetJobMatchedV4",
        "StatusChangedV4",
        "CancelledV4",
        "UpdatedV4",
        "CompletedV4",
        "IncentiveUsedV4",
    }
)

router = APIRouter(prefix="/api/v4", tags=["Thumbtack v4 API"])


def _field_error(field: str, detail: str, status: int = 400) -> ProblemError:
    return ProblemError(status, detail, errors=[{"field": field, "message": detail}])


def _token(request: Request, box: Sandbox, *scopes: str) -> Token:
    """The caller's token, holding at least one of ``scopes`` (any scope if none given)."""
    value = bearer_token(request)
    if value is None:
        raise ProblemError(
            401, "missing bearer access token", headers={"WWW-Authenticate": "Bearer"}
        )
    token = box.state.tokens.access(value, "v4")
    if token is None:
        raise ProblemError(
            401,
            "the access token is unknown, expired or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if token.audience != AUDIENCE:
        raise ProblemError(
            502,
            f"proxy_oauth_failed: the token was not issued for audience {AUDIENCE}",
            title="proxy_oauth_failed",
        )
    if scopes and not set(scopes) & set(token.scopes):
        raise missing_scope(_needed(token, scopes))
    return token


def _needed(token: Token, scopes: tuple[str, ...]) -> str:
    """The one scope to name: of the token's side (supply or demand) when there is a choice."""
    side = "demand::" if any(s.startswith("demand::") for s in token.scopes) else "supply::"
    return next((s for s in scopes if s.startswith(side)), scopes[0])


def missing_scope(scope: str) -> ProblemError:
    """Real Thumbtack's answer to a token without the endpoint's scope: 401, and this detail."""
    return ProblemError(
        401,
        f"required scope(s) [{scope}] not found",
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{scope}"'},
    )


def _own_business(token: Token, business_id: str) -> None:
    if not token.covers(business_id):
        raise ProblemError(403, f"the access token does not grant access to business {business_id}")


def _own_lead(box: Sandbox, token: Token, negotiation_id: str) -> Lead:
    lead = box.state.lead(negotiation_id)
    # Another business's lead answers as absent: its existence is not the caller's business.
    if lead is None or not token.covers(lead.business_id):
        raise ProblemError(404, f"negotiation {negotiation_id} not found")
    return lead


def _message(box: Sandbox, message: Message) -> dict[str, Any]:
    return render.v4_message(
        message,
        box.state.config.delivery_shapes,
        lead=box.state.lead(message.lead_id),
        business=box.state.business(message.business_id),
    )


# negotiations -------------------------------------------------------------------------------


@router.get("/negotiations/{negotiation_id}")
async def get_negotiation(
    negotiation_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    token = _token(request, box, "supply::negotiations.read", "demand::negotiations.read")
    lead = _own_lead(box, token, negotiation_id)
    return render.v4_lead(
        lead, box.state.business(lead.business_id), box.state.config.delivery_shapes
    )


@router.get("/businesses/{business_id}/negotiations")
async def list_negotiations(
    business_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    token = _token(request, box, "supply::negotiations.read")
    _own_business(token, business_id)
    business = box.state.business(business_id)
    if business is None:
        raise ProblemError(404, f"business {business_id} not found")
    leads = sorted(box.state.leads_of(business_id), key=lambda lead: lead.created_at, reverse=True)
    return {
        "data": [render.v4_lead(lead, business, box.state.config.delivery_shapes) for lead in leads]
    }


@router.post("/negotiations/{negotiation_id}/job-status")
async def job_status(
    negotiation_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    token = _token(request, box, "supply::negotiations.write")
    lead = _own_lead(box, token, negotiation_id)
    body = await json_object(request)
    status = body.get("status")
    if status is None:
        raise _field_error("status", "status is required")
    if status not in JOB_STATUSES:
        raise _field_error("status", f"status must be one of {', '.join(JOB_STATUSES)}")
    changed_at = body.get("partnerStatusChangedAt")
    if changed_at is None:
        raise _field_error("partnerStatusChangedAt", "partnerStatusChangedAt is required")
    if parse_timestamp(changed_at) is None:
        raise _field_error(
            "partnerStatusChangedAt", "partnerStatusChangedAt must be an RFC 3339 timestamp"
        )
    amount = body.get("invoiceAmountInCents")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise _field_error(
                "invoiceAmountInCents", "invoiceAmountInCents must be a non-negative integer"
            )
        if status not in INVOICE_STATUSES:
            raise _field_error(
                "invoiceAmountInCents",
                "invoiceAmountInCents applies only to job_complete and invoice_paid",
            )
    box.state.add_job_status(
        JobStatus(
            lead_id=lead.lead_id,
            business_id=lead.business_id,
            status=status,
            partner_status_changed_at=changed_at,
            invoice_amount_in_cents=amount,
            received_at=box.state.clock.now(),
            client_id=token.client_id,
        )
    )
    return {"negotiationID": lead.lead_id, "status": status, "partnerStatusChangedAt": changed_at}


# messages -----------------------------------------------------------------------------------


@router.get("/negotiations/{negotiation_id}/messages")
async def get_messages(
    negotiation_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    token = _token(request, box, "supply::messages.read", "demand::messages.read")
    lead = _own_lead(box, token, negotiation_id)
    query = request.query_params
    raw_limit = query.get("limit", "10")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 20:
        raise _field_error("limit", "limit must be an integer from 1 to 20")
    bounds = {}
    for name in ("sentBefore", "sentAfter"):
        if name in query:
            moment = parse_timestamp(query[name])
            if moment is None:
                raise _field_error(name, f"{name} must be an RFC 3339 timestamp")
            bounds[name] = moment
    messages = [
        m
        for m in box.state.messages_of(lead.lead_id)
        if ("sentBefore" not in bounds or m.sent_at < bounds["sentBefore"])
        and ("sentAfter" not in bounds or m.sent_at > bounds["sentAfter"])
    ]
    messages.sort(key=lambda m: m.sent_at, reverse=True)
    return {"data": [_message(box, m) for m in messages[: int(raw_limit)]]}


@router.post("/negotiations/{negotiation_id}/messages")
async def post_message(
    negotiation_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    token = _token(request, box, "supply::messages.write", "demand::messages.write")
    lead = _own_lead(box, token, negotiation_id)
    body = await json_object(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _field_error("text", "text is required")
    if len(text) > 10_000:
        raise _field_error("text", "text must be at most 10000 characters")
    message = record_pro_message(box, lead, text, "v4")
    return _message(box, message)


# businesses and webhooks --------------------------------------------------------------------


@router.get("/businesses")
async def businesses(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    token = _token(request, box)
    if any(s.startswith("supply::") for s in token.scopes):
        # Supply clients need the scope; which one a demand client needs is not documented.
        _token(request, box, "supply::businesses.list")
    found = [box.state.business(business_id) for business_id in token.businesses]
    return {"data": [render.business(business) for business in found if business]}


def _webhook_wire(hook: Webhook) -> dict[str, Any]:
    auth: dict[str, Any] = {"type": hook.auth_type}
    if hook.auth_type == "basic":
        auth["username"] = hook.username
    elif hook.auth_type == "header":
        auth["headerName"] = hook.header_name
    return {
        "webhookID": hook.webhook_id,
        "businessID": hook.business_id,
        "webhookURL": hook.url,
        "eventTypes": list(hook.event_types),
        "auth": auth,  # secrets are write-only
        "enabled": hook.enabled,
        "createdAt": iso(hook.created_at),
        "updatedAt": iso(hook.updated_at),
    }


def _loopback(host: str) -> bool:
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook_fields(box: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    url = body.get("webhookURL")
    if not isinstance(url, str) or not url:
        raise _field_error("webhookURL", "webhookURL is required")
    parts = urlsplit(url)
    insecure_ok = box.state.config.allow_http_webhooks or _loopback(parts.hostname or "")
    if parts.scheme != "https" and not (parts.scheme == "http" and insecure_ok):
        raise _field_error("webhookURL", "webhookURL must be an https URL")
    if not parts.hostname:
        raise _field_error("webhookURL", "webhookURL must be an absolute URL")
    event_types = body.get("eventTypes")
    if (
        not isinstance(event_types, list)
        or not event_types
        or not all(isinstance(e, str) for e in event_types)
    ):
        raise _field_error("eventTypes", "eventTypes must be a non-empty array of event types")
    unknown = [e for e in event_types if e not in EVENT_TYPES]
    if unknown:
        raise _field_error("eventTypes", f"unknown event type {unknown[0]!r}")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _field_error("enabled", "enabled must be a boolean")
    fields: dict[str, Any] = {
        "url": url,
        "event_types": list(dict.fromkeys(event_types)),
        "enabled": enabled,
        "auth_type": "none",
        "username": None,
        "password": None,
        "header_name": None,
        "header_value": None,
    }
    auth = body.get("auth")
    if auth is None:
        return fields
    if not isinstance(auth, dict):
        raise _field_error("auth", "auth must be an object")
    # The flat shapes api-notes.md documents ({username, password}; a header name/value) name
    # their kind by their fields: reading them as "none" would silently drop the secret.
    kind = auth.get("type") or (
        "basic"
        if "basic" in auth or "username" in auth
        else "header"
        if "header" in auth or "headerName" in auth
        else "none"
    )
    if kind == "basic":
        inner: dict[str, Any] = auth["basic"] if isinstance(auth.get("basic"), dict) else auth
        username, password = inner.get("username"), inner.get("password")
        if not isinstance(username, str) or not username or not isinstance(password, str):
            raise _field_error("auth", "basic auth needs a username and a password")
        fields.update(auth_type="basic", username=username, password=password)
    elif kind == "header":
        inner = auth["header"] if isinstance(auth.get("header"), dict) else auth
        name = inner.get("headerName", inner.get("name"))
        value = inner.get("headerValue", inner.get("value"))
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise _field_error("auth", "header auth needs a headerName and a headerValue")
        fields.update(auth_type="header", header_name=name, header_value=value)
    elif kind != "none":
        raise _field_error("auth", "auth.type must be none, basic or header")
    return fields


def _hook(box: Sandbox, business_id: str, webhook_id: str) -> Webhook:
    with box.state.lock:
        hook = box.state.webhooks.get(webhook_id)
    if hook is None or hook.business_id != business_id or hook.deleted_at is not None:
        raise ProblemError(404, f"webhook {webhook_id} not found")
    return hook


def _webhook_access(request: Request, box: Sandbox, business_id: str, write: bool) -> Token:
    token = _token(request, box)
    side = "supply" if any(s.startswith("supply::") for s in token.scopes) else "demand"
    needed = (
        [f"{side}::webhooks.write"]
        if write
        else [f"{side}::webhooks.{x}" for x in ("read", "write")]
    )
    if not set(needed) & set(token.scopes):
        raise missing_scope(needed[0])
    _own_business(token, business_id)
    if box.state.business(business_id) is None:
        raise ProblemError(404, f"business {business_id} not found")
    return token


@router.get("/businesses/{business_id}/webhooks")
async def list_webhooks(
    business_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    _webhook_access(request, box, business_id, write=False)
    with box.state.lock:
        hooks = [
            h
            for h in box.state.webhooks.values()
            if h.business_id == business_id and h.deleted_at is None
        ]
    return {"data": [_webhook_wire(h) for h in hooks]}


@router.post("/businesses/{business_id}/webhooks", status_code=201)
async def create_webhook(
    business_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    _webhook_access(request, box, business_id, write=True)
    fields = _webhook_fields(box, await json_object(request))
    now = box.state.clock.now()
    hook = Webhook(
        webhook_id=box.state.ids.next(),
        business_id=business_id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    with box.state.lock:
        box.state.webhooks[hook.webhook_id] = hook
    box.state.note(f"webhook {hook.webhook_id} registered for {business_id}: {hook.url}")
    return _webhook_wire(hook)


@router.get("/businesses/{business_id}/webhooks/{webhook_id}")
async def get_webhook(
    business_id: str, webhook_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    _webhook_access(request, box, business_id, write=False)
    return _webhook_wire(_hook(box, business_id, webhook_id))


@router.put("/businesses/{business_id}/webhooks/{webhook_id}")
async def update_webhook(
    business_id: str, webhook_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    _webhook_access(request, box, business_id, write=True)
    hook = _hook(box, business_id, webhook_id)
    fields = _webhook_fields(box, await json_object(request))
    with box.state.lock:
        for name, value in fields.items():
            setattr(hook, name, value)
        hook.updated_at = box.state.clock.now()
    box.state.note(f"webhook {webhook_id} updated")
    return _webhook_wire(hook)


@router.delete("/businesses/{business_id}/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(
    business_id: str, webhook_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> Response:
    _webhook_access(request, box, business_id, write=True)
    hook = _hook(box, business_id, webhook_id)
    with box.state.lock:
        hook.deleted_at = box.state.clock.now()
    box.state.note(f"webhook {webhook_id} deleted")
    return Response(status_code=204)


@router.post("/businesses/{business_id}/webhooks/test-negotiation")
async def create_test_negotiation(
    business_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, Any]:
    _webhook_access(request, box, business_id, write=True)
    lead = box.scenario.create_lead(business_id, source="test-negotiation", test=True)
    return render.v4_lead(lead, box.state.business(business_id), box.state.config.delivery_shapes)


# demand: requests ---------------------------------------------------------------------------


@router.post("/requests")
async def create_request(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    token = _token(request, box)
    if not any(s.startswith("demand::") for s in token.scopes):
        raise ProblemError(403, "submitting requests needs a demand client's token")
    body = await json_object(request)
    business_ids = body.get("businessIDs")
    if (
        not isinstance(business_ids, list)
        or not business_ids
        or not all(isinstance(b, str | int) and not isinstance(b, bool) for b in business_ids)
    ):
        raise _field_error("businessIDs", "businessIDs must be a non-empty array of IDs")
    category_id = body.get("categoryID")
    if not isinstance(category_id, str | int) or isinstance(category_id, bool):
        raise _field_error("categoryID", "categoryID is required")
    info = category(str(category_id))
    if info is None:
        raise _field_error("categoryID", f"unknown categoryID {category_id}")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise _field_error("description", "description must be a string")
    zip_code = body.get("zipCode")
    if zip_code is not None and (
        not isinstance(zip_code, str) or len(zip_code) != 5 or not zip_code.isascii()
        or not zip_code.isdigit()
    ):  # fmt: skip
        raise _field_error("zipCode", "zipCode must be a five-digit string")
    utm = body.get("utmData")
    if utm is not None and not isinstance(utm, dict):
        raise _field_error("utmData", "utmData must be an object")

    contact_errors: list[dict[str, str]] = []
    first: Lead | None = None
    for raw in dict.fromkeys(str(b) for b in business_ids):
        business = box.state.business(raw)
        if business is None:
            contact_errors.append({"businessID": raw, "error": "business not found"})
            continue
        if not business.service_targeting:
            contact_errors.append({"businessID": raw, "error": "business is not taking requests"})
            continue
        if first is None:
            first = box.scenario.create_lead(
                raw,
                source="requests-api",
                category_id=info.category_id,
                description=description or "Nothing",
                zip_code=zip_code,
                follow_up=False,
            )
        else:
            # One request, one customer: each further business gets its own lead of it.
            lead = replace(first, lead_id=box.state.ids.next(), business_id=raw)
            box.state.add_lead(lead)
            box.dispatcher.lead_created(lead)
    # The answer is the document's: ``request`` and ``contactErrors`` only (which lead each
    # business got is for /_sandbox/leads to tell).
    if first is None:
        return {"request": None, "contactErrors": contact_errors}
    location = {
        "address1": first.address1,
        "address2": first.address2,
        "city": first.city,
        "state": first.state,
        "zipCode": first.zip_code,
    }
    return {
        "request": {
            "requestID": first.request_id,
            "customerID": first.customer.customer_id,
            "description": first.description,
            "category": {"categoryID": info.category_id, "name": info.name},
            "proposedTimes": first.proposed_times,
            "location": location,
            "travelPreferences": [first.travel_preferences],
            "details": [{"question": q, "answer": a} for q, a in first.details],
            "attachments": first.attachments,
        },
        "contactErrors": contact_errors,
    }
