"""Fault injection on the APIs a partner calls (never on ``/_sandbox``): added latency, 5xx and
429 answers, and dropped connections; plus Coperniq's ``X-RateLimit-*`` headers on every answer.

A plain ASGI middleware, because dropping a connection means ending the response half-way, which
only the raw ASGI interface can express (the server then closes the socket).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tackbridge.sandbox.errors import PROBLEM_JSON, is_coperniq
from tackbridge.sandbox.state import SandboxState

EXEMPT_PREFIXES = ("/_sandbox", "/docs", "/openapi.json", "/redoc")


def _error(path: str, status: int, detail: str) -> tuple[bytes, str]:
    if is_coperniq(path):
        code = "RATE_LIMITED" if status == 429 else "SERVICE_UNAVAILABLE"
        return json.dumps({"message": detail, "code": code}).encode(), "application/json"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "Too Many Requests" if status == 429 else "Service Unavailable",
        "status": status,
        "detail": detail,
        "traceID": secrets.token_hex(16),
        "errors": [],
    }
    return json.dumps(body).encode(), PROBLEM_JSON


class ApiMiddleware:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        faults = self.state.faults
        if faults.latency_ms:
            await self.state.clock.sleep(faults.latency_ms / 1000)
        if self.state.chance(faults.drop_rate):
            self.state.note(f"dropped the connection of {scope.get('method')} {path} (fault)")
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            # Half a body, then nothing: the server closes the socket under the client.
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            return
        for rate, status, detail in (
            (faults.error_rate, 503, "service unavailable (injected fault)"),
            (faults.rate_limit_rate, 429, "too many requests (injected fault)"),
        ):
            if self.state.chance(rate):
                body, content_type = _error(path, status, detail)
                headers = [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
                if status == 429:
                    headers.append((b"retry-after", str(faults.retry_after_seconds).encode()))
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: Any = scope.get("state", {}).get("ratelimit")
                if extra:
                    headers = list(message.get("headers", []))
                    headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
