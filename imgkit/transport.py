"""An httpx transport that sends over aiohttp: the same requests, a fifth of the CPU.

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

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-request timeouts as aiohttp's (``pool`` bounds getting a connection)."""
    given: dict[str, float | None] = request.extensions.get("timeout", {})
    connect, pool = given.get("connect"), given.get("pool")
    return aiohttp.ClientTimeout(
        total=None,
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
    if isinstance(exc, TimeoutError):  # includes aiohttp's socket read timeout
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        return httpx.ReadError(message, request=request)
    return httpx.RemoteProtocolError(message, request=request)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests through one aiohttp session with a keep-alive pool.

    ``max_connections`` caps connections across hosts, as ``httpx.Limits`` does.  Bodies
    are sent whole (the engine reads each image before sending) and responses are read
    whole, so nothing streams.
    """

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
        """Send ``request`` and return the whole response."""
        session = self._open()
        headers: CIMultiDict[str] = CIMultiDict(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
        )
        body = request.content if request.method not in ("GET", "HEAD") else None
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
                content = await answer.read()
                raw: list[tuple[bytes, bytes]] = list(answer.raw_headers)
                status = answer.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _mapped(exc, request) from exc
        return httpx.Response(
            status,
            headers=[(k, v) for k, v in raw if k.lower() != b"transfer-encoding"],
            content=content,
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


class Sender:
    """What the engine needs of an HTTP client, and no more: send a built request, get the
    whole response.

    ``httpx.AsyncClient`` would also merge base URLs, run auth and event hooks, follow
    redirects and keep cookies; the adapters build complete requests and no platform uses
    cookies or redirects, so that work (a tenth of the CPU of an upload) is skipped.
    ``transport`` is aiohttp's unless one is given (a mock, the in-process sandbox).

    >>> import asyncio
    >>> async def main():
    ...     mock = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    ...     async with Sender(4, transport=mock) as sender:
    ...         return (await sender.send(httpx.Request("POST", "http://x.test/"))).text
    >>> asyncio.run(main())
    'ok'
    """

    def __init__(
        self,
        concurrency: int,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.transport = transport or AiohttpTransport(max_connections=concurrency)
        self.timeout = httpx.Timeout(timeout).as_dict()

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the response comes back read (``.content`` is there)."""
        request.extensions = {**request.extensions, "timeout": self.timeout}
        response = await self.transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self.transport.aclose()

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
