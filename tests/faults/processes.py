"""Real ``tackbridge serve`` and ``tackbridge worker`` processes for fault tests: started on a
database URL (SQLite file here; a PostgreSQL URL works the same), on loopback, killed with
SIGKILL by the test, and restarted on the same store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from tests.support.servers import free_port
from tests.support.tackbridge import API_TOKEN, WEBHOOK_AUTH


@dataclass
class Processes:
    """Every process a test started, killed (SIGKILL) and reaped when it ends."""

    database_url: str
    cwd: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
        env.update(
            TACKBRIDGE_MODE="production",
            TACKBRIDGE_DATABASE_URL=self.database_url,
            TACKBRIDGE_DATA_DIR=str(self.cwd),
            TACKBRIDGE_WEBHOOK_USERNAME=WEBHOOK_AUTH[0],
            TACKBRIDGE_WEBHOOK_PASSWORD=WEBHOOK_AUTH[1],
            TACKBRIDGE_API_TOKEN=API_TOKEN,
            TACKBRIDGE_SQLITE_SYNCHRONOUS="NORMAL",
            TACKBRIDGE_RUN_WORKER="false",
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def spawn(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        # The log goes to a file (a pipe nobody reads would fill and stall the process).
        log = self.cwd / f"{args[0]}-{len(self.started)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "tackbridge", *args],
                env=self.env(**env),
                cwd=self.cwd,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        self.logs[process.pid] = log
        return process

    def log(self, process: subprocess.Popen[bytes]) -> str:
        return self.logs[process.pid].read_text(errors="replace")

    def serve(self, port: int | None = None, **env: str) -> tuple[subprocess.Popen[bytes], str]:
        """A ``serve`` process, once its ``/healthz`` answers; and its URL."""
        port = port or free_port()
        process = self.spawn("serve", "--host", "127.0.0.1", "--port", str(port), **env)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(process, url, lambda: self.log(process))
        return process, url

    def worker(self, **env: str) -> subprocess.Popen[bytes]:
        return self.spawn("worker", **env)

    def close(self) -> None:
        for process in self.started:
            kill(process)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no handler runs, nothing is flushed that was not already committed."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def wait_healthy(
    process: subprocess.Popen[bytes], url: str, log: Callable[[], str], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"the process ended before it served: {log()[-2000:]}")
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)  # polling a port that is not open yet: there is no event to wait on


@contextmanager
def processes(database_url: str, cwd: Path, **extra_env: str) -> Iterator[Processes]:
    procs = Processes(database_url, cwd, dict(extra_env))
    try:
        yield procs
    finally:
        procs.close()
