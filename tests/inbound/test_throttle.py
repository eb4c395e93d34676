"""Repeated wrong credentials are slowed per client address and per account, over real HTTP on
loopback (each client its own source address in 127/8), on every credential surface: partner
Basic, the v4 webhook header, the operator token, Coperniq's webhook path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from tackbridge.app import create_app, server_options
from tackbridge.core.throttle import FailureThrottle
from tackbridge.settings import Settings
from tests.fixtures import doc_payload
from tests.support.servers import serve
from tests.support.tackbridge import (
    API_TOKEN,
    WEBHOOK_AUTH,
    RunningServer,
    make_settings,
    running,
)

ALLOWED = 3
HEADER = ("X-Tackbridge-Secret", "s3cret-value")
COPERNIQ = "copern1q-path-secret"


# Every surface whose throttle these tests reach.
SURFACES = ("partner", "operator", "coperniq")


@contextmanager
def running_still(settings: Settings) -> Iterator[RunningServer]:
    """The server, its throttles' clock stopped: the first lock lasts 1 s, and a refusal that
    is logged before it is answered (a commit, an fsync) can take longer than that on a loaded
    machine, so that the guess after it would find the lock already over. How long locks last
    is ``tests/core/test_throttle.py``'s; these tests are about which requests count."""
    app = create_app(settings)
    with serve(app, **server_options(settings)) as url:
        svc = app.state.services
        for surface in SURFACES:
            still = FailureThrottle(
                allowed=settings.auth_failures_allowed,
                window=settings.auth_failure_window_seconds,
                max_wait=settings.auth_lockout_max_seconds,
                clock=lambda: 1_000.0,
            )
            assert svc.shared(f"throttle.{surface}", lambda still=still: still) is still
        with (
            httpx2.Client(base_url=url, auth=WEBHOOK_AUTH, timeout=30) as partner,
            httpx2.Client(
                base_url=url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
            ) as operator,
        ):
            yield RunningServer(url, settings, partner, operator)


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path,
        auth_failures_allowed=ALLOWED,
        webhook_header_name=HEADER[0],
        webhook_header_value=HEADER[1],
        coperniq_webhook_secret=COPERNIQ,
    )
    with running_still(settings) as server:
        yield server


@contextmanager
def client_at(srv: RunningServer, address: str, **kwargs: object) -> Iterator[httpx2.Client]:
    """A client whose connections come from ``address`` (any of 127/8 reaches the server)."""
    transport = httpx2.HTTPTransport(local_address=address)
    with httpx2.Client(base_url=srv.url, transport=transport, timeout=30, **kwargs) as client:  # type: ignore[arg-type]
        yield client


def lead() -> dict[str, object]:
    return doc_payload("v2_lead")


def assert_slowed(answer: httpx2.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert int(answer.headers["retry-after"]) >= 1


def test_wrong_partner_passwords_are_slowed_per_client(srv: RunningServer) -> None:
    with (
        client_at(srv, "127.0.0.11", auth=(WEBHOOK_AUTH[0], "guess")) as guesser,
        client_at(srv, "127.0.0.11", auth=WEBHOOK_AUTH) as same_address,
        client_at(srv, "127.0.0.12", auth=WEBHOOK_AUTH) as real,
    ):
        assert real.post("/v1/lead", json=lead()).status_code == 200  # the sender, seen before
        for _ in range(ALLOWED):
            assert guesser.post("/v1/lead", json=lead()).status_code == 401
        assert_slowed(guesser.post("/v1/lead", json=lead()))
        # Locked: even the right password is not checked from that address...
        assert_slowed(same_address.post("/v1/lead", json=lead()))
        # ... while the real sender, elsewhere, is not slowed by another's failures.
        assert real.post("/v1/lead", json=lead()).status_code == 200
    # A locked client's attempts are not stored (nothing to inspect but its 401s).
    refused = srv.operator.get("/api/inbound", params={"outcome": "unauthorized"}).json()
    assert len([e for e in refused["items"] if e["statusCode"] == 401]) >= ALLOWED


def test_an_account_guessed_from_many_addresses_is_slowed_for_new_clients(
    srv: RunningServer,
) -> None:
    account = "partner-account"
    with client_at(srv, "127.0.0.20", auth=WEBHOOK_AUTH) as trusted:
        assert trusted.post("/v1/lead", json=lead()).status_code == 200
        for i in range(ALLOWED):  # one guess from each of several addresses
            with client_at(srv, f"127.0.1.{i + 1}", auth=(account, "guess")) as one:
                assert one.post("/v1/lead", json=lead()).status_code == 401
        with client_at(srv, "127.0.1.99", auth=(account, "guess")) as another:
            assert_slowed(another.post("/v1/lead", json=lead()))
        with client_at(srv, "127.0.1.98", auth=("other-account", "guess")) as other:
            assert other.post("/v1/lead", json=lead()).status_code == 401  # its own count


def test_the_trusted_sender_is_not_locked_out_by_guesses_at_its_account(
    srv: RunningServer,
) -> None:
    with client_at(srv, "127.0.0.30", auth=WEBHOOK_AUTH) as real:
        assert real.post("/v1/lead", json=lead()).status_code == 200
        for i in range(ALLOWED + 2):
            with client_at(srv, f"127.0.2.{i + 1}", auth=(WEBHOOK_AUTH[0], "guess")) as one:
                assert one.post("/v1/lead", json=lead()).status_code in (401, 429)
        with client_at(srv, "127.0.2.99", auth=WEBHOOK_AUTH) as newcomer:
            assert_slowed(newcomer.post("/v1/lead", json=lead()))
        assert real.post("/v1/lead", json=lead()).status_code == 200


def test_wrong_webhook_header_values_are_slowed(srv: RunningServer) -> None:
    payload = doc_payload("v4_negotiation_created")
    with client_at(srv, "127.0.0.40") as guesser, client_at(srv, "127.0.0.41") as real:
        assert real.post("/v4/webhooks", json=payload, headers=dict([HEADER])).status_code == 200
        for _ in range(ALLOWED):
            wrong = guesser.post("/v4/webhooks", json=payload, headers={HEADER[0]: "nope"})
            assert wrong.status_code == 401
        assert_slowed(guesser.post("/v4/webhooks", json=payload, headers={HEADER[0]: "nope"}))
        assert real.post("/v4/webhooks", json=payload, headers=dict([HEADER])).status_code == 200


def test_missing_credentials_are_not_counted_as_guesses(srv: RunningServer) -> None:
    with client_at(srv, "127.0.0.50") as anonymous:
        for _ in range(ALLOWED + 2):
            assert anonymous.post("/v1/lead", json=lead()).status_code == 401
            assert anonymous.get("/api/leads").status_code == 401


def test_wrong_operator_tokens_are_slowed(srv: RunningServer) -> None:
    good = {"Authorization": f"Bearer {API_TOKEN}"}
    with (
        client_at(srv, "127.0.0.60", headers={"Authorization": "Bearer guess"}) as guesser,
        client_at(srv, "127.0.0.61", headers=good) as operator,
    ):
        assert operator.get("/api/leads").status_code == 200
        for _ in range(ALLOWED):
            assert guesser.get("/api/leads").status_code == 401
        slowed = guesser.get("/api/leads")
        assert_slowed(slowed)
        assert "guess" not in slowed.text
        assert guesser.get("/api/leads", headers=good).status_code == 429
        assert operator.get("/api/leads").status_code == 200


def test_guessed_coperniq_webhook_paths_are_slowed(srv: RunningServer) -> None:
    event = {
        "event": {"eventId": "e-1", "recordId": 1, "triggerKey": "DEAL_STATUS_MOVEMENT"},
        "record": {"id": 1, "type": "opportunity"},
    }
    with client_at(srv, "127.0.0.70") as guesser, client_at(srv, "127.0.0.71") as coperniq:
        assert coperniq.post(f"/coperniq/webhooks/{COPERNIQ}", json=event).status_code == 200
        for i in range(ALLOWED):
            assert guesser.post(f"/coperniq/webhooks/guess{i}", json=event).status_code == 404
        assert_slowed(guesser.post("/coperniq/webhooks/guess", json=event))
        assert coperniq.post(f"/coperniq/webhooks/{COPERNIQ}", json=event).status_code == 200


def test_the_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth_failures_allowed=1, auth_lockout_max_seconds=7)
    assert settings.auth_failures_allowed == 1
    # The product's own throttle (not a stopped one): its limits are what is tested here.
    with running(settings) as server, client_at(server, "127.0.0.80", auth=("x", "y")) as guess:
        assert guess.post("/v1/lead", json=lead()).status_code == 401
        assert_slowed(guess.post("/v1/lead", json=lead()))
