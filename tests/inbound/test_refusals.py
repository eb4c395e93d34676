"""Done when: a flood of refused requests cannot grow the store: each client's first refusals
are kept with bounded headers and a bounded body prefix, past its budget it is answered 429
with Retry-After and only counted (one rate_limited entry per client and route), and a real
delivery from the same client is still accepted (before: 3,000 unauthenticated POSTs with
14 KB headers wrote 46 MB, a refused body kept up to 1 MiB)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select

from tackbridge.inbound.refusals import bound_headers, client_key
from tackbridge.store.schema import inbound_log, leads
from tests.support.store import count
from tests.support.tackbridge import in_process, make_settings

PAD = {"x-pad": "p" * 14_000}


def _store_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("tackbridge.db*"))


def test_an_unauthenticated_flood_is_kept_bounded_then_counted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, refusal_burst=20)
    with in_process(settings) as server:
        server.partner.post("/v1/lead", json={"leadID": "warm-up"})  # the store exists
        before = _store_bytes(tmp_path)
        statuses = []
        with server.client() as anonymous:
            for i in range(300):
                answer = anonymous.post(
                    "/v1/lead", json={"leadID": f"x{i}", "pad": "y" * 2000}, headers=PAD
                )
                statuses.append(answer.status_code)
                if answer.status_code == 429:
                    assert answer.headers["content-type"] == "application/problem+json"
                    assert int(answer.headers["retry-after"]) >= 1
        assert statuses[:20] == [401] * 20
        assert statuses[20:] == [429] * 280
        kept = server.operator.get("/api/inbound", params={"outcome": "unauthorized"}).json()
        assert len(kept["items"]) == 20
        entry = server.operator.get(f"/api/inbound/{kept['items'][0]['id']}").json()
        assert sum(len(k) + len(v) for k, v in entry["headers"].items()) < 4500
        assert entry["headers"]["x-pad"].endswith("more]")
        counts = server.operator.get("/api/inbound/refusals").json()
        assert {"route": "/v1/lead", "status": 401, "count": 300} in counts["items"]
        assert {"route": "/v1/lead", "status": 429, "count": 280} in counts["items"]
        assert (counts["limitedClients"], counts["pendingCounts"]) == (1, 280)
        # The same client with the right credentials: a real lead is never limited.
        lead = server.partner.post("/v1/lead", json={"leadID": "real"})
        assert (lead.status_code, lead.json()["status"]) == (200, "accepted")
        grown = _store_bytes(tmp_path) - before
    assert grown < 1024 * 1024  # 300 refusals of 16 KB each would be 5 MB
    # Stopping writes what was only counted: one entry for the client and route.
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        [summary] = conn.execute(
            select(inbound_log).where(inbound_log.c.outcome == "rate_limited")
        ).all()
    engine.dispose()
    assert summary.status_code == 429
    assert summary.route == "/v1/lead"
    assert summary.body is None
    assert summary.problem["count"] == 280
    assert summary.problem["statuses"] == {"401": 280}
    assert summary.problem["client"] == "127.0.0.1"
    assert count(settings, leads) == 2


def test_a_refused_body_keeps_only_a_prefix(tmp_path: Path) -> None:
    with in_process(make_settings(tmp_path)) as server:
        junk = b'{"leadID": "1", "pad": "' + b"z" * 500_000  # not JSON: never closed
        answer = server.partner.post(
            "/v1/lead", content=junk, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400
        entry = server.operator.get(f"/api/inbound/{answer.json()['inboundID']}").json()
    assert entry["bodySize"] == len(junk)
    assert entry["bodyTruncated"] is True
    assert entry["body"] == junk[:4096].decode()


def test_the_coperniq_webhook_limits_wrong_secrets_too(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, coperniq_webhook_secret="right", refusal_burst=3)
    with in_process(settings) as server, server.client() as anonymous:
        codes = [anonymous.post("/coperniq/webhooks/wrong", json={}).status_code for _ in range(6)]
    assert codes == [404] * 3 + [429] * 3
    assert count(settings, inbound_log) == 4  # three kept, one count of the other three


def test_client_keys_and_bounded_headers() -> None:
    assert client_key("203.0.113.9") == "203.0.113.9"
    assert client_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_key(None) == "unknown"
    many = {f"h{i}": "v" * 100 for i in range(100)}
    bounded = bound_headers(many, 1000)
    assert sum(len(k) + len(v) for k, v in bounded.items()) < 1100
    assert bounded["x-tackbridge-omitted"] == "91 header(s)"
