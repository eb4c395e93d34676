"""The Connections page (``/connections``, owners and admins): each Thumbtack connection grouped
by account (one grant serves an account's businesses) with its API, scopes, token health and
webhook registration; "Connect to Thumbtack" (the OAuth flow of ``connections.flow``), enabling
and disabling each business, "Disconnect" with the purge date; and per business where its leads
go (``crm.choice``, the same as ``PUT /api/businesses/{id}/destination``) and its automatic
first reply (``autoreply``), with a live preview of the template rendered for the business's
latest lead (``/dashboard/autoreply/preview``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, Form, Path, Query, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from starlette.responses import JSONResponse, Response

from tackbridge.autoreply import templates as reply_templates
from tackbridge.autoreply.rules import RuleSet, RuleSetError, validate_rule_set
from tackbridge.autoreply.store import default_rules, own_rules
from tackbridge.autoreply.store import save_rules as store_rules
from tackbridge.connections import flow
from tackbridge.connections.config import NotConfiguredError, callback_url, configured_scopes
from tackbridge.connections.health import (
    Verdict,
    missing_scopes,
    purge_at,
    token_health,
    webhook_health,
)
from tackbridge.connections.service import connections_of
from tackbridge.connections.store import ConnectionRow
from tackbridge.core.clock import now
from tackbridge.crm.choice import DestinationRefusedError, choose_destination
from tackbridge.crm.destinations import destination_types
from tackbridge.crm.store import describe_destination
from tackbridge.dashboard.auth import SignedIn
from tackbridge.dashboard.destination_form import FormField, body_of, form_fields
from tackbridge.dashboard.staff import staff_endpoint, staff_form, staff_page
from tackbridge.dashboard.templating import SECURITY_HEADERS, redirect, render
from tackbridge.leads.models import LeadInput
from tackbridge.leads.rows import read_lead_input
from tackbridge.leads.service import lead_facets, list_leads
from tackbridge.services import Services, services, thumbtack_environment
from tackbridge.store.secrets import MissingSecretKeyError

__all__ = ["SAMPLE_LEAD", "router"]

router = APIRouter(include_in_schema=False)
BusinessID = Annotated[str, Path(min_length=1, max_length=64)]
#: The lead a template is previewed with when the business has none yet.
SAMPLE_LEAD = LeadInput(
    lead_id="sample",
    category="House Cleaning",
    city="San Francisco",
    schedule="This week",
    customer_first_name="Olivia",
    customer_name="Olivia Young",
)
NOTICES = {
    "enabled": "is enabled: its webhook is registered and its new leads are acted on.",
    "disabled": "is disabled: its webhook is removed; its deliveries are stored, not acted on.",
    "disconnected": "is disconnected. Its customer data is purged on the date shown.",
    "destination": "sends its leads to the destination shown.",
    "autoreply": "has new automatic reply rules.",
    "autoreply-default": "uses the default automatic reply rules again.",
}
Notice = Literal[
    "enabled", "disabled", "disconnected", "destination", "autoreply", "autoreply-default"
]


@dataclass(frozen=True)
class Business:
    """One connected business as the page shows it."""

    row: ConnectionRow
    token: Verdict
    webhook: Verdict
    missing: list[str]
    purge_at: datetime | None


@dataclass
class Account:
    """The businesses one grant serves, the one holding it first."""

    holder: Business
    members: list[Business] = field(default_factory=list)

    @property
    def businesses(self) -> list[Business]:
        return [self.holder, *self.members]


@dataclass(frozen=True)
class Rules:
    inherited: bool
    rules: RuleSet | None
    error: str | None = None  # stored rules that no longer validate

    @property
    def default(self) -> Any:
        return None if self.rules is None else self.rules.default


@dataclass(frozen=True)
class Choices:
    """What the page shows of one business's own choices."""

    business_id: str
    name: str | None
    destination: dict[str, Any]
    rules: Rules


def _accounts(rows: list[ConnectionRow], svc: Services, at: datetime) -> list[Account]:
    by_id = {row.business_id: row for row in rows}
    delay = svc.settings.purge_delay_days

    def shown(row: ConnectionRow) -> Business:
        wanted = configured_scopes(svc.settings, row.api)
        return Business(
            row,
            token_health(row, at, by_id.get(row.grant_of) if row.grant_of else None),
            webhook_health(row),
            [] if row.state == "disconnected" else missing_scopes(row, wanted),
            purge_at(row, delay),
        )

    accounts: dict[str, Account] = {}
    for row in rows:
        if row.grant_of is None or row.grant_of not in by_id:
            accounts[row.business_id] = Account(shown(row))
    for row in rows:
        if row.grant_of is not None and row.grant_of in accounts:
            accounts[row.grant_of].members.append(shown(row))
    return list(accounts.values())


def _rules(conn: Connection, svc: Services, business_id: str) -> Rules:
    own = own_rules(conn, business_id)
    try:
        if own is not None:
            return Rules(False, validate_rule_set(own))
        return Rules(True, default_rules(svc.settings))
    except (RuleSetError, ValueError) as exc:
        return Rules(own is None, None, f"the stored rules cannot be read: {exc}")


def _form_action_origins(svc: Services) -> list[str]:
    """Where the Connect form may send the browser: Thumbtack's authorize pages."""
    try:
        env = thumbtack_environment(svc.settings)
    except NotConfiguredError:
        return []
    found = []
    for url in (env.oauth_authorize_url, env.partner_connect_url):
        parts = urlsplit(url)
        if parts.scheme and parts.netloc:
            found.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(found))


def _headers(svc: Services) -> dict[str, str]:
    """The pages' security headers, the Connect form allowed to go on to Thumbtack (a form's
    redirect is held to ``form-action`` too)."""
    origins = " ".join(_form_action_origins(svc))
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "form-action 'self'", f"form-action 'self' {origins}".rstrip()
    )
    return {"Content-Security-Policy": policy}


def _page(
    request: Request,
    user: SignedIn,
    *,
    notice: str | None = None,
    business: str | None = None,
    error: str | None = None,
    error_business: str | None = None,
    status_code: int = 200,
) -> Response:
    svc = services(request)
    at = now()
    rows = connections_of(request).list()
    types = destination_types(svc)
    names: dict[str, str | None] = {row.business_id: row.business_name for row in rows}
    with svc.db.reader.connect() as conn:
        for business_id, name in lead_facets(conn).businesses:
            names.setdefault(business_id, name)
        settings = [
            Choices(
                business_id,
                name,
                describe_destination(conn, business_id, svc.settings, svc.box, types).model_dump(),
                _rules(conn, svc, business_id),
            )
            for business_id, name in sorted(
                names.items(), key=lambda item: ((item[1] or item[0]).lower(), item[0])
            )
        ]
    fields = form_fields(types)
    message = None
    if notice in NOTICES and business in names:  # never text from the address alone
        message = f"{names[business] or business} {NOTICES[notice]}"
    return render(
        request,
        "connections.html",
        {
            "user": user.user,
            "csrf": user.csrf,
            "active": "connections",
            "accounts": _accounts(rows, svc, at),
            "businesses": settings,
            "kinds": types.kinds,
            "fields": fields,
            "fields_for": _fields_for,
            "default_api": svc.settings.thumbtack_api,
            "purge_days": svc.settings.purge_delay_days,
            "purge_from_now": at + timedelta(days=svc.settings.purge_delay_days),
            "weekdays": WEEKDAYS,
            "message": message,
            "error": error,
            "error_business": error_business,
            "now": at,
        },
        status_code=status_code,
        headers=_headers(svc),
    )


def _fields_for(destination: dict[str, Any], fields: list[FormField]) -> list[FormField]:
    """``fields`` with what applies now for this business (never a secret)."""
    filled = []
    for f in fields:
        parent, _, child = f.name.partition(".")
        value = (destination.get(parent) or {}).get(child) if child else destination.get(parent)
        current = "" if value is None or f.kind == "secret" else str(value)
        if isinstance(value, bool):
            current = "true" if value else "false"
        filled.append(FormField(f.name, f.label, f.destination, f.kind, f.choices, current))
    return filled


@router.get("/connections")
def connections_page(
    request: Request,
    user: Annotated[SignedIn, Depends(staff_page)],
    notice: Notice | None = None,
    business: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    return _page(request, user, notice=notice, business=business)


@router.post("/connections/connect")
async def connect(
    request: Request,
    user: Annotated[SignedIn, Depends(staff_form)],
    api: Annotated[Literal["v4", "legacy"], Form()] = "v4",
) -> Response:
    service = connections_of(request)
    try:
        url = await flow.start(
            service,
            api=api,
            scopes=None,
            redirect_uri=callback_url(service.settings, str(request.base_url)),
        )
    except flow.ConnectError as exc:
        return _page(request, user, error=exc.detail, status_code=exc.status)
    except (NotConfiguredError, MissingSecretKeyError) as exc:
        return _page(request, user, error=str(exc), status_code=503)
    return redirect(url)


async def _toggle(request: Request, user: SignedIn, business_id: str, enabled: bool) -> Response:
    try:
        await flow.set_enabled(connections_of(request), business_id, enabled)
    except flow.ConnectError as exc:
        return _page(request, user, error=exc.detail, status_code=exc.status)
    state = "enabled" if enabled else "disabled"
    return redirect(f"/connections?notice={state}&business={business_id}")


@router.post("/connections/{business_id}/enable")
async def enable(
    request: Request, business_id: BusinessID, user: Annotated[SignedIn, Depends(staff_form)]
) -> Response:
    return await _toggle(request, user, business_id, True)


@router.post("/connections/{business_id}/disable")
async def disable(
    request: Request, business_id: BusinessID, user: Annotated[SignedIn, Depends(staff_form)]
) -> Response:
    return await _toggle(request, user, business_id, False)


@router.post("/connections/{business_id}/disconnect")
async def disconnect(
    request: Request, business_id: BusinessID, user: Annotated[SignedIn, Depends(staff_form)]
) -> Response:
    try:
        await flow.disconnect(connections_of(request), business_id)
    except flow.ConnectError as exc:
        return _page(request, user, error=exc.detail, status_code=exc.status)
    except MissingSecretKeyError as exc:
        return _page(request, user, error=str(exc), status_code=503)
    return redirect(f"/connections?notice=disconnected&business={business_id}")


@router.post("/connections/{business_id}/destination")
async def destination(
    request: Request, business_id: BusinessID, user: Annotated[SignedIn, Depends(staff_form)]
) -> Response:
    svc = services(request)
    types = destination_types(svc)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        body = types.request_model.model_validate(body_of(types, form))
        await choose_destination(svc, business_id, body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "the form"
        detail = f"{where}: {str(first['msg']).removeprefix('Value error, ')}"
        return _page(request, user, error=detail, error_business=business_id, status_code=422)
    except DestinationRefusedError as exc:
        return _page(
            request, user, error=exc.detail, error_business=business_id, status_code=exc.status
        )
    return redirect(f"/connections?notice=destination&business={business_id}")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hours_of(form: dict[str, str], days: list[str]) -> dict[str, Any] | None:
    """The business hours the form sets: one window of days; no time zone, no hours (then
    every hour counts for Price Assurance, and the out-of-hours template is never used)."""
    zone = (form.get("hours_time_zone") or "").strip()
    if not zone:
        return None
    return {
        "time_zone": zone,
        "windows": [
            {
                "days": [d for d in WEEKDAYS if d in days],
                "start": form.get("hours_start") or "",
                "end": form.get("hours_end") or "",
            }
        ],
    }


def _rule_of(
    form: dict[str, str], base: dict[str, Any] | None, days: list[str] | None = None
) -> dict[str, Any]:
    """The business's rule set with its default rule as the form sets it (its category rules
    kept; its hours kept unless the form edits them, ``hours_edit``)."""
    rules: dict[str, Any] = dict(base or {})
    default: dict[str, Any] = dict(rules.get("default") or {})
    if form.get("hours_edit") == "on":
        hours = _hours_of(form, days or [])
        if hours is None:
            default.pop("business_hours", None)
        else:
            default["business_hours"] = hours
    default["enabled"] = form.get("enabled") == "on"
    default["template"] = form.get("template", "")
    out_of_hours = (form.get("out_of_hours_template") or "").strip()
    if out_of_hours:
        default["out_of_hours_template"] = form.get("out_of_hours_template")
    else:
        default.pop("out_of_hours_template", None)
    delay = (form.get("delay_seconds") or "").strip()
    default["delay_seconds"] = int(delay) if delay.isdigit() else (delay or 0)
    rules["default"] = default
    return rules


@router.post("/connections/{business_id}/autoreply")
async def autoreply(
    request: Request, business_id: BusinessID, user: Annotated[SignedIn, Depends(staff_form)]
) -> Response:
    svc = services(request)
    submitted = await request.form()
    form = {k: v for k, v in submitted.items() if isinstance(v, str)}
    days = [d for d in submitted.getlist("hours_days") if isinstance(d, str)]
    at = now()
    if form.get("action") == "inherit":
        await svc.writer.run(lambda conn: store_rules(conn, business_id, None, at))
        return redirect(f"/connections?notice=autoreply-default&business={business_id}")
    with svc.db.reader.connect() as conn:
        current = _rules(conn, svc, business_id).rules
    base = None if current is None else current.model_dump(mode="json", exclude_none=True)
    try:
        rules = validate_rule_set(_rule_of(form, base, days))
    except RuleSetError as exc:
        detail = "; ".join(f"{e['field']}: {e['detail']}" for e in exc.errors)
        return _page(request, user, error=detail, error_business=business_id, status_code=422)
    await svc.writer.run(lambda conn: store_rules(conn, business_id, rules, at))
    return redirect(f"/connections?notice=autoreply&business={business_id}")


class PreviewIn(BaseModel):
    business: str | None = None
    template: str = ""


class PreviewOut(BaseModel):
    text: str | None
    error: str | None
    lead: str  # whose lead it was rendered for


@router.post("/dashboard/autoreply/preview", response_model=PreviewOut)
def preview(
    request: Request,
    body: Annotated[PreviewIn, Body()],
    user: Annotated[SignedIn, Depends(staff_endpoint)],
) -> Response:
    """The template rendered for the business's latest lead (or a sample one), as the
    automatic reply would send it; or why it cannot be used."""
    svc = services(request)
    lead = SAMPLE_LEAD
    with svc.db.reader.connect() as conn:
        if body.business:
            latest = list_leads(conn, business_id=body.business[:64], limit=1).items
            found = read_lead_input(conn, latest[0].leadID) if latest else None
            lead = found or lead
    whose = "a sample lead" if lead is SAMPLE_LEAD else f"lead {lead.lead_id}"
    try:
        reply_templates.check_template(body.template)
    except reply_templates.TemplateError as exc:
        return JSONResponse(PreviewOut(text=None, error=exc.detail, lead=whose).model_dump())
    text = reply_templates.render(body.template, reply_templates.variables_for(lead))
    error = None if text is not None else "the template renders blank here: the default is sent"
    return JSONResponse(PreviewOut(text=text, error=error, lead=whose).model_dump())
