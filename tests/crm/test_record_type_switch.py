"""A business switched from opportunities to projects: its earlier leads stay linked as
opportunities (``coperniq``), so their later notes (messages, reviews) go to those
opportunities, not to a project search that finds nothing; its new leads become projects.
Both sides over HTTP, as ``make run`` wires them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Stack, make_stack
from tests.e2e.test_lead_to_crm import FAST, LEAD_KEY

__all__ = ["make_stack"]  # the fixture, used by name below

KEY = {"x-api-key": "dev-coperniq-key"}


def records(stack: Stack, collection: str, lead_id: str) -> list[dict[str, Any]]:
    found = stack.sandbox.get(
        f"/coperniq/v1/{collection}", params={"page_size": 100}, headers=KEY
    ).json()
    return [o for o in found if (o.get("custom") or {}).get(LEAD_KEY) == lead_id]


def notes(stack: Stack, collection: str, record_id: int) -> list[str]:
    answer = stack.sandbox.get(f"/coperniq/v1/{collection}/{record_id}/notes", headers=KEY)
    assert answer.status_code == 200, answer.text
    return [n["note"] for n in answer.json()["notes"]]


def all_done(stack: Stack, kind: str) -> bool:
    items = stack.operator.get("/api/jobs", params={"kind": kind}).json()["items"]
    states = [j["state"] for j in items]
    assert "dead" not in states, items
    return bool(states) and all(state == "done" for state in states)


def jobs_of(stack: Stack, kind: str, lead_id: str) -> list[dict[str, Any]]:
    items = stack.operator.get("/api/jobs", params={"kind": kind}).json()["items"]
    return [j for j in items if lead_id in j["idempotencyKey"]]


def test_earlier_leads_keep_their_record_type_after_a_switch(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(**FAST)
    business = stack.business_ids()[0]
    assert stack.connect(business) == business
    earlier = stack.new_lead(business)
    stack.wait(lambda: records(stack, "opportunities", earlier))
    [opportunity] = records(stack, "opportunities", earlier)

    put = stack.operator.put(
        f"/api/businesses/{business}/destination",
        json={"kind": "coperniq", "coperniq": {"recordType": "project"}},
    )
    assert put.status_code == 200, put.text

    # A customer message and a review of the earlier lead, after the switch.
    text = "Can we move it to Friday?"
    sent = stack.sandbox.post(
        f"/_sandbox/leads/{earlier}/messages", json={"from": "Customer", "text": text}
    )
    assert sent.status_code == 201, sent.text
    reviewed = stack.sandbox.post(f"/_sandbox/leads/{earlier}/reviews", json={"rating": 4})
    assert reviewed.status_code in (200, 201), reviewed.text
    on_opportunity = lambda: notes(stack, "opportunities", opportunity["id"])  # noqa: E731
    stack.wait(lambda: [n for n in on_opportunity() if text in n])
    stack.wait(lambda: [n for n in on_opportunity() if "Thumbtack review from" in n and "4/5" in n])
    # A note is at the destination a moment before its job's settle is committed: waited for,
    # not read at once (a job still ``running`` here is not a failure).
    for kind in ("crm.message", "crm.review"):
        stack.wait(lambda kind=kind: all_done(stack, kind))
    # Nothing of the earlier lead went to (or looked for) a project.
    assert records(stack, "projects", earlier) == []

    # A replay of the earlier lead's delivery finds its opportunity: no project is made.
    [job] = jobs_of(stack, "crm.lead", earlier)
    assert stack.operator.post(f"/api/jobs/{job['id']}/retry").status_code == 200
    stack.wait(lambda: stack.operator.get(f"/api/jobs/{job['id']}").json()["state"] == "done")
    assert records(stack, "projects", earlier) == []
    assert len(records(stack, "opportunities", earlier)) == 1

    # A lead after the switch becomes a project.
    later = stack.new_lead(business)
    stack.wait(lambda: records(stack, "projects", later))
    assert records(stack, "opportunities", later) == []
