"""Where each Thumbtack API lives, per environment.

Thumbtack spreads its APIs over several hosts, and the documents disagree in places:

- Legacy Pro API (v2 tokens, v2 message, get-thumbtack-info, disconnect-partner, v3 targeting,
  v1 test create-lead): ``pro-api.thumbtack.com``; staging ``staging-pro-api.thumbtack.com``.
- v1 send message: ``api.thumbtack.com`` in production (the v1 reference), and
  ``staging-pro-api.thumbtack.com`` in staging (the v2 development guide says so explicitly).
  The v2 message endpoint table says ``pro-api``; its curl sample says ``api``: we follow the table.
- v4: ``api.thumbtack.com/api/v4``; staging ``staging-api.thumbtack.com``.
- v4 OAuth: ``auth.thumbtack.com/oauth2/{auth,token}``; staging ``staging-auth.thumbtack.com``.
  Revocation is not in the documents; ``/oauth2/revoke`` is the RFC 7009 endpoint of the OAuth
  server these paths belong to.
- Legacy partner-connect page: the documents show ``thumbtack.com`` for test clients too.

A sandbox (a local fake Thumbtack) serves everything from one base URL: legacy paths at the
root, v4 under ``/api/v4``, OAuth under ``/oauth2``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRODUCTION", "STAGING", "Environment"]


@dataclass(frozen=True, slots=True)
class Environment:
    """Base URLs of one Thumbtack environment. Build your own for anything unusual."""

    name: str
    #: ``/v2/*``, ``/v3/*``, ``/v1/test/create-lead``.
    legacy_base_url: str
    #: ``/v1/business/{businessID}/lead/{leadID}/message``.
    legacy_v1_message_base_url: str
    #: Host of the v4 API; paths start with ``/api/v4``.
    api_base_url: str
    oauth_authorize_url: str
    oauth_token_url: str
    oauth_revoke_url: str
    #: Legacy OAuth authorization page (step 2 of the v2 reference).
    partner_connect_url: str
    #: Whether ``POST /v1/test/create-lead`` exists here (it does not in production).
    has_test_endpoints: bool = False

    @classmethod
    def production(cls) -> Environment:
        return cls(
            name="production",
            legacy_base_url="https://pro-api.thumbtack.com",
            legacy_v1_message_base_url="https://api.thumbtack.com",
            api_base_url="https://api.thumbtack.com",
            oauth_authorize_url="https://auth.thumbtack.com/oauth2/auth",
            oauth_token_url="https://auth.thumbtack.com/oauth2/token",  # noqa: S106 - a URL
            oauth_revoke_url="https://auth.thumbtack.com/oauth2/revoke",
            partner_connect_url="https://thumbtack.com/services/partner-connect/",
        )

    @classmethod
    def staging(cls) -> Environment:
        return cls(
            name="staging",
            legacy_base_url="https://staging-pro-api.thumbtack.com",
            legacy_v1_message_base_url="https://staging-pro-api.thumbtack.com",
            api_base_url="https://staging-api.thumbtack.com",
            oauth_authorize_url="https://staging-auth.thumbtack.com/oauth2/auth",
            oauth_token_url="https://staging-auth.thumbtack.com/oauth2/token",  # noqa: S106
            oauth_revoke_url="https://staging-auth.thumbtack.com/oauth2/revoke",
            partner_connect_url="https://thumbtack.com/services/partner-connect/",
            has_test_endpoints=True,
        )

    @classmethod
    def sandbox(cls, base_url: str) -> Environment:
        """A local fake Thumbtack serving every API from ``base_url``."""
        base = base_url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError("sandbox base_url must be an http(s) URL")
        return cls(
            name="sandbox",
            legacy_base_url=base,
            legacy_v1_message_base_url=base,
            api_base_url=base,
            oauth_authorize_url=f"{base}/oauth2/auth",
            oauth_token_url=f"{base}/oauth2/token",
            oauth_revoke_url=f"{base}/oauth2/revoke",
            partner_connect_url=f"{base}/services/partner-connect/",
            has_test_endpoints=True,
        )

    @classmethod
    def from_name(cls, name: str, *, base_url: str | None = None) -> Environment:
        """``production``, ``staging`` or ``sandbox`` (which needs ``base_url``)."""
        key = name.strip().lower()
        if key == "production":
            return cls.production()
        if key == "staging":
            return cls.staging()
        if key == "sandbox":
            if not base_url:
                raise ValueError("the sandbox environment needs a base_url")
            return cls.sandbox(base_url)
        raise ValueError(f"unknown Thumbtack environment {name!r}")


PRODUCTION = Environment.production()
STAGING = Environment.staging()
