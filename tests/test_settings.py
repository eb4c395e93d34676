from __future__ import annotations

from pathlib import Path

import pytest

from tackbridge.settings import DEV_API_TOKEN, MissingSecretsError, Settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_production_refuses_without_secrets_and_names_them() -> None:
    with pytest.raises(MissingSecretsError) as info:
        _settings(mode="production").checked()
    message = str(info.value)
    for name in (
        "TACKBRIDGE_WEBHOOK_USERNAME",
        "TACKBRIDGE_WEBHOOK_PASSWORD",
        "TACKBRIDGE_API_TOKEN",
    ):
        assert name in message


def test_production_names_only_what_is_missing() -> None:
    with pytest.raises(MissingSecretsError) as info:
        _settings(mode="production", webhook_username="u", webhook_password="p").checked()
    assert info.value.missing == ["TACKBRIDGE_API_TOKEN"]


def test_custom_header_replaces_basic_credentials() -> None:
    settings = _settings(
        mode="production", webhook_header_name="X-Secret", webhook_header_value="v", api_token="t"
    ).checked()
    assert settings.webhook_username is None


def test_dev_mode_fills_development_values() -> None:
    settings = _settings(mode="dev").checked()
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == DEV_API_TOKEN
    assert settings.webhook_username


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TACKBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("TACKBRIDGE_API_TOKEN", "secret-token")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_database_url.endswith("x.db")
    assert "secret-token" not in repr(settings)


def test_default_database_is_sqlite_under_var() -> None:
    assert _settings().resolved_database_url == "sqlite:///var/tackbridge.db"


def test_secret_values_lists_every_secret_setting_that_is_set() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_password="pw-1",
        api_token="tok-1",
        coperniq_api_key="ck-1",
        webhook_username="not-a-secret",
    )
    found = set(settings.secret_values())
    assert {"pw-1", "tok-1", "ck-1"} <= found
    assert "not-a-secret" not in found
    copied = settings.model_copy(update={"thumbtack_client_secret": "cs-1"})
    assert "cs-1" in copied.secret_values()


def test_redacted_names_are_split_and_lower_cased() -> None:
    settings = Settings(_env_file=None, redact_names="X-Tenant-Pin, x-other  X-Third")  # type: ignore[call-arg]
    assert settings.redacted_names == {"x-tenant-pin", "x-other", "x-third"}
