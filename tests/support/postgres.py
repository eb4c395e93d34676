"""A throwaway PostgreSQL cluster from Debian's ``postgresql`` package, for tests and benchmarks.

``initdb`` and ``pg_ctl`` run as the ``postgres`` user when we are root (the server refuses to
run as root), in a temporary folder that also holds the unix socket; the server listens on a
free loopback port. Databases are cheap copies of a template that the migrations ran on once
(``CREATE DATABASE ... TEMPLATE``), so a test gets a fresh, migrated store in milliseconds.

Nothing here skips: a machine without PostgreSQL fails loudly with what to install.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from tackbridge.store import migrate
from tackbridge.store.database import open_database

__all__ = ["Cluster", "PostgresMissingError", "find_bin_dir"]

TEMPLATE = "tackbridge_template"
# For tests only: durability buys nothing in a folder that is deleted afterwards.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PostgresMissingError(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not found:
        raise PostgresMissingError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `make "
            "postgres` (apt-get install postgresql), or set TACKBRIDGE_TEST_STORES=sqlite for a "
            "SQLite-only run"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """One PostgreSQL server in a temporary folder; ``start`` it, ``database()`` per store,
    ``stop`` at the end (the folder goes with it).

    :param fast: fsync and synchronous commit off (tests); False keeps the server's defaults
        (benchmarks, to compare with SQLite's ``synchronous=FULL``).
    """

    def __init__(self, *, fast: bool = True, max_connections: int = 400) -> None:
        self.fast = fast
        self.max_connections = max_connections
        self.root: Path | None = None
        self.port = 0
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._template_ready = False

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "socket"

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def _as_postgres(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def start(self) -> Cluster:
        bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="tackbridge-pg-"))
        self.socket_dir.mkdir()
        self.data_dir.mkdir()
        if os.geteuid() == 0:
            # The server runs as postgres: it must own its folders and reach them.
            self.root.chmod(0o755)
            shutil.chown(self.data_dir, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        subprocess.run(
            self._as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": str(self.max_connections),
            "shared_buffers": "128MB",
            **(FAST_SETTINGS if self.fast else {}),
        }
        for attempt in range(5):
            self.port = _free_port()
            opts = " ".join(f"-c {k}={v}" for k, v in options.items())
            started = subprocess.run(
                self._as_postgres(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(self.data_dir / "server.log"),
                        "-o",
                        f"-p {self.port} {opts}",
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                ),
                capture_output=True,
                text=True,
            )
            if started.returncode == 0:
                return self
            if attempt == 4:
                log = self.data_dir / "server.log"
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{tail}")
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        with contextlib.suppress(Exception):
            subprocess.run(
                self._as_postgres(
                    [
                        str(find_bin_dir() / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ]
                ),
                capture_output=True,
                timeout=60,
            )
        # The server's last processes may still be writing as they exit: remove until gone.
        for _ in range(50):
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                break
            time.sleep(0.1)
        self.root = None

    def url(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
        db = open_database(self.url(TEMPLATE))
        try:
            migrate.upgrade(db.writer)
        finally:
            db.dispose()
        self._template_ready = True

    def database(self, *, migrated: bool = True, prefix: str = "t") -> str:
        """A new database's SQLAlchemy URL: a copy of the migrated template, or empty."""
        with self._lock:
            if migrated:
                self._ensure_template()
            name = f"{prefix}{os.getpid()}_{next(self._counter)}"
            template = TEMPLATE if migrated else "template0"
            for attempt in range(50):
                try:
                    with self._admin() as admin:
                        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                    break
                except psycopg.errors.ObjectInUse:
                    # Another session still on the template (its engine closing): a moment.
                    if attempt == 49:
                        raise
                    time.sleep(0.05)
            return self.url(name)
