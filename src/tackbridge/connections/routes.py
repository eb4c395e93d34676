"""HTTP: the connect link (operators), the OAuth callback (the pro's browser, coming back from
Thumbtack) and the operator API over connections. Tokens never appear in any answer."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.types import DecoratedCallable
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from tackbridge.connections import flow, store
from tackbridge.connections.config import NotConfiguredError, callback_url
from tackbridge.connections.service import Connections, connections_of
from tackbridge.core.bounds import ID_PATTERN
from tackbridge.core.problems import problem
from tackbridge.services import require_operator
from tackbridge.store.secrets import MissingSecretKeyError

__all__ = ["ConnectionPage", "ConnectionView", "router"]

router = APIRouter(tags=["connections"])

_AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "Missing or wrong operator token"}}
BusinessID = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]


class ConnectionView(BaseModel):
    """A connection as operators see it: state and expiries, never tokens."""

    model_config = ConfigDict(frozen=True)

    businessID: str
    businessName: str | None
    api: Literal["legacy", "v4"]
    state: Literal["active", "needs_reconnect", "disconnected"]
    scopes: list[str]
    accessExpiresAt: datetime | None
    refreshExpiresAt: datetime | None
    tokenVersion: int
    refreshing: bool
    webhookID: str | None
    # Why our webhook is not registered, e.g. "webhook not registered: missing scope ..."
    webhookError: str | None = None
    # A disabled business has no webhook, and its deliveries are stored but start nothing.
    enabled: bool = True
    # The business whose grant this one uses (one OAuth grant per account); None: its own.
    grantOf: str | None = None
    lastError: dict[str, Any] | None
    connectedAt: datetime
    updatedAt: datetime
    disconnectedAt: datetime | None

    @classmethod
    def of(cls, row: store.ConnectionRow) -> ConnectionView:
        return cls(
            businessID=row.business_id,
            businessName=row.business_name,
            api=row.api,
            state=row.state,
            scopes=list(row.scopes),
            accessExpiresAt=row.access_expires_at,
            refreshExpiresAt=row.refresh_expires_at,
            tokenVersion=row.token_version,
            refreshing=row.refresh_owner is not None,
            webhookID=row.webhook_id,
            webhookError=row.webhook_error,
            enabled=row.enabled,
            grantOf=row.grant_of,
            lastError=row.last_error,
            connectedAt=row.connected_at,
            updatedAt=row.updated_at,
            disconnectedAt=row.disconnected_at,
        )


class ConnectionPage(BaseModel):
    items: list[ConnectionView]


class EnabledResult(BaseModel):
    businessID: str
    enabled: bool
    changed: bool


class DisconnectResult(BaseModel):
    businessID: str
    state: Literal["disconnected"]
    alreadyDisconnected: bool
    purgeAt: datetime | None
    thumbtackError: dict[str, Any] | None


def _connections(request: Request) -> Connections:
    return connections_of(request)


def _problem(exc: flow.ConnectError) -> Response:
    return problem(exc.status, exc.detail, slug=exc.slug)


def _not_configured(exc: Exception) -> Response:
    return problem(503, str(exc), slug="not-configured")


def _business_action(
    action: str, result: type[BaseModel], summary: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The route of an operator's POST on one business's connection (404: none)."""
    return router.post(
        f"/api/connections/{{business_id}}/{action}",
        dependencies=[Depends(require_operator)],
        response_model=result,
        summary=summary,
        responses={**_AUTH, 404: {"description": "No connection for this business"}},
    )


@router.get(
    "/connect/thumbtack",
    dependencies=[Depends(require_operator)],
    summary="Start connecting a business: redirects to Thumbtack's authorize page",
    status_code=307,
    response_class=RedirectResponse,
    responses={**_AUTH, 503: {"description": "Thumbtack client or secret key not configured"}},
)
async def connect(
    request: Request,
    api: Annotated[Literal["v4", "legacy"] | None, Query(description="Default: settings")] = None,
    scope: Annotated[
        str | None, Query(max_length=1000, description="Space-separated scopes; default: ours")
    ] = None,
    business: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=ID_PATTERN,
            description="The business connecting, when the client lacks supply::businesses.list",
        ),
    ] = None,
) -> Response:
    service = _connections(request)
    chosen = api or service.settings.thumbtack_api
    try:
        redirect_uri = callback_url(service.settings, str(request.base_url))
        url = await flow.start(
            service,
            api=chosen,
            scopes=scope.split() if scope else None,
            redirect_uri=redirect_uri,
            business=business,
        )
    except flow.ConnectError as exc:
        return _problem(exc)
    except (NotConfiguredError, MissingSecretKeyError) as exc:
        return _not_configured(exc)
    except ValueError as exc:
        return problem(422, str(exc), slug="invalid-request")
    return RedirectResponse(url, status_code=307)


@router.get(
    "/oauth/callback",
    summary="Where Thumbtack sends the pro back after consent",
    response_class=HTMLResponse,
    responses={400: {"description": "Bad, used or expired state; refused or bad code"}},
)
async def callback(
    request: Request,
    state: Annotated[str | None, Query(max_length=256, pattern=ID_PATTERN)] = None,
    code: Annotated[str | None, Query(max_length=2048, pattern=ID_PATTERN)] = None,
    error: Annotated[str | None, Query(max_length=256, pattern=ID_PATTERN)] = None,
    error_description: Annotated[str | None, Query(max_length=2048, pattern=ID_PATTERN)] = None,
) -> Response:
    service = _connections(request)
    try:
        connected = await flow.finish(
            service, state=state, code=code, error=error, error_description=error_description
        )
    except flow.ConnectError as exc:
        return _problem(exc)
    except MissingSecretKeyError as exc:
        return _not_configured(exc)
    names = [html.escape(name or business_id) for business_id, name in connected.businesses]
    if not names:
        names = [html.escape(connected.business_name or connected.business_id)]
    missing = ""
    if connected.missing_scopes:
        missing = (
            "<p>Not granted: "
            + ", ".join(f"<code>{html.escape(s)}</code>" for s in connected.missing_scopes)
            + ".</p>"
        )
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Connected</title>"
        "</head><body><h1>Connected</h1>"
        f"<p><b>{'</b>, <b>'.join(names)}</b> "
        f"{'is' if len(names) == 1 else 'are'} now connected to tackbridge. "
        "You can close this page, or <a href='/connections'>open the connections</a>.</p>"
        f"{missing}</body></html>"
    )
    return HTMLResponse(body)


@router.get(
    "/api/connections",
    dependencies=[Depends(require_operator)],
    response_model=ConnectionPage,
    summary="Connections per business: state, API, scopes, expiries, last error",
    responses=_AUTH,
)
def connections_index(request: Request) -> ConnectionPage:
    return ConnectionPage(items=[ConnectionView.of(row) for row in _connections(request).list()])


@_business_action(
    "disconnect", DisconnectResult, "Disconnect a business and schedule the purge of its data"
)
async def connections_disconnect(
    request: Request, business_id: BusinessID
) -> Response | DisconnectResult:
    service = _connections(request)
    try:
        outcome = await flow.disconnect(service, business_id)
    except flow.ConnectError as exc:
        return _problem(exc)
    except MissingSecretKeyError as exc:
        return _not_configured(exc)
    return DisconnectResult(
        businessID=business_id,
        state="disconnected",
        alreadyDisconnected=outcome.already,
        purgeAt=outcome.purge_at,
        thumbtackError=outcome.remote_error,
    )


async def _toggle(request: Request, business_id: str, enabled: bool) -> Response | EnabledResult:
    try:
        outcome = await flow.set_enabled(_connections(request), business_id, enabled)
    except flow.ConnectError as exc:
        return _problem(exc)
    return EnabledResult(businessID=business_id, enabled=outcome.enabled, changed=outcome.changed)


@_business_action(
    "enable",
    EnabledResult,
    "Enable a business: its webhook is registered and its leads are acted on",
)
async def connections_enable(request: Request, business_id: BusinessID) -> Response | EnabledResult:
    return await _toggle(request, business_id, True)


@_business_action(
    "disable",
    EnabledResult,
    "Disable a business: its webhook is removed; its deliveries are stored, not acted on",
)
async def connections_disable(
    request: Request, business_id: BusinessID
) -> Response | EnabledResult:
    return await _toggle(request, business_id, False)
