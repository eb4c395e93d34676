"""Redaction by rule: the one place that decides which header values, query parameters and URL
parts are secrets, wherever headers are stored (the inbound log), shown (the API) or logged.

A *name* is secret when it carries one of :data:`SECRET_PARTS` (case-insensitive, anywhere in
the name: ``Authorization``, ``X-Auth-Token``, ``x-api-key``, ``Webhook-Signature``,
``Set-Cookie``...) or is one of the extra names the operator configured
(``TACKBRIDGE_REDACT_NAMES``, passed in as ``extra``). A URL is shown without its userinfo
(``https://user:pass@host`` becomes ``https://[redacted]@host``) and with the value of every
secret query parameter replaced (by the same rule, plus the OAuth names that carry one:
``code``, ``code_verifier``, ``sig``).

    >>> redact_headers({"X-Auth-Token": "abc", "Accept": "*/*"})
    {'X-Auth-Token': '[redacted]', 'Accept': '*/*'}
    >>> redact_url("https://u:p@hooks.example/x?token=abc&page=2")
    'https://[redacted]@hooks.example/x?token=[redacted]&page=2'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "SECRET_PARTS",
    "is_secret_name",
    "redact_headers",
    "redact_url",
    "redact_urls_in",
]

REDACTED = "[redacted]"
#: A header or parameter whose name carries one of these holds a secret.
SECRET_PARTS = ("auth", "token", "key", "secret", "signature", "password", "cookie")
# Query parameters that are secrets without saying so: OAuth's authorization code and PKCE
# verifier, and the "sig" of signed URLs.
_SECRET_QUERY_NAMES = frozenset({"code", "code_verifier", "sig", "pwd", "pass"})
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


_SECRET_WORD = re.compile("|".join(SECRET_PARTS), re.IGNORECASE)


@lru_cache(maxsize=4096)
def _by_rule(name: str) -> bool:
    # Header names repeat from request to request: the rule is decided once per name.
    return _SECRET_WORD.search(name) is not None


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether a header or parameter of this name holds a secret."""
    if _by_rule(name):
        return True
    if not extra:
        return False
    lowered = name.strip().lower()
    names = extra if isinstance(extra, frozenset) else frozenset(e.lower() for e in extra)
    return lowered in names


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], extra: Iterable[str] = ()
) -> dict[str, str]:
    """The headers with every secret value replaced; names and other values as given.

    Repeated headers (an iterable of pairs) are joined with ``", "`` as HTTP allows."""
    names = extra if isinstance(extra, frozenset) else frozenset(e.lower() for e in extra)
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    shown: dict[str, str] = {}
    for name, value in pairs:
        if _by_rule(name) or (names and name.lower() in names):
            value = REDACTED
        elif "://" in value:
            value = redact_urls_in(value)
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    return shown


def _secret_param(name: str, extra: frozenset[str]) -> bool:
    return name.lower() in _SECRET_QUERY_NAMES or is_secret_name(name, extra)


def redact_url(url: str, extra: Iterable[str] = ()) -> str:
    """``url`` without its userinfo and with the values of its secret query parameters
    replaced; the rest (scheme, host, path, other parameters) as given. Text that does not
    parse as a URL comes back with only its query-like secrets replaced."""
    names = frozenset(e.lower() for e in extra)
    try:
        parts = urlsplit(url)
    except ValueError:
        return _redact_query(url, names)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = _redact_query(parts.query, names) if parts.query else parts.query
    fragment = _redact_query(parts.fragment, names) if "=" in parts.fragment else parts.fragment
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _redact_query(query: str, names: frozenset[str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(2)
        return match.group(0) if not _secret_param(name, names) else f"{match.group(1)}{REDACTED}"

    return re.sub(r"((?:^|(?<=[?&;]))([^=&;?#]+)=)[^&;#]*", one, query)


def redact_urls_in(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`): for messages and values
    that may quote a URL."""
    if "://" not in text:
        return text
    names = tuple(extra)
    return _URL.sub(lambda m: redact_url(m.group(0), names), text)
