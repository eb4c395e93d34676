"""Authorization codes and tokens for both OAuth servers (legacy ``/v2/tokens/access`` and v4
``/oauth2/token``): issuing, exchanging, single-use refresh rotation with a grace period, reuse
detection, expiry and disconnect.

Token values are random (``secrets``) and never leave this module except in the answer to the
partner that asked for them; inspection shows fingerprints only. v4 access tokens are shaped
like JWTs (``sub``, ``exp``, ``aud``, ``scope``, signed HS256 with the sandbox's key), as some
clients read them; a grant may serve several businesses of one account (``business_ids``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from tackbridge.sandbox.clock import Clock

Api = Literal["legacy", "v4"]

LEGACY_CODE_TTL = timedelta(minutes=5)
LEGACY_ACCESS_TTL = timedelta(hours=1)
LEGACY_REFRESH_TTL = timedelta(hours=720)
LEGACY_GRACE = timedelta(seconds=10)
V4_CODE_TTL = timedelta(minutes=10)
V4_ACCESS_TTL = timedelta(seconds=3600)
V4_REFRESH_TTL = timedelta(days=180)  # from the last use: every rotation starts a new one
V4_GRACE = timedelta(seconds=60)


def fingerprint(value: str) -> str:
    """What inspection shows instead of a secret: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


class TokenError(Exception):
    """An OAuth error answer: ``error`` is the RFC 6749 code."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class AuthCode:
    value: str
    api: Api
    client_id: str
    business_id: str
    scopes: tuple[str, ...]
    redirect_uri: str | None
    created_at: datetime
    expires_at: datetime
    code_challenge: str | None = None
    audience: str | None = None
    used_at: datetime | None = None
    family: str = ""
    business_ids: tuple[str, ...] = ()


@dataclass
class Token:
    value: str
    kind: Literal["access", "refresh"]
    api: Api
    client_id: str
    business_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    grant: str
    family: str
    audience: str | None = None
    spent_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_why: str | None = None
    # For a spent refresh token: the pair it was exchanged for, answered again within the grace.
    successor: TokenPair | None = None
    # Every business the grant serves (the first is ``business_id``); empty: that one only.
    business_ids: tuple[str, ...] = ()

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    @property
    def businesses(self) -> tuple[str, ...]:
        return self.business_ids or (self.business_id,)

    def covers(self, business_id: str) -> bool:
        return business_id in self.businesses


@dataclass(frozen=True)
class TokenPair:
    access: Token
    refresh: Token | None
    # True when answered again for a retried refresh within the grace period.
    replayed: bool = False


@dataclass
class _Stores:
    codes: dict[str, AuthCode] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)


def _legacy_access_value(
    business_id: str, client_id: str, scopes: tuple[str, ...], exp: str
) -> str:
    # Shaped like the documented tokens ("1.<base64 claims>.<signature>"), with a random tail.
    claims: dict[str, object] = {
        "BusinessPK": business_id,
        "ClientID": client_id,
        "Scope": list(scopes),
        "ExpiresAt": exp,
    }
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"1.{body}.{secrets.token_urlsafe(32)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt_access_value(claims: dict[str, object], key: str) -> str:
    """A compact JWS (HS256) over ``claims``."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


class TokenStore:
    def __init__(self, clock: Clock, *, signing_key: str = "dev-sandbox-token-signing-key") -> None:
        self._clock = clock
        self._key = signing_key
        self._lock = threading.RLock()
        self._s = _Stores()

    # codes --------------------------------------------------------------------------------

    def issue_code(
        self,
        *,
        api: Api,
        client_id: str,
        business_id: str,
        scopes: tuple[str, ...],
        redirect_uri: str | None,
        code_challenge: str | None = None,
        audience: str | None = None,
        expired: bool = False,
        business_ids: tuple[str, ...] = (),
    ) -> AuthCode:
        now = self._clock.now()
        ttl = LEGACY_CODE_TTL if api == "legacy" else V4_CODE_TTL
        code = AuthCode(
            value=secrets.token_urlsafe(16),
            api=api,
            client_id=client_id,
            business_id=business_id,
            scopes=scopes,
            redirect_uri=redirect_uri,
            created_at=now,
            # The expired-codes fault hands out codes that are already past their expiry.
            expires_at=now if expired else now + ttl,
            code_challenge=code_challenge,
            audience=audience,
            family=secrets.token_hex(8),
            business_ids=business_ids,
        )
        with self._lock:
            self._s.codes[code.value] = code
        return code

    def exchange_code(
        self,
        *,
        api: Api,
        client_id: str,
        code: str,
        redirect_uri: str | None,
        code_verifier: str | None,
    ) -> TokenPair:
        now = self._clock.now()
        with self._lock:
            record = self._s.codes.get(code)
            if record is None or record.api != api or record.client_id != client_id:
                raise TokenError("invalid_grant", "unknown authorization code")
            if record.used_at is not None:
                # RFC 6749 10.5: a replayed code revokes what it already granted.
                self._revoke_family(record.family, "authorization code replayed")
                raise TokenError("invalid_grant", "authorization code already used")
            if record.expires_at <= now:
                raise TokenError("invalid_grant", "authorization code expired")
            if record.redirect_uri is not None and redirect_uri != record.redirect_uri:
                raise TokenError("invalid_grant", "redirect_uri does not match the authorization")
            if record.code_challenge is not None:
                if not code_verifier:
                    raise TokenError("invalid_grant", "code_verifier is required (PKCE)")
                if s256(code_verifier) != record.code_challenge:
                    raise TokenError("invalid_grant", "code_verifier does not match the challenge")
            elif code_verifier:
                raise TokenError("invalid_request", "code_verifier sent but no challenge was")
            record.used_at = now
            return self._issue_pair(
                api,
                client_id,
                record.business_id,
                record.scopes,
                "authorization_code",
                record.family,
                record.audience,
                record.business_ids,
            )

    # tokens -------------------------------------------------------------------------------

    def _issue_pair(
        self,
        api: Api,
        client_id: str,
        business_id: str,
        scopes: tuple[str, ...],
        grant: str,
        family: str,
        audience: str | None,
        business_ids: tuple[str, ...] = (),
    ) -> TokenPair:
        now = self._clock.now()
        access_ttl = LEGACY_ACCESS_TTL if api == "legacy" else V4_ACCESS_TTL
        expires = now + access_ttl
        if api == "legacy":
            value = _legacy_access_value(business_id, client_id, scopes, expires.isoformat())
        else:
            claims: dict[str, object] = {
                "iss": "https://auth.thumbtack.com/",
                "sub": business_id,
                "aud": [audience] if audience else [],
                "client_id": client_id,
                "scope": " ".join(scopes),
                "iat": int(now.timestamp()),
                "exp": int(expires.timestamp()),
                "jti": secrets.token_urlsafe(16),
            }
            value = jwt_access_value(claims, self._key)
        access = Token(
            value,
            "access",
            api,
            client_id,
            business_id,
            scopes,
            now,
            expires,
            grant,
            family,
            audience,
            business_ids=business_ids,
        )
        refresh: Token | None = None
        if api == "legacy" or "offline_access" in scopes:
            refresh_ttl = LEGACY_REFRESH_TTL if api == "legacy" else V4_REFRESH_TTL
            refresh = Token(
                secrets.token_urlsafe(16 if api == "legacy" else 32),
                "refresh",
                api,
                client_id,
                business_id,
                scopes,
                now,
                now + refresh_ttl,
                grant,
                family,
                audience,
                business_ids=business_ids,
            )
            self._s.tokens[refresh.value] = refresh
        self._s.tokens[access.value] = access
        return TokenPair(access, refresh)

    def refresh(
        self,
        *,
        api: Api,
        client_id: str,
        refresh_token: str,
        scopes: tuple[str, ...] | None = None,
    ) -> TokenPair:
        now = self._clock.now()
        grace = LEGACY_GRACE if api == "legacy" else V4_GRACE
        with self._lock:
            token = self._s.tokens.get(refresh_token)
            if (
                token is None
                or token.kind != "refresh"
                or token.api != api
                or token.client_id != client_id
            ):
                raise TokenError("invalid_grant", "unknown refresh token")
            if token.revoked_at is not None:
                raise TokenError("invalid_grant", f"refresh token revoked: {token.revoked_why}")
            if token.expires_at <= now:
                raise TokenError("invalid_grant", "refresh token expired")
            if token.spent_at is not None:
                if now - token.spent_at <= grace and token.successor is not None:
                    # A retry after a lost answer: the same pair again, not a new one.
                    return replace(token.successor, replayed=True)
                self._revoke_family(token.family, "refresh token reused after its grace period")
                raise TokenError("invalid_grant", "refresh token already used")
            granted = token.scopes
            if scopes is not None:
                if not set(scopes) <= set(token.scopes):
                    raise TokenError("invalid_scope", "requested scope exceeds the original grant")
                granted = scopes
            pair = self._issue_pair(
                api,
                client_id,
                token.business_id,
                granted,
                "refresh_token",
                token.family,
                token.audience,
                token.business_ids,
            )
            token.spent_at = now
            token.successor = pair
            return pair

    def access(self, value: str, api: Api) -> Token | None:
        """The live access token with this value, or None (unknown, expired or revoked)."""
        now = self._clock.now()
        with self._lock:
            token = self._s.tokens.get(value)
            if token is None or token.kind != "access" or token.api != api:
                return None
            return token if token.live(now) else None

    def disconnect(self, *, api: Api, client_id: str, business_id: str) -> int:
        """Removes codes and revokes tokens of one business for one client; returns how many."""
        now = self._clock.now()
        count = 0
        with self._lock:
            for code in list(self._s.codes.values()):
                if (code.api, code.client_id, code.business_id) == (api, client_id, business_id):
                    del self._s.codes[code.value]
                    count += 1
            for token in self._s.tokens.values():
                same = (token.api, token.client_id) == (api, client_id) and token.covers(
                    business_id
                )
                if same and token.revoked_at is None:
                    token.revoked_at = now
                    token.revoked_why = "disconnected"
                    count += 1
        return count

    def _revoke_family(self, family: str, why: str) -> None:
        now = self._clock.now()
        for token in self._s.tokens.values():
            if token.family == family and token.revoked_at is None:
                token.revoked_at = now
                token.revoked_why = why

    def connected_business_ids(self) -> set[str]:
        now = self._clock.now()
        with self._lock:
            return {b for t in self._s.tokens.values() if t.live(now) for b in t.businesses}

    def snapshot(self) -> tuple[list[AuthCode], list[Token]]:
        with self._lock:
            return list(self._s.codes.values()), list(self._s.tokens.values())


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
