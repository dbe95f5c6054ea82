"""imgkit's own HTTP/1.1 wire under httpx's request and response models.

The adapters build ``httpx.Request`` objects and read ``httpx.Response`` objects; this
transport sends them over a keep-alive pool of asyncio connections and parses answers with
httptools (llhttp, the C parser uvicorn uses).  A general HTTP client does much more per
request than an upload needs — cookie jars, redirects, proxies, request and response
object graphs of its own, per-request timer objects, tracing hooks — and that work was a
fifth of imgkit's CPU per upload with aiohttp underneath.  Here a request is one write of
bytes httpx already built, and an answer is a status, raw headers and a body.

What matters for exactly-once uploads is *which* failure happened, so failures become
httpx's errors with care: only a failure before the request left (refused, unreachable, no
connection within the connect timeout or the deadline) is ``ConnectError`` /
``ConnectTimeout``; once a byte of the request may have left, a dropped, reset or silent
connection is ``RemoteProtocolError`` / ``ReadError`` / ``ReadTimeout``, which the adapters
treat as "may have been stored".  Nothing is ever re-sent here.

Every exchange has a total deadline (connect + send + the whole answer: a server dripping
one byte a second cannot hold a row), a read timeout between bytes of the answer, and a cap
on the answer (an answer over it is :class:`imgkit.net.transport.AnswerTooLarge`; a
Content-Length over it is refused before a byte of the body is read).

Example
-------
>>> import asyncio, httpx
>>> async def main():
...     wire = WireTransport()
...     try:
...         await wire.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/"))
...     except httpx.ConnectError:
...         return "not sent"  # nothing listens on port 9
...     finally:
...         await wire.aclose()
>>> asyncio.run(main())
'not sent'
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import defaultdict
from typing import Any

import httptools
import httpx

from imgkit.net.answers import DEADLINE_KEY, Pieces, cap_of
from imgkit.net.connection import Connection, Exchange
from imgkit.net.headers import from_lowered

_Key = tuple[str, str, int]  # scheme, host, port


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying context per process (building one costs ~20 ms)."""
    return ssl.create_default_context()


def _key(url: httpx.URL) -> _Key:
    if url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.host, port


def _within(timeout: float | None, end: float | None) -> float | None:
    """The seconds a phase may take: its own timeout, and no later than the deadline."""
    if end is None:
        return timeout
    left = max(0.0, end - asyncio.get_running_loop().time())
    return left if timeout is None else min(timeout, left)


def _head(request: httpx.Request, body: bytes) -> bytes:
    """The request line and headers, as httpx built them (it adds Host and Content-Length)."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines += [name + b": " + value for name, value in request.headers.raw]
    if body and "content-length" not in request.headers:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _read(
    status: int,
    headers: httpx.Headers,
    content: bytes,
    request: httpx.Request,
    extensions: dict[str, Any],
) -> httpx.Response:
    """A response holding ``content`` as one httpx has read and closed.

    ``httpx.Response(content=...)`` would send the bytes through its stream, decoder and
    chunker to arrive at the same state, a sixth of the client's CPU per request here; its
    Content-Length default is not wanted either (a chunked answer has none, as with httpx's
    own transports).  tests/test_wire.py compares the two, so that a change in how httpx
    keeps a read response fails there.
    """
    response = httpx.Response(
        status,
        headers=headers,
        stream=httpx.ByteStream(content),  # given a stream, httpx reads nothing itself
        request=request,
        extensions=extensions,
    )
    response._content = content  # what Response.read() leaves, and .content returns
    response._num_bytes_downloaded = len(content)
    response.is_stream_consumed = True
    response.is_closed = True
    return response


class WireTransport(httpx.AsyncBaseTransport):
    """Send httpx requests over a keep-alive pool of asyncio connections.

    ``max_connections`` caps the exchanges in flight across hosts (as ``httpx.Limits``
    does); an idle connection is kept ``keepalive_s`` seconds, then closed.  Bodies are
    sent whole (the engine reads each image before sending).  Limits come from Sender
    (:class:`imgkit.net.transport.Sender`) in the request's extensions.

    >>> WireTransport(max_connections=3)
    WireTransport(max_connections=3)
    """

    # Sender need not guess the phase a deadline passed in: this transport knows it.
    enforces_limits = True

    # Under the 5 s after which common servers (uvicorn, the sandbox's) close an idle
    # connection: a request written just as the server closes it gets no answer, and an
    # unanswered upload costs a look-up.
    def __init__(self, max_connections: int = 100, keepalive_s: float = 4.0) -> None:
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self._idle: defaultdict[_Key, list[Connection]] = defaultdict(list)
        self._slots: asyncio.Semaphore | None = None
        self._open: set[Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the whole response (raises ``AnswerTooLarge``)."""
        key = _key(request.url)
        given: dict[str, float | None] = request.extensions.get("timeout", {})
        deadline: float | None = request.extensions.get(DEADLINE_KEY)
        body = b"" if request.method in ("GET", "HEAD") else request.content
        exchange = Exchange(
            head_only=request.method == "HEAD",
            cap=cap_of(request),
            read_timeout=given.get("read"),
            request=request,
        )
        end = None if deadline is None else asyncio.get_running_loop().time() + deadline
        connection = await self._connection(key, given, request, end)
        try:  # from here on, a byte of the request may have left
            await connection.exchange(_head(request, body), body, exchange, end)
        finally:
            self._release(key, connection)
        status, raw, content = exchange.result()
        headers = from_lowered([h for h in raw if h[1] != b"transfer-encoding"])
        extensions = {"http_version": b"HTTP/1.1"}
        if any(k == b"content-encoding" and v.strip() != b"identity" for _, k, v in raw):
            # Decoded by httpx as it is read, so Sender can cap the decoded size: a small
            # compressed answer may inflate to gigabytes.
            return httpx.Response(
                status,
                headers=headers,
                stream=Pieces(content),
                request=request,
                extensions=extensions,
            )
        # Nothing to decode: the answer is handed over already read (Sender checks the cap).
        return _read(status, headers, content, request, extensions)

    async def _connection(
        self, key: _Key, given: dict[str, float | None], request: httpx.Request, end: float | None
    ) -> Connection:
        """A slot, then an idle connection to ``key`` that is still good, or a new one;
        ``ConnectTimeout`` when none by the pool or connect timeout or the deadline."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        if self._slots.locked():  # a free slot costs no timer
            try:
                async with asyncio.timeout(_within(given.get("pool"), end)):
                    await self._slots.acquire()
            except TimeoutError as exc:
                message = "no free connection in time"
                raise httpx.ConnectTimeout(message, request=request) from exc
        else:
            await self._slots.acquire()
        try:
            idle, now = self._idle[key], time.monotonic()
            while idle:
                connection = idle.pop()
                if connection.reusable(now, self.keepalive_s):
                    return connection
                connection.close()
                self._open.discard(connection)
            return await self._connect(key, _within(given.get("connect"), end), request)
        except BaseException:
            self._slots.release()
            raise

    async def _connect(
        self, key: _Key, timeout: float | None, request: httpx.Request
    ) -> Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls = _tls() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: Connection(httptools.HttpResponseParser), host, port, ssl=tls
                )
        except TimeoutError as exc:
            message = f"not connected within {timeout or 0:.3g} s"
            raise httpx.ConnectTimeout(message, request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from exc
        self._open.add(connection)
        return connection

    def _release(self, key: _Key, connection: Connection) -> None:
        """Back to the pool if the exchange ended cleanly and both sides keep it alive."""
        assert self._slots is not None
        self._slots.release()
        if connection.keep_alive():
            connection.idle_since = time.monotonic()
            self._idle[key].append(connection)
        else:
            connection.close()
            self._open.discard(connection)

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()

    def __repr__(self) -> str:
        return f"WireTransport(max_connections={self.max_connections})"


__all__ = ["WireTransport"]
