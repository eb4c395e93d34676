"""Property-based tests of the partner endpoints against a real server on loopback.

Valid deliveries are built like the documented payloads and like the liberal variants real
deliveries take (api-notes.md): identifiers as strings or integers, category as a string or an
object, the customer's name in any of its spellings, money and timestamps in every seen format
and as junk, optional fields missing, unknown fields added, any Unicode text. They must be
acknowledged (200, or 202 while their lead is unknown) and then be readable by an operator.

Invalid deliveries (bodies that are not objects, lack their identifier or carry one of the wrong
type, malformed or truncated JSON, random bytes, a content type that is not JSON) must be refused
with 400/415/422 as problem+json, and the refused body must be kept verbatim in the inbound log.

No input may ever get a 5xx.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx2
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tackbridge.store.schema import leads
from tests.support.tackbridge import RunningServer, make_settings, running

TEST_BUSINESS = "Test Business for Webhooks"
PARTNER_ROUTES = {
    "/v1/lead": "POST",
    "/v1/message": "POST",
    "/v1/lead/update": "PUT",
    "/v1/review": "POST",
    "/v4/webhooks": "POST",
}
ROUTES = list(PARTNER_ROUTES)

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INVALID_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=40)


# --------------------------------------------------------------------------------------------
# The server, and talking to it
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> Iterator[RunningServer]:
    with running(make_settings(tmp_path_factory.mktemp("properties"))) as server:
        yield server


def _request(
    srv: RunningServer, route: str, body: bytes, content_type: str | None = "application/json"
) -> httpx2.Response:
    headers = {"content-type": content_type} if content_type is not None else {}
    method = PARTNER_ROUTES[route]
    try:
        return srv.partner.request(method, route, content=body, headers=headers)
    except httpx2.TransportError:
        # A keep-alive connection the server dropped (it does after a 500): try a fresh one.
        with httpx2.Client(base_url=srv.url, auth=srv.partner.auth, timeout=30) as client:
            return client.request(method, route, content=body, headers=headers)


def _encode(body: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only).encode()


def deliver(srv: RunningServer, route: str, body: Any, ascii_only: bool = False) -> dict[str, Any]:
    """Send a valid delivery; it must be acknowledged. Returns the acknowledgement."""
    raw = _encode(body, ascii_only)
    response = _request(srv, route, raw)
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    assert response.status_code in (200, 202), f"{response.status_code}: {response.text}"
    ack: dict[str, Any] = response.json()
    assert ack["status"] in {"accepted", "duplicate", "pending", "ignored"}, ack
    assert ack["status"] != "pending" or response.status_code == 202, ack
    entry = inbound_entry(srv, ack["inboundID"])
    assert entry["route"] == route
    assert entry["statusCode"] == response.status_code
    assert entry["outcome"] == ack["status"]
    assert entry["body"] == raw.decode(), "the delivery is not kept verbatim"
    return ack


def inbound_entry(srv: RunningServer, inbound_id: int) -> dict[str, Any]:
    response = srv.operator.get(f"/api/inbound/{inbound_id}")
    assert response.status_code == 200, response.text
    entry: dict[str, Any] = response.json()
    return entry


def get_lead(srv: RunningServer, lead_id: Any) -> dict[str, Any]:
    response = srv.operator.get(f"/api/leads/{quote(str(lead_id), safe='')}")
    assert response.status_code == 200, f"lead {lead_id!r}: {response.status_code} {response.text}"
    lead: dict[str, Any] = response.json()
    assert lead["leadID"] == str(lead_id)
    return lead


def post_lead(srv: RunningServer, lead_id: Any) -> None:
    ack = deliver(srv, "/v1/lead", {"leadID": lead_id})
    assert ack["status"] == "accepted", ack


def assert_refused(
    srv: RunningServer,
    response: httpx2.Response,
    route: str,
    sent: bytes,
    statuses: tuple[int, ...] = (400, 415, 422),
) -> dict[str, Any]:
    """A refusal: problem+json, 4xx, and the verbatim body in the inbound log as rejected."""
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/problem+json", content_type
    problem: dict[str, Any] = response.json()
    for key in ("type", "title", "status", "detail"):
        assert key in problem, problem
    assert problem["status"] == response.status_code
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    inbound_id = problem.get("inboundID")
    assert isinstance(inbound_id, int), f"no inboundID in {problem}"

    entry = inbound_entry(srv, inbound_id)
    assert entry["outcome"] == "rejected"
    assert entry["statusCode"] == response.status_code
    assert entry["route"] == route
    assert entry["method"] == PARTNER_ROUTES[route]
    assert entry["bodySize"] == len(sent)
    try:
        text = sent.decode("utf-8")
    except UnicodeDecodeError:
        assert entry["bodyBase64"] == base64.b64encode(sent).decode()
    else:
        assert entry["body"] == text
    secrets = {k: v for k, v in entry["headers"].items() if k.lower() == "authorization"}
    assert all(v == "[redacted]" for v in secrets.values()), secrets

    listing = srv.operator.get(
        "/api/inbound", params={"outcome": "rejected", "route": route, "limit": 20}
    )
    assert listing.status_code == 200, listing.text
    assert inbound_id in [item["id"] for item in listing.json()["items"]]
    return problem


# --------------------------------------------------------------------------------------------
# Strategies: scalars
# --------------------------------------------------------------------------------------------

_nonce = itertools.count(1)


def _make_id(kind_value: tuple[str, Any]) -> str | int:
    """Thumbtack-shaped identifiers made unique per example, so no delivery is a duplicate."""
    kind, value = kind_value
    nonce = next(_nonce)
    if kind == "int":
        return int(value) * 1_000_000 + nonce % 1_000_000
    if kind == "digits":
        return f"{value}{nonce:06d}"
    return f"{value}-{nonce}"


ids: st.SearchStrategy[str | int] = st.builds(
    _make_id,
    st.one_of(
        st.tuples(st.just("int"), st.integers(1, 9_000_000_000_000)),
        st.tuples(st.just("digits"), st.from_regex(r"[1-9][0-9]{0,17}", fullmatch=True)),
        st.tuples(
            st.just("text"),
            st.text(st.characters(categories=("L", "N")), min_size=1, max_size=24),
        ),
    ),
)
texts = st.text(max_size=40)
short_texts = st.text(max_size=24)

_JSON_INT = st.integers(-(2**63), 2**63 - 1)
_JSON_FLOAT = st.floats(allow_nan=False, allow_infinity=False)


def json_values(keys: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    keys = keys if keys is not None else st.text(max_size=12)
    return st.recursive(
        st.none() | st.booleans() | _JSON_INT | _JSON_FLOAT | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=12,
    )


def money() -> st.SearchStrategy[tuple[Any, int | None]]:
    """(value, expected cents)."""
    cents = st.integers(0, 10_000_000)
    return st.one_of(
        cents.map(lambda c: (f"${c // 100}.{c % 100:02d}", c)),
        cents.map(lambda c: (f"{c // 100}.{c % 100:02d}", c)),
        cents.map(lambda c: (f"${c // 100:,}.{c % 100:02d}", c)),
        st.integers(0, 100_000).map(lambda d: (d, d * 100)),
        cents.map(lambda c: (c / 100, c)),
        st.sampled_from(["", "free", "N/A", "$", "12.34.56", "twenty dollars", "1e5", "$ abc"]).map(
            lambda junk: (junk, None)
        ),
        st.sampled_from([None, True, False, [], {}]).map(lambda junk: (junk, None)),
    )


_EPOCH_LOW, _EPOCH_HIGH = 946_684_800, 4_102_444_800  # 2000-01-01 .. 2100-01-01
_OFFSETS = st.one_of(
    st.none(),
    st.just(UTC),
    st.builds(
        timezone,
        st.timedeltas(min_value=timedelta(hours=-14), max_value=timedelta(hours=14)).map(
            lambda d: timedelta(minutes=round(d.total_seconds() / 60))
        ),
    ),
)


def _rfc3339(moment: datetime, zulu: bool) -> tuple[str, datetime]:
    text = moment.isoformat()
    if zulu and moment.tzinfo is not None and moment.utcoffset() == timedelta(0):
        text = text.replace("+00:00", "Z")
    expected = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return text, expected


def timestamps() -> st.SearchStrategy[tuple[Any, datetime | None]]:
    """(value, the instant it means or None): unix seconds / ms, RFC 3339, junk."""
    seconds = st.integers(_EPOCH_LOW, _EPOCH_HIGH)
    millis = st.integers(_EPOCH_LOW * 1000, _EPOCH_HIGH * 1000)
    return st.one_of(
        seconds.map(lambda s: (str(s), datetime.fromtimestamp(s, UTC))),
        seconds.map(lambda s: (s, datetime.fromtimestamp(s, UTC))),
        millis.map(lambda ms: (str(ms), datetime.fromtimestamp(ms / 1000, UTC))),
        millis.map(lambda ms: (ms, datetime.fromtimestamp(ms / 1000, UTC))),
        st.builds(
            _rfc3339,
            st.datetimes(
                min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=_OFFSETS
            ),
            st.booleans(),
        ),
        st.sampled_from(["", "This week", "yesterday", "2024-13-45T00:00:00Z", "soon"]).map(
            lambda junk: (junk, None)
        ),
        st.text(st.characters(categories=("L",)), min_size=1, max_size=12).map(
            lambda junk: (junk, None)
        ),
        st.sampled_from([None, True, [], {}]).map(lambda junk: (junk, None)),
    )


def _opt(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    """A value, or the sentinel ``_MISSING`` for a field that is left out."""
    return draw(st.one_of(st.just(_MISSING), strategy))


_MISSING = object()


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not _MISSING:
        target[key] = value


def attachments() -> st.SearchStrategy[list[dict[str, Any]]]:
    @st.composite
    def one(draw: st.DrawFn) -> dict[str, Any]:
        item: dict[str, Any] = {}
        _put(item, "fileName", _opt(draw, short_texts))
        _put(item, "fileSize", _opt(draw, st.integers(0, 2**31)))  # often absent in v4
        _put(item, "mimeType", _opt(draw, st.sampled_from(["image/jpeg", "application/pdf"])))
        _put(item, "url", _opt(draw, st.just("https://www.thumbtack.com/attachment/x/a.jpg")))
        _put(item, "description", _opt(draw, short_texts))
        return item

    return st.lists(one(), max_size=3)


_LEAD_KNOWN = {
    "leadID", "negotiationID", "createTimestamp", "createTime", "createdAt", "price", "request",
    "customer", "business", "leadType", "leadPrice", "chargeState", "status",
    "leadPriceBreakdown", "estimate", "requestReviewLink", "refundRequestLink", "category",
    "details", "attachments", "location", "description", "title", "schedule",
    "travelPreferences", "proposedTimes", "requestID", "categoryID",
    # identifiers and wrappers of the other record kinds
    "messageID", "message", "review", "reviewID", "event", "data", "from", "text", "sentAt",
    "customerID", "businessID", "rating", "modifyTime", "reviewEventType",
}  # fmt: skip

extra_keys = st.text(min_size=1, max_size=12).filter(lambda k: k not in _LEAD_KNOWN)
extras = st.dictionaries(extra_keys, json_values(), max_size=3)


# --------------------------------------------------------------------------------------------
# Strategies: records (a body without its identifier, and what the server should make of it)
# --------------------------------------------------------------------------------------------


@st.composite
def lead_bodies(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    body: dict[str, Any] = {}
    expect: dict[str, Any] = {}
    request: dict[str, Any] = {}

    if draw(st.booleans()):
        key = draw(st.sampled_from(["createTimestamp", "createTime", "createdAt"]))
        body[key], expect["createTimestamp"] = draw(timestamps())

    category_kind = draw(st.sampled_from(["none", "string", "object"]))
    category_holder = request if draw(st.booleans()) else body
    if category_kind == "string":
        category_holder["category"] = expect["category"] = draw(texts)
    elif category_kind == "object":
        name = draw(texts)
        category_holder["category"] = {"categoryID": draw(ids), "name": name}
        expect["category"] = name
    for key in ("title", "description", "schedule"):
        value = _opt(draw, texts)
        _put(request, key, value)
        if value is not _MISSING:
            expect[key] = value
    _put(request, "requestID", _opt(draw, ids))
    location: dict[str, Any] = {}
    for key in ("address1", "address2", "city", "state", "zipCode"):
        _put(location, key, _opt(draw, short_texts))
    if location or draw(st.booleans()):
        request["location"] = location
        expect["location"] = location
    travel = _opt(draw, st.one_of(texts, st.lists(short_texts, max_size=3)))
    if travel is not _MISSING:
        request["travelPreferences"] = expect["travelPreferences"] = travel
    proposed = _opt(
        draw,
        st.lists(
            st.one_of(
                st.fixed_dictionaries({"start": short_texts, "end": short_texts}), short_texts
            ),
            max_size=3,
        ),
    )
    if proposed is not _MISSING:
        request["proposedTimes"] = expect["proposedTimes"] = proposed
    details = _opt(
        draw,
        st.lists(st.fixed_dictionaries({"question": texts, "answer": texts}), max_size=4),
    )
    if details is not _MISSING:
        request["details"] = expect["details"] = details
    files = _opt(draw, attachments())
    if files is not _MISSING:
        request["attachments"] = expect["attachments"] = files
    if request or draw(st.booleans()):
        body["request"] = request

    customer_kind = draw(st.sampled_from(["none", "name", "displayName", "firstLast", "empty"]))
    if customer_kind != "none":
        customer: dict[str, Any] = {}
        _put(customer, "customerID", _opt(draw, ids))
        _put(customer, "phone", _opt(draw, st.from_regex(r"[0-9]{10}", fullmatch=True)))
        if customer_kind == "name":
            customer["name"] = draw(texts)
        elif customer_kind == "displayName":
            customer["displayName"] = draw(texts)
        elif customer_kind == "firstLast":
            customer["firstName"] = draw(texts)
            customer["lastName"] = draw(texts)
        body["customer"] = customer
        expect["customer"] = customer

    if draw(st.booleans()):
        business: dict[str, Any] = {"businessID": draw(ids)}
        _put(business, "name", _opt(draw, st.one_of(texts, st.just(TEST_BUSINESS))))
        _put(business, "accessCode", _opt(draw, short_texts))
        body["business"] = business
        expect["business"] = business

    if draw(st.booleans()):
        body["leadPrice"], expect["leadPriceCents"] = draw(money())
    for key, values in (
        ("leadType", ["INSTANT_BOOK", "STANDARD", "DIRECT_LEAD", "SOMETHING_NEW"]),
        ("chargeState", ["Created", "Pending", "Charged", "Refunded"]),
        ("status", ["Open", "Canceled", "Picked", "active"]),
    ):
        value = _opt(draw, st.one_of(st.sampled_from(values), short_texts))
        if value is not _MISSING:
            body[key] = expect[key] = value
    _put(body, "price", _opt(draw, texts))
    _put(
        body,
        "estimate",
        _opt(
            draw,
            st.fixed_dictionaries(
                {"type": st.sampled_from(["Fixed", "PerUnit", "OnSite", "Hourly", "MoreInfo"])},
                optional={"amount": money().map(lambda m: m[0])},
            ),
        ),
    )
    _put(body, "leadPriceBreakdown", _opt(draw, json_values()))
    unknown = draw(extras)
    body.update(unknown)
    expect["extra"] = unknown
    return body, expect


# What lands in the store's JSON columns keeps its NULs (JSON escapes them); the text fields
# read through ``normalize.text`` lose them.
_JSON_KEPT = frozenset({"proposedTimes", "travelPreferences", "extra"})


# Coded fields are cut to their column's width (``normalize.code``).
_WIDTHS = {"zipCode": leads.c.zip_code.type.length, "state": leads.c.state.type.length}


def stored_text(value: Any, key: str = "") -> Any:
    """What the store keeps of an expected value: text less its NULs (``normalize.text``), a
    coded field cut to its column's width."""
    if key in _JSON_KEPT:
        return value
    if isinstance(value, str):
        kept = value.replace("\x00", "")
        width = _WIDTHS.get(key)
        return kept[:width] if width else kept
    if isinstance(value, dict):
        return {k: stored_text(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(stored_text(v) for v in value)
    return value


def check_lead(lead: dict[str, Any], expect: dict[str, Any]) -> None:
    expect = stored_text(expect)
    request = lead["request"]
    if "createTimestamp" in expect:
        when = expect["createTimestamp"]
        got = lead["createTimestamp"]
        assert (None if got is None else datetime.fromisoformat(got)) == when
    if "category" in expect:
        assert request["category"] == expect["category"]
    for key in ("title", "description", "schedule", "travelPreferences", "proposedTimes"):
        if key in expect:
            assert request[key] == expect[key], key
    for key, value in expect.get("location", {}).items():
        assert request["location"][key] == value, key
    if "details" in expect:
        assert request["details"] == expect["details"]
    if "attachments" in expect:
        got = request["attachments"]
        assert len(got) == len(expect["attachments"])
        for sent, kept in zip(expect["attachments"], got, strict=True):
            for key, value in sent.items():
                assert kept[key] == value, key
    if "customer" in expect:
        sent = expect["customer"]
        customer = lead["customer"]
        assert customer is not None
        if "customerID" in sent:
            assert customer["customerID"] == str(sent["customerID"])
        if "phone" in sent:
            assert customer["phone"] == sent["phone"]
        if "name" in sent:
            assert customer["name"] == (sent["name"] or None)
        if "displayName" in sent:
            assert customer["displayName"] == sent["displayName"]
            assert customer["name"] == (sent["displayName"] or None)
        if "firstName" in sent:
            assert customer["firstName"] == sent["firstName"]
            assert customer["lastName"] == sent["lastName"]
    if "business" in expect:
        sent = expect["business"]
        assert lead["business"]["businessID"] == str(sent["businessID"])
        if "name" in sent:
            assert lead["business"]["name"] == sent["name"]
        assert lead["isTest"] is (sent.get("name") == TEST_BUSINESS)
    else:
        assert lead["isTest"] is False
    if "leadPriceCents" in expect:
        assert lead["leadPriceCents"] == expect["leadPriceCents"]
    for key in ("leadType", "chargeState", "status"):
        if key in expect:
            assert lead[key] == expect[key], key
    if expect["extra"]:
        assert lead["extra"] is not None
    for key, value in expect["extra"].items():
        assert lead["extra"][key] == value, key


@st.composite
def message_fields(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields of a message other than its IDs, and what they should read back as."""
    fields: dict[str, Any] = {}
    expect: dict[str, Any] = {}
    text = _opt(draw, texts)
    if text is not _MISSING:
        fields["text"] = expect["text"] = text
    sender = _opt(draw, st.sampled_from(["Customer", "Business", "business", " Pro ", "someone"]))
    if sender is not _MISSING:
        fields["from"] = sender
    is_business = sender is not _MISSING and sender.strip().casefold() in {"business", "pro"}
    expect["from"] = "Business" if is_business else "Customer"
    files = _opt(draw, attachments())
    if files is not _MISSING:
        fields["attachments"] = files
        expect["attachments"] = len(files)
    return fields, expect


def check_message(message: dict[str, Any], expect: dict[str, Any]) -> None:
    expect = stored_text(expect)
    if "text" in expect:
        assert message["text"] == expect["text"]
    assert message["from"] == expect["from"]
    if "sentAt" in expect:
        got = message["sentAt"]
        assert (None if got is None else datetime.fromisoformat(got)) == expect["sentAt"]
    if "attachments" in expect:
        assert len(message["attachments"]) == expect["attachments"]


def find(items: list[dict[str, Any]], key: str, value: Any) -> dict[str, Any]:
    matches = [item for item in items if item[key] == str(value)]
    assert len(matches) == 1, f"{key}={value!r} not found once in {items}"
    return matches[0]


_RATINGS: list[tuple[Any, int | None]] = [
    *((str(r), r) for r in range(1, 6)),
    *((r, r) for r in range(1, 6)),
    (4.0, 4),
    ("great", None),
    (0, None),
    (7, None),
    (4.5, None),
    (None, None),
]


@st.composite
def review_fields(draw: st.DrawFn, v4: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    fields: dict[str, Any] = {}
    expect: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["rating"], expect["rating"] = draw(st.sampled_from(_RATINGS))
    text = _opt(draw, texts)
    if text is not _MISSING:
        fields["text"] = expect["text"] = text
    _put(fields, "businessID", _opt(draw, ids))
    _put(fields, "reviewerName", _opt(draw, short_texts))
    if not v4:
        _put(fields, "categoryID", _opt(draw, ids))
        _put(fields, "reviewerNickname", _opt(draw, short_texts))
        _put(fields, "modifyTime", _opt(draw, timestamps().map(lambda t: t[0])))
    if draw(st.booleans()):
        fields["createTime"], expect["createTime"] = draw(timestamps())
    _put(fields, "verified", _opt(draw, st.sampled_from([True, False, "true", "no", None])))
    _put(fields, "photos", _opt(draw, attachments()))
    return fields, expect


def check_review(review: dict[str, Any], expect: dict[str, Any]) -> None:
    expect = stored_text(expect)
    if "rating" in expect:
        assert review["rating"] == expect["rating"]
    if "text" in expect:
        assert review["text"] == expect["text"]
    if "createTime" in expect:
        got = review["createTime"]
        assert (None if got is None else datetime.fromisoformat(got)) == expect["createTime"]


LEAD_STATES = st.sampled_from(["before", "after", "unknown", "none"])


# --------------------------------------------------------------------------------------------
# Valid deliveries, endpoint by endpoint
# --------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(lead_id=ids, case=lead_bodies(), ascii_only=st.booleans())
def test_v1_lead_is_stored_and_readable(
    srv: RunningServer,
    lead_id: str | int,
    case: tuple[dict[str, Any], dict[str, Any]],
    ascii_only: bool,
) -> None:
    body, expect = case
    ack = deliver(srv, "/v1/lead", {"leadID": lead_id, **body}, ascii_only)
    assert ack["status"] == "accepted"
    assert ack["leadID"] == str(lead_id)
    lead = get_lead(srv, lead_id)
    assert lead["source"] == "v1"
    check_lead(lead, expect)
    # A redelivery is acknowledged and changes nothing.
    again = deliver(srv, "/v1/lead", {"leadID": lead_id, **body}, ascii_only)
    assert again["status"] == "duplicate"


@PROPERTY_SETTINGS
@given(
    lead_id=ids,
    message_id=ids,
    state=LEAD_STATES,
    nested=st.booleans(),
    case=message_fields(),
    sent=st.one_of(st.none(), timestamps()),
    customer_id=st.one_of(st.none(), ids),
    unknown=extras,
)
def test_v1_message_is_stored_and_threaded(
    srv: RunningServer,
    lead_id: str | int,
    message_id: str | int,
    state: str,
    nested: bool,
    case: tuple[dict[str, Any], dict[str, Any]],
    sent: tuple[Any, datetime | None] | None,
    customer_id: str | int | None,
    unknown: dict[str, Any],
) -> None:
    fields, expect = case
    inner = {"messageID": message_id, **fields}
    if sent is not None:
        inner["createTimestamp" if nested else "sentAt"], expect["sentAt"] = sent
    body: dict[str, Any] = {**unknown}
    if state != "none":
        body["leadID"] = lead_id
    if customer_id is not None:
        body["customerID"] = customer_id
    if nested:
        body["message"] = inner
    else:
        body.update(inner)

    if state == "before":
        post_lead(srv, lead_id)
    ack = deliver(srv, "/v1/message", body)
    assert ack["messageID"] == str(message_id)
    assert ack["status"] == ("accepted" if state == "before" else "pending")
    if state == "after":
        post_lead(srv, lead_id)
    if state in {"before", "after"}:
        message = find(get_lead(srv, lead_id)["messages"], "messageID", message_id)
        assert message["leadID"] == str(lead_id)
        check_message(message, expect)
    entry = inbound_entry(srv, ack["inboundID"])
    assert (entry["recordKind"], entry["recordID"]) == ("message", str(message_id))


@PROPERTY_SETTINGS
@given(
    lead_id=ids,
    state=st.sampled_from(["before", "after", "unknown"]),
    price=st.one_of(st.none(), money()),
    charge=st.one_of(st.none(), st.sampled_from(["Created", "Pending", "Charged", "Refunded"])),
    status=st.one_of(st.none(), short_texts),
    unknown=extras,
)
def test_v1_lead_update_applies_to_its_lead(
    srv: RunningServer,
    lead_id: str | int,
    state: str,
    price: tuple[Any, int | None] | None,
    charge: str | None,
    status: str | None,
    unknown: dict[str, Any],
) -> None:
    body: dict[str, Any] = {"leadID": lead_id, **unknown}
    if price is not None:
        body["leadPrice"] = price[0]
    if charge is not None:
        body["chargeState"] = charge
    if status is not None:
        body["status"] = status

    if state == "before":
        post_lead(srv, lead_id)
    ack = deliver(srv, "/v1/lead/update", body)
    assert ack["status"] == ("accepted" if state == "before" else "pending")
    if state == "after":
        post_lead(srv, lead_id)
    if state == "unknown":
        return
    lead = get_lead(srv, lead_id)
    updates = [h for h in lead["statusHistory"] if h["source"] == "update"]
    assert len(updates) == 1, lead["statusHistory"]
    assert updates[0]["applied"] is True
    if price is not None and (state == "before" or price[1] is not None):
        assert lead["leadPriceCents"] == price[1]
    if charge is not None:
        assert lead["chargeState"] == stored_text(charge)
    if status is not None and (state == "before" or stored_text(status)):
        assert lead["status"] == stored_text(status)


@PROPERTY_SETTINGS
@given(
    lead_id=ids,
    review_id=ids,
    state=LEAD_STATES,
    wrapped=st.booleans(),
    case=review_fields(v4=False),
    event_type=st.one_of(st.none(), st.sampled_from(["REVIEW_ADDED", "REVIEW_UPDATED"])),
)
def test_v1_review_is_stored_and_attached(
    srv: RunningServer,
    lead_id: str | int,
    review_id: str | int,
    state: str,
    wrapped: bool,
    case: tuple[dict[str, Any], dict[str, Any]],
    event_type: str | None,
) -> None:
    fields, expect = case
    review: dict[str, Any] = {"reviewID": review_id, **fields}
    if state != "none":
        review["leadID"] = lead_id
    body: dict[str, Any] = {"review": review} if wrapped else dict(review)
    if event_type is not None:
        body["reviewEventType"] = event_type

    if state == "before":
        post_lead(srv, lead_id)
    ack = deliver(srv, "/v1/review", body)
    assert ack["status"] == "accepted"
    assert ack["reviewID"] == str(review_id)
    if state == "after":
        post_lead(srv, lead_id)
    if state in {"before", "after"}:
        kept = find(get_lead(srv, lead_id)["reviews"], "reviewID", review_id)
        check_review(kept, expect)
        assert kept["reviewEventType"] == (event_type or "REVIEW_ADDED")
    entry = inbound_entry(srv, ack["inboundID"])
    assert (entry["recordKind"], entry["recordID"]) == ("review", str(review_id))


_VERSION = re.compile(r"V\d+$")
_HANDLED = {"NegotiationCreated", "MessageCreated", "ReviewCreated"}
other_event_types = st.one_of(
    st.sampled_from(
        [
            "PresetJobMatchedV4",
            "StatusChangedV4",
            "CancelledV4",
            "UpdatedV4",
            "CompletedV4",
            "IncentiveUsedV4",
            "SomethingNewV7",
        ]
    ),
    st.text(min_size=1, max_size=40),
).filter(lambda t: _stored(t).strip() != "" and _VERSION.sub("", _stored(t)) not in _HANDLED)


def _stored(text: str) -> str:
    """A text field as the store keeps it: less any NUL (``normalize.text``)."""
    return text.replace("\x00", "")


def _family_type(family: str) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{family}V4", f"{family}V5", family])


@st.composite
def v4_events(draw: st.DrawFn, event_type: st.SearchStrategy[str]) -> dict[str, Any]:
    event: dict[str, Any] = {"eventType": draw(event_type)}
    _put(event, "webhookID", _opt(draw, ids))
    _put(event, "triggeredAt", _opt(draw, timestamps().map(lambda t: t[0])))
    _put(event, "description", _opt(draw, texts))
    return event


@PROPERTY_SETTINGS
@given(data=st.data(), kind=st.sampled_from(["lead", "message", "review", "other"]))
def test_v4_webhook_is_stored(srv: RunningServer, data: st.DataObject, kind: str) -> None:
    draw = data.draw
    lead_id = draw(ids, "negotiationID")
    unknown = draw(extras, "envelope extras")
    if kind == "lead":
        event = draw(v4_events(_family_type("NegotiationCreated")), "event")
        fields, expect = draw(lead_bodies(), "data")
        ack = deliver(
            srv,
            "/v4/webhooks",
            {"event": event, "data": {"negotiationID": lead_id, **fields}, **unknown},
        )
        assert ack["status"] == "accepted"
        assert ack["leadID"] == str(lead_id)
        lead = get_lead(srv, lead_id)
        assert lead["source"] == "v4"
        check_lead(lead, expect)
    elif kind == "message":
        event = draw(v4_events(_family_type("MessageCreated")), "event")
        message_id = draw(ids, "messageID")
        state = draw(LEAD_STATES, "lead state")
        fields, expect = draw(message_fields(), "message fields")
        payload = {"messageID": message_id, **fields}
        if state != "none":
            payload["negotiationID"] = lead_id
        sent = draw(st.one_of(st.none(), timestamps()), "sentAt")
        if sent is not None:
            payload["sentAt"], expect["sentAt"] = sent
        if state == "before":
            post_lead(srv, lead_id)
        ack = deliver(srv, "/v4/webhooks", {"event": event, "data": payload, **unknown})
        assert ack["messageID"] == str(message_id)
        assert ack["status"] == ("accepted" if state == "before" else "pending")
        if state == "after":
            post_lead(srv, lead_id)
        if state in {"before", "after"}:
            check_message(find(get_lead(srv, lead_id)["messages"], "messageID", message_id), expect)
    elif kind == "review":
        event = draw(v4_events(_family_type("ReviewCreated")), "event")
        review_id = draw(ids, "reviewID")
        state = draw(LEAD_STATES, "lead state")
        fields, expect = draw(review_fields(v4=True), "review fields")
        payload = {"reviewID": review_id, **fields}
        if state != "none":
            payload["negotiationID"] = lead_id
        if state == "before":
            post_lead(srv, lead_id)
        ack = deliver(srv, "/v4/webhooks", {"event": event, "data": payload, **unknown})
        assert ack["status"] == "accepted"
        assert ack["reviewID"] == str(review_id)
        if state == "after":
            post_lead(srv, lead_id)
        if state in {"before", "after"}:
            check_review(find(get_lead(srv, lead_id)["reviews"], "reviewID", review_id), expect)
    else:
        event = draw(v4_events(other_event_types), "event")
        payload_any = draw(st.one_of(st.just(_MISSING), json_values()), "data")
        body: dict[str, Any] = {"event": event, **unknown}
        _put(body, "data", payload_any)
        ack = deliver(srv, "/v4/webhooks", body)
        assert ack["status"] == "ignored"
        entry = inbound_entry(srv, ack["inboundID"])
        assert entry["eventType"] == _stored(event["eventType"])
        listing = srv.operator.get("/api/inbound", params={"outcome": "ignored", "limit": 5})
        assert ack["inboundID"] in [item["id"] for item in listing.json()["items"]]
        return
    entry = inbound_entry(srv, ack["inboundID"])
    assert entry["eventType"] == _stored(event["eventType"])


# --------------------------------------------------------------------------------------------
# Invalid deliveries
# --------------------------------------------------------------------------------------------

_ID_KEYS = {"leadID", "messageID", "review", "reviewID", "event", "negotiationID"}
_no_id_keys = st.text(max_size=12).filter(lambda k: k not in _ID_KEYS)
idless_json = json_values(_no_id_keys)

bad_ids = st.one_of(
    st.none(),
    st.booleans(),
    st.just(""),
    st.text(" \t\r\n", min_size=1, max_size=4),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.lists(json_values(), max_size=3),
    st.dictionaries(st.text(max_size=8), json_values(), max_size=3),
)
not_objects = json_values().filter(lambda v: not isinstance(v, dict))


@st.composite
def valid_bodies(draw: st.DrawFn, route: str) -> Any:
    """A minimal but valid delivery for ``route``."""
    ident = draw(ids)
    if route in {"/v1/lead", "/v1/lead/update"}:
        return {"leadID": ident, **draw(extras)}
    if route == "/v1/message":
        return {"leadID": draw(ids), "message": {"messageID": ident, "text": draw(texts)}}
    if route == "/v1/review":
        return {"review": {"reviewID": ident, "rating": 5}, "reviewEventType": "REVIEW_ADDED"}
    return {
        "event": {"eventType": "NegotiationCreatedV4", "webhookID": "wh_1"},
        "data": {"negotiationID": ident, "customer": {"displayName": draw(texts)}},
    }


@st.composite
def misidentified(draw: st.DrawFn, route: str) -> tuple[Any, str]:
    """A delivery whose identifier is missing or of the wrong type, and the field to blame."""
    bad = draw(st.one_of(st.just(_MISSING), bad_ids))
    rest = draw(st.dictionaries(_no_id_keys, json_values(_no_id_keys), max_size=3))

    def place(target: dict[str, Any], key: str) -> dict[str, Any]:
        _put(target, key, bad)
        return target

    if route in {"/v1/lead", "/v1/lead/update"}:
        return place(rest, "leadID"), "leadID"
    if route == "/v1/message":
        if draw(st.booleans()):
            return {"leadID": draw(ids), "message": place({"text": "hi"}, "messageID")}, (
                "message.messageID"
            )
        return place({"leadID": draw(ids), "text": "hi"}, "messageID"), "messageID"
    if route == "/v1/review":
        choice = draw(st.sampled_from(["reviewID", "review"]))
        if choice == "reviewID":
            return {"review": place({"rating": 4}, "reviewID")}, "review.reviewID"
        if bad is _MISSING or bad is None:
            return rest, "review"
        return {"review": bad}, "review.reviewID" if isinstance(bad, dict) else "review"
    choice = draw(st.sampled_from(["event", "eventType", "data", "id"]))
    family = draw(st.sampled_from(["NegotiationCreated", "MessageCreated", "ReviewCreated"]))
    key = {
        "NegotiationCreated": "negotiationID",
        "MessageCreated": "messageID",
        "ReviewCreated": "reviewID",
    }[family]
    if choice == "event":
        body = place({"data": {key: "1"}}, "event")
        if isinstance(bad, dict):  # an object is a valid event: make it lack its type
            body["event"] = {k: v for k, v in bad.items() if k != "eventType"}
        return body, "event" if not isinstance(bad, dict) else "event.eventType"
    if choice == "eventType":
        # Any non-empty text (even blank) or integral number names a type; the rest do not.
        event = place({"webhookID": "wh"}, "eventType")
        if isinstance(bad, str):
            event["eventType"] = ""
        return {"event": event, "data": {key: "1"}}, "event.eventType"
    event = {"eventType": f"{family}V4"}
    if choice == "data":
        if bad is _MISSING:
            return {"event": event}, "data"
        return {"event": event, "data": bad}, f"data.{key}" if isinstance(bad, dict) else "data"
    return {"event": event, "data": place(dict(rest), key)}, f"data.{key}"


@pytest.mark.parametrize("route", ROUTES)
@INVALID_SETTINGS
@given(data=st.data())
def test_body_that_is_not_an_object_or_lacks_its_id_is_refused(
    srv: RunningServer, route: str, data: st.DataObject
) -> None:
    body = data.draw(st.one_of(not_objects, idless_json.filter(lambda v: isinstance(v, dict))))
    raw = _encode(body, data.draw(st.booleans()))
    response = _request(srv, route, raw)
    problem = assert_refused(srv, response, route, raw, (422,))
    assert problem["errors"][0]["field"]


@pytest.mark.parametrize("route", ROUTES)
@INVALID_SETTINGS
@given(data=st.data())
def test_wrong_or_missing_identifier_is_refused_naming_it(
    srv: RunningServer, route: str, data: st.DataObject
) -> None:
    body, field = data.draw(misidentified(route))
    raw = _encode(body)
    response = _request(srv, route, raw)
    problem = assert_refused(srv, response, route, raw, (422,))
    assert [e["field"] for e in problem.get("errors", [])] == [field], problem


@pytest.mark.parametrize("route", ROUTES)
@INVALID_SETTINGS
@given(data=st.data())
def test_malformed_json_is_refused(srv: RunningServer, route: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["bytes", "truncated", "text"]))
    if kind == "bytes":
        raw = data.draw(st.binary(max_size=200))
    elif kind == "truncated":
        whole = _encode(data.draw(valid_bodies(route)))
        raw = whole[: data.draw(st.integers(0, len(whole) - 1))]
    else:
        raw = data.draw(st.text(max_size=60)).encode()
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        assume(False)
    content_type = data.draw(
        st.sampled_from(["application/json", "application/json; charset=utf-8", None])
    )
    response = _request(srv, route, raw, content_type)
    assert_refused(srv, response, route, raw, (400,))


@pytest.mark.parametrize("route", ROUTES)
@INVALID_SETTINGS
@given(
    data=st.data(),
    content_type=st.sampled_from(
        [
            "text/plain",
            "text/plain; charset=utf-8",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/xml",
            "application/octet-stream",
            "text/html",
            "image/png",
        ]
    ),
)
def test_wrong_content_type_is_refused(
    srv: RunningServer, route: str, data: st.DataObject, content_type: str
) -> None:
    body = data.draw(st.one_of(valid_bodies(route), json_values()))
    raw = _encode(body) if data.draw(st.booleans()) else data.draw(st.binary(max_size=100))
    response = _request(srv, route, raw, content_type)
    assert_refused(srv, response, route, raw, (415,))


# --------------------------------------------------------------------------------------------
# Out-of-range values: odd, but they do not make a delivery invalid
# --------------------------------------------------------------------------------------------

_BIG_INTS = st.integers(-(2**256), 2**256)  # past int64 and uint64, but still a JSON double
# The first and last days datetime can represent, with an offset that may carry them past it.
edge_datetimes = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
    st.sampled_from(
        [datetime.min, datetime.max, datetime(1, 1, 1, 12), datetime(9999, 12, 31, 12)]
    ),
    st.sampled_from([timedelta(hours=h) for h in (-14, -1, 0, 1, 14)]),
)
extreme_timestamps = st.one_of(
    edge_datetimes,  # half of the draws: the likeliest to break
    st.one_of(
        st.datetimes(
            timezones=st.one_of(
                st.none(),
                st.builds(
                    timezone,
                    st.timedeltas(
                        min_value=timedelta(hours=-23, minutes=-59),
                        max_value=timedelta(hours=23, minutes=59),
                    ).map(lambda d: timedelta(minutes=round(d.total_seconds() / 60))),
                ),
            )
        ).map(lambda d: d.isoformat()),
        _BIG_INTS,
        st.integers().map(str),
        _JSON_FLOAT,
    ),
)
extreme_numbers = st.one_of(
    _BIG_INTS,
    st.integers(min_value=0).map(str),
    _JSON_FLOAT,
    st.integers(min_value=0).map(lambda d: f"${d:,}.00"),
    st.integers(min_value=0).map(lambda d: f"{d}.99"),
)

_EXTREME_PLACES: dict[str, list[tuple[str, ...]]] = {
    "/v1/lead": [
        ("createTimestamp",),
        ("leadPrice",),
        ("request", "attachments", "0", "fileSize"),
        ("leadID",),
    ],
    "/v1/message": [("message", "createTimestamp"), ("message", "attachments", "0", "fileSize")],
    "/v1/lead/update": [("leadPrice",)],
    "/v1/review": [
        ("review", "createTime"),
        ("review", "modifyTime"),
        ("review", "rating"),
        ("review", "photos", "0", "fileSize"),
    ],
    "/v4/webhooks": [
        ("event", "triggeredAt"),
        ("data", "createTime"),
        ("data", "leadPrice"),
        ("data", "negotiationID"),
    ],
}


def _set_path(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target: Any = body
    for i, key in enumerate(path[:-1]):
        following = path[i + 1]
        if isinstance(target, list):
            target = target[int(key)]
            continue
        target = target.setdefault(key, [{}] if following.isdigit() else {})
    target[path[-1]] = value


@pytest.mark.parametrize("route", ROUTES)
@INVALID_SETTINGS
@given(data=st.data())
def test_out_of_range_values_are_tolerated(
    srv: RunningServer, route: str, data: st.DataObject
) -> None:
    body = data.draw(valid_bodies(route))
    path = data.draw(st.sampled_from(_EXTREME_PLACES[route]))
    last = path[-1]
    if last in {"leadID", "negotiationID"}:
        value: Any = data.draw(st.integers(1, 2**256))
    elif "Time" in last or "Timestamp" in last or last == "triggeredAt":
        value = data.draw(extreme_timestamps)
    else:
        value = data.draw(extreme_numbers)
    _set_path(body, path, value)
    if last in {"leadID", "negotiationID"} and len(str(value)) > 64:
        # Longer than any store column: refused, never half-stored.
        response = _request(srv, route, _encode(body))
        assert response.status_code == 422, response.text
        assert last in response.json()["errors"][0]["field"]
        return
    ack = deliver(srv, route, body)
    if last in {"leadID", "negotiationID"}:
        # An integer ID must come back as the same digits, however large.
        assert ack["leadID"] == str(value)
        get_lead(srv, value)
