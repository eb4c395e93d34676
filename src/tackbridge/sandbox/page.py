"""The sandbox's page for people at ``/_sandbox/``: the latest businesses, leads, messages, job
statuses, deliveries, tokens (by fingerprint), webhooks, Coperniq opportunities and what happened,
refreshed every few seconds, with buttons that create a lead and move an opportunity in
Coperniq's UI (``/_sandbox/ui/...``, form posts that redirect back to the page).

Everything shown is escaped: only markup built here from escaped parts (``_Raw``) is not.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.coperniq.records import STATUSES
from tackbridge.sandbox.errors import ProblemError
from tackbridge.sandbox.httputil import form_or_query, iso, parse_timestamp
from tackbridge.sandbox.inspect_json import iso_or_none
from tackbridge.sandbox.tokens import fingerprint

__all__ = ["router"]

router = APIRouter(prefix="/_sandbox", tags=["Sandbox inspection and control"])


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
                    iso_or_none(t.spent_at) or "",
                    f"{iso_or_none(t.revoked_at)} ({t.revoked_why})" if t.revoked_at else "",
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
