"""``sandbox_command``: its help explains how to point an integration at the sandbox, every
option has a TACKBRIDGE_SANDBOX_* variable, and options become a valid config."""

from __future__ import annotations

import inspect

import pytest
import typer
from typer.testing import CliRunner

from tackbridge.sandbox.cli import build_config, sandbox_command


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
    with pytest.raises(typer.BadParameter):
        build_config(lead_rate=-1.0)
