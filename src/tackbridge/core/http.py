"""HTTP plumbing shared by every outbound client (Thumbtack, Coperniq, signed webhooks)."""

from __future__ import annotations

import itertools

import httpx2

__all__ = ["ShardedTransport"]


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
