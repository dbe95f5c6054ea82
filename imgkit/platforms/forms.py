"""Request bodies and queries, built as bytes the adapters hand to ``httpx.Request`` whole.

httpx builds a multipart body through a stream object per part, and merging query
parameters into a URL makes it parse and validate the whole URL again, character by
character: together about a quarter of a millisecond per upload, more than signing it.
Here a multipart body is one join of bytes laid out exactly as httpx lays it out (text
fields first, then files; names quoted by the same HTML5 rules; a random boundary), and a
signed query is set on an already parsed URL.  Form-encoded bodies and queries are quoted
here too: ``urllib.parse.quote_plus`` looks at a value one byte at a time in Python, about
a millisecond for a base64 image of 15 KB (Qianmi sends its images so), where replacing the
few characters a value holds takes a twentieth of that.

Example
-------
>>> body, content_type = multipart({"a": "1"}, {"f": ("x.jpg", b"JPEG", "image/jpeg")})
>>> content_type.startswith("multipart/form-data; boundary=")
True
>>> str(with_query(httpx.URL("http://127.0.0.1:8000/router/rest"), {"v": "2.0", "q": "a b"}))
'http://127.0.0.1:8000/router/rest?v=2.0&q=a+b'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import quote_plus

import httpx

from imgkit.net.headers import from_text

# The HTML5 form encoding of a name or file name in a part's header, as httpx applies it.
_QUOTED = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_TO_QUOTE = re.compile("|".join(re.escape(c) for c in _QUOTED))

# A file part: (file name, content, content type).
FilePart = tuple[str, bytes, str]

# What ``quote_plus`` leaves as it is; every other ASCII character becomes %XX, a space "+".
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_ESCAPES = {c: "+" if c == 32 else f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED}
# For long values, one ``replace`` per character present: "%" before the escapes that
# bring one in, "+" before the space that becomes one.
_IN_ORDER = (
    [("%", "%25")]
    + [(chr(c), escaped) for c, escaped in _ESCAPES.items() if chr(c) not in "% "]
    + [(" ", "+")]
)
_LONG = 64  # shorter values are translated in one pass: cheaper than looking for each


def quote(value: str) -> str:
    """``value`` quoted as ``urllib.parse.quote_plus`` quotes it, without its per-byte loop.

    >>> quote("图片 a+b/="), quote("2026-12-03 15:00:00")
    ('%E5%9B%BE%E7%89%87+a%2Bb%2F%3D', '2026-12-03+15%3A00%3A00')
    """
    if not value.isascii():  # UTF-8 bytes to quote: rare (titles), left to the library
        return quote_plus(value)
    if len(value) < _LONG:
        return value.translate(_ESCAPES)
    for char, escaped in _IN_ORDER:
        if char in value:
            value = value.replace(char, escaped)
    return value


def urlencoded(fields: Mapping[str, str]) -> str:
    """``fields`` as ``urllib.parse.urlencode`` (and httpx's ``data=``) writes them.

    >>> urlencoded({"a": "1 2", "sign": "AB/="})
    'a=1+2&sign=AB%2F%3D'
    """
    return "&".join(f"{quote(name)}={quote(value)}" for name, value in fields.items())


def _param(name: str, value: str) -> bytes:
    return f'{name}="{_TO_QUOTE.sub(lambda m: _QUOTED[m.group(0)], value)}"'.encode()


def multipart(
    fields: Mapping[str, str], files: Mapping[str, FilePart] | None = None
) -> tuple[bytes, str]:
    """``(body, content type)`` of a multipart/form-data body: text fields, then files.

    Values are UTF-8; the boundary is random, as httpx's is.

    >>> body, ctype = multipart({"miniapp_id": "3000000012345"})
    >>> b'name="miniapp_id"\\r\\n\\r\\n3000000012345\\r\\n' in body
    True
    >>> body, _ = multipart({}, {"img": ('a"b.jpg', b"..", "image/jpeg")})
    >>> b'name="img"; filename="a%22b.jpg"\\r\\nContent-Type: image/jpeg\\r\\n\\r\\n..' in body
    True
    """
    boundary = os.urandom(16).hex().encode("ascii")
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks += [b"--", boundary, b"\r\nContent-Disposition: form-data; ", _param("name", name)]
        chunks += [b"\r\n\r\n", value.encode("utf-8"), b"\r\n"]
    for name, (filename, content, content_type) in (files or {}).items():
        chunks += [b"--", boundary, b"\r\nContent-Disposition: form-data; ", _param("name", name)]
        if filename:
            chunks += [b"; ", _param("filename", filename)]
        chunks += [b"\r\nContent-Type: ", content_type.encode("latin-1"), b"\r\n\r\n"]
        chunks += [content, b"\r\n"]
    chunks += [b"--", boundary, b"--\r\n"]
    return b"".join(chunks), "multipart/form-data; boundary=" + boundary.decode("ascii")


def with_query(url: httpx.URL, params: Mapping[str, str]) -> httpx.URL:
    """``url`` (already parsed) with ``params`` as its query, as ``params=`` would give.

    ``urlencode`` leaves only characters a query may hold, so the URL need not be parsed
    again: its parsed parts get the new query.  Should httpx ever keep a URL differently,
    the slow, general way is taken (and tests/test_forms.py, comparing the two, fails).

    >>> with_query(httpx.URL("http://x.test/a"), {"sign": "AB/=+"}).query
    b'sign=AB%2F%3D%2B'
    """
    parts = getattr(url, "_uri_reference", None)
    replace = getattr(parts, "_replace", None)
    if replace is None or url.query:  # a query to merge with: httpx's own way
        return url.copy_merge_params(dict(params))
    query = urlencoded(params)
    out = httpx.URL.__new__(httpx.URL)
    out._uri_reference = replace(query=query or None)
    return out


def request(
    url: httpx.URL,
    fields: Mapping[str, str],
    files: Mapping[str, FilePart] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """A multipart POST of ``fields`` and ``files`` to ``url``.

    >>> r = request(httpx.URL("http://x.test/up"), {"a": "1"}, headers={"X-A": "b"})
    >>> r.method, r.headers["x-a"], r.headers["content-type"][:19], len(r.content) > 0
    ('POST', 'b', 'multipart/form-data', True)
    """
    body, content_type = multipart(fields, files)
    return _post(url, [*(headers or {}).items(), ("Content-Type", content_type)], body)


def form(
    url: httpx.URL, fields: Mapping[str, str], headers: Mapping[str, str] | None = None
) -> httpx.Request:
    """A form-encoded POST of ``fields`` to ``url``, the request ``data=fields`` would make.

    >>> r = form(httpx.URL("http://x.test/t"), {"grant_type": "client_credentials"})
    >>> r.headers["content-type"], r.content
    ('application/x-www-form-urlencoded', b'grant_type=client_credentials')
    """
    if not fields:  # httpx sends no body, and no content type, for empty data
        return httpx.Request("POST", url, headers=headers)
    body = urlencoded(fields).encode("ascii")
    form_headers = [*(headers or {}).items(), ("Content-Length", str(len(body)))]
    return _post(url, [*form_headers, ("Content-Type", "application/x-www-form-urlencoded")], body)


def _post(url: httpx.URL, headers: list[tuple[str, str]], body: bytes) -> httpx.Request:
    """The POST ``httpx.Request(content=body)`` makes, without its second pass.

    Given ``content=``, httpx builds the headers, looks for a multipart boundary, wraps
    the bytes in a stream and reads them back, then builds the headers again with Host
    first: several per cent of the client's CPU per upload.  Given a stream, it does none of that,
    so the headers come here as it would have laid them out (tests/test_forms.py compares
    them, in order, and the bodies).
    """
    given = {name.lower() for name, _ in headers}
    laid_out = headers if "host" in given else [("Host", url.netloc.decode("ascii")), *headers]
    if "content-length" not in given:
        laid_out = [*laid_out, ("Content-Length", str(len(body)))]
    out = httpx.Request("POST", url, headers=from_text(laid_out), stream=httpx.ByteStream(body))
    out._content = body  # what Request.read() leaves, and .content returns
    return out


__all__ = ["FilePart", "form", "multipart", "quote", "request", "urlencoded", "with_query"]
