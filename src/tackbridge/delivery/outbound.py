"""Everything the Thumbtack-bound jobs need, and the handlers they run under.

``outbound_handlers(outbound)`` is the ``dict[str, Handler]`` to merge into a worker (the one
``tackbridge serve`` starts, or ``tackbridge worker``). Where a call goes is decided per job
from the business's connection: a v4 grant, a legacy (v2 Bearer) grant, or, when the business
has no OAuth connection at all, the partner's v1 username/password from the settings.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tackbridge.delivery.grants import TokenManager
from tackbridge.thumbtack import ClientCredentials, Environment, ThumbtackClient

if TYPE_CHECKING:
    from tackbridge.delivery.worker import Handler

log = logging.getLogger("tackbridge.delivery")


class OutboundSettings(BaseSettings):
    """The ``TACKBRIDGE_THUMBTACK_*`` settings outbound calls read (the same variables the
    connections code reads; unknown ones are ignored, so both can coexist)."""

    model_config = SettingsConfigDict(
        env_prefix="TACKBRIDGE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    thumbtack_environment: str = "production"  # production | staging | sandbox
    thumbtack_base_url: str | None = None  # required for "sandbox"
    # The v1 username/password Thumbtack issues a partner: v1 Basic replies for businesses
    # without an OAuth connection.
    thumbtack_api_username: str | None = None
    thumbtack_api_password: SecretStr | None = None

    def environment(self) -> Environment:
        name = self.thumbtack_environment.lower()
        if name == "production":
            return Environment.production()
        if name == "staging":
            return Environment.staging()
        if not self.thumbtack_base_url:
            raise ValueError(f"TACKBRIDGE_THUMBTACK_BASE_URL is required for {name!r}")
        return Environment.sandbox(self.thumbtack_base_url)

    def v1_credentials(self) -> ClientCredentials | None:
        password = self.thumbtack_api_password
        if not self.thumbtack_api_username or password is None or not password.get_secret_value():
            return None
        return ClientCredentials(self.thumbtack_api_username, password)


class ShardedTransport(httpx2.AsyncBaseTransport):
    """Requests spread round-robin over several small connection pools.

    httpcore scans its whole pool on every request (and probes each idle socket), so one pool
    of 64 connections costs more CPU per call than the 20 ms call itself is worth; eight pools
    of eight keep the same concurrency at a fraction of the cost (see bench/RESULTS.md).
    """

    def __init__(self, *, connections: int = 64, shards: int = 8) -> None:
        shards = max(1, min(shards, connections))
        per_shard = -(-connections // shards)
        limits = httpx2.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._shards = [httpx2.AsyncHTTPTransport(limits=limits) for _ in range(shards)]
        self._next = itertools.cycle(self._shards)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await next(self._next).handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


@dataclass
class Outbound:
    """A Thumbtack client and the token source of every business."""

    thumbtack: ThumbtackClient
    tokens: TokenManager | None = None
    has_v1: bool = False

    async def aclose(self) -> None:
        await self.thumbtack.aclose()


def open_outbound(
    settings: OutboundSettings | None = None,
    *,
    tokens: TokenManager | None = None,
    **client: Any,
) -> Outbound:
    """An Outbound from the settings; ``client`` goes to ThumbtackClient (e.g. a transport)."""
    settings = settings or OutboundSettings()
    if "http_client" not in client and "transport" not in client:
        client["transport"] = ShardedTransport()
    v1 = settings.v1_credentials()
    thumbtack = ThumbtackClient(settings.environment(), v1_credentials=v1, **client)
    return Outbound(thumbtack=thumbtack, tokens=tokens, has_v1=v1 is not None)


def outbound_handlers(outbound: Outbound) -> dict[str, Handler]:
    """The handlers of every Thumbtack-bound job kind."""
    from tackbridge.conversations.replies import REPLY_KIND, ReplyHandler
    from tackbridge.delivery.targeting import TARGETING_KIND, TargetingHandler
    from tackbridge.jobstatus.push import PUSH_KIND, JobStatusHandler

    return {
        REPLY_KIND: ReplyHandler(outbound),
        PUSH_KIND: JobStatusHandler(outbound),
        TARGETING_KIND: TargetingHandler(outbound),
    }
