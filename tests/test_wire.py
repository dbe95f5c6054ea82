"""imgkit.net.wire and imgkit.net.connection: every way an answer can arrive or fail.

Each test plays one server behaviour on a loopback socket (tests/test_transport.py's
fixture) and checks what the wire makes of it: the answer intact, or the httpx error that
says whether the request may have been stored.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from test_transport import Behaviour, _read_request, _send
from test_transport import server as server  # the fixture, shared

from imgkit.net.answers import AnswerTooLarge
from imgkit.net.transport import Sender
from imgkit.net.wire import WireTransport

Server = Callable[[Behaviour], str]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _sends(
    url: str,
    count: int,
    *,
    cap: int | None = None,
    timeout: float = 60.0,
    deadline_s: float = 120.0,
) -> list[object]:
    """``count`` requests in turn through one Sender: each response's text or error."""

    async def main() -> list[object]:
        out: list[object] = []
        async with Sender(2, timeout=timeout, deadline_s=deadline_s) as sender:
            for _ in range(count):
                try:
                    request = httpx.Request("POST", url, content=b"x")
                    response = await sender.send(request, max_answer_bytes=cap)
                    out.append(response.text)
                except httpx.TransportError as exc:
                    out.append(exc)
        return out

    return asyncio.run(main())


def test_an_answer_without_a_length_ends_at_the_hang_up(server: Server) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")

    assert _send(server(answer)).text == "until the end"


def test_a_length_over_the_cap_is_refused_before_the_body(server: Server) -> None:
    sent: list[int] = []

    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 536870912\r\n\r\n")
        try:
            for _ in range(64):  # the client hangs up long before 512 MiB
                sent.append(conn.send(b"x" * 65536))
        except OSError:
            pass

    [error] = _sends(server(answer), 1, cap=1000)
    assert isinstance(error, AnswerTooLarge)
    assert error.limit == 1000
    assert sum(sent) < 64 * 65536


def test_a_chunked_answer_growing_past_the_cap_stops(server: Server) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(200):
                conn.sendall(b"400\r\n" + b"y" * 1024 + b"\r\n")
        except OSError:
            pass

    [error] = _sends(server(answer), 1, cap=10_000)
    assert isinstance(error, AnswerTooLarge)


def test_what_is_not_http_is_a_protocol_error_not_a_connect_error(server: Server) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"<html><body>504 Gateway Time-out</body></html>\r\n\r\n")

    [error] = _sends(server(answer), 1)
    assert isinstance(error, httpx.RemoteProtocolError)


def test_a_hang_up_half_way_through_the_body_is_not_an_answer(server: Server) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    [error] = _sends(server(answer), 1)
    assert isinstance(error, httpx.RemoteProtocolError | httpx.ReadError)
    assert not isinstance(error, httpx.ConnectError)


def test_a_drip_is_cut_off_at_the_deadline(server: Server) -> None:
    release = threading.Event()

    def drip(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        while not release.wait(0.05):  # a byte every 50 ms: never a read timeout
            try:
                conn.sendall(b"z")
            except OSError:
                return

    try:
        started = time.monotonic()
        [error] = _sends(server(drip), 1, timeout=5.0, deadline_s=0.6)
        assert isinstance(error, httpx.ReadTimeout)
        assert "deadline" in str(error)
        assert time.monotonic() - started < 4.0  # the deadline, not the read timeout
    finally:
        release.set()


def test_interim_and_empty_answers(server: Server) -> None:
    connections: list[int] = []

    def answer(conn: socket.socket, request: bytes) -> None:
        connections.append(1)
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        if _read_request(conn):  # the next request, on the same connection
            conn.sendall(OK)

    assert _sends(server(answer), 2) == ["", "ok"]
    assert len(connections) == 1


def test_a_connection_the_server_closed_while_idle_is_not_reused(server: Server) -> None:
    connections: list[int] = []

    def once(conn: socket.socket, request: bytes) -> None:
        connections.append(1)
        conn.sendall(OK)  # keep-alive by default, then closes it anyway

    async def main(url: str) -> list[str]:
        async with Sender(1) as sender:
            first = await sender.send(httpx.Request("POST", url, content=b"x"))
            await asyncio.sleep(0.2)  # the close reaches the client while idle
            second = await sender.send(httpx.Request("POST", url, content=b"x"))
            return [first.text, second.text]

    assert asyncio.run(main(server(once))) == ["ok", "ok"]
    assert len(connections) == 2


def test_an_answer_that_says_close_closes(server: Server) -> None:
    connections: list[int] = []

    def closing(conn: socket.socket, request: bytes) -> None:
        connections.append(1)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        _read_request(conn)  # were the connection reused, the second request would be here

    assert _sends(server(closing), 2) == ["ok", "ok"]
    assert len(connections) == 2


def test_unasked_for_bytes_make_a_connection_unfit(server: Server) -> None:
    connections: list[int] = []

    def chatty(conn: socket.socket, request: bytes) -> None:
        connections.append(1)
        conn.sendall(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")
        _read_request(conn)

    assert _sends(server(chatty), 2) == ["ok", "ok"]
    assert len(connections) == 2


def test_no_free_connection_in_time_is_a_connect_timeout(server: Server) -> None:
    release = threading.Event()

    def slow(conn: socket.socket, request: bytes) -> None:
        release.wait(3)
        conn.sendall(OK)

    url = server(slow)

    async def main() -> BaseException | None:
        wire = WireTransport(max_connections=1)
        limits = {"timeout": {"connect": 1.0, "read": 5.0, "pool": 0.2}}
        first = asyncio.ensure_future(
            wire.handle_async_request(httpx.Request("POST", url, extensions=limits))
        )
        await asyncio.sleep(0.1)
        try:
            await wire.handle_async_request(httpx.Request("POST", url, extensions=limits))
        except httpx.ConnectTimeout as exc:
            return exc
        finally:
            release.set()
            await first
            await wire.aclose()
        return None

    assert isinstance(asyncio.run(main()), httpx.ConnectTimeout)


def test_only_http_and_https() -> None:
    async def main() -> None:
        await WireTransport().handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/x"))

    with pytest.raises(httpx.UnsupportedProtocol):
        asyncio.run(main())


def test_a_head_answer_has_no_body(server: Server) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")

    async def main(url: str) -> tuple[int, bytes]:
        async with Sender(1) as sender:
            response = await sender.send(httpx.Request("HEAD", url))
            return response.status_code, response.content

    assert asyncio.run(main(server(answer))) == (200, b"")


def test_a_read_answer_is_the_one_httpx_would_read(server: Server) -> None:
    body = '{"ok": "图片"}'.encode()
    head = b"HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=utf-8\r\n"

    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    ours = _send(server(answer))
    theirs = httpx.Response(
        201,
        headers=[(k, v) for k, v in ours.headers.raw],
        content=body,
        request=ours.request,
    )
    for look in (
        "status_code",
        "content",
        "text",
        "encoding",
        "is_success",
    ):
        assert getattr(ours, look) == getattr(theirs, look), look
    assert ours.json() == theirs.json() == {"ok": "图片"}
    assert ours.headers == theirs.headers
    assert ours.is_closed
    assert ours.is_stream_consumed
    assert ours.read() == body  # reading again is harmless, as with httpx's own
    assert ours.num_bytes_downloaded == len(body)  # as a response httpx read off a socket


def test_the_wire_runs_in_a_uvloop_loop(server: Server) -> None:
    # upload_async awaited in a uvicorn[standard] app or any uvloop program: uvloop's
    # transports are not asyncio.Transport subclasses, and the wire must not insist.
    uvloop = pytest.importorskip("uvloop")  # installed with the test extra but on Windows

    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(OK)

    url = server(answer)

    async def main() -> tuple[str, str]:
        async with Sender(2, timeout=5.0, deadline_s=10.0) as sender:
            response = await sender.send(httpx.Request("POST", url, content=b"x"))
            return type(asyncio.get_running_loop()).__module__, response.text

    module, text = uvloop.run(main())
    assert module.startswith("uvloop")
    assert text == "ok"
