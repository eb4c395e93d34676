"""``tackbridge request create``, run as an operator would, with a demand connection made through
the real OAuth flow against the sandbox (which serves ``POST /api/v4/requests``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tackbridge.cli import app
from tests.support.connections import Stack, stack
from tests.support.sandbox import CLIENT, bearer, legacy_tokens

__all__ = ["stack"]

runner = CliRunner()
KITCHEN = "201565295100608806"  # the category of the Requests API's own example
DEMAND = "demand::negotiations.read demand::messages.write offline_access"


@pytest.fixture
def demand(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI pointed at the stack's store and sandbox; the ID of a demand connection."""
    business = stack.sandbox.business_ids()[2]
    back = stack.consent(business, "v4", scope=DEMAND)
    callback = stack.browser.get(back.headers["location"])
    assert callback.status_code == 200, callback.text
    assert stack.connection(business)["state"] == "active"

    key = stack.settings.secret_key
    assert key is not None
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": stack.settings.resolved_database_url,
        "SQLITE_SYNCHRONOUS": "NORMAL",
        "SECRET_KEY": key.get_secret_value(),
        "THUMBTACK_ENVIRONMENT": "sandbox",
        "THUMBTACK_BASE_URL": stack.sandbox.url,
        "THUMBTACK_CLIENT_ID": CLIENT[0],
        "THUMBTACK_CLIENT_SECRET": CLIENT[1],
    }.items():
        monkeypatch.setenv(f"TACKBRIDGE_{name}", value)
    return business


def create(connection: str, *args: str) -> Result:
    return runner.invoke(
        app, ["request", "create", "--as", connection, *args], env={"COLUMNS": "200"}
    )


def request_id_of(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.endswith(" created")]
    return line.removeprefix("request ").removesuffix(" created")


def leads_of(stack: Stack, request_id: str) -> dict[str, dict[str, Any]]:
    """The sandbox's leads of one request, by business."""
    return {
        lead["businessID"]: lead["lead"]
        for lead in stack.sandbox.inspect("leads")
        if lead["lead"]["request"]["requestID"] == request_id
    }


def test_request_reaches_the_chosen_business(stack: Stack, demand: str) -> None:
    pro = stack.sandbox.business_ids()[0]
    created = create(
        demand, "--business", pro, "--category", KITCHEN, "--description", "A new sink",
        "--zip", "94117",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "not contacted" not in created.output
    leads = leads_of(stack, request_id_of(created.output))
    assert list(leads) == [pro]
    assert leads[pro]["request"]["description"] == "A new sink"
    assert leads[pro]["request"]["location"]["zipCode"] == "94117"


def test_a_business_not_contacted_is_named(stack: Stack, demand: str) -> None:
    pro = stack.sandbox.business_ids()[0]
    created = create(demand, "--business", pro, "--business", "999", "--category", KITCHEN)
    assert created.exit_code == 2, created.output  # created, but not for every business
    assert "not contacted: 999 business not found" in created.output
    assert "1 business(es) not contacted" in created.output
    assert list(leads_of(stack, request_id_of(created.output))) == [pro]


def test_a_business_not_taking_requests_is_named_and_the_exit_status_says_so(
    stack: Stack, demand: str
) -> None:
    pro, other = stack.sandbox.business_ids()[:2]
    token = bearer(legacy_tokens(stack.sandbox, other, "targeting")["access_token"])
    off = stack.sandbox.patch(
        f"/v3/accounts/~/services/{other}/preferences/targeting",
        json={"enabled": False},
        headers=token,
    )
    assert off.status_code == 200, off.text
    created = create(demand, "--business", pro, "--business", other, "--category", KITCHEN)
    assert created.exit_code == 2, created.output
    assert f"not contacted: {other} business is not taking requests" in created.output
    assert list(leads_of(stack, request_id_of(created.output))) == [pro]


def test_a_refused_request_exits_1_with_the_problem(stack: Stack, demand: str) -> None:
    before = len(stack.sandbox.inspect("leads"))
    pro = stack.sandbox.business_ids()[0]
    refused = create(demand, "--business", pro, "--category", "1")
    assert refused.exit_code == 1, refused.output
    assert "unknown categoryID 1" in refused.output
    unknown = create("12345", "--business", pro, "--category", KITCHEN)
    assert unknown.exit_code == 1, unknown.output
    assert "12345" in unknown.output
    assert "connection" in unknown.output
    assert len(stack.sandbox.inspect("leads")) == before


def test_a_request_no_business_takes_exits_1_naming_each(stack: Stack, demand: str) -> None:
    nobody = create(demand, "--business", "998", "--business", "999", "--category", KITCHEN)
    assert nobody.exit_code == 1, nobody.output
    assert "not contacted: 998" in nobody.output
    assert "not contacted: 999" in nobody.output
    assert "no business could be sent the request" in nobody.output
    assert "created" not in nobody.output
