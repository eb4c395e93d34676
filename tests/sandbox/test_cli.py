"""``tackbridge sandbox``: its help explains how to point an integration at the sandbox, every
option has a TACKBRIDGE_SANDBOX_* variable, options become a valid config, and the installed
command serves a sandbox."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
import typer
from typer.testing import CliRunner

from tackbridge.sandbox.cli import build_config, sandbox_command
from tests.support.sandbox import wait_until
from tests.support.servers import free_port


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("sandbox")(sandbox_command)

    @app.command()
    def other() -> None:  # a second command keeps "sandbox" a subcommand
        pass

    return app


def test_help_documents_pointing_an_integration_at_it() -> None:
    result = CliRunner().invoke(_app(), ["sandbox", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in (
        "/api/v4",
        "/coperniq/v1",
        "/services/partner-connect/",
        "--partner-url",
        "TACKBRIDGE_SANDBOX_",
    ):
        assert text in result.output


def test_every_option_has_an_environment_variable() -> None:
    for name, parameter in inspect.signature(sandbox_command).parameters.items():
        option = (
            parameter.annotation.__metadata__[0]
            if hasattr(parameter.annotation, "__metadata__")
            else None
        )
        if option is None:
            from typing import get_type_hints

            option = get_type_hints(sandbox_command, include_extras=True)[name].__metadata__[0]
        assert option.envvar == "TACKBRIDGE_SANDBOX_" + name.upper().replace(
            "REDIRECT_URI", "REDIRECT_URIS"
        )


def test_build_config() -> None:
    config = build_config(partner_url="http://127.0.0.1:8000", lead_rate=6.0, seed=3)
    assert config.scenario_autostart
    assert config.seed == 3
    assert config.delivery_style == "v4"
    assert build_config(delivery_style="legacy").delivery_style == "legacy"
    assert config.delivery_shapes == "real"
    assert build_config(delivery_shapes="docs").delivery_shapes == "docs"
    with pytest.raises(typer.BadParameter):
        build_config(lead_rate=-1.0)
    raised = build_config(coperniq_rate_per_second=2000, coperniq_rate_per_day=10**7)
    assert (raised.coperniq_rate_per_second, raised.coperniq_rate_per_day) == (2000, 10**7)
    with pytest.raises(typer.BadParameter):
        build_config(coperniq_rate_per_second=0)


def test_main_cli_runs_sandbox_help() -> None:
    from tackbridge.cli import app

    result = CliRunner().invoke(app, ["sandbox", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in (
        "B/api/v4",
        "B/oauth2/auth",
        "B/oauth2/token",
        "B/coperniq/v1",
        "tackbridge-dev / dev-client-secret",
        "dev-coperniq-key",
        "--coperniq-webhook-url",
        "TACKBRIDGE_SANDBOX_COPERNIQ_WEBHOOK_URL",
    ):
        assert text in result.output


def test_installed_command_serves_a_sandbox_configured_from_the_environment() -> None:
    """The real ``tackbridge sandbox`` process, configured only through environment variables."""
    command = Path(sys.executable).parent / "tackbridge"
    port = free_port()
    env = {
        **os.environ,
        "TACKBRIDGE_SANDBOX_PORT": str(port),
        "TACKBRIDGE_SANDBOX_LEAD_RATE": "0",
        "TACKBRIDGE_SANDBOX_COPERNIQ_API_KEY": "key-from-env",
        "TACKBRIDGE_SANDBOX_COPERNIQ_WEBHOOK_URL": "http://127.0.0.1:9/hooks",
        "TACKBRIDGE_SANDBOX_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [str(command), "sandbox"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(timeout=5.0) as http:

            def up() -> bool:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                try:
                    return http.get(base + "/_sandbox/summary").status_code == 200
                except httpx2.TransportError:
                    return False

            wait_until(up, timeout=30.0)
            key = "/coperniq/v1/workflows"
            assert http.get(base + key, headers={"x-api-key": "key-from-env"}).status_code == 200
            assert (
                http.get(base + key, headers={"x-api-key": "dev-coperniq-key"}).status_code == 401
            )
            config = http.get(base + "/_sandbox/config").json()
            assert config["coperniqWebhookURL"] == "http://127.0.0.1:9/hooks"
            assert "key-from-env" not in json.dumps(config)
    finally:
        process.terminate()
        process.wait(timeout=15)
