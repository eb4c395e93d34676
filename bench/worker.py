"""Outbox worker benchmark: outbound jobs per second one worker completes.

A local fake Thumbtack (a separate process: a bare ASGI app under uvicorn that waits 20 ms,
then answers the v1 send-message call with ``{"status": "success"}``) stands in for the far
side. N reply jobs (and their messages) are written to a fresh SQLite outbox (WAL,
``synchronous=FULL`` as in production); one ``Worker`` with the real reply handler runs them
with bounded concurrency until every job is ``done`` (claim, HTTP call, settle the message and
the job, each through the group-commit writer).

The baseline is the same N calls made directly by the same Thumbtack client with
``asyncio.gather`` under a semaphore of the same size, in the same run: the ratio is what the
outbox (claims, leases, attempt records, settles) costs on top of the calls themselves.

RSS of this process is read before the first run and after each worker run: flat means the
second batch did not grow it.

    .venv/bin/python bench/worker.py                   # 5,000 jobs, concurrency 128
    .venv/bin/python bench/worker.py --jobs 2000 --concurrency 32 --json
    .venv/bin/python bench/worker.py --append-results  # add a section to bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

FAKE = r"""
import asyncio, sys
import uvicorn

LATENCY = float(sys.argv[2]) / 1000
BODY = b'{"status":"success"}'

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await asyncio.sleep(LATENCY)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, backlog=4096)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_fake(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", FAKE, str(port), str(latency_ms)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the fake Thumbtack did not start")


def seed_jobs(db_url: str, count: int, batch: int) -> None:
    """N queued replies, written as the operator API writes them (message row + outbox job)."""
    from sqlalchemy import create_engine

    from tackbridge.conversations.replies import REPLY_KIND
    from tackbridge.store.schema import messages, outbox

    now = datetime.now(UTC)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        for start in range(0, count, 1000):
            ids = range(batch * count + start, batch * count + min(start + 1000, count))
            conn.execute(
                messages.insert(),
                [
                    {
                        "message_id": f"reply-bench-{i}",
                        "lead_id": str(1_000_000 + i),
                        "business_id": "777",
                        "sender": "Business",
                        "text": f"Thanks for reaching out ({i})",
                        "source": "reply",
                        "delivery_state": "queued",
                        "author": "auto",
                        "received_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                outbox.insert(),
                [
                    {
                        "kind": REPLY_KIND.name,
                        "idempotency_key": f"{REPLY_KIND.name}:reply-bench-{i}",
                        "payload": {
                            "messageID": f"reply-bench-{i}",
                            "leadID": str(1_000_000 + i),
                            "businessID": "777",
                            "leadSource": "v4",
                            "text": f"Thanks for reaching out ({i})",
                        },
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
    engine.dispose()


class NoCall:
    """The reply handler without its HTTP call (a plain 20 ms wait): the outbox alone."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def __call__(self, job: Any) -> None:
        await asyncio.sleep(self.latency)


def thumbtack_kinds(services: Any) -> dict[str, Any]:
    """The Thumbtack-bound kinds as the product binds them, with a sent reply's reactions."""
    from tackbridge import flows
    from tackbridge.conversations.replies import REPLY, REPLY_KIND
    from tackbridge.jobstatus.push import PUSH
    from tackbridge.outbox.kinds import Registry
    from tackbridge.targeting.service import TARGETING

    registry = Registry.of([REPLY, PUSH, TARGETING])
    registry.react(REPLY_KIND, flows.reply_sent)
    return registry.bind(services)


async def run_worker(
    db: Any, services: Any, count: int, concurrency: int, no_call: float | None = None
) -> float:
    import dataclasses

    from tackbridge.outbox.worker import Worker
    from tackbridge.store.writer import Writer

    writer = Writer(db.writer)
    writer.start()
    handlers: dict[str, Any] = thumbtack_kinds(services)
    if no_call is not None:
        handlers = {
            kind: dataclasses.replace(bound, handler=NoCall(no_call))
            for kind, bound in handlers.items()
        }
    worker = Worker(writer, handlers, concurrency=concurrency, poll_seconds=0.05)
    started = time.perf_counter()
    task = asyncio.create_task(worker.run())
    while worker.completed < count:  # noqa: ASYNC110 - a 10 ms poll of the counter
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await worker.stop()
    await task
    writer.stop()
    return elapsed


async def run_baseline(outbound: Any, count: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)
    legacy = outbound.thumbtack.legacy

    async def one(i: int) -> None:
        async with gate:
            await legacy.send_message_v1("777", str(2_000_000 + i), f"Thanks ({i})")

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - started


def check_done(db_url: str, expected: int) -> tuple[int, int]:
    from sqlalchemy import create_engine, func, select

    from tackbridge.store.schema import messages, outbox

    engine = create_engine(db_url)
    with engine.connect() as conn:
        done = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.state == "done")
        ).scalar_one()
        sent = conn.execute(
            select(func.count()).select_from(messages).where(messages.c.delivery_state == "sent")
        ).scalar_one()
    engine.dispose()
    if done != expected or sent != expected:
        raise SystemExit(f"expected {expected} done jobs and sent replies, got {done}, {sent}")
    return int(done), int(sent)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import logging

    from pydantic import SecretStr

    from tackbridge.core.http import ShardedTransport
    from tackbridge.services import Services, open_http, open_thumbtack
    from tackbridge.settings import Settings
    from tackbridge.store import migrate
    from tackbridge.store.database import open_database

    logging.getLogger("httpx2").setLevel(logging.WARNING)
    fake, url = start_fake(args.latency_ms)
    scratch = tempfile.TemporaryDirectory(prefix="tackbridge-bench-worker-")
    db_url = f"sqlite:///{scratch.name}/outbox.db"
    db = open_database(db_url, sqlite_synchronous=args.synchronous)
    migrate.upgrade(db.writer)
    settings = Settings(
        thumbtack_environment="sandbox",
        thumbtack_base_url=url,
        thumbtack_api_username="bench",
        thumbtack_api_password=SecretStr("bench-password"),
    )
    transport = ShardedTransport(connections=args.concurrency, shards=args.shards)
    thumbtack = open_thumbtack(settings, transport=transport)
    # The worker writes through its own writer (run_worker); Services needs one for its type.
    outbound = Services(settings, db, None, thumbtack, open_http())  # type: ignore[arg-type]
    result: dict[str, Any] = {
        "jobs": args.jobs,
        "concurrency": args.concurrency,
        "latency_ms": args.latency_ms,
        "synchronous": args.synchronous,
        "shards": args.shards,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        await run_baseline(outbound, min(args.jobs, 500), args.concurrency)  # warm-up
        result["rss_before_mib"] = round(rss_mib(), 1)
        runs = []
        for batch in range(args.batches):
            seed_jobs(db_url, args.jobs, batch)
            elapsed = await run_worker(db, outbound, args.jobs, args.concurrency)
            runs.append(
                {
                    "seconds": round(elapsed, 3),
                    "per_second": round(args.jobs / elapsed, 1),
                    "rss_after_mib": round(rss_mib(), 1),
                }
            )
        check_done(db_url, args.jobs * args.batches)
        baseline = await run_baseline(outbound, args.jobs, args.concurrency)
        seed_jobs(db_url, args.jobs, args.batches)
        alone = await run_worker(
            db, outbound, args.jobs, args.concurrency, no_call=args.latency_ms / 1000
        )
        result["outbox_alone_per_second"] = round(args.jobs / alone, 1)
        result["worker_runs"] = runs
        best = max(r["per_second"] for r in runs)
        result["worker_per_second"] = best
        result["baseline_per_second"] = round(args.jobs / baseline, 1)
        result["ratio"] = round(best / result["baseline_per_second"], 3)
        result["ceiling_per_second"] = round(args.concurrency / (args.latency_ms / 1000), 1)
    finally:
        await outbound.aclose()
        db.dispose()
        fake.terminate()
        fake.wait(10)
        scratch.cleanup()
    return result


def markdown(r: dict[str, Any]) -> str:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        "",
        "# Outbox worker benchmark results (`bench/worker.py`)",
        "",
        f"## {day}, {r['cpus']} CPUs, Python {r['python']}, SQLite synchronous={r['synchronous']}",
        "",
        f"{r['jobs']:,} reply jobs per batch, concurrency {r['concurrency']}, {r['loop']}, "
        f"{r['shards']} connection pools, fake Thumbtack "
        f"answering after {r['latency_ms']:g} ms (ceiling {r['ceiling_per_second']:,.0f}/s).",
        "",
        "| run | seconds | jobs/s | RSS after (MiB) |",
        "|---|---:|---:|---:|",
        f"| RSS before | | | {r['rss_before_mib']} |",
    ]
    for i, run in enumerate(r["worker_runs"], 1):
        lines.append(
            f"| worker batch {i} | {run['seconds']} | {run['per_second']:,} | "
            f"{run['rss_after_mib']} |"
        )
    lines += [
        f"| baseline (`asyncio.gather`, same client and semaphore) | | "
        f"{r['baseline_per_second']:,} | |",
        f"| outbox alone (handler waits {r['latency_ms']:g} ms, no HTTP) | | "
        f"{r['outbox_alone_per_second']:,} | |",
        "",
        f"Worker / baseline: **{r['ratio']:.2f}**. Target: >= 500 jobs/s "
        f"({'met' if r['worker_per_second'] >= 500 else 'NOT met'}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=2, help="worker runs (RSS flatness)")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--synchronous", default="FULL")
    parser.add_argument("--shards", type=int, default=16, help="connection pools of the client")
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop", help="as `tackbridge worker`"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--append-results", action="store_true")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(bench(args))
    else:
        result = asyncio.run(bench(args))
    result["loop"] = args.loop
    text = markdown(result)
    print(json.dumps(result, indent=2) if args.json else text)
    if args.append_results:
        with (ROOT / "bench" / "RESULTS.md").open("a") as out:
            out.write(text)


if __name__ == "__main__":
    main()
