"""The sandbox's JSON inspection reads under ``/_sandbox``: what the partner did (messages the pro
sent, job statuses, tokens issued and spent, webhooks registered, deliveries attempted), the
world it acted on (businesses, leads, reviews, targeting, the log of what happened) and
Coperniq's records and automation events. Reads only: changing anything is ``control``'s.

Secrets never appear here: tokens and codes are shown by fingerprint (``tokens.fingerprint``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request

from tackbridge.sandbox import render
from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.coperniq.wire import opportunity_wire
from tackbridge.sandbox.httputil import iso
from tackbridge.sandbox.inspect_json import (
    delivery_json,
    find_lead,
    iso_or_none,
    lead_json,
    message_json,
    recorded,
    review_json,
)
from tackbridge.sandbox.tokens import fingerprint

__all__ = ["router"]

router = APIRouter(prefix="/_sandbox", tags=["Sandbox inspection and control"])


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
        "deliveryShapes": c.delivery_shapes,
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
    return lead_json(box, find_lead(box, lead_id))


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
                "usedAt": iso_or_none(c.used_at),
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
                "spentAt": iso_or_none(t.spent_at),
                "revokedAt": iso_or_none(t.revoked_at),
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
            "deletedAt": iso_or_none(h.deleted_at),
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


@router.get("/coperniq/opportunities")
async def coperniq_opportunities(box: Sandbox = Depends(sandbox)) -> list[dict[str, Any]]:
    store = box.state.coperniq
    with box.state.lock:
        items = list(store.opportunities.values())
    return [
        {
            **opportunity_wire(store, o, detail=True),
            "deletedAt": iso_or_none(o.deleted_at),
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
