"""The SSRF guard: which URLs a business may set, and what a guarded client connects to (a real
loopback server; a stand-in resolver where the test needs DNS to say something)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpcore2
import httpx2
import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tackbridge.core.http import AiohttpTransport, ShardedTransport
from tackbridge.core.netguard import (
    AddressPolicy,
    GuardedBackend,
    GuardedResolver,
    GuardedTransport,
    RefusedAddressError,
    is_public,
    literal_address,
)
from tests.support.servers import serve

STRICT = AddressPolicy.of()


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("169.254.169.254", "169.254.169.254"),
        ("example.com", None),
        ("deadbeef.example", None),
    ],
)
def test_literal_addresses_in_every_spelling_resolvers_accept(
    host: str, address: str | None
) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "ff02::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must be an https URL"),
        ("file:///etc/passwd", "must be an https URL"),
        ("not a url", "must be an https URL"),
        ("https:///path", "must name a host"),
        ("https://127.0.0.1/x", "not a public address"),
        ("https://0x7f000001/x", "unusual form"),
        ("https://2130706433/x", "unusual form"),
        ("https://127.1/x", "unusual form"),
        ("https://169.254.169.254/latest/meta-data/", "not a public address"),
        ("https://[::ffff:127.0.0.1]/x", "not a public address"),
        ("https://[::1]:8443/x", "not a public address"),
        ("https://10.0.0.8/x", "not a public address"),
        ("https://metadata.google.internal/computeMetadata/v1/", "internal host"),
        ("https://localhost/x", "internal host"),
        ("https://LOCALHOST./x", "internal host"),
        ("https://printer.local/x", "internal host"),
        ("https://intranet/x", "internal host"),
        ("https://%31%32%37.0.0.1/x", "not a plain name"),
        ("https://h.example.com:99999/x", "not a valid URL"),
    ],
)
def test_urls_a_business_may_not_set(url: str, reason: str) -> None:
    found = STRICT.check_url(url)
    assert found is not None
    assert reason in found
    assert "/x" not in found  # never the path (tokens live there)
    assert "meta-data" not in found


def test_public_https_urls_pass() -> None:
    assert STRICT.check_url("https://hooks.zapier.com/hooks/catch/1/abc/") is None
    assert STRICT.check_url("https://93.184.216.34:8443/x") is None


def test_the_allow_list_and_trusted_urls_and_dev_mode() -> None:
    policy = AddressPolicy.of(
        allowed=["10.0.0.8", "http://127.0.0.1:9000", "crm.corp:8443"],
        trusted_urls=["http://127.0.0.1:8700/coperniq/v1", None],
    )
    assert policy.check_url("https://10.0.0.8/x") is None
    assert policy.check_url("http://10.0.0.8/x") is not None  # listed without http://
    assert policy.check_url("http://127.0.0.1:9000/x") is None
    assert policy.check_url("http://127.0.0.1:9001/x") is not None  # another port
    assert policy.check_url("https://crm.corp:8443/x") is None
    assert policy.permits_host("crm.corp", 8443)
    assert not policy.permits_host("crm.corp", 443)  # its name is still resolved and checked
    assert policy.check_url("http://127.0.0.1:8700/other") is None  # the sandbox's origin
    assert AddressPolicy.of(open=True).check_url("http://127.0.0.1:1/x") is None
    with pytest.raises(ValueError, match="not an http"):
        AddressPolicy.of(allowed=["ftp://x"])


def _resolver(answers: dict[str, list[str]]) -> Any:
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[Any]:
        calls.append(host)
        if host not in answers:
            raise httpcore2.ConnectError(f"{host} does not resolve")
        return [ipaddress.ip_address(a) for a in answers[host]]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def test_a_save_refuses_a_name_resolving_inside_and_passes_one_not_resolving() -> None:
    policy = replace(
        STRICT,
        resolve=_resolver(
            {"rebind.example": ["93.184.216.34", "127.0.0.1"], "ok.example": ["8.8.8.8"]}
        ),
    )
    with pytest.raises(RefusedAddressError, match=r"rebind\.example.*127\.0\.0\.1"):
        await policy.check_resolved("https://rebind.example/h")
    await policy.check_resolved("https://ok.example/h")
    await policy.check_resolved("https://nowhere.example/h")  # checked again when sent to


class _Recording(httpcore2.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.hosts.append(host)
        raise httpcore2.ConnectError("recorded")


async def test_a_call_connects_to_the_address_it_checked_never_resolving_again() -> None:
    resolve = _resolver({"hooks.example": ["93.184.216.34"], "inside.example": ["10.0.0.1"]})
    inner = _Recording()
    backend = GuardedBackend(replace(STRICT, resolve=resolve), inner)
    with pytest.raises(httpcore2.ConnectError):
        await backend.connect_tcp("hooks.example", 443)
    assert inner.hosts == ["93.184.216.34"]  # the checked address, not the name again
    with pytest.raises(RefusedAddressError, match=r"10\.0\.0\.1"):
        await backend.connect_tcp("inside.example", 443)
    with pytest.raises(RefusedAddressError, match="internal host"):
        await backend.connect_tcp("metadata.google.internal", 80)
    assert inner.hosts == ["93.184.216.34"]
    assert resolve.calls == ["hooks.example", "inside.example"]


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def hit(request: Request) -> PlainTextResponse:
        seen.append(request.headers.get("x-api-key", ""))
        return PlainTextResponse("reached")

    with serve(Starlette(routes=[Route("/{path:path}", hit, methods=["GET", "POST"])])) as url:
        yield url, seen


def _httpcore_client(policy: AddressPolicy) -> httpx2.AsyncClient:
    transport = GuardedTransport(ShardedTransport(network_backend=GuardedBackend(policy)), policy)
    return httpx2.AsyncClient(transport=transport)


def _aiohttp_client(policy: AddressPolicy) -> httpx2.AsyncClient:
    """As ``services.open_http`` builds the CRM calls' client."""
    inner = AiohttpTransport(resolver=lambda: GuardedResolver(policy))
    return httpx2.AsyncClient(transport=GuardedTransport(inner, policy))


CLIENTS = pytest.mark.parametrize(
    "make_client", [_httpcore_client, _aiohttp_client], ids=["httpcore", "aiohttp"]
)


@CLIENTS
async def test_a_guarded_client_reaches_loopback_only_when_allowed(
    listener: tuple[str, list[str]], make_client: Callable[[AddressPolicy], httpx2.AsyncClient]
) -> None:
    url, seen = listener
    seen.clear()
    port = url.rsplit(":", 1)[1]
    for target in (url, f"http://0x7f000001:{port}", f"http://[::ffff:127.0.0.1]:{port}"):
        async with make_client(AddressPolicy.of(allowed=[f"127.0.0.1:{port}"])) as client:
            with pytest.raises(RefusedAddressError, match="http"):
                await client.post(target + "/h", headers={"x-api-key": "account-key"})
    async with make_client(AddressPolicy.of(allowed=["0x7f000001"])) as client:
        # https is allowed by the scheme rule, but the address is still loopback.
        with pytest.raises(RefusedAddressError):
            await client.get(f"https://localhost:{port}/h")
    assert seen == []
    async with make_client(AddressPolicy.of(allowed=[f"http://127.0.0.1:{port}"])) as client:
        answer = await client.post(url + "/h", headers={"x-api-key": "k"})
    assert answer.text == "reached"
    async with make_client(AddressPolicy.of(trusted_urls=[url + "/coperniq/v1"])) as client:
        assert (await client.get(url + "/x")).text == "reached"
    assert seen == ["k", ""]


async def test_the_aiohttp_resolver_connects_to_the_address_it_checked() -> None:
    """``GuardedResolver``: a name inside, an internal name, a name that does not resolve are
    refused as ``GuardedBackend`` refuses them; a public one answers its checked addresses."""
    resolve = _resolver({"hooks.example": ["93.184.216.34"], "inside.example": ["10.0.0.1"]})
    resolver = GuardedResolver(replace(STRICT, resolve=resolve))
    found = await resolver.resolve("hooks.example", 443)
    assert [(r["hostname"], r["host"], r["port"]) for r in found] == [
        ("hooks.example", "93.184.216.34", 443)
    ]
    with pytest.raises(RefusedAddressError, match=r"10\.0\.0\.1"):
        await resolver.resolve("inside.example", 443)
    with pytest.raises(RefusedAddressError, match="internal host"):
        await resolver.resolve("metadata.google.internal", 80)
    with pytest.raises(OSError, match="does not resolve"):
        await resolver.resolve("nowhere.example", 443)
    await resolver.close()


@pytest.mark.parametrize("aiohttp_pool", [False, True], ids=["httpcore", "aiohttp"])
def test_a_checked_connection_keeps_tls_verification_and_sni_for_the_name(
    tmp_path: Path, aiohttp_pool: bool
) -> None:
    """Connecting to the checked address, not the name, still verifies the certificate for the
    name and sends it as SNI and Host (a certificate for another name is refused)."""
    ca = trustme.CA()
    cert = ca.issue_cert("hooks.test")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    seen: list[str] = []

    async def hit(request: Request) -> PlainTextResponse:
        seen.append(request.headers["host"])
        return PlainTextResponse("reached over tls")

    app = Starlette(routes=[Route("/{path:path}", hit)])
    pem = str(tmp_path / "server.pem")
    with serve(app, ssl_certfile=pem, ssl_keyfile=pem) as url:
        port = int(url.rsplit(":", 1)[1])
        # DNS says hooks.test and other.test are 127.0.0.1, an address the operator allows.
        resolve = _resolver({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        policy = replace(AddressPolicy.of(allowed=[f"127.0.0.1:{port}"]), resolve=resolve)
        context = ssl.create_default_context()
        ca.configure_trust(context)

        async def call(host: str) -> httpx2.Response:
            inner: httpx2.AsyncBaseTransport = (
                AiohttpTransport(resolver=lambda: GuardedResolver(policy), verify=context)
                if aiohttp_pool
                else ShardedTransport(network_backend=GuardedBackend(policy), verify=context)
            )
            async with httpx2.AsyncClient(transport=GuardedTransport(inner, policy)) as client:
                return await client.get(f"https://{host}:{port}/h")

        answer = anyio.run(call, "hooks.test")
        assert answer.text == "reached over tls"
        assert seen == [f"hooks.test:{port}"]
        with pytest.raises(httpx2.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|hostname"):
            anyio.run(call, "other.test")
    assert resolve.calls == ["hooks.test", "other.test"]
