"""Coperniq under /coperniq/v1: auth, opportunities with matching and validation, contacts,
notes, properties, workflows, rate limits and automation webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.sandbox import COPERNIQ_KEY, Partner, Sandbox, wait_until

API = "/coperniq/v1"


def opp(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Kitchen Remodel - Olivia Y.",
        "address": ["1450 Haight Street, San Francisco, CA 94117"],
        "trades": ["Remodeling"],
        **extra,
    }


def create(sb: Sandbox, body: dict[str, Any], **params: str) -> Any:
    return sb.post(f"{API}/opportunities", json=body, params=params, headers=COPERNIQ_KEY)


def is_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["message"]
    if field is not None:
        assert body["field"] == field
    return body


def unique(title: str) -> str:
    import secrets

    return f"{title} {secrets.token_hex(4)}"


def test_auth_is_required(sandbox: Sandbox) -> None:
    is_error(sandbox.get(f"{API}/opportunities"), 401, "UNAUTHORIZED")
    is_error(
        sandbox.get(f"{API}/opportunities", headers={"x-api-key": "wrong"}), 401, "UNAUTHORIZED"
    )


def test_create_returns_the_record_with_sequential_numbers(sandbox: Sandbox) -> None:
    first = create(sandbox, opp(title=unique("A"), value=1200, confidence=40))
    second = create(sandbox, opp(title=unique("B")))
    assert first.status_code == 200
    assert first.headers["x-sandbox-match"] == "created"
    a, b = first.json(), second.json()
    assert b["number"] == a["number"] + 1
    assert a["city"] == "San Francisco"
    assert a["state"] == "CA"
    assert a["zipcode"] == "94117"
    assert a["street"] == "1450 Haight Street"
    assert a["status"] == "ACTIVE"
    assert a["isActive"] is True
    assert a["value"] == 1200
    assert a["confidence"] == 40
    assert sandbox.get(f"{API}/opportunities/{a['id']}", headers=COPERNIQ_KEY).json() == a


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": ["x"], "trades": ["a"]}, "title"),
        ({"title": "t", "trades": ["a"]}, "address"),
        ({"title": "t", "address": ["x"]}, "trades"),
        (opp(address="1 Main St"), "address"),
        (opp(address=["a", "b"]), "address"),
        (opp(trades=[]), "trades"),
        (opp(status="OPEN"), "status"),
        (opp(confidence=101), "confidence"),
        (opp(value="lots"), "value"),
        (opp(primaryEmail="not-an-email"), "primaryEmail"),
        (opp(workflowId=999), "workflowId"),
        (opp(workflowId=2, phaseId=11), "phaseId"),
        (opp(contacts=[424242]), "contacts"),
        (opp(custom={"no_such_key": 1}), "custom.no_such_key"),
        (opp(custom={"lead_price": "cheap"}), "custom.lead_price"),
    ],
)
def test_create_validation(sandbox: Sandbox, body: dict[str, Any], field: str) -> None:
    is_error(create(sandbox, body), 400, "VALIDATION_ERROR", field)


def test_create_rejects_bad_json_and_bad_query(sandbox: Sandbox) -> None:
    bad = sandbox.post(
        f"{API}/opportunities",
        content=b"{,}",
        headers={**COPERNIQ_KEY, "content-type": "application/json"},
    )
    is_error(bad, 400, "INVALID_JSON")
    is_error(
        sandbox.post(f"{API}/opportunities", json=[1], headers=COPERNIQ_KEY), 400, "INVALID_JSON"
    )
    is_error(create(sandbox, opp(), match_by="name"), 400, "VALIDATION_ERROR", "match_by")
    is_error(
        create(sandbox, opp(), match_found_strategy="merge"),
        400,
        "VALIDATION_ERROR",
        "match_found_strategy",
    )
    is_error(
        create(sandbox, opp(), allow_new_options="maybe"),
        400,
        "VALIDATION_ERROR",
        "allow_new_options",
    )


def test_match_by_title_skip_replace_enrich(sandbox: Sandbox) -> None:
    title = unique("Match")
    original = create(sandbox, opp(title=title, description="first", value=100)).json()
    skipped = create(sandbox, opp(title=title.upper(), description="second"))
    assert skipped.headers["x-sandbox-match"] == "skipped"
    assert skipped.json()["id"] == original["id"]
    assert skipped.json()["description"] == "first"
    enriched = create(
        sandbox, opp(title=title, description="third", size=3), match_found_strategy="enrich"
    ).json()
    assert enriched["description"] == "first"
    assert enriched["size"] == 3
    assert enriched["value"] == 100
    replaced = create(
        sandbox, opp(title=title, description="fourth"), match_found_strategy="replace"
    ).json()
    assert replaced["id"] == original["id"]
    assert replaced["number"] == original["number"]
    assert replaced["description"] == "fourth"
    assert replaced["value"] is None


@pytest.mark.parametrize(
    ("match_by", "first", "second"),
    [
        (
            "primaryEmail",
            {"primaryEmail": "Olivia@Example.com"},
            {"primaryEmail": "olivia@example.com"},
        ),
        ("primaryPhone", {"primaryPhone": "(415) 555-0101"}, {"primaryPhone": "+1 415 555 0101"}),
        (
            "address",
            {"address": ["9 Elm St,  Austin, TX 78704"]},
            {"address": ["9 elm st, austin, tx 78704"]},
        ),
    ],
)
def test_match_by_other_fields(
    fresh: Sandbox, match_by: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    original = create(fresh, opp(title="one", **first)).json()
    again = create(fresh, opp(title="two", **second), match_by=match_by)
    assert again.headers["x-sandbox-match"] == "skipped"
    assert again.json()["id"] == original["id"]
    other = create(fresh, opp(title="one"), match_by=match_by)
    if match_by != "address":
        assert other.headers["x-sandbox-match"] == "created"


def test_dropdown_options_need_allow_new_options(sandbox: Sandbox) -> None:
    body = opp(
        title=unique("Dropdown"),
        custom={"service_category": "House Cleaning", "lead_source": "Thumbtack"},
    )
    is_error(create(sandbox, body), 400, "VALIDATION_ERROR", "custom.service_category")
    created = create(sandbox, body, allow_new_options="true")
    assert created.json()["custom"]["service_category"] == "House Cleaning"
    props = sandbox.get(
        f"{API}/properties", params={"record_type": "opportunity"}, headers=COPERNIQ_KEY
    ).json()["opportunity"]
    category = next(p for p in props if p["keyName"] == "service_category")
    assert "House Cleaning" in category["options"]
    assert category["type"] == "DROPDOWN"
    multi = opp(title=unique("Multi"), custom={"preferred_contact": "Phone"})
    is_error(create(sandbox, multi), 400, "VALIDATION_ERROR", "custom.preferred_contact")
    ok = create(
        sandbox, opp(title=unique("Multi"), custom={"preferred_contact": ["Phone", "Text"]})
    )
    assert ok.status_code == 200


def test_the_default_account_has_a_property_for_each_thumbtack_field(sandbox: Sandbox) -> None:
    props = sandbox.get(
        f"{API}/properties", params={"record_type": "opportunity"}, headers=COPERNIQ_KEY
    ).json()["opportunity"]
    by_key = {p["keyName"]: p for p in props}
    # The names tackbridge's default CustomFieldKeys writes (tests/crm checks them against it).
    expected = {
        "thumbtack_lead_id": "TEXT",
        "thumbtack_lead_type": "DROPDOWN",
        "lead_price": "NUMERIC",
        "thumbtack_charge_state": "DROPDOWN",
        "thumbtack_category_id": "TEXT",
        "thumbtack_inbox_link": "TEXT",
        "thumbtack_lead_status": "TEXT",
        "customer_name": "TEXT",
        "thumbtack_rating": "NUMERIC",
    }
    assert {key: by_key[key]["type"] for key in expected if key in by_key} == expected
    lead_type = by_key["thumbtack_lead_type"]
    assert not lead_type["isMultiple"]
    assert {"REQUEST_A_QUOTE", "INSTANT_BOOK", "PHONE_CONSULTATION"} <= set(lead_type["options"])
    assert by_key["thumbtack_charge_state"]["options"] == [
        "Created",
        "Pending",
        "Charged",
        "Refunded",
    ]
    assert len({p["id"] for p in props}) == len(props)
    body = opp(
        title=unique("Thumbtack fields"),
        custom={
            "thumbtack_lead_id": "299614694480093245",
            "thumbtack_lead_type": "INSTANT_BOOK",
            "lead_price": 18.5,
            "thumbtack_charge_state": "Charged",
            "thumbtack_category_id": "122681972262289742",
            "thumbtack_inbox_link": "https://www.thumbtack.com/pro-inbox/messages/299614694480093245",
            "thumbtack_lead_status": "Open",
            "customer_name": "John Davis",
            "thumbtack_rating": 4.5,
        },
    )
    created = create(sandbox, body)
    assert created.status_code == 200, created.text
    assert created.json()["custom"] == body["custom"]
    is_error(
        create(sandbox, opp(title=unique("Bad type"), custom={"thumbtack_lead_type": "STANDARD"})),
        400,
        "VALIDATION_ERROR",
        "custom.thumbtack_lead_type",
    )
    is_error(
        create(sandbox, opp(title=unique("Bad rating"), custom={"thumbtack_rating": "5"})),
        400,
        "VALIDATION_ERROR",
        "custom.thumbtack_rating",
    )


def test_a_redefined_property_keeps_its_id_and_a_new_one_gets_its_own(fresh: Sandbox) -> None:
    def props() -> dict[str, dict[str, Any]]:
        found = fresh.get(
            f"{API}/properties", params={"record_type": "opportunity"}, headers=COPERNIQ_KEY
        ).json()["opportunity"]
        return {p["keyName"]: p for p in found}

    before = props()
    redefined = fresh.post(
        "/_sandbox/coperniq/properties", json={"keyName": "thumbtack_lead_type", "type": "TEXT"}
    )
    assert redefined.status_code == 201, redefined.text
    assert redefined.json()["id"] == before["thumbtack_lead_type"]["id"]
    added = fresh.post("/_sandbox/coperniq/properties", json={"keyName": "job_size"})
    assert added.status_code == 201, added.text
    after = props()
    assert after["thumbtack_lead_type"]["type"] == "TEXT"
    assert added.json()["id"] not in {p["id"] for p in before.values()}
    assert len({p["id"] for p in after.values()}) == len(after) == len(before) + 1


def test_a_property_of_an_old_record_type_name_is_kept_under_the_new_one(fresh: Sandbox) -> None:
    made = fresh.post(
        "/_sandbox/coperniq/properties", json={"keyName": "gate_code", "recordType": "client"}
    )
    assert made.status_code == 201, made.text
    listed = fresh.get(f"{API}/properties", params={"record_type": "account"}, headers=COPERNIQ_KEY)
    assert [p["keyName"] for p in listed.json()["account"]] == ["gate_code"]
    assert listed.json()["client"] == listed.json()["account"]
    # An account's custom values are checked against the account's properties.
    account = fresh.post(
        f"{API}/accounts",
        json={"title": "Gate", "address": ["1 Main St"], "custom": {"gate_code": "1234"}},
        headers=COPERNIQ_KEY,
    )
    assert account.status_code == 200, account.text
    assert account.json()["custom"] == {"gate_code": "1234"}
    is_error(
        fresh.post(
            f"{API}/accounts",
            json={"title": "G", "address": ["1 Main St"], "custom": {"lead_price": 3}},
            headers=COPERNIQ_KEY,
        ),
        400,
        "VALIDATION_ERROR",
        "custom.lead_price",
    )
    wrong = fresh.post(
        "/_sandbox/coperniq/properties", json={"keyName": "x_y", "recordType": "planet"}
    )
    assert wrong.status_code == 400, wrong.text


def test_requests_alias(sandbox: Sandbox) -> None:
    created = sandbox.post(f"{API}/requests", json=opp(title=unique("Alias")), headers=COPERNIQ_KEY)
    assert created.status_code == 200
    got = sandbox.get(f"{API}/requests/{created.json()['id']}", headers=COPERNIQ_KEY)
    assert got.json()["title"] == created.json()["title"]


def test_list_pages(fresh: Sandbox) -> None:
    for n in range(5):
        create(fresh, opp(title=f"Page {n}"))
    page = fresh.get(
        f"{API}/opportunities", params={"page": 2, "page_size": 2}, headers=COPERNIQ_KEY
    ).json()
    assert [o["title"] for o in page] == ["Page 2", "Page 3"]
    newest = fresh.get(
        f"{API}/opportunities", params={"order_by": "desc", "page_size": 1}, headers=COPERNIQ_KEY
    )
    assert newest.json()[0]["title"] == "Page 4"
    assert fresh.get(
        f"{API}/opportunities",
        params={"updated_after": "2000-01-01T00:00:00Z"},
        headers=COPERNIQ_KEY,
    ).json()
    assert (
        fresh.get(
            f"{API}/opportunities",
            params={"updated_before": "2000-01-01T00:00:00Z"},
            headers=COPERNIQ_KEY,
        ).json()
        == []
    )
    for params, field in (
        ({"page": 0}, "page"),
        ({"page_size": 101}, "page_size"),
        ({"order_by": "colour"}, "order_by"),
        ({"updated_after": "x"}, "updated_after"),
    ):
        is_error(
            fresh.get(f"{API}/opportunities", params=params, headers=COPERNIQ_KEY),
            400,
            "VALIDATION_ERROR",
            field,
        )


def test_search(fresh: Sandbox) -> None:
    create(fresh, opp(title="Roof leak", value=500, custom={"thumbtack_lead_id": "111"}))
    create(fresh, opp(title="Kitchen", value=9000, custom={"thumbtack_lead_id": "222"}))
    search = f"{API}/opportunities/search"

    def titles(**params: Any) -> list[str]:
        answer = fresh.get(search, params=params, headers=COPERNIQ_KEY)
        assert answer.status_code == 200, answer.text
        return sorted(o["title"] for o in answer.json())

    assert titles(prop1="thumbtack_lead_id", op1="eq", value1="222") == ["Kitchen"]
    assert titles(prop1="custom.thumbtack_lead_id", op1="in", value1="111,222") == [
        "Kitchen",
        "Roof leak",
    ]
    assert titles(prop1="title", op1="contains", value1="roof") == ["Roof leak"]
    assert titles(prop1="value", op1="gte", value1="1000") == ["Kitchen"]
    assert titles(prop1="value", op1="between", value1="100,600") == ["Roof leak"]
    assert titles(
        prop1="value", op1="lt", value1="100", prop2="title", op2="eq", value2="Kitchen", logic="or"
    ) == ["Kitchen"]
    assert titles(
        prop1="value", op1="gt", value1="100", prop2="title", op2="neq", value2="Kitchen"
    ) == ["Roof leak"]
    assert titles(prop1="isActive", op1="eq", value1="true") == ["Kitchen", "Roof leak"]
    for params, field in (
        ({"prop1": "colour", "op1": "eq", "value1": "x"}, "prop1"),
        ({"prop1": "title", "op1": "like", "value1": "x"}, "op1"),
        ({"prop1": "value", "op1": "between", "value1": "1"}, "value"),
        ({"prop1": "title", "op1": "eq"}, "value1"),
        ({}, "prop1"),
        ({"prop1": "title", "op1": "eq", "value1": "x", "logic": "xor"}, "logic"),
    ):
        is_error(
            fresh.get(search, params=params, headers=COPERNIQ_KEY), 400, "VALIDATION_ERROR", field
        )


def test_search_tells_apart_ids_beyond_a_floats_precision(fresh: Sandbox) -> None:
    # 2**53 + 1 and 2**53 are the same float: as numbers they must still differ.
    create(fresh, opp(title="Mine", custom={"thumbtack_lead_id": "9007199254740993"}))
    create(fresh, opp(title="Other", custom={"thumbtack_lead_id": "9007199254740992"}))
    answer = fresh.get(
        f"{API}/opportunities/search",
        params={"prop1": "thumbtack_lead_id", "op1": "eq", "value1": "9007199254740993"},
        headers=COPERNIQ_KEY,
    )
    assert [o["title"] for o in answer.json()] == ["Mine"]


def test_search_follows_patches_and_deletes(fresh: Sandbox) -> None:
    created = create(fresh, opp(title="Moving", custom={"thumbtack_lead_id": "333"})).json()
    path = f"{API}/opportunities/{created['id']}"

    def found(value: str) -> list[int]:
        answer = fresh.get(
            f"{API}/opportunities/search",
            params={"prop1": "thumbtack_lead_id", "op1": "eq", "value1": value},
            headers=COPERNIQ_KEY,
        )
        assert answer.status_code == 200, answer.text
        return [o["id"] for o in answer.json()]

    assert found("333") == [created["id"]]
    fresh.patch(path, json={"custom": {"thumbtack_lead_id": "444"}}, headers=COPERNIQ_KEY)
    assert found("333") == []
    assert found("444") == [created["id"]]
    fresh.delete(path, headers=COPERNIQ_KEY)
    assert found("444") == []


def test_patch_and_delete(sandbox: Sandbox) -> None:
    created = create(sandbox, opp(title=unique("Patch"))).json()
    path = f"{API}/opportunities/{created['id']}"
    patched = sandbox.patch(
        path, json={"status": "ON_HOLD", "custom": {"lead_price": 25.5}}, headers=COPERNIQ_KEY
    ).json()
    assert patched["status"] == "ON_HOLD"
    assert patched["custom"] == {"lead_price": 25.5}
    is_error(
        sandbox.patch(path, json={"status": "DONE"}, headers=COPERNIQ_KEY),
        400,
        "VALIDATION_ERROR",
        "status",
    )
    is_error(
        sandbox.patch(path, json={"title": ""}, headers=COPERNIQ_KEY),
        400,
        "VALIDATION_ERROR",
        "title",
    )
    assert sandbox.delete(path, headers=COPERNIQ_KEY).status_code == 200
    is_error(sandbox.get(path, headers=COPERNIQ_KEY), 404, "NOT_FOUND")
    is_error(sandbox.delete(path, headers=COPERNIQ_KEY), 404, "NOT_FOUND")
    is_error(sandbox.get(f"{API}/opportunities/abc", headers=COPERNIQ_KEY), 400, "VALIDATION_ERROR")


def test_contacts(sandbox: Sandbox) -> None:
    is_error(
        sandbox.post(f"{API}/contacts", json={"phones": ["1"]}, headers=COPERNIQ_KEY),
        400,
        "VALIDATION_ERROR",
        "name",
    )
    is_error(
        sandbox.post(
            f"{API}/contacts", json={"name": "x", "emails": ["nope"]}, headers=COPERNIQ_KEY
        ),
        400,
        "VALIDATION_ERROR",
        "emails",
    )
    contact = sandbox.post(
        f"{API}/contacts",
        json={"name": "Olivia Young", "phones": ["4155550101"]},
        headers=COPERNIQ_KEY,
    ).json()
    created = create(
        sandbox,
        opp(title=unique("Contacts"), contacts=[contact["id"]], primaryEmail="new@example.com"),
    ).json()
    assert contact["id"] in created["contacts"]
    assert len(created["contacts"]) == 2
    auto = sandbox.get(f"{API}/contacts/{created['contacts'][1]}", headers=COPERNIQ_KEY).json()
    assert auto["emails"] == ["new@example.com"]
    assert created["id"] in auto["projectIds"]
    renamed = sandbox.patch(
        f"{API}/contacts/{contact['id']}", json={"title": "Owner"}, headers=COPERNIQ_KEY
    ).json()
    assert renamed["title"] == "Owner"
    assert renamed["name"] == "Olivia Young"
    assert (
        sandbox.delete(f"{API}/contacts/{contact['id']}", headers=COPERNIQ_KEY).status_code == 200
    )
    is_error(sandbox.get(f"{API}/contacts/{contact['id']}", headers=COPERNIQ_KEY), 404, "NOT_FOUND")


def test_accounts(sandbox: Sandbox) -> None:
    is_error(
        sandbox.post(f"{API}/accounts", json={"title": "Young household"}, headers=COPERNIQ_KEY),
        400,
        "VALIDATION_ERROR",
        "address",
    )
    account = sandbox.post(
        f"{API}/clients",
        json={"title": "Young household", "address": ["1 Main St"]},
        headers=COPERNIQ_KEY,
    ).json()
    assert (
        create(sandbox, opp(title=unique("Account"), accountId=account["id"])).json()["accountId"]
        == account["id"]
    )


def test_notes(sandbox: Sandbox) -> None:
    created = create(sandbox, opp(title=unique("Notes"))).json()
    notes = f"{API}/opportunities/{created['id']}/notes"
    is_error(
        sandbox.post(notes, json={"body": ""}, headers=COPERNIQ_KEY),
        400,
        "VALIDATION_ERROR",
        "body",
    )
    note = sandbox.post(notes, json={"body": "Customer prefers texts"}, headers=COPERNIQ_KEY).json()
    assert note["recordId"] == created["id"]
    edited = sandbox.patch(
        f"{API}/notes/{note['id']}", json={"body": "Call after 5pm"}, headers=COPERNIQ_KEY
    )
    assert edited.json()["body"] == "Call after 5pm"
    listed = sandbox.get(notes, headers=COPERNIQ_KEY).json()
    assert [n["note"] for n in listed["notes"]] == ["Call after 5pm"]
    assert listed["totalCount"] == 1
    # The legacy path names the note's record: another record's path finds no such note.
    elsewhere = f"{API}/requests/{created['id'] + 999}/comments/{note['id']}"
    assert sandbox.delete(elsewhere, headers=COPERNIQ_KEY).status_code == 404
    legacy = f"{API}/requests/{created['id']}/comments/{note['id']}"
    assert sandbox.delete(legacy, headers=COPERNIQ_KEY).status_code == 200
    assert sandbox.get(f"{API}/requests/{created['id']}/comments", headers=COPERNIQ_KEY).json() == {
        "notes": [],
        "totalCount": 0,
    }
    is_error(
        sandbox.post(f"{API}/opportunities/1/notes", json={"body": "x"}, headers=COPERNIQ_KEY),
        404,
        "NOT_FOUND",
    )


def test_properties_and_workflows(sandbox: Sandbox) -> None:
    by_type = sandbox.get(f"{API}/properties?record_type=opportunity", headers=COPERNIQ_KEY).json()
    assert set(by_type) == {"opportunity", "request"}
    props = by_type["opportunity"]
    assert {"name", "type", "keyName", "isMultiple", "options"} <= set(props[0])
    is_error(
        sandbox.get(f"{API}/properties?record_type=planet", headers=COPERNIQ_KEY),
        400,
        "VALIDATION_ERROR",
        "record_type",
    )
    workflows = sandbox.get(f"{API}/workflows", headers=COPERNIQ_KEY).json()
    one = sandbox.get(f"{API}/workflows/{workflows[0]['id']}", headers=COPERNIQ_KEY).json()
    # WorkflowPhasesItems: id, name, type, description and the red and yellow SLAs (days).
    assert one["phases"][0] == {
        "id": 11,
        "name": "New lead",
        "type": "LEAD",
        "description": "Reply within the hour",
        "redSla": 2,
        "yellowSla": 1,
    }
    assert one["phases"][-1]["redSla"] is None  # "Paid" has no SLA
    is_error(sandbox.get(f"{API}/workflows/77", headers=COPERNIQ_KEY), 404, "NOT_FOUND")


def test_workflow_phases_on_create(sandbox: Sandbox) -> None:
    created = create(sandbox, opp(title=unique("Flow"), workflowId=1)).json()
    assert created["phaseId"] == 11
    assert created["phase"]["name"] == "New lead"
    assert created["workflowName"] == "Thumbtack leads"
    assert [i["status"] for i in created["phaseInstances"]][:2] == ["IN_PROGRESS", "NOT_STARTED"]


def test_rate_limit(start: Callable[..., Sandbox]) -> None:
    # A one-hour window: the four calls always fall in it, however slow the machine.
    sb = start(coperniq_rate_per_second=3, coperniq_rate_window_seconds=3600.0)
    answers = [sb.get(f"{API}/workflows", headers=COPERNIQ_KEY) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["x-ratelimit-limit"] == "3"
    is_error(answers[3], 429, "RATE_LIMITED")
    assert answers[3].headers["retry-after"] == "1"


def test_daily_limit(start: Callable[..., Sandbox]) -> None:
    sb = start(coperniq_rate_per_day=2)
    codes = [sb.get(f"{API}/workflows", headers=COPERNIQ_KEY).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_automation_webhooks(start: Callable[..., Sandbox], partner: Partner) -> None:
    sb = start(coperniq_webhook_url=partner.url + "/coperniq/webhooks/s3cret")
    created = create(sb, opp(workflowId=1)).json()
    path = f"{API}/opportunities/{created['id']}"
    sb.patch(path, json={"status": "COMPLETED"}, headers=COPERNIQ_KEY)
    sb.post(f"/_sandbox/coperniq/opportunities/{created['id']}/phase", json={"phaseId": 13})
    appointment = sb.post(
        f"/_sandbox/coperniq/opportunities/{created['id']}/appointments",
        json={"startAt": "2026-06-01T15:00:00Z"},
    )
    assert appointment.status_code == 201
    wait_until(lambda: len(partner.received) >= 7)
    # Deliveries go out side by side and may land in any order: read them in the order the
    # sandbox fired them (its event log), having checked every fired event landed once.
    fired = [e["event"]["eventId"] for e in sb.inspect("coperniq/events")]
    with partner.lock:
        landed = list(partner.received)
    assert sorted(r.body["event"]["eventId"] for r in landed) == sorted(fired)
    received = sorted(landed, key=lambda r: fired.index(r.body["event"]["eventId"]))
    events = [r.body["event"] for r in received]
    keys = [e["triggerKey"] for e in events]
    assert keys[0] == "REQUEST_CREATED"
    assert "DEAL_STATUS_MOVEMENT" in keys
    assert "APPOINTMENT_CREATED" in keys
    movement = next(
        r.body for r in received if r.body["event"]["triggerKey"] == "DEAL_STATUS_MOVEMENT"
    )
    assert movement["event"]["previousStatus"] == "ACTIVE"
    assert movement["event"]["currentStatus"] == "COMPLETED"
    assert movement["record"]["status"] == "COMPLETED"
    completed = [e for e in events if e["triggerKey"] == "REQUEST_PHASE_COMPLETED"]
    assert [e["phaseTemplateId"] for e in completed] == [11, 12]
    started = [e for e in events if e["triggerKey"] == "REQUEST_PHASE_STARTED"]
    assert [e["phaseTemplateId"] for e in started] == [11, 13]
    assert all(r.path == "/coperniq/webhooks/s3cret" for r in received)
    # docs.coperniq.io "Webhooks": eventId, recordId and the record's id and uid are numbers
    # (uid: its number); an opportunity's record type is DEAL.
    assert all(isinstance(e["eventId"], int) for e in events)
    assert all(e["recordId"] == created["id"] for e in events)
    record = received[0].body["record"]
    assert record["id"] == created["id"]
    assert record["uid"] == created["number"]
    assert record["type"] == "DEAL"
    assert record["owner"]["id"] == 1
    assert record["dealValue"] == created["value"]
    assert "phaseName" not in started[0]
    appointment_event = next(e for e in events if e["triggerKey"] == "APPOINTMENT_CREATED")
    assert appointment_event["dueDate"] == "2026-06-01T15:00:00Z"


def test_primary_phone_matches_contacts_as_they_change(fresh: Sandbox) -> None:
    def contact(**fields: Any) -> int:
        made = fresh.post(f"{API}/contacts", json=fields, headers=COPERNIQ_KEY)
        assert made.status_code in (200, 201), made.text
        return int(made.json()["id"])

    def linked(phone: str) -> list[int]:
        created = create(fresh, opp(title=unique("Phone"), primaryPhone=phone)).json()
        return list(created["contacts"])

    first = contact(name="First", phones=["(415) 555-0199"])
    contact(name="Second", phones=["415-555-0199"])
    assert linked("+1 415 555 0199") == [first]  # the earliest of two matches
    fresh.patch(f"{API}/contacts/{first}", json={"phones": ["4155550100"]}, headers=COPERNIQ_KEY)
    assert linked("4155550100") == [first]  # its new number matches...
    [second] = linked("4155550199")  # ...its old one matches the other contact only
    assert second != first
    fresh.delete(f"{API}/contacts/{first}", headers=COPERNIQ_KEY)
    [made] = linked("4155550100")  # deleted: a new contact is made for the number
    assert made not in (first, second)


def test_unknown_body_fields_are_ignored(sandbox: Sandbox) -> None:
    # The document's create bodies forbid no other fields (no additionalProperties: false).
    created = create(sandbox, opp(title=unique("Extra"), colour="red"))
    assert created.status_code == 200, created.text
    assert "colour" not in created.json()
