"""Thumbtack client: legacy Pro API (v1/v2/v3), v4 OAuth 2.0, and the v4 API.

Public surface::

    ThumbtackClient(environment, *, credentials, v4_credentials, v1_credentials,
                    token_provider, http_client, transport, timeout, user_agent)
        .legacy  LegacyAPI   messages (v1 Basic, v2 Bearer), tokens, info, disconnect, targeting
        .oauth   OAuthAPI    authorize URL with PKCE, code exchange, refresh, revoke
        .v4      V4API       negotiations, messages, job status, businesses, webhooks, ...

Models live in :mod:`tackbridge.thumbtack.models` (one module per API), errors in
:mod:`tackbridge.thumbtack.errors`.
"""

from ._http import ClientCredentials, TokenProvider, TokenSource
from .client import ThumbtackClient
from .environments import PRODUCTION, STAGING, Environment
from .errors import (
    AuthError,
    BadRequestError,
    ChallengeError,
    ForbiddenError,
    InvalidClientError,
    InvalidGrantError,
    MissingScopeError,
    NetworkError,
    NotAvailableError,
    NotFoundError,
    NullRefreshResponseError,
    OAuthError,
    ProblemError,
    RateLimitedError,
    ServerError,
    ThumbtackConfigError,
    ThumbtackError,
    UnavailableForLegalReasonsError,
    UnexpectedResponseError,
)
from .legacy import LegacyAPI
from .models.job_status import JobStatus, JobStatusUpdate
from .models.negotiations import Message, Negotiation
from .models.requests import RequestCreate, RequestResult
from .models.tokens import TokenSet
from .models.webhooks import WebhookBasicAuth, WebhookCreate, WebhookHeaderAuth, WebhookUpdate
from .oauth import AuthorizationRequest, OAuthAPI, Pkce, generate_pkce, generate_state
from .v4 import V4API

__all__ = [
    "PRODUCTION",
    "STAGING",
    "V4API",
    "AuthError",
    "AuthorizationRequest",
    "BadRequestError",
    "ChallengeError",
    "ClientCredentials",
    "Environment",
    "ForbiddenError",
    "InvalidClientError",
    "InvalidGrantError",
    "JobStatus",
    "JobStatusUpdate",
    "LegacyAPI",
    "Message",
    "MissingScopeError",
    "Negotiation",
    "NetworkError",
    "NotAvailableError",
    "NotFoundError",
    "NullRefreshResponseError",
    "OAuthAPI",
    "OAuthError",
    "Pkce",
    "ProblemError",
    "RateLimitedError",
    "RequestCreate",
    "RequestResult",
    "ServerError",
    "ThumbtackClient",
    "ThumbtackConfigError",
    "ThumbtackError",
    "TokenProvider",
    "TokenSet",
    "TokenSource",
    "UnavailableForLegalReasonsError",
    "UnexpectedResponseError",
    "WebhookBasicAuth",
    "WebhookCreate",
    "WebhookHeaderAuth",
    "WebhookUpdate",
    "generate_pkce",
    "generate_state",
]
