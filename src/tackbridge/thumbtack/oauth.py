"""v4 OAuth 2.0: authorization code with PKCE, refresh, client credentials, revocation.

From api-notes.md: authorize at ``/oauth2/auth``, tokens at ``/oauth2/token`` on the auth host;
client id/secret as HTTP Basic on the token call; ``audience=urn:partner-api`` (a wrong audience
shows up later as a 502 ``proxy_oauth_failed``); ``state`` of at least 8 characters; refresh
tokens need ``offline_access``, are single use (rotated on every refresh, 60 s grace) and live
up to 180 days from their last use.

Refresh *single-flight* and token storage are the caller's job: this module makes one HTTP
exchange per call. Because refresh tokens rotate, a refresh answer without a ``refresh_token``
leaves :attr:`TokenSet.refresh_token` None and the caller keeps the one it has; an
``invalid_grant`` raises :class:`InvalidGrantError` (possibly a lost race: re-read the store).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlencode

from ._http import ClientCredentials, HttpCore, expect_no_body, parse_model
from .environments import Environment
from .errors import ThumbtackConfigError
from .models.tokens import TokenSet

__all__ = [
    "AUDIENCE",
    "MIN_STATE_LENGTH",
    "AuthorizationRequest",
    "OAuthAPI",
    "Pkce",
    "generate_pkce",
    "generate_state",
]

AUDIENCE = "urn:partner-api"
MIN_STATE_LENGTH = 8
OFFLINE_ACCESS = "offline_access"


@dataclass(frozen=True, slots=True)
class Pkce:
    """A PKCE pair (RFC 7636, S256). Keep the verifier with the ``state`` until the callback."""

    verifier: str = field(repr=False)
    challenge: str
    method: Literal["S256"] = "S256"

    @classmethod
    def from_verifier(cls, verifier: str) -> Pkce:
        if not 43 <= len(verifier) <= 128:
            raise ValueError("a PKCE code_verifier has 43 to 128 characters")
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return cls(verifier=verifier, challenge=challenge)


def generate_pkce() -> Pkce:
    """A fresh verifier (64 URL-safe characters) and its S256 challenge."""
    return Pkce.from_verifier(secrets.token_urlsafe(48))


def generate_state() -> str:
    """An unguessable ``state`` (well over the 8-character minimum)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the pro, and what to remember until the callback comes back."""

    url: str
    state: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_verifier: str | None = field(default=None, repr=False)


class OAuthAPI:
    """The v4 OAuth server. Reach it as ``ThumbtackClient.oauth``."""

    def __init__(
        self, core: HttpCore, environment: Environment, *, credentials: ClientCredentials | None
    ) -> None:
        self._core = core
        self._env = environment
        self._credentials = credentials

    def authorization_request(
        self,
        *,
        redirect_uri: str,
        scopes: Sequence[str],
        state: str | None = None,
        pkce: Pkce | Literal[False] | None = None,
        offline_access: bool = True,
        audience: str = AUDIENCE,
    ) -> AuthorizationRequest:
        """Build the authorize URL.

        ``state`` is generated when not given and must have at least 8 characters.
        ``pkce=None`` generates a pair, ``pkce=False`` leaves PKCE out. ``offline_access`` is
        added to the scopes unless disabled: without it there is no refresh token.
        """
        if state is None:
            state = generate_state()
        if len(state) < MIN_STATE_LENGTH:
            raise ValueError(f"state must have at least {MIN_STATE_LENGTH} characters")
        scope_list = list(dict.fromkeys(scopes))
        if offline_access and OFFLINE_ACCESS not in scope_list:
            scope_list.append(OFFLINE_ACCESS)
        if not scope_list:
            raise ValueError("at least one scope is required")
        if pkce is None:
            pkce = generate_pkce()
        params = [
            ("response_type", "code"),
            ("client_id", self._client().client_id),
            ("redirect_uri", redirect_uri),
            ("scope", " ".join(scope_list)),
            ("state", state),
            ("audience", audience),
        ]
        if pkce:
            params += [("code_challenge", pkce.challenge), ("code_challenge_method", pkce.method)]
        # %20 rather than '+' for spaces: unambiguous for every query parser.
        url = f"{self._env.oauth_authorize_url}?{urlencode(params, quote_via=quote)}"
        return AuthorizationRequest(
            url=url,
            state=state,
            redirect_uri=redirect_uri,
            scopes=tuple(scope_list),
            code_verifier=pkce.verifier if pkce else None,
        )

    def authorize_url(
        self,
        *,
        redirect_uri: str,
        scopes: Sequence[str],
        state: str,
        code_challenge: str | None = None,
        offline_access: bool = True,
        audience: str = AUDIENCE,
    ) -> str:
        """The authorize URL alone, for callers that manage state and PKCE themselves."""
        request = self.authorization_request(
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            pkce=False,
            offline_access=offline_access,
            audience=audience,
        )
        if code_challenge is None:
            return request.url
        extra = urlencode(
            [("code_challenge", code_challenge), ("code_challenge_method", "S256")],
            quote_via=quote,
        )
        return f"{request.url}&{extra}"

    async def exchange_code(
        self, code: str, *, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenSet:
        """Trade the callback's ``code`` for tokens."""
        form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ]
        if code_verifier is not None:
            form.append(("code_verifier", code_verifier))
        secrets_ = (code, code_verifier or "")
        return await self._token(form, "oauth.exchange_code", secrets_)

    async def refresh(self, refresh_token: str, *, scopes: Sequence[str] | None = None) -> TokenSet:
        """Spend ``refresh_token`` (single use) for a new access token and, usually, a new
        refresh token. Persist the answer before using it: the old token is now spent."""
        form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
        if scopes:
            form.append(("scope", " ".join(scopes)))
        return await self._token(form, "oauth.refresh", (refresh_token,))

    async def client_credentials(
        self, *, scopes: Sequence[str], audience: str = AUDIENCE
    ) -> TokenSet:
        """A client-credentials token (demand-side searches use one)."""
        form = [
            ("grant_type", "client_credentials"),
            ("scope", " ".join(scopes)),
            ("audience", audience),
        ]
        return await self._token(form, "oauth.client_credentials", ())

    async def revoke(
        self,
        token: str,
        *,
        token_type_hint: Literal["refresh_token", "access_token"] | None = "refresh_token",  # noqa: S107
    ) -> None:
        """RFC 7009 revocation (``/oauth2/revoke``); revoking a refresh token ends the
        connection's access. Not in Thumbtack's documents: a 404 means it is not offered."""
        creds = self._client()
        form = [("token", token)]
        if token_type_hint is not None:
            form.append(("token_type_hint", token_type_hint))
        response = await self._core.send(
            "POST",
            self._env.oauth_revoke_url,
            operation="oauth.revoke",
            authorization=creds.basic_header(form_encode=True),
            form=form,
            secrets=(token, *creds.secrets()),
            oauth_errors=True,
        )
        expect_no_body(response)

    async def _token(
        self, form: list[tuple[str, str]], operation: str, secrets_: Sequence[str]
    ) -> TokenSet:
        creds = self._client()
        response = await self._core.send(
            "POST",
            self._env.oauth_token_url,
            operation=operation,
            authorization=creds.basic_header(form_encode=True),
            form=form,
            secrets=(*secrets_, *creds.secrets()),
            oauth_errors=True,
        )
        return parse_model(response, TokenSet)

    def _client(self) -> ClientCredentials:
        if self._credentials is None:
            raise ThumbtackConfigError("v4 OAuth calls need client credentials")
        return self._credentials
