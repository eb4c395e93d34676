"""``AiohttpTransport``: httpx2's clients over aiohttp's pool, against a real server on
loopback. What the clients rely on must pass through unchanged: method, path and query, headers
both ways, bodies, status codes, content-encoding (decoded by httpx2), redirects (followed only
when httpx2 is asked), and failures as httpx2's exceptions."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tackbridge.core.http import AiohttpTransport
from tests.support.servers import free_port, serve


async def _echo(request: Request) -> Response:
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": (await request.body()).decode(),
        },
        status_code=201,
        headers={"x-answer": "yes", "set-cookie": "a=1"},
    )


async def _gzip(_: Request) -> Response:
    return Response(gzip.compress(b"packed " * 100), headers={"content-encoding": "gzip"})


async def _slow(_: Request) -> Response:
    await asyncio.sleep(2)
    return Response(b"late")


async def _moved(_: Request) -> Response:
    return RedirectResponse("/echo", status_code=307)


APP = Starlette(
    routes=[
        Route("/echo", _echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        Route("/gzip", _gzip),
        Route("/slow", _slow),
        Route("/moved", _moved, methods=["GET", "POST"]),
    ]
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(APP) as base:
        yield base


async def test_requests_and_answers_pass_through_unchanged(url: str) -> None:
    async with httpx2.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
        answer = await client.put(
            "/echo",
            params={"q": "a b/ü", "n": "1"},
            json={"text": "héllo"},
            headers={"Authorization": "Bearer t0k", "Idempotency-Key": "k-1"},
        )
        assert answer.status_code == 201
        assert answer.headers["x-answer"] == "yes"
        seen = answer.json()
        assert (seen["method"], seen["path"]) == ("PUT", "/echo")
        assert httpx2.QueryParams(seen["query"]) == httpx2.QueryParams({"q": "a b/ü", "n": "1"})
        assert seen["headers"]["authorization"] == "Bearer t0k"
        assert seen["headers"]["idempotency-key"] == "k-1"
        assert seen["headers"]["content-type"] == "application/json"
        assert seen["headers"]["host"] == url.removeprefix("http://")
        assert seen["body"] == '{"text":"héllo"}'
        # The same connection again (keep-alive), and a body-less method.
        again = await client.delete("/echo")
        assert (again.status_code, again.json()["body"]) == (201, "")
        assert client.cookies["a"] == "1"  # the Set-Cookie reaches httpx2 (its jar, as before)
        packed = await client.get("/gzip")
        assert packed.text == "packed " * 100


async def test_redirects_are_httpx2_s_to_follow(url: str) -> None:
    async with httpx2.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
        assert (await client.get("/moved")).status_code == 307
        followed = await client.get("/moved", follow_redirects=True)
        assert (followed.status_code, followed.json()["path"]) == (201, "/echo")


async def test_failures_are_httpx2_s_exceptions(url: str) -> None:
    transport = AiohttpTransport()
    async with httpx2.AsyncClient(transport=transport, timeout=0.3) as client:
        with pytest.raises(httpx2.ReadTimeout):
            await client.get(f"{url}/slow")
        with pytest.raises(httpx2.ConnectError):
            await client.get(f"http://127.0.0.1:{free_port()}/")
