"""A lead's page (``/leads/{id}``): the customer, the request (description, details, schedule,
location, attachments), price and charge state, the CRM record, the status timeline with the
controls that push a job status, and the conversation with the reply box. Replies go through
``conversations.replies.queue_reply`` and job statuses through ``jobstatus`` (validate, then
``record_change``), exactly as the operator API sends them; each message's delivery state and
the timeline update live (``dashboard.live``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from sqlalchemy import Connection, select
from starlette.responses import Response

from tackbridge.conversations.replies import MAX_TEXT, REPLY_KIND, LeadNotFoundError, queue_reply
from tackbridge.core.clock import now
from tackbridge.crm.store import Link, link_of_lead
from tackbridge.dashboard.access import NotVisibleError, access_of
from tackbridge.dashboard.auth import SignedIn, page_user
from tackbridge.dashboard.csrf import checked_user
from tackbridge.dashboard.live import lead_stamp
from tackbridge.dashboard.price_clock import PriceClock
from tackbridge.dashboard.templating import redirect, render
from tackbridge.jobstatus import push
from tackbridge.jobstatus.rules import (
    INVOICE_STATUSES,
    STATUSES,
    InvalidJobStatusError,
    JobStatusChange,
    validate,
)
from tackbridge.leads.service import get_lead
from tackbridge.leads.thread import ThreadMessage, thread
from tackbridge.leads.views import AttachmentView, LeadView, StatusChangeView
from tackbridge.services import services
from tackbridge.store.schema import outbox

__all__ = ["describe_estimate", "describe_times", "parse_dollars", "router"]

router = APIRouter(include_in_schema=False)
LeadID = Annotated[str, Path(max_length=64)]
_NONCE = re.compile(r"^[0-9a-f]{32}$")


def parse_dollars(text: str) -> int | None:
    """``"1,250.50"``, ``"$1250"`` -> cents; blank -> None; raises ValueError otherwise."""
    cleaned = text.strip().replace(",", "").removeprefix("$").strip()
    if not cleaned:
        return None
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("the invoice amount must be a number of dollars, like 1250.00") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("the invoice amount must be a positive number of dollars")
    if amount > Decimal("100000000"):
        raise ValueError("the invoice amount is too large")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("the invoice amount has at most 2 decimals (cents)")
    return int(amount * 100)


def describe_estimate(estimate: Any) -> str | None:
    """The pro's estimate as a line: ``$150.00 (Fixed, 1 job)``; None when there is none."""
    if isinstance(estimate, str | int | float) and not isinstance(estimate, bool):
        return str(estimate)
    if not isinstance(estimate, dict):
        return None
    amount = estimate.get("total") or estimate.get("pricePerUnit") or estimate.get("amount")
    unit = estimate.get("unitName")
    quantity = estimate.get("unitQuantity")
    parts = [str(p) for p in (estimate.get("type"),) if p]
    if unit and quantity is not None:
        parts.append(f"{quantity} {unit}")
    if amount is None:
        return ", ".join(parts) or None
    return f"{amount} ({', '.join(parts)})" if parts else str(amount)


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def describe_times(times: Any) -> list[str]:
    """The customer's proposed times, each as ``2026-09-20 16:00-18:00 UTC`` (or as sent)."""
    if not isinstance(times, list):
        return [str(times)] if isinstance(times, str) and times.strip() else []
    shown = []
    for item in times:
        if isinstance(item, dict):
            start, end = _moment(item.get("start")), _moment(item.get("end"))
            if start is not None:
                text = start.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
                if end is not None:
                    end_utc = end.astimezone(UTC)
                    same_day = end_utc.date() == start.astimezone(UTC).date()
                    text += "-" + end_utc.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")
                shown.append(text + " UTC")
                continue
        if isinstance(item, str | int | float) and str(item).strip():
            shown.append(str(item))
    return shown


@dataclass(frozen=True)
class Message:
    message: ThreadMessage
    attachments: list[AttachmentView]
    error: str | None = None  # a reply that failed: why (its job's last error)


@dataclass(frozen=True)
class Step:
    change: StatusChangeView
    at: datetime
    push_state: str | None  # job statuses: the push job's state (pending, running, done, dead)
    error: str | None = None  # the push's last error, while it is retried or once it is dead


@dataclass(frozen=True)
class JobState:
    state: str
    error: str | None


def _jobs(conn: Connection, keys: Collection[str]) -> dict[str, JobState]:
    """The outbox jobs with these idempotency keys: state and last error's detail."""
    if not keys:
        return {}
    found = conn.execute(
        select(outbox.c.idempotency_key, outbox.c.state, outbox.c.last_error).where(
            outbox.c.idempotency_key.in_(sorted(keys))
        )
    )
    return {
        row.idempotency_key: JobState(
            row.state,
            str(row.last_error.get("detail"))[:300]
            if isinstance(row.last_error, dict) and row.last_error.get("detail")
            else None,
        )
        for row in found
    }


def _messages_of(conn: Connection, lead: LeadView) -> list[Message]:
    files = {m.messageID: m.attachments for m in lead.messages}
    shown = thread(conn, lead.leadID).messages
    keys = {
        m.messageID: f"{REPLY_KIND.name}:{lead.leadID}:{m.messageID}"
        for m in shown
        if m.deliveryState == "failed"
    }
    jobs = _jobs(conn, set(keys.values()))
    return [
        Message(
            m,
            files.get(m.messageID, []),
            jobs[keys[m.messageID]].error if keys.get(m.messageID) in jobs else None,
        )
        for m in shown
    ]


def _is_image(file: AttachmentView) -> bool:
    if file.mimeType:
        return file.mimeType.lower().startswith("image/")
    name = (file.fileName or file.url or "").lower().split("?")[0]
    return name.endswith((".jpg", ".jpeg", ".png", ".gif", ".webp"))


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links reach the page (no ``javascript:`` from a delivery)."""
    if url and re.match(r"^https?://", url.strip(), re.IGNORECASE):
        return url.strip()
    return None


def _steps(conn: Connection, lead: LeadView) -> list[Step]:
    keys: dict[int, str] = {}
    for i, change in enumerate(lead.statusHistory):
        if change.source == "job_status" and change.jobStatus and change.occurredAt:
            keys[i] = push.push_key(
                JobStatusChange(
                    lead.leadID, change.jobStatus, change.occurredAt, change.invoiceAmountInCents
                )
            )
    states: dict[str, str] = {}
    if keys:
        found = conn.execute(
            select(outbox.c.idempotency_key, outbox.c.state).where(
                outbox.c.idempotency_key.in_(sorted(set(keys.values())))
            )
        )
        states = {row.idempotency_key: row.state for row in found}
    return [
        Step(change, change.occurredAt or change.recordedAt, states.get(keys.get(i, "")))
        for i, change in enumerate(lead.statusHistory)
    ]


def _crm_url(link: Link | None, template: str | None) -> str | None:
    if link is None or not link.external_id or not template:
        return None
    kind = link.destination.partition(":")[2] or "opportunity"
    return _safe_url(template.replace("{type}", kind).replace("{id}", link.external_id))


def _page(
    request: Request,
    user: SignedIn,
    lead_id: str,
    *,
    status_code: int = 200,
    reply_error: str | None = None,
    reply_text: str = "",
    status_error: str | None = None,
    status_values: dict[str, str] | None = None,
) -> Response:
    svc = services(request)
    access = access_of(user)
    at = now()
    with svc.db.reader.connect() as conn:
        access.require_lead(conn, lead_id)
        lead = get_lead(conn, lead_id)
        if lead is None:
            raise NotVisibleError(f"lead {lead_id!r}")
        messages = _messages_of(conn, lead)
        link = link_of_lead(conn, lead_id)
        steps = _steps(conn, lead)
        stamp = lead_stamp(conn, lead_id)
        business_id = lead.business.businessID if lead.business else None
        left = (
            None
            if lead.firstReplyAt is not None or lead.isTest
            else PriceClock(conn, svc.settings).left(
                lead.receivedAt,
                business_id,
                lead.request.category,
                category_id=lead.request.categoryID,
                now=at,
            )
        )
    attachments = lead.request.attachments
    done = request.query_params.get("done")
    return render(
        request,
        "lead.html",
        {
            "user": user.user,
            "csrf": user.csrf,
            "active": "inbox",
            "lead": lead,
            "messages": messages,
            "images": [a for a in attachments if _is_image(a) and _safe_url(a.url)],
            "files": [a for a in attachments if not (_is_image(a) and _safe_url(a.url))],
            "safe_url": _safe_url,
            "is_image": _is_image,
            "link": link,
            "estimate": describe_estimate(lead.estimate),
            "proposed_times": describe_times(lead.request.proposedTimes),
            "crm_url": _crm_url(link, svc.settings.crm_record_url),
            "steps": steps,
            "left": left,
            "statuses": STATUSES,
            "invoice_statuses": sorted(INVOICE_STATUSES),
            "nonce": uuid.uuid4().hex,
            "max_text": MAX_TEXT,
            "reply_error": reply_error,
            "reply_text": reply_text,
            "status_error": status_error,
            "status_values": status_values or {},
            "done": done if done in ("reply", "status") else None,
            "stamp": stamp,
            "live_url": f"/dashboard/events/leads/{lead_id}",
        },
        status_code=status_code,
    )


@router.get("/leads/{lead_id}")
def lead_page(
    request: Request, lead_id: LeadID, user: Annotated[SignedIn, Depends(page_user)]
) -> Response:
    return _page(request, user, lead_id)


def _visible(request: Request, user: SignedIn, lead_id: str) -> None:
    with services(request).db.reader.connect() as conn:
        access_of(user).require_lead(conn, lead_id)


@router.post("/leads/{lead_id}/reply")
async def reply(
    request: Request,
    lead_id: LeadID,
    user: Annotated[SignedIn, Depends(checked_user)],
    text: Annotated[str, Form(max_length=MAX_TEXT * 2)] = "",
    nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    svc = services(request)
    _visible(request, user, lead_id)
    if not text.strip():
        return _page(request, user, lead_id, status_code=422, reply_error="Write a reply first.")
    if len(text) > MAX_TEXT:
        return _page(
            request,
            user,
            lead_id,
            status_code=422,
            reply_error=f"A reply has at most {MAX_TEXT:,} characters.",
            reply_text=text,
        )
    # The form's nonce names the reply: a double submit or a reload sends it once.
    message_id = f"reply-{nonce}" if _NONCE.match(nonce) else None
    at = now()
    try:
        await svc.writer.run(
            lambda conn: queue_reply(
                conn, lead_id, text, now=at, author="person", message_id=message_id
            )
        )
    except LeadNotFoundError:
        raise NotVisibleError(f"lead {lead_id!r}") from None
    svc.wake_worker()
    return redirect(f"/leads/{lead_id}?done=reply#conversation")


@router.post("/leads/{lead_id}/job-status")
async def job_status(
    request: Request,
    lead_id: LeadID,
    user: Annotated[SignedIn, Depends(checked_user)],
    status: Annotated[str, Form(max_length=32)] = "",
    invoice: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    svc = services(request)
    _visible(request, user, lead_id)
    values = {"status": status, "invoice": invoice}
    at = now()
    try:
        cents = parse_dollars(invoice)
        change = validate(lead_id, status, invoice_amount_cents=cents, now=at)
    except InvalidJobStatusError as exc:
        detail = exc.detail.replace("invoiceAmountInCents", "an invoice amount")
        return _page(
            request, user, lead_id, status_code=422, status_error=detail, status_values=values
        )
    except ValueError as exc:
        return _page(
            request, user, lead_id, status_code=422, status_error=str(exc), status_values=values
        )

    def record(conn: Connection) -> Any:
        return push.record_change(conn, change, now=at)

    try:
        await svc.writer.run(record)
    except push.LeadNotFoundError:
        raise NotVisibleError(f"lead {lead_id!r}") from None
    svc.wake_worker()
    return redirect(f"/leads/{lead_id}?done=status#timeline")
