"""Micro benchmark of the write unit: CPU per lead through ``record_delivery``, no HTTP.

Parses the same v2 lead as ``bench/ingest.py`` (a unique leadID, request and customer each
time) and records it into a fresh SQLite file in batches, as the group-commit writer does.
Reports wall and CPU time per lead for the parse and for the write; a tool for iterating on
the hot path, not a target (the figures depend on the machine).

    .venv/bin/python bench/record_unit.py --leads 2000 --batch 64
    .venv/bin/python bench/record_unit.py --writer --as-shipped --batch 8

``--writer`` hands each batch to the group-commit writer (``Writer.run_many``, what the front
door does: its lock, transaction and commit included) instead of a bare transaction;
``--as-shipped`` records with the reactions of a server as it ships (no auto-reply rules, no
destination: a new lead queues no job) instead of every follow-up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import PLACEHOLDER, lead_template

from tackbridge.crm.destinations import DESTINATION_TYPES
from tackbridge.flows import REACTIONS, FollowupPolicy, NewLeadReactions
from tackbridge.inbound.http import decode_json
from tackbridge.inbound.parse import parse_legacy_lead
from tackbridge.inbound.reactions import Reactions
from tackbridge.inbound.record import InboundRequest, record_deliveries, record_delivery
from tackbridge.leads.models import Delivery
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import open_database
from tackbridge.store.writer import Writer

HEADERS = {
    "host": "127.0.0.1:8000",
    "authorization": "[redacted]",
    "content-type": "application/json",
    "content-length": "1234",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--synchronous", default="NORMAL")
    parser.add_argument("--profile", action="store_true", help="cProfile the write phase")
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="record_delivery per lead (the unbatched path) instead of record_deliveries",
    )
    parser.add_argument("--writer", action="store_true", help="through the group-commit writer")
    parser.add_argument(
        "--as-shipped", action="store_true", help="the reactions of a server as it ships"
    )
    args = parser.parse_args()
    if args.writer and args.one_by_one:
        parser.error("--writer hands batches to record_deliveries; --one-by-one is without it")

    template = lead_template()
    with tempfile.TemporaryDirectory() as scratch:
        db = open_database(f"sqlite:///{scratch}/bench.db", sqlite_synchronous=args.synchronous)
        migrate.upgrade(db.writer)
        reactions: Reactions = REACTIONS
        if args.as_shipped:
            shipped = Settings(
                mode="production",
                data_dir=scratch,
                webhook_username="bench",
                webhook_password="bench-password",
                api_token="bench-token-0123456789",
                _env_file=None,  # type: ignore[call-arg]
            )
            reactions = NewLeadReactions(FollowupPolicy(shipped, DESTINATION_TYPES))
        writer = Writer(db.writer, batch_size=args.batch, wait_seconds=10.0)
        writer.start()
        bodies = [
            template.replace(PLACEHOLDER, f"mb-{i}").encode() for i in range(args.leads + 200)
        ]

        def parse(body: bytes) -> tuple[InboundRequest, Delivery]:
            request = InboundRequest(
                "/v1/lead", "POST", HEADERS, body, len(body), datetime.now(UTC)
            )
            return request, Delivery(parse_legacy_lead(decode_json(body)))

        async def through_writer(items: list[tuple[InboundRequest, Delivery]]) -> None:
            for start in range(0, len(items), args.batch):
                batch = items[start : start + args.batch]
                await asyncio.gather(
                    *(writer.run_many(record_deliveries, (r, d, reactions)) for r, d in batch)
                )

        def write(items: list[tuple[InboundRequest, Delivery]]) -> None:
            if args.writer:
                asyncio.run(through_writer(items))
                return
            for start in range(0, len(items), args.batch):
                with db.writer.begin() as conn:
                    batch = items[start : start + args.batch]
                    if args.one_by_one:
                        for request, delivery in batch:
                            record_delivery(conn, request, delivery, reactions)
                    else:
                        record_deliveries(conn, [(r, d, reactions) for r, d in batch])

        write([parse(b) for b in bodies[:200]])  # warm the statement caches
        bodies = bodies[200:]

        wall, cpu = time.perf_counter(), time.process_time()
        parsed = [parse(b) for b in bodies]
        parse_wall, parse_cpu = time.perf_counter() - wall, time.process_time() - cpu

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        wall, cpu = time.perf_counter(), time.process_time()
        write(parsed)
        write_wall, write_cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        writer.stop()
        db.dispose()

    n = len(bodies)
    print(
        f"{n} leads, batches of {args.batch}, synchronous={args.synchronous}, "
        f"{'one by one' if args.one_by_one else 'batched'}"
        f"{', through the writer' if args.writer else ''}"
        f"{', reactions as shipped' if args.as_shipped else ''}\n"
        f"parse: {parse_cpu / n * 1e3:.3f} ms CPU/lead ({parse_wall / n * 1e3:.3f} ms wall)\n"
        f"write: {write_cpu / n * 1e3:.3f} ms CPU/lead ({write_wall / n * 1e3:.3f} ms wall)"
    )


if __name__ == "__main__":
    main()
