"""The JSON shapes of the sandbox's own records as ``/_sandbox`` shows them: what the inspection
reads list (``inspect_api``) and what the control actions answer with (``control``), plus the
lead look-up both use. Times the sandbox recorded carry microseconds (``recorded``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tackbridge.sandbox import render
from tackbridge.sandbox.context import Sandbox
from tackbridge.sandbox.errors import ProblemError
from tackbridge.sandbox.httputil import iso
from tackbridge.sandbox.state import Delivery, Lead, Message, Review

__all__ = [
    "delivery_json",
    "find_lead",
    "iso_or_none",
    "lead_json",
    "message_json",
    "recorded",
    "review_json",
]


def iso_or_none(moment: Any) -> str | None:
    """``iso`` of a moment that may not have happened (``None``)."""
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
        "lead": render.v4_lead(
            lead, box.state.business(lead.business_id), box.state.config.delivery_shapes
        ),
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


def find_lead(box: Sandbox, lead_id: str) -> Lead:
    """The lead, or the 404 problem every ``/_sandbox/leads/{leadID}`` route answers."""
    lead = box.state.lead(lead_id)
    if lead is None:
        raise ProblemError(404, f"lead {lead_id} not found")
    return lead
