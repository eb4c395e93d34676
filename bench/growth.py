"""Growth: do the inbox query and the lead page stay as fast, and the processes as small, as the
store grows from thousands to a million leads?

The store is seeded directly in bulk, not over HTTP: realistic v2 leads (the ingest benchmark's
lead, each with its own IDs, business among ``--businesses``, status among a few) recorded by the
product's own batched write path (``record_deliveries``: leads, customers, businesses, details,
attachments, status history, the verbatim inbound log) with their two follow-up jobs each, marked
done as a worker would have left them. At each checkpoint (``--checkpoints``, leads in the store)
``tackbridge serve`` (production mode, its worker on) is started on the store and asked, one
request at a time, for:

* ``inbox``: ``GET /api/leads?limit=50``, the first page;
* ``inbox business``: ``?business=B`` for a random business;
* ``inbox business+status``: ``?business=B&status=S``;
* ``inbox deep page``: ``?cursor=C`` from a random place in the store;
* ``lead page``: ``GET /api/leads/{id}`` of a random lead.

Then the RSS of ``serve`` and of a ``tackbridge worker`` process on the same store. The baseline
is the first checkpoint of the same run; the target is p95 within 1.5x of it at every later
checkpoint, RSS < 200 MB. On a shared machine run it when quiet: ``--wait-quiet``.

    .venv/bin/python bench/growth.py                                  # 10k, 100k, 1M leads
    .venv/bin/python bench/growth.py --checkpoints 10000,200000 --requests 300
    .venv/bin/python bench/growth.py --postgres --checkpoints 10000,100000  # a throwaway cluster
    .venv/bin/python bench/growth.py --database-url postgresql+psycopg://... # another store
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT))  # tests.support.postgres: the throwaway cluster

from ingest import PLACEHOLDER, lead_template  # noqa: E402
from sqlalchemy import update  # noqa: E402
from tests.support.postgres import Cluster  # noqa: E402

from tackbridge.flows import NewLeadReactions  # noqa: E402
from tackbridge.inbound.http import decode_json  # noqa: E402
from tackbridge.inbound.parse import parse_legacy_lead  # noqa: E402
from tackbridge.inbound.record import InboundRequest, record_deliveries  # noqa: E402
from tackbridge.leads.models import Delivery  # noqa: E402
from tackbridge.leads.service import encode_cursor  # noqa: E402
from tackbridge.store import migrate  # noqa: E402
from tackbridge.store.database import open_database  # noqa: E402
from tackbridge.store.schema import outbox  # noqa: E402

STATUSES = ("Lead", "Lead", "Lead", "Hired", "Done", "Not hired")
HEADERS = {"content-type": "application/json", "authorization": "[redacted]"}
TARGET_RATIO = 1.5
TARGET_RSS_MB = 200.0
QUERIES = ("inbox", "inbox business", "inbox business+status", "inbox deep page", "lead page")


def log(message: str) -> None:
    print(f"[growth] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def business_id(i: int) -> str:
    return f"9{i:017d}"


class Seeder:
    """Adds leads to the store in batches, through the product's batched write path."""

    reactions = NewLeadReactions()  # both follow-ups, as a business with rules and a CRM

    def __init__(self, url: str, businesses: int, batch: int) -> None:
        # Seeding is not measured: no fsync per batch on SQLite.
        self.db = open_database(url, sqlite_synchronous="OFF")
        migrate.upgrade(self.db.writer)
        self.template = json.loads(lead_template().replace(PLACEHOLDER, "x"))
        self.businesses = businesses
        self.batch = batch
        self.count = 0
        self.start = datetime(2025, 1, 1, tzinfo=UTC)

    def _delivery(self, n: int) -> tuple[InboundRequest, Delivery, Any]:
        body = dict(self.template)
        body["leadID"] = f"g{n}"
        body["status"] = STATUSES[n % len(STATUSES)]
        body["business"] = {**body["business"], "businessID": business_id(n % self.businesses)}
        body["customer"] = {**body["customer"], "customerID": f"c{n}"}
        body["request"] = {**body["request"], "requestID": f"r{n}"}
        raw = json.dumps(body).encode()
        at = self.start + timedelta(seconds=n * 10)
        request = InboundRequest("/v1/lead", "POST", HEADERS, raw, len(raw), at)
        return request, Delivery(parse_legacy_lead(decode_json(raw))), self.reactions

    def grow_to(self, total: int) -> float:
        """Seed until the store holds ``total`` leads; the seconds it took."""
        began = time.monotonic()
        while self.count < total:
            n = min(self.batch, total - self.count)
            items = [self._delivery(self.count + i) for i in range(n)]
            with self.db.writer.begin() as conn:
                record_deliveries(conn, items)
                # As the worker leaves them: done.
                conn.execute(update(outbox).where(outbox.c.state == "pending").values(state="done"))
            self.count += n
            if self.count % 100_000 == 0:
                log(f"seeded {self.count:,} leads ({time.monotonic() - began:.0f}s)")
        if self.db.is_postgresql:
            # The planner's statistics as autovacuum keeps them on a store that grew over
            # months; right after a bulk load they describe the store before it.
            with self.db.writer.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        return time.monotonic() - began

    def close(self) -> None:
        self.db.dispose()


class Process:
    """``tackbridge serve`` or ``tackbridge worker`` on the store."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        command = [str(ROOT / ".venv" / "bin" / "tackbridge"), *args]
        self.process = subprocess.Popen(
            command, env=env, cwd=log_path.parent, stdout=self._log, stderr=subprocess.STDOUT
        )

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def measure(
    port: int, token: str, total: int, businesses: int, requests: int, rng: random.Random
) -> dict[str, dict[str, float]]:
    """p50/p95/p99 ms of each query, one request at a time on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}

    def path_of(kind: str) -> str:
        b = business_id(rng.randrange(businesses))
        if kind == "inbox":
            return "/api/leads?limit=50"
        if kind == "inbox business":
            return f"/api/leads?business={b}&limit=50"
        if kind == "inbox business+status":
            return f"/api/leads?business={b}&status=Hired&limit=50"
        if kind == "inbox deep page":
            cursor = encode_cursor(rng.randrange(51, total + 1))
            return f"/api/leads?cursor={cursor}&limit=50"
        return f"/api/leads/g{rng.randrange(total)}"

    def get(path: str) -> float:
        began = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - began) * 1e3
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        if (
            path.startswith(("/api/leads?limit", "/api/leads?cursor"))
            and not json.loads(body)["items"]
        ):
            raise SystemExit(f"GET {path}: no items")
        return elapsed

    results: dict[str, dict[str, float]] = {}
    for kind in QUERIES:
        for _ in range(max(5, requests // 10)):  # warm-up: connection, caches, pages
            get(path_of(kind))
        times = [get(path_of(kind)) for _ in range(requests)]
        results[kind] = {
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "p99": percentile(times, 99),
        }
    conn.close()
    return results


def wait_ready(port: int, process: Process, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise SystemExit(f"serve exited with {process.process.returncode}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise SystemExit("serve did not become ready")


def checkpoint(
    args: argparse.Namespace, env: dict[str, str], scratch: Path, total: int, rng: random.Random
) -> dict[str, Any]:
    port = free_port()
    serve = Process(["serve", "--host", "127.0.0.1", "--port", str(port)], env, scratch / "log")
    try:
        wait_ready(port, serve)
        queries = measure(
            port, env["TACKBRIDGE_API_TOKEN"], total, args.businesses, args.requests, rng
        )
        serve_rss = serve.rss_mb()
    finally:
        serve.stop()
    worker = Process(["worker"], env, scratch / "log")
    try:
        time.sleep(args.worker_seconds)  # its start-up, then polls over the whole outbox
        worker_rss = worker.rss_mb()
    finally:
        worker.stop()
    return {
        "leads": total,
        "queries": queries,
        "serve_rss_mb": serve_rss,
        "worker_rss_mb": worker_rss,
    }


def render(report: dict[str, Any]) -> str:
    points = report["checkpoints"]
    base = points[0]
    lines = [
        f"tackbridge growth benchmark  {report['date']}",
        f"  machine: {report['machine']}; load average at start {report['loadavg']}",
        f"  store: {report['store']}; {report['businesses']} businesses; "
        f"{report['requests']} requests per query and checkpoint, one at a time",
        "",
        f"  {'query':<24} {'leads':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'p95 / first':>11}",
    ]
    for kind in QUERIES:
        for point in points:
            q = point["queries"][kind]
            ratio = q["p95"] / base["queries"][kind]["p95"]
            lines.append(
                f"  {kind:<24} {point['leads']:>10,} {q['p50']:>8.2f} {q['p95']:>8.2f} "
                f"{q['p99']:>8.2f} {ratio:>10.2f}x"
            )
    lines += ["", f"  {'leads':>10} {'seed s':>8} {'serve RSS MB':>13} {'worker RSS MB':>14}"]
    for point in points:
        lines.append(
            f"  {point['leads']:>10,} {point['seed_s']:>8.0f} {point['serve_rss_mb']:>13.1f} "
            f"{point['worker_rss_mb']:>14.1f}"
        )
    last = points[-1]
    worst = max(last["queries"][k]["p95"] / base["queries"][k]["p95"] for k in QUERIES)
    rss = max(last["serve_rss_mb"], last["worker_rss_mb"])
    lines += [
        "",
        f"Targets: p95 at {last['leads']:,} within {TARGET_RATIO:g}x of {base['leads']:,}: worst "
        f"{worst:.2f}x -> {'met' if worst <= TARGET_RATIO else 'NOT met'}; RSS < "
        f"{TARGET_RSS_MB:g} MB: {rss:.0f} MB -> {'met' if rss < TARGET_RSS_MB else 'NOT met'}",
    ]
    return "\n".join(lines)


@contextlib.contextmanager
def scratch_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tackbridge-growth-", dir=ROOT / "var" if keep else None))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", default="10000,100000,1000000", help="leads, ascending")
    parser.add_argument("--businesses", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200, help="per query and checkpoint")
    parser.add_argument("--batch", type=int, default=2000, help="leads per seeding transaction")
    parser.add_argument("--worker-seconds", type=float, default=5.0)
    parser.add_argument(
        "--database-url", default=None, help="another store (default: SQLite in a scratch dir)"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a throwaway PostgreSQL cluster (Debian's postgresql, the server's durable defaults)",
    )
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir (under var/)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.postgres:
        return run(args)
    cluster = Cluster(fast=False).start()
    try:
        args.database_url = cluster.database(prefix="growth")
        return run(args)
    finally:
        cluster.stop()


def run(args: argparse.Namespace) -> int:
    totals = sorted(int(x) for x in args.checkpoints.split(","))
    rng = random.Random(args.seed)
    if args.keep:
        (ROOT / "var").mkdir(exist_ok=True)
    with scratch_dir(args.keep) as scratch:
        data = scratch / "data"
        data.mkdir()
        url = args.database_url or f"sqlite:///{data / 'tackbridge.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
        env.update(
            {
                "TACKBRIDGE_MODE": "production",
                "TACKBRIDGE_DATA_DIR": str(data),
                "TACKBRIDGE_DATABASE_URL": url,
                "TACKBRIDGE_WEBHOOK_USERNAME": "thumbtack",
                "TACKBRIDGE_WEBHOOK_PASSWORD": secrets.token_urlsafe(18),
                "TACKBRIDGE_API_TOKEN": secrets.token_urlsafe(24),
                "TACKBRIDGE_LOG_LEVEL": "WARNING",
            }
        )
        seeder = Seeder(url, args.businesses, args.batch)
        points = []
        try:
            for total in totals:
                log(f"seeding to {total:,} leads")
                seconds = seeder.grow_to(total)
                log(f"measuring at {total:,} leads")
                point = checkpoint(args, env, scratch, total, rng)
                point["seed_s"] = seconds
                points.append(point)
        finally:
            seeder.close()
        size = sum(p.stat().st_size for p in data.glob("tackbridge.db*"))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/growth.py", *sys.argv[1:]]),
        "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "store": (
            "SQLite (WAL, synchronous=FULL as served), "
            f"{size / 2**20:,.0f} MiB at the last checkpoint"
            if args.database_url is None
            else url.split("@")[-1]
        ),
        "businesses": args.businesses,
        "requests": args.requests,
        "checkpoints": points,
    }
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
