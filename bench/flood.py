"""Flood benchmark: a real lead's latency while unauthenticated requests flood the front door.

Starts ``tackbridge serve`` (production mode, SQLite ``synchronous=FULL``, a fresh data
directory, its worker off so that only the front door is measured) and measures, with
bench/openloop.py (open loop, latency from each request's scheduled time):

1. **quiet**: real v2 leads (unique IDs, right credentials) at ``--lead-rate`` for
   ``--duration`` seconds: the same-run baseline;
2. **flood**: the same leads again while a second generator process sends ``--flood-rate``
   unauthenticated ``POST /v1/lead`` a second (wrong Basic credentials, a realistic lead body,
   a ``--pad-bytes`` X-Pad header: 14 KB as in the finding), starting a second earlier and
   ending a second later. The flood comes from another client address (127.0.0.2) than the
   leads (127.0.0.1), as an attacker's does: a client's credential failures lock that client.

Then it checks that every acknowledged lead is in the database, and reports the store's growth
during the flood and the inbound log's rows by outcome. With ``--compare-unlimited`` it runs
both phases again on a second server whose refusal budget is unlimited (every refusal written
row by row, as before the limit), to show what the limit buys.

    .venv/bin/python bench/flood.py                       # about a minute
    .venv/bin/python bench/flood.py --compare-unlimited --json

Exits 1 if an acknowledged lead is missing or a lead was answered other than 2xx (each phase's
lead statuses are printed); the latency ratio is reported, never enforced.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import ingest  # noqa: E402 - the shared server and generator plumbing of bench/ingest.py
import openloop  # noqa: E402 - its percentiles

TARGET_RATIO = 2.0


def store_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("tackbridge.db*"))


def outcomes(database: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT outcome, count(*) FROM inbound_log GROUP BY outcome").fetchall()
    return {outcome: n for outcome, n in rows}


#: The flood's client address (loopback too); the leads come from 127.0.0.1.
FLOOD_SOURCE = "127.0.0.2"


def generator(
    server: ingest.Server,
    *,
    authorization: str,
    template: Path,
    run_id: str,
    rate: float,
    duration: float,
    connections: int,
    ack_file: Path,
    pad: int = 0,
    source: str | None = None,
) -> subprocess.Popen[str]:
    samples = ack_file.with_suffix(".samples.json")
    command = ingest.openloop_command(
        port=server.port,
        path="/v1/lead",
        authorization=authorization,
        template=template,
        run_id=run_id,
        rate=rate,
        duration=duration,
        connections=connections,
        grace=5,
        ack_file=ack_file,
        extra=[
            "--pad-header-bytes",
            str(pad),
            "--samples-file",
            str(samples),
            *(["--source", source] if source else []),
        ],
    )
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=300)
    if process.returncode != 0:
        ingest.fail(f"the open-loop generator failed:\n{out}{err}")
    result: dict[str, Any] = json.loads(out)
    return result


def run_server(
    args: argparse.Namespace, scratch: Path, name: str, *, unlimited: bool
) -> dict[str, Any]:
    data_dir = scratch / name / "data"
    data_dir.mkdir(parents=True)
    password = secrets.token_urlsafe(16)
    extra = {"TACKBRIDGE_RUN_WORKER": "false"}
    if unlimited:
        extra["TACKBRIDGE_REFUSAL_BURST"] = "1000000000"
    os.environ.update(extra)
    try:
        server = ingest.Server(data_dir, synchronous="FULL", password=password)
    finally:
        for key in extra:
            os.environ.pop(key, None)
    template = scratch / name / "lead.json"
    template.write_text(ingest.lead_template())
    good = "Basic " + base64.b64encode(f"{ingest.USERNAME}:{password}".encode()).decode()
    wrong = "Basic " + base64.b64encode(b"intruder:guess").decode()
    report: dict[str, Any] = {
        "server": name,
        "refusal_budget": "unlimited" if unlimited else "default",
    }
    here = scratch / name
    pooled: dict[str, list[float]] = {"quiet": [], "flooded": []}
    runs: dict[str, list[dict[str, Any]]] = {"quiet": [], "flooded": [], "flood": []}
    cpu: dict[str, list[dict[str, float]]] = {"quiet": [], "flood": []}

    def leads(run_id: str, duration: float) -> subprocess.Popen[str]:
        return generator(
            server,
            authorization=good,
            template=template,
            run_id=run_id,
            rate=args.lead_rate,
            duration=duration,
            connections=4,
            ack_file=here / f"{run_id}.ack",
        )

    def keep(phase: str, run_id: str, result: dict[str, Any]) -> None:
        runs[phase].append(result)
        pooled[phase] += json.loads(
            (here / f"{run_id}.ack").with_suffix(".samples.json").read_text()
        )

    try:
        server.wait_ready()
        finish(leads(f"{name}-warm", 2))
        grown = grown_quiet = 0
        for round_ in range(args.rounds):
            # Quiet and flooded alternate, so that what else loads the machine weighs on both.
            ingest.wait_until_quiet(args.wait_quiet)
            run_id = f"{name}-quiet{round_}"
            quiet_from = store_bytes(data_dir)
            before = server.cpu()
            keep("quiet", run_id, finish(leads(run_id, args.duration)))
            cpu["quiet"].append(ingest.cpu_usage(before, server.cpu()))
            grown_quiet += store_bytes(data_dir) - quiet_from

            grown_from = store_bytes(data_dir)
            before = server.cpu()
            flood = generator(
                server,
                authorization=wrong,
                template=template,
                run_id=f"{name}-flood{round_}",
                rate=args.flood_rate,
                duration=args.duration + 2,
                connections=args.flood_connections,
                ack_file=here / f"flood{round_}.ack",
                pad=args.pad_bytes,
                # Another client than the leads' sender, as an attacker is: a client's
                # credential failures lock that client (core/throttle), and Thumbtack's
                # deliveries never come from the attacker's address.
                source=FLOOD_SOURCE,
            )
            time.sleep(1.0)  # the flood is under way before the first lead of the phase
            run_id = f"{name}-flooded{round_}"
            keep("flooded", run_id, finish(leads(run_id, args.duration)))
            runs["flood"].append(finish(flood))
            cpu["flood"].append(ingest.cpu_usage(before, server.cpu()))
            grown += store_bytes(data_dir) - grown_from
        report["store_growth_bytes"] = grown
        report["store_growth_quiet_bytes"] = grown_quiet
    finally:
        server.stop()
    for phase in ("quiet", "flooded"):
        report[phase] = {
            "completed": sum(r["completed"] for r in runs[phase]),
            "unanswered": sum(r["unanswered"] for r in runs[phase]),
            "statuses": _summed(r["statuses"] for r in runs[phase]),
            "errors": sum(r["errors"] for r in runs[phase]),
            "error_examples": [e for r in runs[phase] for e in r["error_examples"]][:5],
            "latency_ms": ingest_summary(pooled[phase]),
            "generator_cpu_pct": max(r["generator_cpu_pct"] for r in runs[phase]),
        }
    statuses: dict[str, int] = {}
    for r in runs["flood"]:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    report["flood"] = {
        "achieved_rate": sum(r["achieved_rate"] for r in runs["flood"]) / len(runs["flood"]),
        "statuses": statuses,
        "errors": sum(r["errors"] for r in runs["flood"]),
        "generator_cpu_pct": max(r["generator_cpu_pct"] for r in runs["flood"]),
    }
    report["server_cpu_pct"] = {
        phase: sum(c["total"] for c in cpu[phase]) / len(cpu[phase]) for phase in cpu
    }
    report["machine_cpu_pct"] = {
        phase: sum(c["machine"] for c in cpu[phase]) / len(cpu[phase]) for phase in cpu
    }
    report["inbound_log_after"] = outcomes(server.database)  # after the final flush
    acked: set[str] = set()
    for ack in here.glob(f"{name}-*.ack"):
        acked |= set(ack.read_text().split())
    stored = ingest.stored_lead_ids(server.database, f"{name}-")
    report["acknowledged"] = len(acked)
    report["acknowledged_missing"] = len(acked - stored)
    q, f = report["quiet"]["latency_ms"], report["flooded"]["latency_ms"]
    report["ratio_p50"] = ingest.ratio(f["p50"], q["p50"])
    report["ratio_p90"] = ingest.ratio(f["p90"], q["p90"])
    report["ratio_p99"] = ingest.ratio(f["p99"], q["p99"])
    return report


def ingest_summary(values: list[float]) -> dict[str, float]:
    return openloop.summarize_ms(values)


def render(reports: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"Flood benchmark {meta['date']}, {meta['machine']}; leads {meta['lead_rate']:g}/s, "
        f"flood {meta['flood_rate']:g}/s offered over {meta['flood_connections']} connections, "
        f"X-Pad {meta['pad_bytes']} bytes; {meta['rounds']} rounds of {meta['duration']:g} s "
        "quiet then flooded, latencies pooled per phase.",
        "",
        "| refusal budget | phase | leads | lead statuses | p50 ms | p90 ms | p99 ms | max ms "
        "| flood answered/s | flood statuses | server CPU % | machine CPU % |",
        "|---|---|--:|---|--:|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    for r in reports:
        for phase, cpu_phase in (("quiet", "quiet"), ("flooded", "flood")):
            lat = r[phase]["latency_ms"]
            flood = (
                f"{r['flood']['achieved_rate']:.0f} | {r['flood']['statuses']}"
                if phase == "flooded"
                else "- | -"
            )
            lines.append(
                f"| {r['refusal_budget']} | {phase} | {r[phase]['completed']} "
                f"| {r[phase]['statuses']} | {lat['p50']:.1f} "
                f"| {lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} | {flood} "
                f"| {r['server_cpu_pct'][cpu_phase]:.0f} | {r['machine_cpu_pct'][cpu_phase]:.0f} |"
            )
    lines += [
        "",
        "| refusal budget | flooded/quiet p50 | p90 | p99 | store growth quiet / flooded "
        "| server CPU per refused request | inbound log after (by outcome) "
        "| acknowledged leads missing |",
        "|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    for r in reports:
        extra_cpu = r["server_cpu_pct"]["flood"] - r["server_cpu_pct"]["quiet"]
        per_request_us = 1e4 * extra_cpu / r["flood"]["achieved_rate"]
        lines.append(
            f"| {r['refusal_budget']} | {r['ratio_p50']:.2f}x | {r['ratio_p90']:.2f}x "
            f"| {r['ratio_p99']:.2f}x | {r['store_growth_quiet_bytes'] / 1024:.0f} / "
            f"{r['store_growth_bytes'] / 1024:.0f} KiB "
            f"| {per_request_us:.0f} us "
            f"| {r['inbound_log_after']} | {r['acknowledged_missing']} of {r['acknowledged']} |"
        )
    return "\n".join(lines)


def _summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for code, n in one.items():
            total[code] = total.get(code, 0) + n
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-rate", type=float, default=50.0, help="real leads per second")
    parser.add_argument("--flood-rate", type=float, default=1500.0, help="refused requests/s")
    parser.add_argument("--flood-connections", type=int, default=32)
    parser.add_argument("--pad-bytes", type=int, default=14_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="quiet/flooded pairs")
    parser.add_argument("--compare-unlimited", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait for idle CPUs")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args(argv)

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} x {ingest.cpu_model()}",
        "lead_rate": args.lead_rate,
        "flood_rate": args.flood_rate,
        "flood_connections": args.flood_connections,
        "pad_bytes": args.pad_bytes,
        "duration": args.duration,
        "rounds": args.rounds,
        "command": " ".join(["bench/flood.py", *(argv if argv is not None else sys.argv[1:])]),
    }
    reports = []
    with ingest.scratch_dir(args.scratch, keep=False) as scratch:
        reports.append(run_server(args, scratch, "limited", unlimited=False))
        if args.compare_unlimited:
            reports.append(run_server(args, scratch, "unlimited", unlimited=True))
    if args.json:
        json.dump({"meta": meta, "reports": reports}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(reports, meta))
    refused = [
        r[phase]["completed"]
        - r[phase]["statuses"].get("200", 0)
        - r[phase]["statuses"].get("202", 0)
        for r in reports
        for phase in ("quiet", "flooded")
    ]
    return 1 if any(r["acknowledged_missing"] for r in reports) or any(refused) else 0


if __name__ == "__main__":
    raise SystemExit(main())
