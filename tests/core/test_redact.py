"""Redaction by rule (tackbridge.core.redact): names carrying a secret word, configured names,
URLs without userinfo and query secrets."""

from __future__ import annotations

import pytest

from tackbridge.core.redact import REDACTED, is_secret_name, redact_headers, redact_url


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "X-Auth-Token",
        "x-api-key",
        "X-Client-Secret",
        "Webhook-Signature",
        "X-Password",
        "Cookie",
        "Set-Cookie",
        "X-Access-TOKEN",
    ],
)
def test_a_name_carrying_a_secret_word_is_secret(name: str) -> None:
    assert is_secret_name(name)
    assert redact_headers({name: "s3cr3t"}) == {name: REDACTED}


@pytest.mark.parametrize("name", ["Accept", "Content-Type", "User-Agent", "X-Request-ID"])
def test_other_names_are_kept(name: str) -> None:
    assert not is_secret_name(name)
    assert redact_headers({name: "value"}) == {name: "value"}


def test_configured_names_are_secret_too() -> None:
    headers = [("X-Tenant-Pin", "1234"), ("Accept", "*/*")]
    assert redact_headers(headers, extra={"x-tenant-pin"}) == {
        "X-Tenant-Pin": REDACTED,
        "Accept": "*/*",
    }
    assert redact_headers(headers) == dict(headers)


def test_repeated_headers_are_joined_and_a_url_in_a_value_is_redacted() -> None:
    headers = [("via", "a"), ("via", "b"), ("referer", "https://u:p@site.example/?token=t1")]
    assert redact_headers(headers) == {
        "via": "a, b",
        "referer": f"https://{REDACTED}@site.example/?token={REDACTED}",
    }


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/catch/1", "https://hooks.example/catch/1"),
        ("https://user:pw@hooks.example/x", f"https://{REDACTED}@hooks.example/x"),
        ("https://tok@hooks.example/x", f"https://{REDACTED}@hooks.example/x"),
        (
            "https://hooks.example/x?token=abc&page=2&api_key=k&Signature=s",
            f"https://hooks.example/x?token={REDACTED}&page=2&api_key={REDACTED}"
            f"&Signature={REDACTED}",
        ),
        (
            "https://auth.example/cb?code=c0de&state=st&code_verifier=v",
            f"https://auth.example/cb?code={REDACTED}&state=st&code_verifier={REDACTED}",
        ),
        (
            "https://h.example/p#access_token=a&x=1",
            f"https://h.example/p#access_token={REDACTED}&x=1",
        ),
        ("http://[::1]:8080/p?sig=z", f"http://[::1]:8080/p?sig={REDACTED}"),
    ],
)
def test_urls_are_shown_without_userinfo_and_query_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_configured_query_name_is_redacted() -> None:
    assert redact_url("https://h.example/?hook=1&id=2", extra={"hook"}) == (
        f"https://h.example/?hook={REDACTED}&id=2"
    )
