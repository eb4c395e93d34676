"""Ingest benchmark: durable acknowledged leads per second, and acknowledgement latency.

Starts ``tackbridge serve`` (production mode, SQLite with ``synchronous=FULL``, a fresh data
directory) with the bare ``POST /_bench/ok`` endpoint enabled, and measures the same server two
ways, each against ``POST /v1/lead`` and against the bare endpoint:

* throughput: wrk (closed loop, ``-t1 -c64`` by default) posting realistic v2 leads, each with a
  unique leadID (bench/lead.lua); afterwards every acknowledged leadID is looked up in the
  database, so the figure counts only leads that were durably stored;
* latency at a fixed offered rate (1,000/s by default): bench/openloop.py, an open-loop
  generator that measures from each request's scheduled send time (no coordinated omission)
  and reports its own lateness and CPU, so it can be seen not to be the bottleneck.

It prints a table with the lead/bare ratios (or JSON with ``--json``) and exits 0; it exits 1
only when it cannot run or when an acknowledged lead is missing from the database.

    make bench                      # .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --duration 5 --rate 500 --json
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
LUA_SCRIPT = BENCH_DIR / "lead.lua"
OPENLOOP = BENCH_DIR / "openloop.py"
LEAD_PATH = "/v1/lead"
BARE_PATH = "/_bench/ok"
USERNAME = "thumbtack"
PLACEHOLDER = "@@ID@@"
TARGET_RATIO = 0.2  # durable leads/s against the bare Starlette endpoint's 2xx/s, same run
TARGET_P99_MS = 10.0
# The rows of every table: the bare Starlette app (its own process), tackbridge's own bare
# endpoint, and the leads.
LABELS = {"starlette": "starlette", "bare": BARE_PATH, "lead": LEAD_PATH}
QUIET_PCT = 25.0  # other processes using more CPU than this (% of one core) skew the figures


def log(message: str) -> None:
    """Progress goes to stderr so that ``--json`` output stays clean."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    log(f"error: {message}")
    raise SystemExit(1)


# --------------------------------------------------------------------------- the request body


def lead_template() -> str:
    """A v2 lead as Thumbtack sends it (tests/fixtures/docs/v2_lead.json), with ID placeholders.

    The lead, its request and its customer are new each time; the business is always the same,
    as for a pro who receives many leads.
    """
    body = {
        "leadID": PLACEHOLDER,
        "createTimestamp": "1498760294",
        "request": {
            "requestID": f"r-{PLACEHOLDER}",
            "category": "Interior Painting",
            "categoryID": "122681972262289742",
            "title": "Interior Painting",
            "description": "There is a stain on the door that needs to be touched up.",
            "schedule": "Date: Tue, May 05 2020\nTime: 6:00 PM\nLength: 3.5 hours",
            "location": {
                "address1": "101 Alma Street",
                "address2": "",
                "city": "Palo Alto",
                "state": "CA",
                "zipCode": "94301",
            },
            "travelPreferences": "Professional must travel to my address.",
            "details": [
                {"question": "Type of property", "answer": "Home"},
                {"question": "Number of rooms", "answer": "4 rooms"},
            ],
            "attachments": [
                {
                    "fileName": "door.jpg",
                    "fileSize": 1139,
                    "mimeType": "image/jpeg",
                    "url": "https://www.thumbtack.com/attachment/b180b7d3bf981dd2896732f979f44fbf45fc4224/door.jpg",
                    "description": "my stain",
                }
            ],
        },
        "customer": {"customerID": f"c-{PLACEHOLDER}", "name": "John Davis", "phone": "1234567890"},
        "business": {"businessID": "286845156044809661", "name": "Tim's Painting Business"},
        "leadType": "INSTANT_BOOK",
        "leadPrice": "$26.00",
        "chargeState": "Charged",
    }
    return json.dumps(body, separators=(",", ":"))


# --------------------------------------------------------------------------- set-up


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package first when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        fail(
            "wrk is not installed and this is not root: install it with "
            "`sudo apt-get install -y wrk` (Debian/Ubuntu) and run again"
        )
    if not shutil.which("apt-get"):
        fail("wrk is not installed and apt-get is not available: install wrk and run again")
    log("wrk not found: installing it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            fail(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    found = shutil.which("wrk")
    if not found:
        fail("apt-get installed wrk but it is not on PATH")
    return found


def tackbridge_command() -> list[str]:
    for candidate in (
        ROOT / ".venv" / "bin" / "tackbridge",
        Path(sys.executable).with_name("tackbridge"),
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which("tackbridge")
    if found:
        return [found]
    fail("the tackbridge console script was not found: run `make setup` first")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def filesystem_of(path: Path) -> str:
    """The mount point, device and type holding ``path`` (to tell a real disk from tmpfs)."""
    device, mount_point, fstype = "?", "", "?"
    resolved = str(path.resolve())
    with open("/proc/mounts") as mounts:
        for line in mounts:
            dev, point, kind, *_ = line.split()
            inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(mount_point):
                device, mount_point, fstype = dev, point, kind
    return f"{fstype} on {device} ({mount_point})"


def fsync_latency_ms(directory: Path, rounds: int = 100) -> dict[str, float]:
    """p50/p99 of write(4 KiB) + fsync in ``directory``: the floor under a durable commit."""
    times: list[float] = []
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"x" * 4096
        for i in range(rounds):
            os.pwrite(fd, block, (i % 16) * 4096)
            started = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - started) * 1e3)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return {
        "p50": times[len(times) // 2],
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
    }


def versions(python: str) -> dict[str, str]:
    """Versions of the server's event loop / HTTP parser (uvicorn picks uvloop and httptools)."""
    code = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        "for name in ('uvicorn', 'uvloop', 'httptools', 'fastapi', 'starlette', 'sqlalchemy'):\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: out[name] = 'absent'\n"
        "import sqlite3; out['sqlite'] = sqlite3.sqlite_version\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, str] = json.loads(done.stdout)
    return result


# --------------------------------------------------------------------------- the server


def _cpu_seconds(stat_path: Path) -> float:
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5) (utime, stime); the split above starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU time all cores spent not idle since boot (to see what else loads the machine)."""
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:]]
    # user, nice, system, irq, softirq: not idle, iowait, or steal (the hypervisor's).
    busy = sum(ticks[:3]) + ticks[5] + ticks[6]
    return busy / os.sysconf("SC_CLK_TCK")


def machine_busy_pct(interval: float = 1.0) -> float:
    """CPU the whole machine used over ``interval`` seconds, in % of one core."""
    before = _machine_busy_seconds()
    time.sleep(interval)
    return 100.0 * (_machine_busy_seconds() - before) / interval


def wait_until_quiet(max_wait: float, threshold: float = QUIET_PCT) -> float:
    """Wait up to ``max_wait`` s for other processes to leave the CPUs; the last busy %."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy_pct()
    while busy > threshold and time.monotonic() < deadline:
        log(f"machine busy ({busy:.0f}% of a core used by other processes): waiting")
        busy = machine_busy_pct(2.0)
    return busy


@dataclass
class CpuSample:
    at: float
    main_thread: float  # the event loop: HTTP, routing, parsing, auth
    other_threads: float  # the group-commit writer (SQLite, fsync) and helpers
    machine: float  # every process on the machine


class Server:
    """``tackbridge serve`` in a subprocess, on a free loopback port, with its own data dir."""

    def __init__(self, data_dir: Path, *, synchronous: str, password: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir.parent / "server.log"
        env = {
            **os.environ,
            "TACKBRIDGE_MODE": "production",
            "TACKBRIDGE_DATA_DIR": str(data_dir),
            "TACKBRIDGE_WEBHOOK_USERNAME": USERNAME,
            "TACKBRIDGE_WEBHOOK_PASSWORD": password,
            "TACKBRIDGE_API_TOKEN": secrets.token_urlsafe(24),
            "TACKBRIDGE_BENCH_ENDPOINTS": "true",
            "TACKBRIDGE_SQLITE_SYNCHRONOUS": synchronous,
        }
        env.pop("TACKBRIDGE_DATABASE_URL", None)
        command = [*tackbridge_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        # cwd is the scratch directory so that no developer's .env is picked up.
        self.process = subprocess.Popen(
            command, cwd=data_dir.parent, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "tackbridge.db"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        fail(f"the server did not answer /healthz within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def cpu(self) -> CpuSample:
        main = 0.0
        other = 0.0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                seconds = _cpu_seconds(task / "stat")
                if task.name == str(self.pid):
                    main = seconds
                else:
                    other += seconds
        return CpuSample(time.perf_counter(), main, other, _machine_busy_seconds())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class BareServer(Server):
    """The baseline: a bare Starlette endpoint under uvicorn (``bench/bare_app.py``) in its own
    process, posted the same leads by the same clients."""

    def __init__(self, scratch: Path, python: str) -> None:
        self.port = free_port()
        self.data_dir = scratch
        self.log_path = scratch / "bare.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [python, str(BENCH_DIR / "bare_app.py"), str(self.port)]
        self.process = subprocess.Popen(
            command, cwd=scratch, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"the bare app exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        fail(f"the bare app did not listen within {timeout:.0f}s:\n{self.log_tail()}")


def cpu_usage(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """CPU used between two samples, in % of one core: the server's, and the whole machine's."""
    wall = after.at - before.at
    main = 100.0 * (after.main_thread - before.main_thread) / wall
    other = 100.0 * (after.other_threads - before.other_threads) / wall
    machine = 100.0 * (after.machine - before.machine) / wall
    return {
        "total": main + other,
        "event_loop_thread": main,
        "other_threads": other,
        "machine": machine,
    }


# --------------------------------------------------------------------------- measurements


@dataclass
class Load:
    url: str
    authorization: str
    template_file: Path
    wrk: str


def run_wrk(
    load: Load,
    server: Server,
    *,
    path: str,
    run_id: str,
    duration: float,
    connections: int,
    threads: int,
    ack_dir: Path | None = None,
) -> dict[str, Any]:
    """One closed-loop wrk run; its summary from bench/lead.lua plus CPU of wrk and server."""
    command = [
        load.wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        load.url + "/",
        "--",
        path,
        load.authorization,
        run_id,
        str(load.template_file),
        str(ack_dir or ""),
    ]
    with tempfile.TemporaryFile() as out:
        before = server.cpu()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        after = server.cpu()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if process.returncode != 0:
        fail(f"wrk exited with {process.returncode}:\n{text}")
    line = next((x for x in text.splitlines() if x.startswith("TACKBRIDGE_WRK ")), None)
    if line is None:
        fail(f"wrk printed no summary:\n{text}")
    result: dict[str, Any] = json.loads(line.removeprefix("TACKBRIDGE_WRK "))
    seconds = result["duration_us"] / 1e6
    result["path"] = path
    result["requests_per_s"] = result["requests"] / seconds
    result["ok_per_s"] = result["ok_2xx"] / seconds
    result["latency_ms"] = {k: v / 1e3 for k, v in result.pop("latency_us").items()}
    result["wrk_cpu_pct"] = 100.0 * (usage.ru_utime + usage.ru_stime) / (after.at - before.at)
    result["server_cpu_pct"] = cpu_usage(before, after)
    # CPU used by processes other than the server and wrk (another job would skew the figures).
    result["others_cpu_pct"] = max(
        0.0,
        result["server_cpu_pct"]["machine"]
        - result["server_cpu_pct"]["total"]
        - result["wrk_cpu_pct"],
    )
    result["command"] = " ".join(command[:8]) + " ..."
    return result


def openloop_command(
    *,
    port: int,
    path: str,
    authorization: str,
    template: Path,
    run_id: str,
    rate: float,
    duration: float,
    connections: int,
    grace: float,
    ack_file: Path,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line of one bench/openloop.py run; ``extra``: more of its options."""
    return [
        sys.executable,
        str(OPENLOOP),
        "--port",
        str(port),
        "--path",
        path,
        "--authorization",
        authorization,
        "--template",
        str(template),
        "--run-id",
        run_id,
        "--rate",
        f"{rate:g}",
        "--duration",
        f"{duration:g}",
        "--connections",
        str(connections),
        "--grace",
        f"{grace:g}",
        "--ack-file",
        str(ack_file),
        *extra,
    ]


def run_openloop(
    load: Load,
    server: Server,
    *,
    path: str,
    run_id: str,
    rate: float,
    duration: float,
    connections: int,
    grace: float,
    ack_file: Path,
) -> dict[str, Any]:
    """One open-loop run at a fixed offered rate, in a separate process (bench/openloop.py)."""
    command = openloop_command(
        port=server.port,
        path=path,
        authorization=load.authorization,
        template=load.template_file,
        run_id=run_id,
        rate=rate,
        duration=duration,
        connections=connections,
        grace=grace,
        ack_file=ack_file,
    )
    before = server.cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = server.cpu()
    if done.returncode != 0:
        fail(f"the open-loop generator failed:\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["path"] = path
    result["server_cpu_pct"] = cpu_usage(before, after)
    # The generator's CPU is measured over its own run; this is an estimate of the rest.
    result["others_cpu_pct"] = max(
        0.0,
        result["server_cpu_pct"]["machine"]
        - result["server_cpu_pct"]["total"]
        - result["generator_cpu_pct"],
    )
    return result


def stored_lead_ids(database: Path, prefix: str) -> set[str]:
    """Lead IDs starting with ``prefix`` committed to the database (read-only, WAL-safe)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT lead_id FROM leads WHERE lead_id >= ? AND lead_id < ?",
            (prefix, prefix + "\U0010ffff"),
        ).fetchall()
    return {row[0] for row in rows}


def durability_check(
    database: Path, prefix: str, ack_files: list[Path], ok_2xx: int, in_flight: int
) -> dict[str, Any]:
    """Every lead ID the load generator saw acknowledged (2xx) must be in the database.

    Requests still in flight when a run stopped (wrk's cut-off, or abandoned by the open-loop
    generator) may be stored without their answer being counted, so the database may hold up
    to ``in_flight`` more leads of the run than were acknowledged, never fewer.
    """
    acked: set[str] = set()
    for path in ack_files:
        acked.update(line for line in path.read_text().splitlines() if line)
    stored = stored_lead_ids(database, prefix)
    missing = acked - stored
    return {
        "acknowledged_2xx": ok_2xx,
        "acknowledged_ids_seen": len(acked),
        "rows_added": len(stored),
        "acknowledged_missing": len(missing),
        "stored_unacknowledged": len(stored - acked),
        "ok": not missing and len(acked) == ok_2xx and len(stored - acked) <= in_flight,
    }


# --------------------------------------------------------------------------- report


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _cpu_cols(r: dict[str, Any], own: float) -> str:
    cpu = r["server_cpu_pct"]
    return (
        f"{cpu['total']:>9.0f} {cpu['event_loop_thread']:>5.0f}/{cpu['other_threads']:<5.0f} "
        f"{own:>8.0f} {r['others_cpu_pct']:>7.0f}"
    )


def _cpu_ms(pct_of_a_core: float, per_second: float) -> float:
    """CPU ms per request from a CPU % of one core and requests per second."""
    return 10.0 * pct_of_a_core / per_second if per_second else math.nan


def render(report: dict[str, Any]) -> str:
    """The human-readable report."""
    env = report["environment"]
    tput = report["throughput"]
    lat = report["latency"]
    cfg = report["config"]
    cpu_head = f"{'srv CPU%':>9} {'(loop/oth)':>11} {'gen CPU%':>8} {'others%':>7}"
    lines = [
        f"tackbridge ingest benchmark  {report['date']}",
        f"  machine: {env['cpus']} CPUs, {env['cpu_model']}, Linux {env['kernel']}, "
        f"load average at start {env['loadavg']}, "
        f"CPU busy just before {env['busy_before_pct']:.0f}% of a core",
        f"  server: Python {env['python']}, uvicorn {env['uvicorn']}, uvloop {env['uvloop']}, "
        f"httptools {env['httptools']}, FastAPI {env['fastapi']}, SQLAlchemy {env['sqlalchemy']}",
        f"  store: SQLite {env['sqlite']}, WAL, synchronous={cfg['synchronous']}, on "
        f"{env['filesystem']}; write+fsync p50 {env['fsync_ms']['p50']:.2f} ms, "
        f"p99 {env['fsync_ms']['p99']:.2f} ms",
        "  CPU% is % of one core; loop/oth = the server's event-loop thread / its other threads "
        "(the group-commit writer); gen = wrk or the open-loop generator; others = the rest of "
        "the machine",
        "",
        f"Throughput: wrk -t{cfg['threads']} -c{cfg['connections']} -d{cfg['duration']:g}s "
        "(closed loop, saturating; latencies are under saturation)",
        f"  {'endpoint':<12} {'2xx/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'non-2xx':>8} {'errors':>7} {cpu_head}",
    ]
    for key in LABELS:
        r = tput[key]
        errors = sum(r["errors"][k] for k in ("connect", "read", "write", "timeout"))
        lines.append(
            f"  {LABELS[key]:<12} {r['ok_per_s']:>9.0f} {r['latency_ms']['p50']:>8.2f} "
            f"{r['latency_ms']['p99']:>8.2f} {r['latency_ms']['max']:>8.1f} {r['non_2xx']:>8} "
            f"{errors:>7} {_cpu_cols(r, r['wrk_cpu_pct'])}"
        )
    d = report["durability"]["throughput"]
    lines += [
        f"  durability: {d['acknowledged_2xx']} leads answered 2xx, {d['rows_added']} rows in "
        f"`leads`, {d['acknowledged_missing']} acknowledged but missing, "
        f"{d['stored_unacknowledged']} stored while in flight at wrk's cut-off -> "
        + ("OK" if d["ok"] else "FAILED"),
        "",
        f"Latency at {cfg['rate']:g} req/s offered: open loop, {cfg['latency_connections']} "
        f"keep-alive connections, {cfg['latency_duration']:g}s, measured from each request's "
        "scheduled send time",
        f"  {'endpoint':<12} {'done/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'p99.9':>8} {'max ms':>8} {'non-2xx':>7} {'unans.':>6} {cpu_head} "
        f"{'gen late p99/max ms':>19}",
    ]
    for key in LABELS:
        r = lat[key]
        m = r["latency_ms"]
        late = r["dispatch_lateness_ms"]
        bound = ">=" if r["latency_is_lower_bound"] else ""
        lines.append(
            f"  {LABELS[key]:<12} {r['achieved_rate']:>7.0f} {bound + format(m['p50'], '.2f'):>8} "
            f"{bound + format(m['p90'], '.2f'):>8} {bound + format(m['p99'], '.2f'):>8} "
            f"{bound + format(m['p99.9'], '.2f'):>8} {bound + format(m['max'], '.1f'):>8} "
            f"{r['non_2xx'] + r['errors']:>7} {r['unanswered']:>6} "
            f"{_cpu_cols(r, r['generator_cpu_pct'])} {late['p99']:>9.2f}/{late['max']:<9.2f}"
        )
    for key in LABELS:
        r = lat[key]
        if not r["sustained"]:
            lines.append(
                f"  {LABELS[key]}: the rate was NOT sustained; {r['unanswered']} requests were "
                "still unanswered after the grace period (their wait so far is counted, so the "
                "percentiles are lower bounds)"
            )
    d = report["durability"]["latency"]
    lines += [
        f"  durability: {d['acknowledged_2xx']} leads answered 2xx, {d['rows_added']} rows in "
        f"`leads`, {d['acknowledged_missing']} acknowledged but missing -> "
        + ("OK" if d["ok"] else "FAILED"),
        f"  service time (written -> answered): lead p50 {lat['lead']['service_ms']['p50']:.2f} "
        f"ms, p99 {lat['lead']['service_ms']['p99']:.2f} ms; bare p50 "
        f"{lat['bare']['service_ms']['p50']:.2f} ms, p99 {lat['bare']['service_ms']['p99']:.2f} ms",
        "",
        "Summary",
        f"  {'endpoint':<12} {'durable 2xx/s':>14} {'p50 ms @rate':>13} {'p99 ms @rate':>13}",
    ]
    for key in LABELS:
        lines.append(
            f"  {LABELS[key]:<12} {tput[key]['ok_per_s']:>14.0f} "
            f"{lat[key]['latency_ms']['p50']:>13.2f} {lat[key]['latency_ms']['p99']:>13.2f}"
        )
    r = report["ratios"]
    lines.append(
        f"  {'lead/starlette':<14} {r['throughput']:>12.3f} {r['p50']:>13.2f} {r['p99']:>13.2f}"
    )
    lines.append(f"  {'lead/' + BARE_PATH:<14} {r['throughput_own_bare']:>12.3f}")
    # CPU per answered request: what a busy machine disturbs least (the others' load slows
    # every endpoint's wall clock, not the work each request costs).
    lines += ["", "Server CPU per answered request, ms (event loop + other threads)"]
    for phase, runs, rate_key in (("wrk", tput, "ok_per_s"), ("at rate", lat, "achieved_rate")):
        cells = []
        for key in LABELS:
            done, cpu = runs[key][rate_key], runs[key]["server_cpu_pct"]
            total, loop, other = (
                _cpu_ms(cpu[k], done) for k in ("total", "event_loop_thread", "other_threads")
            )
            cells.append(f"{LABELS[key]} {total:.3f} ({loop:.3f} + {other:.3f})")
        lines.append(f"  {phase:<8} " + "; ".join(cells))
    star = _cpu_ms(tput["starlette"]["server_cpu_pct"]["total"], tput["starlette"]["ok_per_s"])
    lead = _cpu_ms(tput["lead"]["server_cpu_pct"]["total"], tput["lead"]["ok_per_s"])
    lines.append(
        f"  starlette/lead CPU per request under wrk: {star / lead:.3f} (what lead/starlette "
        "would be were both bound by one core's CPU alone)"
    )
    t = report["targets"]
    busy = [
        f"{phase} {LABELS[key]} {r['others_cpu_pct']:.0f}%"
        for phase, runs in (("wrk", tput), ("open-loop", lat))
        for key, r in runs.items()
        if r["others_cpu_pct"] > QUIET_PCT
    ]
    if busy:
        lines += [
            "",
            "WARNING: other processes used the CPUs during the runs (% of one core: "
            + ", ".join(busy)
            + "); these figures understate the server. Run again on a quiet machine "
            "(--wait-quiet 120 waits for one).",
        ]
    lines += [
        "",
        f"Targets: durable leads/s >= {TARGET_RATIO:g}x the bare Starlette endpoint's 2xx/s: "
        f"{r['throughput']:.3f} -> {'met' if t['throughput_met'] else 'NOT met'}; "
        f"p99 <= {TARGET_P99_MS:g} ms at {cfg['rate']:g} leads/s offered: "
        f"{lat['lead']['latency_ms']['p99']:.2f} ms -> {'met' if t['latency_met'] else 'NOT met'}; "
        f"non-2xx or errors on /v1/lead: {t['non_2xx']}",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run [10]")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections [64]")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads [1]")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered req/s [1000]")
    parser.add_argument(
        "--latency-duration", type=float, default=10.0, help="seconds per open-loop run [10]"
    )
    parser.add_argument(
        "--latency-connections", type=int, default=64, help="open-loop connection pool [64]"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="seconds the open-loop run waits for answers after the last send [5]",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="wrk warm-up seconds [2]")
    parser.add_argument(
        "--synchronous",
        default="FULL",
        choices=["FULL", "NORMAL", "EXTRA", "OFF"],
        help="SQLite synchronous for the server [FULL, the default durability]",
    )
    parser.add_argument(
        "--scratch", type=Path, default=None, help="parent of the temporary data dir [$TMPDIR]"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for other processes to leave the CPUs [0]",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


@contextlib.contextmanager
def scratch_dir(parent: Path | None, keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tackbridge-bench-", dir=parent))
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def measure(
    args: argparse.Namespace,
    server: Server,
    load: Load,
    scratch: Path,
    starlette: BareServer,
    starlette_load: Load,
) -> dict[str, Any]:
    """Warm up, then the six runs and the durability checks, against ready servers."""
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    wrk_opts: dict[str, Any] = {"connections": args.connections, "threads": args.threads}
    if args.warmup > 0:
        log(f"warm-up: wrk {args.warmup:g}s on each endpoint")
        run_wrk(
            starlette_load,
            starlette,
            path=LEAD_PATH,
            run_id=f"warm-{run}",
            duration=args.warmup,
            **wrk_opts,
        )
        for path in (BARE_PATH, LEAD_PATH):
            run_wrk(load, server, path=path, run_id=f"warm-{run}", duration=args.warmup, **wrk_opts)

    log(f"throughput: wrk {args.duration:g}s on the bare Starlette app")
    starlette_t = run_wrk(
        starlette_load,
        starlette,
        path=LEAD_PATH,
        run_id=f"star-{run}",
        duration=args.duration,
        **wrk_opts,
    )

    log(f"throughput: wrk {args.duration:g}s on {BARE_PATH}")
    bare_t = run_wrk(
        load, server, path=BARE_PATH, run_id=f"bare-{run}", duration=args.duration, **wrk_opts
    )
    log(f"throughput: wrk {args.duration:g}s on {LEAD_PATH}")
    ack_dir = scratch / "acked-wrk"
    ack_dir.mkdir()
    lead_t = run_wrk(
        load,
        server,
        path=LEAD_PATH,
        run_id=f"tput-{run}",
        duration=args.duration,
        ack_dir=ack_dir,
        **wrk_opts,
    )
    time.sleep(1.0)  # let requests in flight at wrk's cut-off finish committing
    durable_t = durability_check(
        server.database,
        f"tput-{run}-",
        sorted(ack_dir.glob("acked-*.txt")),
        lead_t["ok_2xx"],
        in_flight=args.connections,
    )

    lat_opts: dict[str, Any] = {
        "rate": args.rate,
        "duration": args.latency_duration,
        "connections": args.latency_connections,
        "grace": args.grace,
    }
    log(f"latency: {args.rate:g}/s for {args.latency_duration:g}s on the bare Starlette app")
    starlette_l = run_openloop(
        starlette_load,
        starlette,
        path=LEAD_PATH,
        run_id=f"lstar-{run}",
        ack_file=scratch / "acked-starlette.txt",
        **lat_opts,
    )
    log(f"latency: {args.rate:g}/s for {args.latency_duration:g}s on {BARE_PATH}")
    bare_l = run_openloop(
        load,
        server,
        path=BARE_PATH,
        run_id=f"lbare-{run}",
        ack_file=scratch / "acked-bare.txt",
        **lat_opts,
    )
    log(f"latency: {args.rate:g}/s for {args.latency_duration:g}s on {LEAD_PATH}")
    ack_file = scratch / "acked-openloop.txt"
    lead_l = run_openloop(
        load, server, path=LEAD_PATH, run_id=f"lat-{run}", ack_file=ack_file, **lat_opts
    )
    # Abandoned requests may still be committing: wait until the store is quiet.
    time.sleep(1.0 if lead_l["unanswered"] == 0 else 5.0)
    durable_l = durability_check(
        server.database,
        f"lat-{run}-",
        [ack_file],
        lead_l["ok_2xx"],
        in_flight=lead_l["unanswered"] + args.latency_connections if lead_l["unanswered"] else 0,
    )
    return {
        "throughput": {"starlette": starlette_t, "bare": bare_t, "lead": lead_t},
        "latency": {"starlette": starlette_l, "bare": bare_l, "lead": lead_l},
        "durability": {"throughput": durable_t, "latency": durable_l},
        "ratios": {
            "throughput": ratio(lead_t["ok_per_s"], starlette_t["ok_per_s"]),
            "throughput_own_bare": ratio(lead_t["ok_per_s"], bare_t["ok_per_s"]),
            "p50": ratio(lead_l["latency_ms"]["p50"], starlette_l["latency_ms"]["p50"]),
            "p99": ratio(lead_l["latency_ms"]["p99"], starlette_l["latency_ms"]["p99"]),
        },
        "targets": {
            "throughput_met": ratio(lead_t["ok_per_s"], starlette_t["ok_per_s"]) >= TARGET_RATIO,
            "latency_met": lead_l["sustained"] and lead_l["latency_ms"]["p99"] <= TARGET_P99_MS,
            "non_2xx": lead_t["non_2xx"] + lead_l["non_2xx"] + lead_l["errors"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    wrk = ensure_wrk()
    busy_before = wait_until_quiet(args.wait_quiet) if args.wait_quiet > 0 else machine_busy_pct()
    python = str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    password = secrets.token_urlsafe(18)
    authorization = "Basic " + base64.b64encode(f"{USERNAME}:{password}".encode()).decode()

    with scratch_dir(args.scratch, args.keep) as scratch:
        data_dir = scratch / "data"
        data_dir.mkdir()
        template_file = scratch / "lead-template.json"
        template_file.write_text(lead_template())
        environment = {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "kernel": platform.release(),
            "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
            "busy_before_pct": round(busy_before, 1),
            "python": platform.python_version(),
            **versions(python),
            "filesystem": filesystem_of(data_dir),
            "fsync_ms": fsync_latency_ms(data_dir),
            "wrk": wrk,
        }
        log(f"starting tackbridge serve (synchronous={args.synchronous}) in {scratch}")
        server = Server(data_dir, synchronous=args.synchronous, password=password)
        starlette = BareServer(scratch, python)
        try:
            server.wait_ready()
            starlette.wait_ready()
            results = measure(
                args,
                server,
                Load(server.url, authorization, template_file, wrk),
                scratch,
                starlette,
                Load(starlette.url, authorization, template_file, wrk),
            )
        finally:
            server.stop()
            starlette.stop()

    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/ingest.py", *(argv if argv is not None else sys.argv[1:])]),
        "runtime_s": round(time.monotonic() - started, 1),
        "environment": environment,
        "config": {
            "duration": args.duration,
            "connections": args.connections,
            "threads": args.threads,
            "rate": args.rate,
            "latency_duration": args.latency_duration,
            "latency_connections": args.latency_connections,
            "synchronous": args.synchronous,
        },
        **results,
    }
    print(json.dumps(report, indent=2) if args.json else render(report))
    durability = report["durability"]
    if not (durability["throughput"]["ok"] and durability["latency"]["ok"]):
        log("durability check FAILED: an acknowledged lead is not in the database")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
