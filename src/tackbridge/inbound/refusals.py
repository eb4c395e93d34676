"""Refused deliveries (unauthenticated, malformed, too big, cut short): what the inbound log
keeps of one, how they are counted, and how many an unauthenticated client may have kept.

A refusal is kept with a bounded prefix of its body (``TACKBRIDGE_REFUSED_BODY_BYTES``) and
bounded headers (``TACKBRIDGE_REFUSED_HEADER_BYTES``): enough to see what a misconfigured sender
sends, never the megabyte a flood sends. Each client (an IPv4 address, an IPv6 /64) whose
credentials are refused may have ``TACKBRIDGE_REFUSAL_BURST`` of them kept at once and
``TACKBRIDGE_REFUSALS_PER_MINUTE`` more; past that it is answered 429 with ``Retry-After``, and
its refusals are only counted and written as one ``rate_limited`` entry per client and route
every few seconds (``flush``). Anyone on the internet can send those; a refusal of an
authenticated sender (Thumbtack itself: a body we cannot read) is always kept, bounded, as a
delivery we must be able to look at. A delivery that is accepted is never limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tackbridge.core.problems import problem
from tackbridge.core.ratelimit import Buckets
from tackbridge.inbound.auth import PartnerAuth
from tackbridge.inbound.record import InboundRequest, log_request
from tackbridge.services import Services
from tackbridge.settings import Settings
from tackbridge.store.writer import Writer

__all__ = [
    "ADMITTED",
    "RATE_LIMITED",
    "RefusalGate",
    "Refusals",
    "bound_headers",
    "client_key",
    "limited",
    "partner_auth",
    "refusals",
    "run_flusher",
]

log = logging.getLogger("tackbridge.inbound")

RATE_LIMITED = "rate_limited"
#: Set in a request's scope when the gate already spent its client's token on it.
ADMITTED = "tackbridge.refusal_admitted"
#: How often the counts of limited clients are written to the inbound log.
FLUSH_SECONDS = 10.0
_VALUE_CHARS = 256
_MAX_HEADERS = 48


def client_key(host: str | None) -> str:
    """Who a refusal is counted against: the address, an IPv6 one by its /64 (one host
    has a whole /64 to choose from)."""
    if not host:
        return "unknown"
    if ":" not in host:  # IPv4, as the server gives it: already canonical
        return host[:64]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if address.version == 6 and not getattr(address, "ipv4_mapped", None):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(getattr(address, "ipv4_mapped", None) or address)


def bound_headers(headers: dict[str, str], budget: int) -> dict[str, str]:
    """``headers`` within ``budget`` characters: long values cut, the rest left out (and
    counted in ``x-tackbridge-omitted``)."""
    kept: dict[str, str] = {}
    used = 0
    omitted = 0
    for name, value in headers.items():
        name = name[:64]
        if len(value) > _VALUE_CHARS:
            value = f"{value[:_VALUE_CHARS]}...[{len(value) - _VALUE_CHARS} more]"
        cost = len(name) + len(value)
        if used + cost > budget or len(kept) >= _MAX_HEADERS:
            omitted += 1
            continue
        kept[name] = value
        used += cost
    if omitted:
        kept["x-tackbridge-omitted"] = f"{omitted} header(s)"
    return kept


@dataclass
class _Counted:
    """A limited client's refusals on one route since the last flush."""

    method: str
    first_at: float  # time.time()
    last_at: float
    count: int = 0
    body_bytes: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


class Refusals:
    """The process's refusals: counts, the per-client budget, and what waits to be written."""

    def __init__(self, settings: Settings, *, clock: Any = None) -> None:
        self.body_bytes = settings.refused_body_bytes
        self.header_bytes = settings.refused_header_bytes
        per_second = settings.refusals_per_minute / 60.0
        extra = {} if clock is None else {"clock": clock}
        self.budget = Buckets(burst=settings.refusal_burst, per_second=per_second, **extra)
        #: Every refusal since the process started, by route and status (429s included).
        self.counts: Counter[tuple[str, int]] = Counter()
        #: Refusals answered 429 and only counted, by route.
        self.limited: Counter[str] = Counter()
        self._pending: dict[tuple[str, str], _Counted] = {}

    def count(self, route: str, status: int) -> None:
        """Count a refusal that is kept whatever the budget (an authenticated sender's)."""
        self.counts[(route, status)] += 1

    def admit(self, client: str, route: str, method: str, status: int, size: int) -> int | None:
        """Count a refusal; None if it may be kept, else the seconds to tell the client in
        ``Retry-After`` (it is counted for the next ``flush`` instead)."""
        self.counts[(route, status)] += 1
        wait = self.budget.take(client)
        if wait <= 0:
            return None
        self.limited[route] += 1
        self.counts[(route, 429)] += 1
        now = time.time()
        counted = self._pending.get((client, route))
        if counted is None:
            counted = self._pending[(client, route)] = _Counted(method, now, now)
            log.warning(
                "%s is past its budget of refused requests on %s: answered 429, counted",
                client,
                route,
            )
        counted.count += 1
        counted.body_bytes += size
        counted.last_at = now
        counted.statuses[status] += 1
        return max(1, math.ceil(wait))

    def bounded(self, entry: InboundRequest) -> InboundRequest:
        """What the inbound log keeps of a refused delivery."""
        body = entry.body
        cut = entry.body_truncated
        if body is not None and len(body) > self.body_bytes:
            body, cut = body[: self.body_bytes], True
        headers = bound_headers(entry.headers, self.header_bytes)
        return replace(entry, body=body, headers=headers, body_truncated=cut)

    @property
    def limited_clients(self) -> int:
        """Clients answered 429 since the last flush."""
        return len({client for client, _route in self._pending})

    @property
    def pending(self) -> int:
        """Limited refusals counted and not written yet."""
        return sum(c.count for c in self._pending.values())

    async def flush(self, writer: Writer) -> int:
        """Write one ``rate_limited`` entry per client and route counted since the last
        flush; how many entries."""
        if not self._pending:
            return 0
        taken, self._pending = self._pending, {}

        def unit(conn: Connection) -> int:
            for (client, route), counted in taken.items():
                _write(conn, client, route, counted)
            return len(taken)

        try:
            return await writer.run(unit)
        except Exception:
            # Kept for the next flush rather than lost (merged with what came meanwhile).
            for key, counted in taken.items():
                self._merge(key, counted)
            raise

    def _merge(self, key: tuple[str, str], counted: _Counted) -> None:
        now = self._pending.get(key)
        if now is None:
            self._pending[key] = counted
            return
        now.count += counted.count
        now.body_bytes += counted.body_bytes
        now.first_at = min(now.first_at, counted.first_at)
        now.statuses.update(counted.statuses)


def _write(conn: Connection, client: str, route: str, counted: _Counted) -> None:
    statuses = {str(k): v for k, v in sorted(counted.statuses.items())}
    detail = (
        f"{counted.count} refused request(s) from {client} past its budget were answered 429 "
        "and counted, not kept one by one"
    )
    log_request(
        conn,
        InboundRequest(route, counted.method, {}, None, counted.body_bytes, _at(counted.last_at)),
        status_code=429,
        outcome=RATE_LIMITED,
        problem={
            "type": "urn:tackbridge:problem:rate-limited",
            "title": "Too Many Requests",
            "status": 429,
            "detail": detail,
            "client": client,
            "count": counted.count,
            "firstAt": _at(counted.first_at).isoformat(),
            "lastAt": _at(counted.last_at).isoformat(),
            "statuses": statuses,
        },
    )


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def refusals(svc: Services) -> Refusals:
    """This process's refusals."""
    return svc.shared("inbound.refusals", lambda: Refusals(svc.settings))


def partner_auth(svc: Services) -> PartnerAuth:
    """This process's check of Thumbtack's credentials."""
    return svc.shared("inbound.partner_auth", lambda: PartnerAuth(svc.settings))


def limited(retry_after: int) -> Response:
    """The answer to a client past its budget of refused requests."""
    return problem(
        429,
        "too many refused requests from this client; it is counted, not kept",
        slug="rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


class RefusalGate:
    """ASGI middleware: a client past its budget whose credentials are refused again on a
    partner endpoint is answered 429 here, before routing and the framework's layers, so that
    a flood costs the event loop as little as it can and real leads keep their latency."""

    def __init__(self, app: ASGIApp, *, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        svc: Services = scope["app"].state.services
        counted = refusals(svc)
        peer = scope.get("client")
        client = client_key(peer[0] if peer else None)
        if counted.budget.wait(client) <= 0:  # it may have a refusal kept: the route decides
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        if partner_auth(svc).refusal(headers) is None:
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        size = int(declared) if declared.isdigit() else 0
        retry = counted.admit(client, scope["path"], scope["method"], 401, size)
        if retry is None:  # a token came back meanwhile: kept by the route, already counted
            scope[ADMITTED] = True
            await self.app(scope, receive, send)
            return
        await limited(retry)(scope, receive, send)


async def run_flusher(svc: Services, every: float = FLUSH_SECONDS) -> None:
    """Write the counts of limited clients every ``every`` seconds, and once more when
    cancelled (the process stops)."""
    counted = refusals(svc)
    try:
        while True:
            await asyncio.sleep(every)
            try:
                await counted.flush(svc.writer)
            except Exception:
                log.warning("could not write the counts of rate-limited refusals; kept")
    finally:
        with contextlib.suppress(Exception):
            await counted.flush(svc.writer)
