"""Refresh rotation across two real OS processes sharing one SQLite file and one sandbox: each
round, 20 callers in each process find the token expired, and the sandbox sees one refresh."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.connections import Stack, expire_access_token, refreshes

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 3
CALLERS = 20


def _spawn(stack: Stack, business_id: str) -> subprocess.Popen[str]:
    key = stack.settings.secret_key
    assert key is not None
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.connections.refresh_process",
            stack.settings.resolved_database_url,
            stack.sandbox.url,
            key.get_secret_value(),
            business_id,
            str(CALLERS),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"process {process.pid} ended early (exit {process.poll()})"
    return line.strip()


def test_two_processes_spend_each_refresh_token_once(stack: Stack) -> None:
    business_id = stack.sandbox.business_ids()[0]
    stack.connect(business_id)
    processes = [_spawn(stack, business_id) for _ in range(2)]
    try:
        for process in processes:
            assert _line(process) == "ready"
        for round_ in range(1, ROUNDS + 1):
            expire_access_token(stack.settings, business_id)
            for process in processes:  # both start before either answers
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            answers = [json.loads(_line(process)) for process in processes]
            # Every caller in both processes got the one new token...
            assert answers[0]["tokens"] == answers[1]["tokens"]
            assert len(answers[0]["tokens"]) == 1
            # ...which the sandbox issued once, from a refresh token spent once.
            assert refreshes(stack.sandbox) == round_
            assert sum(a["refreshes"] for a in answers) == round_
            issued = {
                t["fingerprint"]
                for t in stack.sandbox.inspect("tokens")["tokens"]
                if t["kind"] == "access" and t["businessID"] == business_id
            }
            assert answers[0]["tokens"][0] in issued
    finally:
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in processes:
            process.wait(timeout=30)
    tokens = [
        t
        for t in stack.sandbox.inspect("tokens")["tokens"]
        if t["businessID"] == business_id and t["kind"] == "refresh"
    ]
    assert len(tokens) == ROUNDS + 1
    assert sum(1 for t in tokens if t["spentAt"] is not None) == ROUNDS
    assert all(t["revokedAt"] is None for t in tokens)
    assert stack.connection(business_id)["tokenVersion"] == ROUNDS + 1
