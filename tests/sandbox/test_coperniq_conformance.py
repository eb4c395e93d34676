"""The sandbox's Coperniq against facts derived by hand from Coperniq's public OpenAPI document
(api-evangelist/coperniq, openapi/_original/coperniq-openapi.yml): for each operation the sandbox
serves, the documented success status and the response schema's field names and types. The
document has no webhooks: the automation webhook's facts are from docs.coperniq.io's "Webhooks"
page (as catalogued in the same repository, asyncapi/coperniq-webhooks.yml)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.support.sandbox import COPERNIQ_KEY, Partner, Sandbox, wait_until

API = "/coperniq/v1"

# Field -> allowed JSON types, from the document's component schemas (None = nullable).
STR, INT, NUM, BOOL, LIST, OBJ, NULL = str, int, (int, float), bool, list, dict, type(None)
OPPORTUNITY: dict[str, Any] = {
    "id": INT,
    "createdAt": STR,
    "updatedAt": STR,
    "title": STR,
    "description": (STR, NULL),
    "address": LIST,
    "isActive": BOOL,
    "primaryEmail": (STR, NULL),
    "primaryPhone": (STR, NULL),
    "number": INT,
    "custom": OBJ,
    "trades": LIST,
    "value": (NUM, NULL),
    "size": (NUM, NULL),
    "confidence": (NUM, NULL),
    "workflowId": (INT, NULL),
    "accountId": (INT, NULL),
    "geoLocation": LIST,
    "imageUrl": (STR, NULL),
    "streetViewUrl": (STR, NULL),
    "phase": (OBJ, NULL),
    "phaseInstances": LIST,
    "owner": (OBJ, NULL),
    "salesRep": (OBJ, NULL),
    "projectManager": (OBJ, NULL),
    "jurisdiction": (OBJ, NULL),
    "lastActivity": (STR, NULL),
    "phaseId": (INT, NULL),
    "workflowName": STR,
    # UserSummary or null; the address parts are strings (not nullable).
    "createdBy": (OBJ, NULL),
    "updatedBy": (OBJ, NULL),
    "city": STR,
    "zipcode": STR,
    "state": STR,
    "street": STR,
}
# OpportunityPhase {id, name, type}; PhaseInstance and its PhaseTemplateSummary.
OPPORTUNITY_PHASE: dict[str, Any] = {"id": INT, "name": STR, "type": STR}
PHASE_TEMPLATE: dict[str, Any] = {"id": INT, "name": STR, "type": STR}
PHASE_TEMPLATE |= {"redSla": (INT, NULL), "yellowSla": (INT, NULL)}
PHASE_INSTANCE: dict[str, Any] = {"id": INT, "name": STR, "status": STR, "position": INT}
PHASE_INSTANCE |= {"type": STR, "phaseTemplateId": INT, "phaseTemplate": OBJ}
PHASE_STATUSES = {"NOT_STARTED", "IN_PROGRESS", "COMPLETED"}
PROJECT: dict[str, Any] = {
    k: OPPORTUNITY[k]
    for k in (
        *("id", "createdAt", "updatedAt", "title", "description", "address", "isActive"),
        *("primaryEmail", "primaryPhone", "number", "custom", "trades", "value", "size"),
        *("workflowId", "accountId", "workflowName", "createdBy", "updatedBy"),
    )
}
PROJECT |= {"status": STR, "phase": OBJ}
PROJECT_STATUSES = {"ACTIVE", "ON_HOLD", "CANCELLED", "COMPLETED"}
# ProjectPhase (Workflows 2.0): it replaces ``stage``, which is then left out. Its SLAs are
# integers (not nullable) and slaStatus VIOLATED or NON_VIOLATED.
PROJECT_PHASE: dict[str, Any] = {"instanceId": INT, "templateId": INT, "name": STR}
PROJECT_PHASE |= {"status": STR, "type": STR, "redSla": INT, "yellowSla": INT}
PROJECT_PHASE |= {"timeInStageDays": INT, "slaStatus": STR}
# GET /projects/{id}: ProjectWithPhaseInstances, whose items add startedAt and completedAt.
PROJECT_INSTANCE: dict[str, Any] = {**PHASE_INSTANCE, "startedAt": (STR, NULL)}
PROJECT_INSTANCE |= {"completedAt": (STR, NULL)}
# Contact (components/schemas/Contact): only ``name`` is required; the schema has no ``id``,
# which the sandbox answers anyway (accounts link contacts by ID), checked apart.
CONTACT: dict[str, Any] = {"name": STR, "phones": LIST, "emails": LIST, "title": STR}
CONTACT |= {"createdByUser": OBJ, "accounts": LIST, "projects": LIST}
CONTACT_REQUIRED = {"name"}
LINKED: dict[str, Any] = {"id": INT, "title": STR}  # ContactAccountsItems, ContactProjectsItems
# Account: no field is required; accountType is RESIDENTIAL, COMMERCIAL or null, and each
# contact (AccountContactsItems) is {id, emails, phones}.
ACCOUNT: dict[str, Any] = {"id": INT, "createdAt": STR, "updatedAt": STR, "title": STR}
ACCOUNT |= {"description": (STR, NULL), "address": LIST, "isActive": BOOL}
ACCOUNT |= {"primaryEmail": (STR, NULL), "primaryPhone": (STR, NULL), "number": INT}
ACCOUNT |= {"createdBy": (OBJ, NULL), "updatedBy": (OBJ, NULL), "custom": OBJ}
ACCOUNT |= {"accountType": (STR, NULL), "contacts": LIST}
ACCOUNT_CONTACT: dict[str, Any] = {"id": INT, "emails": LIST, "phones": LIST}
# NoteCreateResponse (POST .../notes) and Note (PATCH /notes/{noteId}) require id, note,
# createdAt and updatedAt; Note adds ``author`` (NoteAuthor), optional. The notes list is
# ListNotesResponse {notes, totalCount} of NoteListItem: id, note, createdByUser, createdAt,
# none required.
NOTE_CREATED: dict[str, Any] = {"id": INT, "note": STR, "createdAt": STR, "updatedAt": STR}
NOTE: dict[str, Any] = {**NOTE_CREATED, "author": OBJ}
NOTE_REQUIRED = set(NOTE_CREATED)
NOTE_ITEM: dict[str, Any] = {"id": INT, "note": STR, "createdByUser": OBJ, "createdAt": STR}
NOTE_LIST: dict[str, Any] = {"notes": LIST, "totalCount": INT}
# Property and Properties_listProperties_Response_200 (keys account, opportunity, project,
# vendor, ahj and the deprecated aliases client and request); no field is required.
PROPERTY: dict[str, Any] = {"name": STR, "type": STR, "keyName": STR, "isMultiple": BOOL}
PROPERTY |= {"options": LIST, "defaultValue": LIST, "isCustom": BOOL}
# Workflow and WorkflowPhasesItems; no field is required, ``type`` is the enum {PROJECT}.
WORKFLOW: dict[str, Any] = {"id": INT, "name": STR, "description": (STR, NULL), "type": STR}
WORKFLOW |= {"createdAt": STR, "updatedAt": STR, "createdBy": (OBJ, NULL), "phases": LIST}
PHASE: dict[str, Any] = {"id": INT, "name": STR, "type": STR, "description": (STR, NULL)}
PHASE |= {"redSla": (INT, NULL), "yellowSla": (INT, NULL)}
ERROR: dict[str, Any] = {"message": STR, "code": STR}
# The automation webhook (docs.coperniq.io "Webhooks"): ``event`` always, with eventId and
# recordId numbers; ``record`` for a project, request or account, with id and uid (the
# record's number) numbers and type PROJECT, DEAL or ACCOUNT. The page names the record's
# other fields (title, status, stage, address, geoLocation, dealValue, owner, primary contact,
# timestamps) without their types: checked for presence.
EVENT: dict[str, Any] = {"eventId": INT, "recordId": INT, "triggerKey": STR}
EVENT |= {"triggerName": STR, "firedAt": STR}
RECORD: dict[str, Any] = {"id": INT, "uid": INT, "type": STR}
RECORD_NAMED = ("title", "status", "stage", "address", "geoLocation", "dealValue", "owner")
# The trigger-specific fields the page lists.
EXTRA = {
    "REQUEST_PHASE_STARTED": ("phaseInstanceId", "phaseTemplateId", "phaseType", "status"),
    "REQUEST_PHASE_COMPLETED": ("phaseInstanceId", "phaseTemplateId", "phaseType", "status"),
    "PROJECT_PHASE_STARTED": ("phaseInstanceId", "phaseTemplateId", "phaseType", "status"),
    "PROJECT_PHASE_COMPLETED": ("phaseInstanceId", "phaseTemplateId", "phaseType", "status"),
    "APPOINTMENT_CREATED": ("appointmentId", "dueDate"),
    "APPOINTMENT_RESCHEDULED": ("appointmentId", "dueDate", "previousDueDate"),
}


def conforms(value: Any, schema: dict[str, Any], required: set[str] | None = None) -> None:
    """Required fields (all of ``schema`` unless given) must be there; any there must type."""
    assert isinstance(value, dict), value
    for name, kinds in schema.items():
        if required is not None and name not in required and name not in value:
            continue
        assert name in value, f"{name} missing from {sorted(value)}"
        assert isinstance(value[name], kinds), f"{name}={value[name]!r} is not {kinds}"
        if kinds is INT or kinds == (INT, NULL):
            assert not isinstance(value[name], bool), name


def body(**extra: Any) -> dict[str, Any]:
    return {
        "title": f"Conformance {secrets.token_hex(4)}",
        "address": ["1450 Haight Street, San Francisco, CA 94117"],
        "trades": ["Remodeling"],
        "workflowId": 1,
        **extra,
    }


def call(sb: Sandbox, method: str, path: str, **kwargs: Any) -> Any:
    send = getattr(sb, method.lower())
    return send(f"{API}{path}", headers=COPERNIQ_KEY, **kwargs)


@pytest.mark.parametrize("base", ["/opportunities", "/requests", "/projects"])
def test_records(sandbox: Sandbox, base: str) -> None:
    schema = PROJECT if base == "/projects" else OPPORTUNITY
    created = call(sandbox, "POST", base, json=body(), params={"match_by": "title"})
    assert created.status_code == 200, created.text  # "Matching ... found": the one 2xx
    record = created.json()
    conforms(record, schema)
    path = f"{base}/{record['id']}"
    got = call(sandbox, "GET", path)
    assert got.status_code == 200
    conforms(got.json(), schema)
    if base == "/projects":
        assert record["status"] in PROJECT_STATUSES
        conforms(record["phase"], PROJECT_PHASE)
        assert record["phase"]["slaStatus"] in {"VIOLATED", "NON_VIOLATED"}
        assert "stage" not in record  # Workflows 2.0: ``phase`` replaces it
        assert "phaseInstances" not in record  # Project; only the get answers them
        assert got.json()["phaseInstances"]
        for instance in got.json()["phaseInstances"]:
            conforms(instance, PROJECT_INSTANCE)
            conforms(instance["phaseTemplate"], PHASE_TEMPLATE)
            assert instance["status"] in PHASE_STATUSES
    else:
        conforms(record["phase"], OPPORTUNITY_PHASE)
        assert record["phaseInstances"]
        for instance in record["phaseInstances"]:
            conforms(instance, PHASE_INSTANCE)
            conforms(instance["phaseTemplate"], PHASE_TEMPLATE)
            assert instance["status"] in PHASE_STATUSES
        conforms(record["owner"], {"id": INT, "firstName": STR, "lastName": STR, "email": STR})
    for listing in (
        call(sandbox, "GET", base, params={"order_by": "desc"}),
        call(sandbox, "GET", f"{base}/search", params={"prop1": "id", "op1": "eq", "value1": 1}),
    ):
        assert listing.status_code == 200, listing.text
        assert isinstance(listing.json(), list)
        for item in listing.json():
            conforms(item, schema)
    patched = call(sandbox, "PATCH", path, json={"value": 10})
    assert patched.status_code == 200, patched.text
    conforms(patched.json(), schema)
    note = call(sandbox, "POST", f"{path}/notes", json={"body": "hello"})
    assert note.status_code == 201, note.text
    conforms(note.json(), NOTE_CREATED)
    notes = call(sandbox, "GET", f"{path}/notes")
    assert notes.status_code == 200
    conforms(notes.json(), NOTE_LIST)
    assert notes.json()["notes"]
    for item in notes.json()["notes"]:
        conforms(item, NOTE_ITEM)
    edited = call(sandbox, "PATCH", f"/notes/{note.json()['id']}", json={"body": "bye"})
    assert edited.status_code == 200
    conforms(edited.json(), NOTE, NOTE_REQUIRED)
    assert call(sandbox, "DELETE", f"/notes/{note.json()['id']}").status_code == 200
    assert call(sandbox, "DELETE", path).status_code == 200
    missing = call(sandbox, "GET", path)
    assert missing.status_code == 404
    conforms(missing.json(), ERROR)
    assert missing.json()["code"] == "NOT_FOUND"


def test_projects_and_opportunities_are_apart(sandbox: Sandbox) -> None:
    project = call(sandbox, "POST", "/projects", json={"title": "P", "address": ["1 Main St"]})
    assert project.status_code == 200, project.text  # trades are optional on a project
    assert call(sandbox, "GET", f"/opportunities/{project.json()['id']}").status_code == 404
    again = call(
        sandbox,
        "POST",
        "/projects",
        json={"title": "P", "address": ["1 Main St"]},
        params={"match_by": "title", "match_found_strategy": "skip", "allow_new_options": "true"},
    )
    assert again.json()["id"] == project.json()["id"]


def test_contacts(sandbox: Sandbox) -> None:
    created = call(sandbox, "POST", "/contacts", json={"name": "Olivia", "emails": ["o@x.io"]})
    assert created.status_code == 201, created.text
    conforms(created.json(), CONTACT, CONTACT_REQUIRED)
    assert isinstance(created.json()["id"], int)  # not in the document's schema; see CONTACT
    path = f"/contacts/{created.json()['id']}"
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"title": "Owner"}})):
        answer = call(sandbox, method, path, **kwargs)
        assert answer.status_code == 200
        conforms(answer.json(), CONTACT, CONTACT_REQUIRED)
    listing = call(sandbox, "GET", "/contacts")
    assert listing.status_code == 200
    for item in listing.json():
        conforms(item, CONTACT, CONTACT_REQUIRED)
    project = call(sandbox, "POST", "/projects", json=body(workflowId=None)).json()
    account = call(sandbox, "POST", "/accounts", json={"title": "Acct", "address": ["1 Main"]})
    linked = call(
        sandbox,
        "PATCH",
        path,
        json={"projectIds": [project["id"]], "accountIds": [account.json()["id"]]},
    ).json()
    assert [item["title"] for item in linked["projects"]] == [project["title"]]
    assert [item["title"] for item in linked["accounts"]] == ["Acct"]
    for item in linked["projects"] + linked["accounts"]:
        conforms(item, LINKED)
    assert call(sandbox, "DELETE", path).status_code == 200


@pytest.mark.parametrize("base", ["/accounts", "/clients"])
def test_accounts(sandbox: Sandbox, base: str) -> None:
    contact = call(sandbox, "POST", "/contacts", json={"name": "Y", "phones": ["4155550123"]})
    created = call(
        sandbox,
        "POST",
        base,
        json={
            "title": "Young",
            "address": ["1 Main St"],
            "accountType": "RESIDENTIAL",
            "contacts": [contact.json()["id"]],
        },
    )
    assert created.status_code == 200, created.text  # "Matching account found"
    conforms(created.json(), ACCOUNT)
    assert created.json()["accountType"] == "RESIDENTIAL"
    assert created.json()["isActive"] is True
    [linked] = created.json()["contacts"]
    conforms(linked, ACCOUNT_CONTACT)
    assert linked["phones"] == ["4155550123"]
    path = f"{base}/{created.json()['id']}"
    changes = {"description": "d", "accountType": None, "isActive": False}
    for method, kwargs in (("GET", {}), ("PATCH", {"json": changes})):
        answer = call(sandbox, method, path, **kwargs)
        assert answer.status_code == 200, answer.text
        conforms(answer.json(), ACCOUNT)
    assert answer.json()["accountType"] is None
    assert answer.json()["isActive"] is False
    wrong = call(sandbox, "PATCH", path, json={"accountType": "INDUSTRIAL"})
    assert wrong.status_code == 400
    assert wrong.json()["field"] == "accountType"
    notes = f"{path}/notes" if base == "/accounts" else f"{path}/comments"
    note = call(sandbox, "POST", notes, json={"body": "gate code 1234"})
    assert note.status_code == 201, note.text
    conforms(note.json(), NOTE_CREATED)
    listed = call(sandbox, "GET", notes)
    assert listed.status_code == 200
    conforms(listed.json(), NOTE_LIST)
    for item in listed.json()["notes"]:
        conforms(item, NOTE_ITEM)
    legacy = f"/clients/{created.json()['id']}/comments/{note.json()['id']}"
    edited = call(sandbox, "PATCH", legacy, json={"body": "gate code 4321"})
    assert edited.status_code == 200, edited.text
    conforms(edited.json(), NOTE, NOTE_REQUIRED)
    assert call(sandbox, "DELETE", legacy).status_code == 200
    assert call(sandbox, "GET", notes).json()["totalCount"] == 0
    listing = call(sandbox, "GET", base)
    assert listing.status_code == 200
    for item in listing.json():
        conforms(item, ACCOUNT)
    assert call(sandbox, "DELETE", path).status_code == 200
    assert call(sandbox, "GET", path).status_code == 404


def test_properties(sandbox: Sandbox) -> None:
    every = call(sandbox, "GET", "/properties")
    assert every.status_code == 200
    assert {"account", "opportunity", "project", "vendor", "ahj", "client", "request"} <= set(
        every.json()
    )
    for items in every.json().values():
        for item in items:
            conforms(item, PROPERTY)
    assert every.json()["client"] == every.json()["account"]
    assert every.json()["request"] == every.json()["opportunity"]
    some = call(sandbox, "GET", "/properties", params={"record_type": "project,account"})
    assert set(some.json()) == {"project", "account", "client"}
    # The old names are "still accepted as input" (the parameter's text; its enum lacks them).
    old = call(sandbox, "GET", "/properties", params={"record_type": "request"})
    assert set(old.json()) == {"opportunity", "request"}


def test_workflows(sandbox: Sandbox) -> None:
    listing = call(sandbox, "GET", "/workflows")
    assert listing.status_code == 200
    for item in listing.json():
        conforms(item, WORKFLOW)
        assert item["type"] == "PROJECT"
        for phase in item["phases"]:
            conforms(phase, PHASE)
    one = call(sandbox, "GET", f"/workflows/{listing.json()[0]['id']}")
    assert one.status_code == 200
    conforms(one.json(), WORKFLOW)


def test_unauthorized(sandbox: Sandbox) -> None:
    answer = sandbox.get(f"{API}/projects")
    assert answer.status_code == 401
    conforms(answer.json(), ERROR)
    assert answer.json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(("base", "kind"), [("/opportunities", "DEAL"), ("/projects", "PROJECT")])
def test_automation_webhooks(start: Any, partner: Partner, base: str, kind: str) -> None:
    sb = start(coperniq_webhook_url=partner.url + "/coperniq/webhooks/s")
    created = call(sb, "POST", base, json=body()).json()
    call(sb, "PATCH", f"{base}/{created['id']}", json={"status": "COMPLETED"})
    sb.post(f"/_sandbox/coperniq/opportunities/{created['id']}/phase", json={"phaseId": 13})
    if kind == "DEAL":
        made = sb.post(
            f"/_sandbox/coperniq/opportunities/{created['id']}/appointments",
            json={"startAt": "2026-06-01T15:00:00Z"},
        )
        sb.patch(
            f"/_sandbox/coperniq/appointments/{made.json()['id']}",
            json={"startAt": "2026-06-02T15:00:00Z"},
        )
    fired = sb.inspect("coperniq/events")
    wait_until(lambda: len(partner.received) >= len(fired))
    with partner.lock:
        payloads = [r.body for r in partner.received]
    prefix = "PROJECT_" if kind == "PROJECT" else ""
    keys = {p["event"]["triggerKey"] for p in payloads}
    expected = (
        {"PROJECT_CREATED", "PROJECT_STATUS_MOVEMENT", "PROJECT_PHASE_STARTED"}
        if prefix
        else {"REQUEST_CREATED", "DEAL_STATUS_MOVEMENT", "REQUEST_PHASE_STARTED"}
    )
    assert expected <= keys, keys
    if kind == "DEAL":
        assert {"APPOINTMENT_CREATED", "APPOINTMENT_RESCHEDULED"} <= keys
    for payload in payloads:
        conforms(payload["event"], EVENT)
        conforms(payload["record"], RECORD)
        assert payload["record"]["type"] == kind
        assert payload["record"]["uid"] == created["number"]
        for name in RECORD_NAMED:
            assert name in payload["record"], name
        for name in EXTRA.get(payload["event"]["triggerKey"], ()):
            assert name in payload["event"], (payload["event"]["triggerKey"], name)
    assert len({p["event"]["eventId"] for p in payloads}) == len(payloads)
