"""The HTTP side every inbound source shares (Thumbtack's partner endpoints, Coperniq's
automation webhook): bounded body reads, JSON decoding that keeps big identifiers exact, and the
headers as the inbound log may keep them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import Request

from tackbridge.core.redact import redact_headers

__all__ = ["decode_json", "is_json", "read_body", "safe_headers"]

# orjson reads integers beyond 64 bits as floats, which would change an identifier's digits
# (leadID 12345678901234567890123 -> 1.2345678901234568e22); such bodies take the slower path.
_BIG_INTEGER = re.compile(rb"(?<![\d.eE])-?\d{20,}(?![\d.eE])")
# The regex costs ~50 us on a typical lead, half as much as its parse; a run of 20 digits, which it
# needs, is found in ~2 us by mapping every digit to "1" and everything else to NUL.
_DIGITS_AS_ONES = bytes(0x31 if 0x30 <= i <= 0x39 else 0 for i in range(256))
_TWENTY_DIGITS = b"1" * 20


def decode_json(body: bytes) -> Any:
    """Parse a delivery; ``ValueError`` (orjson's error is one) if it is not valid JSON."""
    decoded = orjson.loads(body)
    if _TWENTY_DIGITS in body.translate(_DIGITS_AS_ONES) and _BIG_INTEGER.search(body):
        return json.loads(body)
    return decoded


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON (``application/json``, ``application/*+json``, or none)."""
    if not content_type:
        return True  # Thumbtack's own examples sometimes omit it; the body decides.
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def safe_headers(request: Request, extra: Iterable[str] = ()) -> dict[str, str]:
    """The request's headers as the inbound log keeps them: secrets redacted by rule
    (``tackbridge.core.redact``), and the ``extra`` names too (the configured webhook header,
    ``TACKBRIDGE_REDACT_NAMES``)."""
    return redact_headers(request.headers.items(), extra)


async def read_body(request: Request, limit: int) -> tuple[bytes, int, bool]:
    """The body up to ``limit`` bytes, its size as far as read, and whether it was cut."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return b"", int(declared), True
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            kept = b"".join(chunks)
            return kept, size, True
        chunks.append(chunk)
    return b"".join(chunks), size, False
