"""Request reading shared by every API the sandbox imitates: credentials from headers, JSON and
form bodies, timestamps. Each reader raises the caller's error type, so a malformed request is a
clear 4xx in the right dialect.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from tackbridge.sandbox.errors import CoperniqError, ProblemError, is_coperniq

MAX_BODY_BYTES = 1024 * 1024


def same_secret(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _fail(
    request: Request, status: int, message: str, code: str, field: str | None = None
) -> Exception:
    if is_coperniq(request.url.path):
        return CoperniqError(status, message, code, field)
    errors = [{"field": field, "message": message}] if field else None
    return ProblemError(status, message, errors=errors)


async def read_body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise _fail(request, 413, "request body too large", "VALIDATION_ERROR")
    return body


async def json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` unless ``required``."""
    body = await read_body(request)
    if not body.strip():
        if required:
            raise _fail(request, 400, "request body is required", "VALIDATION_ERROR")
        return {}
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type.lower():
        raise _fail(
            request, 415, "Content-Type must be application/json", "INVALID_JSON", "Content-Type"
        )
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(request, 400, f"body is not valid JSON: {exc}", "INVALID_JSON") from exc
    if not isinstance(value, dict):
        raise _fail(request, 400, "body must be a JSON object", "INVALID_JSON")
    return value


async def form_or_query(request: Request) -> dict[str, str]:
    """OAuth parameters: the query string, overridden by a form-encoded body when present."""
    params = dict(request.query_params)
    body = await read_body(request)
    if body.strip():
        content_type = request.headers.get("content-type", "").lower()
        if "json" in content_type:
            try:
                value = json.loads(body)
            except ValueError as exc:
                raise _fail(request, 400, "body is not valid JSON", "INVALID_JSON") from exc
            if isinstance(value, dict):
                params.update({k: str(v) for k, v in value.items() if v is not None})
        else:
            try:
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError as exc:
                raise _fail(request, 400, "body is not UTF-8", "VALIDATION_ERROR") from exc
    return params


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``Z`` or offset); None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
