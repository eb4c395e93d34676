"""The v4 OAuth 2.0 authorization server (``auth.thumbtack.com`` in production):
``GET /oauth2/auth`` shows a consent page with a business picker, ``POST /oauth2/auth`` approves or
denies, ``POST /oauth2/token`` exchanges codes (PKCE S256) and single-use refresh tokens (60 s
grace). Clients authenticate with HTTP Basic or ``client_secret_post``.

Rules from api-notes.md: ``state`` of at least 8 characters, ``audience=urn:partner-api`` (a token
without it is refused by the API with 502 ``proxy_oauth_failed``), supply or demand scopes but
never both, refresh tokens only with ``offline_access``.

Every scope api-notes.md lists is known. A client is provisioned with some of them
(``SandboxConfig.provisioned_scopes``, set at run time with ``PUT /_sandbox/oauth/scopes``): a
scope asked for but not provisioned is left out of the grant, and the answers' ``scope`` says
what was granted (RFC 6749 3.3). A grant covers every business of the approving business's
account (``BusinessSeed.account``).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.errors import ProblemError
from tackbridge.sandbox.httputil import (
    basic_credentials,
    form_or_query,
    json_object,
    same_secret,
)
from tackbridge.sandbox.legacy import (
    business_options,
    check_redirect_uri,
    oauth_problem,
    page,
    token_answer,
)
from tackbridge.sandbox.tokens import TokenError

AUDIENCE = "urn:partner-api"
SUPPLY_SCOPES = frozenset(
    {
        "supply::negotiations.read",
        "supply::negotiations.write",
        "supply::messages.read",
        "supply::messages.write",
        "supply::businesses.list",
        "supply::webhooks.read",
        "supply::webhooks.write",
        "supply::users.read",
        "supply::users.disconnect",
        "supply::associate-phone-numbers.read",
        "supply::associate-phone-numbers.write",
        "supply::businesses/associate-phone-numbers.read",
        "supply::businesses/associate-phone-numbers.write",
    }
)
DEMAND_SCOPES = frozenset(
    {
        "demand::messages.read",
        "demand::messages.write",
        "demand::negotiations.read",
        "demand::users.read",
        "demand::webhooks.read",
        "demand::webhooks.write",
        "demand::orders.read",
        "demand::orders.write",
        "demand::categories.read",
        "demand::keywords.read",
    }
)
# "messages": the legacy scope some supply clients still request.
COMMON_SCOPES = frozenset({"openid", "profile", "email", "phone", "offline_access", "messages"})
ALL_SCOPES = SUPPLY_SCOPES | DEMAND_SCOPES | COMMON_SCOPES

router = APIRouter(tags=["Thumbtack v4 OAuth"])


class _Redirectable(Exception):
    """An authorization error reported to the client by redirecting back (RFC 6749 4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _redirect(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(params), status_code=302)


def _validate(box: Sandbox, params: dict[str, str]) -> tuple[str, str, tuple[str, ...]]:
    """Client and redirect first (errors shown here), then the rest (errors redirected)."""
    client_id = params.get("client_id", "")
    if client_id != box.state.config.client_id:
        raise ProblemError(
            400, f"unknown client_id {client_id!r}", extra={"error": "invalid_client"}
        )
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        raise ProblemError(400, "redirect_uri is required", extra={"error": "invalid_request"})
    check_redirect_uri(box, redirect_uri)
    if params.get("response_type") != "code":
        raise _Redirectable("unsupported_response_type", "response_type must be 'code'")
    state = params.get("state", "")
    if len(state) < 8:
        raise _Redirectable("invalid_state", "state must be at least 8 characters")
    scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
    if not scopes:
        raise _Redirectable("invalid_scope", "scope is required")
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:
        raise _Redirectable("invalid_scope", f"unknown scope {unknown[0]!r}")
    if set(scopes) & SUPPLY_SCOPES and set(scopes) & DEMAND_SCOPES:
        raise _Redirectable("invalid_scope", "a client gets supply or demand scopes, never both")
    audience = params.get("audience") or None
    if audience is not None and audience != AUDIENCE:
        raise _Redirectable("invalid_request", f"audience must be {AUDIENCE}")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is not None or method is not None:
        if method != "S256":
            raise _Redirectable("invalid_request", "code_challenge_method must be S256")
        if not challenge or not 43 <= len(challenge) <= 128:
            raise _Redirectable("invalid_request", "code_challenge must be 43-128 characters")
    return client_id, redirect_uri, scopes


_KEEP = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "audience",
    "code_challenge",
    "code_challenge_method",
)


@router.get("/oauth2/auth")
async def authorize(request: Request, box: Sandbox = Depends(sandbox)) -> Response:
    params = dict(request.query_params)
    try:
        client_id, redirect_uri, scopes = _validate(box, params)
    except _Redirectable as exc:
        return _redirect(
            params["redirect_uri"],
            {
                "error": exc.error,
                "error_description": exc.description,
                "state": params.get("state", ""),
            },
        )
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
        for k in _KEEP
        if k in params
    )
    scope_items = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes)
    body = (
        f"<h1>Authorize {html.escape(client_id)}</h1>"
        f"<p>It will be able to:</p><ul>{scope_items}</ul>"
        f'<form method="post" action="/oauth2/auth">{hidden}'
        f'<label>Business <select name="business_id">{business_options(box)}</select></label>'
        f'<p><button type="submit" name="action" value="approve">Approve</button> '
        f'<button type="submit" name="action" value="deny">Deny</button></p></form>'
        f'<p class="note">Redirects to {html.escape(redirect_uri)}</p>'
    )
    return page("Authorize access to Thumbtack", body)


@router.post("/oauth2/auth")
async def consent(request: Request, box: Sandbox = Depends(sandbox)) -> Response:
    params = await form_or_query(request)
    try:
        client_id, redirect_uri, scopes = _validate(box, params)
    except _Redirectable as exc:
        return _redirect(
            params["redirect_uri"],
            {
                "error": exc.error,
                "error_description": exc.description,
                "state": params.get("state", ""),
            },
        )
    state = params["state"]
    if params.get("action") != "approve":
        return _redirect(
            redirect_uri,
            {
                "error": "access_denied",
                "error_description": "the pro denied access",
                "state": state,
            },
        )
    business_id = params.get("business_id", "")
    if box.state.business(business_id) is None:
        raise ProblemError(400, f"unknown business_id {business_id!r}")
    allowed = provisioned(box)
    granted = tuple(s for s in scopes if s in allowed)
    code = box.state.tokens.issue_code(
        api="v4",
        client_id=client_id,
        business_id=business_id,
        business_ids=account_of(box, business_id),
        scopes=granted,
        redirect_uri=redirect_uri,
        code_challenge=params.get("code_challenge"),
        audience=params.get("audience") or None,
        expired=box.state.faults.expired_codes,
    )
    box.state.note(f"business {business_id} authorized {client_id} (v4)")
    return _redirect(redirect_uri, {"code": code.value, "scope": " ".join(granted), "state": state})


def provisioned(box: Sandbox) -> frozenset[str]:
    """The scopes the partner client may be granted."""
    chosen = box.state.config.provisioned_scopes
    return frozenset(chosen) if chosen else ALL_SCOPES


def account_of(box: Sandbox, business_id: str) -> tuple[str, ...]:
    """The business and the others of its account (seeded ``account``), the business first."""
    accounts = {seed.name: seed.account for seed in box.state.config.businesses if seed.account}
    with box.state.lock:
        businesses = list(box.state.businesses.values())
    mine = next((b for b in businesses if b.business_id == business_id), None)
    account = None if mine is None else accounts.get(mine.name)
    if account is None:
        return (business_id,)
    others = [b.business_id for b in businesses if accounts.get(b.name) == account]
    return (business_id, *(other for other in others if other != business_id))


@router.get("/_sandbox/oauth/scopes", tags=["Sandbox inspection and control"])
async def get_provisioned(box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    chosen = box.state.config.provisioned_scopes
    return {"provisioned": list(chosen) if chosen else sorted(ALL_SCOPES), "all": not chosen}


@router.put("/_sandbox/oauth/scopes", tags=["Sandbox inspection and control"])
async def set_provisioned(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    """``{"scopes": [...]}`` (empty or null: every known scope), or ``{"without": [...]}``."""
    body = await json_object(request)
    scopes, without = body.get("scopes"), body.get("without")
    for name, value in (("scopes", scopes), ("without", without)):
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise ProblemError(400, f"{name} must be a list of scopes", errors=[{"field": name}])
    chosen = list(scopes or [])
    if without:
        chosen = [s for s in (chosen or sorted(ALL_SCOPES)) if s not in without]
    unknown = [s for s in chosen if s not in ALL_SCOPES]
    if unknown:
        raise ProblemError(400, f"unknown scope {unknown[0]!r}", errors=[{"field": "scopes"}])
    box.state.set_config(provisioned_scopes=tuple(dict.fromkeys(chosen)))
    box.state.note(f"client provisioned with {', '.join(chosen) or 'every scope'}")
    return await get_provisioned(box)


def _client(request: Request, box: Sandbox, params: dict[str, str]) -> str:
    config = box.state.config
    credentials = basic_credentials(request)
    if credentials is None and "client_secret" in params:
        credentials = (params.get("client_id", ""), params["client_secret"])
    if credentials is None:
        raise TokenError("invalid_client", "client authentication required (HTTP Basic)", 401)
    client_id, secret = credentials
    if not (same_secret(client_id, config.client_id) and same_secret(secret, config.client_secret)):
        raise TokenError("invalid_client", "invalid client credentials", 401)
    if params.get("client_id") not in (None, client_id):
        raise TokenError("invalid_request", "client_id does not match the authenticated client")
    return client_id


@router.post("/oauth2/token")
async def token(request: Request, box: Sandbox = Depends(sandbox)) -> Response:
    params = await form_or_query(request)
    try:
        client_id = _client(request, box, params)
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            code = params.get("code")
            if not code:
                raise TokenError("invalid_request", "code is required")
            pair = box.state.tokens.exchange_code(
                api="v4",
                client_id=client_id,
                code=code,
                redirect_uri=params.get("redirect_uri"),
                code_verifier=params.get("code_verifier"),
            )
        elif grant_type == "refresh_token":
            refresh = params.get("refresh_token")
            if not refresh:
                raise TokenError("invalid_request", "refresh_token is required")
            scope = params.get("scope")
            pair = box.state.tokens.refresh(
                api="v4",
                client_id=client_id,
                refresh_token=refresh,
                scopes=tuple(scope.split()) if scope else None,
            )
        else:
            raise TokenError(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
            )
    except TokenError as exc:
        raise oauth_problem(exc) from exc
    box.state.note(f"v4 tokens issued for business {pair.access.business_id} ({grant_type})")
    return JSONResponse(
        token_answer(pair, with_scope=True),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.get("/.well-known/oauth-authorization-server")
@router.get("/.well-known/openid-configuration")
async def metadata(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "issuer": base + "/",
        "authorization_endpoint": base + "/oauth2/auth",
        "token_endpoint": base + "/oauth2/token",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(ALL_SCOPES),
    }
