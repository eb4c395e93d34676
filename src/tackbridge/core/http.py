"""HTTP plumbing shared by every outbound client (Thumbtack, Coperniq, signed webhooks).

The clients speak httpx2 (requests, responses, errors, mock transports in tests); what carries
their requests is a transport. ``AiohttpTransport`` carries them over aiohttp's connection pool,
which costs about half the CPU per call of httpcore's (see bench/RESULTS.md): at three calls
per lead, the largest single item of a lead's CPU. It carries the Thumbtack client's calls only:
the CRM calls (Coperniq, webhooks, destinations a user sets) keep ``ShardedTransport``, whose
connections go through ``core.netguard``'s checked connect (the SSRF guard), which aiohttp's
connector does not take.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import aiohttp.abc
import httpcore2
import httpx2
from yarl import URL

__all__ = ["AiohttpTransport", "ShardedTransport"]


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport over an aiohttp session (one per event loop, made on first use):
    the request as httpx2 built it (headers, body), the response as it came (content-encoding
    left to httpx2), redirects left to httpx2, aiohttp's errors raised as httpx2's."""

    def __init__(
        self,
        *,
        connections: int = 64,
        keepalive_seconds: float = 15.0,
        resolver: Callable[[], aiohttp.abc.AbstractResolver] | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """``resolver`` makes each session's resolver (one per event loop); ``verify``: a
        context to verify TLS with (False: none, tests only)."""
        self._connections = connections
        self._keepalive = keepalive_seconds
        self._resolver = resolver
        self._verify = verify
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._connections,
                keepalive_timeout=self._keepalive,
                resolver=self._resolver() if self._resolver is not None else None,
                ssl=self._verify,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx2's client keeps its own
            )
            self._sessions[loop] = session
        return session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers.raw
            if k.lower() != b"host"
        ]
        try:
            async with self._session().request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=_timeout(request.extensions.get("timeout")),
            ) as answer:
                content = await answer.read()
                return httpx2.Response(
                    answer.status,
                    headers=list(answer.raw_headers),
                    content=content,
                    request=request,
                    extensions={"http_version": b"HTTP/1.1"},
                )
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx2.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise httpx2.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx2.RemoteProtocolError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx2.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        loop = asyncio.get_running_loop()
        for owner, session in sessions.items():
            if owner is loop:
                await session.close()
            elif not owner.is_closed():
                # Made in another loop (a test's): closed there.
                asyncio.run_coroutine_threadsafe(session.close(), owner)


def _timeout(given: Any) -> aiohttp.ClientTimeout:
    """httpx2's timeout extension (connect, read, write, pool) as aiohttp's."""
    if not isinstance(given, dict):
        return aiohttp.ClientTimeout(total=None)
    return aiohttp.ClientTimeout(
        total=None,
        connect=_add(given.get("pool"), given.get("connect")),
        sock_connect=given.get("connect"),
        sock_read=given.get("read"),
    )


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


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
