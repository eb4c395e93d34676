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
