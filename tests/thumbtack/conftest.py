"""Fixtures for wire-format tests: a MockTransport that records requests and replays answers."""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import pytest

from tackbridge.thumbtack import ClientCredentials, Environment, ThumbtackClient

# The sample client of thumbtack-partner-api-v2.md: its Basic header decodes to
# "THUMBTACK INTERNAL:ZxRqLnvYAC3HDjTYdzoltQ" (plus a stray newline, see test_legacy).
CLIENT_ID = "THUMBTACK INTERNAL"
CLIENT_SECRET = "ZxRqLnvYAC3HDjTYdzoltQ"
V1_USER = "partner-user"
V1_PASSWORD = "partner-pass-123"

# Sample values of the reference documents.
AUTH_CODE = "BnCICCQ9KWF6WXj_xtiN3A"
REDIRECT_URI = "http://redirect.thumbtack.com"
REFRESH_TOKEN = "zRw4chXenfjNLenO2_lVOQ"
ACCESS_TOKEN = (
    "1.eyJCdXNpbmVzc1BLIjozOTUwMjMyMDc2MTEwMjMzNzIsIkNsaWVudElEIjoicHJvbmV4aSIsIlNjb3BlIjpbIm1lc3Nh"
    "Z2VzIl0sIkV4cGlyZXNBdCI6IjIwMjEtMTAtMjJUMjI6MTM6MDMuNDMwMTMwNzQ4WiJ9.CyNhsuC0JQDM9zNrpjduD7Ja"
)
TOKEN_ANSWER = {
    "access_token": "1.eyJCdXNpbmVzc1BLIjozODgwMDYwNjczNTExNTA1OTUifQ.qJDfeuYfdFZCSVQmBUgr",
    "token_type": "bearer",
    "expires_in": 3600,
    "refresh_token": "_s3cnwGAb5VgBt-CmYFSOw",
}

Answer = httpx2.Response | Callable[[httpx2.Request], httpx2.Response]


class Recorder:
    """Records every request; answers with the queued responses, in order."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self._answers: deque[Answer] = deque()

    def answer(self, *answers: Answer) -> None:
        self._answers.extend(answers)

    def json(self, body: Any, status: int = 200, **headers: str) -> None:
        self.answer(httpx2.Response(status, json=body, headers=headers))

    def raw(
        self, status: int, content: bytes = b"", content_type: str | None = None, **headers: str
    ) -> None:
        all_headers = dict(headers)
        if content_type:
            all_headers["Content-Type"] = content_type
        self.answer(httpx2.Response(status, content=content, headers=all_headers))

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self._answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self._answers.popleft()
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx2.Request:
        assert self.requests, "no request was sent"
        return self.requests[-1]


def query(request: httpx2.Request) -> list[tuple[str, str]]:
    """The decoded query string, in order."""
    return parse_qsl(request.url.query.decode(), keep_blank_values=True)


def form(request: httpx2.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True)


def body(request: httpx2.Request) -> Any:
    return json.loads(request.content)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def make_client(recorder: Recorder, environment: Environment | None = None) -> ThumbtackClient:
    return ThumbtackClient(
        environment or Environment.production(),
        credentials=ClientCredentials(CLIENT_ID, CLIENT_SECRET),
        v1_credentials=ClientCredentials(V1_USER, V1_PASSWORD),
        transport=httpx2.MockTransport(recorder.handler),
        user_agent="tackbridge-tests/1",
    )


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[ThumbtackClient]:
    async with make_client(recorder) as thumbtack:
        yield thumbtack


@pytest.fixture
async def staging(recorder: Recorder) -> AsyncIterator[ThumbtackClient]:
    async with make_client(recorder, Environment.staging()) as thumbtack:
        yield thumbtack
