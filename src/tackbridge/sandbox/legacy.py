"""The legacy Thumbtack Pro API (v1/v2/v3) at the root paths, as in thumbtack-partner-api-v2.md:
the partner-connect page, ``POST /v2/tokens/access`` (both grant types, rotation, the 10 s grace,
the ``null`` answer fault), get-thumbtack-info, disconnect-partner, send message (v1 Basic, v2
Bearer), v3 targeting with its documented 400/401/404 cases, and ``POST /v1/test/create-lead``.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tackbridge.sandbox import render
from tackbridge.sandbox.context import Sandbox, sandbox
from tackbridge.sandbox.errors import ProblemError
from tackbridge.sandbox.httputil import (
    basic_credentials,
    bearer_token,
    form_or_query,
    json_object,
    same_secret,
)
from tackbridge.sandbox.state import Lead, Message, TargetingChange
from tackbridge.sandbox.tokens import Token, TokenError, TokenPair

LEGACY_SCOPES = ("messages", "availability", "bookings", "targeting")

router = APIRouter(tags=["Thumbtack legacy Pro API"])


def _unauthorized(detail: str, scheme: str = "Basic") -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": f'{scheme} realm="thumbtack"'})


def _require_client(request: Request, box: Sandbox) -> str:
    """The OAuth client's Basic credentials (token and disconnect calls)."""
    credentials = basic_credentials(request)
    if credentials is None:
        raise _unauthorized("missing Basic client credentials (client_id:client_secret)")
    client_id, secret = credentials
    config = box.state.config
    if not (same_secret(client_id, config.client_id) and same_secret(secret, config.client_secret)):
        raise _unauthorized("invalid client credentials")
    return client_id


def _require_api_user(request: Request, box: Sandbox) -> None:
    """The v1 Basic credentials Thumbtack hands to partners."""
    credentials = basic_credentials(request)
    if credentials is None:
        raise _unauthorized("missing Basic credentials")
    username, password = credentials
    config = box.state.config
    if not (
        same_secret(username, config.api_username) and same_secret(password, config.api_password)
    ):
        raise _unauthorized("invalid credentials")


def _require_bearer(request: Request, box: Sandbox, scope: str | None) -> Token:
    value = bearer_token(request)
    if value is None:
        raise _unauthorized("missing auth header (Authorization: Bearer <access_token>)", "Bearer")
    token = box.state.tokens.access(value, "legacy")
    if token is None:
        raise _unauthorized("invalid auth header: unknown, expired or revoked token", "Bearer")
    if scope is not None and scope not in token.scopes:
        raise ProblemError(403, f"the access token lacks the {scope!r} scope")
    return token


# partner-connect ----------------------------------------------------------------------------


def _connect_params(
    box: Sandbox, params: dict[str, str]
) -> tuple[str, tuple[str, ...], str | None]:
    config = box.state.config
    client_id = params.get("client_id", "")
    if not client_id:
        raise ProblemError(400, "client_id is required")
    if client_id != config.client_id:
        raise ProblemError(400, f"unknown client_id {client_id!r}")
    if params.get("response_type") != "code":
        raise ProblemError(400, "response_type must be 'code'")
    raw_scope = params.get("scope", "").replace(",", " ").split()
    if not raw_scope:
        raise ProblemError(400, "scope is required (messages, availability, bookings, targeting)")
    unknown = [s for s in raw_scope if s not in LEGACY_SCOPES]
    if unknown:
        raise ProblemError(400, f"unknown scope {unknown[0]!r}")
    redirect_uri = params.get("redirect_uri") or None
    if redirect_uri is not None:
        check_redirect_uri(box, redirect_uri)
    return client_id, tuple(dict.fromkeys(raw_scope)), redirect_uri


def check_redirect_uri(box: Sandbox, redirect_uri: str) -> None:
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ProblemError(400, "redirect_uri must be an absolute http(s) URL without a fragment")
    allowed = box.state.config.redirect_uris
    if allowed and redirect_uri not in allowed:
        raise ProblemError(400, "redirect_uri is not registered for this client")


def _with_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if urlsplit(url).query else "?"
    return url + separator + urlencode(params)


def business_options(box: Sandbox) -> str:
    with box.state.lock:
        businesses = list(box.state.businesses.values())
    return "".join(
        f'<option value="{html.escape(b.business_id)}">{html.escape(b.name)} '
        f"({html.escape(b.business_id)})</option>"
        for b in businesses
    )


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.5rem 1rem}}select{{font-size:1rem;padding:.3rem}}
.note{{color:#666;font-size:.9rem}}code{{background:#eee;padding:.1rem .3rem}}</style></head>
<body><p class="note">tackbridge sandbox &mdash; a local stand-in for Thumbtack</p>{body}
</body></html>"""


def page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body))


def _hidden(params: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )


@router.get("/services/partner-connect/", response_class=HTMLResponse)
@router.get("/services/partner-connect", response_class=HTMLResponse, include_in_schema=False)
async def partner_connect(request: Request, box: Sandbox = Depends(sandbox)) -> Response:
    params = dict(request.query_params)
    client_id, scopes, _ = _connect_params(box, params)
    keep: dict[str, str] = {
        k: params[k]
        for k in ("client_id", "redirect_uri", "response_type", "scope", "state")
        if k in params
    }
    body = (
        f"<h1>Connect your Thumbtack business</h1>"
        f"<p><b>{html.escape(client_id)}</b> asks to access: "
        f"<code>{html.escape(' '.join(scopes))}</code></p>"
        f'<form method="post" action="/services/partner-connect/">{_hidden(keep)}'
        f'<label>Business <select name="business_id">{business_options(box)}</select></label>'
        f'<p><button type="submit" name="action" value="confirm">Confirm Connection</button></p>'
        f"</form>"
    )
    return page("Connect to Thumbtack", body)


@router.post("/services/partner-connect/", include_in_schema=False)
@router.post("/services/partner-connect", include_in_schema=False)
async def partner_connect_confirm(request: Request, box: Sandbox = Depends(sandbox)) -> Response:
    params = await form_or_query(request)
    client_id, scopes, redirect_uri = _connect_params(box, params)
    business_id = params.get("business_id", "")
    if box.state.business(business_id) is None:
        raise ProblemError(400, f"unknown business_id {business_id!r}")
    code = box.state.tokens.issue_code(
        api="legacy",
        client_id=client_id,
        business_id=business_id,
        scopes=scopes,
        redirect_uri=redirect_uri,
        expired=box.state.faults.expired_codes,
    )
    box.state.note(f"business {business_id} connected (legacy) to {client_id}")
    if redirect_uri is None:
        return page(
            "Authorization code",
            f"<h1>Connected</h1><p>Your authorization code (valid 5 minutes):</p>"
            f'<p><code id="code">{html.escape(code.value)}</code></p>',
        )
    query = {"code": code.value, "scope": " ".join(scopes)}
    if params.get("state"):
        query["state"] = params["state"]
    return RedirectResponse(_with_query(redirect_uri, query), status_code=302)


# tokens -------------------------------------------------------------------------------------


def token_answer(pair: TokenPair, *, with_scope: bool = False) -> dict[str, Any]:
    access = pair.access
    body: dict[str, Any] = {
        "access_token": access.value,
        "token_type": "bearer",
        "expires_in": int((access.expires_at - access.issued_at).total_seconds()),
    }
    if pair.refresh is not None:
        body["refresh_token"] = pair.refresh.value
    if with_scope:
        body["scope"] = " ".join(access.scopes)
    return body


def oauth_problem(exc: TokenError) -> ProblemError:
    headers = {"WWW-Authenticate": 'Basic realm="thumbtack"'} if exc.status == 401 else None
    return ProblemError(
        exc.status,
        exc.description,
        headers=headers,
        extra={"error": exc.error, "error_description": exc.description},
    )


@router.post("/v2/tokens/access")
async def tokens_access(request: Request, box: Sandbox = Depends(sandbox)) -> Response:
    client_id = _require_client(request, box)
    params = await form_or_query(request)
    grant_type = params.get("grant_type", "")
    kind = params.get("token_type", "")
    try:
        if grant_type == "authorization_code":
            if kind != "AUTH_CODE":
                raise TokenError("invalid_request", "token_type must be AUTH_CODE")
            code = params.get("code")
            if not code:
                raise TokenError("invalid_request", "code is required")
            pair = box.state.tokens.exchange_code(
                api="legacy",
                client_id=client_id,
                code=code,
                redirect_uri=params.get("redirect_uri") or None,
                code_verifier=None,
            )
        elif grant_type == "refresh_token":
            if kind != "REFRESH":
                raise TokenError("invalid_request", "token_type must be REFRESH")
            refresh = params.get("refresh_token")
            if not refresh:
                raise TokenError("invalid_request", "refresh_token is required")
            pair = box.state.tokens.refresh(
                api="legacy", client_id=client_id, refresh_token=refresh
            )
            if not pair.replayed and box.state.chance(box.state.faults.null_token_rate):
                # The documented failure: tokens rotated, answer lost; a retry within 10 s works.
                box.state.note("token refresh answered null (fault)")
                return JSONResponse(None)
        else:
            raise TokenError(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
            )
    except TokenError as exc:
        raise oauth_problem(exc) from exc
    box.state.note(f"legacy tokens issued for business {pair.access.business_id} ({grant_type})")
    return JSONResponse(token_answer(pair))


@router.get("/v2/get-thumbtack-info")
async def get_thumbtack_info(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    token = _require_bearer(request, box, None)
    business = box.state.business(token.business_id)
    return {
        "business_pk": token.business_id,
        "client_id": token.client_id,
        "scope": list(token.scopes),
        "business_name": business.name if business else "",
    }


@router.post("/v2/disconnect-partner")
async def disconnect_partner(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    client_id = _require_client(request, box)
    params = await form_or_query(request)
    business_pk = params.get("business_pk", "")
    if not business_pk:
        raise ProblemError(400, "business_pk is required", errors=[{"field": "business_pk"}])
    if box.state.business(business_pk) is None:
        raise ProblemError(404, f"business {business_pk} not found")
    box.state.tokens.disconnect(api="legacy", client_id=client_id, business_id=business_pk)
    box.state.note(f"business {business_pk} disconnected from {client_id}")
    return {"business_pk": business_pk, "client_id": client_id}


# messages -----------------------------------------------------------------------------------


async def _message_text(request: Request) -> str:
    body = await json_object(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ProblemError(400, "text is required", errors=[{"field": "text"}])
    return text


def _lead_of(box: Sandbox, business_id: str, lead_id: str) -> Lead:
    lead = box.state.lead(lead_id)
    if box.state.business(business_id) is None:
        raise ProblemError(404, f"business {business_id} not found")
    if lead is None or lead.business_id != business_id:
        raise ProblemError(404, f"lead {lead_id} not found for business {business_id}")
    return lead


def record_pro_message(box: Sandbox, lead: Lead, text: str, via: str) -> Message:
    message = box.state.add_message(
        Message(
            message_id=box.state.ids.next(),
            lead_id=lead.lead_id,
            business_id=lead.business_id,
            customer_id=lead.customer.customer_id,
            sender="Business",
            text=text,
            sent_at=box.state.clock.now(),
            via=via,
        )
    )
    box.scenario.pro_message_received(lead)
    return message


@router.post("/v1/business/{business_id}/lead/{lead_id}/message")
async def send_message_v1(
    business_id: str, lead_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, str]:
    _require_api_user(request, box)
    text = await _message_text(request)
    record_pro_message(box, _lead_of(box, business_id, lead_id), text, "v1")
    return {"status": "success"}


@router.post("/v2/business/{business_id}/lead/{lead_id}/message")
async def send_message_v2(
    business_id: str, lead_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, str]:
    token = _require_bearer(request, box, "messages")
    if token.business_id != business_id:
        raise ProblemError(403, "the access token belongs to another business")
    text = await _message_text(request)
    record_pro_message(box, _lead_of(box, business_id, lead_id), text, "v2")
    return {"status": "success"}


# targeting ----------------------------------------------------------------------------------


async def _enabled(request: Request) -> bool:
    body = await request.body()
    if not body.strip():
        raise ProblemError(400, "missing body", errors=[{"field": "enabled"}])
    parsed = await json_object(request)
    value = parsed.get("enabled")
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise ProblemError(
        400, 'invalid body: enabled must be "true" or "false"', errors=[{"field": "enabled"}]
    )


def _targeting_business(request: Request, box: Sandbox, service_id: str) -> Token:
    token = _require_bearer(request, box, None)
    if not service_id.isdigit():
        raise ProblemError(400, "invalid ServiceID type: it must be numeric")
    if token.business_id != service_id or box.state.business(service_id) is None:
        raise _unauthorized("invalid ServiceID for this access token", "Bearer")
    if "targeting" not in token.scopes:
        raise ProblemError(403, "the access token lacks the 'targeting' scope")
    return token


@router.patch("/v3/accounts/{account_id}/services/{service_id}/preferences/targeting")
async def service_targeting(
    account_id: str, service_id: str, request: Request, box: Sandbox = Depends(sandbox)
) -> dict[str, str]:
    _targeting_business(request, box, service_id)
    enabled = await _enabled(request)
    box.state.add_targeting(TargetingChange(service_id, None, enabled, box.state.clock.now()))
    return {"status": "success"}


@router.patch(
    "/v3/accounts/{account_id}/services/{service_id}/categories/{category_id}/preferences/targeting"
)
async def category_targeting(
    account_id: str,
    service_id: str,
    category_id: str,
    request: Request,
    box: Sandbox = Depends(sandbox),
) -> dict[str, str]:
    _targeting_business(request, box, service_id)
    if not category_id.isdigit():
        raise ProblemError(400, "invalid CategoryID type: it must be numeric")
    business = box.state.business(service_id)
    if business is None or category_id not in business.category_ids:
        raise ProblemError(
            404, f"invalid CategoryID: {category_id} is not a category of the service"
        )
    enabled = await _enabled(request)
    box.state.add_targeting(
        TargetingChange(service_id, category_id, enabled, box.state.clock.now())
    )
    return {"status": "success"}


# test data ----------------------------------------------------------------------------------


@router.post("/v1/test/create-lead")
async def create_test_lead(request: Request, box: Sandbox = Depends(sandbox)) -> dict[str, Any]:
    _require_api_user(request, box)
    body = await json_object(request, required=False)
    business_id = body.get("businessID")
    if business_id is not None and not isinstance(business_id, str | int):
        raise ProblemError(400, "businessID must be a string", errors=[{"field": "businessID"}])
    if business_id is None:
        business = box.state.add_business("Mr. Clean's Sparkly Cleaning Service")
    else:
        business = box.state.business(str(business_id)) or box.state.add_business(
            "Test business", str(business_id)
        )
    lead = box.scenario.create_lead(business.business_id, source="test-create-lead")
    return render.legacy_lead(lead, business)
