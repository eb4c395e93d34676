"""API faults (latency, 5xx, 429, dropped connections) and error answers in each dialect."""

from __future__ import annotations

import httpx2
import pytest

from tests.support.sandbox import COPERNIQ_KEY, Sandbox, is_problem
from tests.support.sandbox_fixtures import RunningSandbox


def test_error_and_rate_limit_faults_answer_in_each_dialect(fresh: Sandbox) -> None:
    fresh.faults(error_rate=1.0)
    is_problem(fresh.get("/v2/get-thumbtack-info"), 503)
    coperniq = fresh.get("/coperniq/v1/workflows", headers=COPERNIQ_KEY)
    assert coperniq.status_code == 503
    assert coperniq.json()["code"] == "SERVICE_UNAVAILABLE"
    assert fresh.get("/_sandbox/summary").status_code == 200  # never faulted
    fresh.faults(error_rate=0.0, rate_limit_rate=1.0, retry_after_seconds=7)
    limited = fresh.get("/api/v4/businesses")
    is_problem(limited, 429)
    assert limited.headers["retry-after"] == "7"


def test_latency_fault(fresh: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault waits through the sandbox clock's ``sleep``: recorded once the wait is over,
    so the answer having arrived proves the request was held for exactly the injected delay."""
    clock = fresh.app.state.sandbox.state.clock
    waited: list[float] = []
    real_sleep = clock.sleep

    async def recording_sleep(seconds: float) -> None:
        await real_sleep(seconds)
        waited.append(seconds)

    monkeypatch.setattr(clock, "sleep", recording_sleep)
    fresh.faults(latency_ms=300)
    assert waited == []  # /_sandbox itself is never delayed
    fresh.get("/api/v4/businesses")
    assert waited == [0.3]


def test_dropped_connection_fault(fresh: Sandbox) -> None:
    fresh.faults(drop_rate=1.0)
    with pytest.raises(httpx2.HTTPError):
        fresh.get("/api/v4/businesses")


def test_fault_settings_are_validated(fresh: Sandbox) -> None:
    is_problem(fresh.put("/_sandbox/faults", json={"error_rate": 2}), 400)
    is_problem(fresh.put("/_sandbox/faults", json={"gremlins": 1}), 400)
    is_problem(fresh.put("/_sandbox/faults", json={"message_before_lead": "yes"}), 400)
    is_problem(fresh.put("/_sandbox/faults", json={"latency_ms": 1.5}), 400)
    assert fresh.get("/_sandbox/faults").json()["error_rate"] == 0.0


@pytest.mark.parametrize("path", ["/v9/nothing", "/api/v4/nothing", "/oauth2/nothing"])
def test_unknown_thumbtack_routes_are_problem_404(sandbox: Sandbox, path: str) -> None:
    is_problem(sandbox.get(path), 404)


def test_unknown_coperniq_route_and_wrong_method(sandbox: Sandbox) -> None:
    missing = sandbox.get("/coperniq/v1/nothing", headers=COPERNIQ_KEY)
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    is_problem(sandbox.delete("/v2/tokens/access"), 405)
