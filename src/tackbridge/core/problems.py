"""RFC 7807 problem details: every error tackbridge answers is ``application/problem+json``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tackbridge.core.methods import AnswerOptions, allowed_methods

PROBLEM_JSON = "application/problem+json"
#: The header (and problem member) naming one unexpected error in the logs.
TRACE_HEADER = "X-Trace-ID"

log = logging.getLogger("tackbridge.errors")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProblemError(BaseModel):
    """One thing wrong with the request: the field (dotted path) and what."""

    model_config = ConfigDict(extra="allow")

    field: str | None = None
    detail: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, as every error answer carries them (``application/problem+json``):
    ``type`` is ``urn:tackbridge:problem:<slug>`` (or ``about:blank``), and an answer may add
    members of its own (``errors``, ``traceID`` on a 500, ``retryAfter``...)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None
    traceID: str | None = None


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    return Response(
        content=orjson.dumps(
            problem_body(status, detail, slug=slug, title=title, errors=errors, **extensions)
        ),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def problem_body(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:tackbridge:problem:{slug}" if slug else "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extensions.items() if v is not None})
    return body


def internal_error(request: Request, exc: Exception) -> Response:
    """The answer to an error nothing else handled: a problem with a trace ID that finds the
    logged traceback, and nothing of the error itself (no stack, no message: either may hold
    data or secrets)."""
    trace_id = uuid.uuid4().hex
    # The path only: a query string may carry a token.
    log.error(
        "unexpected error %s on %s %s",
        trace_id,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return problem(
        500,
        f"an unexpected error occurred; the operator can find it in the logs by traceID {trace_id}",
        slug="internal-error",
        traceID=trace_id,
        headers={TRACE_HEADER: trace_id},
    )


class CatchAll:
    """Answers an error the app raised before it started its answer with ``internal_error``,
    and does not raise it further: Starlette's own last-resort handler answers too, but then
    re-raises, and the server drops the connection (a client's next request on it fails)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            await internal_error(Request(scope), exc)(scope, receive, send)


def install_handlers(app: FastAPI) -> None:
    """Answer framework-level errors (unknown route, bad query parameter...) as problems too,
    and any unexpected error as a problem 500 (``internal_error``): from the routes through
    ``CatchAll``, from a middleware outside it through Starlette's last-resort handler."""
    app.add_middleware(CatchAll)
    app.add_middleware(AnswerOptions)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return internal_error(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allow = allowed_methods(list(request.app.routes), request.scope)
            headers["Allow"] = ", ".join(allow)
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return problem(
            exc.status_code, detail, slug=getattr(exc, "slug", None), headers=headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(part) for part in err.get("loc", ()) if part != "body"),
                "detail": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors) or "request"
        return problem(422, f"invalid {fields}", slug="invalid-request", errors=errors)
