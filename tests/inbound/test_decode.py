"""Decoding a delivery's JSON: orjson for speed, the standard library where orjson would round
an integer beyond 64 bits."""

from __future__ import annotations

import json

import pytest

from tackbridge.inbound.http import decode_json


@pytest.mark.parametrize(
    "body",
    [
        b'{"leadID": 12345678901234567890123}',
        b"[-99999999999999999999, 1]",
        b'{"a":{"b":[0,"x",100000000000000000000000000000000000000000]}}',
        b'{"leadID":18446744073709551616}',  # 2**64
    ],
)
def test_integers_beyond_64_bits_keep_their_digits(body: bytes) -> None:
    decoded = decode_json(body)
    assert decoded == json.loads(body)
    assert json.dumps(decoded, separators=(",", ":")) == json.dumps(
        json.loads(body), separators=(",", ":")
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"leadID": 1234567890123456789, "categoryID": "122681972262289742"}',
        b'{"url": "https://x.test/12345678901234567890123456/a.jpg"}',  # digits in a string
        b'{"price": 1.5e30, "n": -9223372036854775808}',
    ],
)
def test_other_bodies_decode_as_json_does(body: bytes) -> None:
    assert decode_json(body) == json.loads(body)


def test_invalid_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r".+"):
        decode_json(b'{"leadID": 1,')
