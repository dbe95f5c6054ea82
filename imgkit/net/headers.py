"""``httpx.Headers`` built from headers already laid out, without httpx's per-header pass.

``httpx.Headers(pairs)`` checks the type of every name and value, encodes it, and lowers
every name: a dozen Python calls per header, for every request imgkit builds and every
answer its wire reads, whose headers are bytes (answers) or ASCII text (requests) already.
These build the same object from its parts: each header as (name, lowered name, value),
the form a ``Headers`` keeps.  tests/test_headers.py compares them with httpx's own, so
that a change in how httpx keeps its headers fails there; a ``Headers`` without that
form (another httpx) is built the slow, general way.

Example
-------
>>> headers = from_text([("Host", "x.test"), ("Content-Type", "text/plain")])
>>> headers["content-type"], headers.raw[0]
('text/plain', (b'Host', b'x.test'))
>>> from_lowered([(b"ETag", b"etag", b'"1"')])["etag"]
'"1"'
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

# Whether this httpx keeps its headers as a list of (name, lowered name, value) in ``_list``.
_KEEPS_LIST = isinstance(getattr(httpx.Headers([(b"A", b"1")]), "_list", None), list) and (
    httpx.Headers([(b"A", b"1")])._list == [(b"A", b"a", b"1")]
)


def from_lowered(triples: list[tuple[bytes, bytes, bytes]]) -> httpx.Headers:
    """Headers from (name, lowered name, value) bytes, as a parser gives them.

    >>> from_lowered([(b"Content-Length", b"content-length", b"2")]).raw
    [(b'Content-Length', b'2')]
    """
    if not _KEEPS_LIST:
        return httpx.Headers([(name, value) for name, _, value in triples])
    headers = httpx.Headers()
    headers._list = triples
    return headers


def from_text(pairs: Iterable[tuple[str, str]]) -> httpx.Headers:
    """Headers from text names and values, encoded as httpx encodes them (ASCII: any other
    character raises ``UnicodeEncodeError``, as it does in httpx).

    >>> from_text([("X-Id", "7")]).raw
    [(b'X-Id', b'7')]
    """
    encoded = [(name.encode("ascii"), value.encode("ascii")) for name, value in pairs]
    if not _KEEPS_LIST:
        return httpx.Headers(encoded)
    return from_lowered([(name, name.lower(), value) for name, value in encoded])


__all__ = ["from_lowered", "from_text"]
