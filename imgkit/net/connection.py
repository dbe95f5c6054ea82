"""One keep-alive HTTP/1.1 connection: write a request, parse its answer as it arrives.

:class:`Connection` is an asyncio protocol fed to an httptools response parser; an
:class:`Exchange` collects one answer (status, raw headers, body) and says how it ended.
The pool and the deadlines are :mod:`imgkit.net.wire`'s; here is what one answer can do:
arrive whole (with a Content-Length, chunked, or up to the server's hang-up when it
names no length), announce or grow past the cap, stop arriving for longer than the read
timeout, break the protocol, or end with the connection before it is whole.

Example
-------
>>> import httpx, httptools
>>> exchange = Exchange(head_only=False, cap=None, read_timeout=None,
...                     request=httpx.Request("GET", "http://x.test/"))
>>> connection = Connection(httptools.HttpResponseParser)
>>> connection.current = exchange
>>> connection.data_received(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
>>> exchange.result()
(200, [(b'Content-Length', b'content-length', b'2')], b'ok')
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import httptools
import httpx

from imgkit.net.answers import AnswerTooLarge

# Bodies up to this size leave in the same write as the head (one system call); a larger
# one is written on its own rather than copied onto the head.
_JOIN_BYTES = 64 * 1024


class _Stop(Exception):
    """Raised in a parser callback to stop parsing; the reason is in ``Connection``."""


class Exchange:
    """One request's answer as it arrives, and how it ended."""

    __slots__ = (
        "cap",
        "chunks",
        "complete",
        "error",
        "framed",
        "head_only",
        "headers",
        "headers_done",
        "length",
        "read_timeout",
        "request",
        "size",
        "status",
    )

    def __init__(
        self,
        *,
        head_only: bool,
        cap: int | None,
        read_timeout: float | None,
        request: httpx.Request,
    ) -> None:
        self.head_only, self.cap, self.read_timeout = head_only, cap, read_timeout
        self.request = request
        self.status = 0
        # (name, name lowered, value): the form httpx.Headers keeps (imgkit.net.headers).
        self.headers: list[tuple[bytes, bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.length: int | None = None  # the Content-Length it announced
        self.framed = False  # a length or chunks tell where it ends (else: at hang-up)
        self.headers_done = False
        self.complete = False
        self.error: BaseException | None = None

    def result(self) -> tuple[int, list[tuple[bytes, bytes, bytes]], bytes]:
        """Status, headers (name, lowered name, value) and body of a whole answer; else the
        error that ended it."""
        if self.error is not None:
            raise self.error
        return self.status, self.headers, b"".join(self.chunks)


class Connection(asyncio.Protocol):
    """An HTTP/1.1 connection carrying one exchange at a time."""

    def __init__(self, parser: Callable[[Any], Any]) -> None:
        self.parser = parser(self)
        self.transport: asyncio.Transport | None = None
        self.current: Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self._done: asyncio.Future[None] | None = None
        self._alive = True  # the last answer let the connection be used again
        self._last_data = 0.0
        self._end: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop: BaseException | None = None

    # --- the exchange --------------------------------------------------------------------

    async def exchange(
        self, head: bytes, body: bytes, exchange: Exchange, end: float | None = None
    ) -> None:
        """Write the request and wait until ``exchange`` is whole or has failed.

        ``end`` is the loop time the whole answer must have arrived by (the deadline);
        one timer per exchange watches it and the read timeout together.
        """
        loop = asyncio.get_running_loop()
        if self.closed or self.transport is None:
            raise httpx.RemoteProtocolError("the connection closed", request=exchange.request)
        self.current, self._done, self._alive = exchange, loop.create_future(), True
        if len(body) <= _JOIN_BYTES:
            self.transport.write(head + body)
        else:
            self.transport.write(head)
            self.transport.write(body)
        self._last_data, self._end = loop.time(), end
        due = self._due()
        if due is not None:
            self._timer = loop.call_at(due, self._check_time)
        try:
            await self._done
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.current, self._done = None, None
            if not exchange.complete:  # cancelled or failed half-way: never reused
                self.close()

    def _due(self) -> float | None:
        """When the timer must look again: the read timeout's moment or the deadline."""
        exchange = self.current
        read = exchange.read_timeout if exchange is not None else None
        moments = (self._end, None if read is None else self._last_data + read)
        times = [t for t in moments if t is not None]
        return min(times) if times else None

    def _check_time(self) -> None:
        """The deadline, and the read timeout: nothing arrived for that long once the
        request had left."""
        exchange, transport = self.current, self.transport
        if exchange is None or transport is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if transport.get_write_buffer_size():  # still sending: the read clock starts after
            self._last_data = now
        read = exchange.read_timeout
        if self._end is not None and now >= self._end:
            message = "no whole answer before the deadline"
        elif read is not None and now >= self._last_data + read:
            message = f"nothing arrived for {read:g} s"
        else:
            due = self._due()
            assert due is not None
            self._timer = loop.call_at(due, self._check_time)
            return
        self._finish(httpx.ReadTimeout(message, request=exchange.request))
        self.close()

    def _finish(self, error: BaseException | None = None) -> None:
        exchange, done = self.current, self._done
        if exchange is None or done is None or done.done():
            return
        if error is None:
            exchange.complete = True
        else:
            exchange.error = error
        done.set_result(None)

    def keep_alive(self) -> bool:
        """Whether the last exchange left the connection fit for another."""
        return self._alive and not self.closed

    def reusable(self, now: float, keepalive_s: float) -> bool:
        """Whether an idle connection may carry the next request."""
        transport = self.transport
        fresh = now - self.idle_since < keepalive_s
        return fresh and not self.closed and transport is not None and not transport.is_closing()

    def close(self) -> None:
        """Close the connection (an exchange still waiting ends with an error)."""
        self._alive = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # --- asyncio's side ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, whatever its class: uvloop's do not derive from asyncio's.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        exchange = self.current
        if exchange is None:  # unasked-for bytes: this connection cannot be trusted again
            self.close()
            return
        self._last_data = asyncio.get_running_loop().time() if self._timer else 0.0
        try:
            self.parser.feed_data(data)
        except _Stop:  # httptools wraps a callback's exception; were it ever passed through
            pass  # as it is, the callback has already ended the exchange
        except httptools.HttpParserError as exc:
            failure = self._stop or httpx.RemoteProtocolError(
                f"the answer is not HTTP/1.1: {exc}", request=exchange.request
            )
            self._finish(failure)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self._alive = True, False
        exchange = self.current
        if exchange is None or exchange.complete:
            return
        if exchange.headers_done and not exchange.framed:
            self._finish()  # an answer that names no length ends when the server hangs up
        elif exc is not None:
            self._finish(httpx.ReadError(f"connection lost: {exc}", request=exchange.request))
        else:
            said = "before the whole answer" if exchange.headers_done else "without an answer"
            message = f"the server closed the connection {said}"
            self._finish(httpx.RemoteProtocolError(message, request=exchange.request))

    # --- the parser's callbacks ----------------------------------------------------------

    def _refuse(self, error: BaseException) -> None:
        self._stop = error
        self._finish(error)
        self.close()
        raise _Stop

    def on_message_begin(self) -> None:
        exchange = self.current
        assert exchange is not None
        if exchange.complete or exchange.error is not None:
            # A second answer to one request (sent with it, or after it): the connection
            # is out of step with its requests and must not carry another.
            self.close()
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange = self.current
        assert exchange is not None
        lowered = name.lower()
        exchange.headers.append((name, lowered, value))
        if lowered == b"content-length":
            exchange.framed = True
            length = int(value) if value.strip().isdigit() else None
            exchange.length = length
            if exchange.cap is not None and length is not None and length > exchange.cap:
                self._refuse(AnswerTooLarge(exchange.cap, request=exchange.request))
        elif lowered == b"transfer-encoding":
            exchange.framed = True

    def on_headers_complete(self) -> None:
        exchange = self.current
        assert exchange is not None
        exchange.status = self.parser.get_status_code()
        exchange.headers_done = True
        if exchange.status in (204, 304):
            exchange.framed = True  # no body, whatever the headers say
        if exchange.head_only:  # the parser would wait for a body a HEAD answer never has
            self._alive = False
            self._finish()

    def on_body(self, body: bytes) -> None:
        exchange = self.current
        assert exchange is not None
        exchange.size += len(body)
        if exchange.cap is not None and exchange.size > exchange.cap:
            self._refuse(AnswerTooLarge(exchange.cap, request=exchange.request))
        exchange.chunks.append(body)

    def on_message_complete(self) -> None:
        exchange = self.current
        assert exchange is not None
        if 100 <= exchange.status < 200:  # an interim answer: the real one follows
            exchange.headers, exchange.headers_done, exchange.framed = [], False, False
            return
        self._alive = bool(self.parser.should_keep_alive())
        self._finish()


__all__ = ["Connection", "Exchange"]
