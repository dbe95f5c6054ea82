"""Sender: what the engine needs of an HTTP client — one exchange within a deadline and a
size cap — over imgkit's own wire (:mod:`imgkit.net.wire`) or any httpx transport.

The adapters build ``httpx.Request`` objects and read ``httpx.Response`` objects; only the
wire underneath is imgkit's.  httpx's own transport (httpcore + anyio + the pure-Python h11
parser) costs about 1 ms of CPU per request, and a general client such as aiohttp about a
third of that; the wire does an upload's exchange in a fraction of either, which is what
lets a laptop drive many shops at their full rates.

What matters for exactly-once uploads is *which* failure happened: only a failure to
connect (nothing was sent) is ``ConnectError`` / ``ConnectTimeout``; a connection that
dropped, reset or timed out once the request may have left is ``RemoteProtocolError`` /
``ReadError`` / ``ReadTimeout``, which the adapters treat as "may have been stored".
Nothing is ever re-sent on its own.

Every exchange has a total deadline (connect + send + the whole answer: a server dripping
one byte a second cannot hold a row) and a cap on the answer (:data:`MAX_ANSWER_BYTES`; an
answer over it is :class:`AnswerTooLarge`, a ``ReadError``: the request was sent).
:func:`imgkit.net.blocking.send_sync` applies the same rules to synchronous httpx
transports; :mod:`imgkit.intake.sources` downloads image URLs under them.

Example
-------
>>> import asyncio, httpx
>>> async def main():
...     async with Sender(4) as sender:
...         try:
...             await sender.send(httpx.Request("GET", "http://127.0.0.1:9/"))
...         except httpx.ConnectError:
...             return "not sent"  # nothing listens on port 9
>>> asyncio.run(main())
'not sent'
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from imgkit.net.answers import (
    CAP_KEY,
    DEADLINE_KEY,
    MAX_ANSWER_BYTES,
    AnswerTooLarge,
    too_large,
)
from imgkit.net.wire import WireTransport


async def _read_capped(response: httpx.Response, cap: int) -> None:
    """Read ``response`` (decoded) as ``aread`` would, refusing more than ``cap`` bytes."""
    if too_large(response, cap):
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
    ``transport`` is :class:`imgkit.net.wire.WireTransport` unless one is given (a mock,
    the in-process sandbox).

    ``timeout`` bounds each phase (connecting, each read); ``deadline_s`` bounds the whole
    exchange, connect + send + the entire answer (default twice ``timeout``: room for a
    large image on a slow uplink, but a dripping or silent server is cut off).  A deadline
    passed while connecting is ``httpx.ConnectTimeout`` (nothing was sent); later it is
    ``httpx.ReadTimeout``.  Any transport but the wire cannot say which phase it was in,
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
        self.transport = transport or WireTransport(max_connections=concurrency)
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
            # A transport that enforces the deadline itself needs no second timer.
            async with contextlib.nullcontext() if native else asyncio.timeout(self.deadline_s):
                response = await self.transport.handle_async_request(request)
                response.request = request
                try:
                    if not response.is_stream_consumed:
                        await _read_capped(response, cap)
                    elif len(response.content) > cap:  # handed over read (the wire's)
                        raise AnswerTooLarge(cap, request=request)
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


__all__ = ["MAX_ANSWER_BYTES", "AnswerTooLarge", "Sender"]
