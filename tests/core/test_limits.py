"""Done when: every route has the one body limit, enforced while the body streams in (a
declared length above it is refused before a byte is read; the operator API took a 300 MB body
whole before), and a body that does not arrive in time is answered 408; both problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.raw import connect, head, read_answer, send_until_answered
from tests.support.tackbridge import API_TOKEN, RunningServer, make_settings, running

OPERATOR = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
RULES = "/api/businesses/b1/autoreply"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path_factory.mktemp("limits"), body_timeout_seconds=0.5)
    with running(settings) as srv:
        yield srv


def _problem(answer: object, status: int, slug: str) -> dict[str, object]:
    import json

    assert getattr(answer, "status", None) == status, answer
    headers = answer.headers  # type: ignore[attr-defined]
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    body: dict[str, object] = json.loads(answer.body)  # type: ignore[attr-defined]
    assert body["type"] == f"urn:tackbridge:problem:{slug}"
    return body


def test_an_operator_body_over_the_limit_is_413(server: RunningServer) -> None:
    big = b'{"default": {"template": "' + b"x" * (1024 * 1024) + b'"}}'
    answer = server.operator.put(RULES, content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "urn:tackbridge:problem:body-too-large"
    assert server.operator.get(RULES).json()["inherited"] is True  # nothing was saved


def test_a_declared_300_mb_body_is_refused_before_it_is_sent(live: RunningServer) -> None:
    with connect(live.url) as sock:
        sock.sendall(head("PUT", RULES, {**OPERATOR, "Content-Length": str(300 * 1024 * 1024)}))
        _problem(read_answer(sock), 413, "body-too-large")


def test_an_endless_chunked_body_is_cut_at_the_limit(live: RunningServer) -> None:
    with connect(live.url) as sock:
        sock.sendall(head("PUT", RULES, {**OPERATOR, "Transfer-Encoding": "chunked"}))
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
        sent = send_until_answered(sock, chunk, most=300 * 1024 * 1024)
        _problem(read_answer(sock), 413, "body-too-large")
    # Answered while streaming, not after reading it all (what the socket buffers hold aside).
    assert sent < 32 * 1024 * 1024


def test_a_body_that_stops_coming_is_408(live: RunningServer) -> None:
    with connect(live.url) as sock:
        sock.sendall(head("PUT", RULES, {**OPERATOR, "Content-Length": "1000"}) + b'{"de')
        _problem(read_answer(sock), 408, "body-timeout")


def test_a_streamed_response_is_not_cut_by_the_body_deadline(live: RunningServer) -> None:
    # After its body, a request waits for its answer as long as that takes: the deadline is
    # on the body alone (the OpenAPI document is built on first use, and read whole here).
    with connect(live.url) as sock:
        sock.sendall(head("GET", "/openapi.json", {}))
        assert read_answer(sock).status == 200


def test_the_limit_is_a_setting(tmp_path: Path) -> None:
    with running(make_settings(tmp_path, max_body_bytes=100)) as srv:
        answer = srv.operator.put(
            RULES, content=b"{" + b" " * 200 + b"}", headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413
