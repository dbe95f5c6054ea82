"""The wire under httpx (imgkit.net.wire): answers arrive intact, and failures say whether anything
was sent (the adapters' "not sent" versus "may have been stored" depends on it).

A tiny loopback server plays each behaviour exactly: answer, answer gzipped, hang up
after reading the request, never answer, refuse the connection.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from imgkit.net.transport import Sender
from imgkit.net.wire import WireTransport
from imgkit.platforms import get_adapter

Behaviour = Callable[[socket.socket, bytes], None]


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def server() -> Iterator[Callable[[Behaviour], str]]:
    """Start a one-behaviour server; yields a function returning its URL."""
    sockets: list[socket.socket] = []

    def start(behaviour: Behaviour) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sockets.append(listener)

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    behaviour(conn, _read_request(conn))

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/upload"

    yield start
    for listener in sockets:
        listener.close()


def _send(url: str, *, timeout: float = 5.0, body: bytes = b"x=1") -> httpx.Response:
    async def main() -> httpx.Response:
        async with Sender(2, timeout=timeout) as sender:
            return await sender.send(httpx.Request("POST", url, content=body))

    return asyncio.run(main())


def test_an_answer_arrives_whole_with_its_headers(server: Callable[[Behaviour], str]) -> None:
    seen: list[bytes] = []

    def answer(conn: socket.socket, request: bytes) -> None:
        seen.append(request)
        body = '{"code": 0, "msg": "成功"}'.encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        conn.sendall(head.encode() + b"\r\nX-Request-Id: 42\r\n\r\n" + body)

    response = _send(server(answer), body="标题=1".encode())
    assert response.status_code == 200
    assert response.json() == {"code": 0, "msg": "成功"}
    assert response.headers["x-request-id"] == "42"
    assert seen[0].endswith("标题=1".encode())  # the body left byte for byte
    assert b"content-length: 8" in seen[0].lower()


def test_a_large_body_leaves_whole_and_warns_of_nothing(server: Callable[[Behaviour], str]) -> None:
    """A 3 MB photo's body: sent byte for byte with its length, and no ResourceWarning
    (which the suite turns into an error) from the wire about large bytes bodies."""
    seen: list[bytes] = []
    body = bytes(range(256)) * (3 * 2**20 // 256)

    def answer(conn: socket.socket, request: bytes) -> None:
        seen.append(request)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    response = _send(server(answer), body=body)
    assert response.status_code == 200
    assert seen[0].endswith(body)
    assert f"content-length: {len(body)}".encode() in seen[0].lower()


def test_a_gzipped_answer_is_decoded_once(server: Callable[[Behaviour], str]) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        body = gzip.compress(b'{"ok": true}')
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)

    assert _send(server(answer)).json() == {"ok": True}


def test_a_chunked_answer_is_read(server: Callable[[Behaviour], str]) -> None:
    def answer(conn: socket.socket, request: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )

    assert _send(server(answer)).text == "hello world"


def test_a_refused_connection_is_a_connect_error_nothing_was_sent() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with pytest.raises(httpx.ConnectError):
        _send(f"http://127.0.0.1:{port}/upload")


def test_a_hang_up_after_the_request_is_not_a_connect_error(
    server: Callable[[Behaviour], str],
) -> None:
    def hang_up(conn: socket.socket, request: bytes) -> None:
        conn.shutdown(socket.SHUT_RDWR)

    with pytest.raises(httpx.TransportError) as caught:
        _send(server(hang_up))
    assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)
    outcome = get_adapter("doudian").parse_transport_error(caught.value)
    assert outcome.maybe_stored  # the adapter must not re-send it blindly


def test_no_answer_in_time_is_a_read_timeout(server: Callable[[Behaviour], str]) -> None:
    release = threading.Event()

    def silent(conn: socket.socket, request: bytes) -> None:
        release.wait(5)

    try:
        with pytest.raises(httpx.ReadTimeout):
            _send(server(silent), timeout=0.3)
    finally:
        release.set()


def test_connections_are_kept_alive_between_requests(
    server: Callable[[Behaviour], str],
) -> None:
    connections: list[int] = []

    def keep_alive(conn: socket.socket, request: bytes) -> None:
        connections.append(1)
        while request:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            request = _read_request(conn)

    url = server(keep_alive)

    async def main() -> list[str]:
        async with Sender(2) as sender:
            return [
                (await sender.send(httpx.Request("POST", url, content=b"x"))).text for _ in range(5)
            ]

    assert asyncio.run(main()) == ["ok"] * 5
    assert len(connections) == 1  # one connection served all five


def test_the_transport_repr_names_no_secret() -> None:
    assert repr(WireTransport(max_connections=3)) == "WireTransport(max_connections=3)"
