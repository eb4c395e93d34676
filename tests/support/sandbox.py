"""Driving the sandbox over real HTTP, as a partner would: a client for a running sandbox, a
recording partner server that deliveries land on, and helpers for the OAuth flows. The pytest
fixtures that start them live in tests/sandbox/conftest.py (and wherever else they are needed)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread
import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tackbridge.sandbox import SandboxConfig

CLIENT = ("tackbridge-dev", "dev-client-secret")
API_USER = ("tackbridge-dev", "dev-api-password")
COPERNIQ_KEY = {"x-api-key": "dev-coperniq-key"}
REDIRECT = "http://127.0.0.1:9/callback"
SUPPLY = (
    "supply::negotiations.read supply::negotiations.write supply::messages.read "
    "supply::messages.write supply::businesses.list supply::webhooks.read "
    "supply::webhooks.write offline_access"
)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Partner:
    """A partner's endpoints: records every delivery, answers from a queue of statuses."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: deque[int] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # While ``hold`` is set, every delivery is answered only once ``release`` is set.
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        wait_until(lambda: len(self.received) >= count, timeout)
        with self.lock:
            return list(self.received)


def partner_app(partner: Partner) -> Starlette:
    async def record(request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode()
        with partner.lock:
            partner.received.append(
                Received(request.method, request.url.path, dict(request.headers), body)
            )
            status = partner.answers.popleft() if partner.answers else 200
        if partner.hold:
            await anyio.to_thread.run_sync(partner.release.wait, 10.0)
        return JSONResponse({"ok": status < 300}, status_code=status)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", record, methods=methods)])


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@dataclass
class Sandbox:
    url: str
    http: httpx2.Client

    def get(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.http.get(self.url + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.http.post(self.url + path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.http.put(self.url + path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.http.patch(self.url + path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx2.Response:
        return self.http.delete(self.url + path, **kwargs)

    def inspect(self, what: str) -> Any:
        response = self.get("/_sandbox/" + what)
        assert response.status_code == 200, response.text
        return response.json()

    def business_ids(self) -> list[str]:
        return [b["businessID"] for b in self.inspect("businesses")]

    def new_lead(self, business_id: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"businessID": business_id, **extra} if business_id else extra
        response = self.post("/_sandbox/leads", json=body)
        assert response.status_code == 201, response.text
        lead: dict[str, Any] = response.json()
        return lead

    def advance(self, seconds: float) -> None:
        assert self.post("/_sandbox/clock/advance", json={"seconds": seconds}).status_code == 200

    def faults(self, **faults: Any) -> None:
        response = self.put("/_sandbox/faults", json=faults)
        assert response.status_code == 200, response.text

    def deliveries(self, **query: str) -> list[dict[str, Any]]:
        response = self.get("/_sandbox/deliveries", params=query)
        result: list[dict[str, Any]] = response.json()
        return result


FAST = SandboxConfig(
    delivery_backoff_seconds=0.05,
    delivery_backoff_max_seconds=0.2,
    delivery_timeout_seconds=3.0,
    reply_rate=0.0,
    review_rate=0.0,
)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_params(**overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT,
        "scope": SUPPLY,
        "state": "state-12345",
        "audience": "urn:partner-api",
    }
    params.update(overrides)
    return params


def v4_code(sb: Sandbox, business_id: str, **overrides: str) -> dict[str, str]:
    """Runs the consent page as a pro would; returns the redirect's query parameters."""
    params = authorize_params(**overrides)
    page = sb.get("/oauth2/auth", params=params)
    assert page.status_code == 200, page.text
    form = {k: v for k, v in params.items()}
    form.update(business_id=business_id, action="approve")
    answer = sb.post("/oauth2/auth", data=form)
    assert answer.status_code == 302, answer.text
    return query_of(answer.headers["location"])


def v4_tokens(
    sb: Sandbox, business_id: str, scope: str = SUPPLY, **overrides: str
) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code = v4_code(
        sb,
        business_id,
        scope=scope,
        code_challenge=challenge,
        code_challenge_method="S256",
        **overrides,
    )["code"]
    answer = sb.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=CLIENT,
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def legacy_code(sb: Sandbox, business_id: str, scope: str = "messages targeting") -> str:
    params = {
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": scope,
    }
    answer = sb.post("/services/partner-connect/", data={**params, "business_id": business_id})
    assert answer.status_code == 302, answer.text
    return query_of(answer.headers["location"])["code"]


def legacy_tokens(
    sb: Sandbox, business_id: str, scope: str = "messages targeting"
) -> dict[str, Any]:
    code = legacy_code(sb, business_id, scope)
    answer = sb.post(
        "/v2/tokens/access",
        params={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "token_type": "AUTH_CODE",
        },
        auth=CLIENT,
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def is_problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "traceID", "errors"} <= set(body)
    return body
