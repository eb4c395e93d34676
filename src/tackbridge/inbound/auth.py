"""Authentication of Thumbtack's calls: HTTP Basic, or the custom header v4 webhooks allow.

There is no signature on Thumbtack's deliveries; the shared secret is the only proof, so it is
compared in constant time and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from tackbridge.settings import Settings

# The registered HTTP authentication schemes (IANA), the only words a refusal may quote.
_SCHEMES = frozenset(
    {"bearer", "digest", "hoba", "mutual", "negotiate", "ntlm", "oauth", "scram-sha-1",
     "scram-sha-256", "vapid", "aws4-hmac-sha256", "privatetoken", "concealed", "dpop", "gnap"}
)  # fmt: skip
CHALLENGE = 'Basic realm="tackbridge partner endpoints", charset="UTF-8"'


class PartnerAuth:
    def __init__(self, settings: Settings) -> None:
        self._basic: tuple[bytes, bytes] | None = None
        if settings.webhook_username and settings.webhook_password is not None:
            self._basic = (
                settings.webhook_username.encode(),
                settings.webhook_password.get_secret_value().encode(),
            )
        self._header: tuple[str, bytes] | None = None
        if settings.webhook_header_name and settings.webhook_header_value is not None:
            self._header = (
                settings.webhook_header_name.lower(),
                settings.webhook_header_value.get_secret_value().encode(),
            )

        # Redacted wherever the request's headers are kept: the rule's names, the configured
        # ones and the webhook header, whatever its name.
        self.redacted_names = settings.redacted_names | (
            {self._header[0]} if self._header else set()
        )

    @property
    def header_name(self) -> str | None:
        return self._header[0] if self._header else None

    def account(self, headers: Mapping[str, str]) -> str | None:
        """Who the presented credentials claim to be (a Basic username, or the webhook header's
        name), "" when they are unreadable, None when none are presented: what repeated
        failures are counted against (``tackbridge.core.throttle``)."""
        if self._header is not None and self._header[0] in headers:
            return self._header[0]
        authorization = headers.get("authorization")
        if not authorization:
            return None
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return ""
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return ""
        # Bounded: the account is a key the throttle remembers.
        return decoded.partition(b":")[0][:128].decode("utf-8", "replace")

    def refusal(self, headers: Mapping[str, str]) -> str | None:
        """Why the request is not authenticated, or None when it is."""
        if self._header is not None:
            name, secret = self._header
            value = headers.get(name)
            if value is not None:
                if hmac.compare_digest(value.encode(), secret):
                    return None
                return f"wrong value in the {name} header"
        if self._basic is None:
            return "missing the configured authentication header"
        authorization = headers.get("authorization")
        if not authorization:
            return "no Authorization header"
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            # Named only when it is a scheme: a sender that put its password there (no
            # scheme at all) must not find it in the log.
            if scheme.lower() in _SCHEMES:
                return f"Authorization scheme {scheme!r} is not Basic"
            return "the Authorization header is not Basic credentials"
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return "malformed Basic credentials"
        username, sep, password = decoded.partition(b":")
        if not sep:
            return "malformed Basic credentials"
        expected_user, expected_password = self._basic
        user_ok = hmac.compare_digest(username, expected_user)
        password_ok = hmac.compare_digest(password, expected_password)
        if user_ok and password_ok:
            return None
        return "wrong username or password" if not user_ok else "wrong password"
