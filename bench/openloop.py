"""Open-loop HTTP/1.1 load generator: a fixed offered rate, latency free of coordinated omission.

wrk is closed-loop: when the server stalls, wrk stops sending, and the stall hides from its
percentiles. This generator schedules request ``i`` at ``start + i / rate`` whatever happens,
and measures each latency from that *scheduled* time to the end of the response, so a stall
shows up in every request that should have been sent during it.

Requests are precomputed bytes written over a pool of keep-alive connections with plain asyncio
streams (no HTTP client library on the hot path). The generator also measures itself: how late
the scheduler dispatched each request compared with its schedule, and the CPU it used, so a
reader can tell the generator is not what limits the figures.

Run by bench/ingest.py in its own process; prints one JSON object on stdout::

    python bench/openloop.py --port 8000 --path /v1/lead --rate 1000 --duration 10 \
        --authorization 'Basic ...' --template body.json --run-id r1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLACEHOLDER = "@@ID@@"


@dataclass
class Samples:
    """What was measured, one entry per completed request (seconds)."""

    latency: list[float] = field(default_factory=list)  # scheduled time -> response read
    service: list[float] = field(default_factory=list)  # request written -> response read
    send_lag: list[float] = field(default_factory=list)  # scheduled time -> request written
    dispatch_lateness: list[float] = field(default_factory=list)  # scheduler vs schedule
    statuses: dict[int, int] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)  # answered, or failed with an error
    acknowledged: list[int] = field(default_factory=list)  # indices answered 2xx
    errors: list[str] = field(default_factory=list)
    last_done: float = 0.0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summarize_ms(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max of ``values`` (seconds), in milliseconds."""
    return {
        "p50": percentile(values, 50) * 1e3,
        "p90": percentile(values, 90) * 1e3,
        "p99": percentile(values, 99) * 1e3,
        "p99.9": percentile(values, 99.9) * 1e3,
        "max": (max(values) if values else 0.0) * 1e3,
    }


def lead_id(run_id: str, index: int) -> str:
    return f"{run_id}-{index}"


def build_requests(
    *,
    host: str,
    port: int,
    path: str,
    authorization: str,
    template: str,
    run_id: str,
    count: int,
    headers: tuple[str, ...] = (),
) -> list[bytes]:
    """``count`` complete HTTP/1.1 requests, each body with its own unique ID; ``headers``:
    more header lines (``Name: value``)."""
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: {authorization}\r\n"
        "Content-Type: application/json\r\n"
    ) + "".join(f"{line}\r\n" for line in headers)
    out: list[bytes] = []
    for i in range(count):
        body = template.replace(PLACEHOLDER, lead_id(run_id, i)).encode()
        out.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            raise RuntimeError("chunked responses are not supported by this generator")
    if length:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str,
    port: int,
    source: str | None,
    jobs: asyncio.Queue[tuple[int, float] | None],
    requests: list[bytes],
    samples: Samples,
    ready: asyncio.Event,
) -> None:
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(host, port, local_addr=local)
    ready.set()
    try:
        while True:
            job = await jobs.get()
            if job is None:
                return
            index, scheduled = job
            sent = time.perf_counter()
            try:
                writer.write(requests[index])
                status = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, RuntimeError) as exc:
                samples.errors.append(f"{type(exc).__name__}: {exc}")
                samples.finished.add(index)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port, local_addr=local)
                continue
            done = time.perf_counter()
            samples.finished.add(index)
            samples.latency.append(done - scheduled)
            samples.service.append(done - sent)
            samples.send_lag.append(sent - scheduled)
            samples.statuses[status] = samples.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                samples.acknowledged.append(index)
            samples.last_done = max(samples.last_done, done)
    finally:
        writer.close()


async def run(
    *,
    host: str,
    port: int,
    requests: list[bytes],
    rate: float,
    connections: int,
    grace: float,
    source: str | None = None,
) -> tuple[dict[str, Any], list[int], list[float]]:
    """Offer ``requests`` at ``rate`` per second; return the measurements, the 2xx indices and
    every latency (seconds, the abandoned ones with the time they had waited).

    Requests still unanswered ``grace`` seconds after the last one was due are abandoned:
    the server did not sustain the rate. They count in the latency percentiles with the time
    they had waited when abandoned, a lower bound (so the percentiles are lower bounds too).
    """
    samples = Samples()
    jobs: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    ready = [asyncio.Event() for _ in range(connections)]
    workers = [
        asyncio.create_task(_worker(host, port, source, jobs, requests, samples, event))
        for event in ready
    ]
    await asyncio.gather(*(event.wait() for event in ready))

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter() + 0.01
    schedule = [start + index / rate for index in range(len(requests))]
    for index, scheduled in enumerate(schedule):
        # asyncio rounds timer waits up to the millisecond; loop until due, never early.
        while (now := time.perf_counter()) < scheduled:  # noqa: ASYNC110 - a timed wait
            await asyncio.sleep(scheduled - now)
        samples.dispatch_lateness.append(now - scheduled)
        jobs.put_nowait((index, scheduled))
    for _ in workers:
        jobs.put_nowait(None)
    _, pending = await asyncio.wait(workers, timeout=grace)
    abandoned_at = time.perf_counter()
    for task in pending:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)

    unanswered = [i for i in range(len(requests)) if i not in samples.finished]
    waited = samples.latency + [abandoned_at - schedule[i] for i in unanswered]
    end = samples.last_done if not unanswered else abandoned_at
    elapsed = max(end, schedule[-1]) - start
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    completed = len(samples.latency)
    ok = len(samples.acknowledged)
    result = {
        "offered_rate": rate,
        "offered": len(requests),
        "completed": completed,
        "unanswered": len(unanswered),
        "sustained": not unanswered,
        "ok_2xx": ok,
        "non_2xx": completed - ok,
        "statuses": {str(k): v for k, v in sorted(samples.statuses.items())},
        "errors": len(samples.errors),
        "error_examples": samples.errors[:5],
        "elapsed_s": elapsed,
        "achieved_rate": completed / elapsed if elapsed > 0 else 0.0,
        "latency_ms": summarize_ms(waited),
        "latency_is_lower_bound": bool(unanswered),
        "service_ms": summarize_ms(samples.service),
        "send_lag_ms": summarize_ms(samples.send_lag),
        "dispatch_lateness_ms": summarize_ms(samples.dispatch_lateness),
        "generator_cpu_pct": 100.0 * cpu / elapsed if elapsed > 0 else 0.0,
        "connections": connections,
    }
    return result, sorted(samples.acknowledged), waited


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--source",
        default=None,
        help="the local address to send from (another client: 127.0.0.2 is loopback too)",
    )
    parser.add_argument("--path", required=True)
    parser.add_argument("--authorization", required=True, help="Authorization header value")
    parser.add_argument("--template", type=Path, required=True, help=f"body with {PLACEHOLDER}")
    parser.add_argument("--run-id", required=True, help="prefix of the unique IDs")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds to wait for answers after the last send"
    )
    parser.add_argument(
        "--ack-file", type=Path, default=None, help="write the ID of every 2xx answer here"
    )
    parser.add_argument(
        "--header", action="append", default=[], help="another header line, 'Name: value'"
    )
    parser.add_argument(
        "--samples-file", type=Path, default=None, help="write every latency (s) here, as JSON"
    )
    parser.add_argument(
        "--pad-header-bytes", type=int, default=0, help="add an X-Pad header this long"
    )
    args = parser.parse_args(argv)

    count = max(1, round(args.rate * args.duration))
    requests = build_requests(
        host=args.host,
        port=args.port,
        path=args.path,
        authorization=args.authorization,
        template=args.template.read_text(),
        run_id=args.run_id,
        count=count,
        headers=(
            *args.header,
            *([f"X-Pad: {'p' * args.pad_header_bytes}"] if args.pad_header_bytes else []),
        ),
    )
    result, acknowledged, waited = asyncio.run(
        run(
            host=args.host,
            port=args.port,
            requests=requests,
            rate=args.rate,
            connections=args.connections,
            grace=args.grace,
            source=args.source,
        )
    )
    if args.samples_file is not None:
        args.samples_file.write_text(json.dumps(waited))
    if args.ack_file is not None:
        args.ack_file.write_text("".join(lead_id(args.run_id, i) + "\n" for i in acknowledged))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
