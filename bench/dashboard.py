"""The dashboard's pages against a store of many leads: how long the inbox (plain, filtered,
searched), a lead's page and a live stamp take, each beside the operator API's lead list of the
same size in the same run (``GET /api/leads?limit=50``: the same rows as JSON, no page around
them), so the ratio is the cost of the page itself.

Seeds ``--leads`` leads over 20 businesses and 8 categories through the front door's write unit
(``record_delivery``, as ``bench/record_unit.py``), serves tackbridge on a free loopback port
(no worker), signs in as an owner and times ``--requests`` sequential requests of each kind.

    .venv/bin/python bench/dashboard.py --leads 20000 --requests 40
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import uvicorn

from tackbridge.app import create_app
from tackbridge.core.clock import now
from tackbridge.dashboard.live import inbox_stamp, lead_stamp
from tackbridge.flows import REACTIONS
from tackbridge.inbound.http import decode_json
from tackbridge.inbound.parse import parse_legacy_lead
from tackbridge.inbound.record import InboundRequest, record_delivery
from tackbridge.leads.models import Delivery
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.users.service import add_user

CATEGORIES = [
    "Plumbing",
    "House Cleaning",
    "Interior Painting",
    "Roofing",
    "Electrical",
    "Landscaping",
    "Handyman",
    "Moving",
]
TOKEN = "bench-api-token"
EMAIL, PASSWORD = "bench@example.com", "bench-password-1"


@contextmanager
def serve(app: object) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _lead(i: int) -> bytes:
    body = {
        "leadID": f"bench-{i}",
        "createTimestamp": "1498760294",
        "request": {
            "requestID": f"r-{i}",
            "category": CATEGORIES[i % len(CATEGORIES)],
            "description": f"Job number {i}: there is a stain on the door to touch up.",
            "location": {"city": "Palo Alto", "state": "CA", "zipCode": "94301"},
            "details": [{"question": "Rooms", "answer": str(i % 5 + 1)}],
        },
        "customer": {"customerID": f"c-{i}", "name": f"Customer {i}"},
        "business": {"businessID": f"b-{i % 20}", "name": f"Business {i % 20}"},
        "leadPrice": "$18.50",
    }
    return json.dumps(body).encode()


def seed(url: str, count: int) -> None:
    db = open_database(url, sqlite_synchronous="OFF")
    migrate.upgrade(db.writer)
    headers = {"content-type": "application/json"}
    for start in range(0, count, 500):
        with db.writer.begin() as conn:
            for i in range(start, min(count, start + 500)):
                body = _lead(i)
                request = InboundRequest("/v1/lead", "POST", headers, body, len(body), now())
                record_delivery(
                    conn, request, Delivery(parse_legacy_lead(decode_json(body))), REACTIONS
                )
    with db.writer.begin() as conn:
        add_user(conn, EMAIL, PASSWORD, role="owner", now=now())
    db.dispose()


def timed(client: httpx2.Client, path: str, n: int, **kwargs: object) -> list[float]:
    client.get(path, **kwargs)  # warm
    found = []
    for _ in range(n):
        start = time.perf_counter()
        answer = client.get(path, **kwargs)
        found.append((time.perf_counter() - start) * 1e3)
        assert answer.status_code == 200, (path, answer.status_code)
    return found


def stat(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[max(0, int(len(values) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            _env_file=None,
            mode="dev",
            data_dir=Path(scratch),
            api_token=TOKEN,
            run_worker=False,
            sqlite_synchronous="NORMAL",
        )  # type: ignore[call-arg]
        started = time.perf_counter()
        seed(settings.resolved_database_url, args.leads)
        seeded = time.perf_counter() - started
        with serve(create_app(settings)) as url, httpx2.Client(base_url=url, timeout=60) as web:
            form = web.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            signed = web.post(
                "/login", data={"csrf": token.group(1), "email": EMAIL, "password": PASSWORD}
            )
            assert signed.status_code in (200, 303), signed.status_code
            api = {"Authorization": f"Bearer {TOKEN}"}
            n = args.requests
            rows = {
                "GET /api/leads?limit=50 (baseline)": timed(
                    web, "/api/leads", n, params={"limit": 50}, headers=api
                ),
                "inbox /": timed(web, "/", n),
                "inbox /?category=Plumbing&unanswered=true": timed(
                    web, "/", n, params={"category": "Plumbing", "unanswered": "true"}
                ),
                "inbox /?business=b-7": timed(web, "/", n, params={"business": "b-7"}),
                "inbox /?q=number 1234 (search)": timed(web, "/", n, params={"q": "number 1234"}),
                "lead page /leads/{id}": timed(web, f"/leads/bench-{args.leads // 2}", n),
            }
        db = open_database(settings.resolved_database_url)
        with db.reader.connect() as conn:
            stamps = {"inbox stamp (every lead)": [], "lead stamp": []}
            for _ in range(n):
                t = time.perf_counter()
                inbox_stamp(conn, None)
                stamps["inbox stamp (every lead)"].append((time.perf_counter() - t) * 1e3)
                t = time.perf_counter()
                lead_stamp(conn, f"bench-{args.leads // 2}")
                stamps["lead stamp"].append((time.perf_counter() - t) * 1e3)
        db.dispose()
    base = stat(rows["GET /api/leads?limit=50 (baseline)"])[0]
    print(
        f"dashboard bench {datetime.now(UTC):%Y-%m-%d}, {args.leads} leads (seeded in "
        f"{seeded:.0f} s), {n} sequential requests each; "
        f"{platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}\n"
    )
    print("| request | p50 ms | p95 ms | p50 / baseline p50 |")
    print("|---|--:|--:|--:|")
    for name, values in {**rows, **stamps}.items():
        p50, p95 = stat(values)
        ratio = f"{p50 / base:.1f}x" if name in rows else "-"
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
