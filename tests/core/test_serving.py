"""Done when: connections with half-sent (or no) headers are answered 408 and closed after the
header deadline, oversized header blocks 431, and a served request is unaffected (raw sockets
on a real server on loopback)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.support.raw import basic, closed_by_peer, connect, head, read_answer
from tests.support.tackbridge import WEBHOOK_AUTH, RunningServer, make_settings, running


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("serving"), header_timeout_seconds=0.5, max_header_bytes=16384
    )
    with running(settings) as srv:
        yield srv


def test_half_sent_headers_are_answered_408_and_closed(live: RunningServer) -> None:
    # Many at once: each holds nothing once its deadline is over.
    socks = [connect(live.url) for _ in range(100)]
    try:
        for sock in socks:
            sock.sendall(b"POST /v1/lead HTTP/1.1\r\nHost: x\r\nContent-Type: app")
        for sock in socks:
            answer = read_answer(sock)
            assert answer.status == 408
            assert answer.headers["connection"] == "close"
            assert closed_by_peer(sock)
    finally:
        for sock in socks:
            sock.close()


def test_a_silent_connection_is_closed(live: RunningServer) -> None:
    with connect(live.url) as sock:
        assert read_answer(sock).status == 408
        assert closed_by_peer(sock)


def test_a_trickle_of_headers_is_cut_at_the_deadline_not_reset_by_each_byte(
    live: RunningServer,
) -> None:
    with connect(live.url, timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        # A byte every 0.1 s would keep an idle timeout from ever firing.
        answered = None
        for _ in range(100):
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.settimeout(0.1)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            answered = data
            break
        assert answered is not None
        assert answered.startswith(b"HTTP/1.1 408")


def test_oversized_headers_are_431(live: RunningServer) -> None:
    with connect(live.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(40):
                sock.sendall(f"X-Pad-{i}: {'p' * 1000}\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_answer(sock).status == 431


def test_requests_on_a_kept_alive_connection_still_work(live: RunningServer) -> None:
    with connect(live.url) as sock:
        for _ in range(3):
            sock.sendall(head("GET", "/healthz", {}))
            assert read_answer(sock).status == 200
        auth = {"Authorization": basic(*WEBHOOK_AUTH), "Content-Type": "application/json"}
        body = b'{"leadID": "kept-alive"}'
        sock.sendall(head("POST", "/v1/lead", {**auth, "Content-Length": str(len(body))}) + body)
        assert read_answer(sock).status == 200


def test_no_answer_is_needed_from_a_client_that_left(live: RunningServer) -> None:
    sock = connect(live.url)
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    with connect(live.url) as other:  # the server is still there
        other.sendall(head("GET", "/healthz", {}))
        assert read_answer(other).status == 200
