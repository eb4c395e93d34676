"""Ingest on PostgreSQL: durable acknowledged leads per second with 1 and with 2 ``serve``
processes sharing one database, each against the bare endpoint in the same run.

A throwaway PostgreSQL cluster (Debian's ``postgresql`` package, the server's durable defaults:
``fsync`` and ``synchronous_commit`` on) holds one migrated database. For N in ``--processes``
(default 1,2) it starts N ``tackbridge serve`` processes on it (production mode, worker on: the
default deployment), drives each with its own wrk (``bench/lead.lua``, unique legacy leads;
the connections split between them), and then looks every acknowledged leadID up in the
database. The same-run baseline is the bare ``POST /_bench/ok`` endpoint of the same processes
under the same load. It reports leads/s, the bare endpoint's req/s, the lead/bare ratio, and
the N=2 / N=1 scaling.

    .venv/bin/python bench/ingest_postgres.py                     # 1 and 2 processes, 10 s each
    .venv/bin/python bench/ingest_postgres.py --duration 5 --no-worker --json
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT))  # tests.support.postgres: the throwaway cluster

import psycopg  # noqa: E402
from ingest import (  # noqa: E402
    BARE_PATH,
    LEAD_PATH,
    USERNAME,
    Load,
    Server,
    cpu_model,
    ensure_wrk,
    free_port,
    lead_template,
    log,
    machine_busy_pct,
    run_wrk,
    scratch_dir,
    tackbridge_command,
)
from tests.support.postgres import Cluster  # noqa: E402


class PgServer(Server):
    """``tackbridge serve`` on the shared PostgreSQL database."""

    def __init__(
        self, scratch: Path, name: str, *, database_url: str, password: str, worker: bool
    ) -> None:
        self.port = free_port()
        self.data_dir = scratch / name
        self.data_dir.mkdir()
        self.log_path = scratch / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
        env.update(
            {
                "TACKBRIDGE_MODE": "production",
                "TACKBRIDGE_DATA_DIR": str(self.data_dir),
                "TACKBRIDGE_DATABASE_URL": database_url,
                "TACKBRIDGE_WEBHOOK_USERNAME": USERNAME,
                "TACKBRIDGE_WEBHOOK_PASSWORD": password,
                "TACKBRIDGE_API_TOKEN": secrets.token_urlsafe(24),
                "TACKBRIDGE_BENCH_ENDPOINTS": "true",
                "TACKBRIDGE_RUN_WORKER": "true" if worker else "false",
                "TACKBRIDGE_LOG_LEVEL": "WARNING",
            }
        )
        command = [*tackbridge_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=scratch, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid


def acked(ack_dir: Path) -> list[str]:
    ids: list[str] = []
    for path in sorted(ack_dir.glob("acked-*.txt")):
        ids += [line for line in path.read_text().splitlines() if line]
    return ids


def stored(cluster: Cluster, database: str, prefix: str) -> set[str]:
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url(name, driver="postgresql")) as conn:
        rows = conn.execute(
            "SELECT lead_id FROM leads WHERE lead_id LIKE %s", (prefix + "%",)
        ).fetchall()
    return {row[0] for row in rows}


def parallel_wrk(
    loads: list[Load], servers: list[PgServer], *, path: str, run_id: str, **opts: Any
) -> list[dict[str, Any]]:
    """One wrk per server, all at once; each with its own run ID (so IDs stay unique)."""
    results: list[dict[str, Any] | None] = [None] * len(servers)

    def one(i: int) -> None:
        results[i] = run_wrk(loads[i], servers[i], path=path, run_id=f"{run_id}-p{i}", **opts)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def measure_n(
    args: argparse.Namespace,
    n: int,
    cluster: Cluster,
    scratch: Path,
    wrk: str,
    template_file: Path,
) -> dict[str, Any]:
    database = cluster.database()
    password = secrets.token_urlsafe(18)
    authorization = "Basic " + base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
    run_dir = scratch / f"n{n}"
    run_dir.mkdir()
    servers = [
        PgServer(run_dir, f"serve{i}", database_url=database, password=password, worker=args.worker)
        for i in range(n)
    ]
    try:
        for server in servers:
            server.wait_ready()
        loads = [Load(s.url, authorization, template_file, wrk) for s in servers]
        per = max(1, args.connections // n)
        opts: dict[str, Any] = {"connections": per, "threads": 1}
        run = time.strftime("%Y%m%dT%H%M%S")
        if args.warmup > 0:
            log(f"{n} process(es): warm-up {args.warmup:g}s")
            for path in (BARE_PATH, LEAD_PATH):
                parallel_wrk(
                    loads, servers, path=path, run_id=f"w{n}-{run}", duration=args.warmup, **opts
                )
        log(f"{n} process(es): wrk {args.duration:g}s on {BARE_PATH}")
        bare = parallel_wrk(
            loads, servers, path=BARE_PATH, run_id=f"b{n}-{run}", duration=args.duration, **opts
        )
        log(f"{n} process(es): wrk {args.duration:g}s on {LEAD_PATH}")
        ack_dirs = []
        leads: list[dict[str, Any]] = []
        results: list[dict[str, Any] | None] = [None] * n

        def one(i: int) -> None:
            ack = run_dir / f"acked-{i}"
            ack.mkdir()
            ack_dirs.append(ack)
            results[i] = run_wrk(
                loads[i],
                servers[i],
                path=LEAD_PATH,
                run_id=f"l{n}-{run}-p{i}",
                duration=args.duration,
                ack_dir=ack,
                **opts,
            )

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        leads = [r for r in results if r is not None]
        time.sleep(1.0)  # requests in flight at wrk's cut-off finish committing
        acknowledged = [i for d in ack_dirs for i in acked(d)]
        found = stored(cluster, database, f"l{n}-{run}-")
        missing = len(set(acknowledged) - found)
    finally:
        for server in servers:
            server.stop()
    lead_per_s = sum(r["ok_per_s"] for r in leads)
    bare_per_s = sum(r["ok_per_s"] for r in bare)
    return {
        "processes": n,
        "connections_per_process": per,
        "worker_in_serve": args.worker,
        "lead_ok_per_s": lead_per_s,
        "lead_non_2xx": sum(r["requests"] - r["ok_2xx"] for r in leads),
        "lead_p99_ms": max(r["latency_ms"]["p99"] for r in leads),
        "bare_ok_per_s": bare_per_s,
        "ratio_lead_bare": lead_per_s / bare_per_s if bare_per_s else None,
        "server_cpu_pct": [r["server_cpu_pct"]["total"] for r in leads],
        "machine_cpu_pct": max(r["server_cpu_pct"]["machine"] for r in leads),
        "acknowledged": len(acknowledged),
        "missing_from_store": missing,
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"PostgreSQL {report['postgres']}, {report['cpu']}, Python {report['python']}; "
        f"wrk {report['connections']} connections in all, {report['duration']:g} s per run.",
        "",
        "| serve processes | leads/s | non-2xx | p99 ms | bare req/s | lead / bare | "
        "serve CPU % | machine CPU % | missing |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in report["runs"]:
        cpu = " + ".join(f"{c:.0f}" for c in r["server_cpu_pct"])
        lines.append(
            f"| {r['processes']} | {r['lead_ok_per_s']:,.0f} | {r['lead_non_2xx']} | "
            f"{r['lead_p99_ms']:,.1f} | {r['bare_ok_per_s']:,.0f} | "
            f"{r['ratio_lead_bare']:.3f} | {cpu} | {r['machine_cpu_pct']:.0f} | "
            f"{r['missing_from_store']} |"
        )
    if report.get("scaling") is not None:
        lines += ["", f"Scaling, leads/s with 2 processes / with 1: {report['scaling']:.2f}x"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2", help="serve processes per run [1,2]")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections in all")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds")
    parser.add_argument(
        "--worker", action=argparse.BooleanOptionalAction, default=True, help="worker in serve"
    )
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.processes.split(",") if x.strip()]
    wrk = ensure_wrk()
    cluster = Cluster(fast=False, max_connections=200).start()
    try:
        with scratch_dir(None, args.keep) as scratch:
            template_file = scratch / "lead-template.json"
            template_file.write_text(lead_template())
            runs = [measure_n(args, n, cluster, scratch, wrk, template_file) for n in counts]
        with psycopg.connect(cluster.url("postgres", driver="postgresql")) as conn:
            version = conn.execute("SHOW server_version").fetchone()
    finally:
        cluster.stop()
    by_n = {r["processes"]: r["lead_ok_per_s"] for r in runs}
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "postgres": version[0] if version else "?",
        "cpu": f"{os.cpu_count()} x {cpu_model()}",
        "python": platform.python_version(),
        "connections": args.connections,
        "duration": args.duration,
        "machine_busy_at_end_pct": machine_busy_pct(),
        "runs": runs,
        "scaling": by_n[2] / by_n[1] if 1 in by_n and 2 in by_n and by_n[1] else None,
    }
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if any(r["missing_from_store"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
