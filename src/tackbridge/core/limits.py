"""What every request meets before a route reads its body: one size limit, enforced as the body
streams in (a declared ``Content-Length`` above it is refused before a byte is read), and a
deadline for the body to arrive once the headers have.

The limits are raised from ``receive`` as HTTP exceptions with a problem slug, so that any route
(FastAPI's body parsing re-raises HTTP exceptions as they are) answers 413 or 408 problem+json;
routes that keep what they refuse (the partner endpoints, the Coperniq webhook) catch them
while they read. Either answer closes the connection: the rest of the body is never read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tackbridge.core.problems import problem

__all__ = ["BodyTimeoutError", "BodyTooLargeError", "RequestLimits", "declared_length"]


class BodyTooLargeError(HTTPException):
    slug = "body-too-large"

    def __init__(self, limit: int, size: int) -> None:
        super().__init__(413, f"the body exceeds {limit} bytes", headers={"Connection": "close"})
        self.limit = limit
        self.size = size  # declared, or read so far


class BodyTimeoutError(HTTPException):
    slug = "body-timeout"

    def __init__(self, seconds: float, size: int) -> None:
        detail = f"the body did not arrive within {seconds:g} s ({size} bytes came)"
        super().__init__(408, detail, headers={"Connection": "close"})
        self.seconds = seconds
        self.size = size


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` as a number, if it declares a valid one."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class RequestLimits:
    """ASGI middleware: ``max_body_bytes`` per request body, ``body_seconds`` to receive it."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        seconds = self.body_seconds
        declared = declared_length(scope)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        size = 0
        complete = False
        started = False

        async def limited() -> Message:
            nonlocal size, complete
            if complete:  # what is left is waiting for a disconnect: no deadline on that
                return await receive()
            if declared is not None and declared > limit:
                raise BodyTooLargeError(limit, declared)
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeoutError(seconds, size) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise BodyTooLargeError(limit, size)
                complete = not message.get("more_body", False)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except (BodyTooLargeError, BodyTimeoutError) as exc:
            # Raised where no exception handler answered it (outside a route).
            if started:
                raise
            answer: Any = problem(exc.status_code, exc.detail, slug=exc.slug, headers=exc.headers)
            await answer(scope, receive, send)
