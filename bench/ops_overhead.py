"""Micro benchmark: CPU per request of what hardening added to the front door, against the
same run's baseline of the work every delivery already did (decode and parse the v2 lead of
``bench/ingest.py``).

The pieces, each timed alone in this process (CPU time, best of ``--repeats`` rounds of
``--calls`` calls, so that other processes on a shared machine inflate no figure):

* redaction of the request's headers by rule (``core/redact``), beside the fixed-set lookup it
  replaced (kept here as the baseline it was);
* the credential throttle of a trusted sender: ``account`` (decode Basic), ``check``,
  ``success`` (``core/throttle``);
* one delivery counter increment and one histogram observation (``core/metrics``);
* the trace-ID middleware around a do-nothing ASGI app, less that app alone (``core/logs``).

    .venv/bin/python bench/ops_overhead.py [--calls 20000] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import PLACEHOLDER, lead_template

from tackbridge.core.logs import TraceMiddleware
from tackbridge.core.metrics import DELIVERIES, STORE_WRITE_SECONDS
from tackbridge.core.redact import redact_headers
from tackbridge.core.throttle import FailureThrottle
from tackbridge.inbound.auth import PartnerAuth
from tackbridge.inbound.http import decode_json
from tackbridge.inbound.parse import parse_legacy_lead
from tackbridge.settings import Settings

# What wrk's lead.lua sends, and what a real sender adds (a proxy's, a tracer's).
AUTH = "Basic " + base64.b64encode(b"thumbtack:bench-password").decode()
HEADERS = [
    ("host", "tackbridge.example"),
    ("authorization", AUTH),
    ("content-type", "application/json"),
    ("content-length", "1234"),
    ("user-agent", "Thumbtack-Webhooks/1.0"),
    ("accept", "*/*"),
    ("accept-encoding", "gzip"),
    ("x-forwarded-for", "203.0.113.7"),
    ("x-forwarded-proto", "https"),
    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
]
_OLD_SECRET = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


def old_safe_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The redaction before the rule: a fixed set of names (the baseline it was)."""
    return {name: ("[redacted]" if name in _OLD_SECRET else value) for name, value in pairs}


def cpu_per_call(fn: Callable[[], Any], calls: int, repeats: int) -> float:
    """Best CPU microseconds per call over ``repeats`` rounds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calls, repeats = args.calls, args.repeats

    body = lead_template().replace(PLACEHOLDER, "bench-1").encode()
    baseline = cpu_per_call(
        lambda: parse_legacy_lead(decode_json(body)), max(1, calls // 10), repeats
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_username="thumbtack",
        webhook_password="bench-password",
    )
    auth = PartnerAuth(settings)
    throttle = FailureThrottle()
    headers = dict(HEADERS)
    throttle.success("203.0.113.7", "thumbtack")

    def throttled() -> None:
        account = auth.account(headers)
        throttle.check("203.0.113.7", account)
        throttle.success("203.0.113.7", account)

    async def nothing(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    traced_app = TraceMiddleware(nothing)
    scope = {"type": "http", "headers": [(k.encode(), v.encode()) for k, v in HEADERS]}

    async def sink(message: Any) -> None:
        return None

    async def receive() -> Any:
        return {"type": "http.request"}

    loop = asyncio.new_event_loop()
    bare_app = cpu_per_call(
        lambda: loop.run_until_complete(nothing(scope, receive, sink)), calls, repeats
    )
    with_trace = cpu_per_call(
        lambda: loop.run_until_complete(traced_app(scope, receive, sink)), calls, repeats
    )
    loop.close()

    pieces = {
        "redact headers by rule (10 headers)": cpu_per_call(
            lambda: redact_headers(HEADERS, auth.redacted_names), calls, repeats
        ),
        "old fixed-set redaction (10 headers)": cpu_per_call(
            lambda: old_safe_headers(HEADERS), calls, repeats
        ),
        "throttle: account + check + success": cpu_per_call(throttled, calls, repeats),
        "delivery counter increment": cpu_per_call(
            lambda: DELIVERIES.labels("/v1/lead", "accepted").inc(), calls, repeats
        ),
        "store write histogram observe": cpu_per_call(
            lambda: STORE_WRITE_SECONDS.observe(0.004), calls, repeats
        ),
        "trace middleware (less the app alone)": max(0.0, with_trace - bare_app),
    }
    added = (
        pieces["redact headers by rule (10 headers)"]
        - pieces["old fixed-set redaction (10 headers)"]
        + pieces["throttle: account + check + success"]
        + pieces["delivery counter increment"]
        + pieces["trace middleware (less the app alone)"]
    )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "bench/ops_overhead.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "baseline_parse_us": baseline,
        "pieces_us": pieces,
        "added_per_delivery_us": added,
        "added_over_baseline": added / baseline,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"baseline: decode + parse the v2 lead {baseline:8.2f} us CPU")
    for name, value in pieces.items():
        print(f"{name:40s} {value:8.2f} us  ({value / baseline:5.1%} of baseline)")
    print(
        f"{'added per delivery (net)':40s} {added:8.2f} us  ({added / baseline:5.1%} of baseline)"
    )


if __name__ == "__main__":
    main()
