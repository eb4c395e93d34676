"""An async client for Coperniq's public API (``https://api.coperniq.io/v1``, ``x-api-key``):
opportunities and projects (create with matching, search, get, patch, list; ``record_type``
picks ``/opportunities/**`` or ``/projects/**``, the same calls), contacts, notes, custom
properties and workflows. Every call waits for the key's limiter first; every failure is a
typed ``CrmError`` (see ``crm.errors``) whose message never contains the key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx2
from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError

from tackbridge.core.netguard import RefusedAddressError
from tackbridge.crm.errors import (
    CoperniqAuthError,
    CoperniqNotFoundError,
    CoperniqRateLimitedError,
    CoperniqValidationError,
    CrmError,
    CrmNetworkError,
    CrmPermanentError,
    CrmServerError,
    CrmUnexpectedResponseError,
    DestinationRefusedError,
)
from tackbridge.crm.limiter import RateLimiter, shared_limiter
from tackbridge.payloads.coperniq import (
    Contact,
    MatchBy,
    MatchFoundStrategy,
    Note,
    NoteList,
    Opportunity,
    OpportunityCreate,
    Property,
    RecordType,
    Workflow,
)
from tackbridge.thumbtack.errors import parse_retry_after, scrub

__all__ = ["DEFAULT_BASE_URL", "ContactCreate", "CoperniqClient", "SearchFilter", "digits"]

log = logging.getLogger("tackbridge.crm.coperniq")

DEFAULT_BASE_URL = "https://api.coperniq.io/v1"
DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 100
_EXCERPT = 200

Operator = Literal["eq", "neq", "gt", "gte", "lt", "lte", "contains", "in", "nin", "between"]
T = TypeVar("T")

_COLLECTION: dict[RecordType, str] = {"opportunity": "/opportunities", "project": "/projects"}


def _collection(record_type: RecordType) -> str:
    found = _COLLECTION.get(record_type)
    if found is None:
        raise ValueError(f"unknown Coperniq record type {record_type!r}")
    return found


@dataclass(frozen=True)
class SearchFilter:
    """``prop``/``op``/``value`` of ``GET /opportunities/search``; ``prop`` may be a custom
    property's ``keyName``. Lists (for in, nin, between) are sent comma-separated."""

    prop: str
    op: Operator
    value: str | int | float | Sequence[str | int | float]

    def wire_value(self) -> str:
        if isinstance(self.value, str | int | float):
            return str(self.value)
        return ",".join(str(v) for v in self.value)


class ContactCreate(BaseModel):
    """``POST /contacts``: ``name`` is required."""

    model_config = ConfigDict(extra="forbid")

    name: str
    phones: list[str] | None = None
    emails: list[str] | None = None
    title: str | None = None
    accountIds: list[int] | None = None
    projectIds: list[int] | None = None


def digits(phone: str | None) -> str:
    """The last ten digits of a phone number: how Coperniq and we compare phones."""
    return "".join(c for c in phone or "" if c.isdigit())[-10:]


class CoperniqClient:
    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http_client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        limiter: RateLimiter | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise ValueError("the Coperniq API key must not be empty")
        self._key = SecretStr(key)
        self._base = base_url.rstrip("/")
        self._owns_client = http_client is None
        self._client = http_client or httpx2.AsyncClient(
            transport=transport, timeout=timeout, follow_redirects=False
        )
        self.limiter = limiter or shared_limiter(key)

    def __repr__(self) -> str:
        return f"CoperniqClient(base_url={self._base!r})"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> CoperniqClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport

    async def _send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        json: Any = None,
    ) -> Any:
        await self.limiter.acquire()
        key = self._key.get_secret_value()
        headers = {"x-api-key": key, "Accept": "application/json"}
        where = f"coperniq {operation}: {method} {path}"
        try:
            response = await self._client.request(
                method,
                self._base + path,
                headers=headers,
                params=list(params) or None,
                json=json,
            )
        except RefusedAddressError as exc:
            raise DestinationRefusedError(f"{where} refused: {exc}") from None
        except httpx2.TimeoutException as exc:
            raise CrmNetworkError(f"{where} timed out ({type(exc).__name__})") from None
        except httpx2.TransportError as exc:
            reason = scrub(str(exc), [key])[:_EXCERPT] or type(exc).__name__
            raise CrmNetworkError(f"{where} failed: {reason}") from None
        status = response.status_code
        log.debug("%s -> %s", where, status)
        if status >= 300:
            raise _error(where, response, key)
        if status == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise CrmUnexpectedResponseError(f"{where} -> {status}: not JSON") from None

    # ------------------------------------------------------------------ opportunities

    async def create_opportunity(
        self,
        body: OpportunityCreate,
        *,
        match_by: MatchBy | None = None,
        match_found_strategy: MatchFoundStrategy | None = None,
        allow_new_options: bool | None = None,
        record_type: RecordType = "opportunity",
    ) -> Opportunity:
        params: list[tuple[str, str]] = []
        if match_by is not None:
            params.append(("match_by", match_by))
        if match_found_strategy is not None:
            params.append(("match_found_strategy", match_found_strategy))
        if allow_new_options is not None:
            params.append(("allow_new_options", "true" if allow_new_options else "false"))
        payload = await self._send(
            "POST",
            _collection(record_type),
            f"create_{record_type}",
            params=params,
            json=body.model_dump(mode="json", exclude_none=True),
        )
        return _model(_OPPORTUNITY, f"create_{record_type}", payload)

    async def search_opportunities(
        self,
        *filters: SearchFilter,
        logic: Literal["and", "or"] = "and",
        page: int = 1,
        page_size: int = 20,
        record_type: RecordType = "opportunity",
    ) -> list[Opportunity]:
        if not 1 <= len(filters) <= 2:
            raise ValueError("search takes one or two filters")
        params: list[tuple[str, str]] = []
        for n, f in enumerate(filters, start=1):
            params += [(f"prop{n}", f.prop), (f"op{n}", f.op), (f"value{n}", f.wire_value())]
        if len(filters) == 2:
            params.append(("logic", logic))
        params += _paging(page, page_size)
        where = f"search_{_collection(record_type)[1:]}"
        payload = await self._send(
            "GET", f"{_collection(record_type)}/search", where, params=params
        )
        return _model(_OPPORTUNITIES, where, payload)

    async def list_opportunities(
        self,
        *,
        page: int = 1,
        page_size: int = 20,
        updated_after: str | None = None,
        updated_before: str | None = None,
        order_by: str | None = None,
        record_type: RecordType = "opportunity",
    ) -> list[Opportunity]:
        params = _paging(page, page_size)
        for name, value in (
            ("updated_after", updated_after),
            ("updated_before", updated_before),
            ("order_by", order_by),
        ):
            if value is not None:
                params.append((name, value))
        where = f"list_{_collection(record_type)[1:]}"
        payload = await self._send("GET", _collection(record_type), where, params=params)
        return _model(_OPPORTUNITIES, where, payload)

    async def get_opportunity(
        self, opportunity_id: int, *, record_type: RecordType = "opportunity"
    ) -> Opportunity:
        where = f"get_{record_type}"
        payload = await self._send(
            "GET", f"{_collection(record_type)}/{_id(opportunity_id)}", where
        )
        return _model(_OPPORTUNITY, where, payload)

    async def get_project(self, project_id: int) -> Opportunity:
        return await self.get_opportunity(project_id, record_type="project")

    async def patch_opportunity(
        self,
        opportunity_id: int,
        changes: Mapping[str, Any],
        *,
        allow_new_options: bool | None = None,
        record_type: RecordType = "opportunity",
    ) -> Opportunity:
        params: list[tuple[str, str]] = []
        if allow_new_options is not None:
            params.append(("allow_new_options", "true" if allow_new_options else "false"))
        where = f"patch_{record_type}"
        payload = await self._send(
            "PATCH",
            f"{_collection(record_type)}/{_id(opportunity_id)}",
            where,
            params=params,
            json=dict(changes),
        )
        return _model(_OPPORTUNITY, where, payload)

    # ------------------------------------------------------------------ contacts

    async def create_contact(self, body: ContactCreate) -> Contact:
        payload = await self._send(
            "POST", "/contacts", "create_contact", json=body.model_dump(exclude_none=True)
        )
        return _model(_CONTACT, "create_contact", payload)

    async def list_contacts(self, *, page: int = 1, page_size: int = 20) -> list[Contact]:
        payload = await self._send(
            "GET", "/contacts", "list_contacts", params=_paging(page, page_size)
        )
        return _model(_CONTACTS, "list_contacts", payload)

    async def find_contact_by_phone(self, phone: str, *, max_pages: int = 10) -> Contact | None:
        """The first contact with this phone (last ten digits compared). Coperniq has no
        contact search, so this pages through the list, up to ``max_pages`` of 100."""
        wanted = digits(phone)
        if len(wanted) < 7:
            return None
        for page in range(1, max_pages + 1):
            batch = await self._contacts_page(page)
            for contact in batch:
                if any(digits(p) == wanted for p in contact.phones):
                    return contact
            if len(batch) < MAX_PAGE_SIZE:
                return None
        return None

    async def _contacts_page(self, page: int) -> list[Contact]:
        return await self.list_contacts(page=page, page_size=MAX_PAGE_SIZE)

    # ------------------------------------------------------------------ notes

    async def create_note(
        self, opportunity_id: int, body: str, *, record_type: RecordType = "opportunity"
    ) -> Note:
        payload = await self._send(
            "POST",
            f"{_collection(record_type)}/{_id(opportunity_id)}/notes",
            "create_note",
            json={"body": body},
        )
        return _model(_NOTE, "create_note", payload)

    async def list_notes(
        self, opportunity_id: int, *, record_type: RecordType = "opportunity"
    ) -> list[Note]:
        payload = await self._send(
            "GET", f"{_collection(record_type)}/{_id(opportunity_id)}/notes", "list_notes"
        )
        # The document's answer is ``{notes, totalCount}``; a bare array is read too.
        if isinstance(payload, dict):
            return _model(_NOTE_LIST, "list_notes", payload).notes
        return _model(_NOTES, "list_notes", payload)

    # ------------------------------------------------------------------ properties, workflows

    async def list_properties(self, record_type: str = "opportunity") -> list[Property]:
        payload = await self._send(
            "GET", "/properties", "list_properties", params=[("record_type", record_type)]
        )
        # The document's answer is an object keyed by record type; a bare array is read too.
        if isinstance(payload, dict):
            payload = payload.get(record_type, [])
        return _model(_PROPERTIES, "list_properties", payload)

    async def list_workflows(self) -> list[Workflow]:
        payload = await self._send("GET", "/workflows", "list_workflows")
        return _model(_WORKFLOWS, "list_workflows", payload)

    async def get_workflow(self, workflow_id: int) -> Workflow:
        payload = await self._send("GET", f"/workflows/{_id(workflow_id)}", "get_workflow")
        return _model(_WORKFLOW, "get_workflow", payload)


_OPPORTUNITY = TypeAdapter(Opportunity)
_OPPORTUNITIES = TypeAdapter(list[Opportunity])
_CONTACT = TypeAdapter(Contact)
_CONTACTS = TypeAdapter(list[Contact])
_NOTE = TypeAdapter(Note)
_NOTES = TypeAdapter(list[Note])
_NOTE_LIST = TypeAdapter(NoteList)
_PROPERTIES = TypeAdapter(list[Property])
_WORKFLOWS = TypeAdapter(list[Workflow])
_WORKFLOW = TypeAdapter(Workflow)


def _model(adapter: TypeAdapter[T], where: str, payload: Any) -> T:
    # Pydantic's messages quote the input; only locations and error types are kept.
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['type']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise CrmUnexpectedResponseError(
            f"coperniq {where}: unexpected shape ({problems})"
        ) from None


def _id(value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("Coperniq IDs are non-negative integers")
    return str(value)


def _paging(page: int, page_size: int) -> list[tuple[str, str]]:
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page must be >= 1 and page_size 1-{MAX_PAGE_SIZE}")
    return [("page", str(page)), ("page_size", str(page_size))]


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _error(where: str, response: httpx2.Response, key: str) -> CrmError:
    status = response.status_code
    text = scrub(response.content.decode("utf-8", errors="replace"), [key]).strip()
    message, code, field = None, None, None
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = scrub(str(data["message"]), [key]) if data.get("message") else None
        code = str(data["code"]) if data.get("code") else None
        field = str(data["field"]) if data.get("field") else None
    detail = message or text[:_EXCERPT] or response.reason_phrase
    summary = f"{where} -> {status}" + (f" {code}" if code else "") + f": {detail}"
    if field:
        summary += f" (field {field})"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    kwargs: dict[str, Any] = {"status": status, "code": code, "field": field}
    if status == 429:
        remaining = _int(response.headers.get("x-ratelimit-remaining"))
        if retry_after is None:
            # Without Retry-After, the one-second window is the documented limit to wait out.
            retry_after = 1.0
        return CoperniqRateLimitedError(
            summary + f" (retry after {retry_after:g}s)",
            limit=_int(response.headers.get("x-ratelimit-limit")),
            remaining=remaining,
            retry_after=retry_after,
            **kwargs,
        )
    if status >= 500 or status == 408:
        return CrmServerError(summary, retry_after=retry_after, **kwargs)
    if status == 401:
        return CoperniqAuthError(summary, **kwargs)
    if status == 404:
        return CoperniqNotFoundError(summary, **kwargs)
    if status in (400, 409, 413, 422):
        return CoperniqValidationError(summary, **kwargs)
    if status < 400:
        return CrmUnexpectedResponseError(f"{where} -> {status}: a redirect, not an API answer")
    return CrmPermanentError(summary, **kwargs)
