"""What the sandbox does at the connection level: drops, dripped or missing answers, limits.

ASGI has no way for an app to hang up on a client or to write raw bytes, so the sandbox's
own server (see :mod:`imgkit.sandbox.server`) uses a uvicorn protocol that lends each
request's task the connection through a context variable.  The same protocol enforces the
limits a real gateway has: a cap on request bodies (HTTP 413, the body is read and thrown
away, never kept) and timeouts for a request head or body that stalls.

In-process (``httpx.ASGITransport``) there is no socket: a drop raises
:class:`ConnectionDropped`, which :func:`asgi_transport` turns into the same
``httpx.RemoteProtocolError`` a real client sees; dripped headers become a delay before the
answer and silence a sleep followed by a drop.

Example
-------
>>> import httpx
>>> isinstance(asgi_transport(lambda *a: None), httpx.AsyncBaseTransport)
True
>>> nginx_page(504, "Gateway Time-out").splitlines()[1]
b'<head><title>504 Gateway Time-out</title></head>'
"""

from __future__ import annotations

import asyncio
import http
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

# Above every platform's largest upload (Douyin 10 MiB) and the multipart parser's 64 MiB
# part limit, plus room for the other parts and the boundaries.
MAX_BODY_BYTES = 65 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT_S = 30.0
DEFAULT_BODY_TIMEOUT_S = 30.0
# After a 413 the rest of the body is read and discarded before closing (as nginx's
# lingering close does): closing with unread data would reset the connection, and the
# client would lose the 413 it has not read yet.
LINGER_IDLE_S = 5.0
LINGER_TOTAL_S = 30.0


@dataclass(frozen=True)
class ServerLimits:
    """The limits of the sandbox's own server (not of the in-process app).

    >>> ServerLimits().max_body_bytes // 2**20
    65
    """

    max_body_bytes: int = MAX_BODY_BYTES
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S


def nginx_page(status: int, reason: str) -> bytes:
    """The HTML error page nginx sends, for gateway-like answers.

    >>> b"<center>nginx</center>" in nginx_page(413, "Request Entity Too Large")
    True
    """
    title = f"{status} {reason}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


class ConnectionDropped(Exception):
    """Raised in-process where a real server would have hung up."""


_PROTOCOL: ContextVar[SandboxH11Protocol | None] = ContextVar(
    "imgkit_sandbox_protocol", default=None
)


def _cancel(timer: asyncio.TimerHandle | None) -> None:
    if timer is not None:
        timer.cancel()


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:  # h11 refuses these itself; nothing to cap
                return 0
    return 0


class SandboxH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the sandbox's limits, lending tasks their connection."""

    limits: ClassVar[ServerLimits] = ServerLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lying = False  # a dripped or silent answer is under way: shutdown aborts it
        self._awaiting_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._linger_until = 0.0
        self._body_seen = 0
        self._refused = False
        # Every event the peer sends passes here: where heads and body bytes are seen.
        self._h11_next_event = self.conn.next_event
        self.conn.next_event = self._next_event  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._body_timer, self._linger_timer):
            _cancel(timer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._linger()
            return
        # The request task is created inside this call and copies the current context.
        _PROTOCOL.set(self)
        if self._awaiting_head:
            # After a response the keep-alive timeout governs idleness; once the next
            # request has begun, its head must arrive in time.
            self._arm_head_timer()
        super().data_received(data)
        if self._refused:
            self.transport.resume_reading()  # keep discarding what the client still sends

    def on_response_complete(self) -> None:
        self._awaiting_head = True  # before super(): it may parse a pipelined head at once
        super().on_response_complete()

    def shutdown(self) -> None:
        if self._refused or self.lying:
            self.transport.abort()  # these never end by themselves before their deadline
            return
        super().shutdown()

    def _next_event(self) -> Any:
        event = self._h11_next_event()
        cap = self.limits.max_body_bytes
        if isinstance(event, h11.Request):
            self._awaiting_head = False
            _cancel(self._head_timer)
            self._head_timer = None
            self._body_seen = 0
            if _declared_length(list(event.headers)) > cap:
                self._refuse()
                return h11.PAUSED  # uvicorn stops here: no app call, nothing buffered
            self._restart_body_timer()
        elif isinstance(event, h11.Data):
            self._body_seen += len(event.data)
            # Once the app has answered, uvicorn throws the rest of the body away itself.
            if self._body_seen > cap and not self.cycle.response_started:
                self._refuse()
                return h11.PAUSED
            self._restart_body_timer()
        elif isinstance(event, h11.EndOfMessage):
            _cancel(self._body_timer)
            self._body_timer = None
        return event

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._close)

    def _restart_body_timer(self) -> None:
        _cancel(self._body_timer)
        self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_stalled)

    def _body_stalled(self) -> None:
        if self.flow.read_paused:  # the app is not reading yet: the client is not to blame
            self._restart_body_timer()
        else:
            self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()  # the app, if waiting for the body, sees a disconnect

    def _refuse(self) -> None:
        self._refused = True
        for timer in (self._head_timer, self._body_timer):
            _cancel(timer)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app, already reading, stops and answers nobody
            cycle.message_event.set()
        page = nginx_page(413, "Request Entity Too Large")
        head = (
            "HTTP/1.1 413 Request Entity Too Large\r\ncontent-type: text/html\r\n"
            f"content-length: {len(page)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + page)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger_until = self.loop.time() + LINGER_TOTAL_S
        self._linger()

    def _linger(self) -> None:
        _cancel(self._linger_timer)
        if self.loop.time() >= self._linger_until:
            self.transport.close()
        else:
            self._linger_timer = self.loop.call_later(LINGER_IDLE_S, self.transport.close)


# The name this protocol had when it only dropped connections.
DroppingH11Protocol = SandboxH11Protocol


def protocol_class(limits: ServerLimits) -> type[SandboxH11Protocol]:
    """The protocol class to give uvicorn (``http=``) for a server with ``limits``.

    >>> protocol_class(ServerLimits(max_body_bytes=10)).limits.max_body_bytes
    10
    """
    return type("LimitedH11Protocol", (SandboxH11Protocol,), {"limits": limits})


async def drop_connection(request: Request) -> None:
    """Hang up on the client of ``request`` without sending a byte of response.

    Returns once the server has noticed, so the caller's response is discarded silently.
    """
    protocol = _PROTOCOL.get()
    if protocol is None or protocol.transport.is_closing():
        raise ConnectionDropped("the sandbox dropped the connection")
    protocol.transport.abort()
    await request.receive()  # resolves with http.disconnect once uvicorn saw the abort


def _head_bytes(protocol: SandboxH11Protocol, response: Response) -> bytes:
    phrase = http.HTTPStatus(response.status_code).phrase
    lines = [f"HTTP/1.1 {response.status_code} {phrase}".encode()]
    for name, value in [*protocol.server_state.default_headers, *response.raw_headers]:
        if name.lower() != b"connection":
            lines.append(name + b": " + value)
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def drip_headers(response: Response, interval_s: float) -> Response:
    """Send ``response``'s status line and headers one byte every ``interval_s``, then its
    body, then close; return what the app should hand to the server (ignored by it).

    In-process the answer comes whole after the time the head would have taken.
    """
    protocol = _PROTOCOL.get()
    if protocol is None:
        await asyncio.sleep(interval_s * len(_head_bytes_in_process(response)))
        return response
    cycle, transport = protocol.cycle, protocol.transport
    cycle.disconnected = True  # from now on uvicorn writes nothing of its own
    protocol.lying = True
    try:
        for index, byte in enumerate(_head_bytes(protocol, response)):
            if transport.is_closing():
                break  # the client gave up
            if index:
                await asyncio.sleep(interval_s)
            transport.write(bytes([byte]))
        if not transport.is_closing():
            transport.write(bytes(response.body))
            transport.close()
    finally:
        protocol.lying = False
    return Response(status_code=499)


def _head_bytes_in_process(response: Response) -> bytes:
    lines = [f"HTTP/1.1 {response.status_code}".encode()]
    lines += [name + b": " + value for name, value in response.raw_headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def stay_silent(request: Request, seconds: float) -> Response:
    """Answer nothing: keep the connection open until the client leaves or ``seconds``
    pass, then close it.  In-process: sleep ``seconds``, then drop."""
    protocol = _PROTOCOL.get()
    if protocol is None:
        await asyncio.sleep(seconds)
        raise ConnectionDropped("the sandbox never answered")
    protocol.lying = True
    try:
        await asyncio.wait_for(_until_disconnect(request), timeout=seconds)
    except TimeoutError:
        pass
    finally:
        protocol.lying = False
    protocol.cycle.disconnected = True
    protocol.transport.close()
    return Response(status_code=499)


async def _until_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class DripBodyResponse(Response):
    """``response`` with its own headers at once, then its body one byte every ``interval_s``.

    >>> DripBodyResponse(Response(b"ab"), 0.0).body
    b'ab'
    """

    def __init__(self, response: Response, interval_s: float) -> None:
        self.status_code = response.status_code
        self.body = bytes(response.body)
        self.raw_headers = list(response.raw_headers)
        self.background = None
        self.interval_s = interval_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        protocol = _PROTOCOL.get()
        if protocol is not None:
            protocol.lying = True
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            for byte in self.body:
                if protocol is not None and protocol.transport.is_closing():
                    return  # the client gave up: stop dripping into the void
                await asyncio.sleep(self.interval_s)
                await send({"type": "http.response.body", "body": bytes([byte]), "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if protocol is not None:
                protocol.lying = False


class _DroppingASGITransport(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc


def asgi_transport(
    app: Any, client: tuple[str, int] = ("127.0.0.1", 123)
) -> httpx.AsyncBaseTransport:
    """An in-process httpx transport for the sandbox app that maps drops like a socket would."""
    return _DroppingASGITransport(app=app, client=client)
