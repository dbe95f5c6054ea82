"""imgkit.net.headers builds the very httpx.Headers httpx builds, without its per-header pass."""

from __future__ import annotations

import random

import httpx
import pytest

from imgkit.net import headers as fast


def _same(ours: httpx.Headers, theirs: httpx.Headers) -> None:
    assert ours.raw == theirs.raw
    assert ours.multi_items() == theirs.multi_items()
    assert list(ours.keys()) == list(theirs.keys())
    assert ours.encoding == theirs.encoding
    assert ours == theirs
    for name in {n.lower() for n, _ in theirs.multi_items()}:
        assert ours.get_list(name) == theirs.get_list(name)
        assert ours[name.upper()] == theirs[name.upper()]
    assert repr(ours) == repr(theirs)


def _random_name(rng: random.Random) -> str:
    return "".join(rng.choice("ABCXYZabcxyz-_0189") for _ in range(rng.randint(1, 12)))


def test_headers_from_text_are_httpxs() -> None:
    rng = random.Random(7)
    for _ in range(200):
        pairs = [
            (
                _random_name(rng),
                "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(0, 30))),
            )
            for _ in range(rng.randint(0, 8))
        ]
        pairs += [("Set-Cookie", "a=1"), ("set-cookie", "b=2")]  # repeated names stay apart
        _same(fast.from_text(pairs), httpx.Headers(pairs))


def test_headers_from_bytes_are_httpxs_whatever_the_bytes() -> None:
    rng = random.Random(8)
    for _ in range(200):
        pairs = [
            (
                _random_name(rng).encode(),
                bytes(rng.randint(1, 255) for _ in range(rng.randint(0, 20))),
            )
            for _ in range(rng.randint(0, 8))
        ]
        ours = fast.from_lowered([(name, name.lower(), value) for name, value in pairs])
        _same(ours, httpx.Headers(pairs))


def test_a_request_and_a_response_keep_them_as_httpx_would() -> None:
    pairs = [("Host", "x.test"), ("Content-Length", "3"), ("X-Trace", "t")]
    ours = httpx.Request(
        "POST", "http://x.test/", headers=fast.from_text(pairs), stream=httpx.ByteStream(b"abc")
    )
    theirs = httpx.Request("POST", "http://x.test/", headers=pairs, stream=httpx.ByteStream(b"abc"))
    _same(ours.headers, theirs.headers)
    raw = [(b"Content-Type", b"application/json; charset=gbk")]
    answer = httpx.Response(
        200, headers=fast.from_lowered([(raw[0][0], raw[0][0].lower(), raw[0][1])])
    )
    _same(answer.headers, httpx.Response(200, headers=raw).headers)
    assert answer.charset_encoding == "gbk"


def test_non_ascii_text_is_refused_as_httpx_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        httpx.Headers([("X-Title", "杯子")])
    with pytest.raises(UnicodeEncodeError):
        fast.from_text([("X-Title", "杯子")])


def test_another_httpx_is_served_the_general_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "_KEEPS_LIST", False)
    _same(fast.from_text([("A", "1")]), httpx.Headers([("A", "1")]))
    _same(fast.from_lowered([(b"B", b"b", b"2")]), httpx.Headers([(b"B", b"2")]))
