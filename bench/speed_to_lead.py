"""Speed to lead: from the moment Thumbtack delivers a lead until (a) its Coperniq opportunity
exists and (b) its automatic first reply has been accepted by Thumbtack.

Three processes on loopback, as in production: the sandbox (``tackbridge sandbox``: Thumbtack
and Coperniq, adding ``--latency-ms`` to every API call tackbridge makes), ``tackbridge serve``
(production mode, SQLite, the worker inside, Coperniq as the destination, an auto-reply rule
without delay) and this driver. The business is connected through the real OAuth consent flow,
so the sandbox delivers each lead to the v4 webhook tackbridge registered.

For each offered rate the driver creates leads in the sandbox on a fixed schedule (open loop:
``POST /_sandbox/leads``), waits until every one has its opportunity and its reply, then reads
three instants the sandbox recorded, all on its clock, to the microsecond:

* delivered: the sandbox began the first delivery attempt of the lead to tackbridge;
* opportunity: Coperniq recorded the opportunity carrying the lead's ID;
* reply: Thumbtack recorded the business's first message on the lead.

The baseline, measured in the same run at the same rate and latency, is what no integration can
beat: the driver makes the calls each outcome needs itself, straight to the sandbox (a Coperniq
search for the lead's ID and the create; one Thumbtack send-message), from its schedule. The
ratio ``tackbridge / baseline`` is what receiving, storing, queueing and retrying durably costs
on top of those calls.

Coperniq's published limit is 100 requests/s per API key; one key cannot take 100 leads/s at
two or more requests a lead. The run raises both sides' limit (``--coperniq-rate``) to stand for
many businesses with a key each, and reports the Coperniq requests a lead needed.

    .venv/bin/python bench/speed_to_lead.py                 # 20 and 100 leads/s, 15 s each
    .venv/bin/python bench/speed_to_lead.py --rates 20,50,100 --duration 20 --json
    .venv/bin/python bench/speed_to_lead.py --rates 100 --workers 1 --no-serve-worker --postgres

``--postgres`` runs the same on a throwaway PostgreSQL cluster (Debian's ``postgresql``
package, server defaults: fsync and synchronous commit on) instead of the SQLite file;
``--no-serve-worker`` leaves the jobs to the ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(ROOT))  # tests.support.postgres: the throwaway cluster

import httpx2  # noqa: E402
from ingest import (  # noqa: E402
    _cpu_seconds,
    _machine_busy_seconds,
    cpu_model,
    free_port,
    machine_busy_pct,
    scratch_dir,
    tackbridge_command,
    wait_until_quiet,
)
from tests.support.postgres import Cluster  # noqa: E402

from tackbridge.core.http import AiohttpTransport  # noqa: E402

TARGET_P95_MS = 1000.0
TARGET_RATES = (20.0, 100.0, 200.0)
COPERNIQ_KEY = "bench-coperniq-key"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
API_USERNAME, API_PASSWORD = "bench-api", "bench-api-password"
LEAD_KEY = "thumbtack_lead_id"
REPLY_RULES = {
    "default": {
        "template": "Hi {{ customer_first_name or 'there' }}, thanks for reaching out to "
        "{{ business_name }}! We will call you shortly about your {{ category }} project."
    }
}


def log(message: str) -> None:
    print(f"[speed_to_lead] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------------- the processes


class Process:
    """A ``tackbridge`` subcommand on a loopback port, logging to a file in the scratch dir."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        scratch: Path,
        port: int = 0,
        *,
        listen: bool = True,
    ) -> None:
        self.name = name
        self.env = env
        self.port = port or free_port()
        self.log_path = scratch / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [*tackbridge_command(), *args]
        if listen:
            command += ["--host", "127.0.0.1", "--port", str(self.port)]
        # cwd is the scratch directory so that no developer's .env is picked up.
        self.process = subprocess.Popen(
            command, cwd=scratch, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{self.log_tail()}")
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(self.url + path, timeout=1) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not start:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        total = 0.0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                total += _cpu_seconds(task / "stat")
        return total

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def start_sandbox(args: argparse.Namespace, scratch: Path) -> Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
    return Process(
        "sandbox",
        [
            "sandbox",
            "--lead-rate",
            "0",
            "--reply-rate",
            "0",
            "--latency-ms",
            str(args.latency_ms),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--api-username",
            API_USERNAME,
            "--api-password",
            API_PASSWORD,
            "--coperniq-api-key",
            COPERNIQ_KEY,
            "--coperniq-rate-per-second",
            str(args.coperniq_rate),
            "--coperniq-rate-per-day",
            str(10_000_000),
            "--log-level",
            "warning",
        ],
        env,
        scratch,
    )


def start_tackbridge(
    args: argparse.Namespace, scratch: Path, sandbox: Process, token: str
) -> Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
    port = free_port()
    env.update(
        {
            "TACKBRIDGE_MODE": "production",
            "TACKBRIDGE_DATA_DIR": str(scratch / "data"),
            "TACKBRIDGE_LOG_LEVEL": "WARNING",
            "TACKBRIDGE_WEBHOOK_USERNAME": "thumbtack",
            "TACKBRIDGE_WEBHOOK_PASSWORD": secrets.token_urlsafe(18),
            "TACKBRIDGE_API_TOKEN": token,
            "TACKBRIDGE_SECRET_KEY": secrets.token_urlsafe(32),
            "TACKBRIDGE_RUN_WORKER": "true" if args.serve_worker else "false",
            "TACKBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TACKBRIDGE_THUMBTACK_ENVIRONMENT": "sandbox",
            "TACKBRIDGE_THUMBTACK_BASE_URL": sandbox.url,
            "TACKBRIDGE_THUMBTACK_CLIENT_ID": CLIENT_ID,
            "TACKBRIDGE_THUMBTACK_CLIENT_SECRET": CLIENT_SECRET,
            "TACKBRIDGE_COPERNIQ_API_KEY": COPERNIQ_KEY,
            "TACKBRIDGE_COPERNIQ_BASE_URL": f"{sandbox.url}/coperniq/v1",
            "TACKBRIDGE_COPERNIQ_REQUESTS_PER_SECOND": str(args.coperniq_rate),
            "TACKBRIDGE_COPERNIQ_REQUESTS_PER_DAY": str(10_000_000),
            "TACKBRIDGE_AUTOREPLY_RULES": json.dumps(REPLY_RULES),
        }
    )
    if args.worker_concurrency is not None:
        env["TACKBRIDGE_WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    if args.database_url:
        env["TACKBRIDGE_DATABASE_URL"] = args.database_url
    elif args.workers:
        # On SQLite a worker in another process is not woken by this one's enqueues: it looks
        # often. (On PostgreSQL NOTIFY wakes it.)
        env["TACKBRIDGE_WORKER_POLL_SECONDS"] = "0.05"
    return Process("tackbridge", ["serve"], env, scratch, port)


def start_workers(args: argparse.Namespace, scratch: Path, product: Process) -> list[Process]:
    """``tackbridge worker`` processes sharing the store of ``serve`` (same environment)."""
    env = product.env
    return [
        Process(f"worker-{n}", ["worker"], env, scratch, listen=False)
        for n in range(1, args.workers + 1)
    ]


# --------------------------------------------------------------------------- the driver


class Driver:
    """The driver's clients, over aiohttp's pool (``AiohttpTransport``, as tackbridge's
    Thumbtack client): about 10 % less of the driver's CPU than httpcore's pool at 200 leads/s
    (1.46 against 1.62 ms per lead in the baseline's 600 calls a second). Idle connections are
    dropped after 1 s, well before uvicorn's 5 s keep-alive ends, so a request seldom races
    the server closing its connection; the few that do (the ``ReadError`` that ended runs at
    200 leads/s on a starved machine) are sent again once and counted (``retried``, in the
    report) instead of ending the run."""

    def __init__(self, sandbox: Process, product: Process, token: str) -> None:
        self.retried = 0
        self._transports: list[AiohttpTransport] = []

        def client(base_url: str, **headers: str) -> httpx2.AsyncClient:
            transport = AiohttpTransport(connections=256, keepalive_seconds=1.0)
            self._transports.append(transport)
            return httpx2.AsyncClient(
                base_url=base_url, timeout=60.0, transport=transport, headers=headers
            )

        self.sandbox = client(sandbox.url)
        self.product = client(product.url, Authorization=f"Bearer {token}")
        self.coperniq = client(f"{sandbox.url}/coperniq/v1", **{"x-api-key": COPERNIQ_KEY})

    async def send(
        self, client: httpx2.AsyncClient, method: str, url: str, **kwargs: Any
    ) -> httpx2.Response:
        """``client.request`` sent once more after a dropped connection (counted)."""
        try:
            return await client.request(method, url, **kwargs)
        except (httpx2.ReadError, httpx2.RemoteProtocolError, httpx2.WriteError):
            self.retried += 1
            return await client.request(method, url, **kwargs)

    async def aclose(self) -> None:
        for client in (self.sandbox, self.product, self.coperniq):
            await client.aclose()
        for transport in self._transports:
            await transport.aclose()

    async def summary(self) -> dict[str, Any]:
        response = await self.send(self.sandbox, "GET", "/_sandbox/summary")
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    async def inspect(self, what: str, **params: str) -> Any:
        response = await self.send(self.sandbox, "GET", f"/_sandbox/{what}", params=params)
        response.raise_for_status()
        return response.json()

    async def new_lead(self, business_id: str) -> str:
        response = await self.send(
            self.sandbox, "POST", "/_sandbox/leads", json={"businessID": business_id}
        )
        response.raise_for_status()
        return str(response.json()["leadID"])

    async def open_loop(
        self, rate: float, duration: float, action: Any
    ) -> tuple[list[Any], list[float]]:
        """Runs ``action(i, due)`` at ``rate`` per second for ``duration`` seconds; returns
        the results in order and how late each call was started (ms)."""
        count = max(1, round(rate * duration))
        start = time.perf_counter() + 0.2
        lateness: list[float] = []
        tasks = []
        for i in range(count):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            lateness.append(max(0.0, (time.perf_counter() - due) * 1000))
            tasks.append(asyncio.create_task(action(i, due)))
        return list(await asyncio.gather(*tasks)), lateness

    async def wait_for(self, leads: list[str], before: dict[str, Any], patience: float) -> bool:
        """Until the sandbox holds an opportunity and a reply more per lead (cheap polling of the
        summary; the records are read once at the end)."""
        deadline = time.monotonic() + patience
        want_opportunities = before["opportunities"] + len(leads)
        want_messages = before["messages"] + len(leads)
        while time.monotonic() < deadline:
            now = await self.summary()
            if now["opportunities"] >= want_opportunities and now["messages"] >= want_messages:
                return True
            await asyncio.sleep(0.5)
        return False


async def tackbridge_run(
    driver: Driver, business_id: str, rate: float, duration: float, patience: float
) -> dict[str, Any]:
    before = await driver.summary()
    leads, lateness = await driver.open_loop(
        rate, duration, lambda i, due: driver.new_lead(business_id)
    )
    complete = await driver.wait_for(leads, before, patience)
    after = await driver.summary()
    wanted = set(leads)
    delivered: dict[str, float] = {}
    for delivery in await driver.inspect("deliveries", kind="lead"):
        lead_id = delivery.get("recordID")
        if lead_id not in wanted or not delivery["attempts"]:
            continue
        first = instant(delivery["attempts"][0]["recordedAt"])
        delivered[lead_id] = min(first, delivered.get(lead_id, first))
    opportunity: dict[str, float] = {}
    for record in await driver.inspect("coperniq/opportunities"):
        lead_id = str((record.get("custom") or {}).get(LEAD_KEY, ""))
        if lead_id in wanted:
            at = instant(record["recordedAt"])
            opportunity[lead_id] = min(at, opportunity.get(lead_id, at))
    reply: dict[str, float] = {}
    for message in await driver.inspect("messages", **{"from": "Business"}):
        lead_id = message["leadID"]
        if lead_id in wanted:
            at = instant(message["recordedAt"])
            reply[lead_id] = min(at, reply.get(lead_id, at))
    to_opportunity = [
        (opportunity[lead] - delivered[lead]) * 1000
        for lead in leads
        if lead in opportunity and lead in delivered
    ]
    to_reply = [
        (reply[lead] - delivered[lead]) * 1000
        for lead in leads
        if lead in reply and lead in delivered
    ]
    return {
        "leads": len(leads),
        "complete": complete,
        "missing_opportunity": len(wanted - set(opportunity)),
        "missing_reply": len(wanted - set(reply)),
        "lead_to_opportunity_ms": summary(to_opportunity),
        "lead_to_reply_ms": summary(to_reply),
        "coperniq_requests_per_lead": (
            after["coperniqRequestsToday"] - before["coperniqRequestsToday"]
        )
        / max(1, len(leads)),
        "driver_lateness_ms": summary(lateness),
    }


async def baseline_run(
    driver: Driver, business_id: str, lead_id: str, rate: float, duration: float
) -> dict[str, Any]:
    """The same calls tackbridge needs, made directly from the schedule."""
    run = secrets.token_hex(4)
    auth = (API_USERNAME, API_PASSWORD)

    async def opportunity(i: int, due: float) -> float:
        key = f"baseline-{run}-{i}"
        found = await driver.send(
            driver.coperniq,
            "GET",
            "/opportunities/search",
            params={"prop1": LEAD_KEY, "op1": "eq", "value1": key},
        )
        found.raise_for_status()
        created = await driver.send(
            driver.coperniq,
            "POST",
            "/opportunities",
            json={
                "title": f"Baseline {key}",
                "address": ["1 Market St, San Francisco, CA 94105"],
                "trades": ["Plumbing"],
                "description": "A body the size of a lead's, made by the baseline client.",
                "primaryPhone": f"+1415{i:07d}",
                "custom": {LEAD_KEY: key},
            },
        )
        created.raise_for_status()
        return (time.perf_counter() - due) * 1000

    async def reply(i: int, due: float) -> float:
        sent = await driver.send(
            driver.sandbox,
            "POST",
            f"/v1/business/{business_id}/lead/{lead_id}/message",
            json={"text": f"baseline {run} {i}"},
            auth=auth,
        )
        sent.raise_for_status()
        return (time.perf_counter() - due) * 1000

    async def both(i: int, due: float) -> tuple[float, float]:
        a, b = await asyncio.gather(opportunity(i, due), reply(i, due))
        return a, b

    results, lateness = await driver.open_loop(rate, duration, both)
    return {
        "lead_to_opportunity_ms": summary([a for a, _ in results]),
        "lead_to_reply_ms": summary([b for _, b in results]),
        "driver_lateness_ms": summary(lateness),
    }


async def connect(product: Process, token: str) -> str:
    from tackbridge.devstack import connect_demo_business

    return await connect_demo_business(product.url, token)


async def measure(
    args: argparse.Namespace,
    sandbox: Process,
    product: Process,
    token: str,
    workers: list[Process],
) -> Any:
    business_id = await connect(product, token)
    log(f"business {business_id} connected through the consent flow")
    driver = Driver(sandbox, product, token)
    try:
        # The webhook is registered by a job: with the jobs in another process (or on a busy
        # machine) it may not be there yet, and the sandbox delivers leads to webhooks only.
        deadline = time.monotonic() + args.timeout
        while not any(
            h["businessID"] == business_id and h["enabled"] and h["deletedAt"] is None
            for h in await driver.inspect("webhooks")
        ):
            if time.monotonic() > deadline:
                raise SystemExit("the business's webhook was never registered")
            await asyncio.sleep(0.1)
        log("warm-up: 20 leads at 10/s")
        warm = await tackbridge_run(driver, business_id, 10, 2, args.timeout)
        if not warm["complete"]:
            raise SystemExit(f"the warm-up did not complete: {warm}\n{product.log_tail()}")
        spare_lead = await driver.new_lead(business_id)
        runs = []
        for rate in args.rates:
            busy = wait_until_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
            log(f"{rate:g} leads/s for {args.duration:g} s: baseline")
            retried, driver_cpu = driver.retried, time.process_time()
            baseline = await baseline_run(driver, business_id, spare_lead, rate, args.duration)
            baseline["driver_cpu_ms_per_lead"] = (
                1e3 * (time.process_time() - driver_cpu) / max(1, round(rate * args.duration))
            )
            baseline["retried"] = driver.retried - retried
            retried, driver_cpu = driver.retried, time.process_time()
            log(f"{rate:g} leads/s for {args.duration:g} s: tackbridge")
            ours = [product, *workers]
            cpu_before = (
                sandbox.cpu_seconds(),
                sum(p.cpu_seconds() for p in ours),
                _machine_busy_seconds(),
            )
            started = time.perf_counter()
            measured = await tackbridge_run(driver, business_id, rate, args.duration, args.timeout)
            wall = time.perf_counter() - started
            cpu_after = (
                sandbox.cpu_seconds(),
                sum(p.cpu_seconds() for p in ours),
                _machine_busy_seconds(),
            )
            used = [100 * (b - a) / wall for a, b in zip(cpu_before, cpu_after, strict=True)]
            leads = max(1, measured["leads"])
            # CPU time, not a share of the wall clock: the figure a busy machine moves least.
            per_lead = [1e3 * (b - a) / leads for a, b in zip(cpu_before, cpu_after, strict=True)]
            measured["retried"] = driver.retried - retried
            runs.append(
                {
                    "rate": rate,
                    "duration": args.duration,
                    "quiet_before_pct": busy,
                    "tackbridge": measured,
                    "baseline": baseline,
                    "cpu_pct": {
                        "sandbox": used[0],
                        "tackbridge": used[1],
                        "machine": used[2],
                        "others": used[2] - used[0] - used[1],
                    },
                    "cpu_ms_per_lead": {
                        "sandbox": per_lead[0],
                        "tackbridge": per_lead[1],
                        "driver": 1e3 * (time.process_time() - driver_cpu) / leads,
                    },
                }
            )
            log(json.dumps(runs[-1]["tackbridge"]))
        return runs
    finally:
        await driver.aclose()


# --------------------------------------------------------------------------- report


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(a: Any, b: Any) -> str:
    return "-" if not a or not b else f"{a / b:.1f}x"


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Sandbox latency {report['latency_ms']} ms per call; Coperniq limit raised to "
        f"{report['coperniq_rate']}/s; worker concurrency {report['worker_concurrency']}, "
        f"`tackbridge worker` processes besides serve's: {report.get('worker_processes', 0)} "
        f"(serve's own worker {'on' if report.get('serve_worker', True) else 'off'}); "
        f"store {report.get('store', 'sqlite')}; "
        f"{report['cpu']}, Python {report['python']}.",
        "",
        "| leads/s | outcome | n | p50 ms | p95 ms | p99 ms | max ms | baseline p50 / p95 / p99 ms "
        "| p95 / baseline p95 | missing |",
        "|--------:|---------|--:|-------:|-------:|-------:|-------:|------------------------------"
        "|-------------------:|--------:|",
    ]
    for run in report["runs"]:
        t, b = run["tackbridge"], run["baseline"]
        for key, name, missing in (
            ("lead_to_opportunity_ms", "opportunity created", t["missing_opportunity"]),
            ("lead_to_reply_ms", "auto-reply accepted", t["missing_reply"]),
        ):
            m, base = t[key], b[key]
            lines.append(
                f"| {run['rate']:g} | {name} | {m['count']} | {_ms(m['p50'])} | {_ms(m['p95'])} "
                f"| {_ms(m['p99'])} | {_ms(m['max'])} | {_ms(base['p50'])} / {_ms(base['p95'])} "
                f"/ {_ms(base['p99'])} | {_ratio(m['p95'], base['p95'])} | {missing} |"
            )
    lines += [
        "",
        "| leads/s | Coperniq requests per lead | CPU % of a core: tackbridge / sandbox / others "
        "| CPU ms per lead: tackbridge / sandbox / driver | driver lateness p99 ms "
        "| driver requests sent again: baseline / tackbridge |",
        "|--------:|---------------------------:|-----------------------------------------------"
        "|-----------------------------------------------:|-----------------------:"
        "|---:|",
    ]
    for run in report["runs"]:
        cpu = run["cpu_pct"]
        per_lead = run["cpu_ms_per_lead"]
        lines.append(
            f"| {run['rate']:g} | {run['tackbridge']['coperniq_requests_per_lead']:.2f} "
            f"| {cpu['tackbridge']:.0f} / {cpu['sandbox']:.0f} / {max(0.0, cpu['others']):.0f} "
            f"| {per_lead['tackbridge']:.2f} / {per_lead['sandbox']:.2f} "
            f"/ {per_lead['driver']:.2f} "
            f"| {_ms(run['tackbridge']['driver_lateness_ms']['p99'])} "
            f"| {run['baseline']['retried']} / {run['tackbridge']['retried']} |"
        )
    verdicts = []
    for run in report["runs"]:
        if run["rate"] not in TARGET_RATES:
            continue
        for key, name in (
            ("lead_to_opportunity_ms", "opportunity"),
            ("lead_to_reply_ms", "auto-reply"),
        ):
            p95 = run["tackbridge"][key]["p95"]
            met = (
                p95 is not None
                and p95 <= TARGET_P95_MS
                and not run["tackbridge"][
                    "missing_opportunity" if key.endswith("opportunity_ms") else "missing_reply"
                ]
            )
            verdicts.append(
                f"- p95 lead -> {name} at {run['rate']:g} leads/s <= {TARGET_P95_MS:g} ms: "
                f"{_ms(p95)} ms, {'met' if met else 'NOT met'}"
            )
    return "\n".join(lines + (["", *verdicts] if verdicts else []))


def default_concurrency() -> int:
    from tackbridge.settings import Settings

    found: int = Settings.model_fields["worker_concurrency"].default
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="20,100", help="leads/s, comma-separated")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per rate")
    parser.add_argument("--latency-ms", type=int, default=20, help="added to every API call")
    parser.add_argument("--coperniq-rate", type=int, default=2000, help="requests/s per key")
    parser.add_argument(
        "--worker-concurrency", type=int, default=None, help="default: tackbridge's own"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="`tackbridge worker` processes besides serve's"
    )
    parser.add_argument(
        "--serve-worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the worker inside serve too [on]",
    )
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for stragglers (s)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait for idle CPUs (s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir and logs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    args.database_url = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = secrets.token_urlsafe(24)
    with contextlib.ExitStack() as stack, scratch_dir(None, args.keep) as scratch:
        if args.postgres:
            cluster = Cluster(fast=False).start()
            stack.callback(cluster.stop)
            args.database_url = cluster.database()
        sandbox = start_sandbox(args, scratch)
        product: Process | None = None
        workers: list[Process] = []
        try:
            sandbox.wait_ready("/_sandbox/summary")
            product = start_tackbridge(args, scratch, sandbox, token)
            product.wait_ready("/healthz")
            workers = start_workers(args, scratch, product)
            runs = asyncio.run(measure(args, sandbox, product, token, workers))
        finally:
            for process in (*workers, product, sandbox):
                if process is not None:
                    process.stop()
        report = {
            "latency_ms": args.latency_ms,
            "coperniq_rate": args.coperniq_rate,
            "worker_concurrency": args.worker_concurrency or default_concurrency(),
            "worker_processes": args.workers,
            "serve_worker": args.serve_worker,
            "store": "postgresql" if args.postgres else "sqlite",
            "cpu": f"{os.cpu_count()} x {cpu_model()}",
            "python": platform.python_version(),
            "machine_busy_at_end_pct": machine_busy_pct(),
            "runs": runs,
        }
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
