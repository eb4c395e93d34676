"""Logging set-up: one line per event, key facts first, as text or as JSON objects
(``TACKBRIDGE_LOG_FORMAT=json``), each carrying the trace ID of the request or job it belongs to.

Secrets are never passed to loggers; as a second line of defence every record is scrubbed on
its way out: the values of the process's secrets (``configure(secrets=...)``) and the secret
parts of any URL in the message (``tackbridge.core.redact``) are replaced.

Trace IDs: :class:`TraceMiddleware` gives each HTTP request one, taken from a well-formed
incoming ``traceparent`` (W3C Trace Context) or ``X-Request-ID`` header, else made up, and
answers it in ``X-Request-ID``; :func:`traced` sets one for other work (an outbox job's
attempt). :func:`trace_id` reads the current one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tackbridge.core.redact import REDACTED, redact_urls_in

__all__ = [
    "JsonFormatter",
    "ScrubFilter",
    "TraceMiddleware",
    "configure",
    "new_trace_id",
    "trace_id",
    "traced",
]

_TRACE: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "trace_id"}


def trace_id() -> str | None:
    """The trace ID of the request or job this code runs for, if any."""
    return _TRACE.get()


# Random bytes for trace IDs, drawn from the OS 256 IDs at a time: os.urandom is a system call
# that releases the GIL, and on the event loop each release handed the GIL to the busy store
# writer thread for up to the switch interval (~0.1 ms per request measured under load).
_POOL_IDS = 256
_pool = b""
_pool_at = 0
_pool_lock = threading.Lock()


def new_trace_id() -> str:
    """32 random hex digits (a W3C trace-id's shape), from the OS's random source."""
    global _pool, _pool_at
    with _pool_lock:
        if _pool_at >= len(_pool):
            _pool, _pool_at = os.urandom(16 * _POOL_IDS), 0
        start = _pool_at
        _pool_at += 16
        return _pool[start : start + 16].hex()


@contextmanager
def traced(trace: str | None = None) -> Iterator[str]:
    """Run the block under ``trace`` (a new ID when None)."""
    value = trace or new_trace_id()
    token = _TRACE.set(value)
    try:
        yield value
    finally:
        _TRACE.reset(token)


def _incoming(scope: Scope) -> str | None:
    traceparent: str | None = None
    request_id: str | None = None
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"traceparent":
            traceparent = value.decode("latin-1").strip().lower()
        elif name == b"x-request-id":
            request_id = value.decode("latin-1").strip()
    if traceparent:
        match = _TRACEPARENT.match(traceparent)
        if match and match.group(1) != "0" * 32:
            return str(match.group(1))
    if request_id and _REQUEST_ID.match(request_id):
        return request_id
    return None


class TraceMiddleware:
    """Pure ASGI (no per-request task or body copy): sets the request's trace ID for the code
    that serves it and answers it in ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = _incoming(scope) or new_trace_id()
        token = _TRACE.set(value)
        header = (b"x-request-id", value.encode("latin-1"))

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0] != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            _TRACE.reset(token)


class ScrubFilter(logging.Filter):
    """Stamps each record with the current trace ID and scrubs secrets from its message (the
    message is rendered once, here, so that no argument reaches a handler unscrubbed)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so that a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return redact_urls_in(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id = _TRACE.get()
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: keep the template, never fail the caller
            message = str(record.msg)
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, traceID, the
    record's ``extra=`` fields, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace = getattr(record, "trace_id", None) or _TRACE.get()
        if trace:
            entry["traceID"] = trace
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text", *, secrets: Iterable[str] = ()) -> None:
    """Root logging to stderr, as ``fmt`` (``text`` or ``json``), scrubbing ``secrets``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ScrubFilter(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Every outbound request at INFO would bury what matters; failures still surface as
    # the job errors the outbox records.
    for chatty in ("httpx2", "httpcore", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
