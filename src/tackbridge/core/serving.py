"""How tackbridge is served by uvicorn: a connection must send a request's headers within a
deadline and within a size, or it is answered 408 (431) and closed.

uvicorn's own keep-alive timeout only runs between requests: a client that opens a connection
and sends part of its headers (or nothing) would hold it, and its slot, for ever. The protocol
here arms a timer when a connection opens and when a request's first byte arrives, and disarms
it when the headers are complete; the body has its own deadline (``core/limits.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["guarded_http", "uvicorn_options"]

log = logging.getLogger("tackbridge.http")

_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 30\r\nconnection: close\r\n\r\nthe request headers came late\n"
)
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8"
    b"\r\ncontent-length: 31\r\nconnection: close\r\n\r\nthe request headers are too big\n"
)


class _Guarded(HttpToolsProtocol):
    header_seconds: float = 10.0
    max_header_bytes: int = 64 * 1024
    #: Connections closed for slow or big headers, since the process started.
    timeouts = 0
    oversized = 0

    _timer: asyncio.TimerHandle | None = None
    _header_bytes = 0
    _in_headers = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect_headers()

    def _expect_headers(self) -> None:
        if not self._in_headers:
            self._in_headers = True
            self._header_bytes = 0
        if self._timer is None:
            self._timer = self.loop.call_later(self.header_seconds, self._headers_late)

    def _headers_done(self) -> None:
        self._in_headers = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > self.max_header_bytes:
            type(self).oversized += 1
            self._close(_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect_headers()

    def on_headers_complete(self) -> None:
        self._headers_done()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        super().connection_lost(exc)

    def _headers_late(self) -> None:
        self._timer = None
        type(self).timeouts += 1
        log.debug("closed %s: its request headers took over %gs", self.client, self.header_seconds)
        self._close(_TIMEOUT)

    def _close(self, answer: bytes) -> None:
        self._headers_done()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


def guarded_http(*, header_seconds: float, max_header_bytes: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the header deadline and size limit."""
    return type(
        "GuardedHttpToolsProtocol",
        (_Guarded,),
        {"header_seconds": header_seconds, "max_header_bytes": max_header_bytes},
    )


def uvicorn_options(
    *, header_seconds: float, max_header_bytes: int, keep_alive_seconds: int
) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.Config`` / ``uvicorn.run`` for a guarded server."""
    return {
        "http": guarded_http(header_seconds=header_seconds, max_header_bytes=max_header_bytes),
        "timeout_keep_alive": keep_alive_seconds,
    }
