"""``ThumbtackClient``: one object for every Thumbtack API, sharing one HTTP connection pool.

    async with ThumbtackClient(Environment.production(), credentials=ClientCredentials(
        "my-client-id", secret)) as thumbtack:
        tokens = await thumbtack.oauth.exchange_code(code, redirect_uri=..., code_verifier=...)
        await thumbtack.v4.send_message(lead_id, "Thanks!", token=tokens.access_token)

The client holds no tokens of its own: pass ``token=`` per call, or a ``token_provider`` (an
async callable) for the v4 resource; storage, refresh and single-flight live elsewhere.
"""

from __future__ import annotations

from types import TracebackType

import httpx2

from .. import __version__
from ._http import ClientCredentials, HttpCore, TokenSource
from .environments import Environment
from .legacy import LegacyAPI
from .oauth import OAuthAPI
from .v4 import V4API

__all__ = ["DEFAULT_USER_AGENT", "ThumbtackClient"]

DEFAULT_USER_AGENT = f"tackbridge/{__version__}"


class ThumbtackClient:
    """Thumbtack's legacy API (``.legacy``), v4 OAuth (``.oauth``) and v4 API (``.v4``).

    :param environment: base URLs (``Environment.production()``, ``.staging()``,
        ``.sandbox(url)``).
    :param credentials: OAuth client id/secret: legacy tokens and disconnect, v4 OAuth.
    :param v4_credentials: a different OAuth client for v4, when the partner has two.
    :param v1_credentials: the v1 username/password (v1 send message, staging create-lead).
    :param token_provider: default access token source for ``.v4`` calls without ``token=``.
    :param http_client: an ``httpx2.AsyncClient`` to share (its owner closes it).
    :param transport: a transport for the client built here (``httpx2.MockTransport`` in tests).
    :param timeout: seconds or an ``httpx2.Timeout``; default 30 s.
    :param user_agent: the ``User-Agent`` of every request.
    """

    def __init__(
        self,
        environment: Environment,
        *,
        credentials: ClientCredentials | None = None,
        v4_credentials: ClientCredentials | None = None,
        v1_credentials: ClientCredentials | None = None,
        token_provider: TokenSource | None = None,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float | httpx2.Timeout | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self.environment = environment
        self._core = HttpCore(
            http_client=http_client, transport=transport, timeout=timeout, user_agent=user_agent
        )
        self.legacy = LegacyAPI(
            self._core, environment, credentials=credentials, v1_credentials=v1_credentials
        )
        self.oauth = OAuthAPI(self._core, environment, credentials=v4_credentials or credentials)
        self.v4 = V4API(self._core, environment, token_provider=token_provider)

    @property
    def http_client(self) -> httpx2.AsyncClient:
        return self._core.client

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        await self._core.aclose()

    async def __aenter__(self) -> ThumbtackClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ThumbtackClient(environment={self.environment.name!r})"
