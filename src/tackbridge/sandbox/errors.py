"""Error answers in each side's own format, and the handlers that guarantee bad input gets a 4xx.

Thumbtack answers RFC 7807 problem details (``application/problem+json``: type, title, status,
detail, traceID, errors[]); Coperniq answers ``{message, code, field?}``. Which one a request gets
depends only on its path, so even unknown routes and malformed bodies answer in the right dialect.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

COPERNIQ_PREFIX = "/coperniq/"
PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("tackbridge.sandbox")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_COPERNIQ_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


class ProblemError(Exception):
    """Raised anywhere on the Thumbtack side to answer a problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}
        self.title = title


class CoperniqError(Exception):
    """Raised on the Coperniq side to answer ``{message, code, field}``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _COPERNIQ_CODES.get(status, "ERROR")
        self.field = field
        self.headers = headers or {}


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    title: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "traceID": secrets.token_hex(16),
        "errors": errors or [],
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def coperniq_error(
    status: int,
    message: str,
    code: str | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "message": message,
        "code": code or _COPERNIQ_CODES.get(status, "ERROR"),
    }
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


def is_coperniq(path: str) -> bool:
    return path.startswith(COPERNIQ_PREFIX)


def error_for_path(
    path: str, status: int, detail: str, *, field: str | None = None, code: str | None = None
) -> JSONResponse:
    if is_coperniq(path):
        return coperniq_error(status, detail, code, field)
    errors = [{"field": field, "message": detail}] if field else None
    return problem(status, detail, errors=errors)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return problem(
            exc.status,
            exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
            title=exc.title,
        )

    async def on_coperniq(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CoperniqError)
        if not is_coperniq(request.url.path):
            # Coperniq's rules also run behind /_sandbox (the contractor's UI), which answers
            # problem+json like every non-Coperniq path.
            errors = [{"field": exc.field, "message": exc.message}] if exc.field else None
            return problem(exc.status, exc.message, errors=errors, headers=exc.headers)
        return coperniq_error(exc.status, exc.message, exc.code, exc.field, exc.headers)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        response = error_for_path(request.url.path, exc.status_code, detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = _loc_to_field(first.get("loc", ()))
        message = str(first.get("msg", "invalid request"))
        if field:
            message = f"{field}: {message}"
        if is_coperniq(request.url.path):
            return coperniq_error(400, message, "VALIDATION_ERROR", field)
        return problem(
            400,
            message,
            errors=[
                {"field": _loc_to_field(e.get("loc", ())), "message": str(e.get("msg"))}
                for e in errors
            ],
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # A sandbox bug must still answer in the caller's dialect; the trace goes to the log.
        log.exception("sandbox error on %s %s", request.method, request.url.path)
        return error_for_path(request.url.path, 500, "sandbox internal error")

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(CoperniqError, on_coperniq)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)
