"""The Coperniq client against the sandbox's Coperniq over HTTP, its typed errors (never
showing the key), the wire format of a create (pinned with a mock transport) and the limiter."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from tackbridge.crm.coperniq_client import ContactCreate, CoperniqClient, SearchFilter
from tackbridge.crm.errors import (
    CoperniqAuthError,
    CoperniqNotFoundError,
    CoperniqRateLimitedError,
    CoperniqValidationError,
    CrmNetworkError,
    CrmPermanentError,
    CrmRetryableError,
    CrmServerError,
    CrmUnexpectedResponseError,
    DailyBudgetExhaustedError,
)
from tackbridge.crm.limiter import RateLimiter
from tackbridge.payloads.coperniq import OpportunityCreate
from tests.crm.conftest import client_for
from tests.support.sandbox import Sandbox


def body(**extra: object) -> OpportunityCreate:
    return OpportunityCreate.model_validate(
        {
            "title": f"Kitchen Remodel - {secrets.token_hex(4)}",
            "address": ["1450 Haight Street, San Francisco, CA 94117"],
            "trades": ["Remodeling"],
            **extra,
        }
    )


async def test_opportunity_create_search_get_patch(client: CoperniqClient) -> None:
    lead_id = secrets.token_hex(6)
    created = await client.create_opportunity(
        body(custom={"thumbtack_lead_id": lead_id}), match_by="title"
    )
    assert created.city == "San Francisco"
    found = await client.search_opportunities(SearchFilter("thumbtack_lead_id", "eq", lead_id))
    assert [o.id for o in found] == [created.id]
    both = await client.search_opportunities(
        SearchFilter("thumbtack_lead_id", "eq", lead_id),
        SearchFilter("title", "contains", "kitchen"),
    )
    assert [o.id for o in both] == [created.id]
    fetched = await client.get_opportunity(created.id)
    assert fetched.custom == {"thumbtack_lead_id": lead_id}
    patched = await client.patch_opportunity(created.id, {"custom": {"lead_price": 25.5}})
    assert patched.custom == {"thumbtack_lead_id": lead_id, "lead_price": 25.5}
    listed = await client.list_opportunities(page_size=100)
    assert created.id in {o.id for o in listed}


async def test_match_params_reach_coperniq(client: CoperniqClient) -> None:
    first = await client.create_opportunity(body(primaryPhone="415-555-0199"))
    again = await client.create_opportunity(
        body(primaryPhone="(415) 555 0199", description="second"),
        match_by="primaryPhone",
        match_found_strategy="enrich",
    )
    assert again.id == first.id
    assert again.description == "second"  # enrich filled the empty field


async def test_allow_new_options(client: CoperniqClient) -> None:
    new_option = body(custom={"lead_source": f"Thumbtack {secrets.token_hex(2)}"})
    with pytest.raises(CoperniqValidationError) as refused:
        await client.create_opportunity(new_option)
    assert refused.value.field == "custom.lead_source"
    assert not refused.value.retryable
    created = await client.create_opportunity(new_option, allow_new_options=True)
    assert created.custom["lead_source"] == (new_option.custom or {})["lead_source"]


async def test_contacts_notes_properties_workflows(client: CoperniqClient) -> None:
    phone = f"415{secrets.randbelow(10**7):07d}"
    assert await client.find_contact_by_phone(phone) is None
    contact = await client.create_contact(ContactCreate(name="Olivia Y.", phones=[phone]))
    found = await client.find_contact_by_phone(f"+1 ({phone[:3]}) {phone[3:6]}-{phone[6:]}")
    assert found is not None
    assert found.id == contact.id
    opportunity = await client.create_opportunity(body(contacts=[contact.id]))
    note = await client.create_note(opportunity.id, "first call went well")
    assert [n.id for n in await client.list_notes(opportunity.id)] == [note.id]
    keys = {p.keyName for p in await client.list_properties()}
    assert "thumbtack_lead_id" in keys
    workflows = await client.list_workflows()
    assert workflows
    assert (await client.get_workflow(workflows[0].id)).phases


async def test_project_and_opportunity_phases_read_in_the_documents_shapes(
    client: CoperniqClient,
) -> None:
    # A project's phase (ProjectPhase) names its instance and template, an opportunity's
    # (OpportunityPhase) has the template's id: both read, the template the same way.
    made = await client.create_opportunity(body(workflowId=1), record_type="project")
    assert made.phase is not None
    assert made.phase.id is None
    assert made.phase.template_id == 11
    assert made.phase.instanceId is not None
    assert made.phase.redSla == 2
    got = await client.get_project(made.id)
    assert [i.phaseTemplateId for i in got.phaseInstances][:2] == [11, 12]
    opportunity = await client.create_opportunity(body(workflowId=1))
    assert opportunity.phase is not None
    assert opportunity.phase.template_id == opportunity.phase.id == 11
    assert opportunity.city == "San Francisco"
    [workflow] = [w for w in await client.list_workflows() if w.id == 1]
    assert (workflow.phases[0].redSla, workflow.phases[0].yellowSla) == (2, 1)


async def test_older_shapes_still_read() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            json={
                "id": 1,
                "createdAt": "2024-01-01T00:00:00Z",
                "updatedAt": "2024-01-01T00:00:00Z",
                "title": "t",
                "number": 1,
                "city": None,
                "createdById": 3,
                "phase": {"id": 11, "name": "New lead", "type": "LEAD"},
            },
        )

    async with pinned(handler) as c:
        got = await c.get_opportunity(1)
    assert got.phase is not None
    assert got.phase.template_id == 11
    assert got.createdById == 3


async def test_errors_are_typed(client: CoperniqClient) -> None:
    with pytest.raises(CoperniqNotFoundError):
        await client.get_opportunity(999_999_999)
    with pytest.raises(CoperniqValidationError) as bad:
        await client.search_opportunities(SearchFilter("no_such_prop", "eq", "1"))
    assert bad.value.field == "prop1"
    assert isinstance(bad.value, CrmPermanentError)


async def test_wrong_key_error_never_shows_it(sandbox: Sandbox) -> None:
    key = "wrong-key-" + secrets.token_hex(8)
    async with client_for(sandbox, key) as wrong:
        with pytest.raises(CoperniqAuthError) as error:
            await wrong.list_workflows()
        assert key not in str(error.value)
        assert key not in repr(wrong)
        assert error.value.status == 401


async def test_429_and_5xx_are_retryable_with_retry_after(
    fresh: Sandbox, fresh_client: CoperniqClient
) -> None:
    fresh.faults(rate_limit_rate=1.0, retry_after_seconds=7)
    with pytest.raises(CoperniqRateLimitedError) as limited:
        await fresh_client.list_workflows()
    assert limited.value.retryable
    assert limited.value.retry_after == 7
    fresh.faults(rate_limit_rate=0.0, error_rate=1.0)
    with pytest.raises(CrmServerError) as failed:
        await fresh_client.list_workflows()
    assert isinstance(failed.value, CrmRetryableError)
    assert failed.value.code == "SERVICE_UNAVAILABLE"
    fresh.faults(error_rate=0.0, drop_rate=1.0)
    with pytest.raises(CrmNetworkError):
        await fresh_client.list_workflows()


async def test_sandbox_per_second_limit_maps_to_rate_limited(start: object) -> None:
    sb = start(coperniq_rate_per_second=2)  # type: ignore[operator]
    async with client_for(sb) as c:
        errors = []
        for _ in range(50):  # enough that three land in one second on any machine
            try:
                await c.list_workflows()
            except CoperniqRateLimitedError as exc:
                errors.append(exc)
                break
        assert errors, "the sandbox allows two calls a second"
        assert errors[0].limit == 2
        assert errors[0].remaining == 0
        assert errors[0].retry_after == 1


def pinned(handler: object) -> CoperniqClient:
    transport = httpx2.MockTransport(handler)  # type: ignore[arg-type]
    return CoperniqClient(
        "secret-key-123", base_url="https://api.test/v1", transport=transport, limiter=RateLimiter()
    )


async def test_create_wire_format() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(
            200,
            json={
                "id": 1,
                "createdAt": "2024-01-01T00:00:00Z",
                "updatedAt": "2024-01-01T00:00:00Z",
                "title": "t",
                "number": 1,
            },
        )

    async with pinned(handler) as c:
        await c.create_opportunity(
            body(), match_by="primaryPhone", match_found_strategy="enrich", allow_new_options=True
        )
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == "/v1/opportunities"
    assert dict(request.url.params) == {
        "match_by": "primaryPhone",
        "match_found_strategy": "enrich",
        "allow_new_options": "true",
    }
    assert request.headers["x-api-key"] == "secret-key-123"
    sent = json.loads(request.content)
    assert set(sent) == {"title", "address", "trades"}  # no nulls sent


async def test_error_body_echoing_the_key_is_scrubbed() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            400, json={"message": "bad key secret-key-123", "code": "VALIDATION_ERROR"}
        )

    async with pinned(handler) as c:
        with pytest.raises(CoperniqValidationError) as error:
            await c.list_workflows()
    assert "secret-key-123" not in str(error.value)
    assert error.value.code == "VALIDATION_ERROR"


async def test_unexpected_shape_is_retryable_and_quotes_nothing() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=[{"id": "not-a-number-secret-key-123"}])

    async with pinned(handler) as c:
        with pytest.raises(CrmUnexpectedResponseError) as error:
            await c.list_workflows()
    assert "secret-key-123" not in str(error.value)


class FakeTime:
    def __init__(self) -> None:
        self.mono = 0.0
        self.wall = datetime(2024, 6, 13, 23, 0, tzinfo=UTC)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


async def test_limiter_paces_to_the_per_second_limit() -> None:
    clock = FakeTime()
    limiter = RateLimiter(
        3, 1000, monotonic=lambda: clock.mono, now=lambda: clock.wall, sleep=clock.sleep
    )
    for _ in range(3):
        await limiter.acquire()
    assert clock.slept == []
    await limiter.acquire()
    assert clock.slept == [1.0]
    assert limiter.used_today == 4


async def test_limiter_daily_budget_says_when_it_resets() -> None:
    clock = FakeTime()
    limiter = RateLimiter(
        100, 2, monotonic=lambda: clock.mono, now=lambda: clock.wall, sleep=clock.sleep
    )
    await limiter.acquire()
    await limiter.acquire()
    with pytest.raises(DailyBudgetExhaustedError) as spent:
        await limiter.acquire()
    assert spent.value.retryable
    assert spent.value.resets_at == datetime(2024, 6, 14, tzinfo=UTC)
    assert spent.value.retry_after == 3600
    clock.wall += timedelta(hours=1)
    await limiter.acquire()  # a new day, a new budget
    assert limiter.used_today == 1


async def test_client_stops_at_the_daily_budget_before_calling() -> None:
    calls: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        return httpx2.Response(200, json=[])

    transport = httpx2.MockTransport(handler)
    async with CoperniqClient(
        "k" * 8, base_url="https://api.test/v1", transport=transport, limiter=RateLimiter(100, 1)
    ) as c:
        await c.list_workflows()
        with pytest.raises(DailyBudgetExhaustedError):
            await c.list_workflows()
    assert len(calls) == 1
