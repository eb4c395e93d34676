"""HTTP plumbing shared by every outbound client (Thumbtack, Coperniq, signed webhooks)."""

from __future__ import annotations

import itertools
import ssl

import httpcore2
import httpx2

__all__ = ["ShardedTransport"]


class ShardedTransport(httpx2.AsyncBaseTransport):
    """Requests spread round-robin over several small connection pools.

    httpcore scans its whole pool on every request (and probes each idle socket), so one pool
    of 64 connections costs more CPU per call than the 20 ms call itself is worth; eight pools
    of eight keep the same concurrency at a fraction of the cost (see bench/RESULTS.md).
    """

    def __init__(
        self,
        *,
        connections: int = 64,
        shards: int = 8,
        network_backend: httpcore2.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        shards = max(1, min(shards, connections))
        per_shard = -(-connections // shards)
        limits = httpx2.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._shards = [
            httpx2.AsyncHTTPTransport(limits=limits, verify=verify) for _ in range(shards)
        ]
        if network_backend is not None:
            for shard in self._shards:
                _use_backend(shard, network_backend)
        self._next = itertools.cycle(self._shards)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await next(self._next).handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


def _use_backend(
    transport: httpx2.AsyncHTTPTransport, backend: httpcore2.AsyncNetworkBackend
) -> None:
    """Connect ``transport``'s new connections through ``backend`` (netguard's address checks).

    httpx2's transport takes no network backend, and its pool is private: this is the one place
    that reaches in, and it fails loudly (tests/core/test_netguard.py) if the pool changes."""
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore2.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx2's transport no longer has a connection pool to guard")
    pool._network_backend = backend
