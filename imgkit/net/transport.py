"""An httpx transport that sends over aiohttp, and the deadlines and caps on every answer.

The adapters build ``httpx.Request`` objects and read ``httpx.Response`` objects; only the
wire underneath changes.  httpx's own transport (httpcore + anyio + the pure-Python h11
parser) costs about 1 ms of CPU per request, most of it in pool bookkeeping that grows
with the number of connections; aiohttp's connector and C HTTP parser do the same work in a
fraction of that, which is what lets a laptop drive many shops at their full rates.

What matters for exactly-once uploads is *which* failure happened, so aiohttp's errors are
mapped onto httpx's with care: only a failure to connect (nothing was sent) becomes
``ConnectError`` / ``ConnectTimeout``; a connection that dropped, reset or timed out once
the request may have left becomes ``RemoteProtocolError`` / ``ReadError`` /
``ReadTimeout``, which the adapters treat as "may have been stored".  aiohttp never re-sends
a POST on its own (it retries only idempotent methods).

Every exchange has a total deadline (connect + send + the whole answer: a server dripping
one byte a second cannot hold a row) and a cap on the answer (:data:`MAX_ANSWER_BYTES`; an
answer over it is :class:`AnswerTooLarge`, a ``ReadError``: the request was sent).
:func:`imgkit.net.blocking.send_sync` applies the same rules to synchronous httpx
transports; :mod:`imgkit.intake.sources` downloads image URLs under them.

Example
-------
>>> import asyncio, httpx
>>> async def main():
...     async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
...         try:
...             await client.get("http://127.0.0.1:9/")  # nothing listens on port 9
...         except httpx.ConnectError:
...             return "not sent"
>>> asyncio.run(main())
'not sent'
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL

# No platform answer comes near this (their JSON answers are a few KB); a bigger one is a
# proxy's or an attacker's, and is not read into memory.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# Request extensions through which Sender hands its limits to a transport that enforces
# them itself (AiohttpTransport), so that it can tell a connect phase from a read phase.
# Bodies over this many bytes are handed to aiohttp as a file (its own limit for bytes).
LARGE_BODY_BYTES = 2**20
DEADLINE_KEY = "imgkit.deadline_s"
CAP_KEY = "imgkit.max_answer_bytes"
# Sender's own timer around such a transport fires this much later than the transport's,
# so that the transport's (which knows whether anything was sent) wins the race.
_GRACE_S = 1.0
# Raw bytes are handed on in pieces this big, so that decoding a compressed answer never
# inflates more than one piece at a time before the cap is checked.
_PIECE = 16 * 1024


class AnswerTooLarge(httpx.ReadError):
    """An answer bigger than the cap: reading stopped and the connection was closed.

    A ``ReadError``, so the adapters treat it as "may have been stored" (the request left).
    """

    def __init__(self, limit: int, *, request: httpx.Request) -> None:
        super().__init__(
            f"the answer is larger than {limit} bytes; reading stopped", request=request
        )
        self.limit = limit


def _too_large(response: httpx.Response, limit: int) -> bool:
    """Whether ``response`` announces more than ``limit`` bytes (Content-Length)."""
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) > limit


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-request timeouts as aiohttp's (``pool`` bounds getting a connection),
    with Sender's total deadline when one is given."""
    given: dict[str, float | None] = request.extensions.get("timeout", {})
    connect, pool = given.get("connect"), given.get("pool")
    return aiohttp.ClientTimeout(
        # aiohttp reports a total timeout that passes while connecting as a connection
        # timeout, and one that passes later as a plain TimeoutError: just what _mapped needs.
        total=request.extensions.get(DEADLINE_KEY),
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=given.get("read"),
    )


def _mapped(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx error that says the same about ``exc``: was anything sent?"""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, TimeoutError):  # includes aiohttp's socket read and total timeouts
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        return httpx.ReadError(message, request=request)
    return httpx.RemoteProtocolError(message, request=request)


class _Pieces(httpx.AsyncByteStream):
    """An answer already read, handed on in small pieces (see ``_PIECE``)."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.content), _PIECE):
            yield self.content[start : start + _PIECE]


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests through one aiohttp session with a keep-alive pool.

    ``max_connections`` caps connections across hosts, as ``httpx.Limits`` does.  Bodies
    are sent whole (the engine reads each image before sending).  An answer is read up to
    the cap Sender passes (``imgkit.max_answer_bytes``) within Sender's deadline
    (``imgkit.deadline_s``); an answer abandoned half-read closes its connection.
    """

    # Sender need not guess the phase a deadline passed in: this transport knows it.
    enforces_limits = True

    def __init__(self, max_connections: int = 100, keepalive_s: float = 5.0) -> None:
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=self.keepalive_s,
                # aiohttp's default verifying context is built at import: building one
                # here would delay the first request of a run by ~20 ms and upset pacing.
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # httpx keeps cookies and decodes bodies itself; aiohttp must not as well.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type", "Accept"),
                trust_env=False,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the whole response (raises :class:`AnswerTooLarge`)."""
        session = self._open()
        headers: CIMultiDict[str] = CIMultiDict(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
        )
        body: bytes | io.BytesIO | None = None
        if request.method not in ("GET", "HEAD"):
            body = request.content
            if len(body) > LARGE_BODY_BYTES:
                # aiohttp warns that a large bytes body "might lock the event loop" (a
                # ResourceWarning per upload of a 3 MB photo); a file-like body it streams.
                body = io.BytesIO(body)
        cap: int | None = request.extensions.get(CAP_KEY)
        try:
            async with session.request(
                request.method,
                URL(str(request.url), encoded=True),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=_timeout(request),
                compress=None,
                chunked=None,
            ) as answer:
                length = answer.content_length
                if cap is not None and length is not None and length > cap:
                    answer.close()  # never read: the connection cannot be reused
                    raise AnswerTooLarge(cap, request=request)
                chunks: list[bytes] = []
                size = 0
                async for chunk in answer.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if cap is not None and size > cap:
                        answer.close()
                        raise AnswerTooLarge(cap, request=request)
                    chunks.append(chunk)
                raw: list[tuple[bytes, bytes]] = list(answer.raw_headers)
                status = answer.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _mapped(exc, request) from exc
        return httpx.Response(
            status,
            headers=[(k, v) for k, v in raw if k.lower() != b"transfer-encoding"],
            stream=_Pieces(b"".join(chunks)),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self.max_connections})"


async def _read_capped(response: httpx.Response, cap: int) -> None:
    """Read ``response`` (decoded) as ``aread`` would, refusing more than ``cap`` bytes."""
    if _too_large(response, cap):
        raise AnswerTooLarge(cap, request=response.request)
    chunks: list[bytes] = []
    size = 0
    async for part in response.aiter_bytes():
        size += len(part)
        if size > cap:  # decoded bytes: a compressed answer cannot inflate past the cap
            raise AnswerTooLarge(cap, request=response.request)
        chunks.append(part)
    response._content = b"".join(chunks)  # what aread() would have kept


class Sender:
    """What the engine needs of an HTTP client, and no more: send a built request, get the
    whole response, within a deadline and a size cap.

    ``httpx.AsyncClient`` would also merge base URLs, run auth and event hooks, follow
    redirects and keep cookies; the adapters build complete requests and no platform uses
    cookies or redirects, so that work (a tenth of the CPU of an upload) is skipped.
    ``transport`` is aiohttp's unless one is given (a mock, the in-process sandbox).

    ``timeout`` bounds each phase (connecting, each read); ``deadline_s`` bounds the whole
    exchange, connect + send + the entire answer (default twice ``timeout``: room for a
    large image on a slow uplink, but a dripping or silent server is cut off).  A deadline
    passed while connecting is ``httpx.ConnectTimeout`` (nothing was sent); later it is
    ``httpx.ReadTimeout``.  Any transport but aiohttp's cannot say which phase it was in,
    so for those it is always ``ReadTimeout`` (the safe "may have been stored").  An answer
    over ``max_answer_bytes`` raises :class:`AnswerTooLarge`.

    >>> import asyncio
    >>> async def main():
    ...     mock = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    ...     async with Sender(4, transport=mock) as sender:
    ...         return (await sender.send(httpx.Request("POST", "http://x.test/"))).text
    >>> asyncio.run(main())
    'ok'
    >>> async def huge():
    ...     mock = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 100))
    ...     async with Sender(1, transport=mock, max_answer_bytes=10) as sender:
    ...         try:
    ...             await sender.send(httpx.Request("POST", "http://x.test/"))
    ...         except AnswerTooLarge as exc:
    ...             return exc.limit, isinstance(exc, httpx.ReadError)
    >>> asyncio.run(huge())
    (10, True)
    """

    def __init__(
        self,
        concurrency: int,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        deadline_s: float | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.transport = transport or AiohttpTransport(max_connections=concurrency)
        self.timeout = httpx.Timeout(timeout).as_dict()
        self.deadline_s = 2.0 * timeout if deadline_s is None else deadline_s
        self.max_answer_bytes = max_answer_bytes

    async def send(
        self, request: httpx.Request, *, max_answer_bytes: int | None = None
    ) -> httpx.Response:
        """Send ``request``; the response comes back read (``.content`` is there).

        ``max_answer_bytes`` overrides the cap for this request (an image download).
        """
        cap = self.max_answer_bytes if max_answer_bytes is None else max_answer_bytes
        request.extensions = {
            **request.extensions,
            "timeout": self.timeout,
            DEADLINE_KEY: self.deadline_s,
            CAP_KEY: cap,
        }
        native = bool(getattr(self.transport, "enforces_limits", False))
        try:
            async with asyncio.timeout(self.deadline_s + (_GRACE_S if native else 0.0)):
                response = await self.transport.handle_async_request(request)
                response.request = request
                try:
                    await _read_capped(response, cap)
                finally:
                    await response.aclose()  # a half-read answer's connection is dropped
        except TimeoutError as exc:  # our timer: the transports raise httpx's own errors
            message = f"no whole answer within {self.deadline_s:g} s"
            raise httpx.ReadTimeout(message, request=request) from exc
        return response

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self.transport.aclose()

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
