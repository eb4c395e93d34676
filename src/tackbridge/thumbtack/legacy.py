"""Legacy Pro API (v1/v2/v3): messages, OAuth tokens, business info, disconnect, targeting.

Described in thumbtack-partner-api-v2.md (and -v1.md). Thumbtack announced its retirement, but
partners still run it. Auth per endpoint, exactly as the reference shows:

- ``/v1/...`` (send message, staging create-lead): HTTP Basic with the v1 username/password.
- ``/v2/tokens/access`` and ``/v2/disconnect-partner``: HTTP Basic ``client_id:client_secret``,
  raw (the documented ``THUMBTACK INTERNAL`` client id keeps its space).
- everything else: ``Bearer <access_token>``.

"Thumbtack Endpoints" require a ``Content-Type`` header even without a body; it is sent on
every call of that section. The token call is documented without one and is sent without.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote, urlencode

import httpx2

from ._http import (
    ClientCredentials,
    HttpCore,
    TokenSource,
    body_json,
    is_unset,
    parse_model,
    resolve_token,
    segment,
    unexpected,
)
from .environments import Environment
from .errors import NetworkError, NullRefreshResponseError, ThumbtackConfigError
from .models.legacy import DisconnectResult, StatusResult, TestLead, ThumbtackInfo
from .models.tokens import TokenSet

__all__ = ["LEGACY_SCOPES", "REFRESH_GRACE_PERIOD", "LegacyAPI"]

#: Scopes of the legacy partner-connect flow.
LEGACY_SCOPES = ("messages", "availability", "bookings", "targeting")

#: Thumbtack honours a retried refresh with the same refresh token for this long.
REFRESH_GRACE_PERIOD = 10.0
_REFRESH_RETRY_DELAYS = (0.5, 1.0, 2.0)


class LegacyAPI:
    """The legacy Pro API. Reach it as ``ThumbtackClient.legacy``."""

    def __init__(
        self,
        core: HttpCore,
        environment: Environment,
        *,
        credentials: ClientCredentials | None,
        v1_credentials: ClientCredentials | None,
    ) -> None:
        self._core = core
        self._env = environment
        self._credentials = credentials
        self._v1_credentials = v1_credentials

    # ------------------------------------------------------------------ OAuth (steps 2, 5, 6)

    def authorize_url(
        self,
        *,
        scopes: Sequence[str] = ("messages",),
        redirect_uri: str | None = None,
        state: str | None = None,
    ) -> str:
        """The partner-connect URL a pro opens to connect (step 2 of the reference)."""
        if not scopes:
            raise ValueError("at least one scope is required")
        params = [("client_id", self._client().client_id)]
        if redirect_uri is not None:
            params.append(("redirect_uri", redirect_uri))
        params += [("response_type", "code"), ("scope", " ".join(scopes))]
        if state is not None:
            params.append(("state", state))
        # ':' and '/' stay literal as in the documented sample URL; both are legal in a query.
        query = urlencode(params, quote_via=quote, safe=":/")
        return f"{self._env.partner_connect_url}?{query}"

    async def exchange_code(self, code: str, *, redirect_uri: str) -> TokenSet:
        """Trade an authorization code (valid 5 minutes) for tokens (step 5)."""
        creds = self._client()
        response = await self._core.send(
            "POST",
            self._url("/v2/tokens/access"),
            operation="legacy.exchange_code",
            authorization=creds.basic_header(),
            params=[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("token_type", "AUTH_CODE"),
            ],
            secrets=(code, *creds.secrets()),
            oauth_errors=True,
        )
        return parse_model(response, TokenSet)

    async def refresh_token(
        self,
        refresh_token: str,
        *,
        grace_period: float = REFRESH_GRACE_PERIOD,
        retry_delays: Sequence[float] = _REFRESH_RETRY_DELAYS,
    ) -> TokenSet:
        """Get a new token pair (step 6).

        Thumbtack may answer ``null`` (or the connection may fail) after it already rotated the
        token; calling again with the *same* refresh token within the grace period returns the
        pair. That retry happens here, a bounded number of times, inside the grace period
        measured from the first attempt. Other errors are raised at once.
        """
        creds = self._client()
        started = time.monotonic()
        delays = list(retry_delays)
        while True:
            try:
                response = await self._core.send(
                    "POST",
                    self._url("/v2/tokens/access"),
                    operation="legacy.refresh_token",
                    authorization=creds.basic_header(),
                    params=[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh_token),
                        ("token_type", "REFRESH"),
                    ],
                    secrets=(refresh_token, *creds.secrets()),
                    oauth_errors=True,
                )
            except NetworkError:
                if not _may_retry(delays, started, grace_period):
                    raise
                await asyncio.sleep(delays.pop(0))
                continue
            data = body_json(response)
            if data is not None and not is_unset(data):
                return parse_model(response, TokenSet, data=data)
            if response.status_code == 202:
                raise unexpected(response, "202")
            if not _may_retry(delays, started, grace_period):
                raise NullRefreshResponseError(
                    "legacy.refresh_token: POST /v2/tokens/access kept answering null "
                    f"for the {grace_period:g}s grace period",
                    operation="legacy.refresh_token",
                    method="POST",
                    path="/v2/tokens/access",
                    status=response.status_code,
                )
            await asyncio.sleep(delays.pop(0))

    async def disconnect(self, business_pk: str | int) -> DisconnectResult:
        """Remove the tokens and codes of a business on Thumbtack's side (client Basic auth)."""
        creds = self._client()
        response = await self._core.send(
            "POST",
            self._url("/v2/disconnect-partner"),
            operation="legacy.disconnect",
            authorization=creds.basic_header(),
            params=[("business_pk", str(business_pk))],
            content_type_json=True,
            secrets=creds.secrets(),
        )
        return parse_model(response, DisconnectResult)

    async def get_thumbtack_info(self, *, token: TokenSource) -> ThumbtackInfo:
        """The business, client and scopes a legacy access token belongs to."""
        response = await self._core.send(
            "GET",
            self._url("/v2/get-thumbtack-info"),
            operation="legacy.get_thumbtack_info",
            authorization="Bearer " + await resolve_token(token),
            content_type_json=True,
        )
        return parse_model(response, ThumbtackInfo)

    # ------------------------------------------------------------------ messages

    async def send_message_v1(
        self, business_id: str | int, lead_id: str | int, text: str
    ) -> StatusResult:
        """``POST /v1/business/{businessID}/lead/{leadID}/message`` with HTTP Basic."""
        creds = self._v1()
        url = (
            f"{self._env.legacy_v1_message_base_url}/v1/business/{segment(business_id)}"
            f"/lead/{segment(lead_id)}/message"
        )
        response = await self._core.send(
            "POST",
            url,
            operation="legacy.send_message_v1",
            authorization=creds.basic_header(),
            json={"text": _text(text)},
            secrets=creds.secrets(),
        )
        return _success(response)

    async def send_message(
        self, business_id: str | int, lead_id: str | int, text: str, *, token: TokenSource
    ) -> StatusResult:
        """``POST /v2/business/{BusinessID}/lead/{leadID}/message`` with a Bearer token."""
        url = self._url(f"/v2/business/{segment(business_id)}/lead/{segment(lead_id)}/message")
        response = await self._core.send(
            "POST",
            url,
            operation="legacy.send_message",
            authorization="Bearer " + await resolve_token(token),
            json={"text": _text(text)},
        )
        return _success(response)

    # ------------------------------------------------------------------ targeting (v3)

    async def set_service_targeting(
        self,
        service_id: str | int,
        enabled: bool,
        *,
        token: TokenSource,
        account_id: str = "~",
    ) -> StatusResult:
        """Turn targeting on or off for a service (needs the ``targeting`` scope).

        400 (bad ID type, bad body) -> BadRequestError; 401 (bad auth, or an invalid service
        ID) -> AuthError; 404 (missing service) -> NotFoundError.
        """
        path = (
            f"/v3/accounts/{segment(account_id)}/services/{segment(service_id)}"
            "/preferences/targeting"
        )
        return await self._targeting(path, enabled, token, "legacy.set_service_targeting")

    async def set_category_targeting(
        self,
        service_id: str | int,
        category_id: str | int,
        enabled: bool,
        *,
        token: TokenSource,
        account_id: str = "~",
    ) -> StatusResult:
        """Turn targeting on or off for one category of a service.

        Errors as for :meth:`set_service_targeting`; 404 also covers an unknown category.
        """
        path = (
            f"/v3/accounts/{segment(account_id)}/services/{segment(service_id)}"
            f"/categories/{segment(category_id)}/preferences/targeting"
        )
        return await self._targeting(path, enabled, token, "legacy.set_category_targeting")

    async def _targeting(
        self, path: str, enabled: bool, token: TokenSource, operation: str
    ) -> StatusResult:
        value: Literal["true", "false"] = "true" if enabled else "false"
        response = await self._core.send(
            "PATCH",
            self._url(path),
            operation=operation,
            authorization="Bearer " + await resolve_token(token),
            # The reference types it boolean but sends the strings "true"/"false".
            json={"enabled": value},
        )
        return _success(response)

    # ------------------------------------------------------------------ staging test data

    async def create_test_lead(self, business_id: str | int | None = None) -> TestLead:
        """Create a dummy business and lead (staging only). Without a business ID the body is
        ``{}``, as the reference requires."""
        if not self._env.has_test_endpoints:
            raise ThumbtackConfigError(
                f"POST /v1/test/create-lead does not exist in the {self._env.name} environment"
            )
        creds = self._v1()
        body = {} if business_id is None else {"businessID": str(business_id)}
        response = await self._core.send(
            "POST",
            self._url("/v1/test/create-lead"),
            operation="legacy.create_test_lead",
            authorization=creds.basic_header(),
            json=body,
            secrets=creds.secrets(),
        )
        return parse_model(response, TestLead)

    # ------------------------------------------------------------------ helpers

    def _url(self, path: str) -> str:
        return f"{self._env.legacy_base_url}{path}"

    def _client(self) -> ClientCredentials:
        if self._credentials is None:
            raise ThumbtackConfigError("this call needs OAuth client credentials")
        return self._credentials

    def _v1(self) -> ClientCredentials:
        if self._v1_credentials is None:
            raise ThumbtackConfigError("this call needs the v1 username and password")
        return self._v1_credentials


def _may_retry(delays: list[float], started: float, grace_period: float) -> bool:
    return bool(delays) and time.monotonic() - started + delays[0] < grace_period


def _text(text: str) -> str:
    if not text or not text.strip():
        raise ValueError("message text must not be empty")
    return text


def _success(response: httpx2.Response) -> StatusResult:
    result = parse_model(response, StatusResult)
    # The documented success is {"status": "success"}; anything else did not send, and a 202
    # without it is the firewall's challenge.
    ok = result.status is not None and result.status.lower() == "success"
    if not ok and (result.status is not None or response.status_code == 202):
        raise unexpected(response, f"status {result.status!r}")
    return result
