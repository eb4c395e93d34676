"""``coperniq.recordType`` ``project``: the lead becomes a Coperniq project (``/projects/**``),
found again by its lead-ID custom field on a retry, with its notes on the project."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tackbridge.crm.destinations.coperniq import (
    CoperniqChoice,
    CoperniqDestination,
    CoperniqOptions,
    CoperniqSettings,
    link_destination,
)
from tackbridge.leads.models import MessageReceived
from tests.crm.conftest import client_for
from tests.crm.test_coperniq_destination import lead
from tests.support.sandbox import COPERNIQ_KEY, Sandbox

API = "/coperniq/v1"


def records(sb: Sandbox, collection: str, lead_id: str) -> list[dict[str, Any]]:
    found = sb.get(f"{API}/{collection}", params={"page_size": 100}, headers=COPERNIQ_KEY).json()
    return [o for o in found if (o.get("custom") or {}).get("thumbtack_lead_id") == lead_id]


def test_the_link_names_the_record_type() -> None:
    assert link_destination("opportunity") == "coperniq"
    assert link_destination("project") == "coperniq:project"
    assert len(link_destination("project")) <= 16  # crm_links.destination is String(16)


def test_record_type_is_an_option_left_out_when_unset() -> None:
    assert "recordType" not in CoperniqChoice().model_dump()["coperniq"]
    chosen = CoperniqChoice(coperniq=CoperniqOptions(recordType="project"))
    assert chosen.model_dump()["coperniq"]["recordType"] == "project"


async def test_a_lead_becomes_one_project_even_on_a_retry(fresh: Sandbox) -> None:
    new = lead()
    async with client_for(fresh) as client:
        destination = CoperniqDestination(client, CoperniqSettings(record_type="project"))
        first = await destination.deliver_lead(new, idempotency_key="k", first_try=True)
        assert first.outcome == "created"
        assert first.destination == "coperniq:project"
        # A retry whose title would not match any more: only the look-up finds the project.
        again = await destination.deliver_lead(
            replace(new, customer_name="Someone Else"), idempotency_key="k"
        )
        assert again.outcome == "found"
        assert again.external_id == first.external_id
        message = MessageReceived(
            message_id="m1", source="v4", lead_id=new.lead_id, text="Thursday works"
        )
        note = await destination.deliver_message(
            message, idempotency_key="n", record_id=first.external_id
        )
        repeat = await destination.deliver_message(
            message, idempotency_key="n", record_id=first.external_id
        )
        assert repeat.outcome == "found"
        assert repeat.external_id == note.external_id
    [project] = records(fresh, "projects", new.lead_id)
    assert str(project["id"]) == first.external_id
    assert records(fresh, "opportunities", new.lead_id) == []
    notes = fresh.get(f"{API}/projects/{project['id']}/notes", headers=COPERNIQ_KEY).json()
    assert [n for n in notes["notes"] if "Thursday works" in n["note"]] != []
    assert len(notes["notes"]) == 1
