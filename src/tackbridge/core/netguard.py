"""The SSRF guard: where an outbound call to an address a business chose may go.

A business sets URLs through the operator API (a webhook destination's ``webhookUrl``, a
``coperniq.baseUrl``); the worker then calls them from inside the operator's network. An
``AddressPolicy`` says what such a URL may be:

- ``https`` only; plain ``http`` in dev mode, to a trusted origin (the process-wide URLs the
  environment sets: the sandbox in development), or to a host the operator allows with an
  ``http://`` entry;
- its host must resolve to public addresses only: no loopback, private, link-local (the cloud
  metadata address ``169.254.169.254``), shared (CGNAT), multicast, reserved or unspecified
  address, in any spelling resolvers accept (``0x7f000001``, ``2130706433``, ``127.1``), nor an
  IPv6 form carrying one (``::ffff:127.0.0.1``, 6to4, NAT64, IPv4-compatible, Teredo); no internal
  name (``localhost``, ``metadata.google.internal``, ``*.internal``, ``*.local``...).

The operator's allow-list (``allowed``) and the trusted origins skip the address checks.

It is checked twice: ``check_url``/``check_resolved`` when a URL is saved (a clear 422), and when
it is sent to, by ``GuardedBackend`` (httpcore's connection pool's network backend) or
``GuardedResolver`` (aiohttp's connector's resolver): each resolves the name once, checks every
address, and has the pool connect to a checked address, so a name that re-resolves
elsewhere after the check (DNS rebinding) cannot move the connection. TLS still verifies the
certificate against, and sends SNI for, the name in the URL. ``GuardedTransport`` refuses a
scheme the policy does not allow. A refusal raises ``RefusedAddressError`` (not an httpx error:
retrying does not help, callers make it a permanent failure).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp.abc
import anyio
import httpcore2
import httpx2

__all__ = [
    "AddressPolicy",
    "GuardedBackend",
    "GuardedResolver",
    "GuardedTransport",
    "HostRule",
    "RefusedAddressError",
    "is_public",
    "literal_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Names that only ever mean something inside the operator's network.
_INTERNAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "metadata", "metadata.google.internal", "metadata.goog"}
)
_INTERNAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".lan")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: How long a save waits for its URL's name to resolve (a name that does not resolve yet is
#: accepted: the check when it is sent to still applies).
SAVE_RESOLVE_SECONDS = 2.0


class RefusedAddressError(Exception):
    """A call the policy refuses; the message names the host and why (never a path or query,
    which may carry a token)."""


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form a resolver accepts (``inet_aton``: hex, octal,
    a single number, short forms such as ``127.1``), or None for a name."""
    h = _normal_host(host)
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if not h or not all(c in "0123456789abcdefx." for c in h) or not h[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(h))
    except OSError:
        return None


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet, IPv4 carried inside IPv6 unwrapped."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded: ipaddress.IPv4Address | None = address.ipv4_mapped or address.sixtofour
        if embedded is None and (address in _NAT64 or address in _IPV4_COMPATIBLE):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None or address in _NAT64_LOCAL:
            return False
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
    )


def _internal_name(host: str) -> bool:
    h = _normal_host(host)
    return h in _INTERNAL_NAMES or h.endswith(_INTERNAL_SUFFIXES) or "." not in h


@dataclass(frozen=True)
class HostRule:
    """One allowed host: ``host``, ``host:port`` or ``scheme://host[:port]``. Without a port any
    port matches; with an ``http`` scheme, plain http is allowed to it too."""

    host: str
    port: int | None = None
    scheme: str | None = None

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        text = entry.strip()
        parts = urlsplit(text if "://" in text else f"//{text}")
        if not parts.hostname:
            raise ValueError(f"not a host: {entry!r}")
        scheme = parts.scheme.lower() or None
        if scheme not in (None, "http", "https"):
            raise ValueError(f"not an http(s) host: {entry!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"not a port: {entry!r}") from None
        return cls(_normal_host(parts.hostname), port, scheme)

    @classmethod
    def of_url(cls, url: str) -> HostRule | None:
        """The exact origin of a configured URL (its scheme, host and port)."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            return None
        return cls(_normal_host(parts.hostname), port, scheme)

    def matches(self, host: str, port: int) -> bool:
        return _normal_host(host) == self.host and self.port in (None, port)


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore2.ConnectError(f"{_normal_host(host)} does not resolve: {exc}") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise httpcore2.ConnectError(f"{_normal_host(host)} does not resolve")
    return found


@dataclass(frozen=True)
class AddressPolicy:
    """``allowed``: the operator's allow-list; ``trusted``: origins of the process-wide URLs the
    environment sets; ``open``: dev mode, where anything goes (the sandbox runs on loopback);
    ``resolve``: the name look-up (a test's stands in for DNS)."""

    allowed: tuple[HostRule, ...] = ()
    trusted: tuple[HostRule, ...] = ()
    open: bool = False
    resolve: Callable[[str, int], Awaitable[list[IPAddress]]] = field(
        default=_resolve, compare=False, repr=False
    )

    @classmethod
    def of(
        cls,
        *,
        allowed: Iterable[str] = (),
        trusted_urls: Iterable[str | None] = (),
        open: bool = False,
    ) -> AddressPolicy:
        rules = tuple(HostRule.parse(entry) for entry in allowed if entry.strip())
        trusted = tuple(r for r in (HostRule.of_url(u) for u in trusted_urls if u) if r)
        return cls(rules, trusted, open)

    def _rules(self) -> tuple[HostRule, ...]:
        return self.trusted + self.allowed

    def permits_host(self, host: str, port: int) -> bool:
        """The address checks do not apply to this host (allowed or trusted)."""
        return self.open or any(rule.matches(host, port) for rule in self._rules())

    def permits_scheme(self, scheme: str, host: str, port: int) -> bool:
        if scheme == "https":
            return True
        if scheme != "http":
            return False
        return self.open or any(
            rule.scheme == "http" and rule.matches(host, port) for rule in self._rules()
        )

    def check_address(self, host: str, address: IPAddress, port: int) -> None:
        """Refuses an address that is not public, unless the operator allows it (an allowed
        ``10.0.0.5`` admits a name resolving to it)."""
        if is_public(address) or any(r.matches(str(address), port) for r in self.allowed):
            return
        raise RefusedAddressError(f"{host} is not a public address ({address})")

    def check_url(self, url: str) -> str | None:
        """Why ``url`` may not be called (without resolving its name), or None."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            return "is not a valid URL"
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            return "must be an https URL"
        host = parts.hostname
        if not host:
            return "must name a host"
        if any(c in host for c in "%\\@ ") or not host.isprintable():
            return "has a host that is not a plain name or address"
        port = _port(scheme, port)
        if not self.permits_scheme(scheme, host, port):
            return (
                "must use https (plain http only in dev mode, to the configured sandbox, or "
                "to a host allowed with http:// in TACKBRIDGE_DESTINATION_ALLOWED_HOSTS)"
            )
        if self.permits_host(host, port):
            return None
        address = literal_address(host)
        if address is not None:
            if address.version == 4 and str(address) != _normal_host(host):
                return f"spells an IP address in an unusual form ({host}, that is {address})"
            if not is_public(address):
                return f"is not a public address ({address})"
            return None
        if _internal_name(host):
            return f"names an internal host ({_normal_host(host)})"
        return None

    async def check_resolved(self, url: str) -> None:
        """Refuses a URL whose host resolves to an address that is not public. A name that
        does not resolve (yet) passes: it is checked again when it is sent to."""
        parts = urlsplit(url.strip())
        host, scheme = parts.hostname or "", parts.scheme.lower()
        port = _port(scheme, parts.port)
        if self.permits_host(host, port) or literal_address(host) is not None:
            return
        found: list[IPAddress] = []
        with anyio.move_on_after(SAVE_RESOLVE_SECONDS):
            try:
                found = await self.resolve(host, port)
            except httpcore2.ConnectError:
                return
        for address in found:
            self.check_address(_normal_host(host), address, port)

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, each checked: what a call may connect to."""
        address = literal_address(host)
        if address is None:
            if _internal_name(host):
                raise RefusedAddressError(f"{_normal_host(host)} is an internal host name")
            found = await self.resolve(host, port)
        else:
            found = [address]
        for one in found:
            self.check_address(_normal_host(host), one, port)
        return found


@dataclass
class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """A network backend that connects only to addresses ``policy`` allows: resolved once,
    checked, then connected to by address."""

    policy: AddressPolicy
    inner: httpcore2.AsyncNetworkBackend = field(default_factory=httpcore2.AnyIOBackend)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        if self.policy.permits_host(host, port):
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            with anyio.fail_after(timeout) if timeout else nullcontext():
                addresses = await self.policy.addresses(host, port)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"{_normal_host(host)}: resolving timed out") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is never empty
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise RefusedAddressError("unix sockets are not an allowed destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """``GuardedBackend`` for aiohttp's connector: the name resolved once and every address
    checked; the connector connects to the addresses returned, so a name re-resolving elsewhere
    cannot move the connection. aiohttp does not ask a resolver about a literal IP address:
    ``GuardedTransport`` checks those before the request is sent."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._default = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        if self.policy.permits_host(host, port):
            return await self._default.resolve(host, port, family)
        try:
            addresses = await self.policy.addresses(host, port)
        except httpcore2.ConnectError as exc:
            # An OSError is what aiohttp's connector reports as a failed look-up.
            raise OSError(str(exc)) from None
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        await self._default.close()


class GuardedTransport(httpx2.AsyncBaseTransport):
    """Refuses, before anything is sent, a URL whose scheme ``policy`` does not allow; the
    addresses are ``GuardedBackend``'s, in ``inner``'s connection pools."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, policy: AddressPolicy) -> None:
        self._inner = inner
        self.policy = policy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        scheme = url.scheme.lower()
        port = _port(scheme, url.port)
        if not self.policy.permits_scheme(scheme, url.host, port):
            raise RefusedAddressError(f"{scheme}://{url.host}: plain {scheme} is not allowed")
        address = literal_address(url.host)
        if address is not None and not self.policy.permits_host(url.host, port):
            # Checked here too: aiohttp's connector connects to a literal address unresolved.
            self.policy.check_address(_normal_host(url.host), address, port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
