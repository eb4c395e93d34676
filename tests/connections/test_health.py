from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tackbridge.connections.health import missing_scopes, purge_at, token_health, webhook_health
from tackbridge.connections.store import ConnectionRow

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ROW = ConnectionRow(
    business_id="B1",
    business_name="Ace",
    api="v4",
    state="active",
    scopes=("supply::messages.write", "offline_access"),
    access_token="sealed-a",
    refresh_token="sealed-r",
    access_expires_at=NOW + timedelta(minutes=40),
    refresh_expires_at=NOW + timedelta(days=30),
    token_version=1,
    refresh_started_at=None,
    refresh_owner=None,
    webhook_id="wh1",
    last_error=None,
    connected_at=NOW - timedelta(days=1),
    updated_at=NOW,
    disconnected_at=None,
)


def test_token_health() -> None:
    assert token_health(ROW, NOW).level == "ok"
    assert "40 min left" in token_health(ROW, NOW).text
    expired = replace(ROW, access_expires_at=NOW - timedelta(seconds=1))
    assert token_health(expired, NOW).text == "access token expired; refreshed on the next call"
    assert token_health(replace(expired, refresh_token=None), NOW).level == "bad"
    gone = replace(expired, refresh_expires_at=NOW)
    assert token_health(gone, NOW).text == "refresh token expired: reconnect"
    assert token_health(replace(ROW, refresh_owner="w1"), NOW).text == "refreshing now"
    broken = replace(ROW, state="needs_reconnect", last_error={"detail": "invalid_grant"})
    assert token_health(broken, NOW).text == "needs reconnecting: invalid_grant"
    assert token_health(replace(ROW, state="disconnected"), NOW).level == "off"


def test_a_member_of_an_account_shares_its_holders_health() -> None:
    member = replace(ROW, business_id="B2", grant_of="B1", access_token=None, refresh_token=None)
    assert token_health(member, NOW, ROW).text.endswith("(the account's grant)")
    assert token_health(member, NOW, ROW).level == "ok"
    assert token_health(member, NOW, replace(ROW, state="disconnected")).level == "bad"
    assert token_health(member, NOW, None).level == "bad"


def test_webhook_health() -> None:
    assert webhook_health(ROW).text == "registered (wh1)"
    pending = replace(ROW, webhook_id=None)
    assert webhook_health(pending).level == "warn"
    failed = replace(pending, webhook_error="webhook not registered: missing scope x")
    assert webhook_health(failed).text == "webhook not registered: missing scope x"
    assert webhook_health(replace(ROW, enabled=False)).text == "removed (business disabled)"
    assert webhook_health(replace(ROW, api="legacy")).level == "off"


def test_purge_date_and_missing_scopes() -> None:
    assert purge_at(ROW, 5) is None
    gone = replace(ROW, state="disconnected", disconnected_at=NOW)
    assert purge_at(gone, 5) == NOW + timedelta(days=5)
    assert missing_scopes(ROW, ["supply::messages.write", "supply::webhooks.write"]) == [
        "supply::webhooks.write"
    ]
