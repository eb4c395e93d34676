"""tackbridge as real OS processes (``tackbridge serve``, ``tackbridge worker``) configured by
the environment from a :class:`Settings`, and a fan-out reverse proxy in front of several
``serve`` processes, for the multi-process tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tackbridge.settings import Settings
from tests.support.sandbox import wait_until

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``TACKBRIDGE_*`` variables that make a process read ``settings``."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value: Any = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, Enum):
            value = value.value
        env[f"TACKBRIDGE_{name.upper()}"] = str(value)
    return env


def _environment(settings: Settings) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TACKBRIDGE_")}
    return {**base, **settings_env(settings), "PYTHONUNBUFFERED": "1"}


@contextmanager
def tackbridge_process(
    settings: Settings, args: Sequence[str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m tackbridge ARGS`` with ``settings``; terminated (then killed) at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tackbridge", *args],
            cwd=ROOT,
            env=_environment(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_serving(
    url: str,
    process: subprocess.Popen[Any],
    output: Callable[[], str] = lambda: "",
    timeout: float = 60.0,
) -> None:
    """Until the ``serve`` process at ``url`` answers ``/healthz`` (polled: a process announces
    its start on no event we can wait on); its ``output`` is told if it ends first."""

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited {process.returncode}:\n{output()[-3000:]}")
        try:
            return httpx2.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx2.TransportError:
            return False

    wait_until(up, timeout=timeout)


def stderr_of(process: subprocess.Popen[Any]) -> str:
    """What an ended process wrote to its piped stderr."""
    if process.stderr is None:
        return ""
    text = process.stderr.read()
    return text if isinstance(text, str) else text.decode(errors="replace")


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    wait_serving(url, process, log.read_text)


class FanOut:
    """A reverse proxy that sends every partner delivery (``/v1/*``, ``/v4/*``) to every
    upstream at once and answers with the first upstream's answer; anything else goes to the
    first upstream. Every upstream's status is kept (``statuses``), and each refusal
    (``refused``)."""

    def __init__(self, upstreams: Sequence[str]) -> None:
        self.upstreams = list(upstreams)
        self.statuses: list[int] = []
        # Each answer that was not a 2xx: (upstream, path, status, body), for the failure message.
        self.refused: list[tuple[str, str, int, str]] = []
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=methods)])

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        skip = ("host", "content-length")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        path = request.url.path
        targets = self.upstreams if path.startswith(("/v1/", "/v4/")) else self.upstreams[:1]
        async with httpx2.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.request(
                        request.method,
                        f"{upstream}{path}",
                        params=request.query_params,
                        content=body,
                        headers=headers,
                    )
                    for upstream in targets
                )
            )
        self.statuses += [a.status_code for a in answers]
        self.refused += [
            (upstream, path, a.status_code, a.text[:500])
            for upstream, a in zip(targets, answers, strict=True)
            if not 200 <= a.status_code < 300
        ]
        first = answers[0]
        drop = ("content-length", "transfer-encoding", "content-encoding", "connection")
        return Response(
            first.content,
            status_code=first.status_code,
            headers={k: v for k, v in first.headers.items() if k.lower() not in drop},
        )
